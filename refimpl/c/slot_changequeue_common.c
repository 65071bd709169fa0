/*-------------------------------------------------------------------------
 *
 * slot_changequeue_common.c
 *	  What the 0001 patch (slot_changequeue.c) and its fix
 *	  (slot_changequeue_fixed.c) share: the shared-memory layout, the
 *	  enqueue, TerminateBackgroundWorker, and the postmaster's handling of a
 *	  slot it has seen in use, of child exits and of starts, as
 *	  models/_changequeue.py is for the two models.  Every shared-memory
 *	  access is one event of the models, in the same order.  Each variant
 *	  supplies CqRequestChange() (the patch: CqEnqueue()).
 *
 *	  Mutations: SLOT_MUTATION_ENQUEUE_NO_WRITE_BARRIER (both variants) and
 *	  SLOT_MUTATION_TERMINATE_NO_GENERATION_CHECK (the patch only).
 *
 *-------------------------------------------------------------------------
 */
#include "slot_changequeue.h"

Size
CqShmemSize(uint32 nslots)
{
	return offsetof(CqShmem, words) + sizeof(pg_atomic_uint32) * (6 * (Size) nslots + 2 * (Size) nslots + 1);
}

void
CqShmemInit(CqShmem *shm, uint32 nslots)
{
	Cq			cq;

	CqAttach(&cq, shm, nslots, true);
	pg_atomic_init_u32(&shm->head, 0);
	pg_atomic_init_u32(&shm->tail, 0);
	LWLockInitialize(&shm->BackgroundWorkerLock);
	for (uint32 i = 0; i < 6 * nslots + cq.queue_size; i++)
		pg_atomic_init_u32(&shm->words[i], 0);
}

void
CqAttach(Cq *cq, CqShmem *shm, uint32 nslots, bool assert_checking)
{
	cq->shm = shm;
	cq->nslots = nslots;
	cq->queue_size = 2 * nslots + 1;
	cq->assert_checking = assert_checking;
	cq->in_use = &shm->words[0];
	cq->terminate = &shm->words[nslots];
	cq->generation = &shm->words[2 * nslots];
	cq->pid = &shm->words[3 * nslots];
	cq->worker = &shm->words[4 * nslots];
	cq->queued = &shm->words[5 * nslots];
	cq->queue = &shm->words[6 * nslots];
}

/* Put a slot number on the change queue.  BackgroundWorkerLock is held. */
void
CqEnqueue(Cq *cq, uint32 slot)
{
	uint32		head = pg_atomic_read_u32(&cq->shm->head);

	pg_atomic_write_u32(&cq->queue[head], slot);
#ifndef SLOT_MUTATION_ENQUEUE_NO_WRITE_BARRIER

	/*
	 * The entry (and the slot's contents stored before it) must be visible
	 * before the head that covers it.  Pairs with the pg_read_barrier() in
	 * CqStateChange() after it reads the head.
	 */
	pg_write_barrier();
#endif
	head = (head + 1) % cq->queue_size;
	if (cq->assert_checking)
	{
		/*
		 * Assert(head != tail): the patch's only guard against a full queue.
		 * A production build does not read the tail at all, and the store
		 * below then makes every queued entry vanish.  The fix keeps it (an
		 * assert-enabled build): at most N entries wait, so it cannot fail.
		 */
		uint32		tail = pg_atomic_read_u32(&cq->shm->tail);

		Assert(head != tail);
		(void) tail;
	}
	pg_atomic_write_u32(&cq->shm->head, head);
}

void
CqTerminateWorker(Cq *cq, const CqHandle *handle)
{
	uint32		gen;

	LWLockAcquire(&cq->shm->BackgroundWorkerLock, LW_EXCLUSIVE);
	gen = pg_atomic_read_u32(&cq->generation[handle->slot]);
#ifndef SLOT_MUTATION_TERMINATE_NO_GENERATION_CHECK
	if (gen == handle->generation)
#endif
	{
		/* in_use is not looked at. */
		if (pg_atomic_read_u32(&cq->terminate[handle->slot]) == 0)
		{
			pg_atomic_write_u32(&cq->terminate[handle->slot], 1);
			CqRequestChange(cq, handle->slot);
		}
	}
	(void) gen;
	LWLockRelease(&cq->shm->BackgroundWorkerLock);
}

/* ForgetBackgroundWorker(): free the slot, drop the RegisteredBgWorker. */
static void
CqForgetWorker(Cq *cq, CqPostmaster *pm, uint32 slot)
{
	/*
	 * What we read from the slot must be read before in_use frees it for
	 * reuse: a load then a store, so a full barrier (bgworker.c has it too).
	 * Pairs with the backends' read of in_use under BackgroundWorkerLock in
	 * CqRegisterWorker().
	 */
	pg_memory_barrier();
	pg_atomic_write_u32(&cq->in_use[slot], 0);
	slot_set_delete(&pm->registered, slot);
	slot_set_delete(&pm->running, slot);
	slot_set_delete(&pm->rw_terminate, slot);
	pm->forgotten++;
}

/*
 * The rest of one queue entry, for a slot the postmaster has seen in use
 * (each variant's CqHandleChange() reads in_use first).
 */
void
CqHandleSlotInUse(Cq *cq, CqPostmaster *pm, uint32 slot)
{
	uint32		w;

	if (slot_set_is_member(&pm->registered, slot))
	{
		if (pg_atomic_read_u32(&cq->terminate[slot]) != 0)
			slot_set_add(&pm->rw_terminate, slot);	/* and SIGTERM it if it runs */
		return;
	}
	if (pg_atomic_read_u32(&cq->terminate[slot]) != 0)
	{
		/*
		 * Terminated before we registered it: free the slot at once.  The
		 * slot's reads must be done before in_use frees it: a full barrier,
		 * pairing with the backends' read of in_use under the lock.
		 */
		pg_memory_barrier();
		pg_atomic_write_u32(&cq->in_use[slot], 0);
		pm->forgotten++;
		return;
	}
	w = pg_atomic_read_u32(&cq->worker[slot]);
	(void) w;					/* copied into the RegisteredBgWorker */
	slot_set_add(&pm->registered, slot);
}

void
CqReapWorker(Cq *cq, CqPostmaster *pm, uint32 slot)
{
	CqForgetWorker(cq, pm, slot);
}

/*
 * maybe_start_bgworkers() for one slot: the workload passes the slot the
 * model's postmaster chose on this pass (or nslots, none), which covers
 * every order in which the postmaster may start registered workers.
 */
void
CqMaybeStartWorker(Cq *cq, CqPostmaster *pm, uint32 slot)
{
	if (slot < cq->nslots && slot_set_is_member(&pm->registered, slot) &&
		!slot_set_is_member(&pm->running, slot))
	{
		if (slot_set_is_member(&pm->rw_terminate, slot))
			CqForgetWorker(cq, pm, slot);
		else
		{
			/*
			 * fork(): a system call, which orders everything before it
			 * against everything after.  PostgreSQL has no explicit barrier
			 * here; this one stands for the fork().
			 */
			pg_memory_barrier();
			slot_set_add(&pm->running, slot);
		}
	}
}
