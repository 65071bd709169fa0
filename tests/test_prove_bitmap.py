"""checker prove bitmap --invariants: the bitmap's inductive invariant holds, and breaks for its mutations."""

import json

import pytest

from checker.model import Params, resolve_protocol
from checker.prove.invariants import prove_invariants
from checker.prove.setup import proof_module
from tests.conftest import run_checker


@pytest.mark.slow
def test_bitmap_invariant_is_proved_from_the_cli():
    r = run_checker("prove", "bitmap", "--invariants", "--threads", "3", "--json", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout)
    assert res["proved"] and not res["failures"] and not res["unknown"]
    assert res["slots"].startswith("1 <= slots <= 8")
    # The stated initial state is the model's own for every small slot count.
    assert res["initial_state_checked_for_slots"] == [1, 2, 3, 4, 5, 6]
    assert len(res["conjuncts"]) > 20 and res["steps_checked"] > 50


@pytest.mark.slow
@pytest.mark.parametrize("mutation, conjunct, instr", [
    # The ghost check in claim() sees a backend take a slot another party holds.
    ("unchecked-claim", "exclusive ownership", "models/bitmap.py"),
    # The write of a stale read sets bits of slots that are not free.
    ("plain-rmw", "a slot whose bit is set is free (owned by the bitmap)", "pg_atomic_write_u32(free_bits"),
])
def test_bitmap_mutations_are_not_inductive(monkeypatch, mutation, conjunct, instr):
    bitmap = resolve_protocol("bitmap")
    # A smaller range keeps the test quick; the failures do not depend on it.
    monkeypatch.setattr(proof_module(bitmap), "INVARIANT_SLOT_RANGE", (1, 4))
    res = prove_invariants(bitmap, Params(threads=3, slots=2, ops=1), mutation)
    assert res.exit_code == 1 and not res.proved
    hits = [f for f in res.failures if f.conjunct == conjunct and instr in f.instr]
    assert hits, [(f.conjunct, f.instr) for f in res.failures]
    f = hits[0]
    assert f.thread.startswith("backend") and "SLOTS" in f.pre_state and "free_bits" in f.pre_state
