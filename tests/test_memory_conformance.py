"""The conformance kit: what every memory model plug-in must do (issue 13).

Parametrised over ``memory_models()``, so a model that registers itself is
held to it without a line here.  The contract (``checker.memory.base``):

* states and moves have the boundary's layout (``State``, ``Label``,
  ``Move``), with hashable components, and a model lists a thread's moves in
  the same order every time (counterexamples are rebuilt from that order);
* a violation names a property the system knows, and every move that has a
  next state can be told in a trace (``describe``, ``pending_events``);
* the initial pending state is quiescent, ``reordering_bound`` is None or a
  positive int;
* every outcome sequential consistency allows on the litmus suite, the model
  allows (no model may be stronger than sc), and among the shipped models
  each allows what the stronger one does (sc ⊆ tso ⊆ weak);
* a model that says a thread's steps are local to it (``thread_local_steps``,
  ``pending_local_steps``) gives the compact search, which then memoises each
  thread's moves, exactly the reference search's graph.
"""

from __future__ import annotations

import pytest

from checker.ir import MASK
from checker.litmus import parse_litmus, run_litmus, suite_files
from checker.memory import memory_models
from checker.memory.base import ACTIONS
from checker.memory.base import LabelLayout as Label
from checker.memory.base import MoveLayout as Move
from checker.memory.base import StateLayout as State
from checker.model import Params
from checker.run import make_engine

MODELS = sorted(memory_models())


def _assert_state(state, nthreads: int) -> None:
    assert isinstance(state, tuple) and len(state) == len(State._fields)
    st = State(*state)
    assert all(isinstance(w, int) and 0 <= w <= MASK for w in st.memory)
    assert len(st.threads) == len(st.pending) == nthreads
    # A pc and a step count first; locals are ints or a model's hashable tokens.
    assert all(isinstance(t, tuple) and isinstance(t[0], int) and isinstance(t[1], int) for t in st.threads)
    assert all(isinstance(g, int) for g in st.ghost)
    hash(state)


def _walk(engine, limit: int):
    init = engine.initial()
    seen, queue = {init}, [init]
    while queue and len(seen) < limit:
        s = queue.pop(0)
        yield s
        for tid in engine.program_tids:
            out: list = []
            engine.mm.successors(s, tid, out)
            for m in out:
                if m[1] is not None and m[1] not in seen:
                    seen.add(m[1])
                    queue.append(m[1])


@pytest.mark.parametrize("model", MODELS)
def test_moves_have_the_boundary_layout(model):
    # The plug-in itself (the compiled sc/tso successors are compared with it
    # move for move in test_engine_compiled.py).
    engine = make_engine("ring", Params(threads=3, slots=2, ops=1), memory_model=model, engine="interpreted")
    mm, system = engine.mm, engine.system
    n = engine.nthreads
    assert mm.quiescent(tuple(mm.initial_pending(t) for t in range(n)))
    bound = mm.reordering_bound()
    assert bound is None or (isinstance(bound, int) and bound > 0)
    kinds = set()
    for s in _walk(engine, 1500):
        _assert_state(s, n)
        for tid in engine.program_tids:
            out: list = []
            mm.successors(s, tid, out)
            again: list = []
            mm.successors(s, tid, again)
            assert again == out, "moves must come in a fixed order"
            for m in out:
                assert isinstance(m, tuple) and len(m) == len(Move._fields)
                move = Move(*m)
                assert isinstance(move.label, tuple) and len(move.label) == len(Label._fields)
                label = Label(*move.label)
                assert label.tid == tid and label.action in ACTIONS
                hash(label)
                kinds.add(label.action)
                if move.violation is not None:
                    prop, message = move.violation
                    assert prop in system.known_properties and isinstance(message, str) and message
                    assert move.next_state is None
                elif move.next_state is not None:
                    _assert_state(move.next_state, n)
                    assert isinstance(mm.describe(move.label, s, move.next_state), dict)
            for t in range(n):
                assert all(isinstance(e, str) for e in mm.pending_events(s, t))
    assert "step" in kinds


@pytest.fixture(scope="module")
def litmus_outcomes():
    """Outcome sets of the suite under every registered model."""
    results = {}
    for path in suite_files():
        test = parse_litmus(path)
        results[path.name] = {m: run_litmus(test, m).outcome_set for m in MODELS}
    assert len(results) >= 10, "the litmus suite is missing"
    return results


def test_sc_reaches_an_outcome_on_every_test(litmus_outcomes):
    for name, by_model in litmus_outcomes.items():
        assert by_model["sc"], name


# sc itself is left out: sc <= sc would hold whatever it returned.
@pytest.mark.parametrize("model", [m for m in MODELS if m != "sc"])
def test_no_model_is_stronger_than_sc(model, litmus_outcomes):
    for name, by_model in litmus_outcomes.items():
        assert by_model["sc"] <= by_model[model], name


def test_shipped_models_only_add_behaviours(litmus_outcomes):
    weaker = 0
    for name, by_model in litmus_outcomes.items():
        assert by_model["sc"] <= by_model["tso"] <= by_model["weak"], name
        weaker += by_model["sc"] < by_model["weak"]
    assert weaker, "the suite must tell sc from weak somewhere, or the kit checks nothing"


@pytest.mark.parametrize("model", MODELS)
def test_a_model_that_claims_local_steps_gives_the_memo_the_same_graph(model):
    # thread_local_steps / pending_local_steps let the compact search replay a
    # thread's moves in other states (checker.search._ThreadMoveCache): the
    # graph must be the reference search's, state for state.
    from checker.explore import Options, explore

    runs = []
    for storage in ("full", "compact"):
        engine = make_engine("ring", Params(threads=3, slots=2, ops=1), memory_model=model)
        res = explore(engine, Options(storage=storage), model)
        runs.append((res.states, res.transitions, res.max_depth, res.complete, sorted(res.violations)))
    assert runs[0] == runs[1]
