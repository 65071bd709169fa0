"""Wait-freedom as a liveness property: lassos in which the postmaster never finishes an operation."""

import json
import os

import pytest

from checker.explore import Options
from checker.model import WAIT_FREEDOM
from checker.run import check
from checker.trace import build_trace, format_steps

# The smallest caslist run with a rogue that never stops writing: one backend,
# one slot, one worker, one failed compare-exchange before the postmaster
# keeps the slot for later.  --step-bound 0: no step counter in the state,
# so a loop inside one operation closes a cycle.
LASSO_RUN = dict(threads=2, slots=1, ops=1, rogue=True, rogue_writes=None, step_bound=0, memory_model="sc",
                 extra={"cas_retries": 1})


def test_unbounded_retry_is_a_lasso():
    # A lasso found among the states explored so far is real, so the search
    # may stop early; the cycle closes within a few thousand states.
    engine, res = check("caslist", mutation="unbounded-retry", options=Options(max_states=20000), **LASSO_RUN)
    assert WAIT_FREEDOM in res.violations
    cx = res.violations[WAIT_FREEDOM]
    k = cx.cycle_start
    assert k is not None and 0 < k < len(cx.labels)
    # It is a cycle: it ends in the state it starts from.
    assert cx.states[k] == cx.states[-1]
    cycle = cx.labels[k:]
    assert any(lab[0] == 0 for lab in cycle), "the postmaster steps in the cycle"
    assert any(lab[1] == "rogue" for lab in cycle), "the rogue keeps changing the head"
    pm = engine.system.threads[0].program
    assert all(pm.in_op[s[1][0][0]] for s in cx.states[k:]), "the postmaster never leaves its operation"
    assert {pm.op_name[s[1][0][0]] for s in cx.states[k:]} == {"reap_worker"}
    doc = build_trace(engine, cx, res)
    assert doc["cycle_start"] == k + 1
    assert doc["property"] == WAIT_FREEDOM
    lines = format_steps(doc)
    assert "cycle starts" in lines[k]
    assert lines[-1].strip() == f"... steps {k + 1} to {len(doc['steps'])} repeat forever"


def test_bounded_retry_has_no_lasso_when_the_rogue_stops():
    # With finitely many rogue writes even the unbounded loop finishes: no lasso.
    _, res = check("caslist", mutation="unbounded-retry", **dict(LASSO_RUN, rogue_writes=3))
    assert res.complete and res.liveness_checked and res.violations == {}


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("SLOTCHECK_SLOW"),
                    reason="about two million states, 2 GB and minutes: set SLOTCHECK_SLOW=1 to run it")
def test_bounded_retry_holds_against_a_rogue_that_never_stops():
    # The same run as test_unbounded_retry_is_a_lasso without the mutation,
    # searched to the end.
    _, res = check("caslist", **LASSO_RUN)
    assert res.complete and res.liveness_checked
    assert res.violations == {}
    assert res.verdict(WAIT_FREEDOM) == "holds (exhaustive)"


def test_step_bound_zero_needs_the_cycle_analysis():
    _, res = check("caslist", threads=2, ops=1, step_bound=0, memory_model="sc", options=Options(liveness=False))
    assert res.complete
    assert res.verdict(WAIT_FREEDOM).startswith("not checked")


def test_lasso_from_the_command_line(checker_cli, tmp_path):
    r = checker_cli("explore", "caslist", "-m", "sc", "--threads", 2, "--slots", 1, "--ops", 1, "--rogue",
                    "--rogue-writes", "unlimited", "--step-bound", 0, "--param", "cas_retries=1",
                    "--mutation", "unbounded-retry", "--max-states", 20000, "--trace-out", "lasso.json")
    assert r.returncode == 1, r.stderr
    assert "postmaster wait-freedom violated" in r.stdout
    assert "repeat forever" in r.stdout and "cycle starts" in r.stdout
    doc = json.loads((tmp_path / "lasso.json").read_text())
    assert isinstance(doc["cycle_start"], int) and 1 <= doc["cycle_start"] <= len(doc["steps"])


def test_negative_step_bound_is_one_line(checker_cli):
    r = checker_cli("explore", "caslist", "-m", "sc", "--step-bound", -1)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("checker: error:") and len(r.stderr.strip().splitlines()) == 1
