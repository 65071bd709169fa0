"""Tarjan's algorithm in C, through cffi, for the cycle analysis (issue 13).

The cycle analysis runs Tarjan's algorithm over the whole explored graph
(twice: all edges for deadlock freedom, the postmaster's in-operation
subgraph for wait-freedom).  In Python that walk costs about as much as the
search itself (~3 CPU s per million states and 3.4 million edges).  This is
the same iterative algorithm, step for step, so the component numbering --
which decides which counterexample the analysis reports -- is the one
:func:`checker.graph.strongly_connected` gives; ``tests/test_graph_c.py``
compares the two.

Built on first use into the C build cache of ``refimpl.build`` (same cache
directory, same lock, a name that hashes the source).  Without a working C
compiler the Python version runs instead, after a one-line notice.
"""

from __future__ import annotations

import sys
from array import array

_CDEF = """
long scc_narrow(long n, const uint64_t *off, const uint32_t *dst, int64_t *comp, int64_t *work);
long scc_wide(long n, const uint64_t *off, const uint64_t *dst, int64_t *comp, int64_t *work);
void summary_narrow(long n, const uint64_t *off, const uint32_t *dst, const int64_t *comp,
                    uint8_t *leaves, uint8_t *has_internal, int64_t *movers);
void summary_wide(long n, const uint64_t *off, const uint64_t *dst, const int64_t *comp,
                  uint8_t *leaves, uint8_t *has_internal, int64_t *movers);
long filter_narrow(long n, const uint64_t *off, const uint32_t *dst, const uint8_t *inside,
                   const uint8_t *restarted, uint64_t *new_off, uint32_t *new_dst);
long filter_wide(long n, const uint64_t *off, const uint64_t *dst, const uint8_t *inside,
                 const uint8_t *restarted, uint64_t *new_off, uint64_t *new_dst);
"""

# One body for both edge widths (the search widens its edge array past 2^28
# states).  An edge is the successor's index times 16 plus the moving thread.
# work holds 5 * n int64: index, low, the Tarjan stack, the depth-first path
# (state, next edge); comp doubles as the on-stack mark (-2) until a state's
# component is known.
_SOURCE = r"""
#include <stdint.h>

#define SCC_BODY(EDGE_T) \
{ \
	int64_t    *idx = work; \
	int64_t    *low = work + n; \
	int64_t    *stack = work + 2 * n; \
	int64_t    *path_v = work + 3 * n; \
	int64_t    *path_k = work + 4 * n; \
	long		sp = 0, pp = 0; \
	int64_t		counter = 0, ncomp = 0; \
	long		root; \
\
	for (long i = 0; i < n; i++) \
	{ \
		idx[i] = -1; \
		comp[i] = -1; \
	} \
	for (root = 0; root < n; root++) \
	{ \
		if (idx[root] != -1) \
			continue; \
		idx[root] = low[root] = counter++; \
		stack[sp++] = root; \
		comp[root] = -2; \
		path_v[pp] = root; \
		path_k[pp++] = (int64_t) off[root]; \
		while (pp > 0) \
		{ \
			int64_t		v = path_v[pp - 1]; \
			int64_t		k = path_k[pp - 1]; \
\
			if ((uint64_t) k < off[v + 1]) \
			{ \
				int64_t		w = (int64_t) (((EDGE_T) dst[k]) >> 4); \
\
				path_k[pp - 1] = k + 1; \
				if (idx[w] == -1) \
				{ \
					idx[w] = low[w] = counter++; \
					stack[sp++] = w; \
					comp[w] = -2; \
					path_v[pp] = w; \
					path_k[pp++] = (int64_t) off[w]; \
				} \
				else if (comp[w] == -2 && idx[w] < low[v]) \
					low[v] = idx[w]; \
				continue; \
			} \
			pp--; \
			if (pp > 0 && low[v] < low[path_v[pp - 1]]) \
				low[path_v[pp - 1]] = low[v]; \
			if (low[v] == idx[v]) \
			{ \
				for (;;) \
				{ \
					int64_t		w = stack[--sp]; \
\
					comp[w] = ncomp; \
					if (w == v) \
						break; \
				} \
				ncomp++; \
			} \
		} \
	} \
	return (long) ncomp; \
}

/*
 * Per component: leaves (no edge leaves it; set to 1 by the caller), has an
 * edge inside, and the mask of threads that move inside it -- the loop of
 * checker.explore._liveness.
 */
#define SUMMARY_BODY \
{ \
	for (long v = 0; v < n; v++) \
	{ \
		int64_t		cv = comp[v]; \
\
		for (uint64_t k = off[v]; k < off[v + 1]; k++) \
		{ \
			uint64_t	e = dst[k]; \
\
			if (comp[e >> 4] != cv) \
				leaves[cv] = 0; \
			else \
			{ \
				has_internal[cv] = 1; \
				movers[cv] |= (int64_t) 1 << (e & 15); \
			} \
		} \
	} \
}

/*
 * The postmaster's lasso subgraph (checker.explore._postmaster_lasso's keep):
 * an edge stays when its source is not AHEAD (2), both ends are on the same
 * side of an operation boundary, and it is not a postmaster move (thread 0)
 * into a state whose step count restarted.  Returns the number of edges kept.
 */
#define FILTER_BODY \
{ \
	long		m = 0; \
\
	new_off[0] = 0; \
	for (long v = 0; v < n; v++) \
	{ \
		if (inside[v] != 2) \
		{ \
			for (uint64_t k = off[v]; k < off[v + 1]; k++) \
			{ \
				uint64_t	e = dst[k]; \
				uint64_t	w = e >> 4; \
\
				if (inside[w] != inside[v]) \
					continue; \
				if ((e & 15) == 0 && restarted[w]) \
					continue; \
				new_dst[m++] = dst[k]; \
			} \
		} \
		new_off[v + 1] = m; \
	} \
	return m; \
}

void
summary_narrow(long n, const uint64_t *off, const uint32_t *dst, const int64_t *comp,
			   uint8_t *leaves, uint8_t *has_internal, int64_t *movers)
SUMMARY_BODY

void
summary_wide(long n, const uint64_t *off, const uint64_t *dst, const int64_t *comp,
			 uint8_t *leaves, uint8_t *has_internal, int64_t *movers)
SUMMARY_BODY

long
filter_narrow(long n, const uint64_t *off, const uint32_t *dst, const uint8_t *inside,
			  const uint8_t *restarted, uint64_t *new_off, uint32_t *new_dst)
FILTER_BODY

long
filter_wide(long n, const uint64_t *off, const uint64_t *dst, const uint8_t *inside,
			const uint8_t *restarted, uint64_t *new_off, uint64_t *new_dst)
FILTER_BODY

long
scc_narrow(long n, const uint64_t *off, const uint32_t *dst, int64_t *comp, int64_t *work)
SCC_BODY(uint32_t)

long
scc_wide(long n, const uint64_t *off, const uint64_t *dst, int64_t *comp, int64_t *work)
SCC_BODY(uint64_t)
"""

_module = None
_unavailable = False


def _load():
    """The compiled module, or None (after a one-line notice) when it cannot be built."""
    global _module, _unavailable
    if _module is not None or _unavailable:
        return _module
    try:
        from refimpl import build

        key = build._key("graph_c", _CDEF, _SOURCE)
        modname = f"_slotcheck_graph_{key}"
        out_dir = build.cache_dir()
        import sysconfig

        target = out_dir / f"{modname}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}"
        with build._locked(out_dir / f".{modname}.lock"):
            if not target.exists():
                build._compile(modname, _CDEF, _SOURCE, [], [], ["-O2", "-std=gnu11"], target)
        _module = build._import(modname, target)
    except Exception as exc:  # no compiler, no cffi, an unwritable cache: the Python version still works
        _unavailable = True
        print(f"checker: note: the C cycle analysis is unavailable ({str(exc).splitlines()[0] if str(exc) else exc!r}); "
              "using the slower Python version", file=sys.stderr)
    return _module


def strongly_connected_c(graph) -> array | None:
    """The component id of every state, as :func:`checker.graph.strongly_connected`; None without C."""
    mod = _load()
    if mod is None:
        return None
    n = len(graph)
    comp = array("q", [0]) * n
    if n == 0:
        return comp
    work = array("q", [0]) * (5 * n)
    ffi, lib = mod.ffi, mod.lib
    narrow = graph.dst.typecode == "I"
    fn = lib.scc_narrow if narrow else lib.scc_wide
    fn(n, ffi.from_buffer("uint64_t[]", graph.off), ffi.from_buffer("uint32_t[]" if narrow else "uint64_t[]", graph.dst),
       ffi.from_buffer("int64_t[]", comp), ffi.from_buffer("int64_t[]", work))
    return comp


def _edge_type(graph) -> tuple[bool, str]:
    narrow = graph.dst.typecode == "I"
    return narrow, "uint32_t[]" if narrow else "uint64_t[]"


def component_summary_c(graph, comp, ncomp: int):
    """(leaves, has_internal, movers) per component, as checker.explore._liveness computes them; None without C."""
    mod = _load()
    if mod is None:
        return None
    leaves = bytearray(b"\x01") * ncomp
    has_internal = bytearray(ncomp)
    movers = array("q", [0]) * ncomp
    if len(graph) and ncomp:
        ffi, lib = mod.ffi, mod.lib
        narrow, etype = _edge_type(graph)
        (lib.summary_narrow if narrow else lib.summary_wide)(
            len(graph), ffi.from_buffer("uint64_t[]", graph.off), ffi.from_buffer(etype, graph.dst),
            ffi.from_buffer("int64_t[]", comp), ffi.from_buffer("uint8_t[]", leaves),
            ffi.from_buffer("uint8_t[]", has_internal), ffi.from_buffer("int64_t[]", movers))
    return leaves, has_internal, movers


def lasso_subgraph_c(graph, inside: bytearray, restarted: bytearray):
    """The subgraph checker.explore._postmaster_lasso keeps, as a Graph; None without C."""
    mod = _load()
    if mod is None:
        return None
    from checker.graph import Graph

    n = len(graph)
    sub = Graph()
    if graph.dst.typecode != "I":
        sub.widen()
    sub.off = array("Q", [0]) * (n + 1)
    sub.dst = array(graph.dst.typecode, [0]) * len(graph.dst)
    if n and len(graph.dst):
        ffi, lib = mod.ffi, mod.lib
        narrow, etype = _edge_type(graph)
        m = (lib.filter_narrow if narrow else lib.filter_wide)(
            n, ffi.from_buffer("uint64_t[]", graph.off), ffi.from_buffer(etype, graph.dst),
            ffi.from_buffer("uint8_t[]", inside), ffi.from_buffer("uint8_t[]", restarted),
            ffi.from_buffer("uint64_t[]", sub.off), ffi.from_buffer(etype, sub.dst))
        del sub.dst[m:]
    else:
        del sub.dst[:]
    return sub
