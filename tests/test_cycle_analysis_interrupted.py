"""Ctrl-C, SIGTERM or running out of memory during the cycle analysis: no verdict, and the coverage report.

The analysis runs after the search has covered every state; a run stopped
there must not report deadlock freedom or wait-freedom from half an
analysis, and must still say what it covered (it used to end with nothing
but "checker: terminated").  Every search strategy goes through
``checker.explore.analyse_cycles``; each is stopped there on purpose here.
"""

from __future__ import annotations

import pytest

import checker.explore
from checker.explore import Options, explore
from checker.model import DEADLOCK, WAIT_FREEDOM
from checker.model.interface import Params
from checker.parallel import EngineSpec, ParallelOptions
from checker.run import make_engine
from checker.signals import Terminated

STRATEGIES = {
    "compact": {},
    "full": {"storage": "full"},
    "c": {"engine": "c"},
    "workers": {"workers": 1},
}


def _explore(strategy: str):
    how = STRATEGIES[strategy]
    params = Params(threads=2, slots=2, ops=1)
    engine = make_engine("ring", params, None, "sc", "documented", how.get("engine", "compiled"))
    spec = EngineSpec("ring", params, None, "sc", "documented")
    par = ParallelOptions(workers=how["workers"], spec=spec) if "workers" in how else None
    return explore(engine, Options(storage=how.get("storage", "compact"), parallel=par), "sc", "documented")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_whole_run_holds_without_the_interruption(strategy):
    res = _explore(strategy)
    assert res.complete and res.liveness_checked and res.exit_code == 0
    assert res.verdict(DEADLOCK) == "holds (exhaustive)"


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize(("stop", "said"), [
    (Terminated(), "terminated (SIGTERM) during the cycle analysis"),
    (KeyboardInterrupt(), "interrupted during the cycle analysis"),
    (MemoryError("memory limit 1.0 GiB reached"), "memory limit 1.0 GiB reached during the cycle analysis"),
])
def test_a_stop_in_the_cycle_analysis_is_no_verdict(monkeypatch, strategy, stop, said):
    def stopped(*args, **kwargs):
        raise stop

    monkeypatch.setattr(checker.explore, "_liveness", stopped)
    res = _explore(strategy)
    assert not res.complete and res.exit_code == 3
    assert res.stop_reason.startswith(said), res.stop_reason
    assert res.states > 0 and res.transitions > 0  # what it covered is still reported
    for prop in (DEADLOCK, WAIT_FREEDOM):
        assert "holds" not in res.verdict(prop), res.verdict(prop)


@pytest.mark.parametrize("stop", [Terminated(), MemoryError("memory limit 1.0 GiB reached")])
def test_a_stop_while_c_hands_over_its_graph_is_no_verdict(monkeypatch, stop):
    import checker.graph

    def stopped(*args, **kwargs):
        raise stop

    monkeypatch.setattr(checker.graph, "Graph", stopped)
    res = _explore("c")
    assert not res.complete and res.exit_code == 3
    assert "before the cycle analysis" in res.stop_reason, res.stop_reason
    assert res.states > 0
    for prop in (DEADLOCK, WAIT_FREEDOM):
        assert "holds" not in res.verdict(prop), res.verdict(prop)
