/*-------------------------------------------------------------------------
 *
 * slot_ring.c
 *	  Background-worker slots through a free ring and a start ring; see
 *	  slot_ring.h for the design and the callers' contracts.
 *
 * Every shared-memory access below is one event of models/ring.py, in the
 * same order, and `checker replay` holds the two to that.  The start queue
 * is slot_startqueue.c (models/_startqueue.py).  Mutations (the
 * plausible mistakes the model checker must catch) are compiled in with
 * -DSLOT_MUTATION_<NAME>; each sits exactly where the model's
 * mutation("<name>") test is.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_ring.h"

/* Entry of a ring for a free-running counter (ring_size is a power of two). */
#define RING_INDEX(rs, counter)	((counter) % (rs)->ring_size)

uint32
RingSize(uint32 nslots)
{
	uint32		ring = 1;

	while (ring < nslots)
		ring *= 2;
	return ring;
}

Size
RingShmemSize(uint32 nslots)
{
	uint32		ring = RingSize(nslots);

	return offsetof(RingShmem, words) + sizeof(pg_atomic_uint32) * (2 * (Size) ring + nslots);
}

/*
 * The counters start just below 2^32, so the wrap is crossed within the first
 * lap rather than after four billion registrations; every entry of the free
 * queue holds one slot number.
 */
void
RingShmemInit(RingShmem *shm, uint32 nslots)
{
	RingSlots	rs;
	uint32		start;

	RingAttach(&rs, shm, nslots);
	start = (uint32) 0 - rs.ring_size;
	pg_atomic_init_u32(&shm->free_head, start + nslots);
	pg_atomic_init_u32(&shm->free_tail, start);
	LWLockInitialize(&shm->FreeQueueLock);
	for (uint32 i = 0; i < rs.ring_size; i++)
		pg_atomic_init_u32(&rs.free_ring[i], 0);
	for (uint32 s = 0; s < nslots; s++)
		pg_atomic_init_u32(&rs.free_ring[RING_INDEX(&rs, start + s)], s);
	SQShmemInit(&shm->sq, rs.sq.start_ring, rs.sq.slot_worker, nslots);
}

void
RingAttach(RingSlots *rs, RingShmem *shm, uint32 nslots)
{
	rs->shm = shm;
	rs->nslots = nslots;
	rs->ring_size = RingSize(nslots);
	rs->free_ring = &shm->words[0];
	SQAttach(&rs->sq, &shm->sq, &shm->words[rs->ring_size], &shm->words[2 * rs->ring_size], nslots);
}

void
RingPostmasterInit(RingPostmasterState *pm, uint32 nslots, uint32 nbackends)
{
	uint32		start = (uint32) 0 - RingSize(nslots);

	pm->free_head = start + nslots;
	SQPostmasterInit(&pm->sq, nslots, nbackends);
}

/* ----------------------------------------------------------------------
 * Backend side: consumers of the free queue (producers of the start queue
 * in slot_startqueue.c).  Each queue is serialised by an LWLock, so backends
 * never race each other.
 * ----------------------------------------------------------------------
 */

uint32
RingTakeFreeSlot(RingSlots *rs)
{
	RingShmem  *shm = rs->shm;
	uint32		tail;
	uint32		head;
	uint32		slot;
	bool		available;

#ifndef SLOT_MUTATION_NO_LOCK
	LWLockAcquire(&shm->FreeQueueLock, LW_EXCLUSIVE);
#endif
	tail = pg_atomic_read_u32(&shm->free_tail);
	head = pg_atomic_read_u32(&shm->free_head);
#ifdef SLOT_MUTATION_EMPTY_OFF_BY_ONE
	/* the mistake: always true for unsigned counters */
	available = (uint32) (head - tail) >= 0;
#else
	available = (uint32) (head - tail) >= 1;
#endif
	if (!available)
	{
#ifndef SLOT_MUTATION_NO_LOCK
		LWLockRelease(&shm->FreeQueueLock);
#endif
		return RING_NO_SLOT;
	}
#ifndef SLOT_MUTATION_FREE_NO_READ_BARRIER

	/*
	 * Read the entry only after seeing the head that covers it.  Pairs with
	 * the pg_write_barrier() in RingReapWorker() between writing the entry
	 * and publishing the head.
	 */
	pg_read_barrier();
#endif
	slot = pg_atomic_read_u32(&rs->free_ring[RING_INDEX(rs, tail)]);
#ifndef SLOT_MUTATION_FREE_NO_CONSUME_BARRIER

	/*
	 * A load followed by a store needs a full barrier (README.barrier): the
	 * entry must be read before the new tail tells the postmaster it may
	 * reuse the position.  Pairs with the postmaster reading free_tail
	 * before it writes an entry in RingReapWorker().  Nothing else orders
	 * them: no value read here decides whether or what we store.
	 */
	pg_memory_barrier();
#endif
	pg_atomic_write_u32(&shm->free_tail, tail + 1);
#ifndef SLOT_MUTATION_NO_LOCK
	LWLockRelease(&shm->FreeQueueLock);
#endif
	return slot;
}

void
RingQueueForStart(RingSlots *rs, uint32 slot)
{
	SQQueueForStart(&rs->sq, slot);
}

bool
RingRegisterWorker(RingSlots *rs, uint32 me)
{
	uint32		slot = RingTakeFreeSlot(rs);

	if (slot == RING_NO_SLOT)
		return false;
	/* Fill in the slot (the worker's description): here, who asked for it. */
	pg_atomic_write_u32(&rs->sq.slot_worker[slot], me);
	RingQueueForStart(rs, slot);
	return true;
}

/* ----------------------------------------------------------------------
 * Postmaster side: producer of the free queue (consumer of the start queue
 * in slot_startqueue.c).  No locks, no waiting, and every value read from
 * shared memory is checked.
 * ----------------------------------------------------------------------
 */

uint32
RingStartQueuedWorker(RingSlots *rs, RingPostmasterState *pm, uint32 *worker)
{
	return SQStartQueuedWorker(&rs->sq, &pm->sq, worker);
}

void
RingReapWorker(RingSlots *rs, RingPostmasterState *pm, uint32 slot)
{
	RingShmem  *shm = rs->shm;
	uint32		tail;
	uint32		in_use;

	slot_set_delete(&pm->sq.running, slot);
	tail = pg_atomic_read_u32(&shm->free_tail);
	in_use = pm->free_head - tail;
#ifndef SLOT_MUTATION_NO_RANGE_CHECK
	if (in_use >= rs->ring_size)
	{
		/*
		 * Full, or a tail no backend could have written.  There are never
		 * more slots than entries, so this is corruption: leak the slot
		 * rather than overwrite an entry or wait.
		 */
		pm->sq.corrupt = true;
		return;
	}
#else
	(void) in_use;
#endif
	pg_atomic_write_u32(&rs->free_ring[RING_INDEX(rs, pm->free_head)], slot);
#ifndef SLOT_MUTATION_FREE_NO_WRITE_BARRIER

	/*
	 * The entry must be visible before the head that publishes it.  Pairs
	 * with the pg_read_barrier() in RingTakeFreeSlot() between reading the
	 * head and reading the entry.
	 */
	pg_write_barrier();
#endif
	pm->free_head++;
	pg_atomic_write_u32(&shm->free_head, pm->free_head);
}
