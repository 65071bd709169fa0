"""z3 queries are bounded by a resource limit, not by seconds (checker/prove/budget.py).

Both directions, with nothing depending on the machine's speed: the default
limit decides the shipped robustness proof of the ring, and a limit too small
for any real query makes the same proof "unknown" (exit 3) rather than
proved or failed.
"""

from __future__ import annotations

import os

import z3

from checker.prove import budget
from conftest import run_checker


def test_every_solver_gets_the_resource_limit(monkeypatch):
    monkeypatch.setenv("SLOTCHECK_PROVE_RLIMIT", "1234")
    s = budget.solver("QF_AUFBV")
    x = z3.BitVec("x", 32)
    # A query that needs more than 1234 units is undecided, and says why.
    hard = [x * x * x == 0x12345677, z3.ULT(x, 1 << 31)]
    assert budget.check(s, *hard) == z3.unknown
    assert "resource limit" in budget.why_unknown(s)


def test_the_default_limit_is_measured_headroom():
    assert budget.QUERY_RLIMIT >= 5 * budget.MEASURED_LARGEST > 0


def test_check_records_the_largest_query():
    before, n = budget.largest_query()
    s = budget.solver()
    x = z3.BitVec("x", 32)
    assert budget.check(s, x * 3 == 7) == z3.sat
    largest, m = budget.largest_query()
    assert m == n + 1 and largest >= before


def test_robustness_is_unknown_when_the_limit_is_too_small(tmp_path):
    r = run_checker("prove", "ring", "--robustness", cwd=tmp_path, env_extra={"SLOTCHECK_PROVE_RLIMIT": "50"})
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith("checker: unknown: a z3 query used up its resource limit (rlimit 50")
    assert "proved" not in r.stdout


def test_robustness_is_proved_within_the_default_limit(tmp_path):
    r = run_checker("prove", "ring", "--robustness", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "proved" in r.stdout


def test_bad_rlimit_and_timeout_are_one_line(tmp_path):
    r = run_checker("prove", "ring", "--robustness", cwd=tmp_path, env_extra={"SLOTCHECK_PROVE_RLIMIT": "lots"})
    assert r.returncode == 2 and "SLOTCHECK_PROVE_RLIMIT must be an integer" in r.stderr
    r = run_checker("prove", "ring", "--robustness", "--timeout", "0", cwd=tmp_path)
    assert r.returncode == 2 and "--timeout must be more than 0" in r.stderr


def test_measure_proofs_runs_each_proof_without_a_limit_and_restores_the_environment(monkeypatch):
    monkeypatch.setenv("SLOTCHECK_PROVE_RLIMIT", "12345")
    runs = list(budget.measure_proofs(("dlist robustness correct", "ring robustness no-range-check")))
    by_proof = {r.proof: r for r in runs}
    assert set(by_proof) == {"dlist robustness correct", "ring robustness no-range-check"}
    assert by_proof["dlist robustness correct"].outcome == "proved"
    assert by_proof["ring robustness no-range-check"].outcome == "fails"
    assert all(r.queries > 0 and r.largest > 0 for r in runs)
    assert os.environ["SLOTCHECK_PROVE_RLIMIT"] == "12345"
