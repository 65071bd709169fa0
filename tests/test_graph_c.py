"""The C cycle analysis (checker.graph_c) against its Python reference.

The component search (Pearce's variant of Tarjan's algorithm in C, Tarjan's in Python), the per-component summary and the postmaster's lasso
subgraph must give exactly what the Python code gives -- the component
numbering included, since it decides which counterexample is reported.
"""

from __future__ import annotations

import random
from array import array

import pytest

from checker import graph_c
from checker.explore import Options
from checker.graph import Graph, strongly_connected, strongly_connected_py
from checker.model import DEADLOCK, WAIT_FREEDOM, Params
from checker.run import make_engine

pytestmark = pytest.mark.skipif(graph_c._load() is None, reason="no C compiler: only the Python version runs")


def _in_every_width(lists, n):
    """The graph as each variant of the C loops takes it: 32-bit offsets and edges, 64-bit offsets, both 64-bit."""
    narrow = Graph.from_lists(lists, n)
    assert (narrow.off.typecode, narrow.dst.typecode) == ("I", "I")
    yield narrow
    wide_offsets = Graph.from_lists(lists, n)
    wide_offsets.widen_offsets()
    yield wide_offsets
    wide = Graph.from_lists(lists, n)
    wide.widen()
    assert (wide.off.typecode, wide.dst.typecode) == ("Q", "Q")
    yield wide


def _random_graphs():
    rng = random.Random(13)
    for _ in range(300):
        n = rng.randint(1, 50)
        lists = [[rng.randrange(n) * 16 + rng.randrange(5) for _ in range(rng.randint(0, 4))] for _ in range(n)]
        yield from _in_every_width(lists, n)
    # Deeper than the C stacks start (1024 entries), so that they grow: long
    # chains, with and without edges back (one large component, or many small).
    for back in (0.0, 0.01, 0.5):
        n = 5000
        lists = [[(v + 1) * 16] if v + 1 < n else [] for v in range(n)]
        for v in range(n):
            if rng.random() < back:
                lists[v].append(rng.randrange(v + 1) * 16 + 1)
            if rng.random() < 0.2:
                lists[v].insert(0, rng.randrange(n) * 16 + 2)
        yield from _in_every_width(lists, n)
    yield Graph.from_lists([], 0)
    yield Graph.from_lists([[], [], []], 3)


def _summary_py(graph, comp, ncomp):
    leaves, has_internal, movers = bytearray(b"\x01") * ncomp, bytearray(ncomp), [0] * ncomp
    for v in range(len(graph)):
        for e in graph[v]:
            if comp[e >> 4] != comp[v]:
                leaves[comp[v]] = 0
            else:
                has_internal[comp[v]] = 1
                movers[comp[v]] |= 1 << (e & 15)
    return leaves, has_internal, movers


def test_tarjan_summary_and_lasso_filter_equal_python_on_random_graphs():
    rng = random.Random(7)
    for g in _random_graphs():
        comp = strongly_connected(g)
        assert list(comp) == list(strongly_connected_py(g))
        ncomp = max(comp) + 1 if len(comp) else 0
        assert graph_c.components_c(g)[1] == ncomp  # the count C returns, which the analysis uses
        leaves, has_internal = graph_c.component_summary_c(g, comp, ncomp)
        want_leaves, want_internal, want_movers = _summary_py(g, comp, ncomp)
        assert (leaves, has_internal) == (want_leaves, want_internal)
        # The deadlock candidates, and for each its movers and first state.
        candidates = [c for c in range(ncomp) if leaves[c] and has_internal[c]]
        assert list(graph_c.bottom_cycles_c(leaves, has_internal)) == candidates
        assert leaves == bytearray(1 if c in candidates else 0 for c in range(ncomp))
        movers, first = graph_c.candidate_details_c(g, comp, leaves, array("q", candidates))
        assert list(movers) == [want_movers[c] for c in candidates]
        assert list(first) == [min(v for v in range(len(g)) if comp[v] == c) for c in candidates]
        n = len(g)
        inside = bytearray(rng.choice((0, 1, 1, 2)) for _ in range(n))
        restarted = bytearray(rng.randint(0, 1) if inside[v] == 1 else 0 for v in range(n))

        def keep(v, e):
            w = e >> 4
            return inside[v] != 2 and inside[w] == inside[v] and not ((e & 15) == 0 and restarted[w])

        ref = g.filtered(keep)
        sub = graph_c.lasso_subgraph_c(g, inside, restarted)  # in place
        assert sub is g
        assert (list(sub.off), list(sub.dst), sub.dst.typecode) == (list(ref.off), list(ref.dst), ref.dst.typecode)


def _cycle_runs():
    # A wait-freedom lasso found by the lasso search (step bound 0, a state
    # cap), and a full cycle analysis that holds.
    lasso = make_engine("caslist", Params(threads=2, slots=1, ops=1, rogue=True, rogue_writes=None, step_bound=0,
                                          extra={"cas_retries": 1}), "unbounded-retry", "sc")
    holds = make_engine("ring", Params(threads=3), None, "sc")
    return [(lasso, Options(max_states=20000)), (holds, Options())]


def _summary(result):
    return (result.states, result.transitions, result.liveness_checked,
            {p: (cx.labels, cx.states, cx.cycle_start, cx.message) for p, cx in result.violations.items()},
            {p: result.verdict(p) for p in (DEADLOCK, WAIT_FREEDOM)})


def test_cycle_analysis_verdicts_and_lassos_equal_python(monkeypatch):
    from checker.explore import explore

    with_c = [_summary(explore(engine, opts, "sc")) for engine, opts in _cycle_runs()]
    assert WAIT_FREEDOM in with_c[0][3] and with_c[0][3][WAIT_FREEDOM][2] is not None
    assert with_c[1][2] and not with_c[1][3]
    monkeypatch.setattr(graph_c, "_module", None)
    monkeypatch.setattr(graph_c, "_unavailable", True)
    without = [_summary(explore(engine, opts, "sc")) for engine, opts in _cycle_runs()]
    assert with_c == without


def test_the_lasso_start_equals_python_on_random_graphs():
    # The loop over every state that checker.explore runs in C when it can.
    picked = 0
    for g in _random_graphs():
        comp = strongly_connected(g)
        ncomp = max(comp) + 1 if len(comp) else 0
        last_with_a_postmaster_move = {}
        for v in range(len(g)):
            for e in g[v]:
                if e & 15 == 0 and comp[e >> 4] == comp[v]:
                    last_with_a_postmaster_move[comp[v]] = (v, e >> 4)
                    break
        want = min(last_with_a_postmaster_move.values()) if last_with_a_postmaster_move else None
        assert graph_c.pm_cycle_c(g, comp, ncomp) == want
        picked += want is not None
    assert picked > 50  # the random graphs do have postmaster cycles


def test_the_component_search_stops_at_its_stack_budget():
    # A chain of 3000 states keeps 3000 on the depth-first path: past the
    # 1024 entries the stacks start with, so a budget of 0 stops it, one of enough does not.
    chain = Graph.from_lists([[(v + 1) * 16] if v + 1 < 3000 else [] for v in range(3000)], 3000)
    with pytest.raises(graph_c.StacksPastBudget):
        graph_c.strongly_connected_c(chain, 0)
    assert list(graph_c.strongly_connected_c(chain, 1 << 20)) == list(strongly_connected_py(chain))
