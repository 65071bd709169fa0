"""The fixed part of the C search of ``--engine c`` (see checker.engine_c).

The generator prepends the system's layout macros and its step functions;
this text is the breadth-first search itself, the same for every system.

A state lives in two forms.  Unpacked, it is ``W`` 32-bit words: shared
memory, ghost state, then each program thread's tuple (pc, steps, locals).
Packed, it is ``K = 2 + NT`` component ids: memory, ghost, one per thread,
each interned in a table of its own (collapse compression, as the compact
Python search does), so a state costs K words however wide its threads are.
States are numbered in discovery order; the queue is that order, the parent
of each state an index, and the depth is kept as level boundaries.
"""

RUNTIME = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define K (2 + NT)
#define FB 1        /* a step the C code leaves to Python (checker.engine_c._fallback) */
#define NOMEM 2

/* --- interning tables: fixed-width word tuples <-> dense ids ------------ */

typedef struct
{
	uint32_t	width;
	uint64_t	count;
	uint64_t	cap;		/* items allocated */
	uint32_t   *items;
	uint32_t   *slots;		/* id + 1, 0 empty */
	/*
	 * Beside each slot, 8 bits of its item's hash (the top byte): a probe
	 * fetches an item, a cache miss anywhere in a table of gigabytes, only
	 * when the tags agree (1 in 256 of the occupied slots it passes that are
	 * not the one it looks for), at one byte a slot.
	 */
	uint8_t    *tags;
	uint64_t	nslots;
} tab_t;

static uint64_t
mix_words(const uint32_t *w, uint32_t n)
{
	uint64_t	h = 0x243F6A8885A308D3ull ^ n;

	for (uint32_t k = 0; k < n; k++)
	{
		h ^= w[k];
		h *= 0xD6E8FEB86659FD93ull;
		h ^= h >> 32;
	}
	h *= 0x9FB21C651E98DF25ull;
	h ^= h >> 29;
	return h;
}

static int
tab_init(tab_t *t, uint32_t width)
{
	t->width = width;
	t->count = 0;
	t->cap = 1024;
	t->nslots = 2048;
	t->items = malloc(t->cap * (width ? width : 1) * sizeof(uint32_t));
	t->slots = calloc(t->nslots, sizeof(uint32_t));
	t->tags = malloc(t->nslots);
	return t->items && t->slots && t->tags ? 0 : -1;
}

static void
tab_free(tab_t *t)
{
	free(t->items);
	free(t->slots);
	free(t->tags);
	t->items = NULL;
	t->slots = NULL;
	t->tags = NULL;
}

/* After the search: drop the hash slots and the spare capacity (a failed realloc keeps the larger block). */
static void
tab_shrink(tab_t *t)
{
	free(t->slots);
	free(t->tags);
	t->slots = NULL;
	t->tags = NULL;
	t->nslots = 0;
	if (t->count && t->width && t->count < t->cap)
	{
		uint32_t   *ni = realloc(t->items, t->count * t->width * sizeof(uint32_t));

		if (ni)
		{
			t->items = ni;
			t->cap = t->count;
		}
	}
}

static int
tab_grow_slots(tab_t *t)
{
	uint64_t	n = t->nslots * 2;
	uint32_t   *s = calloc(n, sizeof(uint32_t));
	uint8_t    *g = malloc(n);

	if (!s || !g)
	{
		free(s);
		free(g);
		return -1;
	}
	for (uint64_t id = 0; id < t->count; id++)
	{
		uint64_t	full = mix_words(t->items + id * t->width, t->width);
		uint64_t	h = full & (n - 1);

		while (s[h])
			h = (h + 1) & (n - 1);
		s[h] = (uint32_t) (id + 1);
		g[h] = (uint8_t) (full >> 56);
	}
	free(t->slots);
	free(t->tags);
	t->slots = s;
	t->tags = g;
	t->nslots = n;
	return 0;
}

/*
 * The id of w, or -1 when it is not in the table; then *slot is the empty
 * slot it would take and *tag its tag.
 */
static inline int64_t
tab_probe(const tab_t *t, const uint32_t *w, uint64_t *slot, uint8_t *tag)
{
	uint64_t	mask = t->nslots - 1;
	uint64_t	full = mix_words(w, t->width);
	uint64_t	h = full & mask;

	*tag = (uint8_t) (full >> 56);
	for (;;)
	{
		uint32_t	e = t->slots[h];

		if (!e)
		{
			*slot = h;
			return -1;
		}
		if (t->tags[h] == *tag
			&& memcmp(t->items + (uint64_t) (e - 1) * t->width, w, t->width * sizeof(uint32_t)) == 0)
			return e - 1;
		h = (h + 1) & mask;
	}
}

/* The id of w (added when new; *added says which); -1 when out of memory or ids. */
static int64_t
tab_intern(tab_t *t, const uint32_t *w, int *added)
{
	uint64_t	h;
	uint8_t		tag;
	uint32_t	width = t->width;
	int64_t		found = tab_probe(t, w, &h, &tag);

	if (found >= 0)
	{
		*added = 0;
		return found;
	}
	if (t->count >= 0xFFFFFFFEull)
		return -1;
	if (t->count == t->cap)
	{
		uint64_t	nc = t->cap * 2;
		uint32_t   *ni = realloc(t->items, nc * (width ? width : 1) * sizeof(uint32_t));

		if (!ni)
			return -1;
		t->items = ni;
		t->cap = nc;
	}
	memcpy(t->items + t->count * width, w, width * sizeof(uint32_t));
	t->slots[h] = (uint32_t) (t->count + 1);
	t->tags[h] = tag;
	t->count++;
	*added = 1;
	if (t->count * 10 >= t->nslots * 7 && tab_grow_slots(t) < 0)
		return -1;
	return t->count - 1;
}

/* --- the moves of one thread, buffered until the thread's step is done -- */

typedef struct
{
	int32_t		kind;		/* -1: a successor; else the violated property's number */
	uint8_t		mem_changed, ghost_changed;
	uint32_t	w[W];
} move_t;

#define MAXMOVES 4096
static move_t *moves;
static int	nmoves;

static uint32_t *
push_move(int kind, int memc, int ghostc)
{
	move_t	   *m;

	if (nmoves >= MAXMOVES)
		return NULL;
	m = &moves[nmoves++];
	m->kind = kind;
	m->mem_changed = (uint8_t) memc;
	m->ghost_changed = (uint8_t) ghostc;
	return m->w;
}

static int
push_violation(int prop)
{
	return push_move(prop, 0, 0) ? 0 : NOMEM;
}

static inline uint64_t ub_div(uint64_t a, uint64_t b, int *ub) { if (!b) { *ub = 1; return 0; } return a / b; }
static inline uint64_t ub_mod(uint64_t a, uint64_t b, int *ub) { if (!b) { *ub = 1; return 0; } return a % b; }
static inline uint64_t ub_shl(uint64_t a, uint64_t b, int *ub) { if (b >= 32) { *ub = 1; return 0; } return (a << b) & 0xFFFFFFFFull; }
static inline uint64_t ub_shr(uint64_t a, uint64_t b, int *ub) { if (b >= 32) { *ub = 1; return 0; } return a >> b; }
static inline uint64_t g_shl(uint64_t a, uint64_t b) { return b >= 64 ? 0 : a << b; }
static inline uint64_t g_shr(uint64_t a, uint64_t b) { return b >= 64 ? 0 : a >> b; }
static inline uint64_t g_idx(uint64_t base, uint64_t len, uint64_t i, int *ub) { if (i >= len) { *ub = 1; return base; } return base + i; }
static inline uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t umax(uint64_t a, uint64_t b) { return a > b ? a : b; }

STEP_FUNCTIONS

/* --- the search -------------------------------------------------------- */

static tab_t comp[K];		/* component tables: memory, ghost, each thread */
static tab_t states;		/* packed states: K ids each */
static uint32_t *parent;
static uint64_t parent_cap;
static uint64_t expanded, transitions, level_end, depth, max_depth_seen;
static uint32_t max_states, max_depth;
static uint64_t checked_mask, cut_by, recorded_mask;
static int	stop_on_first, check_quiescent, keep_edges, cut, limit_hit, failed, started;
static int32_t *rec_prop, *rec_ord;
static uint32_t *rec_state;
static int	nrec;
static uint64_t *edge_off;
static uint32_t *edge_dst;
static uint64_t nedges, edge_cap, edge_off_cap;
static uint32_t cur[W];

static void
unpack(uint64_t idx, uint32_t *out)
{
	const uint32_t *key = states.items + idx * K;

	memcpy(out + MEM_OFF, comp[0].items + (uint64_t) key[0] * MEM_LEN, MEM_LEN * sizeof(uint32_t));
	memcpy(out + GHOST_OFF, comp[1].items + (uint64_t) key[1] * GHOST_LEN, GHOST_LEN * sizeof(uint32_t));
	for (int t = 0; t < NT; t++)
		memcpy(out + thr_off[t], comp[2 + t].items + (uint64_t) key[2 + t] * thr_len[t],
			   thr_len[t] * sizeof(uint32_t));
}

static void
record(int prop, uint64_t state, int32_t ordinal)
{
	uint64_t	bit = 1ull << prop;

	if (!(checked_mask & bit) || (recorded_mask & bit))
		return;
	recorded_mask |= bit;
	rec_prop[nrec] = prop;
	rec_state[nrec] = (uint32_t) state;
	rec_ord[nrec] = ordinal;
	nrec++;
}

static int
check_new(uint64_t idx, const uint32_t *w)
{
	int			r;

	if (!check_quiescent || busy(w))
		return 0;
	r = slotcheck_c_check((uint32_t) idx, w);
	if (r == -2)
		return -1;
	if (r >= 0)
		record(r, idx, -1);
	return 0;
}

static int
add_edge(uint64_t j, int tid)
{
	if (j >= (1ull << 28))
		return -3;		/* an edge no longer fits 32 bits */
	if (nedges == edge_cap)
	{
		uint64_t	nc = edge_cap ? edge_cap * 2 : 4096;
		uint32_t   *nd = realloc(edge_dst, nc * sizeof(uint32_t));

		if (!nd)
			return -1;
		edge_dst = nd;
		edge_cap = nc;
	}
	edge_dst[nedges++] = (uint32_t) (j * 16 + tid);
	return 0;
}

/* 0 fine, 1 the state limit, -1 out of memory, -2 a Python error, -3 edges past 2^28 states */
static int
add_successor(const uint32_t *pkey, const move_t *m, int tid, int fell_back)
{
	uint32_t	key[K];
	int			added;
	int64_t		id;
	uint64_t	j;

	memcpy(key, pkey, sizeof(key));
	if (m->mem_changed || fell_back)
	{
		if ((id = tab_intern(&comp[0], m->w + MEM_OFF, &added)) < 0)
			return -1;
		key[0] = (uint32_t) id;
	}
	if (m->ghost_changed || fell_back)
	{
		if ((id = tab_intern(&comp[1], m->w + GHOST_OFF, &added)) < 0)
			return -1;
		key[1] = (uint32_t) id;
	}
	if ((id = tab_intern(&comp[2 + tid], m->w + thr_off[tid], &added)) < 0)
		return -1;
	key[2 + tid] = (uint32_t) id;
	if (fell_back)
		for (int t = 0; t < NT; t++)
		{
			if ((id = tab_intern(&comp[2 + t], m->w + thr_off[t], &added)) < 0)
				return -1;
			key[2 + t] = (uint32_t) id;
		}
	/* The state limit is met before the state would be added, as the Python search does. */
	if (states.count >= max_states)
	{
		uint64_t	slot;
		uint8_t		tag;

		if (tab_probe(&states, key, &slot, &tag) < 0)
			return 1;
	}
	if ((id = tab_intern(&states, key, &added)) < 0)
		return -1;
	j = (uint64_t) id;
	if (added)
	{
		if (j == parent_cap)
		{
			uint32_t   *np = realloc(parent, parent_cap * 2 * sizeof(uint32_t));

			if (!np)
				return -1;
			parent = np;
			parent_cap *= 2;
		}
		parent[j] = (uint32_t) expanded;
		if (depth + 1 > max_depth_seen)
			max_depth_seen = depth + 1;
		if (check_new(j, m->w) < 0)
			return -2;
	}
	if (keep_edges)
		return add_edge(j, tid);
	return 0;
}

#if ROGUE_TID >= 0
static move_t rogue_move;

/*
 * The rogue's moves after the program threads' (Engine.rogue_successors): each
 * value but the current one into the word the postmaster is about to read
 * (with ROGUE_ANYWHERE, into every word), kernel words left out, while writes
 * are left.  0 fine, else add_successor's value.
 */
static int
rogue_step(const uint32_t *pkey, int *any)
{
	uint32_t	left = cur[ROGUE_OFF];
	uint64_t	lo, hi;

	if (left == 0)
		return 0;
#if ROGUE_ANYWHERE
	lo = 0;
	hi = MEM_LEN;
#else
	if (!pm_read_address(cur, &lo))
		return 0;
	hi = lo + 1;
#endif
	for (uint64_t a = lo; a < hi; a++)
	{
		if (kernel_word[a])
			continue;	/* a worker's fork and exit are the kernel's, not shared memory */
		for (int k = 0; k < ROGUE_NVALUES; k++)
		{
			int			r;

			if (rogue_values[k] == cur[MEM_OFF + a])
				continue;
			memcpy(rogue_move.w, cur, sizeof(cur));
			rogue_move.w[MEM_OFF + a] = rogue_values[k];
			rogue_move.w[ROGUE_OFF] = left == ROGUE_UNLIMITED ? left : left - 1;
			rogue_move.kind = -1;
			rogue_move.mem_changed = 1;
			rogue_move.ghost_changed = 0;
			*any = 1;
			transitions++;
			r = add_successor(pkey, &rogue_move, ROGUE_TID, 0);
			if (r != 0)
				return r;
		}
	}
	return 0;
}
#endif

static void
release_all(void)
{
	for (int c = 0; c < K; c++)
		tab_free(&comp[c]);
	tab_free(&states);
	free(parent);
	free(rec_prop);
	free(rec_state);
	free(rec_ord);
	free(edge_off);
	free(edge_dst);
	free(moves);
	parent = NULL;
	rec_prop = rec_ord = NULL;
	rec_state = NULL;
	edge_off = NULL;
	edge_dst = NULL;
	moves = NULL;
	nedges = edge_cap = 0;
	started = 0;
}

void
sc_free(void)
{
	if (started)
		release_all();
}

/* 0, or -1 out of memory, -2 a Python error (the initial state's check) */
int
sc_start(const uint32_t *init, uint32_t max_states_, uint32_t max_depth_, uint64_t checked,
		 int stop_on_first_, int check_quiescent_, int keep_edges_)
{
	int			added;
	uint32_t	key[K];

	sc_free();
	started = 1;
	if (tab_init(&comp[0], MEM_LEN) || tab_init(&comp[1], GHOST_LEN) || tab_init(&states, K))
		return -1;
	for (int t = 0; t < NT; t++)
		if (tab_init(&comp[2 + t], thr_len[t]))
			return -1;
	moves = malloc(MAXMOVES * sizeof(move_t));
	parent_cap = 1024;
	parent = malloc(parent_cap * sizeof(uint32_t));
	rec_prop = malloc(64 * sizeof(int32_t));
	rec_ord = malloc(64 * sizeof(int32_t));
	rec_state = malloc(64 * sizeof(uint32_t));
	edge_off_cap = 1024;
	edge_off = malloc(edge_off_cap * sizeof(uint64_t));
	if (!moves || !parent || !rec_prop || !rec_ord || !rec_state || !edge_off)
		return -1;
	nrec = 0;
	expanded = transitions = depth = max_depth_seen = 0;
	level_end = 1;
	cut_by = recorded_mask = 0;
	cut = limit_hit = failed = 0;
	max_states = max_states_;
	max_depth = max_depth_;
	checked_mask = checked;
	stop_on_first = stop_on_first_;
	check_quiescent = check_quiescent_;
	keep_edges = keep_edges_;
	nedges = edge_cap = 0;
	edge_off[0] = 0;
	key[0] = (uint32_t) tab_intern(&comp[0], init + MEM_OFF, &added);
	key[1] = (uint32_t) tab_intern(&comp[1], init + GHOST_OFF, &added);
	for (int t = 0; t < NT; t++)
		key[2 + t] = (uint32_t) tab_intern(&comp[2 + t], init + thr_off[t], &added);
	if (tab_intern(&states, key, &added) < 0)
		return -1;
	parent[0] = 0xFFFFFFFFu;
	if (check_new(0, init) < 0)
		return -2;
	return 0;
}

/*
 * Expand up to budget states.  Returns 0 when there is more to do, 1 when
 * the search is over (queue empty, stopped at a violation, or a bound), -1
 * out of memory, -2 a Python callback failed (Python has its exception),
 * -3 too many states for the edge array of the cycle analysis.
 */
int
sc_run(uint64_t budget)
{
	uint32_t	pkey[K];

	while (budget--)
	{
		int			any = 0,
					pm_any = 0;
		int32_t		ordinal = 0;

		if (expanded >= states.count || limit_hit)
			return 1;
		if (stop_on_first && recorded_mask)
			return 1;
		if (expanded == level_end)
		{
			depth++;
			level_end = states.count;
		}
		if (keep_edges && expanded + 2 > edge_off_cap)
		{
			uint64_t   *no = realloc(edge_off, edge_off_cap * 2 * sizeof(uint64_t));

			if (!no)
				return -1;
			edge_off = no;
			edge_off_cap *= 2;
		}
		if (depth >= max_depth)
		{
			cut = 1;
			if (keep_edges)
				edge_off[expanded + 1] = nedges;
			expanded++;
			continue;
		}
		unpack(expanded, cur);
		memcpy(pkey, states.items + expanded * K, sizeof(pkey));
		for (int t = 0; t < NT; t++)
		{
			int			r,
						fell_back = 0;

			if (t == ROGUE_TID)
				continue;	/* its moves come after every program thread's */
			nmoves = 0;
			r = step_thread(t, cur);
			if (r == NOMEM)
				return -1;
			if (r == FB)
			{
				int			n;

				nmoves = 0;
				n = slotcheck_c_fallback(t, cur, (void *) moves, MAXMOVES);
				if (n < 0)
					return -2;
				nmoves = n;
				fell_back = 1;
			}
			if (t == 0 && nmoves)
				pm_any = 1;
			for (int k = 0; k < nmoves; k++, ordinal++)
			{
				move_t	   *m = &moves[k];

				any = 1;
				transitions++;
				if (m->kind >= 0)
				{
					cut_by |= 1ull << m->kind;
					record(m->kind, expanded, ordinal);
					continue;
				}
				r = add_successor(pkey, m, t, fell_back);
				if (r == 1)
				{
					limit_hit = 1;
					return 1;
				}
				if (r < 0)
					return r;
			}
		}
#if ROGUE_TID >= 0
		{
			int			r = rogue_step(pkey, &any);

			if (r == 1)
			{
				limit_hit = 1;
				return 1;
			}
			if (r < 0)
				return r;
		}
#endif
		if (!any)
		{
			if (!all_halted(cur))
				record(DEADLOCK_PROP, expanded, -1);
		}
#if ROGUE_TID >= 0
		/* With a rogue only the postmaster must keep going (checker.engine_c tells this deadlock). */
		else if (!pm_any && !pm_halted(cur))
			record(DEADLOCK_PROP, expanded, POSTMASTER_STUCK);
#endif
		if (keep_edges)
			edge_off[expanded + 1] = nedges;
		expanded++;
	}
	return expanded >= states.count ? 1 : 0;
}

/* what: 0 states, 1 transitions, 2 max depth, 3 expanded, 4 cut (a depth bound), 5 state limit hit,
   6 cut_by mask, 7 records, 8 bytes of the state table (keys + slots + parents), 9 bytes of the
   component tables, 10 edges, 11 the largest postmaster step count */
uint64_t
sc_info(int what)
{
	switch (what)
	{
		case 0: return states.count;
		case 1: return transitions;
		case 2: return max_depth_seen;
		case 3: return expanded;
		case 4: return (uint64_t) cut;
		case 5: return (uint64_t) limit_hit;
		case 6: return cut_by;
		case 7: return (uint64_t) nrec;
		case 8: return states.cap * K * 4 + states.nslots * 5 + parent_cap * 4;
		case 9:
		{
			uint64_t	b = 0;

			for (int c = 0; c < K; c++)
				b += comp[c].cap * comp[c].width * 4 + comp[c].nslots * 5;
			return b;
		}
		case 10: return nedges;
		case 11:
		{
			uint64_t	best = 0;

			for (int t = 0; t < NT; t++)
			{
				if (!postmaster[t])
					continue;
				for (uint64_t s = 0; s < states.count; s++)
				{
					uint32_t	v = comp[2 + t].items[(uint64_t) states.items[s * K + 2 + t] * thr_len[t] + 1];

					if (v > best)
						best = v;
				}
			}
			return best;
		}
	}
	return 0;
}

void
sc_record(int k, int32_t *prop, uint32_t *state, int32_t *ordinal)
{
	*prop = rec_prop[k];
	*state = rec_state[k];
	*ordinal = rec_ord[k];
}

void
sc_state(uint64_t idx, uint32_t *out)
{
	unpack(idx, out);
}

int64_t
sc_parent(uint64_t idx)
{
	return parent[idx] == 0xFFFFFFFFu ? -1 : (int64_t) parent[idx];
}

/* Word k of thread t's tuple in every state, in order (the cycle analysis reads the postmaster's pc and steps). */
void
sc_thread_column(int t, int k, uint32_t *out)
{
	for (uint64_t s = 0; s < states.count; s++)
		out[s] = comp[2 + t].items[(uint64_t) states.items[s * K + 2 + t] * thr_len[t] + k];
}

/*
 * Before the graph is handed to the cycle analysis: give back what the search
 * no longer needs, the hash slots (no state is looked up again, only read by
 * index) and the unused tails of the growing arrays.  The analysis's tables
 * are as large as the search's, so without this the run held both.  No sc_run
 * may follow.
 */
void
sc_release_tables(void)
{
	keep_edges = 0;
	for (int c = 0; c < K; c++)
		tab_shrink(&comp[c]);
	tab_shrink(&states);
	if (states.count && states.count < parent_cap)
	{
		uint32_t   *np = realloc(parent, states.count * sizeof(uint32_t));

		if (np)
		{
			parent = np;
			parent_cap = states.count;
		}
	}
}

/*
 * The graph leaves C a piece at a time, from its end: copy elements keep to
 * count - 1 of the edge offsets (which 0) or of the edges (which 1) into out
 * and give that tail back (a shrinking realloc of a block this large returns
 * its pages), so that the graph is never held twice, once here and once in
 * Python.  The caller passes count, what it has not taken yet.
 */
void
sc_take_tail(int which, uint64_t keep, uint64_t count, void *out)
{
	size_t		item = which == 0 ? sizeof(uint64_t) : sizeof(uint32_t);
	void	  **block = which == 0 ? (void **) &edge_off : (void **) &edge_dst;

	memcpy(out, (char *) *block + keep * item, (count - keep) * item);
	if (keep == 0)
	{
		free(*block);
		*block = NULL;
	}
	else
	{
		void	   *smaller = realloc(*block, keep * item);

		if (smaller)
			*block = smaller;
	}
	if (which == 0)
		edge_off_cap = keep;
	else
		nedges = edge_cap = keep;
}
"""

CDEF = """
typedef struct { int32_t kind; uint8_t mem_changed, ghost_changed; uint32_t w[%(W)d]; } move_t;
int sc_start(const uint32_t *init, uint32_t max_states, uint32_t max_depth, uint64_t checked,
             int stop_on_first, int check_quiescent, int keep_edges);
int sc_run(uint64_t budget);
uint64_t sc_info(int what);
void sc_record(int k, int32_t *prop, uint32_t *state, int32_t *ordinal);
void sc_state(uint64_t idx, uint32_t *out);
int64_t sc_parent(uint64_t idx);
void sc_thread_column(int t, int k, uint32_t *out);
void sc_release_tables(void);
void sc_take_tail(int which, uint64_t keep, uint64_t count, void *out);
void sc_free(void);
extern "Python" int slotcheck_c_fallback(int tid, const uint32_t *s, move_t *out, int cap);
extern "Python" int slotcheck_c_check(uint32_t idx, const uint32_t *s);
"""
