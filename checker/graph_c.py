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
long scc_narrow(long n, const uint64_t *off, const uint32_t *dst, int32_t *comp, int32_t *work);
long scc_wide(long n, const uint64_t *off, const uint64_t *dst, int64_t *comp, int64_t *work);
void summary_narrow(long n, const uint64_t *off, const uint32_t *dst, const int32_t *comp,
                    uint8_t *leaves, uint8_t *has_internal, int64_t *movers);
void summary_wide(long n, const uint64_t *off, const uint64_t *dst, const int64_t *comp,
                  uint8_t *leaves, uint8_t *has_internal, int64_t *movers);
long filter_narrow(long n, const uint64_t *off, const uint32_t *dst, const uint8_t *inside,
                   const uint8_t *restarted, uint64_t *new_off, uint32_t *new_dst);
long filter_wide(long n, const uint64_t *off, const uint64_t *dst, const uint8_t *inside,
                 const uint8_t *restarted, uint64_t *new_off, uint64_t *new_dst);
void first_narrow(long n, const int32_t *comp, int64_t *first);
void first_wide(long n, const int64_t *comp, int64_t *first);
long bottom_cycles(long ncomp, const uint8_t *leaves, const uint8_t *has_internal, int64_t *out);
long pm_cycle_narrow(long n, const uint64_t *off, const uint32_t *dst, const int32_t *comp, uint8_t *seen,
                     int64_t *w);
long pm_cycle_wide(long n, const uint64_t *off, const uint64_t *dst, const int64_t *comp, uint8_t *seen,
                   int64_t *w);
void postmaster_place(long n, const uint32_t *pc, const uint32_t *steps, const uint8_t *in_op, long npc,
                      uint8_t *inside, uint8_t *restarted);
"""

# One body for both edge widths (the search widens its edge array past 2^28
# states).  An edge is the successor's index times 16 plus the moving thread.
# Below 2^28 states a state number fits 32 bits, so the narrow variant keeps
# its per-state tables in int32: 24 bytes a state instead of 48, at the peak
# of a run's memory.  work holds 5 * n of them: index, low, the Tarjan stack,
# the depth-first path (state, and how far along its edge list); comp doubles
# as the on-stack mark (-2) until a state's component is known.
_SOURCE = r"""
#include <stdint.h>

#define SCC_BODY(EDGE_T, IDX_T) \
{ \
	IDX_T	   *idx = work; \
	IDX_T	   *low = work + n; \
	IDX_T	   *stack = work + 2 * n; \
	IDX_T	   *path_v = work + 3 * n; \
	IDX_T	   *path_k = work + 4 * n; \
	long		sp = 0, pp = 0; \
	IDX_T		counter = 0, ncomp = 0; \
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
		path_k[pp++] = 0; \
		while (pp > 0) \
		{ \
			IDX_T		v = path_v[pp - 1]; \
			uint64_t	k = off[v] + (uint64_t) path_k[pp - 1]; \
\
			if (k < off[v + 1]) \
			{ \
				IDX_T		w = (IDX_T) (((EDGE_T) dst[k]) >> 4); \
\
				path_k[pp - 1]++; \
				if (idx[w] == -1) \
				{ \
					idx[w] = low[w] = counter++; \
					stack[sp++] = w; \
					comp[w] = -2; \
					path_v[pp] = w; \
					path_k[pp++] = 0; \
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
					IDX_T		w = stack[--sp]; \
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
		int64_t		cv = (int64_t) comp[v]; \
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
 * into a state whose step count restarted.  Returns the number of edges kept;
 * with new_dst NULL it only counts them, so that the caller can allocate the
 * subgraph at its size rather than at the whole graph's.
 */
#define FILTER_BODY \
{ \
	long		m = 0; \
\
	if (new_dst) \
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
				if (new_dst) \
					new_dst[m] = dst[k]; \
				m++; \
			} \
		} \
		if (new_dst) \
			new_off[v + 1] = m; \
	} \
	return m; \
}

void
summary_narrow(long n, const uint64_t *off, const uint32_t *dst, const int32_t *comp,
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

/* The first state (in discovery order) of each component; first is -1 throughout on entry. */
#define FIRST_BODY \
{ \
	for (long v = 0; v < n; v++) \
		if (first[comp[v]] == -1) \
			first[comp[v]] = v; \
}

/*
 * The postmaster lasso's start (checker.explore._postmaster_lasso): per
 * component, the last state with a postmaster move (thread 0) inside the
 * component, and that state's first such move; of those states, the one
 * found first.  Walking the states backwards, a component's first sighting is
 * its last state, and the last sighting overall is the earliest of them.
 * seen (ncomp bytes, zero on entry) marks components already sighted.
 * Returns the state (-1 if there is none) and its move's target in *w.
 */
#define PM_CYCLE_BODY \
{ \
	long		best = -1; \
\
	for (long v = n - 1; v >= 0; v--) \
	{ \
		for (uint64_t k = off[v]; k < off[v + 1]; k++) \
		{ \
			uint64_t	e = dst[k]; \
\
			if ((e & 15) != 0 || comp[e >> 4] != comp[v]) \
				continue; \
			if (!seen[comp[v]]) \
			{ \
				seen[comp[v]] = 1; \
				best = v; \
				*w = (int64_t) (e >> 4); \
			} \
			break; \
		} \
	} \
	return best; \
}

void
first_narrow(long n, const int32_t *comp, int64_t *first)
FIRST_BODY

void
first_wide(long n, const int64_t *comp, int64_t *first)
FIRST_BODY

long
pm_cycle_narrow(long n, const uint64_t *off, const uint32_t *dst, const int32_t *comp, uint8_t *seen, int64_t *w)
PM_CYCLE_BODY

long
pm_cycle_wide(long n, const uint64_t *off, const uint64_t *dst, const int64_t *comp, uint8_t *seen, int64_t *w)
PM_CYCLE_BODY

/* The components that are bottom ones with an edge inside (deadlock candidates), in order; returns how many. */
long
bottom_cycles(long ncomp, const uint8_t *leaves, const uint8_t *has_internal, int64_t *out)
{
	long		m = 0;

	for (long c = 0; c < ncomp; c++)
		if (leaves[c] && has_internal[c])
			out[m++] = c;
	return m;
}

/*
 * Per state, from the postmaster's pc and step count: inside an operation
 * (in_op[pc]), and inside one with its step count restarted (0).  A pc past
 * the table is outside (there is none: the pcs come from the program).
 */
void
postmaster_place(long n, const uint32_t *pc, const uint32_t *steps, const uint8_t *in_op, long npc,
				 uint8_t *inside, uint8_t *restarted)
{
	for (long v = 0; v < n; v++)
	{
		uint8_t		in = pc[v] < (uint64_t) npc ? in_op[pc[v]] : 0;

		inside[v] = in;
		restarted[v] = in && steps[v] == 0;
	}
}

long
scc_narrow(long n, const uint64_t *off, const uint32_t *dst, int32_t *comp, int32_t *work)
SCC_BODY(uint32_t, int32_t)

long
scc_wide(long n, const uint64_t *off, const uint64_t *dst, int64_t *comp, int64_t *work)
SCC_BODY(uint64_t, int64_t)
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


def _index_typecode(graph) -> str:
    """The array type of per-state tables: int32 below 2^28 states (narrow edges), int64 above."""
    return "i" if graph.dst.typecode == "I" else "q"


def scc_bytes(graph) -> int:
    """What :func:`strongly_connected_c` allocates for ``graph`` (the component ids and the work tables)."""
    return 6 * len(graph) * array(_index_typecode(graph)).itemsize


def strongly_connected_c(graph) -> array | None:
    """The component id of every state, as :func:`checker.graph.strongly_connected`; None without C."""
    mod = _load()
    if mod is None:
        return None
    n = len(graph)
    code = _index_typecode(graph)
    comp = array(code, [0]) * n
    if n == 0:
        return comp
    work = array(code, [0]) * (5 * n)
    ffi, lib = mod.ffi, mod.lib
    narrow = code == "i"
    fn = lib.scc_narrow if narrow else lib.scc_wide
    index_t = "int32_t[]" if narrow else "int64_t[]"
    fn(n, ffi.from_buffer("uint64_t[]", graph.off), ffi.from_buffer("uint32_t[]" if narrow else "uint64_t[]", graph.dst),
       ffi.from_buffer(index_t, comp), ffi.from_buffer(index_t, work))
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
            ffi.from_buffer("int32_t[]" if narrow else "int64_t[]", comp), ffi.from_buffer("uint8_t[]", leaves),
            ffi.from_buffer("uint8_t[]", has_internal), ffi.from_buffer("int64_t[]", movers))
    return leaves, has_internal, movers


def lasso_subgraph_c(graph, inside: bytearray, restarted: bytearray, room=None):
    """The subgraph checker.explore._postmaster_lasso keeps, as a Graph; None without C.

    It counts the edges it keeps first and allocates the subgraph at that
    size; ``room(nbytes, what)``, when given, is asked before allocating it.
    """
    mod = _load()
    if mod is None:
        return None
    from checker.graph import Graph

    n = len(graph)
    sub = Graph()
    if graph.dst.typecode != "I":
        sub.widen()
    ffi, lib = mod.ffi, mod.lib
    narrow, etype = _edge_type(graph)
    fn = lib.filter_narrow if narrow else lib.filter_wide
    args = (n, ffi.from_buffer("uint64_t[]", graph.off), ffi.from_buffer(etype, graph.dst),
            ffi.from_buffer("uint8_t[]", inside), ffi.from_buffer("uint8_t[]", restarted))
    m = fn(*args, ffi.NULL, ffi.NULL) if n else 0
    if room is not None:
        room(8 * (n + 1) + sub.dst.itemsize * m, "the postmaster's subgraph")
    sub.off = array("Q", [0]) * (n + 1)
    sub.dst = array(sub.dst.typecode, [0]) * m
    if m:
        fn(*args, ffi.from_buffer("uint64_t[]", sub.off), ffi.from_buffer(etype, sub.dst))
    return sub


def first_states_c(graph, comp, ncomp: int) -> array | None:
    """The first state of each component (``first[c]``); None without C."""
    mod = _load()
    if mod is None:
        return None
    first = array("q", [-1]) * ncomp
    if len(graph) and ncomp:
        ffi, lib = mod.ffi, mod.lib
        narrow = graph.dst.typecode == "I"
        (lib.first_narrow if narrow else lib.first_wide)(
            len(graph), ffi.from_buffer("int32_t[]" if narrow else "int64_t[]", comp),
            ffi.from_buffer("int64_t[]", first))
    return first


def bottom_cycles_c(leaves: bytearray, has_internal: bytearray) -> array | None:
    """The components with ``leaves`` and ``has_internal`` both set, in order; None without C."""
    mod = _load()
    if mod is None:
        return None
    ncomp = len(leaves)
    out = array("q", [0]) * ncomp
    if ncomp:
        ffi, lib = mod.ffi, mod.lib
        m = lib.bottom_cycles(ncomp, ffi.from_buffer("uint8_t[]", leaves), ffi.from_buffer("uint8_t[]", has_internal),
                              ffi.from_buffer("int64_t[]", out))
        del out[m:]
    return out


def pm_cycle_c(sub, comp, ncomp: int):
    """The postmaster lasso's (state, target of its move), or None if there is none; NotImplemented without C."""
    mod = _load()
    if mod is None:
        return NotImplemented
    n = len(sub)
    if not n:
        return None
    ffi, lib = mod.ffi, mod.lib
    narrow, etype = _edge_type(sub)
    seen = bytearray(ncomp)
    w = ffi.new("int64_t *")
    v = (lib.pm_cycle_narrow if narrow else lib.pm_cycle_wide)(
        n, ffi.from_buffer("uint64_t[]", sub.off), ffi.from_buffer(etype, sub.dst),
        ffi.from_buffer("int32_t[]" if narrow else "int64_t[]", comp), ffi.from_buffer("uint8_t[]", seen), w)
    return None if v < 0 else (v, w[0])


def postmaster_place_c(pcs: array, steps: array, in_op) -> tuple[bytearray, bytearray] | None:
    """Per state: inside an operation, and inside with its step count restarted (from uint32 columns); None without C."""
    mod = _load()
    if mod is None:
        return None
    n = len(pcs)
    inside, restarted = bytearray(n), bytearray(n)
    if n:
        ffi, lib = mod.ffi, mod.lib
        table = bytearray(1 if x else 0 for x in in_op)
        lib.postmaster_place(n, ffi.from_buffer("uint32_t[]", pcs), ffi.from_buffer("uint32_t[]", steps),
                             ffi.from_buffer("uint8_t[]", table), len(table), ffi.from_buffer("uint8_t[]", inside),
                             ffi.from_buffer("uint8_t[]", restarted))
    return inside, restarted
