"""``checker bench-c``: the C benchmark runs, every design's counters balance, the JSON has every row.

No figure is asserted: the runs are short and the machine is shared.  What
is asserted is structure: which rows exist, that the C harness's counts and
this side's checks agree, and that a design that hands a slot out twice is
caught.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from checker.bench_c import BenchRow, balance_problem, measure, run_bench
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc").split()[0]) is None,
                                reason="no C compiler")


def _ck_present() -> bool:
    from refimpl.build import ck_missing

    return ck_missing() is None


def _rows(stdout: str) -> list[dict]:
    return json.loads(stdout)["rows"]


def _assert_balanced(row: dict) -> None:
    assert row["status"] == "ok", row
    assert row["twice"] == 0
    assert row["obtained"] == row["started"] == row["released"], row
    assert row["free_at_end"] == row["slots"], row
    assert row["held"] == row["slots"] - max(1, row["backends"]), row


def test_every_design_runs_and_balances(checker_cli):
    res = checker_cli("bench-c", "--slots", "8", "--threads", "2", "--seconds", "0.1", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    designs = ["ring", "caslist", "bitmap", "bgworker"] + (["ck-ring", "ck-bitmap"] if _ck_present() else [])
    assert {(r["design"], r["slots"], r["backends"]) for r in doc["rows"]} == \
        {(d, 8, b) for d in designs for b in (0, 2)}
    assert len(doc["rows"]) == len(designs) * 2
    for row in doc["rows"]:
        _assert_balanced(row)
        if row["backends"] == 0:
            # the single-threaded loop completes 64 cycles before it first reads the clock
            assert row["obtained"] >= 64 and row["release_ns"] is None
        else:
            assert set(row["release_ns"]) == {"p50", "p99", "max"}
    assert "dlist: no C twin, not measured" in doc["notices"]
    assert doc["machine"]["cpus"] == os.cpu_count()
    kinds = {r["design"]: r["kind"] for r in doc["rows"]}
    assert kinds["bgworker"].startswith("baseline: linear search")


def test_json_has_every_row_for_several_slot_counts(checker_cli):
    res = checker_cli("bench-c", "--protocol", "ring", "--protocol", "bgworker", "--slots", "8,64,1024",
                      "--threads", "1,2", "--seconds", "0.05", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    doc = json.loads(res.stdout)
    assert [(r["design"], r["slots"], r["backends"]) for r in doc["rows"]] == \
        [(d, s, b) for d in ("ring", "bgworker") for s in (8, 64, 1024) for b in (0, 1, 2)]
    for row in doc["rows"]:
        _assert_balanced(row)
    # every ring row has its linear-search counterpart
    assert {(v["slots"], v["backends"]) for v in doc["versus_linear_search"]} == \
        {(s, b) for s in (8, 64, 1024) for b in (0, 1, 2)}


def test_slot_count_beyond_a_design_is_said_not_faked(checker_cli):
    res = checker_cli("bench-c", "--protocol", "caslist", "--slots", "5000", "--threads", "1", "--seconds", "0.05",
                      "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    rows = _rows(res.stdout)
    assert len(rows) == 2
    for row in rows:
        assert row["status"] == "not supported: max 4096 slots"
        assert row["cycles"] == 0 and row["ns_per_cycle"] is None


def test_markdown_and_plain_output(checker_cli):
    res = checker_cli("bench-c", "--protocol", "bitmap", "--protocol", "bgworker", "--slots", "64", "--threads", "1",
                      "--seconds", "0.05", "--markdown")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "| design | slots | backends | ns/cycle |" in res.stdout
    assert "bitmap at 64 slots, single thread:" in res.stdout
    res = checker_cli("bench-c", "--protocol", "ring", "--slots", "8", "--threads", "1", "--seconds", "0.05",
                      "--repeat", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "balance" in res.stdout and "CPUs" in res.stdout and "best of 2" in res.stdout


@pytest.mark.parametrize("args, message", [
    (["--protocol", "nosuch"], "unknown design 'nosuch'"),
    (["--protocol", "dlist"], "protocol 'dlist' cannot be benchmarked: no C twin"),
    (["--threads", "0"], "--threads: backend counts must be between 1 and 256, got 0"),
    (["--slots", "0"], "--slots: slot counts must be between 1 and"),
    (["--slots", "8,x"], "--slots takes comma-separated whole numbers"),
    (["--seconds", "0"], "--seconds must be more than 0"),
    (["--json", "--markdown"], "choose one of --json and --markdown"),
    (["--repeat", "0"], "--repeat must be between 1 and 100"),
])
def test_bad_input_is_one_line_exit_2(checker_cli, args, message):
    res = checker_cli("bench-c", *args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and res.stderr.strip().count("\n") == 0, res.stderr
    assert "Traceback" not in res.stderr


def test_counters_catch_a_design_that_hands_a_slot_out_twice():
    """The ring built with its empty-off-by-one mistake takes from an empty free queue: the final
    obtain-everything pass gets a slot twice, so the row fails (the other direction of the balance check).
    The second copy is queued for a slot whose worker runs, which the shared start queue's "already
    running" check refuses: that start gives no slot."""
    row = measure("ring", 8, 0, 0.05, mutation="empty-off-by-one")
    assert row.status == "FAILED"
    assert "an obtain at the end gave slot number 4294967295" in row.failure


def _row(**kw) -> BenchRow:
    base = {"design": "ring", "kind": "C twin", "slots": 8, "backends": 1, "status": "ok", "cycles": 10,
            "obtained": 12, "started": 12, "released": 12, "free_at_end": 8}
    base.update(kw)
    return BenchRow(**base)


def test_python_side_balance_check_both_ways():
    assert balance_problem(_row()) is None
    assert "do not balance" in balance_problem(_row(released=11))
    assert "do not balance" in balance_problem(_row(started=13))
    assert "twice" in balance_problem(_row(twice=1))
    assert "only 7 of 8" in balance_problem(_row(free_at_end=7))
    assert "cycles" in balance_problem(_row(cycles=13))


def test_missing_concurrency_kit_skips_with_a_notice(monkeypatch):
    import refimpl.build

    monkeypatch.setattr(refimpl.build, "ck_missing", lambda: "fatal error: ck_ring.h: No such file or directory")
    report = run_bench(["ck-ring", "ring"], [8], [1], 0.05)
    assert [r.design for r in report.rows] == ["ring", "ring"]
    assert report.notices == [("ck-ring: skipped, Concurrency Kit is missing (fatal error: ck_ring.h: No such file "
                               "or directory); install libck-dev")]


def test_plot_without_matplotlib_is_one_line(tmp_path):
    blocker = tmp_path / "blocker" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "blocker"), str(ROOT)]))
    res = subprocess.run([sys.executable, "-m", "checker", "bench-c", "--plot", str(tmp_path / "x.png")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False)
    assert res.returncode == 2
    assert res.stderr.strip() == "checker: error: --plot needs matplotlib: pip install 'slotcheck[plot]'"
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow  # builds and times the C designs, 4-6 s
def test_plot_is_written(checker_cli, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "bench.png"
    res = checker_cli("bench-c", "--protocol", "ring", "--protocol", "bgworker", "--slots", "8,64", "--threads", "1",
                      "--seconds", "0.05", "--plot", str(png))
    assert res.returncode == 0, res.stdout + res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_with_c_adds_the_c_columns(checker_cli):
    r = checker_cli("compare", "-m", "sc", "--threads", 2, "--ops", 1, "--protocol", "bitmap", "--protocol", "dlist",
                    "--with-c", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["protocol"]: row for row in json.loads(r.stdout)["protocols"]}
    assert set(rows["bitmap"]["c_ns_per_obtain_release"]) == {"64", "1024"}
    assert all(isinstance(v, float) for v in rows["bitmap"]["c_ns_per_obtain_release"].values())
    # dlist has no C twin: the columns say so rather than show a number
    assert rows["dlist"]["c_ns_per_obtain_release"] == {"64": None, "1024": None}
    r = checker_cli("compare", "-m", "sc", "--threads", 2, "--ops", 1, "--protocol", "bitmap", "--json")
    assert "c_ns_per_obtain_release" not in json.loads(r.stdout)["protocols"][0]


def test_a_design_hundreds_of_times_slower_is_named_slower_not_a_division_by_zero():
    from checker.bench_c import times_faster, versus_linear

    rows = [BenchRow("bgworker", "linear", 1024, 0, "ok", ns_per_cycle=100.0),
            BenchRow("ring", "twin", 1024, 0, "ok", ns_per_cycle=30_000.0)]
    (v,) = versus_linear(rows)
    assert v["speedup"] == 0.0  # rounded: the ratio must come from the ns figures
    assert times_faster(v) == "300.0x slower"
    assert times_faster({"ns_per_cycle": 100.0, "linear_ns_per_cycle": 3_000.0}) == "30.0x faster"
