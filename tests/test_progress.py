"""Progress of the long commands: what the library reports, and where it is shown (never how fast)."""

import io

import pytest

from rich.console import Console

from checker.model import Params, resolve_protocol
from checker.progress import Tick, progress_on
from tests.conftest import MODELS


def _recorder():
    ticks: list[Tick] = []
    return ticks, ticks.append


def _counts_up(ticks: list[Tick]) -> None:
    counted = [t for t in ticks if t.total is not None]
    assert counted, ticks
    assert all(0 <= t.done <= t.total for t in counted), counted
    assert [t.done for t in counted] == sorted(t.done for t in counted), "progress never goes back"


def test_a_terminal_sees_the_bar_and_a_pipe_sees_nothing():
    screen = io.StringIO()
    with progress_on(Console(file=screen, force_terminal=True, width=100), "checker ci") as show:
        assert show is not None
        show(Tick("ring explore: ring sc correct", 0, 3))
    assert "ring explore: ring sc correct" in screen.getvalue()
    with progress_on(Console(file=io.StringIO(), force_terminal=False), "checker ci") as show:
        assert show is None


def test_ci_reports_each_part_and_each_row_as_it_starts():
    from checker.ci_policy import run_ci

    ticks, record = _recorder()
    rows, _notes = run_ci([str(MODELS / "counter.py")], {"mutations", "proofs", "litmus", "fences"}, record)
    _counts_up(ticks)
    assert ticks[0] == Tick("test-counter explore", 0, 1)
    assert ticks[-1] == Tick("done", 1, 1)
    started = [t.what.split(": ", 1)[1] for t in ticks if ": " in t.what]
    assert started == [r.name for r in rows] and rows


def test_compare_reports_each_run_of_each_protocol():
    from checker.compare import compare

    ticks, record = _recorder()
    rows = compare(2, 1, 1, "sc", "documented", protocols=["bgworker", "caslist"], progress=record)
    _counts_up(ticks)
    assert [r.protocol for r in rows] == ["bgworker", "caslist"]
    whats = [t.what for t in ticks]
    assert whats == ["bgworker: exploring (sc)", "bgworker: exploring with a rogue", "bgworker: measuring backend steps",
                     "caslist: exploring (sc)", "caslist: exploring with a rogue", "caslist: measuring backend steps",
                     "done"]
    assert ticks[3].done == 1 and ticks[-1] == Tick("done", 2, 2)


def test_prove_reports_segments_and_bmc_steps():
    from checker.prove.bmc import bmc
    from checker.prove.robustness import prove_robustness

    ticks, record = _recorder()
    res = prove_robustness(resolve_protocol(str(MODELS / "prove_small.py")), Params(threads=2, slots=2, ops=1),
                           progress=record, witness=False)
    assert res.proved
    _counts_up(ticks)
    assert ticks and all(t.what.startswith("postmaster from pc ") for t in ticks)

    ticks, record = _recorder()
    bmc(resolve_protocol("ring"), Params(threads=2, slots=1, ops=1), None, 3, record)
    assert [(t.what, t.done, t.total) for t in ticks] == [("step 1", 0, 3), ("step 2", 1, 3), ("step 3", 2, 3)]


def test_commands_off_a_terminal_print_no_progress(checker_cli):
    r = checker_cli("compare", "-m", "sc", "--threads", 2, "--ops", 1, "--protocol", "bitmap", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


@pytest.mark.slow
def test_prove_invariants_reports_each_step_it_checks():
    from checker.prove.invariants import prove_invariants

    ticks, record = _recorder()
    res = prove_invariants(resolve_protocol("ring"), Params(threads=2, slots=2, ops=1), None,
                           "pg_atomic_write_u32(free_tail", record)
    assert res.steps_checked == 1
    assert len(ticks) == 1 and ticks[0].what.startswith("consecution: backend1 ") and (ticks[0].done, ticks[0].total) == (0, 1)
