"""The cycle analysis's loops over the whole graph in C, through cffi (issue 13).

The cycle analysis finds strongly connected components twice (all edges for
deadlock freedom, the postmaster's in-operation subgraph for wait-freedom).
In Python that walk costs about as much as the search itself (~3 CPU s per
million states and 3.4 million edges).  C runs Pearce's space-efficient
variant of Tarjan's algorithm (4 bytes and a bit per state, and two stacks
that grow as they are used, where Tarjan's tables took 24 bytes a state): the
same depth-first search, edge for edge, closing the same components in the
same order, so the component numbering -- which decides which counterexample
the analysis reports -- is the one :func:`checker.graph.strongly_connected_py`
gives; ``tests/test_graph_c.py`` compares the two.

Built on first use into the C build cache of ``refimpl.build`` (same cache
directory, same lock, a name that hashes the source).  Without a working C
compiler the Python version runs instead, after a one-line notice.
"""

from __future__ import annotations

import sys
from array import array

# The C types of each variant of the loops over a graph, named by the typecodes of the graph's arrays
# (offsets, edges): 32-bit offsets below 2^32 edges, 32-bit edges below 2^28 states, and the per-state
# tables (component ids) 32-bit with 32-bit edges.  checker.graph.Graph widens its offsets whenever it
# widens its edges, so there is no "IQ".
_VARIANTS = {
    "II": ("uint32_t", "uint32_t", "int32_t"),
    "QI": ("uint64_t", "uint32_t", "int32_t"),
    "QQ": ("uint64_t", "uint64_t", "int64_t"),
}
_INDEX_TYPECODES = {"int32_t": "i", "int64_t": "q"}  # the per-state tables as Python arrays

_SIGNATURES = (
    ("long scc_{v}(long n, const {off} *off, const {edge} *dst, {idx} *rindex, long first_stack, "
     "long stack_budget)", "SCC_BODY({edge}, {idx})"),
    ("void summary_{v}(long n, const {off} *off, const {edge} *dst, const {idx} *comp, uint8_t *leaves, "
     "uint8_t *has_internal)", "SUMMARY_BODY"),
    ("void candidates_{v}(long n, const {off} *off, const {edge} *dst, const {idx} *comp, const uint8_t *mark, "
     "long ncand, const int64_t *cand, int64_t *movers, int64_t *first)", "CANDIDATES_BODY"),
    ("long filter_{v}(long n, {off} *off, {edge} *dst, const uint8_t *inside, const uint8_t *restarted)",
     "FILTER_BODY"),
    ("long pm_cycle_{v}(long n, const {off} *off, const {edge} *dst, const {idx} *comp, uint8_t *seen, "
     "int64_t *w)", "PM_CYCLE_BODY"),
)


def _instances() -> list[tuple[str, str]]:
    """(declaration, body macro) of every loop in every variant."""
    return [(sig.format(v=v, off=off, edge=edge, idx=idx), body.format(edge=edge, idx=idx))
            for v, (off, edge, idx) in _VARIANTS.items() for sig, body in _SIGNATURES]


_CDEF = "".join(f"{decl};\n" for decl, _body in _instances()) + """
long bottom_cycles(long ncomp, uint8_t *leaves, const uint8_t *has_internal, int64_t *out);
"""

# One body for every width of the graph's arrays (_VARIANTS).  An edge is the
# successor's index times 16 plus the moving thread.  Below 2^28 states a
# state number fits 32 bits, so the variants with 32-bit edges keep their
# per-state table in int32.
#
# Pearce's space-efficient variant of Tarjan's algorithm ("A space-efficient
# algorithm for finding strongly connected components", IPL 116(1), 2016):
# one number per state, rindex, which is the state's DFS index while it is
# open, the lowest index it reaches once it is on the component stack, and
# its component's number once that is closed; a bit per state says whether
# it is still its component's root.  Tarjan's index, low and on-stack mark
# (24 bytes a state narrow, with the stack and the path) become 4 bytes and a
# bit: the rest is the two stacks, which hold the open path and the states
# waiting for their component, and grow as they are used.  The depth-first
# search is Tarjan's, edge for edge, and a component closes when its root
# finishes in both, so the components come out in the same order: Pearce
# numbers them down from n - 1, and the last loop turns that into Tarjan's
# 0, 1, 2, ... (checker.graph.strongly_connected_py, which the tests compare).
#
# Returns the number of components; -1 when an allocation fails; -2 when the
# stacks would pass stack_budget bytes (--max-memory; negative: no budget).
_SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>

static int
grow_stack(void **stack, long *cap, size_t item, long *budget)
{
	long		ncap = *cap * 2;
	void	   *bigger;

	if (*budget >= 0)
	{
		long		more = (ncap - *cap) * (long) item;

		if (more > *budget)
			return -2;
		*budget -= more;
	}
	bigger = realloc(*stack, (size_t) ncap * item);
	if (!bigger)
		return -1;
	*stack = bigger;
	*cap = ncap;
	return 0;
}

/* A stack that could not grow ends the search with its reason (-1, -2), after the frees. */
#define STOP_IF_FAILED(r) \
	do { \
		if ((r) < 0) \
		{ \
			result = (r); \
			goto done; \
		} \
	} while (0)

#define SCC_BODY(EDGE_T, IDX_T) \
{ \
	long		budget = stack_budget; \
	long		path_cap = first_stack, comp_cap = first_stack, pp = 0, sp = 0; \
	IDX_T	   *path_v = malloc(path_cap * sizeof(IDX_T)); \
	uint32_t   *path_k = malloc(path_cap * sizeof(uint32_t)); \
	IDX_T	   *waiting = malloc(comp_cap * sizeof(IDX_T)); \
	uint8_t    *root = calloc((size_t) n / 8 + 1, 1); \
	IDX_T		index = 1, c = (IDX_T) n - 1; \
	long		result = 0; \
\
	if (!path_v || !path_k || !waiting || !root) \
	{ \
		result = -1; \
		goto done; \
	} \
	for (long i = 0; i < n; i++) \
		rindex[i] = 0; \
	for (long start = 0; start < n; start++) \
	{ \
		if (rindex[start] != 0) \
			continue; \
		rindex[start] = index++; \
		root[start >> 3] |= 1 << (start & 7); \
		path_v[0] = (IDX_T) start; \
		path_k[0] = 0; \
		pp = 1; \
		while (pp > 0) \
		{ \
			IDX_T		v = path_v[pp - 1]; \
			uint64_t	k = off[v] + path_k[pp - 1]; \
\
			if (k < off[v + 1]) \
			{ \
				IDX_T		w = (IDX_T) (((EDGE_T) dst[k]) >> 4); \
\
				path_k[pp - 1]++; \
				if (rindex[w] == 0) \
				{ \
					if (pp == path_cap) \
					{ \
						long		was = path_cap; \
						int			r = grow_stack((void **) &path_v, &path_cap, sizeof(IDX_T), &budget); \
\
						if (r == 0) \
						{ \
							path_cap = was; \
							r = grow_stack((void **) &path_k, &path_cap, sizeof(uint32_t), &budget); \
						} \
						STOP_IF_FAILED(r); \
					} \
					rindex[w] = index++; \
					root[w >> 3] |= 1 << (w & 7); \
					path_v[pp] = w; \
					path_k[pp++] = 0; \
				} \
				else if (rindex[w] < rindex[v]) \
				{ \
					rindex[v] = rindex[w]; \
					root[v >> 3] &= ~(1 << (v & 7)); \
				} \
				continue; \
			} \
			/* v is finished: close its component, or leave it waiting for its root */ \
			pp--; \
			if (root[v >> 3] & (1 << (v & 7))) \
			{ \
				index--; \
				while (sp > 0 && rindex[v] <= rindex[waiting[sp - 1]]) \
				{ \
					rindex[waiting[--sp]] = c; \
					index--; \
				} \
				rindex[v] = c--; \
			} \
			else \
			{ \
				if (sp == comp_cap) \
				{ \
					int			r = grow_stack((void **) &waiting, &comp_cap, sizeof(IDX_T), &budget); \
\
					STOP_IF_FAILED(r); \
				} \
				waiting[sp++] = v; \
			} \
			if (pp > 0) \
			{ \
				IDX_T		u = path_v[pp - 1]; \
\
				if (rindex[v] < rindex[u]) \
				{ \
					rindex[u] = rindex[v]; \
					root[u >> 3] &= ~(1 << (u & 7)); \
				} \
			} \
		} \
	} \
	for (long i = 0; i < n; i++) \
		rindex[i] = (IDX_T) (n - 1) - rindex[i]; \
	result = (long) (n - 1) - (long) c; \
done: \
	free(path_v); \
	free(path_k); \
	free(waiting); \
	free(root); \
	return result; \
}

/*
 * Per component: leaves (no edge leaves it; set to 1 by the caller) and has
 * an edge inside -- the first loop of checker.explore._bottom_component_deadlock.
 * Two bytes a component: most components are single states, so a table of
 * more per component (the threads moving inside, the first state) is kept
 * for the deadlock candidates only (CANDIDATES_BODY).
 */
#define SUMMARY_BODY \
{ \
	for (long v = 0; v < n; v++) \
	{ \
		int64_t		cv = (int64_t) comp[v]; \
\
		for (uint64_t k = off[v]; k < off[v + 1]; k++) \
		{ \
			if (comp[dst[k] >> 4] != cv) \
				leaves[cv] = 0; \
			else \
				has_internal[cv] = 1; \
		} \
	} \
}

/*
 * For each deadlock candidate (marked in mark, listed in cand in increasing
 * order): the first state in it and the mask of the threads that move inside
 * it.  A marked component's place in cand is found by bisection.
 */
#define CANDIDATES_BODY \
{ \
	for (long v = 0; v < n; v++) \
	{ \
		int64_t		cv = (int64_t) comp[v]; \
		long		lo = 0, hi = ncand - 1; \
\
		if (!mark[cv]) \
			continue; \
		while (lo < hi) \
		{ \
			long		mid = (lo + hi) / 2; \
\
			if (cand[mid] < cv) \
				lo = mid + 1; \
			else \
				hi = mid; \
		} \
		if (first[lo] == -1) \
			first[lo] = v; \
		for (uint64_t k = off[v]; k < off[v + 1]; k++) \
		{ \
			uint64_t	e = dst[k]; \
\
			if (comp[e >> 4] == cv) \
				movers[lo] |= (int64_t) 1 << (e & 15); \
		} \
	} \
}

/*
 * The postmaster's lasso subgraph (checker.explore._postmaster_lasso's keep):
 * an edge stays when its source is not AHEAD (2), both ends are on the same
 * side of an operation boundary, and it is not a postmaster move (thread 0)
 * into a state whose step count restarted.  The graph becomes the subgraph
 * in place: an edge kept is written at or before where it was read, and each
 * offset is overwritten only once its old value has been read, so the run
 * never holds the graph and its subgraph at once.  Returns the number of
 * edges kept (the caller trims the edge array to it).
 */
#define FILTER_BODY \
{ \
	long		m = 0; \
	uint64_t	start = off[0]; \
\
	off[0] = 0; \
	for (long v = 0; v < n; v++) \
	{ \
		uint64_t	end = off[v + 1]; \
\
		if (inside[v] != 2) \
		{ \
			for (uint64_t k = start; k < end; k++) \
			{ \
				uint64_t	e = dst[k]; \
				uint64_t	w = e >> 4; \
\
				if (inside[w] != inside[v]) \
					continue; \
				if ((e & 15) == 0 && restarted[w]) \
					continue; \
				dst[m++] = dst[k]; \
			} \
		} \
		off[v + 1] = m; \
		start = end; \
	} \
	return m; \
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

/*
 * The components that are bottom ones with an edge inside (deadlock
 * candidates): leaves becomes their mark (1 for them, 0 for the rest); with
 * out, they are listed in it in order.  Returns how many.
 */
long
bottom_cycles(long ncomp, uint8_t *leaves, const uint8_t *has_internal, int64_t *out)
{
	long		m = 0;

	for (long c = 0; c < ncomp; c++)
	{
		if (leaves[c] && has_internal[c])
		{
			leaves[c] = 1;
			if (out)
				out[m] = c;
			m++;
		}
		else
			leaves[c] = 0;
	}
	return m;
}
"""

_SOURCE += "".join(f"\n{decl}\n{body}\n" for decl, body in _instances())

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
    return _INDEX_TYPECODES[_VARIANTS[_variant(graph)][2]]


def scc_bytes(graph) -> int:
    """What :func:`strongly_connected_c` allocates for ``graph`` before it starts: the component ids and the root
    bits (its two stacks grow as they fill, within the budget it is given)."""
    n = len(graph)
    index_size = array(_index_typecode(graph)).itemsize
    return n * index_size + n // 8 + 1 + _FIRST_STACKS * (2 * index_size + 4)


class StacksPastBudget(Exception):
    """The component search's stacks would grow past the budget it was given (they are freed)."""


_FIRST_STACKS = 1024  # entries the C function's stacks start with (it doubles them as they fill; >= 1)


def strongly_connected_c(graph, stack_budget: int | None = None) -> array | None:
    """The component id of every state, as :func:`checker.graph.strongly_connected`; None without C."""
    found = components_c(graph, stack_budget)
    return None if found is None else found[0]


def components_c(graph, stack_budget: int | None = None) -> tuple[array, int] | None:
    """The component id of every state and the number of components; None without C.

    ``stack_budget``: bytes the depth-first path and the component stack may
    grow to hold, beyond what they start with; past it StacksPastBudget
    (--max-memory), as an allocation that fails is a MemoryError.
    """
    mod = _load()
    if mod is None:
        return None
    n = len(graph)
    code = _index_typecode(graph)
    comp = array(code, [0]) * n
    if n == 0:
        return comp, 0
    ffi, lib = mod.ffi, mod.lib
    r = _loop(lib, "scc", graph)(
        n, *_graph_args(ffi, graph), ffi.from_buffer(_comp_type(graph), comp), _FIRST_STACKS,
        -1 if stack_budget is None else stack_budget)
    if r == -2:
        raise StacksPastBudget
    if r < 0:
        raise MemoryError("out of memory in the component search")
    return comp, r


def _variant(graph) -> str:
    """The key of _VARIANTS for ``graph``'s arrays."""
    return graph.off.typecode + graph.dst.typecode


def _loop(lib, name: str, graph):
    return getattr(lib, f"{name}_{_variant(graph)}")


def _graph_args(ffi, graph) -> tuple:
    """The offsets and the edges of ``graph`` as the C loops take them."""
    off, edge, _index = _VARIANTS[_variant(graph)]
    return ffi.from_buffer(f"{off}[]", graph.off), ffi.from_buffer(f"{edge}[]", graph.dst)


def _comp_type(graph) -> str:
    return _VARIANTS[_variant(graph)][2] + "[]"


def component_summary_c(graph, comp, ncomp: int):
    """(leaves, has_internal) per component, as checker.explore._bottom_component_deadlock computes them; None
    without C."""
    mod = _load()
    if mod is None:
        return None
    leaves = bytearray(b"\x01") * ncomp
    has_internal = bytearray(ncomp)
    if len(graph) and ncomp:
        ffi, lib = mod.ffi, mod.lib
        _loop(lib, "summary", graph)(
            len(graph), *_graph_args(ffi, graph), ffi.from_buffer(_comp_type(graph), comp), ffi.from_buffer("uint8_t[]", leaves),
            ffi.from_buffer("uint8_t[]", has_internal))
    return leaves, has_internal


def candidate_details_c(graph, comp, mark: bytearray, candidates: array):
    """(movers, first) of each candidate (``mark[c]`` set, ``candidates`` in increasing order): the mask of the
    threads that move inside it and its first state; None without C."""
    mod = _load()
    if mod is None:
        return None
    movers = array("q", [0]) * len(candidates)
    first = array("q", [-1]) * len(candidates)
    if candidates:
        ffi, lib = mod.ffi, mod.lib
        _loop(lib, "candidates", graph)(
            len(graph), *_graph_args(ffi, graph), ffi.from_buffer(_comp_type(graph), comp), ffi.from_buffer("uint8_t[]", mark), len(candidates),
            ffi.from_buffer("int64_t[]", candidates), ffi.from_buffer("int64_t[]", movers),
            ffi.from_buffer("int64_t[]", first))
    return movers, first


def lasso_subgraph_c(graph, inside: bytearray, restarted: bytearray):
    """``graph`` made, in place, into the subgraph checker.explore._postmaster_lasso keeps; None without C.

    The graph is not needed again and is often the run's largest structure:
    filtered where it lies, the run never holds it and its subgraph at once.
    """
    mod = _load()
    if mod is None:
        return None
    n = len(graph)
    if n:
        ffi, lib = mod.ffi, mod.lib
        m = _loop(lib, "filter", graph)(
            n, *_graph_args(ffi, graph),
            ffi.from_buffer("uint8_t[]", inside), ffi.from_buffer("uint8_t[]", restarted))
        del graph.dst[m:]
    return graph


def bottom_cycles_c(leaves: bytearray, has_internal: bytearray) -> array | None:
    """The components with ``leaves`` and ``has_internal`` both set, in order; None without C.

    ``leaves`` becomes their mark (1 for them, 0 for the others): counted
    first, the list is allocated at its own size, not one entry a component."""
    mod = _load()
    if mod is None:
        return None
    ncomp = len(leaves)
    if not ncomp:
        return array("q")
    ffi, lib = mod.ffi, mod.lib
    m = lib.bottom_cycles(ncomp, ffi.from_buffer("uint8_t[]", leaves), ffi.from_buffer("uint8_t[]", has_internal),
                          ffi.NULL)
    out = array("q", [0]) * m
    if m:
        lib.bottom_cycles(ncomp, ffi.from_buffer("uint8_t[]", leaves), ffi.from_buffer("uint8_t[]", leaves),
                          ffi.from_buffer("int64_t[]", out))
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
    seen = bytearray(ncomp)
    w = ffi.new("int64_t *")
    v = _loop(lib, "pm_cycle", sub)(
        n, *_graph_args(ffi, sub), ffi.from_buffer(_comp_type(sub), comp), ffi.from_buffer("uint8_t[]", seen), w)
    return None if v < 0 else (v, w[0])
