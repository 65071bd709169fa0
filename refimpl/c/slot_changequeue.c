/*-------------------------------------------------------------------------
 *
 * slot_changequeue.c
 *	  The change queue of the 0001 patch, as written; see
 *	  slot_changequeue.h; what it shares with the fix is in
 *	  slot_changequeue_common.c.  Every shared-memory access is one event of
 *	  models/changequeue.py, in the same order; mutations are compiled in
 *	  with -DSLOT_MUTATION_<NAME>.
 *
 *	  This is a model of a patch under review, kept to replay the checker's
 *	  counterexamples against: it is NOT correct (docs/changequeue.md).  The
 *	  correct version is slot_changequeue_fixed.c.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_changequeue.h"

/* The patch: an entry for every change. */
void
CqRequestChange(Cq *cq, uint32 slot)
{
	CqEnqueue(cq, slot);
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
#ifdef SLOT_MUTATION_REGISTER_WRITE_BARRIER

	/*
	 * The barrier the patch removed: the contents before in_use.  Alone it
	 * pairs with nothing, since CqStateChange() reads in_use and terminate
	 * with no read barrier between.
	 */
	pg_write_barrier();
#endif
	/* The patch removed the pg_write_barrier() that stood here. */
	pg_atomic_write_u32(&cq->in_use[slot], 1);
	CqEnqueue(cq, slot);
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
	if (pg_atomic_read_u32(&cq->in_use[slot]) == 0)
		return;					/* elog(LOG): not in use */

	/*
	 * No pg_read_barrier() after the read of in_use: the patch has none
	 * (slot_changequeue_fixed.c pairs one with the pg_write_barrier()
	 * before in_use = true).
	 */
	CqHandleSlotInUse(cq, pm, slot);
}

void
CqStateChange(Cq *cq, CqPostmaster *pm)
{
	uint32		tail = pg_atomic_read_u32(&cq->shm->tail);
	uint32		head = pg_atomic_read_u32(&cq->shm->head);

#ifndef SLOT_MUTATION_STATE_CHANGE_NO_READ_BARRIER

	/*
	 * Read the entries only after the head that covers them.  Pairs with
	 * the pg_write_barrier() in CqEnqueue().
	 */
	pg_read_barrier();
#endif
	/* The patch trusts head and tail: nothing here is range-checked. */
	while (tail != head)
	{
		uint32		slot = pg_atomic_read_u32(&cq->queue[tail]);

		tail = (tail + 1) % cq->queue_size;
		pg_atomic_write_u32(&cq->shm->tail, tail);
		CqHandleChange(cq, pm, slot);
	}
}
