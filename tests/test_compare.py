"""`checker compare`: one table, every protocol, the same settings."""

import json

import pytest

from checker.compare import ROGUE_RUN, obtain_steps, postmaster_reads
from checker.model import Params
from checker.run import make_engine


def test_compare_json(checker_cli):
    r = checker_cli("compare", "-m", "sc", "--threads", 2, "--ops", 1, "--protocol", "bgworker",
                    "--protocol", "caslist", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["settings"]["rogue_run"] == ROGUE_RUN
    rows = {row["protocol"]: row for row in doc["protocols"]}
    assert set(rows) == {"bgworker", "caslist"}
    for row in rows.values():
        assert set(row["properties"].values()) == {"holds (exhaustive)"}
        assert set(row["rogue_properties"]) == {"postmaster safety", "postmaster wait-freedom", "deadlock freedom"}
        assert set(row["rogue_properties"].values()) == {"holds (exhaustive)"}
        assert row["states"] > 0 and row["rogue_states"] > 0
    assert "notify integrity" in rows["bgworker"]["properties"]
    # Today's design: the postmaster reads every slot's flag and contents, and
    # the signal flag (PMSignalState is shared memory; the kernel's record of
    # its children is not).
    assert rows["bgworker"]["postmaster_reads"] == ["notify_pid[2]", "bgworker_change", "in_use[2]", "worker[2]"]
    assert "free_head" in rows["caslist"]["postmaster_reads"]
    assert rows["caslist"]["max_postmaster_steps"] >= 1


def test_compare_markdown_and_exit_code(checker_cli):
    r = checker_cli("compare", "-m", "sc", "--threads", 2, "--ops", 1, "--protocol", "bitmap", "--markdown")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    table = [ln for ln in lines if ln.startswith("|")]
    assert table[0].startswith("| protocol |") and table[1].startswith("|---|")
    assert table[2].startswith("| bitmap | holds |")
    assert "rogue runs: threads 2, ops 1, 2 rogue writes" in lines[0]


def test_compare_reports_an_incomplete_run(checker_cli):
    r = checker_cli("compare", "-m", "sc", "--protocol", "ring", "--max-states", 100, "--json")
    assert r.returncode == 3
    row = json.loads(r.stdout)["protocols"][0]
    assert all(v.startswith("not violated so far") for v in row["properties"].values())


def test_compare_bad_input_is_one_line(checker_cli):
    for args in (["--protocol", "nosuch"], ["--json", "--markdown"], ["--step-bound", "0"]):
        r = checker_cli("compare", "-m", "sc", *args)
        assert r.returncode == 2, args
        assert r.stderr.startswith("checker: error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.slow  # five searches, 6-10 s
def test_obtain_steps_counts_contention():
    # Uncontended, a backend pops in three events (read head, read link, CAS).
    assert obtain_steps("caslist", Params(threads=2, slots=2, ops=1), "documented") == 3
    # A push by the postmaster in between makes the CAS fail once: two more.
    assert obtain_steps("caslist", Params(threads=2, slots=2, ops=2), "documented") == 5
    # Another backend's pops as well: more retries.
    assert obtain_steps("caslist", Params(threads=3, slots=2, ops=2), "documented") > 5
    # Today's design: the lock, then a linear search of the in_use flags.
    assert obtain_steps("bgworker", Params(threads=2, slots=2, ops=2), "documented") == 3
    assert obtain_steps("bgworker", Params(threads=2, slots=3, ops=3), "documented") == 4


def test_postmaster_reads_come_from_its_program():
    engine = make_engine("bitmap", Params(threads=2), None, "sc")
    names, words = postmaster_reads(engine.system)
    # fetch_or returns the old value: an RMW reads the bitmap word too.
    assert names == ["start_head", "start_ring[2]", "slot_worker[2]", "free_bits[1]"]
    assert words == 6


def test_compare_prints_markdown_when_not_on_a_terminal(checker_cli):
    # A pipe or a file gets Markdown: nineteen columns squeezed into 80 would fold every cell.
    r = checker_cli("compare", "--protocol", "ring", "-m", "sc", "--threads", "2", "--ops", "1")
    assert r.returncode == 0, r.stderr
    assert "\n| protocol | exclusive |" in r.stdout and "\n| ring |" in r.stdout
