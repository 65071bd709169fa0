"""The command line: summaries, exit codes, traces, and one-line errors."""

import json

from conftest import MODELS


def _one_line_error(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_explore_ring_sc_summary(checker_cli):
    p = checker_cli("explore", "ring", "--threads", "3", "--memory-model", "sc")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "distinct states 39,052" in p.stdout
    assert "states/s" in p.stdout and "max depth" in p.stdout
    assert p.stdout.count("holds (exhaustive)") >= 6


def test_json_summary(checker_cli):
    p = checker_cli("explore", "ring", "--memory-model", "sc", "--json")
    doc = json.loads(p.stdout)
    assert doc["complete"] is True and doc["exit_code"] == 0
    assert doc["properties"]["exclusive ownership"] == "holds (exhaustive)"


def test_violation_writes_trace_and_exits_1(checker_cli, tmp_path):
    p = checker_cli("explore", "ring", "--memory-model", "sc", "--mutation", "no-lock")
    assert p.returncode == 1
    trace = tmp_path / "ring-no-lock-exclusive-ownership.trace.json"
    doc = json.loads(trace.read_text())
    assert doc["schema"] == "slotcheck-trace" and doc["version"] == 1
    assert doc["mutation"] == "no-lock" and doc["memory_model"] == "sc"
    assert doc["params"]["threads"] == 3
    assert doc["property"] == "exclusive ownership"
    step = doc["steps"][0]
    for key in ("thread", "role", "source", "event", "location", "value"):
        assert key in step
    # The numbered step list is printed too.
    assert "   1. " in p.stdout


def test_trace_out(checker_cli, tmp_path):
    p = checker_cli("explore", "ring", "--memory-model", "sc", "--mutation", "empty-off-by-one",
                    "--trace-out", "cx.json")
    assert p.returncode == 1
    assert json.loads((tmp_path / "cx.json").read_text())["property"] == "queue integrity"


def test_incomplete_search_exits_3(checker_cli):
    p = checker_cli("explore", "ring", "--memory-model", "sc", "--max-states", "500")
    assert p.returncode == 3
    assert "search incomplete" in p.stdout
    assert "holds" not in p.stdout


def test_list(checker_cli):
    p = checker_cli("list")
    assert p.returncode == 0
    for word in ("ring", "no-lock", "free-no-read-barrier", "sc", "documented"):
        assert word in p.stdout


def test_unknown_protocol(checker_cli):
    assert "unknown protocol 'nope'" in _one_line_error(checker_cli("explore", "nope"))


def test_unknown_mutation(checker_cli):
    assert "unknown mutation" in _one_line_error(checker_cli("explore", "ring", "--mutation", "nope"))


def test_zero_threads(checker_cli):
    assert "--threads" in _one_line_error(checker_cli("explore", "ring", "--threads", "0"))


def test_bad_option_value(checker_cli):
    _one_line_error(checker_cli("explore", "ring", "--threads", "many"))
    _one_line_error(checker_cli("explore", "ring", "--rogue-writes", "lots"))
    _one_line_error(checker_cli("explore", "ring", "--memory-model", "psychic"))


def test_unsupported_construct_in_model_file(checker_cli):
    line = _one_line_error(checker_cli("explore", str(MODELS / "bad_construct.py")))
    assert "bad_construct.py:10:" in line and "Try" in line
