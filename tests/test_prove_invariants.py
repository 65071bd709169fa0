"""checker prove --invariants: the ring's inductive invariant, and a conjunct that is not inductive."""

import json

import pytest

from checker.model import Params, resolve_protocol
from checker.prove.invariants import prove_invariants
from checker.prove.setup import proof_module
from tests.conftest import run_checker

BOGUS = "the free queue is never empty"


def _with_bogus_conjunct(monkeypatch):
    spec = proof_module(resolve_protocol("ring"))
    stated = spec.invariant

    def with_bogus(v):
        # True initially (the free queue starts full) but not preserved: a
        # backend that takes the last free slot empties the queue.
        return stated(v) + [(BOGUS, v.word("free_head") != v.word("free_tail"))]

    monkeypatch.setattr(spec, "invariant", with_bogus)


@pytest.mark.slow
@pytest.mark.ci_job_computes  # .ci/run's `checker ci` proves the stated invariant for three threads
def test_ring_invariant_is_inductive_and_a_bogus_conjunct_is_caught(monkeypatch):
    _with_bogus_conjunct(monkeypatch)
    # Two threads here, every step (about three minutes of z3).
    res = prove_invariants(resolve_protocol("ring"), Params(threads=2, slots=2, ops=1))
    assert not res.unknown, res.unknown
    assert res.initial_checked == [1, 2, 3, 4, 5, 6]
    # Only the bogus conjunct fails: the stated invariant is inductive.
    assert {f.conjunct for f in res.failures} == {BOGUS}
    assert res.slot_range.startswith("1 <= slots <= 32")
    assert len(res.conjuncts) > 20 and res.steps_checked > 40


@pytest.mark.slow
def test_a_bogus_conjunct_is_caught_at_the_step_that_breaks_it(monkeypatch):
    _with_bogus_conjunct(monkeypatch)
    # The step that empties the free queue, alone: the full check above is the slow run's.
    res = prove_invariants(resolve_protocol("ring"), Params(threads=2, slots=2, ops=1),
                           only_steps="pg_atomic_write_u32(free_tail")
    assert not res.unknown, res.unknown
    assert res.initial_checked == [1, 2, 3, 4, 5, 6]
    assert {f.conjunct for f in res.failures} == {BOGUS}
    f = res.failures[0]
    assert f.what == "consecution" and f.thread.startswith("backend")
    assert "pg_atomic_write_u32(free_tail" in f.instr
    assert f.pre_state["free_head"] and "SLOTS" in f.pre_state
    # the moving thread is shown where the step starts, with its locals
    assert "pg_atomic_write_u32(free_tail" in f.pre_state[f"{f.thread} at"]
    assert "take_free_slot#2.tail" in f.pre_state[f"{f.thread} locals"]
    # A failure is a failure even in a check of some steps; it is never a proof.
    assert res.exit_code == 1 and not res.proved


@pytest.mark.slow
def test_a_check_of_some_steps_is_never_reported_as_a_proof():
    r = run_checker("prove", "ring", "--invariants", "--step", "pg_atomic_write_u32(free_tail", "--json", timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert not res["proved"] and not res["failures"] and res["only_steps"] == "pg_atomic_write_u32(free_tail"
    # one backend, one event on such a line (the mutation would add none)
    assert res["steps_checked"] == 1
    # The same step for one conjunct: partial twice over, and said so.
    r = run_checker("prove", "ring", "--invariants", "--step", "pg_atomic_write_u32(free_tail",
                    "--conjunct", "free entries are distinct", timeout=300)
    assert r.returncode == 3 and "not a proof" in r.stdout
    assert "the conjuncts named with 'free entries are distinct'" in r.stdout


def test_a_conjunct_the_invariant_does_not_have_is_a_one_line_error():
    r = run_checker("prove", "ring", "--invariants", "--conjunct", "no such conjunct")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    [line] = [x for x in r.stderr.splitlines() if x.strip()]
    assert "no conjunct of ring's invariant is named with 'no such conjunct'" in line
    assert "free entries are distinct" in line  # the known names, to pick from
    r = run_checker("prove", "ring", "--robustness", "--conjunct", "free entries are distinct")
    assert r.returncode == 2 and "--conjunct only applies to --invariants" in r.stderr


def test_the_empty_off_by_one_is_not_inductive_with_an_empty_queue_as_witness():
    ring = resolve_protocol("ring")
    res = prove_invariants(ring, Params(threads=2, slots=2, ops=1), "empty-off-by-one",
                           only_steps="head = pg_atomic_read_u32(free_head)")
    assert res.exit_code == 1
    [f] = [f for f in res.failures if f.conjunct == "backend 1: the free queue it saw non-empty is non-empty"]
    # The backend read a head equal to the tail and went on as if an entry were there.
    assert f.pre_state["free_head"] == f.pre_state["free_tail"]
    assert f.pre_state["FreeQueueLock"] == "0x1"
