/*-------------------------------------------------------------------------
 *
 * slot_changequeue_fixed.c
 *	  The change queue of the 0001 patch with the smallest change that makes
 *	  it correct; see slot_changequeue.h and models/changequeue_fixed.py
 *	  (what it shares with the patch is in slot_changequeue_common.c).
 *	  Every shared-memory access is one event of that model, in the same
 *	  order; mutations are compiled in with -DSLOT_MUTATION_<NAME>.
 *
 *	  Against the patch (slot_changequeue.c):
 *	  1. a slot has at most one entry waiting: queued[slot] is set by the
 *		 backend that enqueues it and cleared by the postmaster when it takes
 *		 the entry, so 2N + 1 entries never fill;
 *	  2. the pg_write_barrier() before in_use = true is back, paired with a
 *		 pg_read_barrier() after the postmaster reads in_use;
 *	  3. the postmaster range-checks the head, tail and entries it reads.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_changequeue.h"

/*
 * Make sure an entry for "slot" waits in the queue.  BackgroundWorkerLock is
 * held, so backends do not race each other for queued[slot].
 */
void
CqRequestChange(Cq *cq, uint32 slot)
{
#ifndef SLOT_MUTATION_BACKEND_NO_FULL_BARRIER

	/*
	 * Our stores to the slot (in_use or terminate) must be visible before we
	 * read queued: a store then a load, so a full barrier.  Pairs with the
	 * pg_memory_barrier() in CqHandleChange() between clearing queued and
	 * reading the slot: either we see queued clear and enqueue again, or the
	 * postmaster sees our stores.
	 */
	pg_memory_barrier();
#endif
#ifdef SLOT_MUTATION_NO_QUEUED_FLAG
	CqEnqueue(cq, slot);		/* the patch: an entry for every change */
	return;
#else
	if (pg_atomic_read_u32(&cq->queued[slot]) == 0)
	{
		pg_atomic_write_u32(&cq->queued[slot], 1);
		CqEnqueue(cq, slot);
	}
#endif
}

bool
CqRegisterWorker(Cq *cq, uint32 me, CqHandle *handle)
{
	uint32		slot;
	uint32		gen;

	LWLockAcquire(&cq->shm->BackgroundWorkerLock, LW_EXCLUSIVE);
	for (slot = 0; slot < cq->nslots; slot++)
	{
		if (pg_atomic_read_u32(&cq->in_use[slot]) == 0)
			break;
	}
	if (slot == cq->nslots)
	{
		LWLockRelease(&cq->shm->BackgroundWorkerLock);
		return false;
	}

	/* These stores depend on the branch on in_use above. */
	pg_atomic_write_u32(&cq->worker[slot], me);
	pg_atomic_write_u32(&cq->pid[slot], CQ_INVALID_PID);
	gen = pg_atomic_read_u32(&cq->generation[slot]) + 1;
	pg_atomic_write_u32(&cq->generation[slot], gen);
	pg_atomic_write_u32(&cq->terminate[slot], 0);
#ifndef SLOT_MUTATION_REGISTER_NO_WRITE_BARRIER

	/*
	 * The new contents (terminate, the description) must be visible before
	 * in_use: an entry left from the slot's last use may be handled right
	 * now.  Pairs with the pg_read_barrier() in CqHandleChange() after it
	 * reads in_use.
	 */
	pg_write_barrier();
#endif
	pg_atomic_write_u32(&cq->in_use[slot], 1);
	CqRequestChange(cq, slot);
	LWLockRelease(&cq->shm->BackgroundWorkerLock);
	/* SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE) */
	handle->slot = slot;
	handle->generation = gen;
	return true;
}

/* One queue entry of BackgroundWorkerStateChange(). */
static void
CqHandleChange(Cq *cq, CqPostmaster *pm, uint32 slot)
{
	pg_atomic_write_u32(&cq->queued[slot], 0);
#ifndef SLOT_MUTATION_POSTMASTER_NO_FULL_BARRIER

	/*
	 * Clear queued before reading the slot: a store then a load, so a full
	 * barrier.  Pairs with the pg_memory_barrier() in CqRequestChange(): a
	 * change we do not see below is enqueued again.
	 */
	pg_memory_barrier();
#endif
	if (pg_atomic_read_u32(&cq->in_use[slot]) == 0)
		return;					/* elog(LOG): not in use */
#ifndef SLOT_MUTATION_POSTMASTER_NO_READ_BARRIER

	/*
	 * Read the slot's contents only after in_use.  Pairs with the
	 * pg_write_barrier() in CqRegisterWorker() before in_use = true.
	 */
	pg_read_barrier();
#endif
	CqHandleSlotInUse(cq, pm, slot);
}

void
CqStateChange(Cq *cq, CqPostmaster *pm)
{
	uint32		tail = pg_atomic_read_u32(&cq->shm->tail);
	uint32		head = pg_atomic_read_u32(&cq->shm->head);

#ifndef SLOT_MUTATION_NO_RANGE_CHECK
	if (tail >= cq->queue_size || head >= cq->queue_size)
		return;					/* elog(LOG): corrupt queue; a rogue can jam
								 * bgworkers, never the postmaster */
#endif

	/*
	 * Read the entries only after the head that covers them.  Pairs with
	 * the pg_write_barrier() in CqEnqueue().
	 */
	pg_read_barrier();
	while (tail != head)
	{
		uint32		slot = pg_atomic_read_u32(&cq->queue[tail]);

		tail = (tail + 1) % cq->queue_size;
		pg_atomic_write_u32(&cq->shm->tail, tail);
#ifndef SLOT_MUTATION_NO_RANGE_CHECK
		if (slot >= cq->nslots)
			continue;			/* elog(LOG): no such slot */
#endif
		CqHandleChange(cq, pm, slot);
	}
}
