"""checker prove --invariants: the ring's inductive invariant, and a conjunct that is not inductive."""

import pytest

from checker.model import Params, resolve_protocol
from checker.prove.invariants import prove_invariants
from checker.prove.setup import proof_module

BOGUS = "the free queue is never empty"


@pytest.mark.slow
def test_ring_invariant_is_inductive_and_a_bogus_conjunct_is_caught(monkeypatch):
    ring = resolve_protocol("ring")
    spec = proof_module(ring)
    stated = spec.invariant

    def with_bogus(v):
        # True initially (the free queue starts full) but not preserved: a
        # backend that takes the last free slot empties the queue.
        return stated(v) + [(BOGUS, v.word("free_head") != v.word("free_tail"))]

    monkeypatch.setattr(spec, "invariant", with_bogus)
    res = prove_invariants(ring, Params(threads=3, slots=2, ops=1))
    assert not res.unknown, res.unknown
    assert res.initial_checked == [1, 2, 3, 4, 5, 6]
    assert res.failures, "the bogus conjunct should not be inductive"
    # Only the bogus conjunct fails: the stated invariant is inductive.
    assert {f.conjunct for f in res.failures} == {BOGUS}
    f = res.failures[0]
    assert f.what == "consecution" and f.thread.startswith("backend")
    assert "pg_atomic_write_u32(free_tail" in f.instr
    assert f.pre_state["free_head"] and "SLOTS" in f.pre_state
    assert res.exit_code == 1
    assert len(res.conjuncts) > 20 and res.steps_checked > 50
