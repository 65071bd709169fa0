"""Bad input files and unwritable outputs: one line on stderr and the right exit code, never a traceback.

Binary files for `view`, `view --html`, `replay` and `litmus`; traces that
cannot exist (rejected by the one reader in checker/trace.py, and by replay's
re-check of the claimed violation against the model); output paths that
cannot be written (the verdict and the counterexample still come out).
"""

from __future__ import annotations

import copy
import json

import pytest

from checker.recheck import recheck
from checker.run import check
from checker.trace import TraceError, build_trace, check_trace
from conftest import run_checker

BINARY = bytes(range(256)) * 4  # not UTF-8 from byte 128 on


def _one_line_error(r, code=2, expect=""):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("checker: error:"), r.stderr
    assert expect in r.stderr, r.stderr


@pytest.fixture(scope="module")
def no_lock_trace():
    """A real counterexample: ring without FreeQueueLock under sc (8 steps)."""
    engine, result = check("ring", mutation="no-lock", memory_model="sc", threads=3, slots=2, ops=2)
    cx = result.violations["exclusive ownership"]
    return build_trace(engine, cx, result)


# ---------------------------------------------------------------------------
# binary files


@pytest.mark.parametrize("args", [["view"], ["view", "--html", "out.html"], ["replay"], ["litmus"]])
def test_binary_input_file_is_one_line_exit_2(tmp_path, args):
    (tmp_path / "blob.bin").write_bytes(BINARY)
    cmd, *rest = args
    r = run_checker(cmd, "blob.bin", *rest, cwd=tmp_path)
    _one_line_error(r, expect="not a text file")
    assert not (tmp_path / "out.html").exists()


def test_a_utf8_trace_with_the_same_content_is_read(tmp_path, no_lock_trace):
    """The other direction: the same command on a good file works."""
    (tmp_path / "t.trace.json").write_text(json.dumps(no_lock_trace), encoding="utf-8")
    r = run_checker("view", "t.trace.json", "--html", "out.html", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.html").exists()


# ---------------------------------------------------------------------------
# unwritable outputs


def test_unwritable_trace_out_still_prints_the_counterexample_and_exits_1(tmp_path):
    (tmp_path / "blocker").write_text("a file where a directory is needed\n")
    r = run_checker("explore", "ring", "-m", "sc", "--mutation", "no-lock", "--trace-out", "blocker/cx.trace.json",
                    cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write blocker/cx.trace.json" in r.stderr, r.stderr
    assert "exclusive ownership violated" in r.stdout and "trace not written" in r.stdout
    assert "!! exclusive ownership" in r.stdout  # the steps themselves
    # Whole or not at all: nothing half-written anywhere.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_unwritable_html_next_to_a_written_trace(tmp_path):
    (tmp_path / "cx.html").mkdir()  # the page's path is taken by a directory
    r = run_checker("explore", "ring", "-m", "sc", "--mutation", "no-lock", "--trace-out", "cx.trace.json", "--html",
                    cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write cx.html" in r.stderr, r.stderr
    assert "trace written to cx.trace.json" in r.stdout
    assert json.loads((tmp_path / "cx.trace.json").read_text())["property"] == "exclusive ownership"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_view_html_to_an_unwritable_path(tmp_path, no_lock_trace):
    (tmp_path / "t.trace.json").write_text(json.dumps(no_lock_trace))
    (tmp_path / "blocker").write_text("")
    r = run_checker("view", "t.trace.json", "--html", "blocker/page.html", cwd=tmp_path)
    _one_line_error(r, expect="cannot write blocker/page.html")


# ---------------------------------------------------------------------------
# traces that cannot exist: the reader


def _damaged(doc, how):
    d = copy.deepcopy(doc)
    how(d)
    return d


IMPOSSIBLE = [
    (lambda d: d["steps"][0].update(thread=17), "taken by thread 17"),
    (lambda d: d.update(cycle_start=-1), "cycle_start -1"),
    (lambda d: d.update(violation_step=len(d["steps"]) + 5), "violation_step 13"),
    (lambda d: d.update(memory_model="armv9"), "unknown memory model 'armv9'"),
    (lambda d: d.update(profile="ia64"), "unknown profile 'ia64'"),
    (lambda d: d.update(version=7), "schema version 7"),
    (lambda d: d.pop("memory_model"), "no 'memory_model'"),
    (lambda d: d.pop("layout"), "no 'layout'"),
    (lambda d: d["steps"][2].pop("name"), "step 3 has no \"name\""),
    (lambda d: d["steps"][3].update(index=9), "step 4 is numbered 9"),
    (lambda d: d["steps"][0]["memory"].__setitem__(0, -4), "step 1: \"memory\" must be"),
    (lambda d: d["threads"].pop(), "2 threads listed, but params say 3"),
    (lambda d: d["params"].update(slots=0), "no integer 'slots'"),
]


@pytest.mark.parametrize("how, expect", IMPOSSIBLE)
def test_impossible_traces_are_rejected_by_view_and_replay(tmp_path, no_lock_trace, how, expect):
    """In process, through the functions the commands call (the CLI's one-line form is tested below)."""
    from checker.replay import replay_file
    from checker.view import load

    path = tmp_path / "bad.trace.json"
    path.write_text(json.dumps(_damaged(no_lock_trace, how)))
    for read in (load, replay_file):
        with pytest.raises(TraceError) as info:
            read(path)
        assert expect in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("how, expect", IMPOSSIBLE[:3])
def test_impossible_traces_are_one_line_exit_2_on_the_command_line(tmp_path, no_lock_trace, how, expect):
    path = tmp_path / "bad.trace.json"
    path.write_text(json.dumps(_damaged(no_lock_trace, how)))
    for args in (["view", path], ["view", path, "--html", tmp_path / "p.html"], ["replay", path]):
        _one_line_error(run_checker(*args, cwd=tmp_path), expect=expect)
    assert not (tmp_path / "p.html").exists()


def test_the_undamaged_trace_passes_the_reader(no_lock_trace):
    check_trace(no_lock_trace)  # the other direction: the checks do not reject what explore writes


# ---------------------------------------------------------------------------
# replay re-checks the claim against the model


def test_recheck_confirms_a_real_violation(no_lock_trace):
    note = recheck(no_lock_trace)
    assert "re-checked against the model: step 8 violates exclusive ownership" in note


FORGED = [
    # The claim names a property the model does violate elsewhere, not here.
    (lambda d: d.update(property="conservation") or d["steps"][-1].update(violates="conservation"),
     "does not violate conservation"),
    # A property the model does not check at all.
    (lambda d: d.update(property="made-up property") or d["steps"][-1].update(violates="made-up property"),
     "does not check"),
    # A step the model cannot take: a load that returns a value memory does not hold.
    (lambda d: d["steps"][0].update(value=5), "step 1 (backend1: pg_atomic_read_u32(free_tail)) is not a move"),
    # The claimed violating step is cut: the state after step 7 violates nothing.
    (lambda d: d.update(violation_step=7) or d["steps"].pop() and None, "after step 7 does not violate"),
]


@pytest.mark.parametrize("how, expect", FORGED)
def test_replay_does_not_believe_a_forged_claim(tmp_path, no_lock_trace, how, expect):
    doc = _damaged(no_lock_trace, how)
    with pytest.raises(TraceError) as info:
        recheck(doc, "forged")
    assert expect in str(info.value)


def test_replay_of_a_forged_claim_is_one_line_exit_2(tmp_path, no_lock_trace):
    doc = _damaged(no_lock_trace, FORGED[0][0])
    path = tmp_path / "forged.trace.json"
    path.write_text(json.dumps(doc))
    _one_line_error(run_checker("replay", path, cwd=tmp_path), expect=FORGED[0][1])


def test_recheck_confirms_a_lasso_and_rejects_a_cut_one():
    """A wait-freedom lasso: caslist's unbounded retry against a rogue that never stops (see test_lasso)."""
    from checker.explore import Options
    from checker.model import WAIT_FREEDOM

    engine, result = check("caslist", mutation="unbounded-retry", memory_model="sc", threads=2, slots=1, ops=1,
                           rogue=True, rogue_writes=None, step_bound=0, extra={"cas_retries": 1},
                           options=Options(max_states=20000))
    doc = build_trace(engine, result.violations[WAIT_FREEDOM], result)
    assert doc["cycle_start"] is not None
    assert "return to the state they start from" in recheck(doc)
    cut = copy.deepcopy(doc)
    cut["steps"].pop()
    cut["violation_step"] = len(cut["steps"])
    cut["cycle_start"] = min(cut["cycle_start"], len(cut["steps"]))
    with pytest.raises(TraceError, match="not a cycle"):
        recheck(cut)


def test_recheck_confirms_a_deadlock_and_rejects_a_false_one():
    """ring without its locks also deadlocks (kept going past the first violation)."""
    from checker.explore import Options
    from checker.model import DEADLOCK

    engine, result = check("ring", mutation="no-lock", memory_model="sc", threads=3, slots=2, ops=1,
                           options=Options(stop_on_first=False))
    doc = build_trace(engine, result.violations[DEADLOCK], result)
    assert "re-checked against the model" in recheck(doc)
    early = copy.deepcopy(doc)
    early["steps"] = early["steps"][:1]
    early["violation_step"] = 1
    with pytest.raises(TraceError, match="not deadlocked"):
        recheck(early)


def test_unwritable_prove_trace_out_keeps_the_verdict(tmp_path):
    (tmp_path / "blocker").write_text("")
    r = run_checker("prove", "ring", "--robustness", "--mutation", "no-range-check", "--trace-out", "blocker/w.json",
                    cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "cannot write blocker/w.json" in r.stderr, r.stderr
    assert "FAILED" in r.stdout and "trace not written" in r.stdout


def test_memory_model_options_are_recorded_and_used_by_the_recheck():
    """A trace found with --window N is re-checked with the same window (tso's buffer here)."""
    engine, result = check("ring", mutation="no-lock", memory_model="tso", mm_options={"window": 2},
                           threads=3, slots=2, ops=1)
    prop, cx = next(iter(result.violations.items()))
    doc = build_trace(engine, cx, result)
    assert doc["memory_model_options"] == {"window": 2}
    assert f"violates {prop}" in recheck(doc)
    check_trace(doc)
    bad = copy.deepcopy(doc)
    bad["memory_model_options"] = {"window": "two"}
    with pytest.raises(TraceError, match="memory_model_options"):
        check_trace(bad)
