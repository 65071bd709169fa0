"""``checker bench``: a fixed set of explorations, timed (issue 13).

Each instance runs in a fresh Python process so that its peak RSS is its own.
CPU seconds are the child's ``time.process_time()`` around the search alone
(not the interpreter's start-up, not the protocol's compilation): on a shared
machine CPU seconds are comparable where wall-clock seconds are not.
Bytes/state is the search's own estimate of its storage per state (visited
set, queue, parent pointers, interned components; not the liveness graph).

A benchmark never asserts anything: it reports.  An instance that hits its
state limit says so (``complete: false``) and its figures are for the states
it covered.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import click

PCRING = str(Path(__file__).resolve().parent.parent / "models" / "examples" / "pcring.py")


@dataclass(frozen=True)
class Instance:
    name: str
    protocol: str
    memory_model: str
    threads: int = 3
    slots: int = 2
    ops: int = 2
    rogue: bool = False
    extra: dict = field(default_factory=dict)

    def key(self):
        return self.name


def _instances() -> list[Instance]:
    rows = []
    for threads in (3, 4):
        for mm in ("sc", "tso", "weak"):
            rows.append(Instance(f"ring-t{threads}-{mm}", "ring", mm, threads))
    for proto in ("caslist", "bitmap", "bgworker"):
        rows.append(Instance(f"{proto}-t3-sc-rogue", proto, "sc", 3, rogue=True))
    rows.append(Instance("pcring-4consumers-16pushes-sc", PCRING, "sc", threads=5, slots=4, extra={"pushes": 16}))
    return rows


QUICK = ("ring-t3-sc", "ring-t3-tso", "ring-t3-weak", "pcring-3consumers-16pushes-sc")


def _quick_instances() -> list[Instance]:
    rows = [i for i in _instances() if i.name in QUICK]
    rows.append(Instance("pcring-3consumers-16pushes-sc", PCRING, "sc", threads=4, slots=4, extra={"pushes": 16}))
    return rows


def c_engine_runs(inst: Instance, symmetry: bool) -> bool:
    from checker.engine_c import C_MODELS

    return inst.memory_model in C_MODELS and not symmetry


def run_one(inst: dict, engine: str, storage: str, max_states: int | None, liveness: bool,
            symmetry: bool = False) -> dict:
    """Run one instance in this process; returns its figures."""
    import resource
    import time

    from checker.explore import Options, explore
    from checker.model import Params
    from checker.run import make_engine

    p = Params(threads=inst["threads"], slots=inst["slots"], ops=inst["ops"], rogue=inst["rogue"],
               extra=dict(inst["extra"]))
    eng = make_engine(inst["protocol"], p, None, inst["memory_model"], "documented", engine)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    res = explore(eng, Options(max_states=max_states, liveness=liveness, stop_on_first=True, storage=storage,
                               symmetry=symmetry), inst["memory_model"])
    cpu = time.process_time() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "name": inst["name"], "states": res.states, "transitions": res.transitions, "complete": res.complete,
        "stop_reason": res.stop_reason or None,
        "violations": sorted(res.violations), "cpu_seconds": round(cpu, 2),
        "states_per_cpu_second": round(res.states / cpu) if cpu > 0 else None,
        "bytes_per_state": None if res.bytes_per_state is None else round(res.bytes_per_state, 1),
        "peak_rss_mib": round(rss / 1024, 1), "rss_growth_bytes_per_state": round(
            (rss - rss_before) * 1024 / res.states, 1) if res.states else None,
        "engine": res.engine, "storage": res.storage, "liveness": liveness, "symmetry": symmetry,
    }


def register(cli) -> None:
    @cli.command()
    @click.option("--quick", is_flag=True, help=f"a small set ({', '.join(QUICK)})")
    @click.option("--only", multiple=True, help="run only the named instances")
    @click.option("--engine", type=click.Choice(["compiled", "interpreted", "c"]), default="compiled", show_default=True,
                  help="c: the sc or tso search in generated C (the weak instances are left out, with a notice)")
    @click.option("--fingerprint", is_flag=True, help="64-bit fingerprints instead of states")
    @click.option("--storage", type=click.Choice(["compact", "full"]), default="compact", show_default=True,
                  help="packed states (default) or the reference search's nested tuples")
    @click.option("--liveness", is_flag=True, help="also keep the graph and run the cycle analysis")
    @click.option("--symmetry", is_flag=True, help="one state per orbit of interchangeable backends (states are orbits)")
    @click.option("--max-states", type=int, default=20_000_000, show_default=True,
                  help="stop an instance here (it is then reported incomplete)")
    @click.option("--list", "list_only", is_flag=True, help="list the instances and exit")
    @click.option("--json", "as_json", is_flag=True, help="print the figures as JSON")
    def bench(quick, only, engine, fingerprint, storage, liveness, symmetry, max_states, list_only, as_json):
        """Time a fixed set of explorations: states, CPU seconds, states/s, bytes/state, peak RSS."""
        from checker.cli import EXIT_INCOMPLETE, Fail, emit, out

        instances = _quick_instances() if quick else _instances()
        if only:
            known = {i.name: i for i in _instances() + _quick_instances()}
            unknown = [n for n in only if n not in known]
            if unknown:
                raise Fail(f"no bench instance {', '.join(unknown)} (see checker bench --list)")
            instances = [known[n] for n in only]
        if engine == "c" and (fingerprint or storage != "compact"):
            raise Fail("--engine c stores states its own way: not with --fingerprint or --storage full")
        # The C search runs sc and tso, without symmetry (checker.engine_c); leaving
        # the rest out, named, beats a row of refusals.
        left_out = [i.name for i in instances if engine == "c" and not c_engine_runs(i, symmetry)]
        instances = [i for i in instances if i.name not in left_out]
        if left_out:
            # On stderr under --json, so stdout stays one JSON document.
            notice = f"left out (the c engine runs sc and tso, without --symmetry): {', '.join(left_out)}"
            if as_json:
                click.echo(notice, err=True)
            else:
                out.print(notice, markup=False)
            if not instances:
                raise Fail("no instance left for the c engine")
        if list_only:
            for i in instances:
                out.print(f"{i.name}", markup=False)
            return
        storage = "fingerprint" if fingerprint else storage
        rows = []
        for inst in instances:
            d = asdict(inst)
            cmd = [sys.executable, "-c",
                   "import json, sys; from checker.bench_cmd import run_one; "
                   "print(json.dumps(run_one(*json.loads(sys.argv[1]))))",
                   json.dumps([d, engine, storage, max_states, liveness, symmetry])]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                row = {"name": inst.name, "error": last}
            else:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            if not as_json:
                _print_row(out, row)
        if as_json:
            emit(json.dumps({"engine": engine, "storage": storage, "symmetry": symmetry, "instances": rows,
                              "left_out": left_out}, indent=1))
        if any(not r.get("complete", False) for r in rows):
            sys.exit(EXIT_INCOMPLETE)


def _print_row(out, r: dict) -> None:
    if "error" in r:
        out.print(f"{r['name']:<34} error: {r['error']}", markup=False)
        return
    note = "" if r["complete"] else f"  (incomplete: {r.get('stop_reason') or 'state limit'})"
    bps = "-" if r["bytes_per_state"] is None else f"{r['bytes_per_state']:.0f}"
    out.print(f"{r['name']:<34} {r['states']:>11,} states {r['cpu_seconds']:>8.1f} cpu-s "
              f"{r['states_per_cpu_second'] or 0:>8,}/s {bps:>5} B/state {r['peak_rss_mib']:>8.0f} MiB peak "
              f"[{r['engine']}, {r['storage']}{', symmetry' if r.get('symmetry') else ''}]{note}", markup=False)
