"""`checker bench` reports figures (never asserts speed), and the example model it times is a real model."""

from __future__ import annotations

import json

import pytest

from checker.bench_cmd import PCRING
from checker.explore import Options
from checker.model import INTEGRITY, WAIT_FREEDOM
from checker.run import check


@pytest.fixture(autouse=True)
def _registry_unchanged():
    """Loading the example by path registers it; later tests iterating the protocols must not see it."""
    from checker.model import Protocol, load_protocols

    load_protocols()  # the shipped ones are registered before the snapshot, never dropped by it
    before = dict(Protocol.registry)
    yield
    Protocol.registry.clear()
    Protocol.registry.update(before)


def test_bench_json_has_the_figures(checker_cli):
    r = checker_cli("bench", "--only", "ring-t3-sc", "--max-states", "2000", "--json")
    assert r.returncode == 3, r.stderr  # the state limit makes it incomplete, and says so
    doc = json.loads(r.stdout)
    (row,) = doc["instances"]
    assert row["name"] == "ring-t3-sc" and row["states"] == 2000 and row["complete"] is False
    assert row["stop_reason"] == "state limit 2000 reached"
    for key in ("cpu_seconds", "bytes_per_state", "peak_rss_mib", "transitions"):
        assert row[key] is not None, key
    assert "states_per_cpu_second" in row  # None only if the search took no measurable CPU time
    assert row["engine"] == "compiled" and row["storage"] == "compact"


def test_bench_rejects_an_unknown_instance(checker_cli):
    r = checker_cli("bench", "--only", "no-such-thing")
    assert r.returncode == 2 and "no bench instance" in r.stderr and "Traceback" not in r.stderr


def test_example_ring_holds_and_its_mutation_is_caught():
    safety = Options(liveness=False)
    _, ok = check(PCRING, memory_model="sc", threads=3, slots=2, extra={"pushes": 3}, options=safety)
    assert ok.complete and not ok.violations
    assert ok.verdict(INTEGRITY) == "holds (exhaustive)"
    # Its producer waits for room outside any operation: with the cycle
    # analysis that is a wait-freedom lasso, without it "not checked".
    assert ok.verdict(WAIT_FREEDOM).startswith("not checked (the postmaster steps outside any operation")
    _, lasso = check(PCRING, memory_model="sc", threads=3, slots=2, extra={"pushes": 3})
    assert set(lasso.violations) == {WAIT_FREEDOM}
    _, bad = check(PCRING, memory_model="sc", threads=3, slots=2, mutation="off-by-one", extra={"pushes": 3},
                   options=safety)
    assert set(bad.violations) == {INTEGRITY}


def test_bench_c_engine_leaves_out_what_it_does_not_run_and_names_it(checker_cli):
    r = checker_cli("bench", "--engine", "c", "--only", "ring-t3-sc", "--only", "ring-t3-tso",
                    "--only", "ring-t3-weak", "--max-states", "2000", "--json")
    assert r.returncode == 3, r.stderr  # the limit stops the sc and tso runs: incomplete, and said so
    assert "left out" in r.stderr and "ring-t3-weak" in r.stderr  # stdout stays one JSON document
    doc = json.loads(r.stdout)
    assert doc["left_out"] == ["ring-t3-weak"]
    rows = {row["name"]: row for row in doc["instances"]}
    assert set(rows) == {"ring-t3-sc", "ring-t3-tso"}
    assert all(row["engine"] == "c" and row["states"] == 2000 for row in rows.values())


@pytest.mark.parametrize("extra", [("--fingerprint",), ("--storage", "full")])
def test_bench_c_engine_refuses_other_storage_in_one_line(checker_cli, extra):
    r = checker_cli("bench", "--engine", "c", "--only", "ring-t3-sc", *extra)
    assert r.returncode == 2 and "--engine c" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_bench_c_engine_with_nothing_left_is_an_error(checker_cli):
    r = checker_cli("bench", "--engine", "c", "--only", "ring-t3-weak")
    assert r.returncode == 2 and "no instance left" in r.stderr
