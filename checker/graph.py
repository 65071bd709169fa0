"""The explored graph kept for the cycle analysis, in flat arrays (issue 13).

A list of one ``array`` per state costs ~100 bytes per state before its
first edge (the array object, its buffer header, the list slot), and the
analysis used to add a set per component and a Python int per state per
table on top.  Here the successor lists of all states sit in two arrays, as
in the compressed-sparse-row layout: ``dst`` holds every edge in order (the
successor's index times 16 plus the moving thread, as the search records it)
and ``off[v]:off[v + 1]`` is state ``v``'s share.  About 4 bytes per state
plus 4 per edge: both arrays are 32-bit while they can be (offsets below
2^32 edges, edges below 2^28 states), and widen to 64 bits past that.

:func:`strongly_connected` is Tarjan's algorithm over that layout with its
tables in arrays too.
"""

from __future__ import annotations

from array import array
from typing import NamedTuple

_NARROW_LIMIT = 1 << 28  # successor index * 16 + thread fits 32 bits below this many states


class Graph:
    """Successor lists: ``graph[v]`` is an array of ``successor * 16 + thread``."""

    __slots__ = ("off", "dst")

    def __init__(self) -> None:
        self.off = array("I", [0])
        self.dst = array("I")

    def close(self) -> None:
        """End the current state's list (the next edges belong to the next state)."""
        try:
            self.off.append(len(self.dst))
        except OverflowError:
            self.widen_offsets()
            self.off.append(len(self.dst))

    def widen(self) -> None:
        """Past 2^28 states an edge no longer fits 32 bits (nor, then, are offsets kept narrow)."""
        if self.dst.typecode == "I":
            self.dst = array("Q", self.dst)
        self.widen_offsets()

    def widen_offsets(self) -> None:
        """Past 2^32 edges an offset no longer fits 32 bits."""
        if self.off.typecode == "I":
            self.off = array("Q", self.off)

    def pad(self, n: int) -> None:
        """States ``len(self)`` .. ``n - 1`` get no successors (not expanded)."""
        end = len(self.dst)
        if end > 0xFFFFFFFF:
            self.widen_offsets()
        self.off.extend([end] * (n - len(self)))

    def release(self) -> None:
        """Drop every edge (the cycle analysis is done with a graph that is often a run's largest structure)."""
        self.off = array(self.off.typecode, [0])
        self.dst = array(self.dst.typecode)

    def __len__(self) -> int:
        return len(self.off) - 1

    def __getitem__(self, v: int):
        return self.dst[self.off[v]:self.off[v + 1]]

    def nbytes(self) -> int:
        return self.off.itemsize * len(self.off) + self.dst.itemsize * len(self.dst)

    @classmethod
    def from_lists(cls, lists, n: int | None = None) -> "Graph":
        """From one iterable of successors (or None) per state."""
        g = cls()
        for succ in lists:
            if succ:
                if g.dst.typecode == "I" and max(succ) > 0xFFFFFFFF:
                    g.widen()
                g.dst.fromlist(list(succ))
            g.close()
        if n is not None and len(g) < n:
            g.pad(n)
        return g

    def filtered(self, keep) -> "Graph":
        """The subgraph of the edges ``(v, e)`` for which ``keep(v, e)``."""
        g = Graph()
        if self.dst.typecode != "I":
            g.widen()
        off, dst = self.off, self.dst
        append = g.dst.append
        close = g.close
        for v in range(len(self)):
            for k in range(off[v], off[v + 1]):
                e = dst[k]
                if keep(v, e):
                    append(e)
            close()
        return g


class Components(NamedTuple):
    """The strongly connected components of a graph: each state's component id, and how many there are."""

    ids: array
    count: int


def components(graph: Graph, stack_budget: int | None = None) -> Components:
    """The strongly connected components (in C when it can be built; the ids as Tarjan's algorithm numbers them).

    ``stack_budget``: see :func:`checker.graph_c.strongly_connected_c`."""
    from checker.graph_c import components_c

    found = components_c(graph, stack_budget)
    if found is not None:
        return Components(*found)
    comp = strongly_connected_py(graph)
    return Components(comp, max(comp) + 1 if comp else 0)


def strongly_connected(graph: Graph) -> array:
    """Tarjan's algorithm, iteratively: the component id of every state (in C when it can be built)."""
    return components(graph).ids


def strongly_connected_py(graph: Graph) -> array:
    """Tarjan's algorithm, iteratively, in Python: the reference for checker.graph_c."""
    n = len(graph)
    off, dst = graph.off, graph.dst
    index = array("q", [-1]) * n
    low = array("q", [0]) * n
    comp = array("q", [-1]) * n
    on_stack = bytearray(n)
    stack = array("q")
    work_v = array("q")  # the depth-first path: a state and the next edge to follow
    work_k = array("q")
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work_v.append(root)
        work_k.append(off[root])
        while work_v:
            v = work_v[-1]
            k = work_k[-1]
            if k < off[v + 1]:
                work_k[-1] = k + 1
                w = dst[k] >> 4
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = 1
                    work_v.append(w)
                    work_k.append(off[w])
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work_v.pop()
            work_k.pop()
            if work_v:
                u = work_v[-1]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = 0
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
    return comp
