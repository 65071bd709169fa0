"""The fence table of a protocol: which barrier is needed, under which memory model and profile.

Every answer is an exhaustive check of the compiled program with a
:class:`checker.fences.FenceEdit` applied:

1. each barrier removed on its own (needed: the property broken, the length of
   the shortest counterexample, its trace file); a needed full barrier is also
   tried as ``pg_read_barrier()`` and as ``pg_write_barrier()``; each atomic
   RMW's implied ordering is taken away the same way, one site at a time
   (the RMW relaxed there, ``FenceEdit.relax``), and is a row of the table;
2. a minimal set of barriers per memory model and profile, by deletion (a
   barrier is dropped when the rest still keep every property); when the
   barriers are few, every smaller subset is checked too, which makes the set
   a minimum; barriers whose removal alone breaks nothing are the redundant
   ones given the others (RMW orderings count as barriers here);
3. placement from scratch: every barrier removed (atomics keep their
   ordering), full barriers put before shared-memory events
   (``checker.fences.candidates``), smallest sets first, then each barrier of
   the set found weakened to a read or a write barrier where that still keeps
   every property, all within ``max_placements`` checks per memory model and
   profile.

The checks are independent, so they run in a process pool (``workers``).  A
check that did not finish (``max_states``) never counts as "holds".
"""

from __future__ import annotations

import builtins
import functools
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from checker import signals
from checker.fences import (WEAKER, Barrier, FenceEdit, Site, SitePrim, apply_edit, barriers, candidates,
                            rmw_orderings)

FULL_BARRIER = "pg_memory_barrier"
# What the C side can say about a relaxed RMW: its code has no relaxed atomic.
C_REPLAY_RELAXED = ("not expressible in C: the C twin's atomic is always the full one; `checker replay` of a "
                    "trace with this RMW relaxed checks its events and values against C, not that C could "
                    "reorder there")
# Every subset of at most this many barriers is checked for a minimum set.
MINIMUM_SEARCH_BARRIERS = 10
# Bounds per protocol that show its barriers at work in seconds (overridden by
# --threads/--slots/--ops): the ring's message passing needs both rings to
# wrap (one backend, three workers through two slots); bgworker's notify bug
# needs a second backend to take the slot over.
# The change queue's tables at --threads 3 take hours here (hundreds of
# checks of ~10^5 states each); one backend with one slot already shows every
# barrier of changequeue-fixed at work against the postmaster.
DEFAULT_BOUNDS = {"ring": (2, 2, 3), "changequeue": (2, 1, 1), "changequeue-fixed": (2, 1, 1)}
FALLBACK_BOUNDS = (3, 2, 1)
# A profile that describes one machine runs only under the memory models that
# machine can show: x86-64 is a TSO machine (its compiler-only read and write
# barriers under the weak model would describe a machine that does not exist).
MACHINE_MODELS = {"x86-64": ("sc", "tso")}


def combinations_to_run(memory_models: list[str], profiles: list[str]) -> list[tuple[str, str]]:
    return [(mm, prof) for mm in memory_models for prof in profiles if mm in MACHINE_MODELS.get(prof, (mm,))]


@dataclass(frozen=True)
class Bounds:
    threads: int
    slots: int
    ops: int
    max_states: int | None = None
    # weak only: events in flight per thread (--window), an explicit
    # under-approximation; None is the sound default.
    window: int | None = None

    def text(self) -> str:
        limit = f", at most {self.max_states} states per check" if self.max_states else ""
        window = f" --window {self.window}" if self.window else ""
        return f"--threads {self.threads} --slots {self.slots} --ops {self.ops}{window}{limit}"

    def mm_options(self, memory_model: str) -> dict[str, int]:
        return {"window": self.window} if memory_model == "weak" and self.window else {}


def default_bounds(protocol_name: str) -> tuple[int, int, int]:
    return DEFAULT_BOUNDS.get(protocol_name, FALLBACK_BOUNDS)


@dataclass(frozen=True)
class Check:
    protocol: str  # a registered name or a model file
    bounds: Bounds
    memory_model: str
    profile: str
    edit: FenceEdit
    trace_dir: str | None = None


@dataclass(frozen=True)
class Outcome:
    violated: bool
    complete: bool
    property: str | None = None
    steps: int | None = None
    trace: str | None = None
    message: str = ""
    states: int = 0
    cpu: float = 0.0

    @builtins.property  # the field above is called "property"
    def holds(self) -> bool:
        return self.complete and not self.violated


def _system(protocol: str, threads: int, slots: int, ops: int):
    """The protocol compiled once per process: compiling it took a third of a check's time (a table is
    hundreds of checks of a few thousand states), and an edit copies what it changes.  A model file is
    known by its text too, so that one edited between two tables is compiled again."""
    text = Path(protocol).read_bytes() if protocol.endswith(".py") and Path(protocol).is_file() else b""
    return _compiled(protocol, text, threads, slots, ops)


@functools.lru_cache(maxsize=4)
def _compiled(protocol: str, _text: bytes, threads: int, slots: int, ops: int):
    from checker.model import Params, build_system, resolve_protocol

    return build_system(resolve_protocol(protocol), Params(threads=threads, slots=slots, ops=ops))


def run_check(c: Check) -> Outcome:
    """One exhaustive (or bounded) search of the edited program; BFS, so the counterexample is a shortest one."""
    from checker.explore import Options, explore
    from checker.run import engine_for_system
    from checker.trace import build_trace, write_json_atomic

    t0 = time.process_time()
    engine = engine_for_system(_system(c.protocol, c.bounds.threads, c.bounds.slots, c.bounds.ops), c.memory_model,
                               c.profile, fence_edit=c.edit or None, **c.bounds.mm_options(c.memory_model))
    res = explore(engine, Options(max_states=c.bounds.max_states), c.memory_model, c.profile)
    if signals.interrupted():
        # explore turned Ctrl-C or SIGTERM into an incomplete result; a table
        # is hundreds of checks, so it stops here instead of going on with the next.
        raise KeyboardInterrupt
    if not res.violations:
        # Not complete either when a memory model's safety cap cut the search (explore says so).
        return Outcome(False, res.complete, states=res.states, cpu=time.process_time() - t0)
    prop, cx = min(res.violations.items(), key=lambda kv: (kv[1].length, kv[0]))
    trace = None
    if c.trace_dir:
        name = engine.system.protocol.name
        path = Path(c.trace_dir) / (f"{name}-{c.memory_model}-{c.profile}-{c.edit.slug()}-"
                                    f"{prop.replace(' ', '-')}.trace.json")
        write_json_atomic(path, build_trace(engine, cx, res))
        trace = str(path)
    return Outcome(True, res.complete, prop, cx.length, trace, cx.message, res.states, time.process_time() - t0)


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class BarrierResult:
    needed: bool
    complete: bool
    property: str | None = None
    steps: int | None = None
    trace: str | None = None
    # For a needed full barrier: weaker primitive -> whether it keeps every property.
    weaker: dict[str, bool] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        d = {"needed": self.needed, "property": self.property, "steps": self.steps, "trace": self.trace}
        if self.weaker:
            d["suffices"] = dict(self.weaker)
        if not self.complete:
            d["complete"] = False
        return d


@dataclass(frozen=True)
class MinimalSet:
    barriers: tuple[Site, ...] | None  # None: not even every barrier keeps every property
    minimum: bool  # every smaller subset was checked and fails
    complete: bool  # every check it rests on was exhaustive


@dataclass(frozen=True)
class Placement:
    needed: bool  # the program without any barrier breaks a property
    # Barriers before these events restore every property; each is the
    # weakest kind that does so given the others (read, write, else full).
    placed: tuple[SitePrim, ...] | None
    minimum: bool  # every smaller set of candidates was checked and fails
    checks: int
    bound_hit: bool
    complete: bool
    note: str = ""
    weakened: bool = True  # every barrier of ``placed`` was tried as a read and a write barrier

    @builtins.property
    def fences(self) -> tuple[Site, ...] | None:
        return None if self.placed is None else tuple(p.site for p in self.placed)

    def as_json(self) -> dict[str, Any]:
        return {"needed": self.needed, "before": None if self.fences is None else [str(s) for s in self.fences],
                "barriers": None if self.placed is None else [{"before": str(p.site), "prim": p.prim}
                                                              for p in self.placed],
                "weakest_tried": self.weakened,
                "minimum": self.minimum, "checks": self.checks, "bound_hit": self.bound_hit,
                "complete": self.complete, "note": self.note}


@dataclass
class FenceTable:
    protocol: str
    bounds: Bounds
    keys: list[str]  # "weak/documented", ...
    barriers: list[Barrier]  # the barriers and the atomics' implied orderings (Barrier.rmw), by site
    candidates: list[Site]
    baseline: dict[str, Outcome]
    results: dict[Site, dict[str, BarrierResult]]
    minimal: dict[str, MinimalSet]
    redundant: dict[str, list[Site]]
    placement: dict[str, Placement]
    reordering_bound: int | None = None  # weak's window, when it bounded the search
    max_placements: int = 0
    checks: int = 0
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    workers: int = 1
    twin: Any = None  # checker.fence_twin.TwinReport
    not_run: list[str] = field(default_factory=list)  # requested pairs no machine has (weak/x86-64)

    @property
    def baseline_violated(self) -> list[str]:
        return [k for k, o in self.baseline.items() if o.violated]

    @property
    def incomplete(self) -> list[str]:
        """What did not finish: a check cut by --max-states, a placement search cut by --max-placements."""
        why = []
        if any(not (o.complete or o.violated) for o in self.baseline.values()) or any(
                not r.complete for per in self.results.values() for r in per.values()):
            why.append("some checks stopped at --max-states before they were exhaustive")
        if any(not m.complete for m in self.minimal.values()):
            why.append("a minimal set rests on a check that was not exhaustive")
        cut = [k for k, p in self.placement.items() if p.bound_hit]
        if cut:
            why.append(f"placement search stopped at --max-placements {self.max_placements} ({', '.join(cut)})")
        unfinished = [k for k, p in self.placement.items() if not p.complete and not p.bound_hit]
        if unfinished:
            why.append(f"a placement rests on a check that was not exhaustive ({', '.join(unfinished)})")
        return why

    @property
    def exit_code(self) -> int:
        if self.baseline_violated:
            return 1
        return 3 if self.incomplete else 0

    def as_json(self) -> dict[str, Any]:
        doc = {
            "protocol": self.protocol,
            "barriers": [{"file": b.site.file, "line": b.site.line, "kind": b.kind, "role": b.role,
                          "orders": b.orders, "reason": b.reason,
                          **({"implied_by_atomic": True, "removed_as": "the RMW relaxed at this site",
                              "c_replay": C_REPLAY_RELAXED} if b.rmw else {}),
                          "results": {k: self.results[b.site][k].as_json() for k in self.keys}}
                         for b in self.barriers],
            "minimal": {k: None if self.minimal[k].barriers is None else [str(s) for s in self.minimal[k].barriers]
                        for k in self.keys},
            "minimal_is_minimum": {k: self.minimal[k].minimum for k in self.keys},
            "redundant": {k: [str(s) for s in self.redundant[k]] for k in self.keys},
            "placement": {k: self.placement[k].as_json() for k in self.keys},
            "baseline": {k: {"holds": o.holds, "property": o.property, "steps": o.steps, "trace": o.trace}
                         for k, o in self.baseline.items()},
            "bounds": {"threads": self.bounds.threads, "slots": self.bounds.slots, "ops": self.bounds.ops,
                       "max_states": self.bounds.max_states, "max_placements": self.max_placements,
                       "weak_window": self.reordering_bound},
            "checks": self.checks, "cpu_seconds": round(self.cpu_seconds, 2),
            "wall_seconds": round(self.wall_seconds, 2), "workers": self.workers,
            "complete": not self.incomplete,
            "not_run": list(self.not_run),
        }
        if self.twin is not None:
            doc["c_twin"] = self.twin.as_json()
        return doc


# ---------------------------------------------------------------------------
# Tasks that run in the pool: a single check, or one memory model/profile's
# sequential search (minimal set, placement), which reuses its own checks.


@dataclass(frozen=True)
class MinimalTask:
    check: Check  # the model/profile; its edit is ignored
    sites: tuple[Site, ...]
    rmw_sites: frozenset[Site] = frozenset()  # those of ``sites`` that are atomics: relaxed, not removed


@dataclass(frozen=True)
class PlacementTask:
    check: Check
    sites: tuple[Site, ...]  # every barrier, all removed
    candidates: tuple[Site, ...]
    max_placements: int


@dataclass(frozen=True)
class TaskResult:
    value: Any
    checks: int
    cpu: float


def _with(c: Check, edit: FenceEdit) -> Check:
    return Check(c.protocol, c.bounds, c.memory_model, c.profile, edit, None)


def minimal_set(task: MinimalTask) -> TaskResult:
    cache: dict[frozenset, Outcome] = {}
    sites = task.sites

    def keeps(kept: tuple[Site, ...]) -> Outcome:
        key = frozenset(kept)
        if key not in cache:
            cache[key] = run_check(_with(task.check, FenceEdit.without([s for s in sites if s not in key],
                                                                         task.rmw_sites)))
        return cache[key]

    whole = keeps(sites)
    if not whole.holds:
        # Nothing to delete from: the model's barriers, all of them, do not
        # keep every property (or that was not checked to the end).
        return TaskResult(MinimalSet(None, False, whole.violated), len(cache), whole.cpu)
    complete = True
    kept = sites
    for s in sites:
        trial = tuple(x for x in kept if x != s)
        o = keeps(trial)
        complete &= o.complete or o.violated
        if o.holds:
            kept = trial
    minimum = False
    if len(sites) <= MINIMUM_SEARCH_BARRIERS:
        minimum = True
        for k in range(len(kept)):
            smaller = None
            for c in itertools.combinations(sites, k):
                o = keeps(c)
                complete &= o.complete or o.violated
                if o.holds:
                    smaller = c
                    break
            if smaller is not None:
                kept = smaller
                break
    return TaskResult(MinimalSet(kept, minimum, complete), len(cache), sum(o.cpu for o in cache.values()))


def placement(task: PlacementTask) -> TaskResult:
    """Smallest sets of barriers (before candidate events) that restore every property, from none.

    Positions first, with full barriers: deletion finds a minimal set, then
    every smaller set is tried, smallest first.  Then each barrier of the set
    found is tried as a read barrier, else as a write barrier, keeping the
    weaker one when every property still holds (the weakest kind at each
    point given the others; another set of the same size is not searched
    for weaker kinds).
    """
    cache: dict[frozenset, Outcome] = {}
    cands = task.candidates
    budget = task.max_placements

    def with_barriers(placed: dict[Site, str]) -> Outcome:
        key = frozenset(placed.items())
        if key not in cache:
            edit = FenceEdit(remove=task.sites, insert=tuple((s, placed[s]) for s in cands if s in placed))
            cache[key] = run_check(_with(task.check, edit))
        return cache[key]

    def with_fences(chosen) -> Outcome:
        return with_barriers({s: FULL_BARRIER for s in chosen})

    def first_that_holds(trials: Iterable[dict[Site, str]], complete: bool):
        """(the first trial that keeps every property or None, whether the bound cut the trials, complete)."""
        for trial in trials:
            if len(cache) >= budget and frozenset(trial.items()) not in cache:
                return None, True, complete
            o = with_barriers(trial)
            complete &= o.complete or o.violated
            if o.holds:
                return trial, False, complete
        return None, False, complete

    def done(p: Placement) -> TaskResult:
        return TaskResult(p, len(cache), sum(o.cpu for o in cache.values()))

    stripped = with_fences(())
    if stripped.holds:
        return done(Placement(False, (), True, len(cache), False, True, "no barrier is needed"))
    if not stripped.violated:
        return done(Placement(True, None, False, len(cache), False, False,
                              "the program without barriers was not checked exhaustively"))
    everywhere = with_fences(cands)
    if not everywhere.holds:
        what = everywhere.property if everywhere.violated else "an incomplete check"
        return done(Placement(True, None, False, len(cache), False, everywhere.complete,
                              f"a full barrier before every candidate event still breaks {what}"))
    # Deletion first: a placement that works, minimal, in |candidates| checks.
    kept = tuple(cands)
    bound_hit = False
    complete = True
    for s in cands:
        if len(cache) >= budget:
            bound_hit = True
            break
        trial = tuple(x for x in kept if x != s)
        o = with_fences(trial)
        complete &= o.complete or o.violated
        if o.holds:
            kept = trial
    minimum = False
    if not bound_hit:
        # Then every smaller set, smallest first, until one holds or the bound.
        minimum = True
        for k in range(1, len(kept)):
            found, bound_hit, complete = first_that_holds(
                ({s: FULL_BARRIER for s in chosen} for chosen in itertools.combinations(cands, k)), complete)
            if bound_hit:
                minimum = False
                break
            if found is not None:
                kept = tuple(found)
                break
    placed = {s: FULL_BARRIER for s in kept}
    weakened = not bound_hit
    if weakened:
        for s in kept:
            found, bound_hit, complete = first_that_holds(({**placed, s: weaker} for weaker in WEAKER), complete)
            if bound_hit:
                weakened = False
                break
            if found is not None:
                placed = found
    note = ""
    if bound_hit:
        note = (f"{len(kept)} barriers restore every property; "
                + ("smaller sets" if not minimum else "weaker kinds") +
                f" were not all checked within --max-placements {budget}")
    result = tuple(SitePrim(s, placed[s]) for s in kept)
    return done(Placement(True, result, minimum and complete, len(cache), bound_hit, complete, note, weakened))


_in_task = False  # in a pool worker: a check is running (signals.install_in_pool_worker)


def _run(item):
    global _in_task
    _in_task = True
    try:
        if isinstance(item, Check):
            return run_check(item)
        if isinstance(item, MinimalTask):
            return minimal_set(item)
        return placement(item)
    finally:
        _in_task = False


def _worker_init() -> None:  # pragma: no cover - runs in a pool worker
    from checker import signals

    signals.install_in_pool_worker(lambda: _in_task)


class _Pool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor = ProcessPoolExecutor(max_workers=workers, initializer=_worker_init) if workers > 1 else None

    def map(self, items: list) -> list:
        if self.executor is None:
            return [_run(i) for i in items]
        return list(self.executor.map(_run, items))

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(cancel_futures=True)


# ---------------------------------------------------------------------------


def analyse(protocol: str, bounds: Bounds, memory_models: list[str], profiles: list[str], *, workers: int = 1,
            trace_dir: str | None = None, max_placements: int = 400, twin: bool = True) -> FenceTable:
    from checker.model import Params, build_system, resolve_protocol

    t0 = time.perf_counter()
    system = build_system(resolve_protocol(protocol),
                          Params(threads=bounds.threads, slots=bounds.slots, ops=bounds.ops))
    found = barriers(system)
    # An atomic sharing its line with a barrier would share its site, which
    # names one edit: such a line is analysed as the barrier only.
    atomics = [a for a in rmw_orderings(system) if a.site not in {b.site for b in found}]
    rows = sorted(found + atomics, key=lambda b: b.site)
    sites = tuple(b.site for b in rows)
    rmw_sites = frozenset(b.site for b in atomics)
    barrier_sites = tuple(b.site for b in found)
    cands = tuple(candidates(apply_edit(system, FenceEdit(remove=barrier_sites))))
    combos = combinations_to_run(memory_models, profiles)
    keys = [f"{mm}/{prof}" for mm, prof in combos]

    def check(mm, prof, edit):
        return Check(protocol, bounds, mm, prof, edit, trace_dir)

    pool = _Pool(workers)
    try:
        first = [check(mm, prof, FenceEdit()) for mm, prof in combos]
        first += [check(mm, prof, FenceEdit.without((s,), rmw_sites)) for s in sites for mm, prof in combos]
        outcomes = pool.map(first)
        baseline = dict(zip(keys, outcomes[:len(combos)]))
        removed = {(s, k): outcomes[len(combos) * (1 + i) + j] for i, s in enumerate(sites) for j, k in enumerate(keys)}
        # A needed full barrier: would a read or a write barrier do?
        weaker_checks = [(b.site, k, w, check(mm, prof, FenceEdit(replace=((b.site, w),))))
                         for b in found if b.kind == FULL_BARRIER
                         for k, (mm, prof) in zip(keys, combos) if removed[(b.site, k)].violated
                         for w in WEAKER]
        weaker_out = pool.map([c for *_, c in weaker_checks])
        tasks = [MinimalTask(check(mm, prof, FenceEdit()), sites, rmw_sites) for mm, prof in combos]
        tasks += [PlacementTask(check(mm, prof, FenceEdit()), barrier_sites, cands, max_placements)
                  for mm, prof in combos]
        searched = pool.map(tasks)
    finally:
        pool.close()
    weaker: dict[tuple[Site, str], dict[str, bool]] = {}
    for (site, k, w, _), o in zip(weaker_checks, weaker_out):
        weaker.setdefault((site, k), {})[w] = o.holds
    results: dict[Site, dict[str, BarrierResult]] = {}
    for s in sites:
        per = {}
        for k in keys:
            o = removed[(s, k)]
            per[k] = BarrierResult(o.violated, o.complete or o.violated, o.property, o.steps, o.trace,
                                   weaker.get((s, k), {}))
        results[s] = per
    minimal = {k: r.value for k, r in zip(keys, searched[:len(combos)])}
    placements = {k: r.value for k, r in zip(keys, searched[len(combos):])}
    redundant = {k: [s for s in sites if removed[(s, k)].holds] for k in keys}
    cpu = sum(o.cpu for o in outcomes) + sum(o.cpu for o in weaker_out) + sum(r.cpu for r in searched)
    nchecks = len(outcomes) + len(weaker_out) + sum(r.checks for r in searched)
    table = FenceTable(system.protocol.name, bounds, keys, rows, list(cands), baseline, results, minimal, redundant,
                       placements, max_placements=max_placements, checks=nchecks, cpu_seconds=cpu, workers=workers)
    if "weak" in memory_models:
        from checker.run import make_engine

        engine = make_engine(protocol, Params(threads=bounds.threads, slots=bounds.slots, ops=bounds.ops), None,
                             "weak", profiles[0], **bounds.mm_options("weak"))
        table.reordering_bound = engine.mm.reordering_bound()
    if twin:
        from checker.fence_twin import compare_twin

        table.twin = compare_twin(protocol, found)
    table.not_run = [f"{mm}/{prof}" for mm in memory_models for prof in profiles if (mm, prof) not in combos]
    table.wall_seconds = time.perf_counter() - t0
    return table
