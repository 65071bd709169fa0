/*-------------------------------------------------------------------------
 *
 * slot_startqueue.c
 *	  The shared start queue; see slot_startqueue.h.  Every shared-memory
 *	  access is one event of models/_startqueue.py, in the same order.
 *
 *	  Its mutations (-DSLOT_MUTATION_<NAME>) are the ring's: the model's
 *	  OPTIONAL_MUTATIONS, and no-lock through the ring's lock hooks.  Only
 *	  a design whose model declares one is ever built with its macro
 *	  (refimpl/build.py, CProtocol.shared_mutations).
 *
 *-------------------------------------------------------------------------
 */
#include "slot_startqueue.h"

#define SQ_INDEX(sq, counter)	((counter) % (sq)->ring_size)

uint32
SQRingSize(uint32 nslots)
{
	uint32		ring = 1;

	while (ring < nslots)
		ring *= 2;
	return ring;
}

/* The counters start just below 2^32, so the wrap is crossed in the first lap. */
void
SQShmemInit(StartQueueShmem *shm, pg_atomic_uint32 *start_ring, pg_atomic_uint32 *slot_worker,
			uint32 nslots)
{
	uint32		ring = SQRingSize(nslots);
	uint32		start = (uint32) 0 - ring;

	pg_atomic_init_u32(&shm->start_head, start);
	pg_atomic_init_u32(&shm->start_tail, start);
	LWLockInitialize(&shm->StartQueueLock);
	for (uint32 i = 0; i < ring; i++)
		pg_atomic_init_u32(&start_ring[i], 0);
	for (uint32 s = 0; s < nslots; s++)
		pg_atomic_init_u32(&slot_worker[s], 0);
}

void
SQAttach(StartQueue *sq, StartQueueShmem *shm, pg_atomic_uint32 *start_ring,
		 pg_atomic_uint32 *slot_worker, uint32 nslots)
{
	sq->shm = shm;
	sq->start_ring = start_ring;
	sq->slot_worker = slot_worker;
	sq->nslots = nslots;
	sq->ring_size = SQRingSize(nslots);
}

void
SQPostmasterInit(StartQueuePostmaster *pm, uint32 nslots, uint32 nbackends)
{
	pm->start_tail = (uint32) 0 - SQRingSize(nslots);
	slot_set_clear(&pm->running);
	pm->nbackends = nbackends;
	pm->corrupt = false;
}

void
SQQueueForStart(StartQueue *sq, uint32 slot)
{
	StartQueueShmem *shm = sq->shm;
	uint32		head;
	uint32		tail;

#ifndef SLOT_MUTATION_NO_LOCK
	LWLockAcquire(&shm->StartQueueLock, LW_EXCLUSIVE);
#endif
	head = pg_atomic_read_u32(&shm->start_head);
	tail = pg_atomic_read_u32(&shm->start_tail);
	/* there are never more slots than entries, so the queue cannot be full */
	Assert((uint32) (head - tail) < sq->ring_size);
	(void) tail;
	pg_atomic_write_u32(&sq->start_ring[SQ_INDEX(sq, head)], slot);
#ifndef SLOT_MUTATION_START_NO_WRITE_BARRIER

	/*
	 * The slot's description and the entry must be visible before the new
	 * head.  Pairs with the pg_read_barrier() in SQStartQueuedWorker()
	 * between reading the head and reading the entry.
	 */
	pg_write_barrier();
#endif
	pg_atomic_write_u32(&shm->start_head, head + 1);
#ifndef SLOT_MUTATION_NO_LOCK
	LWLockRelease(&shm->StartQueueLock);
#endif
}

uint32
SQStartQueuedWorker(StartQueue *sq, StartQueuePostmaster *pm, uint32 *worker)
{
	StartQueueShmem *shm = sq->shm;
	uint32		head;
	uint32		queued;
	uint32		slot;

	head = pg_atomic_read_u32(&shm->start_head);
	queued = head - pm->start_tail;
	if (queued == 0)
		return SQ_NO_SLOT;
#ifndef SLOT_MUTATION_NO_RANGE_CHECK
	if (queued > sq->ring_size)
	{
		/* a head no backend could have written: ignore it */
		pm->corrupt = true;
		return SQ_NO_SLOT;
	}
#endif
#ifndef SLOT_MUTATION_START_NO_READ_BARRIER

	/*
	 * Read the entry only after the head that covers it.  Pairs with the
	 * pg_write_barrier() in SQQueueForStart() between writing the entry and
	 * publishing the head.
	 */
	pg_read_barrier();
#endif
	slot = pg_atomic_read_u32(&sq->start_ring[SQ_INDEX(sq, pm->start_tail)]);
	pm->start_tail++;

	/*
	 * The entry must be read before the tail frees its position for reuse (a
	 * load then a store: README.barrier asks for a full barrier).  Pairs with
	 * the backends reading start_tail before writing an entry, under
	 * StartQueueLock, in SQQueueForStart().
	 */
	pg_memory_barrier();
	pg_atomic_write_u32(&shm->start_tail, pm->start_tail);
#ifndef SLOT_MUTATION_NO_RANGE_CHECK
	if (slot >= sq->nslots)
	{
		/* an entry no backend could have written: the position is skipped */
		pm->corrupt = true;
		return SQ_NO_SLOT;
	}
	if (slot_set_is_member(&pm->running, slot))
	{
		/* already running: no backend can have queued it */
		pm->corrupt = true;
		return SQ_NO_SLOT;
	}
#endif
	*worker = pg_atomic_read_u32(&sq->slot_worker[slot]);
#ifndef SLOT_MUTATION_NO_RANGE_CHECK
	if (*worker == 0 || *worker > pm->nbackends)
	{
		/*
		 * A description no backend wrote.  Under the model's weak memory
		 * this branch also keeps the postmaster's later stores (a reap
		 * recycles the slot) behind the read: a store is never performed
		 * before the branch it follows resolves.
		 */
		pm->corrupt = true;
	}
#endif
	slot_set_add(&pm->running, slot);
	return slot;
}
