"""``--max-memory`` in the cycle analysis, and the tables it gives back.

The search checks the limit at each progress report; the cycle analysis
allocates tables of several bytes a state with no report between them, so it
asks before each (``checker.memlimit.ensure_room``).  A limit the analysis
would pass stops the run as running out of memory does: exit 3, the
coverage report, and no deadlock or wait-freedom verdict.  The limits here
are far below any process's resident size (1 MiB) or far above anything a
test uses, so no test depends on how much memory the machine has.
"""

from __future__ import annotations

from array import array

import pytest
from click.testing import CliRunner

import checker.explore
from checker import graph_c
from checker.cli import cli
from checker.explore import Options, explore
from checker.graph import Graph
from checker.model import DEADLOCK, WAIT_FREEDOM
from checker.model.interface import Params
from checker.parallel import EngineSpec, ParallelOptions
from checker.run import make_engine

STRATEGIES = {
    "compact": {},
    "full": {"storage": "full"},
    "c": {"engine": "c"},
    "workers": {"workers": 1},
}
MIB = 1 << 20


def _explore(strategy: str, memory_limit: int | None):
    how = STRATEGIES[strategy]
    params = Params(threads=2, slots=2, ops=1)
    engine = make_engine("ring", params, None, "sc", "documented", how.get("engine", "compiled"))
    spec = EngineSpec("ring", params, None, "sc", "documented")
    par = ParallelOptions(workers=how["workers"], spec=spec) if "workers" in how else None
    # No progress callback: the search itself never looks at the limit, so
    # only the cycle analysis can stop this run.
    opts = Options(storage=how.get("storage", "compact"), parallel=par, memory_limit=memory_limit)
    return explore(engine, opts, "sc", "documented")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_limit_the_analysis_would_pass_stops_the_run_without_a_verdict(strategy):
    res = _explore(strategy, MIB)
    assert not res.complete and res.exit_code == 3 and not res.liveness_checked
    assert res.stop_reason.startswith("memory limit 1.0 MiB reached: the cycle analysis ("), res.stop_reason
    # The C search asks before it copies its graph out; the others in the analysis.
    when = "before" if strategy == "c" else "during"
    assert res.stop_reason.endswith(f"{when} the cycle analysis (the search had covered every state)")
    assert res.states > 0 and res.transitions > 0
    for prop in (DEADLOCK, WAIT_FREEDOM):
        assert "holds" not in res.verdict(prop), res.verdict(prop)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_limit_with_room_changes_nothing(strategy):
    unlimited = _explore(strategy, None)
    roomy = _explore(strategy, 1 << 40)
    assert roomy.complete and roomy.liveness_checked and roomy.exit_code == 0
    assert (roomy.states, roomy.transitions, roomy.verdict(DEADLOCK), roomy.verdict(WAIT_FREEDOM)) == (
        unlimited.states, unlimited.transitions, unlimited.verdict(DEADLOCK), unlimited.verdict(WAIT_FREEDOM))


@pytest.mark.parametrize("engine_kind", ["compiled", "c"])
def test_the_lasso_search_of_a_stopped_run_stops_quietly(engine_kind):
    # Step bound 0 with a state cap: the lasso search runs on a partial graph
    # and finds a real wait-freedom lasso; under a limit it cannot run, and
    # the run (incomplete anyway) says nothing about wait-freedom.
    params = Params(threads=2, slots=1, ops=1, rogue=True, rogue_writes=None, step_bound=0,
                    extra={"cas_retries": 1})
    engine = make_engine("caslist", params, "unbounded-retry", "sc", "documented", engine_kind)
    found = explore(engine, Options(max_states=20000), "sc", "documented")
    assert WAIT_FREEDOM in found.violations
    engine = make_engine("caslist", params, "unbounded-retry", "sc", "documented", engine_kind)
    res = explore(engine, Options(max_states=20000, memory_limit=MIB), "sc", "documented")
    assert not res.complete and res.exit_code == 3
    assert WAIT_FREEDOM not in res.violations and "holds" not in res.verdict(WAIT_FREEDOM)


def test_the_command_line_limit_reaches_the_analysis(monkeypatch):
    seen = []
    real = checker.explore.explore

    def recording(engine, opts, *args, **kwargs):
        seen.append(opts.memory_limit)
        return real(engine, opts, *args, **kwargs)

    monkeypatch.setattr(checker.explore, "explore", recording)
    r = CliRunner().invoke(cli, ["explore", "ring", "--threads", "2", "--max-memory", "2M", "--no-trace"])
    assert seen == [2 * MIB]
    # The search or the analysis reaches it first; either way no verdict.
    assert r.exit_code == 3, r.output
    assert "memory limit 2.0 MiB reached" in r.output
    assert "holds (exhaustive)" not in r.output


@pytest.mark.skipif(graph_c._load() is None, reason="no C compiler: only the Python version runs")
def test_component_tables_are_32_bit_below_2_to_the_28_states():
    narrow = Graph.from_lists([[1 * 16], [0 * 16 + 1], []], 3)
    wide = Graph.from_lists([[1 * 16], [0 * 16 + 1], []], 3)
    wide.widen()
    comps = graph_c.strongly_connected_c(narrow), graph_c.strongly_connected_c(wide)
    assert [c.typecode for c in comps] == ["i", "q"]
    assert list(comps[0]) == list(comps[1]) == [0, 0, 1]
    # Per state its component (4 or 8 bytes) and a root bit; the stacks' first 1024 entries (a state and an edge
    # position on the path, a state on the component stack): what the search asks room for before it starts.
    assert graph_c.scc_bytes(narrow) == 3 * 4 + 1 + 1024 * (4 + 4 + 4)
    assert graph_c.scc_bytes(wide) == 3 * 8 + 1 + 1024 * (8 + 4 + 8)


def test_the_c_cycle_analysis_builds_where_there_is_a_compiler():
    # Without a compiler the Python version runs after a notice, and the C
    # tests skip: a build that breaks must fail here, not pass as skips.
    from refimpl import build

    try:
        build.compiler()
    except build.RefimplError:
        pytest.skip("no C compiler")
    assert graph_c._load() is not None


class _Edges(array):
    """An edge array that says it holds 2^32 edges (no test can hold them)."""

    def __len__(self) -> int:
        return 1 << 32


def test_offsets_are_32_bit_below_2_to_the_32_edges():
    # 4 bytes a state, not 8: the first offset past 2^32 edges widens the
    # offsets to 64 bits, the values kept; 64-bit edges take 64-bit offsets.
    g = Graph.from_lists([[16], [1]], 2)
    assert (g.off.typecode, g.dst.typecode, g.nbytes()) == ("I", "I", 3 * 4 + 2 * 4)
    g.dst = _Edges("I", g.dst)
    g.close()
    assert g.off.typecode == "Q" and list(g.off) == [0, 1, 2, 1 << 32]
    g.pad(5)
    assert list(g.off) == [0, 1, 2] + [1 << 32] * 3
    wide = Graph.from_lists([[16], [1]], 2)
    wide.widen()
    assert (wide.off.typecode, wide.dst.typecode, list(wide.off)) == ("Q", "Q", [0, 1, 2])


def test_stacks_past_the_limit_stop_the_analysis_without_a_verdict(monkeypatch):
    # The limit leaves no room beyond the fixed tables: the first time the stacks grow, the run stops (exit 3).
    from checker import memlimit

    monkeypatch.setattr(memlimit, "room_left", lambda limit, nbytes: 0)
    monkeypatch.setattr(graph_c, "_FIRST_STACKS", 1)
    params = Params(threads=2, slots=2, ops=1)
    engine = make_engine("ring", params, None, "sc", "documented")
    res = explore(engine, Options(memory_limit=1 << 40), "sc", "documented")
    assert not res.complete and res.exit_code == 3 and not res.liveness_checked, res.stop_reason
    assert "the cycle analysis (the component search's stacks) would pass it" in res.stop_reason


@pytest.mark.skipif(graph_c._load() is None, reason="no C compiler: only the Python version runs")
def test_the_subgraph_takes_the_place_of_the_graph():
    # Filtered in place: no second graph is allocated, and the edge array is trimmed to what is kept.
    g = Graph.from_lists([[1 * 16, 2 * 16 + 1], [0 * 16], [0 * 16]], 3)
    dst = g.dst
    sub = graph_c.lasso_subgraph_c(g, bytearray([1, 1, 0]), bytearray(3))
    assert sub is g and sub.dst is dst
    assert list(sub.dst) == [16, 0] and list(sub.off) == [0, 1, 2, 2]
    assert sub.dst.typecode == "I" and isinstance(sub.dst, array)
