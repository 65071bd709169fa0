"""``checker fences PROTOCOL``: which barrier each design needs, under which memory model and profile."""

from __future__ import annotations

import json
import sys

import click

MODELS_DEFAULT = "sc,tso,weak"
PROFILES_DEFAULT = "documented,arm64,x86-64"


def register(cli) -> None:
    cli.add_command(fences)


def _names(value: str, known, what: str) -> list[str]:
    from checker.cli import Fail

    names = [n.strip() for n in value.split(",")]
    if not all(names):
        raise Fail(f"--{what} {value!r} has an empty name (write a,b)")
    for n in names:
        if n not in known:
            raise Fail(f"unknown {what.replace('-', ' ')} {n!r} (known: {', '.join(known)})")
    return list(dict.fromkeys(names))


def _positive(value: int | None, option: str, minimum: int = 1) -> None:
    from checker.cli import Fail

    if value is not None and value < minimum:
        raise Fail(f"{option} must be at least {minimum}, got {value}")


@click.command()
@click.argument("protocol")
@click.option("--threads", type=int, default=None, help="threads (default: per protocol, see docs/fences.md)")
@click.option("--slots", type=int, default=None, help="slots (default: per protocol)")
@click.option("--ops", type=int, default=None, help="operations per backend (default: per protocol)")
@click.option("-m", "--memory-model", "memory_models", default=MODELS_DEFAULT, show_default=True,
              metavar="M[,M]", help="memory models to check under")
@click.option("--profile", "profiles", default=PROFILES_DEFAULT, show_default=True, metavar="P[,P]",
              help="profiles (x86-64 runs under sc and tso only: an x86 machine is TSO)")
@click.option("--workers", type=int, default=1, show_default=True, help="checks run in parallel processes")
@click.option("--max-placements", type=int, default=400, show_default=True,
              help="checks per memory model/profile when placing barriers from scratch (sets of places, "
                   "then read/write barriers in place of full ones)")
@click.option("--max-states", type=int, default=None, help="stop each check after N states (then: exit 3)")
@click.option("--window", type=int, default=None,
              help="weak: bound the events in flight per thread (an under-approximation the table states)")
@click.option("--trace-dir", default="fence-traces", show_default=True, type=click.Path(file_okay=False),
              help="where counterexample traces are written (`checker view`/`checker replay` read them)")
@click.option("--no-twin", is_flag=True, help="skip comparing the barriers with the C twin's")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
@click.option("--markdown", "as_markdown", is_flag=True, help="print Markdown")
def fences(protocol, threads, slots, ops, memory_models, profiles, workers, max_placements, max_states, window,
           trace_dir, no_twin, as_json, as_markdown):
    """Remove each barrier of PROTOCOL in turn and check it under each memory model and profile.

    Reports, per barrier, whether it is needed (the property broken, the
    shortest counterexample's length and its trace), whether a read or write
    barrier would do instead of a full one, a minimal set of barriers per
    memory model/profile, placements from scratch (the weakest kind that
    suffices at each place), and whether the C twin has the same barriers.
    Each atomic read-modify-write's implied ordering is a row too: removed
    by relaxing that one RMW.  Exit 0: every check was exhaustive; 1: the
    protocol as written breaks a property under some model/profile; 3: a
    bound (--max-states, --max-placements) cut the analysis short.
    """
    from checker import signals
    from checker.cli import Fail, emit, err, out
    from checker.fence_analysis import Bounds, analyse, combinations_to_run, default_bounds
    from checker.fence_report import markdown, print_table
    from checker.memory import PROFILES, memory_models as known_models
    from checker.model import resolve_protocol

    if as_json and as_markdown:
        raise Fail("--json and --markdown exclude each other")
    for value, option in ((threads, "--threads"), (slots, "--slots"), (ops, "--ops"), (workers, "--workers"),
                          (max_states, "--max-states"), (window, "--window")):
        _positive(value, option)
    _positive(max_placements, "--max-placements", 0)
    mms = _names(memory_models, list(known_models()), "memory-model")
    profs = _names(profiles, list(PROFILES), "profile")
    if not combinations_to_run(mms, profs):
        raise Fail(f"no memory model/profile pair to run: {', '.join(profs)} under {', '.join(mms)} "
                   "(x86-64 is a TSO machine: use sc or tso)")
    cls = resolve_protocol(protocol)
    t, s, o = default_bounds(cls.name)
    bounds = Bounds(threads or t, slots or s, ops or o, max_states, window)
    try:
        table = analyse(protocol, bounds, mms, profs, workers=workers, trace_dir=trace_dir,
                        max_placements=max_placements, twin=not no_twin)
    except KeyboardInterrupt:
        if not signals.interrupted():
            raise
        err.print(f"checker: {signals.how()}: the fence analysis of {cls.name} stopped before its table was "
                  f"complete; no table (traces already written stay in {trace_dir})", markup=False)
        sys.exit(signals.EXIT_INCOMPLETE)
    if as_json:
        emit(json.dumps(table.as_json(), indent=1))
    elif as_markdown:
        emit(markdown(table), end="")
    else:
        print_table(table, out)
    return table.exit_code
