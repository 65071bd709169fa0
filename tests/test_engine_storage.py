"""The compact search explores exactly what the reference search explores.

Same states in the same order, same transitions, same verdicts, and the same
counterexamples (labels rebuilt by re-expanding parents must be the labels the
reference stored), on the whole mutation matrix under sc and on the shipped
protocols under sc, tso and weak.
"""

from __future__ import annotations

import gc

import pytest

from checker.ci_policy import PARAM_SETS, ROGUE_LOOP_PARAMS, ROGUE_PARAMS
from checker.explore import Options, explore, postmaster_steps_outside_operations
from checker.memory.weak import Fence, WeakMemory
from checker.model import WAIT_FREEDOM, ModelError, Params, load_protocols
from checker.run import make_engine
from checker.search import _ThreadMoveCache
from conftest import MODELS

# Harmless mutations are explored to this many states only (the comparison
# holds state for state on any prefix: both searches stop at the same state).
MATRIX_STATE_LIMIT = 8000


def _matrix():
    """Every (protocol, mutation) with the parameter sets `checker ci` runs it at."""
    cases = []
    for name, cls in load_protocols().items():
        for mutation, m in cls.mutations.items():
            sets = PARAM_SETS
            if m.needs_rogue:
                sets = ROGUE_LOOP_PARAMS if m.breaks == WAIT_FREEDOM else ROGUE_PARAMS
            cases.append((name, mutation, m.needs_rogue, sets))
    return cases


def _run(protocol, mutation, rogue, mm, storage, params, max_states=None):
    p = dict(params)
    if not rogue:
        p.pop("rogue_writes", None)
    engine = make_engine(protocol, Params(rogue=rogue, **p), mutation, mm)
    return explore(engine, Options(storage=storage, max_states=max_states), mm)


def assert_same_search(full, other):
    assert (other.states, other.transitions, other.max_depth) == (full.states, full.transitions, full.max_depth)
    assert other.complete == full.complete
    assert other.max_postmaster_steps == full.max_postmaster_steps
    assert set(other.violations) == set(full.violations)
    for prop, cx in full.violations.items():
        cy = other.violations[prop]
        assert cy.length == cx.length, prop
        assert cy.labels == cx.labels, prop
        assert cy.states == cx.states, prop
        assert cy.final_label == cx.final_label, prop
        assert cy.cycle_start == cx.cycle_start, prop
        assert cy.message == cx.message, prop
    for prop in full.system.checked:
        assert other.verdict(prop) == full.verdict(prop), prop


@pytest.mark.parametrize("protocol", sorted(load_protocols()))
@pytest.mark.parametrize("mm", ["sc", "tso", "weak"])
def test_compact_equals_full_on_the_shipped_protocols(protocol, mm):
    params = {"threads": 2, "slots": 2, "ops": 2}
    if mm == "weak" and protocol.startswith("changequeue"):
        params["ops"] = 1  # 0.6-0.75 M states at two operations
    full = _run(protocol, None, False, mm, "full", params)
    compact = _run(protocol, None, False, mm, "compact", params)
    # Stopped by nothing but, for changequeue-fixed under weak, the model's
    # safety cap (its postmaster polls ahead into it), which makes the run
    # incomplete and says so: both storages must then agree on that too.
    capped = full.reordering_bound is not None and not full.reordering_bound_requested
    assert full.complete or (capped and full.stop_reason.endswith("was hit"))
    assert_same_search(full, compact)


# Under weak the compact search memoises each thread's moves per (memory,
# ghost, thread, own window) (MemoryModel.pending_local_steps): another
# thread's window is left out of the memo's key, except that a state with a
# load bound to a passed value (which a store of another thread can doom) is
# expanded without the memo.
DOOM_BY_OTHER = str(MODELS / "doom_by_other.py")


@pytest.mark.parametrize("threads", [2, 3])
def test_weak_memo_expands_states_with_bound_loads_afresh(threads):
    engine = make_engine(DOOM_BY_OTHER, Params(threads=threads, ops=1), None, "weak")
    full = explore(engine, Options(storage="full"), "weak")
    compact = explore(make_engine(DOOM_BY_OTHER, Params(threads=threads, ops=1), None, "weak"),
                      Options(storage="compact"), "weak")
    assert full.complete
    assert_same_search(full, compact)


def test_weak_memo_without_the_bound_load_check_replays_a_doomed_move(monkeypatch):
    # The model is built so that the backend's store dooms the postmaster's
    # bound load in a state whose backend part was first met without it.
    full = explore(make_engine(DOOM_BY_OTHER, Params(threads=2, ops=1), None, "weak"), Options(storage="full"),
                   "weak")
    monkeypatch.setattr(WeakMemory, "pending_reaches_others", lambda self, entry: False)
    blind = explore(make_engine(DOOM_BY_OTHER, Params(threads=2, ops=1), None, "weak"),
                    Options(storage="compact"), "weak")
    assert blind.states > full.states


def test_weak_moves_are_memoised(monkeypatch):
    computed: list = []
    entry = _ThreadMoveCache.entry
    monkeypatch.setattr(_ThreadMoveCache, "entry", lambda self, *a: computed.append(a[2]) or entry(self, *a))
    res = _run("ring", None, False, "weak", "compact", {"threads": 3, "slots": 2, "ops": 1})
    assert res.complete
    # Each state asks each of its three threads; most answers come from the memo.
    assert 0 < len(computed) < res.states


def test_a_step_that_changes_another_threads_window_is_refused(monkeypatch):
    # A memory model whose pending_local_steps is wrong would have its moves replayed
    # wrongly in other states; the memo refuses it at the first such move.
    real = WeakMemory.successors

    def meddling(self, state, tid, out):
        n = len(out)
        real(self, state, tid, out)
        for k in range(n, len(out)):
            label, nxt, viol = out[k]
            if nxt is not None:
                other = (tid + 1) % len(nxt[2])
                pending = nxt[2][:other] + ((Fence("F", 0, frozenset()),),) + nxt[2][other + 1:]
                out[k] = (label, (nxt[0], nxt[1], pending, nxt[3]), viol)

    monkeypatch.setattr(WeakMemory, "successors", meddling)
    with pytest.raises(ModelError, match="changed another thread's state"):
        _run("ring", None, False, "weak", "compact", {"threads": 2, "slots": 2, "ops": 1})


def _assert_same_fingerprinted(full, fp):
    assert fp.storage == "fingerprint" and fp.collision_probability is not None
    assert (fp.states, fp.transitions, fp.max_depth) == (full.states, full.transitions, full.max_depth)
    assert fp.complete == full.complete
    assert fp.max_postmaster_steps == full.max_postmaster_steps
    assert set(fp.violations) == set(full.violations)
    for prop, cx in full.violations.items():
        cy = fp.violations[prop]
        assert (cy.length, cy.labels, cy.states, cy.final_label) == (cx.length, cx.labels, cx.states, cx.final_label)
    for prop in full.system.checked:
        v_full, v_fp = full.verdict(prop), fp.verdict(prop)
        if v_full.startswith("holds") and prop == WAIT_FREEDOM and postmaster_steps_outside_operations(fp.system):
            # Only the cycle analysis bounds code outside operations, and a
            # fingerprinted run keeps no graph: it must not claim "holds".
            assert v_fp.startswith("not checked (the postmaster steps outside any operation"), v_fp
        elif v_full.startswith("holds"):
            # Same verdict, and it says it is fingerprinted.
            assert v_fp.startswith("holds (exhaustive, fingerprinted: collision probability ≤ "), v_fp
        else:
            assert v_fp == v_full


@pytest.mark.parametrize("protocol,mutation,rogue,sets", _matrix(), ids=[f"{c[0]}-{c[1]}" for c in _matrix()])
def test_compact_and_fingerprinted_equal_full_on_the_mutation_matrix_under_sc(protocol, mutation, rogue, sets):
    # One reference search per parameter set, compared with both reduced storages
    # (the full search costs more than the other two together).
    for params in sets:
        full = _run(protocol, mutation, rogue, "sc", "full", params, MATRIX_STATE_LIMIT)
        compact = _run(protocol, mutation, rogue, "sc", "compact", params, MATRIX_STATE_LIMIT)
        assert compact.storage == "compact" and full.storage == "full"
        assert_same_search(full, compact)
        _assert_same_fingerprinted(full, _run(protocol, mutation, rogue, "sc", "fingerprint", params,
                                              MATRIX_STATE_LIMIT))
        if full.violations:
            break


@pytest.mark.parametrize("protocol", sorted(load_protocols()))
def test_fingerprinted_run_holds_like_the_full_one(protocol):
    params = {"threads": 2, "slots": 2, "ops": 2}
    full = _run(protocol, None, False, "tso", "full", params)
    fp = _run(protocol, None, False, "tso", "fingerprint", params)
    assert full.complete and fp.complete and not fp.liveness_checked
    _assert_same_fingerprinted(full, fp)


def test_collision_probability_is_the_birthday_bound():
    from checker.fingerprint import collision_probability

    assert collision_probability(1) == 0.0
    assert collision_probability(2 ** 20) == pytest.approx(2 ** 40 / 2 ** 65, rel=1e-5)
    assert collision_probability(2 ** 40) == 1.0


def test_fingerprint_refuses_lasso_only_wait_freedom(checker_cli):
    r = checker_cli("explore", "ring", "-m", "sc", "--threads", "2", "--fingerprint", "--step-bound", "0")
    assert r.returncode == 2
    assert "--fingerprint" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("storage", ["compact", "full", "fingerprint"])
@pytest.mark.parametrize("collector_on", [True, False])
def test_a_search_leaves_its_objects_frozen_and_the_collector_as_it_found_it(collector_on, storage):
    """The search's memo tuples and plans (the reference search's state tuples) are frozen when it ends,
    not handed young to the collector.

    Unfrozen, the collector's next collection walked them all (3.4 of 64 CPU
    seconds on ring, 3 threads, 3 ops, weak); the freeze count shows they
    were kept out of its way (an unfreeze at the end empties it).
    """
    was_enabled = gc.isenabled()
    try:
        (gc.enable if collector_on else gc.disable)()
        frozen_before = gc.get_freeze_count()
        res = _run("ring", None, False, "weak", storage, {"threads": 2})
        assert gc.isenabled() == collector_on
        # The memos live on in the engine (more objects than states); the
        # reference search's state tuples are freed as it returns, frozen or not.
        assert gc.get_freeze_count() > frozen_before + (0 if storage == "full" else res.states)
    finally:
        (gc.enable if was_enabled else gc.disable)()
