"""tso and weak on the ring: each barrier mutation is caught exactly where it is a real bug."""

import pytest

from checker.explore import Options
from checker.model import INTEGRITY, resolve_protocol
from checker.run import check

BARRIERS = ["start-no-write-barrier", "start-no-read-barrier", "free-no-write-barrier", "free-no-read-barrier"]
# One backend registering three workers through two slots: both rings wrap,
# every position is reused, and the run stays small enough for CI.
SMALL = dict(threads=2, ops=3, slots=2)


def _reachable(engine, limit: int, breadth_first: bool = True) -> list:
    """Up to ``limit`` states reachable under ``engine``, each expanded with it."""
    states, queue, seen = [], [engine.initial()], set()
    while queue and len(states) < limit:
        state = queue.pop(0 if breadth_first else -1)
        if state in seen:
            continue
        seen.add(state)
        states.append(state)
        out: list = []
        engine.successors(state, out)
        queue += [nxt for _label, nxt, _viol in out if nxt is not None]
    return states


@pytest.mark.parametrize("mutation", BARRIERS)
def test_barrier_mutation_caught_under_weak(mutation):
    engine, res = check("ring", mutation=mutation, memory_model="weak", **SMALL)
    assert INTEGRITY in res.violations, res.violations
    cx = res.violations[INTEGRITY]
    # The counterexample shows reordering: some step performs an event that
    # was fetched earlier, with other events still pending.
    actions = [label[1] for label in cx.labels]
    assert "perform" in actions
    assert any(engine.mm.pending_events(s, t) for s in cx.states for t in range(len(engine.system.threads)))


@pytest.mark.parametrize("mutation", BARRIERS)
@pytest.mark.parametrize("model", ["tso", "sc"])
def test_barrier_mutation_harmless_under_tso_and_sc(mutation, model):
    _, res = check("ring", mutation=mutation, memory_model=model, **SMALL)
    assert res.complete and res.violations == {}


def test_barrier_mutations_declare_where_they_are_bugs():
    mutations = resolve_protocol("ring").mutations
    for m in BARRIERS:
        assert mutations[m].bug_under == ("weak",)


@pytest.mark.slow  # sc, tso and sound weak at three threads: about 10 CPU s
def test_consume_barrier_is_harmless_everywhere():
    # A ring with as many entries as slots cannot be lapped while a read is
    # pending, so the full barrier before advancing the tail is not needed.
    for model in ("sc", "tso", "weak"):
        _, res = check("ring", mutation="free-no-consume-barrier", memory_model=model, **SMALL)
        assert res.complete and res.violations == {}, model


def test_correct_ring_holds_under_weak():
    _, res = check("ring", memory_model="weak", **SMALL)
    assert res.complete and res.violations == {}
    assert res.liveness_checked


@pytest.mark.slow
def test_correct_ring_holds_under_tso_threads3():
    _, res = check("ring", memory_model="tso", threads=3)
    assert res.complete and res.violations == {}


def test_weak_is_the_default_memory_model():
    engine, _ = check("ring", **dict(SMALL, ops=1))
    assert engine.mm.name == "weak"


def test_weak_wrong_guesses_are_not_deadlocks():
    # Speculation past a branch creates states that die when the branch
    # resolves; the engine must not report them as stuck.
    _, res = check("ring", memory_model="weak", threads=2, ops=1, options=Options(stop_on_first=False))
    assert "deadlock freedom" not in res.violations


def test_weak_arm64_profile_runs_the_ring():
    _, res = check("ring", memory_model="weak", profile="arm64", **SMALL)
    assert res.complete and res.violations == {}


def test_window_must_be_positive():
    from checker.model import ModelError
    with pytest.raises(ModelError):
        check("ring", memory_model="weak", mm_options={"window": 0}, threads=2, ops=1)


# free-no-read-barrier's search is the longest (about 10 CPU s): with the slow tests.
@pytest.mark.parametrize("mutation", [pytest.param(m, marks=pytest.mark.slow) if m == "free-no-read-barrier" else m
                                      for m in BARRIERS])
def test_weak_counterexample_replays_against_c(mutation):
    # The weak counterexample's per-thread program-order events (eagerly
    # fetched and speculated ones included) drive the C build: the mutated C
    # does exactly what the model did; the correct C diverges.
    from checker.replay import replay_trace
    from checker.trace import build_trace

    engine, res = check("ring", mutation=mutation, memory_model="weak")
    doc = build_trace(engine, res.violations[INTEGRITY], res)
    assert replay_trace(doc).ok
    assert not replay_trace(doc, c_mutation=None).ok


def test_windows_cross_the_parallel_wire_as_plain_tuples_and_come_back_typed():
    # Window entries are NamedTuples, which marshal (the parallel search's
    # wire) refuses; pending_to_wire/pending_from_wire convert at that boundary.
    import marshal

    from checker.memory import weak
    from checker.model import Params
    from checker.run import make_engine

    engine = make_engine("ring", Params(**SMALL), None, "weak", "documented", "compiled")
    init = engine.initial()
    out: list = []
    engine.successors(init, out)
    frontier = [nxt for _label, nxt, _viol in out if nxt is not None]
    seen = 0
    for state in frontier:
        more: list = []
        engine.successors(state, more)
        for _label, nxt, _viol in more:
            if nxt is None or not any(nxt[2]):
                continue
            pending = nxt[2]
            with pytest.raises(ValueError):
                marshal.dumps(pending, 2)
            back = engine.mm.pending_from_wire(marshal.loads(marshal.dumps(engine.mm.pending_to_wire(pending), 2)))
            assert back == pending
            assert [[type(e) for e in w] for w in back] == [[type(e) for e in w] for w in pending]
            assert all(isinstance(e, tuple) and type(e) is not tuple for w in back for e in w)
            assert {type(e) for w in back for e in w} <= set(weak._ENTRY_CLASS.values())
            seen += 1
    assert seen


def _same_successors(learner, reference, states) -> None:
    """The two engines give every state the same successors, window entries of the same types."""
    for state in states:
        got: list = []
        want: list = []
        learner.successors(state, got)
        reference.successors(state, want)
        assert got == want
        assert [type(e) for _l, nxt, _v in got if nxt for w in nxt[2] for e in w] == \
            [type(e) for _l, nxt, _v in want if nxt for w in nxt[2] for e in w]


def test_outcomes_one_worker_learnt_spare_another_the_work_and_change_nothing():
    # The shards of a partitioned search own states by memory, and the weak
    # model's per-thread outcomes do not depend on memory: what one worker
    # works out, it hands the others (MemoryModel.outcomes_to_share).  A model
    # that adopted them must give the same successors as one that works them
    # out itself, and work out none of them again.
    from checker.model import Params
    from checker.run import make_engine

    import copy

    # Copies of one engine, as forked workers are: a weak state names
    # expressions by ids that agree only between such copies.
    engine = make_engine("ring", Params(**SMALL), None, "weak", "documented", "compiled")
    teacher, learner, reference = (copy.deepcopy(engine) for _ in range(3))
    teacher.mm.share_outcomes()
    states = _reachable(teacher, 3000)
    blob = teacher.mm.outcomes_to_share()
    assert blob is not None
    assert teacher.mm.outcomes_to_share() is None  # handed over once
    # The learner has met some thread states itself already: what it is
    # handed for those joins its own cache, what it has is kept.
    for state in states[:200]:
        learner.successors(state, [])
    learner.mm.adopt_outcomes(0, blob)

    learnt = {"learner": 0, "reference": 0}

    def counting(engine, name):
        original = engine.mm._learnt

        def count(*args):
            learnt[name] += 1
            return original(*args)
        engine.mm._learnt = count

    counting(learner, "learner")
    counting(reference, "reference")
    _same_successors(learner, reference, states)
    assert learnt["reference"] > 1000
    assert learnt["learner"] == 0


def test_portable_outcomes_reach_a_model_built_apart():
    # Ray's actors build the model themselves, so their registries number
    # the same expressions apart: portable offers name each pending value's
    # expression as the wire does (values_to_wire).  A model built apart
    # adopts them, gives the same successors as one that works them out,
    # and works none of them out again.
    import copy

    from checker.ir import Expr
    from checker.model import Params
    from checker.parallel import state_from_wire, state_to_wire
    from checker.run import make_engine

    teacher = make_engine("ring", Params(**SMALL), None, "weak", "documented", "compiled")
    Expr(lambda S: 0, (), "built in between")
    learner = make_engine("ring", Params(**SMALL), None, "weak", "documented", "compiled")
    reference = copy.deepcopy(learner)
    teacher.mm.share_outcomes(portable=True)
    learner.mm.share_outcomes(portable=True)
    taught = _reachable(teacher, 3000)
    states = [state_from_wire(learner.mm, state_to_wire(teacher.mm, s)) for s in taught]
    assert states != taught  # the same states, numbered apart
    learner.mm.adopt_outcomes(0, teacher.mm.outcomes_to_share())
    learnt = []
    original = learner.mm._learnt
    learner.mm._learnt = lambda *args: learnt.append(args[2]) or original(*args)
    _same_successors(learner, reference, states)
    assert learnt == []


def test_each_window_travels_once_and_offers_are_adopted_in_order():
    # Outcomes name windows by number after the first offer that carries
    # them (WeakMemory.outcomes_to_share): a second offer carries only new
    # windows, a receiver that missed an offer says so rather than misread
    # the numbers, and one that took both in order has every outcome.
    import copy
    import pickle

    from checker.model import Params
    from checker.run import make_engine

    engine = make_engine("ring", Params(**SMALL), None, "weak", "documented", "compiled")
    teacher, learner, reference = (copy.deepcopy(engine) for _ in range(3))
    teacher.mm.share_outcomes()
    states = _reachable(reference, 3000)
    for state in states[:1500]:
        teacher.successors(state, [])
    first = teacher.mm.outcomes_to_share()
    for state in states[1500:]:
        teacher.successors(state, [])
    second = teacher.mm.outcomes_to_share()
    assert first is not None and second is not None
    start1, windows1, entries1 = pickle.loads(first)
    start2, windows2, entries2 = pickle.loads(second)
    assert (start1, start2) == (0, len(windows1))
    assert windows2 and not set(windows2) & set(windows1)
    # Far fewer windows than outcomes naming them.
    assert len(windows1) + len(windows2) < (len(entries1) + len(entries2)) / 4

    with pytest.raises(RuntimeError, match="skipped"):
        learner.mm.adopt_outcomes(3, second)
    learner.mm.adopt_outcomes(3, first)
    learner.mm.adopt_outcomes(3, second)
    learnt = []
    original = learner.mm._learnt
    learner.mm._learnt = lambda *args: learnt.append(args[2]) or original(*args)
    _same_successors(learner, reference, states)
    assert learnt == []


def test_models_without_shared_outcomes_offer_none():
    from checker.model import Params
    from checker.run import make_engine

    engine = make_engine("ring", Params(**SMALL), None, "tso", "documented", "compiled")
    engine.mm.share_outcomes()
    out: list = []
    engine.successors(engine.initial(), out)
    assert engine.mm.outcomes_to_share() is None


def test_the_postmasters_place_read_from_its_window_entry_agrees_with_unpacking():
    # The cycle analysis asks every state whether the postmaster is inside an
    # operation, outside, or ahead of it (weak: an operation marker in its
    # window).  _LazyStates.place_ahead reads it from the key, once per
    # distinct window entry; it must agree with asking each unpacked state.
    from checker.model import Params
    from checker.run import make_engine
    from checker.search import _LazyStates, packer_for

    engine = make_engine("ring", Params(**SMALL), None, "weak", "documented", "compiled")
    packer, _memoised = packer_for(engine)
    states = _reachable(engine, 20000, breadth_first=False)
    lazy = _LazyStates([packer.pack(s) for s in states], packer)
    in_op = engine.system.threads[0].program.in_op
    inside, restarted = lazy.place_ahead(0, in_op, engine.mm.between_operations_of_entry, 2)
    want_inside = bytearray(2 if engine.mm.between_operations(s, 0) else (1 if in_op[s[1][0][0]] else 0)
                            for s in states)
    want_restarted = bytearray(1 if want_inside[v] == 1 and s[1][0][1] == 0 else 0 for v, s in enumerate(states))
    assert (inside, restarted) == (want_inside, want_restarted)
    assert set(inside) == {0, 1, 2}  # every place occurs: the comparison means something
    assert 1 in restarted
    # A model that cannot tell from the entry alone leaves it to the unpacking code.
    assert lazy.place_ahead(0, in_op, lambda entry: None, 2) is None
