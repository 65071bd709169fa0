"""The ring protocol under sequential consistency, in both directions."""

import pytest

from checker.explore import Options
from checker.model import Params, build_system
from checker.model import CONSERVATION, DEADLOCK, EXCLUSIVE, INTEGRITY, PM_SAFETY, WAIT_FREEDOM
from checker.run import check
from models.ring import Ring

# Recorded exact counts (regression guards, as the TLA+ manifest also uses).
RING_SC_THREADS3 = 39052


def test_ring_threads3_holds_exhaustively():
    _, res = check("ring", threads=3, memory_model="sc")
    assert res.complete and res.liveness_checked
    assert res.violations == {}
    assert res.states == RING_SC_THREADS3
    for prop in (EXCLUSIVE, CONSERVATION, INTEGRITY, PM_SAFETY, WAIT_FREEDOM, DEADLOCK):
        assert res.verdict(prop) == "holds (exhaustive)"


def test_ring_threads4_holds_exhaustively():
    _, res = check("ring", threads=4, slots=2, ops=1, memory_model="sc")
    assert res.complete and res.violations == {}


def test_ring_three_slots_wraps_and_holds():
    _, res = check("ring", threads=2, slots=3, ops=3, memory_model="sc")
    assert res.complete and res.violations == {}


def test_no_lock_violates_exclusive_ownership():
    _, res = check("ring", mutation="no-lock", memory_model="sc", options=Options(stop_on_first=False))
    assert EXCLUSIVE in res.violations
    cx = res.violations[EXCLUSIVE]
    # The two backends both take the same free slot: a short trace.
    assert cx.length <= 10


def test_empty_off_by_one_is_caught():
    _, res = check("ring", mutation="empty-off-by-one", memory_model="sc")
    assert res.violations and INTEGRITY in res.violations


def test_no_range_check_with_rogue_breaks_postmaster_safety():
    _, res = check("ring", mutation="no-range-check", rogue=True, memory_model="sc")
    assert set(res.violations) == {PM_SAFETY}
    cx = res.violations[PM_SAFETY]
    assert "out of range" in cx.message
    assert any(label[1] == "rogue" for label in cx.labels)


@pytest.mark.slow
def test_range_checked_ring_survives_rogue():
    _, res = check("ring", threads=2, ops=2, rogue=True, memory_model="sc")
    assert res.complete and res.violations == {}
    assert set(res.system.checked) == {PM_SAFETY, WAIT_FREEDOM, DEADLOCK}


@pytest.mark.slow
def test_unlimited_rogue_writes_still_finite():
    # Values come from a finite representative set, so even a rogue that
    # never stops leaves a finite state space (about a million states here).
    _, res = check("ring", threads=2, ops=1, slots=1, rogue=True, rogue_writes=None, memory_model="sc")
    assert res.complete and res.violations == {}


@pytest.mark.parametrize("mutation", ["start-no-write-barrier", "start-no-read-barrier", "free-no-write-barrier",
                                      "free-no-read-barrier", "free-no-consume-barrier"])
def test_barrier_mutations_are_harmless_under_sc(mutation):
    _, res = check("ring", mutation=mutation, memory_model="sc")
    assert res.complete and res.violations == {}, res.violations


def test_step_bound_is_enforced():
    # The postmaster's longest operation takes 5 events; a bound of 3 must trip.
    _, res = check("ring", step_bound=3, memory_model="sc")
    assert WAIT_FREEDOM in res.violations
    assert "more than 3 steps" in res.violations[WAIT_FREEDOM].message


def test_max_states_bound_never_reports_success():
    _, res = check("ring", memory_model="sc", options=Options(max_states=1000))
    assert not res.complete and res.exit_code == 3
    assert all(res.verdict(p).startswith("not violated so far") for p in res.system.checked)


def test_ring_runs_the_shared_start_queue():
    # One copy: the ring's start side is models/_startqueue.py's, so a fix there
    # (the "already running" check) reaches every design.
    import models._startqueue as shared
    import models.ring as ring

    for name in ("queue_for_start", "register_worker", "backend", "start_queued_worker", "reap_worker",
                 "postmaster"):
        assert getattr(ring, name) is getattr(shared, name), name
    system = build_system(Ring, Params(threads=2, slots=2, ops=1))
    files = {i.src.file for t in system.threads for i in t.program.instrs
             if getattr(i, "src", None) is not None and "start_" in i.src.text and "_start_queue" not in i.src.text}
    assert files == {"models/_startqueue.py"}, files
