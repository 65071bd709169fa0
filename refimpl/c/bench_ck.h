/*-------------------------------------------------------------------------
 *
 * bench_ck.h
 *	  The start queue of the Concurrency Kit references (bench_ck_ring.c,
 *	  bench_ck_bitmap.c): a ck_ring that backends produce into and the
 *	  postmaster alone consumes (ck_ring_*_mpsc), and each slot's
 *	  description (who filled it in).  Ring entries are pointers; a slot
 *	  number is stored as one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_BENCH_CK_H
#define SLOT_BENCH_CK_H

#include "bench.h"

#include <ck_pr.h>
#include <ck_ring.h>

typedef struct CkStartQueue
{
	ck_ring_t  *ring;
	ck_ring_buffer_t *buf;		/* ck_ring_size(nslots) entries */
	_Atomic uint32 *slot_worker;	/* nslots descriptions */
	uint32		nslots;
} CkStartQueue;

typedef struct CkPostmaster
{
	uint32		nbackends;
	bool		corrupt;
} CkPostmaster;

/* A CK ring of "size" entries holds size - 1: the smallest power of two above nslots. */
static inline uint32
ck_ring_size_for(uint32 nslots)
{
	uint32		size = 2;

	while (size <= nslots)
		size *= 2;
	return size;
}

static inline void
ck_start_queue_init(CkStartQueue *sq)
{
	ck_ring_init(sq->ring, ck_ring_size_for(sq->nslots));
	for (uint32 s = 0; s < sq->nslots; s++)
		atomic_init(&sq->slot_worker[s], 0);
}

static inline void
ck_postmaster_init(void *pm, uint32 nslots, uint32 nbackends)
{
	CkPostmaster *p = pm;

	(void) nslots;
	p->nbackends = nbackends;
	p->corrupt = false;
}

static inline bool
ck_postmaster_corrupt(void *pm)
{
	return ((CkPostmaster *) pm)->corrupt;
}

/* Backend: fill in the slot and queue it for the postmaster. */
static inline void
ck_queue_for_start(CkStartQueue *sq, uint32 slot, uint32 me)
{
	atomic_store_explicit(&sq->slot_worker[slot], me, memory_order_relaxed);

	/*
	 * CK's enqueue fences the entry's store before the new producer index
	 * (ck_pr_fence_store), which orders the description above before it as
	 * well; the postmaster's dequeue fences the index before the entry.  The
	 * ring never fills: it has more entries than there are slots.
	 */
	if (!ck_ring_enqueue_mpsc(sq->ring, sq->buf, (void *) (uintptr_t) slot))
		Assert(false);
}

/* Postmaster: the next queued slot, range-checked, or BENCH_NO_SLOT. */
static inline uint32
ck_start_queued(CkStartQueue *sq, CkPostmaster *pm)
{
	void	   *entry;
	uint32		worker;

	if (!ck_ring_dequeue_mpsc(sq->ring, sq->buf, &entry))
		return BENCH_NO_SLOT;
	if ((uintptr_t) entry >= sq->nslots)
	{
		pm->corrupt = true;
		return BENCH_NO_SLOT;
	}
	/* the description's address depends on the entry: a dependent load, ordered after it */
	worker = atomic_load_explicit(&sq->slot_worker[(uintptr_t) entry], memory_order_relaxed);
	if (worker == 0 || worker > pm->nbackends)
		pm->corrupt = true;
	return (uint32) (uintptr_t) entry;
}

#endif							/* SLOT_BENCH_CK_H */
