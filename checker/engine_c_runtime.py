"""The fixed part of the C search of ``--engine c`` (see checker.engine_c).

The generator prepends the system's layout macros and its step functions;
this text is the breadth-first search itself, the same for every system.

A state lives in two forms.  Unpacked, it is ``W`` 32-bit words: shared
memory, ghost state, then each program thread's tuple (pc, steps, locals).
Packed, it is ``K = 2 + NT`` component ids: memory, ghost, one per thread,
each interned in a table of its own (collapse compression, as the compact
Python search does), so a state costs K ids however wide its threads are,
and each id only the bytes its table's size needs (``key_layout_t``).
States are numbered in discovery order; the queue is that order, the parent
of each state an index, and the depth is kept as level boundaries.
"""

RUNTIME = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#define K (2 + NT)
#define FB 1        /* a step the C code leaves to Python (checker.engine_c._fallback) */
#define NOMEM 2

/* --- interning tables: fixed-width word tuples <-> dense ids ------------ */

typedef struct
{
	uint32_t	item_bytes;	/* bytes per item (0 for an empty component) */
	uint64_t	count;
	uint64_t	cap;		/* items allocated */
	uint8_t    *items;
	uint32_t   *slots;		/* id + 1, 0 empty */
	/*
	 * Beside each slot, 8 bits of its item's hash (the top byte): a probe
	 * fetches an item, a cache miss anywhere in a table of gigabytes, only
	 * when the tags agree (1 in 256 of the occupied slots it passes that are
	 * not the one it looks for), at one byte a slot.
	 */
	uint8_t    *tags;
	uint64_t	nslots;
	/*
	 * The hash of a stored item, to place it again when the slots grow.  A
	 * packed state's is the hash of its ids, not of its bytes, so that
	 * widening them (key_widen) moves no state to another slot.
	 */
	uint64_t	(*hash) (const uint8_t *item, uint32_t bytes);
} tab_t;

static uint64_t
mix_bytes(const uint8_t *p, uint32_t n)
{
	uint64_t	h = 0x243F6A8885A308D3ull ^ n;
	uint64_t	v;
	uint32_t	k = 0;

	for (; k + 8 <= n; k += 8)
	{
		memcpy(&v, p + k, 8);
		h ^= v;
		h *= 0xD6E8FEB86659FD93ull;
		h ^= h >> 32;
	}
	if (k < n)
	{
		v = 0;
		memcpy(&v, p + k, n - k);
		h ^= v;
		h *= 0xD6E8FEB86659FD93ull;
		h ^= h >> 32;
	}
	h *= 0x9FB21C651E98DF25ull;
	h ^= h >> 29;
	return h;
}

static int
tab_init(tab_t *t, uint32_t item_bytes, uint64_t (*hash) (const uint8_t *item, uint32_t bytes))
{
	t->item_bytes = item_bytes;
	t->hash = hash;
	t->count = 0;
	t->cap = 1024;
	t->nslots = 2048;
	t->items = malloc(t->cap * (item_bytes ? item_bytes : 1));
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
	if (t->count && t->item_bytes && t->count < t->cap)
	{
		uint8_t    *ni = realloc(t->items, t->count * t->item_bytes);

		if (ni)
		{
			t->items = ni;
			t->cap = t->count;
		}
	}
}

/*
 * What the tables may still take at once before --max-memory (sc_run sets it
 * from the resident size before each chunk): growing the slots or widening
 * the packed states touches all their new pages in one go, up to gigabytes
 * between two of Python's checks.  A growth past it is refused (as an
 * allocation that fails, with room_refused set).
 */
static uint64_t grow_room = UINT64_MAX;
static int	room_refused;

/*
 * Set by a tso thread's store that waited only because its buffer was full
 * (the generated step functions): the search then left out what a larger
 * buffer allows, and Python's verdict must say so (sc_info(16)).
 */
static int	buffer_refused;

static int
take_room(uint64_t bytes)
{
	if (bytes > grow_room)
	{
		room_refused = 1;
		return -1;
	}
	grow_room -= bytes;
	return 0;
}

/*
 * Place every item again in twice the slots.  Each placement is a cache miss
 * in a fresh array of up to gigabytes: the hashes of a batch of items are
 * computed and their slots prefetched before any is placed, so that the
 * misses overlap (placed one by one, behind the call that hashes each
 * packed state, bitmap --rogue spent a quarter of its time here).
 */
#define PLACE_BATCH 32

static int
tab_grow_slots(tab_t *t)
{
	uint64_t	n = t->nslots * 2;
	uint64_t	mask = n - 1;
	uint32_t   *s;
	uint8_t    *g;

	if (take_room(n * (sizeof(uint32_t) + 1)) < 0)
		return -1;
	s = calloc(n, sizeof(uint32_t));
	g = malloc(n);
	if (!s || !g)
	{
		free(s);
		free(g);
		return -1;
	}
	for (uint64_t base = 0; base < t->count; base += PLACE_BATCH)
	{
		uint64_t	full[PLACE_BATCH];
		uint64_t	m = t->count - base < PLACE_BATCH ? t->count - base : PLACE_BATCH;

		for (uint64_t i = 0; i < m; i++)
		{
			full[i] = t->hash(t->items + (base + i) * t->item_bytes, t->item_bytes);
			__builtin_prefetch(&s[full[i] & mask], 1);
			__builtin_prefetch(&g[full[i] & mask], 1);
		}
		for (uint64_t i = 0; i < m; i++)
		{
			uint64_t	h = full[i] & mask;

			while (s[h])
				h = (h + 1) & mask;
			s[h] = (uint32_t) (base + i + 1);
			g[h] = (uint8_t) (full[i] >> 56);
		}
	}
	free(t->slots);
	free(t->tags);
	t->slots = s;
	t->tags = g;
	t->nslots = n;
	return 0;
}

/*
 * The id of item (whose hash, as t->hash gives it, is full), or -1 when it is
 * not in the table; then *slot is the empty slot it would take and *tag its
 * tag.
 */
static inline int64_t
tab_probe(const tab_t *t, const uint8_t *item, uint64_t full, uint64_t *slot, uint8_t *tag)
{
	uint64_t	mask = t->nslots - 1;
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
			&& memcmp(t->items + (uint64_t) (e - 1) * t->item_bytes, item, t->item_bytes) == 0)
			return e - 1;
		h = (h + 1) & mask;
	}
}

/* The id of item, hashed full (added when new; *added says which); -1 when out of memory or ids. */
static int64_t
tab_intern(tab_t *t, const uint8_t *item, uint64_t full, int *added)
{
	uint64_t	h;
	uint8_t		tag;
	uint32_t	bytes = t->item_bytes;
	int64_t		found = tab_probe(t, item, full, &h, &tag);

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
		uint8_t    *ni = realloc(t->items, nc * (bytes ? bytes : 1));

		if (!ni)
			return -1;
		t->items = ni;
		t->cap = nc;
	}
	memcpy(t->items + t->count * bytes, item, bytes);
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
static tab_t states;		/* packed states: K ids each, laid out as layout says */
/*
 * A column: 32-bit values appended in index order and read back by index
 * (the parents, the edge offsets, the edges).  In memory it is one growing
 * block.  With --spill it is a file: a block of SPILL_ITEMS values is written
 * out each time it fills, and after the search the file is either read back
 * whole by Python (the graph) or value by value (the parents, of which the
 * counterexamples read a few).  Nothing reads a spilled column during the
 * search: parents and edges are only looked at once it is over.  (Mapping
 * the files was tried: every page a read touches then counts as resident,
 * and the deadlock analysis, reading one state of each candidate component,
 * took caslist's peak up by 1.4 GiB.)
 */
typedef struct
{
	uint32_t   *items;		/* values base .. n - 1 (room for cap) */
	uint64_t	base;		/* values already written to fd */
	uint64_t	n;			/* values so far */
	uint64_t	cap;
	int			fd;			/* -1: in memory */
} column_t;

#define SPILL_ITEMS (1u << 18)	/* 1 MiB a write */

static int	spill_errno;		/* the errno of a failed write or read (sc_run, sc_state, ... then return -4) */
static uint64_t spill_written;	/* bytes written to the --spill files */

static int
column_init(column_t *c)
{
	c->base = c->n = 0;
	c->cap = 1024;
	c->fd = -1;
	c->items = malloc(c->cap * sizeof(uint32_t));
	return c->items ? 0 : -1;
}

static int
write_all(int fd, const void *buf, uint64_t bytes)
{
	const char *p = buf;

	while (bytes)
	{
		ssize_t		w = write(fd, p, bytes > (1u << 30) ? (1u << 30) : bytes);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
		{
			spill_errno = w < 0 ? errno : ENOSPC;
			return -4;
		}
		p += w;
		bytes -= (uint64_t) w;
		spill_written += (uint64_t) w;
	}
	return 0;
}

static int
pread_all(int fd, void *buf, uint64_t bytes, uint64_t at)
{
	char	   *p = buf;

	while (bytes)
	{
		ssize_t		r = pread(fd, p, bytes > (1u << 30) ? (1u << 30) : bytes, (off_t) at);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
		{
			spill_errno = r < 0 ? errno : EIO;
			return -4;
		}
		p += r;
		at += (uint64_t) r;
		bytes -= (uint64_t) r;
	}
	return 0;
}

/* Write out the values not yet written: 0, or -4 (spill_errno says why). */
static int
column_flush(column_t *c)
{
	if (c->fd < 0 || c->n == c->base)
		return 0;
	if (write_all(c->fd, c->items, (c->n - c->base) * sizeof(uint32_t)) < 0)
		return -4;
	c->base = c->n;
	return 0;
}

/* 0, or -1 out of memory, -4 a failed write */
static int
column_push(column_t *c, uint32_t v)
{
	if (c->n - c->base == c->cap)
	{
		if (c->fd >= 0)
		{
			if (column_flush(c) < 0)
				return -4;
		}
		else
		{
			uint32_t   *ni = realloc(c->items, c->cap * 2 * sizeof(uint32_t));

			if (!ni)
				return -1;
			c->items = ni;
			c->cap *= 2;
		}
	}
	c->items[c->n++ - c->base] = v;
	return 0;
}

/* Value i into *out, from memory or from the file: 0, or -4 (a failed read). */
static int
column_read(const column_t *c, uint64_t i, uint32_t *out)
{
	if (i >= c->base)
	{
		*out = c->items[i - c->base];
		return 0;
	}
	return pread_all(c->fd, out, sizeof(uint32_t), i * sizeof(uint32_t));
}

/* From now on write to fd (an empty file): 0, or -1 out of memory. */
static int
column_spill_to(column_t *c, int fd)
{
	uint32_t   *ni;

	if (c->n - c->base > SPILL_ITEMS)
		return -1;				/* called right after sc_start: never */
	ni = realloc(c->items, SPILL_ITEMS * sizeof(uint32_t));
	if (!ni)
		return -1;
	c->items = ni;
	c->cap = SPILL_ITEMS;
	c->fd = fd;
	return 0;
}

static void
column_free(column_t *c)
{
	free(c->items);
	c->items = NULL;
	c->base = c->n = c->cap = 0;
	c->fd = -1;
}

static column_t parents;	/* each state's parent's index (0xFFFFFFFF for the initial state) */

/*
 * --spill: once the search is over the packed states are written to this
 * file and freed (states_spilled), so that the cycle analysis's graph does
 * not sit beside them in memory; the few it decodes are read back one by one
 * and the scans of all of them (the postmaster's place) a block at a time.
 */
static int	states_fd = -1;
static int	states_spilled;

#define SCAN_STATES (1u << 16)	/* states a scan of spilled states reads at once */
static uint64_t expanded, transitions, level_end, depth, max_depth_seen;
static uint32_t max_states, max_depth;
static uint64_t checked_mask, cut_by, recorded_mask;
static int	stop_on_first, check_quiescent, keep_edges, cut, limit_hit, failed, started;
static int32_t *rec_prop, *rec_ord;
static uint32_t *rec_state;
static int	nrec;
/*
 * The graph for the cycle analysis: state v's edges are edge_dst[edge_off[v]
 * .. edge_off[v + 1]) (columns), each the successor's index times 16 plus the moving
 * thread.  Offsets are 32 bits (4 bytes a state, not 8): the search stops
 * with -3 before 2^32 edges, as before 2^28 states.
 */
static column_t edge_off;
static column_t edge_dst;
static uint32_t cur[W];

/*
 * A packed state keeps each of its K ids in as few bytes as that id's table
 * has needed so far (1 to 4, least significant first), not 4 bytes each:
 * the thread tables of the shipped protocols stay far below 2^16 items and
 * only shared memory passes it, so a state of 6 ids takes 8 to 11 bytes
 * where it took 24, most of the visited set.  When a table's count first
 * passes 2^8, 2^16 or 2^24 items, key_widen rewrites every packed state in
 * the wider layout: at most three times per component in a run.
 */
typedef struct
{
	uint8_t		bytes[K];	/* bytes of each id */
	uint32_t	at[K];		/* where each id starts */
	uint32_t	len;		/* bytes of a packed state */
} key_layout_t;

static key_layout_t layout;

static void
layout_place(key_layout_t *l)
{
	uint32_t	at = 0;

	for (int c = 0; c < K; c++)
	{
		l->at[c] = at;
		at += l->bytes[c];
	}
	l->len = at;
}

static inline uint32_t
key_part(const key_layout_t *l, const uint8_t *packed, int c)
{
	const uint8_t *p = packed + l->at[c];
	uint32_t	v = 0;

	for (int b = l->bytes[c]; b-- > 0;)
		v = (v << 8) | p[b];
	return v;
}

static inline void
key_unpack(const key_layout_t *l, const uint8_t *packed, uint32_t *key)
{
	for (int c = 0; c < K; c++)
		key[c] = key_part(l, packed, c);
}

static inline void
key_pack(const key_layout_t *l, const uint32_t *key, uint8_t *packed)
{
	for (int c = 0; c < K; c++)
	{
		uint8_t    *p = packed + l->at[c];
		uint32_t	v = key[c];

		for (int b = 0; b < l->bytes[c]; b++, v >>= 8)
			p[b] = (uint8_t) v;
	}
}

/* Word k of item id of component table c. */
static inline uint32_t
comp_word(int c, uint64_t id, uint32_t k)
{
	return ((const uint32_t *) comp[c].items)[id * (comp[c].item_bytes / 4) + k];
}

/*
 * Make room for id in component c's place of every packed state: 0, or -1
 * out of memory (the layout then stays as it was).  A state moves to a place
 * at or after its old one, so rewriting from the last state down never
 * overwrites one not yet read.  The slots stay as they are: a state's hash is
 * its ids' (packed_state_hash), which widening does not change.  (Hashing
 * the bytes instead meant placing every state again at each widening: a
 * third of the CPU of bitmap --rogue, whose tables pass 2^8 and 2^16 late.)
 */
static int
key_widen(int c, uint32_t id)
{
	key_layout_t old = layout;
	uint8_t		need = id < (1u << 8) ? 1 : id < (1u << 16) ? 2 : id < (1u << 24) ? 3 : 4;
	uint8_t    *items;

	if (need <= layout.bytes[c])
		return 0;
	if (take_room(states.count * (need - layout.bytes[c])) < 0)
		return -1;
	layout.bytes[c] = need;
	layout_place(&layout);
	items = realloc(states.items, states.cap * layout.len);
	if (!items)
	{
		layout = old;
		return -1;
	}
	states.items = items;
	for (uint64_t s = states.count; s-- > 0;)
	{
		uint32_t	key[K];

		key_unpack(&old, items + s * old.len, key);
		key_pack(&layout, key, items + s * layout.len);
	}
	states.item_bytes = layout.len;
	return 0;
}

static inline uint64_t
key_hash(const uint32_t *key)
{
	return mix_bytes((const uint8_t *) key, K * sizeof(uint32_t));
}

static uint64_t
packed_state_hash(const uint8_t *packed, uint32_t bytes)
{
	uint32_t	key[K];

	(void) bytes;
	key_unpack(&layout, packed, key);
	return key_hash(key);
}

/* Intern thread, memory or ghost words w as component c of key: 0, or -1 out of memory or ids. */
static int
intern_part(int c, const uint32_t *w, uint32_t *key)
{
	int			added;
	const uint8_t *item = (const uint8_t *) w;
	int64_t		id = tab_intern(&comp[c], item, mix_bytes(item, comp[c].item_bytes), &added);

	if (id < 0 || (added && key_widen(c, (uint32_t) id) < 0))
		return -1;
	key[c] = (uint32_t) id;
	return 0;
}

static void
unpack_packed(const uint8_t *packed, uint32_t *out)
{
	uint32_t	key[K];

	key_unpack(&layout, packed, key);
	memcpy(out + MEM_OFF, comp[0].items + (uint64_t) key[0] * MEM_LEN * 4, MEM_LEN * sizeof(uint32_t));
	memcpy(out + GHOST_OFF, comp[1].items + (uint64_t) key[1] * GHOST_LEN * 4, GHOST_LEN * sizeof(uint32_t));
	for (int t = 0; t < NT; t++)
		memcpy(out + thr_off[t], comp[2 + t].items + (uint64_t) key[2 + t] * thr_len[t] * 4,
			   thr_len[t] * sizeof(uint32_t));
}

static inline void
unpack(uint64_t idx, uint32_t *out)
{
	unpack_packed(states.items + idx * layout.len, out);
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
	if (j >= (1ull << 28) || edge_dst.n == 0xFFFFFFFFull)
		return -3;		/* an edge, or an offset, no longer fits 32 bits */
	return column_push(&edge_dst, (uint32_t) (j * 16 + tid));
}

/*
 * The successor's ids: the state's, with those of the parts the move changed
 * (interned here), and their hash.  The successor's slot in the visited set
 * is prefetched: a step's moves are all keyed before any is added
 * (add_moves), so that the cache misses of their first probes overlap.
 * 0, or -1 out of memory or ids.
 */
static int
key_successor(const uint32_t *pkey, const move_t *m, int tid, int fell_back, uint32_t *key, uint64_t *hash)
{
	uint64_t	slot;

	memcpy(key, pkey, K * sizeof(uint32_t));
	if ((m->mem_changed || fell_back) && intern_part(0, m->w + MEM_OFF, key) < 0)
		return -1;
	if ((m->ghost_changed || fell_back) && intern_part(1, m->w + GHOST_OFF, key) < 0)
		return -1;
	if (intern_part(2 + tid, m->w + thr_off[tid], key) < 0)
		return -1;
	if (fell_back)
		for (int t = 0; t < NT; t++)
			if (intern_part(2 + t, m->w + thr_off[t], key) < 0)
				return -1;
	*hash = key_hash(key);
	slot = *hash & (states.nslots - 1);
	__builtin_prefetch(&states.slots[slot]);
	__builtin_prefetch(&states.tags[slot]);
	return 0;
}

/* 0 fine, 1 the state limit, -1 out of memory, -2 a Python error, -3 past 2^28 states or 2^32 edges */
static int
add_successor(const uint32_t *key, uint64_t hash, const move_t *m, int tid)
{
	uint8_t		packed[4 * K];
	int			added;
	int64_t		id;
	uint64_t	j;

	key_pack(&layout, key, packed);
	/* The state limit is met before the state would be added, as the Python search does. */
	if (states.count >= max_states)
	{
		uint64_t	slot;
		uint8_t		tag;

		if (tab_probe(&states, packed, hash, &slot, &tag) < 0)
			return 1;
	}
	if ((id = tab_intern(&states, packed, hash, &added)) < 0)
		return -1;
	j = (uint64_t) id;
	if (added)
	{
		int			r;

		if ((r = column_push(&parents, (uint32_t) expanded)) < 0)
			return r;			/* parents.n is j + 1 now: states are numbered as they come */
		if (depth + 1 > max_depth_seen)
			max_depth_seen = depth + 1;
		if (check_new(j, m->w) < 0)
			return -2;
	}
	if (keep_edges)
		return add_edge(j, tid);
	return 0;
}

static uint32_t move_key[MAXMOVES][K];
static uint64_t move_hash[MAXMOVES];

/*
 * Thread tid's moves (moves[0 .. nmoves)), in order: a violation is recorded
 * with its ordinal (its place among the state's moves, *ordinal on), a
 * successor added.  Keyed first, all of them, then added: the numbering, the
 * parents and the edges are those of adding each as it comes.  Returns
 * add_successor's value.
 */
static int
add_moves(const uint32_t *pkey, int tid, int fell_back, int *any, int32_t *ordinal)
{
	for (int k = 0; k < nmoves; k++)
		if (moves[k].kind < 0 && key_successor(pkey, &moves[k], tid, fell_back, move_key[k], &move_hash[k]) < 0)
			return -1;
	for (int k = 0; k < nmoves; k++, (*ordinal)++)
	{
		move_t	   *m = &moves[k];
		int			r;

		*any = 1;
		transitions++;
		if (m->kind >= 0)
		{
			cut_by |= 1ull << m->kind;
			record(m->kind, expanded, *ordinal);
			continue;
		}
		if ((r = add_successor(move_key[k], move_hash[k], m, tid)) != 0)
			return r;
	}
	return 0;
}

#if ROGUE_TID >= 0

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
	int32_t		ordinal = 0;	/* the rogue's moves violate nothing: their ordinals are not read */
	int			r;

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
	nmoves = 0;
	for (uint64_t a = lo; a < hi; a++)
	{
		if (kernel_word[a])
			continue;	/* a worker's fork and exit are the kernel's, not shared memory */
		for (int k = 0; k < ROGUE_NVALUES; k++)
		{
			uint32_t   *w;

			if (rogue_values[k] == cur[MEM_OFF + a])
				continue;
			if (nmoves == MAXMOVES)
			{
				if ((r = add_moves(pkey, ROGUE_TID, 0, any, &ordinal)) != 0)
					return r;
				nmoves = 0;
			}
			w = push_move(-1, 1, 0);
			memcpy(w, cur, sizeof(cur));
			w[MEM_OFF + a] = rogue_values[k];
			w[ROGUE_OFF] = left == ROGUE_UNLIMITED ? left : left - 1;
		}
	}
	return add_moves(pkey, ROGUE_TID, 0, any, &ordinal);
}
#endif

static void
release_all(void)
{
	for (int c = 0; c < K; c++)
		tab_free(&comp[c]);
	states_spilled = 0;
	states_fd = -1;
	tab_free(&states);
	column_free(&parents);
	free(rec_prop);
	free(rec_state);
	free(rec_ord);
	column_free(&edge_off);
	column_free(&edge_dst);
	free(moves);
	rec_prop = rec_ord = NULL;
	rec_state = NULL;
	moves = NULL;
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
		 int stop_on_first_, int check_quiescent_, int keep_edges_, int first_id_bytes)
{
	int			added;
	uint32_t	key[K];
	uint8_t		packed[4 * K];

	sc_free();
	started = 1;
	for (int c = 0; c < K; c++)
		layout.bytes[c] = (uint8_t) first_id_bytes;
	layout_place(&layout);
	if (tab_init(&comp[0], MEM_LEN * 4, mix_bytes) || tab_init(&comp[1], GHOST_LEN * 4, mix_bytes)
		|| tab_init(&states, layout.len, packed_state_hash))
		return -1;
	for (int t = 0; t < NT; t++)
		if (tab_init(&comp[2 + t], thr_len[t] * 4, mix_bytes))
			return -1;
	moves = malloc(MAXMOVES * sizeof(move_t));
	rec_prop = malloc(64 * sizeof(int32_t));
	rec_ord = malloc(64 * sizeof(int32_t));
	rec_state = malloc(64 * sizeof(uint32_t));
	if (!moves || !rec_prop || !rec_ord || !rec_state || column_init(&parents) || column_init(&edge_off)
		|| column_init(&edge_dst))
		return -1;
	spill_errno = 0;
	spill_written = 0;
	nrec = 0;
	expanded = transitions = depth = max_depth_seen = 0;
	level_end = 1;
	cut_by = recorded_mask = 0;
	cut = limit_hit = failed = room_refused = buffer_refused = 0;
	grow_room = UINT64_MAX;
	max_states = max_states_;
	max_depth = max_depth_;
	checked_mask = checked;
	stop_on_first = stop_on_first_;
	check_quiescent = check_quiescent_;
	keep_edges = keep_edges_;
	column_push(&edge_off, 0);	/* room for 1024: cannot fail */
	if (intern_part(0, init + MEM_OFF, key) < 0 || intern_part(1, init + GHOST_OFF, key) < 0)
		return -1;
	for (int t = 0; t < NT; t++)
		if (intern_part(2 + t, init + thr_off[t], key) < 0)
			return -1;
	key_pack(&layout, key, packed);
	if (tab_intern(&states, packed, key_hash(key), &added) < 0)
		return -1;
	column_push(&parents, 0xFFFFFFFFu);
	if (check_new(0, init) < 0)
		return -2;
	return 0;
}

/*
 * Expand up to budget states, the tables growing by at most room bytes at
 * once (grow_room).  Returns 0 when there is more to do, 1 when the search
 * is over (queue empty, stopped at a violation, or a bound), -1 out of
 * memory or room (sc_info(13) tells which), -2 a Python callback failed
 * (Python has its exception), -3 too many states or edges for the edge
 * arrays of the cycle analysis, -4 a --spill write failed (sc_info(14)).
 */
int
sc_run(uint64_t budget, uint64_t room)
{
	uint32_t	pkey[K];

	grow_room = room;

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
		if (depth >= max_depth)
		{
			int			r;

			cut = 1;
			if (keep_edges && (r = column_push(&edge_off, (uint32_t) edge_dst.n)) < 0)
				return r;
			expanded++;
			continue;
		}
		unpack(expanded, cur);
		key_unpack(&layout, states.items + expanded * layout.len, pkey);
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
			r = add_moves(pkey, t, fell_back, &any, &ordinal);
			if (r == 1)
			{
				limit_hit = 1;
				return 1;
			}
			if (r < 0)
				return r;
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
		{
			int			r = column_push(&edge_off, (uint32_t) edge_dst.n);

			if (r < 0)
				return r;
		}
		expanded++;
	}
	return expanded >= states.count ? 1 : 0;
}

/*
 * The packed bytes of states first .. first + count - 1: where they lie in
 * memory, or read into buf (count packed states long) once spilled; NULL
 * when that read fails (spill_errno).
 */
static const uint8_t *
states_at(uint64_t first, uint64_t count, uint8_t *buf)
{
	if (!states_spilled)
		return states.items + first * layout.len;
	if (pread_all(states_fd, buf, count * layout.len, first * layout.len) < 0)
		return NULL;
	return buf;
}

/*
 * each(s, id, arg) for every state s, with id its thread t's id, in order:
 * 0, or -1 out of memory, -4 a failed read of the spilled states.
 */
static int
scan_thread_ids(int t, void (*each) (uint64_t s, uint32_t id, void *arg), void *arg)
{
	uint8_t    *buf = NULL;

	if (states_spilled && !(buf = malloc((uint64_t) SCAN_STATES * layout.len)))
		return -1;
	for (uint64_t first = 0; first < states.count; first += SCAN_STATES)
	{
		uint64_t	m = umin(SCAN_STATES, states.count - first);
		const uint8_t *packed = states_at(first, m, buf);

		if (!packed)
		{
			free(buf);
			return -4;
		}
		for (uint64_t k = 0; k < m; k++)
			each(first + k, key_part(&layout, packed + k * layout.len, 2 + t), arg);
	}
	free(buf);
	return 0;
}

typedef struct
{
	int			t;
	uint64_t	best;
} most_steps_t;

static void
most_steps_of(uint64_t s, uint32_t id, void *arg)
{
	most_steps_t *m = arg;
	uint32_t	v = comp_word(2 + m->t, id, 1);

	(void) s;
	if (v > m->best)
		m->best = v;
}

/* what: 0 states, 1 transitions, 2 max depth, 3 expanded, 4 cut (a depth bound), 5 state limit hit,
   6 cut_by mask, 7 records, 8 bytes of the state table (keys + slots + parents), 9 bytes of the
   component tables, 10 edges, 11 the largest postmaster step count, 12 bytes of a packed state,
   13 a growth refused for want of room (the -1 was the memory limit), 14 the errno of a failed
   --spill write or read (-4), 15 bytes written to the --spill files, 16 a tso store refused
   for want of buffer room */
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
		case 8: return (states_spilled ? 0 : states.cap * layout.len) + states.nslots * 5 + parents.cap * 4;
		case 9:
		{
			uint64_t	b = 0;

			for (int c = 0; c < K; c++)
				b += comp[c].cap * comp[c].item_bytes + comp[c].nslots * 5;
			return b;
		}
		case 10: return edge_dst.n;
		case 12: return layout.len;
		case 13: return (uint64_t) room_refused;
		case 14: return (uint64_t) spill_errno;
		case 15: return spill_written;
		case 16: return (uint64_t) buffer_refused;
		case 11:
		{
			most_steps_t m = {0, 0};

			for (int t = 0; t < NT; t++)
			{
				if (!postmaster[t])
					continue;
				m.t = t;
				if (scan_thread_ids(t, most_steps_of, &m) < 0)
					return UINT64_MAX;	/* asked before the states are spilled: never */
			}
			return m.best;
		}
	}
	return 0;
}

/* Bytes of component c's id in a packed state, as the search has widened it so far. */
int
sc_id_bytes(int c)
{
	return layout.bytes[c];
}

void
sc_record(int k, int32_t *prop, uint32_t *state, int32_t *ordinal)
{
	*prop = rec_prop[k];
	*state = rec_state[k];
	*ordinal = rec_ord[k];
}

/* 0, or -4 a failed read of the spilled states */
int
sc_state(uint64_t idx, uint32_t *out)
{
	uint8_t		buf[4 * K];
	const uint8_t *packed = states_at(idx, 1, buf);

	if (!packed)
		return -4;
	unpack_packed(packed, out);
	return 0;
}

/* The parent's index, -1 for the initial state, -4 a failed read of the spilled parents */
int64_t
sc_parent(uint64_t idx)
{
	uint32_t	p;

	if (column_read(&parents, idx, &p) < 0)
		return -4;
	return p == 0xFFFFFFFFu ? -1 : (int64_t) p;
}

typedef struct
{
	int			t;
	const uint8_t *in_op;
	uint32_t	npc;
	uint8_t    *inside,
			   *restarted;
} place_t;

static void
place_of(uint64_t s, uint32_t id, void *arg)
{
	place_t    *p = arg;
	uint32_t	pc = comp_word(2 + p->t, id, 0);
	uint8_t		in = pc < p->npc ? p->in_op[pc] : 0;

	p->inside[s] = in;
	p->restarted[s] = in && comp_word(2 + p->t, id, 1) == 0;
}

/*
 * Per state, where thread t is (the postmaster, for the cycle analysis):
 * inside an operation (in_op[its pc]), and inside one with its step count
 * (word 1) restarted.  A pc past the table is outside (there is none: the pcs
 * come from the program).  Read from each state's packed id, so the run
 * never holds the pcs and step counts of every state beside the graph.
 */
int
sc_thread_place(int t, const uint8_t *in_op, uint32_t npc, uint8_t *inside, uint8_t *restarted)
{
	place_t		p = {t, in_op, npc, inside, restarted};

	return scan_thread_ids(t, place_of, &p);
}

/*
 * --spill: from now on the parents and the graph go to these files (empty,
 * opened by Python, which closes them after sc_free), and the states to
 * states_fd_ once the search is over.  Right after sc_start.  0, or -1 out
 * of memory.
 */
int
sc_spill(int parent_fd, int off_fd, int edge_fd, int states_fd_)
{
	if (column_spill_to(&parents, parent_fd) || column_spill_to(&edge_off, off_fd)
		|| column_spill_to(&edge_dst, edge_fd))
		return -1;
	states_fd = states_fd_;
	return 0;
}

/*
 * --spill, when the search is over: the files complete, for Python to read
 * the graph back and sc_parent the parents.  0, or -4 (a failed write:
 * sc_info(14) is its errno).
 */
int
sc_spill_done(void)
{
	if (column_flush(&edge_off) || column_flush(&edge_dst) || column_flush(&parents))
		return -4;
	return 0;
}

/*
 * Before the graph is handed to the cycle analysis: give back what the search
 * no longer needs, the hash slots (no state is looked up again, only read by
 * index) and the unused tails of the growing arrays.  The analysis's tables
 * are as large as the search's, so without this the run held both.  With
 * --spill the states go to their file too (sc_spill).  No sc_run may follow.
 * 0, or -4 (sc_spill_done).
 */
int
sc_release_tables(void)
{
	keep_edges = 0;
	for (int c = 0; c < K; c++)
		tab_shrink(&comp[c]);
	tab_shrink(&states);
	if (parents.fd < 0 && parents.n < parents.cap)
	{
		uint32_t   *np = realloc(parents.items, parents.n * sizeof(uint32_t));

		if (np)
		{
			parents.items = np;
			parents.cap = parents.n;
		}
	}
	if (states_fd >= 0 && states.count && !states_spilled)
	{
		if (write_all(states_fd, states.items, states.count * layout.len) < 0)
			return -4;
		free(states.items);
		states.items = NULL;
		states.cap = 0;
		states_spilled = 1;
	}
	return 0;
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
	column_t   *c = which == 0 ? &edge_off : &edge_dst;	/* in memory: not spilled */

	memcpy(out, c->items + keep, (count - keep) * sizeof(uint32_t));
	if (keep == 0)
	{
		free(c->items);
		c->items = NULL;
	}
	else
	{
		uint32_t   *smaller = realloc(c->items, keep * sizeof(uint32_t));

		if (smaller)
			c->items = smaller;
	}
	c->n = c->cap = keep;
}
"""

CDEF = """
typedef struct { int32_t kind; uint8_t mem_changed, ghost_changed; uint32_t w[%(W)d]; } move_t;
int sc_start(const uint32_t *init, uint32_t max_states, uint32_t max_depth, uint64_t checked,
             int stop_on_first, int check_quiescent, int keep_edges, int first_id_bytes);
int sc_run(uint64_t budget, uint64_t room);
uint64_t sc_info(int what);
void sc_record(int k, int32_t *prop, uint32_t *state, int32_t *ordinal);
int sc_id_bytes(int c);
int sc_state(uint64_t idx, uint32_t *out);
int64_t sc_parent(uint64_t idx);
int sc_thread_place(int t, const uint8_t *in_op, uint32_t npc, uint8_t *inside, uint8_t *restarted);
int sc_release_tables(void);
int sc_spill(int parent_fd, int off_fd, int edge_fd, int states_fd);
int sc_spill_done(void);
void sc_take_tail(int which, uint64_t keep, uint64_t count, void *out);
void sc_free(void);
extern "Python" int slotcheck_c_fallback(int tid, const uint32_t *s, move_t *out, int cap);
extern "Python" int slotcheck_c_check(uint32_t idx, const uint32_t *s);
"""
