/*-------------------------------------------------------------------------
 *
 * slot_bgworker.c
 *	  Today's background-worker slots; see slot_bgworker.h.  Every
 *	  shared-memory access is one event of models/bgworker.py, in the same
 *	  order; mutations are compiled in with -DSLOT_MUTATION_<NAME>.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_bgworker.h"

Size
BgwShmemSize(uint32 nslots)
{
	return offsetof(BgwShmem, words) + sizeof(pg_atomic_uint32) * 4 * (Size) nslots;
}

void
BgwShmemInit(BgwShmem *shm, uint32 nslots)
{
	Bgw			bgw;

	BgwAttach(&bgw, shm, nslots);
	pg_atomic_init_u32(&shm->signalled, 0);
	LWLockInitialize(&shm->BackgroundWorkerLock);
	for (uint32 s = 0; s < nslots; s++)
	{
		pg_atomic_init_u32(&bgw.in_use[s], 0);
		pg_atomic_init_u32(&bgw.generation[s], 0);
		pg_atomic_init_u32(&bgw.notify_pid[s], 0);
		pg_atomic_init_u32(&bgw.worker[s], 0);
	}
}

void
BgwAttach(Bgw *bgw, BgwShmem *shm, uint32 nslots)
{
	bgw->shm = shm;
	bgw->nslots = nslots;
	bgw->in_use = &shm->words[0];
	bgw->generation = &shm->words[nslots];
	bgw->notify_pid = &shm->words[2 * nslots];
	bgw->worker = &shm->words[3 * nslots];
}

bool
BgwRegisterWorker(Bgw *bgw, uint32 me)
{
	uint32		slot;
	uint32		gen;

	LWLockAcquire(&bgw->shm->BackgroundWorkerLock, LW_EXCLUSIVE);
	for (slot = 0; slot < bgw->nslots; slot++)
	{
		if (pg_atomic_read_u32(&bgw->in_use[slot]) == 0)
			break;
	}
	if (slot == bgw->nslots)
	{
		LWLockRelease(&bgw->shm->BackgroundWorkerLock);
		return false;
	}

	/*
	 * No barrier before filling in the slot: these stores depend on the
	 * branch on in_use above, and a store is never performed before the
	 * branch it follows is resolved.
	 */
	pg_atomic_write_u32(&bgw->worker[slot], me);
	pg_atomic_write_u32(&bgw->notify_pid[slot], me);
	gen = pg_atomic_read_u32(&bgw->generation[slot]);
	pg_atomic_write_u32(&bgw->generation[slot], gen + 1);
#ifndef SLOT_MUTATION_REGISTER_NO_WRITE_BARRIER

	/*
	 * The contents must be visible before in_use.  Pairs with the
	 * pg_read_barrier() in BgwStateChange() between reading in_use and reading
	 * the contents.
	 */
	pg_write_barrier();
#endif
	pg_atomic_write_u32(&bgw->in_use[slot], 1);
	LWLockRelease(&bgw->shm->BackgroundWorkerLock);
	return true;
}

void
BgwStateChange(Bgw *bgw, BgwPostmaster *pm, BgwForkFn fork_worker, void *fork_arg)
{
	for (uint32 slot = 0; slot < bgw->nslots; slot++)
	{
		if (pg_atomic_read_u32(&bgw->in_use[slot]) != 0 && !slot_set_is_member(&pm->running, slot))
		{
			uint32		w;
			uint32		pid;

#ifndef SLOT_MUTATION_SCAN_NO_READ_BARRIER

			/*
			 * Read the contents only after seeing in_use.  Pairs with the
			 * pg_write_barrier() in BgwRegisterWorker() before in_use is set.
			 */
			pg_read_barrier();
#endif
			w = pg_atomic_read_u32(&bgw->worker[slot]);
			pid = pg_atomic_read_u32(&bgw->notify_pid[slot]);
			(void) w;			/* the postmaster forks the worker it describes */
			(void) pid;
			slot_set_add(&pm->running, slot);

			/*
			 * fork() is a full barrier: the reads above are done before the
			 * worker, or anything after it, runs.
			 */
			fork_worker(fork_arg, slot);
		}
	}
}

void
BgwReapWorker(Bgw *bgw, BgwPostmaster *pm, uint32 slot)
{
	uint32		pid = pg_atomic_read_u32(&bgw->notify_pid[slot]);

#ifndef SLOT_MUTATION_RELEASE_NO_BARRIER

	/*
	 * The slot must be read before in_use says it may be reused: a load then
	 * a store, so a full barrier (a write barrier orders stores only).  Pairs
	 * with the backend's read of in_use under BackgroundWorkerLock in
	 * BgwRegisterWorker().
	 */
	pg_memory_barrier();
#endif
	pg_atomic_write_u32(&bgw->in_use[slot], 0);
	/* kill(pid, SIGUSR1) */
	pg_atomic_write_u32(&bgw->shm->signalled, pid);
	slot_set_delete(&pm->running, slot);
}
