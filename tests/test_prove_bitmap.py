"""checker prove bitmap --invariants: the bitmap's inductive invariant holds, and breaks for its mutations."""

import json

import pytest

from checker.model import Params, resolve_protocol
from checker.prove.invariants import prove_invariants
from tests.conftest import run_checker


@pytest.mark.slow
@pytest.mark.ci_job_computes  # .ci/run's `checker ci` proves it for three threads (its "bitmap invariants" row)
def test_bitmap_invariant_is_proved_from_the_cli():
    # Two threads here; about four minutes of z3.
    r = run_checker("prove", "bitmap", "--invariants", "--threads", "2", "--json", timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["proved"] and not res["failures"] and not res["unknown"]
    assert res["slots"].startswith("1 <= slots <= 31")
    # The stated initial state is the model's own for every small slot count.
    assert res["initial_state_checked_for_slots"] == [1, 2, 3, 4, 5, 6]
    assert len(res["conjuncts"]) > 20 and res["steps_checked"] > 25


@pytest.mark.slow
def test_bitmap_invariant_cli_reports_a_check_of_one_step_as_partial():
    # The CLI's side of the proof above in seconds: the stated initial state is
    # checked in full; consecution only for the postmaster's read barrier.
    r = run_checker("prove", "bitmap", "--invariants", "--threads", "2", "--step", "pg_read_barrier()", "--json",
                    timeout=600)
    assert r.returncode == 3, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert not res["proved"] and not res["failures"] and not res["unknown"]
    assert res["only_steps"] == "pg_read_barrier()" and res["steps_checked"] == 1
    assert res["slots"].startswith("1 <= slots <= 31")
    # The stated initial state is the model's own for every small slot count.
    assert res["initial_state_checked_for_slots"] == [1, 2, 3, 4, 5, 6]
    assert len(res["conjuncts"]) > 20


@pytest.mark.slow
@pytest.mark.parametrize("mutation, step, conjunct, instr, only_conjunct", [
    # The ghost check in claim() sees a backend take a slot another party holds
    # (an assertion of the step, which every conjunct's check includes).
    ("unchecked-claim", "pg_atomic_fetch_and_u32(free_bits", "exclusive ownership", "models/bitmap.py", False),
    # The write of a stale read sets bits of slots that are not free.
    ("plain-rmw", "pg_atomic_write_u32(free_bits", "a slot whose bit is set is free (owned by the bitmap)",
     "pg_atomic_write_u32(free_bits", True),
])
def test_bitmap_mutations_are_not_inductive(mutation, step, conjunct, instr, only_conjunct):
    bitmap = resolve_protocol("bitmap")
    # Only the step where the mistake is, and only the conjunct it breaks, keep
    # the test quick (the other conjuncts at that step take z3 minutes).
    res = prove_invariants(bitmap, Params(threads=3, slots=2, ops=1), mutation, only_steps=step,
                           only_conjuncts=conjunct if only_conjunct else None)
    assert res.exit_code == 1 and not res.proved and res.partial
    hits = [f for f in res.failures if f.conjunct == conjunct and instr in f.instr]
    assert hits, [(f.conjunct, f.instr) for f in res.failures]
    f = hits[0]
    assert f.thread.startswith("backend") and "SLOTS" in f.pre_state and "free_bits" in f.pre_state
