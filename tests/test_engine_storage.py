"""The compact search explores exactly what the reference search explores.

Same states in the same order, same transitions, same verdicts, and the same
counterexamples (labels rebuilt by re-expanding parents must be the labels the
reference stored), on the whole mutation matrix under sc and on the shipped
protocols under sc and tso.
"""

from __future__ import annotations

import pytest

from checker.ci_policy import PARAM_SETS, ROGUE_LOOP_PARAMS, ROGUE_PARAMS
from checker.explore import Options, explore, postmaster_steps_outside_operations
from checker.model import WAIT_FREEDOM, Params, load_protocols
from checker.run import make_engine

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
@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_compact_equals_full_on_the_shipped_protocols(protocol, mm):
    params = {"threads": 2, "slots": 2, "ops": 2}
    full = _run(protocol, None, False, mm, "full", params)
    compact = _run(protocol, None, False, mm, "compact", params)
    assert full.complete
    assert_same_search(full, compact)


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
