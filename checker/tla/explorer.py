"""Breadth-first search of a spec, invariants, deadlock and `P ~> Q` under weak fairness."""

from __future__ import annotations

from collections import deque
from pathlib import Path

from checker.tla.module import Config, Module
from checker.tla.evaluator import Spec

class Outcome:
    def __init__(self) -> None:
        self.states = 0
        self.violated: str | None = None  # an invariant, or "deadlock"
        self.depth = 0
        self.complete = False
        self.properties_checked: list[str] = []
        self.properties_failed: list[str] = []


def explore_tla(module_path: str | Path, config_path: str | Path | None = None,
                max_states: int | None = None) -> Outcome:
    """Breadth-first search of a spec under a configuration (TLC's defaults)."""
    module_path = Path(module_path)
    config_path = Path(config_path) if config_path else module_path.with_suffix(".cfg")
    spec = Spec(Module(module_path), Config(config_path))
    out = Outcome()
    keep_graph = bool(spec.leads_to)
    edges: dict[tuple, list] = {}
    seen: dict[tuple, int] = {}
    queue: deque = deque()
    for s in spec.initial_states():
        if s not in seen:
            seen[s] = 0
            queue.append(s)
            bad = spec.check(s)
            if bad:
                out.violated = bad
                out.states = len(seen)
                return out
    while queue:
        s = queue.popleft()
        d = seen[s]
        succ = spec.successors(s)
        if keep_graph:
            edges[s] = succ
        if not succ and spec.cfg.check_deadlock:
            out.violated = "deadlock"
            break
        for t in succ:
            if t in seen:
                continue
            seen[t] = d + 1
            out.depth = max(out.depth, d + 1)
            if out.violated is None:
                out.violated = spec.check(t)
            if max_states is not None and len(seen) >= max_states:
                out.states = len(seen)
                return out
            queue.append(t)
        # Stop at the first violation only once the state that led to it is
        # expanded, as `checker explore` stops: the two searches visit states
        # in the same order, so the counts at the violation compare exactly
        # (a search that stopped part way through the successors would count
        # fewer states whenever a later thread's move was new).
        if out.violated:
            out.states = len(seen)
            return out
    out.states = len(seen)
    out.complete = out.violated is None
    if out.complete:
        for name, (p, q) in spec.leads_to.items():
            if not _leads_to_holds(spec, edges, p, q):
                out.violated = name
                out.properties_failed.append(name)
                out.complete = False
                break
            out.properties_checked.append(name)
    return out


def _leads_to_holds(spec: Spec, edges: dict, p, q) -> bool:
    """P ~> Q under the spec's weak fairness, over the whole state graph.

    It fails when a behaviour can reach a P state and then stay among not-Q
    states forever while being fair: a strongly connected set of not-Q
    states (or one state, stuttering) in which every WF action is disabled
    somewhere or taken somewhere.
    """
    not_q = {s for s in edges if not spec.holds(q, s)}
    start = [s for s in not_q if spec.holds(p, s)]
    reach: set = set()
    stack = list(start)
    while stack:
        s = stack.pop()
        if s in reach:
            continue
        reach.add(s)
        stack.extend(t for t in edges[s] if t in not_q and t not in reach)
    if not reach:
        return True
    fair_succ = {s: spec.fair_successors(s) for s in reach}
    # Stuttering forever in s is fair when every WF action is disabled there.
    if any(all(not f for f in fair_succ[s]) for s in reach):
        return False
    for comp in _sccs(reach, {s: [t for t in edges[s] if t in reach] for s in reach}):
        members = set(comp)
        if len(comp) == 1 and comp[0] not in edges[comp[0]]:
            continue  # no cycle
        if _fair_component(members, fair_succ, len(spec.weak_fair)):
            return False
    return True


def _fair_component(members: set, fair_succ: dict, nfair: int) -> bool:
    """Can a cycle through every state of the component satisfy each WF?"""
    for i in range(nfair):
        disabled = any(not fair_succ[s][i] for s in members)
        taken = any(t in members and t != s for s in members for t in fair_succ[s][i])
        if not (disabled or taken):
            return False
    return True


def _sccs(nodes: set, succ: dict) -> list[list]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: list[list] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out
