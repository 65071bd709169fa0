"""The ``checker`` command.

Exit codes (every command):
  0  every property holds and the search was exhaustive (or the command succeeded)
  1  a property is violated (or a check failed)
  2  bad usage, a bad model, or bad input: one line on stderr, never a traceback
  3  the search stopped before it was exhaustive (a bound, a limit, Ctrl-C)
A reader that quits early (``checker ... | head``) changes none of them: the
rest of the output is dropped and the command finishes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from checker.ir import CompileError
from checker.model import PROPERTIES, ModelError, Params, load_protocols, resolve_protocol
from checker.trace import TraceError

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def _drop_further_output(stream) -> None:
    """Point ``stream``'s file descriptor at /dev/null: its reader has gone."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


class Output(Console):
    """A console whose reader may leave early (``checker explore ... | head``).

    rich's own answer to a closed pipe is exit 1, which here says that a
    property is violated.  The exit code must stay the command's: what was
    checked does not change because nobody reads the rest, so the rest of the
    output is dropped and the command finishes.
    """

    def on_broken_pipe(self) -> None:
        self.quiet = True
        _drop_further_output(self.file)


out = Output(highlight=False, soft_wrap=True)
err = Output(stderr=True, highlight=False, soft_wrap=True)


def emit(text: str, end: str = "\n") -> None:
    """Plain text (JSON, Markdown) on stdout, verbatim, through ``out``: a reader that quits early changes no exit code."""
    out.print(text, end=end, markup=False, highlight=False, emoji=False, soft_wrap=True)


class Fail(Exception):
    """A one-line error that ends the command with exit code 2."""


def _rogue_writes(value: str) -> int | None:
    if value == "unlimited":
        return None
    try:
        n = int(value)
    except ValueError:
        raise Fail(f"--rogue-writes takes a number or 'unlimited', not {value!r}") from None
    if n < 0:
        raise Fail("--rogue-writes must be at least 0")
    return n


def _extra_params(pairs: tuple[str, ...]) -> dict[str, int]:
    extra = {}
    for p in pairs:
        if "=" not in p:
            raise Fail(f"--param takes name=value, not {p!r}")
        k, v = p.split("=", 1)
        try:
            extra[k.strip().replace("-", "_")] = int(v, 0)
        except ValueError:
            raise Fail(f"--param {k}: {v!r} is not an integer") from None
    return extra


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="slotcheck")
def cli():
    """slotcheck: a model checker for lock-free slot free-lists (PostgreSQL bgworker / DSM slots)."""


# ---------------------------------------------------------------------------
# list


@cli.command("list")
@click.argument("model_file", required=False)
def list_cmd(model_file):
    """Protocols, their mutations, memory models and profiles.

    With MODEL_FILE (a path to a model), only that model's protocol.
    """
    from checker.memory import PROFILES, memory_models

    if model_file is not None:
        cls = resolve_protocol(model_file)
        protocols = {cls.name: cls}
    else:
        protocols = load_protocols()
    for name, cls in protocols.items():
        out.print(f"[bold]{name}[/bold]  {cls.summary}")
        from checker.model.system import protocol_roles

        out.print(f"    roles: {', '.join(protocol_roles(cls))}")
        for m, mut in cls.mutations.items():
            bug = ", ".join(mut.bug_under) or "nowhere (harmless)"
            out.print(f"    --mutation {m:<26} {mut.description}  [dim](a bug under: {bug})[/dim]")
        for k, (default, help_) in cls.extra_params.items():
            out.print(f"    --param {k}=N (default {default})  {help_}")
    if model_file is not None:
        return
    out.print()
    out.print("[bold]memory models[/bold]")
    for name, cls in memory_models().items():
        out.print(f"    {name:<8} {cls.summary}")
    out.print()
    for prof in PROFILES.values():
        t = Table(title=f"profile {prof.name}: {prof.summary}", title_justify="left", show_header=False)
        for prim, what in prof.table():
            t.add_row(prim, what)
        out.print(t)
    out.print("[bold]properties[/bold]")
    for p, what in PROPERTIES.items():
        out.print(f"    {p:<24} {what}")


# ---------------------------------------------------------------------------
# explore


def _explore_options(fn):
    opts = [
        click.option("--threads", type=int, default=3, show_default=True,
                     help="the postmaster and THREADS-1 backends"),
        click.option("--slots", type=int, default=2, show_default=True, help="number of slots"),
        click.option("--ops", type=int, default=2, show_default=True, help="workers each backend registers"),
        click.option("--memory-model", "-m", default=None, help="sc, tso or weak (default: the checker's default)"),
        click.option("--profile", default="documented", show_default=True,
                     help="primitive orderings: documented, arm64, x86-64"),
        click.option("--window", type=int, default=None,
                     help="weak: at most N events in flight per thread; tso: at most N buffered stores per "
                          "thread; an under-approximation every verdict states (default: nothing the model "
                          "allows is left out, or the run says it is incomplete)"),
        click.option("--mutation", default=None, help="run a named mutation (see `checker list`); a,b combines variants"),
        click.option("--rogue", is_flag=True, help="add a rogue backend that writes garbage into shared memory"),
        click.option("--rogue-writes", default=None, help="how many writes, or 'unlimited' (default 2; needs --rogue)"),
        click.option("--rogue-anywhere", is_flag=True,
                     help="let the rogue write any word at any time (default: just before the postmaster reads it)"),
        click.option("--step-bound", type=int, default=64, show_default=True,
                     help="most postmaster steps allowed in one operation (0: no bound; find lassos instead)"),
        click.option("--param", "params", multiple=True, help="protocol parameter name=value"),
        click.option("--engine", "engine_kind", type=click.Choice(["compiled", "interpreted", "c"]),
                     default="compiled", show_default=True,
                     help="generated sc/tso successors, the interpreted reference (weak: always interpreted), "
                          "or c: the whole sc or tso search in generated C (no weak, --symmetry, "
                          "--fingerprint or --workers; docs/performance.md)"),
    ]
    for o in reversed(opts):
        fn = o(fn)
    return fn


def _params(threads, slots, ops, rogue, rogue_writes, rogue_anywhere, step_bound, params) -> Params:
    # Rogue options without a rogue would be silently ignored: the run would
    # not check what the user asked for.
    if not rogue and rogue_writes is not None:
        raise Fail("--rogue-writes needs --rogue")
    if not rogue and rogue_anywhere:
        raise Fail("--rogue-anywhere needs --rogue")
    rogue_writes = "2" if rogue_writes is None else rogue_writes
    return Params(threads=threads, slots=slots, ops=ops, rogue=rogue, rogue_writes=_rogue_writes(rogue_writes),
                  rogue_anywhere=rogue_anywhere, step_bound=step_bound, extra=_extra_params(params))


def _make_engine(protocol, p, mutation, memory_model, profile, window, engine_kind="compiled"):
    from checker.run import DEFAULT_MEMORY_MODEL, make_engine

    mm_opts = {} if window is None else {"window": window}
    mm_name = memory_model or DEFAULT_MEMORY_MODEL
    return make_engine(protocol, p, mutation, mm_name, profile, engine_kind, **mm_opts), mm_name


@cli.command()
@click.argument("protocol")
@_explore_options
@click.option("--max-states", type=int, default=None, help="stop after this many distinct states (exit 3)")
@click.option("--max-depth", type=int, default=None, help="do not expand states deeper than this (exit 3)")
@click.option("--keep-going", is_flag=True,
              help="after a violation, keep searching for a counterexample to every other property")
@click.option("--no-liveness", is_flag=True, help="skip the cycle analysis (deadlock/wait-freedom lassos)")
@click.option("--trace-out", type=click.Path(dir_okay=False), default=None,
              help="where to write the counterexample (default: <protocol>-<property>.trace.json here)")
@click.option("--no-trace", is_flag=True, help="do not write counterexample files")
@click.option("--fingerprint", is_flag=True,
              help="store 64-bit fingerprints, not states (TLC-style; reports the collision probability, "
                   "skips the cycle analysis)")
@click.option("--symmetry", is_flag=True,
              help="one state per orbit of interchangeable backends, backend numbers renamed (refused "
                   "where the code tells backends apart)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
@click.option("--html", is_flag=True, help="also write an HTML view next to each trace")
@click.option("--replay-c", is_flag=True, help="replay every written trace against the C implementation")
@click.option("--max-memory", default=None, metavar="SIZE",
              help="stop (exit 3, with the coverage report) when the process holds more than SIZE, "
                   "or the cycle analysis would: 4G, 512M, 80% or none (default: 75% of the memory available)")
@click.option("--workers", default=None, metavar="N|auto",
              help="partition the states over N worker processes (auto: one per core); docs/parallel.md")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS|local",
              help="run the shards as Ray actors on the cluster at ADDRESS (local: start one here); needs '.[ray]'")
@click.option("--checkpoint", "checkpoint_dir", default=None, type=click.Path(file_okay=False),
              help="write the search state to DIR at level boundaries and on Ctrl-C/SIGTERM/--max-memory")
@click.option("--checkpoint-every", type=float, default=120.0, show_default=True, metavar="SECONDS",
              help="seconds between checkpoints")
@click.option("--resume", "resume_dir", default=None, type=click.Path(file_okay=False),
              help="continue the search checkpointed in DIR (and keep checkpointing there)")
@click.option("--spill", "spill_dir", default=None, metavar="DIR",
              help="--engine c: write the parents and the cycle analysis's graph to unlinked files in DIR "
                   "as the search goes, and the states once it is over, rather than keep them in memory")
def explore(protocol, threads, slots, ops, memory_model, profile, window, mutation, rogue, rogue_writes,
            rogue_anywhere, step_bound, params, engine_kind, max_states, max_depth, keep_going, no_liveness, trace_out,
            no_trace, fingerprint, symmetry, as_json, html, replay_c, max_memory, workers, ray_address, checkpoint_dir,
            checkpoint_every, resume_dir, spill_dir):
    """Explore every interleaving of PROTOCOL and check its properties."""
    from checker import memlimit
    from checker.explore import Options, explore as run
    from checker.trace import build_trace, cannot_write, default_trace_name, format_steps, write_json_atomic

    p = _params(threads, slots, ops, rogue, rogue_writes, rogue_anywhere, step_bound, params)
    engine, mm_name = _make_engine(protocol, p, mutation, memory_model, profile, window, engine_kind)
    if max_states is not None and max_states < 1:
        raise Fail("--max-states must be at least 1")
    if max_depth is not None and max_depth < 0:
        raise Fail("--max-depth must be at least 0")
    memory_limit = _max_memory(max_memory)
    if spill_dir is not None:
        if engine_kind != "c":
            raise Fail("--spill needs --engine c (the other engines keep their graph in memory)")
        if not os.path.isdir(spill_dir) or not os.access(spill_dir, os.W_OK | os.X_OK):
            raise Fail(f"--spill {spill_dir}: not a directory this process can write to")

    status = None
    if err.is_terminal and not as_json:
        status = err.status("exploring…")
        status.start()

    def progress(info):
        memlimit.check(memory_limit)  # MemoryLimitReached stops the search like running out
        if status is not None:
            rate = info["states"] / info["elapsed"] if info["elapsed"] else 0
            if "workers" in info:  # level by level: the queue is the next level, the frontier
                status.update(f"states {info['states']:,}  {rate:,.0f} states/s  frontier {info['queue']:,}  "
                              f"depth {info['depth']}  workers {info['workers']}  {info['elapsed']:.0f}s")
            else:
                status.update(f"states {info['states']:,}  {rate:,.0f} states/s  queue {info['queue']:,}  "
                              f"depth {info['depth']}  {info['elapsed']:.0f}s")

    opts = Options(max_states=max_states, max_depth=max_depth, stop_on_first=not keep_going,
                   liveness=not no_liveness, progress=progress,
                   storage="fingerprint" if fingerprint else "compact", symmetry=symmetry, memory_limit=memory_limit,
                   spill_dir=spill_dir)
    from checker.parallel import SearchAborted, parallel_options

    try:
        opts.parallel = parallel_options(workers, ray_address, checkpoint_dir, checkpoint_every, resume_dir,
                                         engine, protocol, p, mutation, mm_name, profile, engine_kind, memory_limit,
                                         max_states)
    except ValueError as exc:
        raise Fail(str(exc)) from None
    try:
        result = run(engine, opts, mm_name, profile)
    except SearchAborted as exc:
        err.print(f"checker: {exc}; no verdict", markup=False)
        sys.exit(EXIT_INCOMPLETE)
    finally:
        if status is not None:
            status.stop()

    written = []
    if not no_trace:
        for i, (prop, cx) in enumerate(result.violations.items()):
            doc = build_trace(engine, cx, result)
            name = default_trace_name(engine.system.protocol.name, prop, mutation)
            if trace_out:
                path = Path(trace_out)
                if i:
                    path = path.with_name(f"{path.stem.split('.')[0]}-{prop.replace(' ', '-')}.trace.json")
            else:
                path = Path(name)
            # A file that cannot be written must not hide the verdict: the
            # counterexample is still printed and the exit code still says 1.
            try:
                write_json_atomic(path, doc)
            except OSError as exc:
                err.print(f"checker: error: {cannot_write(path, exc)}", markup=False)
                written.append((prop, None, doc))
                continue
            written.append((prop, path, doc))
            if html:
                from checker.view import write_html

                html_path = path.with_suffix("").with_suffix(".html")
                try:
                    write_html(doc, html_path)
                except OSError as exc:
                    err.print(f"checker: error: {cannot_write(html_path, exc)}", markup=False)
    replay_failures = 0
    if replay_c:
        from checker.replay import replay_file

        for prop, path, _doc in written:
            if path is None:
                continue
            rep = replay_file(path)
            if not rep.ok:
                replay_failures += 1
                err.print(f"replay of {path} against C diverged: {rep.summary()}")

    if as_json:
        emit(json.dumps(_summary_json(result, written), indent=1))
    else:
        _print_summary(result, written, format_steps)
    code = result.exit_code
    if replay_failures and code == EXIT_OK:
        code = EXIT_VIOLATED
    sys.exit(code)


def _max_memory(value: str | None) -> int | None:
    """``--max-memory``: bytes, or None for no limit."""
    from checker import memlimit

    if value is None:
        return memlimit.default_max_memory()
    try:
        return memlimit.parse_size(value)
    except ValueError as exc:
        raise Fail(f"--max-memory: {exc}") from None


def _summary_json(result, written):
    system = result.system
    return {
        "protocol": system.protocol.name,
        "mutation": system.mutation,
        "memory_model": result.memory_model,
        "profile": result.profile,
        "params": system.params.as_dict(),
        "states": result.states,
        "transitions": result.transitions,
        "max_depth": result.max_depth,
        "elapsed_seconds": round(result.elapsed, 3),
        "states_per_second": round(result.states_per_second),
        "complete": result.complete,
        "stop_reason": result.stop_reason or None,
        "max_postmaster_steps": result.max_postmaster_steps,
        "engine": result.engine,
        "storage": result.storage,
        "bytes_per_state": None if result.bytes_per_state is None else round(result.bytes_per_state),
        "spilled_bytes": result.spilled_bytes,
        "collision_probability": result.collision_probability,
        "reductions": result.reductions or None,
        "reordering_bound": result.reordering_bound,
        "workers": result.workers or None,
        "message_bytes_per_successor": None if result.message_bytes_per_successor is None
        else round(result.message_bytes_per_successor, 1),
        "message_bytes": result.message_bytes if result.workers else None,
        "worker_resident_bytes": list(result.worker_rss) if result.workers else None,
        "worker_states": list(result.worker_states) if result.workers else None,
        "cpu_seconds": {"workers": [round(c, 2) for c in result.worker_cpu],
                        "coordinator": round(result.coordinator_cpu, 2),
                        "critical_path": round(result.critical_path_cpu + result.coordinator_cpu, 2)}
        if result.workers else None,
        "properties": {p: result.verdict(p) for p in _reported_properties(result)},
        "checked_properties": sorted(system.checked),
        "violations": {p: {"message": cx.message, "steps": cx.length,
                           "trace": next((str(w[1]) for w in written if w[0] == p and w[1] is not None), None)}
                       for p, cx in result.violations.items()},
        "exit_code": result.exit_code,
    }


def _reported_properties(result):
    """Every built-in property (those not checked say so), then the model's own."""
    system = result.system
    props = list(PROPERTIES)
    props += sorted(p for p in system.known_properties | system.checkable if p not in props)
    props += [p for p in result.violations if p not in props]
    return props


def _print_summary(result, written, format_steps):
    from checker.memlimit import format_size

    system = result.system
    p = system.params
    mut = f", mutation {system.mutation}" if system.mutation else ""
    rogue = f", rogue ({p.as_dict()['rogue_writes']} writes)" if p.rogue else ""
    nworkers = sum(t.role == "worker" for t in system.threads)
    workers = f" + {nworkers} worker process slot{'s' if nworkers > 1 else ''}" if nworkers else ""
    out.print(f"[bold]{system.protocol.name}[/bold]{mut}: memory model {result.memory_model} "
              f"(profile {result.profile}), threads {p.threads} (1 postmaster, {p.backends} backends){workers}, "
              f"slots {p.slots}, ops {p.ops}{rogue}")
    out.print(f"  distinct states {result.states:,}, transitions {result.transitions:,}, "
              f"max depth {result.max_depth}, {result.states_per_second:,.0f} states/s, "
              f"{result.elapsed:.2f}s")
    out.print(f"  most postmaster steps in one operation: {result.max_postmaster_steps}")
    out.print(f"  engine {result.engine}, storage {result.storage}"
              + (f", ~{result.bytes_per_state:,.0f} bytes/state" if result.bytes_per_state else "")
              + ("" if result.spilled_bytes is None else f" in memory, {format_size(result.spilled_bytes)} spilled to disk"))
    if result.workers:
        held = result.worker_states or [0]
        out.print(f"  partitioned over {result.workers} shards: largest shard "
                  f"{format_size(max(result.worker_rss or [0]))} resident, "
                  f"most states in one shard {max(held):,} ({max(held) / max(1, sum(held)):.0%}), "
                  f"{result.message_bytes_per_successor or 0:,.0f} bytes per successor sent to another shard, "
                  f"{result.message_bytes / max(1, result.states):,.0f} per distinct state")
    if result.reductions and result.collision_probability is None:
        out.print(f"  {result.reductions}")
    if result.collision_probability is not None:
        out.print(f"  fingerprinted: probability that two states shared a fingerprint ≤ "
                  f"{result.collision_probability:.1e} (n(n-1)/2^65)")
    if not result.complete:
        out.print(f"  [yellow]search incomplete: {result.stop_reason}; covered {result.states:,} states "
                  f"to depth {result.max_depth}[/yellow]")
    for prop in _reported_properties(result):
        v = result.verdict(prop)
        style = "red" if v == "VIOLATED" else ("green" if v.startswith("holds") else "yellow")
        out.print(f"  {prop:<24} [{style}]{v}[/{style}]")
    for prop, path, doc in written:
        out.print()
        where = "trace not written" if path is None else f"trace written to {path}"
        out.print(f"[red]{prop} violated[/red]: {escape(doc['message'])}  ({len(doc['steps'])} steps, "
                  f"{escape(where)})")
        for line in format_steps(doc):
            out.print(line, markup=False)


# ---------------------------------------------------------------------------
# entry point


def _register_optional_commands():
    """Commands that live in their own modules (added as their issues land)."""
    import importlib

    for mod in ("checker.litmus_cmd", "checker.replay_cmd", "checker.view_cmd", "checker.prove_cmd",
                "checker.compare_cmd", "checker.ci_cmd", "checker.stress_cmd", "checker.bench_c_cmd", "checker.bench_cmd",
                "checker.tla_cmd", "checker.fences_cmd"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        m.register(cli)


def main(argv=None) -> None:
    from checker import signals

    _register_optional_commands()
    # From here on Ctrl-C and SIGTERM stop a search with its coverage report.
    signals.install()
    try:
        rv = cli.main(args=argv, prog_name="checker", standalone_mode=False)
    except click.UsageError as exc:
        msg = exc.format_message().replace("\n", " ")
        err.print(f"checker: error: {msg}", markup=False)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        err.print(f"checker: error: {exc.format_message()}", markup=False)
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        err.print(f"checker: {signals.how()}", markup=False)
        sys.exit(EXIT_INCOMPLETE)
    except (Fail, ModelError, CompileError, TraceError) as exc:
        err.print(f"checker: error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    except MemoryError:
        # Outside a search loop and the cycle analysis (which report their
        # coverage themselves): writing a trace, or a command without a loop.
        err.print("checker: out of memory before the command finished; no verdict", markup=False)
        sys.exit(EXIT_INCOMPLETE)
    except SystemExit:
        raise
    except BrokenPipeError:
        # Something wrote to stdout other than through ``out``/``emit`` and
        # found it closed: the command did not finish, its verdict is unknown.
        _drop_further_output(sys.stdout)
        err.print("checker: the output's reader went away before the command finished; no verdict", markup=False)
        sys.exit(EXIT_INCOMPLETE)
    if isinstance(rv, int):
        sys.exit(rv)
    sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
