"""The command line: summaries, exit codes, traces, and one-line errors."""

import json

import pytest

from conftest import MODELS, run_checker


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


def _with_stdout_closed(tmp_path, *args):
    """The CLI writing into a pipe whose reader has already gone (``checker ... | head``, once head has quit)."""
    import os

    reader, writer = os.pipe()
    os.close(reader)
    try:
        return run_checker(*args, cwd=tmp_path, stdout=writer)
    finally:
        os.close(writer)


@pytest.mark.parametrize("args, code", [
    (("explore", "ring", "--memory-model", "sc"), 0),
    (("explore", "ring", "--memory-model", "sc", "--json"), 0),
    (("explore", "ring", "--memory-model", "sc", "--mutation", "no-lock"), 1),
    (("explore", "ring", "--memory-model", "sc", "--max-states", "500"), 3),
    (("list",), 0),
    (("litmus", "--suite", "--json"), 0),
])
def test_a_reader_that_leaves_early_does_not_change_the_exit_code(tmp_path, args, code):
    # rich exits 1 when stdout's pipe is closed, which would say "violated"
    # of a search where everything holds; the verdict must stay the search's.
    p = _with_stdout_closed(tmp_path, *args)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr, p.stderr


def test_a_print_that_finds_stdout_closed_is_no_verdict(monkeypatch, capsys):
    # A command cut off by a plain print() did not finish: exit 3, never 0.
    from checker import cli

    def cut_off(*_args, **_kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli.cli, "main", cut_off)
    with pytest.raises(SystemExit) as ended:
        cli.main(["list"])
    assert ended.value.code == cli.EXIT_INCOMPLETE
    assert "no verdict" in capsys.readouterr().err
