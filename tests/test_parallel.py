"""The partitioned search (--workers, --ray, --checkpoint; checker.parallel) is the one-process search.

Every shipped protocol at small bounds, with and without a bug, under each
property: the same distinct-state and transition counts, the same verdict for
every property, and the same counterexamples (the ranks reproduce the one-
process discovery order, so the traces are equal, not only as long).
"""

from __future__ import annotations

from array import array

import pytest

from checker.explore import Options, explore
from checker.model import Params, load_protocols
from checker.parallel import EngineSpec, ParallelOptions
from conftest import MODELS

# (protocol, mutation, memory model, params, options)
CASES = []
for _name, _cls in load_protocols().items():
    CASES.append((_name, None, "sc", {"threads": 2}, {}))
    # Every mutation under a memory model where it is a bug: the violating
    # runs stop at their first violation, where one process would.  The
    # default run keeps the first of each protocol under each memory model;
    # the others run with the slow tests.
    _first_under: set[str] = set()
    for _m, _mut in _cls.mutations.items():
        if _m == "unbounded-retry":
            continue  # a liveness bug: below, as a lasso
        _mm = _mut.bug_under[0] if _mut.bug_under else "sc"
        if _mm == "weak" and _name.startswith("changequeue"):
            continue  # minutes each under the sound weak model at --threads 3; the other weak cases cover weak
        _rogue = {"rogue": True, "rogue_writes": 1} if _mut.needs_rogue else {}
        _case = (_name, _m, _mm, {"threads": 3, **_rogue}, {})
        # The three that take 15 to 50 CPU s each run with the slow tests, even
        # when first under their memory model.
        _slow = (_name, _m) in {("changequeue-fixed", "no-queued-flag"), ("ring", "free-no-read-barrier"),
                                ("ring", "free-no-write-barrier")} or _mm in _first_under
        _first_under.add(_mm)
        CASES.append(pytest.param(_case, marks=pytest.mark.slow) if _slow else _case)
_LASSO = {"threads": 2, "slots": 1, "ops": 1, "rogue": True, "rogue_writes": None, "step_bound": 0,
          "extra": {"cas_retries": 1}}
CASES += [
    ("ring", None, "tso", {"threads": 2}, {}),
    ("ring", None, "weak", {"threads": 2}, {}),
    # Shards memoise weak's moves too, except in states with a load bound to a passed value.
    (str(MODELS / "doom_by_other.py"), None, "weak", {"threads": 3, "ops": 1}, {}),
    ("dlist", None, "sc", {"threads": 2, "rogue": True, "rogue_writes": 1}, {}),
    ("bitmap", None, "sc", {"threads": 2, "step_bound": 0}, {"stop_on_first": False}),
    ("ring", None, "sc", {"threads": 2}, {"max_depth": 10}),
    ("ring", None, "sc", {"threads": 2}, {"liveness": False}),
    # Without edges a shard deduplicates its own successors and what it sends (Shard.expand).
    ("ring", None, "tso", {"threads": 3}, {"liveness": False}),
    ("ring", None, "weak", {"threads": 2}, {"liveness": False}),
    (str(MODELS / "doom_by_other.py"), None, "weak", {"threads": 3, "ops": 1}, {"liveness": False}),
    ("ring", "no-lock", "sc", {"threads": 3}, {"liveness": False, "stop_on_first": False}),
    # A wait-freedom lasso in the part of the graph explored up to a depth.
    ("caslist", "unbounded-retry", "sc", _LASSO, {"max_depth": 16}),
    pytest.param(("ring", None, "sc", {"threads": 3}, {}), marks=pytest.mark.slow),
    # --keep-going: every property's first violation, deadlock cycles included.
    pytest.param(("ring", "no-lock", "sc", {"threads": 3}, {"stop_on_first": False}), marks=pytest.mark.slow),
]


def _values(case):
    return case.values[0] if hasattr(case, "values") else case


def _ids(case):
    name, mut, mm, params, options = _values(case)
    extra = "-".join(f"{k}{v}" for k, v in {**params, **options}.items() if k not in ("threads", "extra"))
    return f"{name}-{mut or 'correct'}-{mm}-t{params['threads']}{'-' + extra if extra else ''}"


def _run(case, workers=None, ray=None, **more):
    name, mut, mm, params, options = _values(case)
    spec = EngineSpec(name, Params(**params), mut, mm, "documented")
    engine = spec.build()
    par = None if workers is None else ParallelOptions(workers=workers, ray_address=ray, spec=spec, **more)
    res = explore(engine, Options(**options, parallel=par), mm, "documented")
    return engine, res


def summary(res):
    system = res.system
    props = sorted(set(system.checkable) | set(res.violations))
    return {
        "states": res.states, "transitions": res.transitions, "max_depth": res.max_depth,
        "complete": res.complete, "stop_reason": res.stop_reason,
        "verdicts": {p: res.verdict(p) for p in props},
        "counterexamples": {p: (cx.length, cx.labels, cx.final_label, cx.cycle_start, cx.message)
                            for p, cx in res.violations.items()},
        "max_postmaster_steps": res.max_postmaster_steps,
    }


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_two_workers_explore_what_one_process_does(case):
    _e, one = _run(case)
    _e, two = _run(case, workers=2)
    assert two.workers == 2
    assert summary(two) == summary(one)
    name, mutation = _values(case)[:2]
    if mutation is not None and load_protocols()[name].mutations[mutation].bug_under:
        # The comparison is worth something only if it compares failing runs too.
        assert one.violations


def test_the_cases_cover_both_liveness_properties():
    # Deadlock cycles are compared in the slow --keep-going ring case.
    lasso = next(_values(c) for c in CASES if _values(c)[1] == "unbounded-retry")
    _e, res = _run(lasso)
    assert "postmaster wait-freedom" in res.violations and res.violations["postmaster wait-freedom"].cycle_start


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


# The weak cases the default run keeps: each actor builds the model itself,
# so these are where the expressions' wire names (Wire) are put to use.
RAY_CASES = [c for c in CASES if (_values(c)[1] is None or _values(c)[0] == "ring")
             and not (_values(c)[2] == "weak" and getattr(c, "marks", ()))]


@pytest.mark.xdist_group("ray")  # one local Ray per test process (the module fixture)
@pytest.mark.slow
@pytest.mark.parametrize("case", RAY_CASES, ids=[_ids(c) for c in RAY_CASES])
def test_ray_actors_explore_what_one_process_does(case, local_ray):
    _e, one = _run(case)
    _e, on_ray = _run(case, workers=2, ray="local")
    assert on_ray.workers == 2
    assert summary(on_ray) == summary(one)


def test_the_ray_cases_include_weak_ones_with_expressions_on_the_wire():
    # Without a weak case the Ray tests would not see a state that names an
    # expression, the one value whose name differs between builds.
    assert any(_values(c)[2] == "weak" and _values(c)[1] is None for c in RAY_CASES)
    assert any(_values(c)[2] == "weak" and _values(c)[1] is not None for c in RAY_CASES)


def test_weak_states_on_the_wire_are_the_same_in_every_build_of_the_model():
    # A Ray actor, or a process resuming a checkpoint, builds the model
    # itself, after building other things: its registry numbers the same
    # expressions differently.  Two builds apart reach the same states under
    # different numbers; on the wire they are the same, and each build reads
    # the other's.
    from checker.ir import Expr
    from checker.parallel import state_from_wire, state_to_wire

    def reachable(engine):
        init = engine.initial()
        seen, todo, out = {init}, [init], []
        while todo:
            out.clear()
            engine.successors(todo.pop(), out)
            for _label, nxt, _viol in out:
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def names_an_expression(x):
        return isinstance(x, tuple) and ((len(x) == 3 and x[0] == "e") or any(map(names_an_expression, x)))

    spec = EngineSpec("ring", Params(threads=2), None, "weak", "documented")
    first = spec.build()
    states_first = reachable(first)
    Expr(lambda S: 0, (), "built in between")
    second = spec.build()
    states_second = reachable(second)
    assert sum(map(names_an_expression, states_first)) > len(states_first) // 2
    assert states_first != states_second  # the same states, numbered apart
    assert {state_to_wire(first.mm, s) for s in states_first} == {state_to_wire(second.mm, s) for s in states_second}
    assert {state_from_wire(second.mm, state_to_wire(first.mm, s)) for s in states_first} == states_second


def test_edge_lists_are_in_move_order_with_and_without_numpy(monkeypatch):
    import random
    import sys

    from checker.parallel import MOVE_BITS, _edge_graph

    rng = random.Random(7)
    pairs = [(s << MOVE_BITS | m, rng.randrange(1 << 20)) for s in range(45) if s % 7 for m in range(rng.randrange(4))]
    rng.shuffle(pairs)
    at, dst = array("q", [a for a, _d in pairs]), array("q", [d for _a, d in pairs])
    expected = [[d for a, d in sorted(pairs) if a >> MOVE_BITS == s] for s in range(60)]

    def lists(graph):
        return [list(graph[v]) for v in range(len(graph))]

    assert lists(_edge_graph(at, dst, 60)) == expected
    monkeypatch.setitem(sys.modules, "numpy", None)  # import numpy now fails
    assert lists(_edge_graph(at, dst, 60)) == expected


@pytest.mark.parametrize("mm,ops", [("sc", 2), ("weak", 1)])
def test_shards_compute_each_memoised_move_once_and_the_cycle_analysis_leaves_states_in_them(monkeypatch, mm, ops):
    """Owned by their shared memory, which keys every memo entry, no two shards compute one entry;
    the cycle analysis gathers the postmaster's thread tuples, not the states."""
    import checker.parallel as parallel
    from checker.search import _ThreadMoveCache

    computed: list = []
    entry = _ThreadMoveCache.entry
    monkeypatch.setattr(_ThreadMoveCache, "entry", lambda self, *a: computed.append(a[2]) or entry(self, *a))
    case = ("ring", None, mm, {"threads": 3, "ops": ops}, {})
    _e, one = _run(case)
    by_one = len(computed)
    computed.clear()
    # Both shards in this process, so that the counts are seen here.
    monkeypatch.setattr(parallel, "ProcessShards", parallel.LocalShards)
    gathered: list = []
    gather = parallel.Shard.gather
    monkeypatch.setattr(parallel.Shard, "gather", lambda self, *a: gathered.append(gather(self, *a)) or gathered[-1])
    _e, two = _run(case, workers=2)
    assert summary(two) == summary(one) and two.liveness_checked
    assert 0 < len(computed) == by_one
    # weak's between_operations reads the window too, so its states are gathered whole (_gather_light).
    assert len(gathered) == 2 and any("keys" in doc for doc in gathered) == (mm == "weak")


@pytest.mark.xdist_group("ray")  # one local Ray per test process (the module fixture)
@pytest.mark.slow
@pytest.mark.parametrize("mm", ["sc", "weak"])
def test_a_ray_search_stopped_by_its_memory_limit_resumes_on_worker_processes(local_ray, tmp_path, mm):
    # Under weak the actors' shard files name expressions as their own
    # builds did; the forked workers read them under this process's numbers.
    case = ("ring", None, mm, {"threads": 2}, {})
    _e, one = _run(case)
    # 2M is less than any actor holds: the limit is passed in the first level.
    _e, stopped = _run(case, workers=2, ray="local", checkpoint_dir=str(tmp_path), memory_limit=2 << 20)
    assert not stopped.complete and "memory limit" in stopped.stop_reason
    assert all(not v.startswith("holds") for v in summary(stopped)["verdicts"].values())
    _e, resumed = _run(case, workers=2, resume_dir=str(tmp_path))
    assert summary(resumed) == summary(one)


def test_the_partitioned_bytes_per_state_counts_what_one_process_counts():
    # The shards hold what one process holds (states, parents, the move
    # memo split between them) plus a copy each of the interned components:
    # their figure is never below the one-process one.  It was, when the
    # shards left their move memos out of it (ring, 3 threads, weak: 161
    # against 226).
    case = ("ring", None, "tso", {"threads": 3}, {"liveness": False})
    _e, one = _run(case)
    _e, two = _run(case, workers=2)
    assert one.bytes_per_state <= two.bytes_per_state <= 1.5 * one.bytes_per_state


def test_workers_auto_is_the_cores_this_process_may_use():
    import os

    from checker.parallel import parse_workers

    assert parse_workers("auto") == len(os.sched_getaffinity(0))
    assert parse_workers("3") == 3
    for bad in ("0", "-2", "x", "256"):
        with pytest.raises(ValueError):
            parse_workers(bad)


def test_the_safety_cap_hit_before_a_checkpoint_is_not_lost_on_resume(monkeypatch, tmp_path):
    # The workers that hit weak's safety cap are gone after --resume, and the
    # levels it cut are not expanded again: unless the checkpoint carries the
    # hit, the resumed run says "holds" of a search the cap cut.
    from checker.model import INTEGRITY

    def stop_after_two_levels(info):
        if info["depth"] >= 2:
            raise KeyboardInterrupt

    spec = EngineSpec("ring", Params(threads=2, ops=1), None, "weak", "documented")
    # One engine for both runs, the cap set on it for the first only.  Its
    # workers are forked copies; the cap is hit in those, never in this
    # process's model.  The cap is weak.SAFETY_CAP as the model took it when
    # built, here 1 for the first run only.
    engine = spec.build()
    monkeypatch.setattr(engine.mm, "window", 1)
    par = ParallelOptions(workers=2, spec=spec, checkpoint_dir=str(tmp_path))
    stopped = explore(engine, Options(parallel=par, progress=stop_after_two_levels), "weak", "documented")
    assert stopped.stop_reason.startswith("interrupted; checkpoint written") and stopped.reordering_bound == 1
    monkeypatch.undo()  # the rest of the search runs uncapped
    assert engine.mm.reordering_bound() is None
    par = ParallelOptions(workers=2, spec=spec, resume_dir=str(tmp_path))
    resumed = explore(engine, Options(parallel=par), "weak", "documented")
    assert resumed.reordering_bound == 1 and resumed.exit_code == 3
    # Every level was expanded, but what the cap cut was not: incomplete, and said so.
    assert not resumed.complete
    assert resumed.stop_reason == "the weak model's safety cap of 1 events in flight per thread was hit"
    assert resumed.verdict(INTEGRITY).startswith("not violated so far (search incomplete: the weak model's safety cap")


def test_a_weak_checkpoint_resumes_in_another_build_of_the_model(tmp_path):
    # The shard files name expressions as every build does (Wire), so a
    # process that numbered them differently (here: one more expression
    # built in between) resumes the search to the uninterrupted counts.
    # Read under the writer's numbers, the resumed levels would meet their
    # states again under other keys, and count them twice.
    from checker.ir import Expr

    def stop_after_twelve_levels(info):
        if info["depth"] >= 12:
            raise KeyboardInterrupt

    spec = EngineSpec("ring", Params(threads=2), None, "weak", "documented")
    one = explore(spec.build(), Options(), "weak", "documented")
    par = ParallelOptions(workers=2, spec=spec, checkpoint_dir=str(tmp_path))
    stopped = explore(spec.build(), Options(parallel=par, progress=stop_after_twelve_levels), "weak", "documented")
    assert stopped.stop_reason.startswith("interrupted; checkpoint written")
    Expr(lambda S: 0, (), "built in between")
    par = ParallelOptions(workers=2, spec=spec, resume_dir=str(tmp_path))
    resumed = explore(spec.build(), Options(parallel=par), "weak", "documented")
    assert summary(resumed) == summary(one)


@pytest.mark.parametrize("failing_shard", [0, 1])
@pytest.mark.parametrize("mm", ["sc", "weak"])
def test_a_worker_that_fails_while_expanding_does_not_leave_the_others_waiting(monkeypatch, tmp_path, failing_shard,
                                                                               mm):
    # The batches go from worker to worker: a worker whose expansion fails
    # (here: past its memory share) still owes the others a message, or they
    # wait for its batch for ever.  The run must stop with its checkpoint and
    # the failing worker's reason, whichever worker it is.  Under weak the
    # others also read outcomes from it after every state (_EXCHANGE_EVERY),
    # so they meet its failure in the middle of their own expansion.
    from checker import parallel
    from checker.parallel import Shard

    monkeypatch.setattr(parallel, "_EXCHANGE_EVERY", 1)

    expand = Shard.expand

    def expand_failing_at_level_3(self):
        if self.index == failing_shard and self.depth == 3:
            raise MemoryError("memory limit of this test reached")
        return expand(self)

    monkeypatch.setattr(Shard, "expand", expand_failing_at_level_3)  # the forked workers inherit it
    spec = EngineSpec("ring", Params(threads=2), None, mm, "documented")
    engine = spec.build()  # a weak checkpoint resumes with the engine that wrote it (see the safety cap test)
    par = ParallelOptions(workers=2, spec=spec, checkpoint_dir=str(tmp_path))
    res = explore(engine, Options(parallel=par), mm, "documented")
    assert not res.complete and res.exit_code == 3
    assert res.stop_reason.startswith(f"worker {failing_shard}: memory limit of this test reached; checkpoint written")
    monkeypatch.undo()
    resumed = explore(engine, Options(parallel=ParallelOptions(workers=2, spec=spec, resume_dir=str(tmp_path))),
                      mm, "documented")
    assert summary(resumed) == summary(_run(("ring", None, mm, {"threads": 2}, {}))[1])


# Weak cases small enough to trade outcomes after every state: a correct run
# with and without the cycle analysis, and one that stops at a violation.
_TRADING = [("ring", None, "weak", {"threads": 2}, {}),
            (str(MODELS / "doom_by_other.py"), None, "weak", {"threads": 3, "ops": 1}, {"liveness": False}),
            ("dsmhandle", "publish-no-write-barrier", "weak", {"threads": 3}, {})]


@pytest.mark.parametrize("case", _TRADING, ids=[_ids(c) for c in _TRADING])
def test_outcomes_traded_within_levels_leave_the_search_as_one_process_runs_it(monkeypatch, case):
    # Workers trade the weak model's outcomes every _EXCHANGE_EVERY states
    # (parallel._level), at any point of each other's expansion; here after
    # every state, so that the small runs trade within levels at all.
    from checker import parallel

    monkeypatch.setattr(parallel, "_EXCHANGE_EVERY", 1)  # the forked workers inherit it
    _e, one = _run(case)
    _e, two = _run(case, workers=2)
    assert summary(two) == summary(one)
    if case[1] is not None:
        assert one.violations


def _two_weak_shards_with_a_frontier():
    """Two shards of ring at 3 threads under weak, each with its own copy of the model (as forked workers have),
    their frontier the first 400-odd states of the search, each holding the ones it owns."""
    import copy

    from checker.parallel import Shard

    spec = EngineSpec("ring", Params(threads=3), None, "weak", "documented")
    engine = spec.build()
    states, frontier = [engine.initial()], [engine.initial()]
    while len(states) < 400:  # the first levels of the search, breadth first
        out: list = []
        for s in frontier:
            engine.successors(s, out)
        frontier = list({nxt for _l, nxt, _v in out if nxt is not None and nxt not in states})
        states += frontier
    shards = [Shard(spec, i, 2, False, None, None, copy.deepcopy(engine), share_outcomes=True) for i in (0, 1)]
    for rank, state in enumerate(states):
        for shard in shards:
            key = shard.packer.pack(state)
            if shard.owner(key) == shard.index:
                shard.seen[key] = len(shard.keys)
                shard.keys.append(key)
                shard.rank.append(rank)
                shard.parent.append(-1)
    for shard in shards:
        shard.frontier = range(len(shard.keys))
    assert all(len(shard.keys) > 50 for shard in shards)
    return shards


def test_a_worker_adopts_outcomes_another_sent_while_it_expands(monkeypatch):
    # Two shards in two threads of this process run one level through
    # _level.  The first expands its states while the second has not
    # started; the second then finds the first's outcomes waiting and must
    # adopt them at its first trade, before its own expansion ends, not with
    # the batch.
    import multiprocessing as mp
    import threading

    from checker import parallel
    from checker.parallel import Shard

    monkeypatch.setattr(parallel, "_EXCHANGE_EVERY", 1)
    first, second = _two_weak_shards_with_a_frontier()
    expanding = []
    adopted_while_expanding = []
    expand, adopt = Shard.expand, second.engine.mm.adopt_outcomes

    def marked_expand(self):
        expanding.append(self.index)
        try:
            return expand(self)
        finally:
            expanding.remove(self.index)

    monkeypatch.setattr(Shard, "expand", marked_expand)
    second.engine.mm.adopt_outcomes = (
        lambda sender, blob: adopted_while_expanding.append(1 in expanding) or adopt(sender, blob))
    end0, end1 = mp.Pipe()
    results: dict = {}
    worker = threading.Thread(target=lambda: results.setdefault(0, parallel._level(first, {1: end0})))
    worker.start()
    end1.poll(None)  # the first shard's first outcomes are in the pipe
    results[1] = parallel._level(second, {0: end1})
    worker.join()
    assert set(results) == {0, 1}
    assert adopted_while_expanding[0] is True
    assert all(report.sent_bytes > 0 for report, _received in results.values())


def test_a_worker_that_hears_of_a_failure_while_it_expands_waits_for_nothing_more(monkeypatch):
    # A worker that cannot expand sends an empty message and then reads what
    # the others send it.  One that reads that message at a trade within its
    # own expansion stops there; it must not then wait for a batch from the
    # failed worker, which sends nothing more (the coordinator would wait for
    # both of them for ever).
    import multiprocessing as mp
    import threading

    from checker import parallel

    monkeypatch.setattr(parallel, "_EXCHANGE_EVERY", 1)
    first, second = _two_weak_shards_with_a_frontier()

    def cannot_expand():
        raise MemoryError("memory limit of this test reached")

    first.expand = cannot_expand
    end0, end1 = mp.Pipe()
    failures: dict = {}

    def level(shard, peers):
        try:
            parallel._level(shard, peers)
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            failures[shard.index] = exc

    failing = threading.Thread(target=level, args=(first, {1: end0}))
    failing.start()
    end1.poll(None)  # its empty message is in the pipe: the second shard meets it at its first trade
    hearing = threading.Thread(target=level, args=(second, {0: end1}), daemon=True)
    hearing.start()
    hearing.join(120)  # a bound on a hang, not on speed: the level takes well under a second
    assert not hearing.is_alive()
    failing.join()
    assert isinstance(failures[0], MemoryError)
    assert isinstance(failures[1], parallel.PeerLost) and "worker 0 could not expand" in str(failures[1])
