"""The measuring engine of ``checker compare``: every protocol under the same settings, in one table.

For each registered protocol it runs

1. the plain exploration at the given threads/slots/ops, memory model and
   profile: every property's verdict, distinct states, time, and the most
   postmaster steps one operation took;
2. the same with a rogue, at the rogue settings in ``ROGUE_RUN`` (small, so
   the whole table stays within minutes on two cores): the three properties
   a rogue leaves to check (postmaster safety, wait-freedom, deadlock freedom);
3. a measuring run under sc, without a rogue, that counts each backend's
   events from the start of its operation to the step at which it obtains a
   slot (the step whose ghost code records ``owner[slot] = OWN_BACKEND + me``);

and reads off the postmaster's program which shared words it ever loads or
read-modify-writes: the surface a corrupted shared memory can reach it by.  ``checker/compare_cmd.py``
holds the command's options and prints the table.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from checker.model import (
    DEADLOCK, PM_SAFETY, PROPERTIES, ROGUE_PROPERTIES, WAIT_FREEDOM, ModelError, Params, load_protocols,
)
from checker.progress import ProgressFn, report

# The rogue runs: one backend, one worker each, two garbage writes.  Small
# enough that every protocol's rogue run takes seconds; the rogue still
# writes any representative value just before any postmaster read.
ROGUE_RUN = {"threads": 2, "ops": 1, "rogue_writes": 2}

SHORT = {
    "exclusive ownership": "exclusive", "conservation": "conservation", "queue integrity": "integrity",
    "notify integrity": "notify", PM_SAFETY: "pm safety", WAIT_FREEDOM: "pm wait-free", DEADLOCK: "deadlock-free",
    "memory safety": "memory safety",
}


def _short_verdict(v: str) -> str:
    if v == "VIOLATED":
        return "VIOLATED"
    if v.startswith("holds"):
        return "holds"
    if v.startswith("not checked"):
        return "-"
    return "incomplete"


@dataclass
class Row:
    protocol: str
    summary: str
    verdicts: dict[str, str] = field(default_factory=dict)
    rogue_verdicts: dict[str, str] = field(default_factory=dict)
    states: int = 0
    seconds: float = 0.0
    rogue_states: int = 0
    rogue_seconds: float = 0.0
    max_postmaster_steps: int = 0
    max_backend_obtain_steps: int | None = None
    postmaster_reads: list[str] = field(default_factory=list)
    postmaster_read_words: int = 0
    c_ns_per_cycle: dict[int, float | None] = field(default_factory=dict)  # --with-c: slots -> ns

    def as_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol, "summary": self.summary, "properties": self.verdicts,
            "rogue_properties": self.rogue_verdicts, "states": self.states, "seconds": round(self.seconds, 2),
            "rogue_states": self.rogue_states, "rogue_seconds": round(self.rogue_seconds, 2),
            "max_postmaster_steps": self.max_postmaster_steps,
            "max_backend_steps_to_obtain_slot": self.max_backend_obtain_steps,
            "postmaster_reads": self.postmaster_reads, "postmaster_read_words": self.postmaster_read_words,
            **({"c_ns_per_obtain_release": {str(n): None if v is None else round(v, 1)
                                            for n, v in self.c_ns_per_cycle.items()}}
               if self.c_ns_per_cycle else {}),
        }


def postmaster_reads(system) -> tuple[list[str], int]:
    """Shared regions the postmaster's program loads or RMWs, and how many words they hold."""
    pm = system.threads[0].program
    names: list[str] = []
    words = 0
    for ins in pm.instrs:
        if ins.op in ("load", "rmw"):
            r = ins.loc.region
            # The kernel's fork and exit flags are not shared memory, and an
            # empty region is a crash site (an index past a private array).
            if r.kernel or r.length == 0:
                continue
            if r.name not in names:
                names.append(r.name)
                words += r.length or 1
    labels = [n if system.shared[n].length is None else f"{n}[{system.shared[n].length}]" for n in names]
    return labels, words


def obtain_steps(protocol: str, params: Params, profile: str) -> int | None:
    """Most backend events from the start of an operation to obtaining a slot (sc, no rogue).

    Counts with the step counter every thread carries (only the postmaster's
    is normally used) and samples it on the backend step whose ghost code
    hands a slot to that backend.  None if the protocol has no such ghost
    (``owner[]`` and the constant ``OWN_BACKEND``).
    """
    from checker.explore import Engine, Options, explore
    from checker.run import make_engine

    base = make_engine(protocol, params, None, "sc", profile)
    system = base.system
    if "owner" not in system.ghost or "OWN_BACKEND" not in system.constants:
        return None
    own = system.ghost["owner"]
    lo, hi = own.base, own.base + own.length
    own_backend = system.constants["OWN_BACKEND"]
    backends = {t.tid for t in system.threads if t.role == "backend"}
    mm = base.mm
    mm.bounded = [t.role in ("postmaster", "backend") for t in system.threads]
    mm.step_bound = 0xFFFFFFFF  # a measurement, not a bound
    best = [0]

    class Measuring(Engine):
        def successors(self, state, out):
            start = len(out)
            super().successors(state, out)
            g = state[3]
            for label, nxt, _viol in out[start:]:
                tid = label[0]
                if nxt is None or tid not in backends:
                    continue
                g2 = nxt[3]
                if g2 is g:
                    continue
                for a in range(lo, hi):
                    if g2[a] != g[a] and g2[a] == own_backend + tid:
                        n = nxt[1][tid][1]
                        if n > best[0]:
                            best[0] = n

    explore(Measuring(system, mm), Options(liveness=False, stop_on_first=False), "sc", profile)
    return best[0]


def compare(threads: int, slots: int, ops: int, memory_model: str, profile: str, step_bound: int = 64,
            protocols: list[str] | None = None, max_states: int | None = None,
            progress: ProgressFn | None = None) -> list[Row]:
    """One row per protocol; after Ctrl-C or SIGTERM, the rows finished before it (see ``checker.signals``).

    ``progress`` is told each run as it starts, with the protocols done of all.
    """
    from checker import signals

    rows = []
    registry = load_protocols()
    names = protocols or list(registry)
    for name in names:
        if name not in registry:
            raise ModelError(f"unknown protocol {name!r} (known: {', '.join(registry)})")
    try:
        for k, name in enumerate(names):
            def phase(what: str, _k: int = k) -> None:
                report(progress, what, _k, len(names))

            row = _compare_one(name, registry[name], threads, slots, ops, memory_model, profile, step_bound,
                               max_states, phase)
            if signals.interrupted():
                break  # a search absorbed Ctrl-C, so this row is partial; start nothing more
            rows.append(row)
        else:
            report(progress, "done", len(names), len(names))
    except KeyboardInterrupt:
        if not signals.interrupted():
            raise  # not the checker program's handling (a library caller): theirs to handle
        # Ctrl-C outside a search: the rows so far are what was covered.
    return rows


def _compare_one(name, cls, threads, slots, ops, memory_model, profile, step_bound, max_states, progress) -> Row:
    from checker import signals
    from checker.explore import Options, explore
    from checker.run import make_engine

    row = Row(name, cls.summary)
    progress(f"{name}: exploring ({memory_model})")
    p = Params(threads=threads, slots=slots, ops=ops, step_bound=step_bound)
    engine = make_engine(name, p, None, memory_model, profile)
    t0 = time.perf_counter()
    res = explore(engine, Options(max_states=max_states, stop_on_first=False), memory_model, profile)
    row.seconds = time.perf_counter() - t0
    row.states = res.states
    row.max_postmaster_steps = res.max_postmaster_steps
    props = [q for q in PROPERTIES if q in engine.system.checked]
    props += sorted(q for q in engine.system.checked if q not in props)
    row.verdicts = {q: res.verdict(q) for q in props}
    row.postmaster_reads, row.postmaster_read_words = postmaster_reads(engine.system)
    if signals.interrupted():
        raise KeyboardInterrupt

    progress(f"{name}: exploring with a rogue")
    rp = Params(threads=ROGUE_RUN["threads"], slots=slots, ops=ROGUE_RUN["ops"], rogue=True,
                rogue_writes=ROGUE_RUN["rogue_writes"], step_bound=step_bound)
    rengine = make_engine(name, rp, None, memory_model, profile)
    t0 = time.perf_counter()
    rres = explore(rengine, Options(max_states=max_states, stop_on_first=False), memory_model, profile)
    row.rogue_seconds = time.perf_counter() - t0
    row.rogue_states = rres.states
    row.rogue_verdicts = {q: rres.verdict(q) for q in ROGUE_PROPERTIES}
    if signals.interrupted():
        raise KeyboardInterrupt

    progress(f"{name}: measuring backend steps")
    row.max_backend_obtain_steps = obtain_steps(name, Params(threads=threads, slots=slots, ops=ops), profile)
    return row


def _columns(rows: list[Row]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        for q in r.verdicts:
            if q not in cols:
                cols.append(q)
    return cols


def table_rows(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    cols = _columns(rows)
    header = ["protocol"] + [SHORT.get(q, q) for q in cols]
    header += [f"rogue: {SHORT[q]}" for q in ROGUE_PROPERTIES]
    header += ["states", "time", "rogue states", "rogue time", "max pm steps/op", "max backend steps to obtain",
               "shared words the pm reads"]
    c_slots = sorted({n for r in rows for n in r.c_ns_per_cycle})
    header += [f"C ns/cycle @{n}" for n in c_slots]
    body = []
    for r in rows:
        cells = [r.protocol]
        cells += [_short_verdict(r.verdicts.get(q, "not checked")) for q in cols]
        cells += [_short_verdict(r.rogue_verdicts[q]) for q in ROGUE_PROPERTIES]
        cells += [f"{r.states:,}", f"{r.seconds:.1f}s", f"{r.rogue_states:,}", f"{r.rogue_seconds:.1f}s",
                  str(r.max_postmaster_steps),
                  "-" if r.max_backend_obtain_steps is None else str(r.max_backend_obtain_steps),
                  f"{r.postmaster_read_words}: " + ", ".join(r.postmaster_reads)]
        cells += ["-" if r.c_ns_per_cycle.get(n) is None else f"{r.c_ns_per_cycle[n]:,.0f}" for n in c_slots]
        body.append(cells)
    return header, body


def settings_line(threads, slots, ops, memory_model, profile, step_bound) -> str:
    return (f"memory model {memory_model}, profile {profile}, threads {threads} (1 postmaster, {threads - 1} "
            f"backends), slots {slots}, ops {ops}, step bound {step_bound}; rogue runs: threads "
            f"{ROGUE_RUN['threads']}, ops {ROGUE_RUN['ops']}, {ROGUE_RUN['rogue_writes']} rogue writes; "
            f"backend steps measured under sc")


# Slot counts of the --with-c columns, and how long each measurement runs.
C_SLOTS = (64, 1024)
C_SECONDS = 0.3


def add_c_figures(rows: list[Row], fail) -> None:
    """``--with-c``: the C benchmark's figures (checker bench-c) as extra columns; '-' without a C twin."""
    from checker.bench_c import BenchRunError, c_ns_per_cycle
    from refimpl.build import RefimplError

    for r in rows:
        try:
            r.c_ns_per_cycle = {n: c_ns_per_cycle(r.protocol, n, C_SECONDS) for n in C_SLOTS}
        except (RefimplError, BenchRunError) as exc:
            raise fail(str(exc)) from None
