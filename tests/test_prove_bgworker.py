"""checker prove bgworker --invariants: today's design's inductive invariant holds for every slot count.

bgworker's mutations all remove a barrier (bug_under=("weak",)): under sc
they are harmless (tests/test_protocols.py), so the invariant, which is
checked under sc, must still be inductive for each of them.  None of them
breaks a property under sc, so there is no mutation here for which the proof
must fail.
"""

import pytest

from checker.model import Params, resolve_protocol
from checker.prove.invariants import prove_invariants


@pytest.mark.slow
def test_bgworker_invariant_is_proved():
    # Two threads here (a few seconds); three take about twice as long.
    res = prove_invariants(resolve_protocol("bgworker"), Params(threads=2, slots=2, ops=1))
    assert not res.failures, [(f.conjunct, f.instr) for f in res.failures]
    assert not res.unknown and res.proved and res.exit_code == 0
    assert res.slot_range.startswith("1 <= slots <= 31")
    # The stated initial state is the model's own for every small slot count.
    assert res.initial_checked == [1, 2, 3, 4, 5, 6]
    assert len(res.conjuncts) > 15 and res.steps_checked > 30


@pytest.mark.slow
@pytest.mark.parametrize("mutation", ["release-no-barrier", "register-no-write-barrier", "scan-no-read-barrier"])
def test_bgworker_barrier_mutations_stay_inductive_under_sc(mutation):
    bgworker = resolve_protocol("bgworker")
    assert bgworker.mutations[mutation].bug_under == ("weak",)
    res = prove_invariants(bgworker, Params(threads=2, slots=2, ops=1), mutation)
    assert not res.failures, [(f.conjunct, f.instr) for f in res.failures]
    assert not res.unknown and res.proved


@pytest.mark.slow
def test_a_known_bad_variant_is_not_inductive(tmp_path):
    """The pid read after in_use is cleared: a backend may reuse the slot
    first, so the postmaster signals the wrong backend.  Search finds it under
    sc, and the invariant (the same proof module) is not inductive."""
    from pathlib import Path

    from checker.run import check

    models = Path(__file__).resolve().parent.parent / "models"
    src = (models / "bgworker.py").read_text()
    read = "    pid = pg_atomic_read_u32(notify_pid[slot])\n"
    free = "    with ghost:\n        owner[slot] = OWN_FREE\n"
    assert src.count(read) == 2 and src.count(free) == 1
    head, tail = src.split("def reap_worker(slot):")
    tail = tail.replace(read, "", 1).replace(free, free + read, 1)
    (tmp_path / "bgworker_late_pid.py").write_text(head + "def reap_worker(slot):" + tail)
    (tmp_path / "bgworker_late_pid_proof.py").write_text((models / "bgworker_proof.py").read_text())
    path = str(tmp_path / "bgworker_late_pid.py")
    scratch = resolve_protocol(path)

    _engine, found = check(path, memory_model="sc", threads=3, slots=1, ops=1)
    assert "notify integrity" in found.violations

    res = prove_invariants(scratch, Params(threads=2, slots=2, ops=1))
    assert res.exit_code == 1
    failed = {f.conjunct for f in res.failures}
    assert "the pid read for a reaped slot is the backend it ran for" in failed, failed
