"""checker ci: passes on the real ring, fails and names the row when a mutation is made the default."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import ROOT

# --window 2 as .ci/run: the sound weak search of ring at three threads adds a minute
# and is made by the slow run's check of docs/protocols.md's compare-weak table.
LEAN = ("--skip", "mutations", "--skip", "proofs", "--skip", "fences", "--window", "2")


@pytest.mark.slow
def test_ci_passes_on_ring(checker_cli, tmp_path):
    p = checker_cli("ci", "--protocol", "ring", *LEAN, "--junit", "j.xml", "--markdown", "s.md")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ring sc correct" in p.stdout and "all " in p.stdout and "rows passed" in p.stdout
    suites = ET.parse(tmp_path / "j.xml").getroot()
    cases = suites.findall(".//testcase")
    assert cases and not suites.findall(".//failure")
    assert {c.get("name") for c in cases} >= {"ring sc correct"}
    assert "| explore | ring sc correct | holds | holds | yes |" in (tmp_path / "s.md").read_text()


def test_ci_fails_when_a_mutation_is_the_default(checker_cli, tmp_path):
    src = (ROOT / "models" / "ring.py").read_text()
    assert src.count('if not mutation("no-lock"):') >= 2
    scratch = src.replace('if not mutation("no-lock"):', "if False:  # the lock, left out for good") \
                 .replace('name = "ring"', 'name = "ring_scratch"')
    model = tmp_path / "ring_scratch.py"
    model.write_text(scratch)
    p = checker_cli("ci", "--protocol", str(model), *LEAN, "--junit", "j.xml", "--markdown", "s.md")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAILED ring_scratch sc correct: expected holds, got VIOLATED exclusive ownership" in p.stdout
    failures = ET.parse(tmp_path / "j.xml").getroot().findall(".//testcase[failure]")
    assert "ring_scratch sc correct" in {c.get("name") for c in failures}
    assert "**NO**" in (tmp_path / "s.md").read_text()


def test_ci_bad_protocol_is_a_usage_error(checker_cli):
    p = checker_cli("ci", "--protocol", "nosuch")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len([line for line in p.stderr.splitlines() if line.strip()]) == 1


def test_every_named_protocol_gets_its_own_rows():
    # Each part of the job must check its own protocol: with two protocols
    # named, the rows name both, and the same checks run for each.
    from checker.ci_policy import run_ci

    models = Path(__file__).resolve().parent / "models"
    # weak bounded to 2: the point is which protocol each row checks, and the
    # sound weak model makes these small models' weak rows take minutes.
    rows, _notes = run_ci([str(models / "counter.py"), str(models / "prove_small.py")],
                          {"mutations", "proofs", "litmus", "fences"}, window=2)
    names = [r.name for r in rows]
    counter = [n for n in names if n.startswith("test-counter ")]
    small = [n for n in names if n.startswith("test-prove-small ")]
    assert counter and small and len(counter) == len(small) == len(names) // 2, names


def test_workers_run_the_same_rows_in_the_same_order():
    # Parts run in worker processes must give exactly the rows of the one-process
    # job (same names, outcomes and details, in part order); model files named by
    # path must resolve in the workers too.
    from checker.ci_policy import run_ci

    models = Path(__file__).resolve().parent / "models"
    named = [str(models / "counter.py")]
    skip = {"proofs", "litmus", "fences"}

    def key(rows):
        return [(r.suite, r.name, r.expected, r.outcome, r.ok, r.detail) for r in rows]

    one, _ = run_ci(named, skip, window=2)
    two, _ = run_ci(named, skip, window=2, workers=2)
    assert len({r.suite for r in one}) == 2 and key(two) == key(one)


def test_a_worker_killed_fails_its_part_and_the_job_goes_on(monkeypatch):
    # The kernel's OOM killer (here SIGKILL sent by the part itself) takes a
    # worker with its rows: that part fails, naming the signal, instead of the
    # job waiting for ever, and the other part still gives its rows.
    import os
    import signal

    from checker import ci_policy

    real = ci_policy._run_part

    def run_part(part, *args, **kwargs):
        if part.suite == "mutations":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(part, *args, **kwargs)

    monkeypatch.setattr(ci_policy, "_run_part", run_part)  # the workers are forked: they see it
    models = Path(__file__).resolve().parent / "models"
    rows, _ = ci_policy.run_ci([str(models / "counter.py")], {"proofs", "litmus", "fences"}, window=2, workers=2)
    died = [r for r in rows if r.suite == "mutations"]
    assert len(died) == 1 and not died[0].ok and "worker process died (signal 9)" in died[0].outcome
    alone, _ = ci_policy.run_ci([str(models / "counter.py")], {"mutations", "proofs", "litmus", "fences"}, window=2)
    explored = [(r.name, r.outcome, r.ok) for r in rows if r.suite == "explore"]
    assert explored and explored == [(r.name, r.outcome, r.ok) for r in alone]


def test_bad_workers_is_a_usage_error(checker_cli):
    for bad in ("0", "many"):
        p = checker_cli("ci", "--protocol", "ring", "--workers", bad)
        assert p.returncode == 2 and "Traceback" not in p.stderr
        assert [line for line in p.stderr.splitlines() if line.strip()] == [
            "checker: error: " + ("--workers must be at least 1" if bad == "0"
                                  else "--workers takes a number or 'auto', not 'many'")]
