/*-------------------------------------------------------------------------
 *
 * slot_bgworker_workload.c
 *	  The model's workload for bgworker (postmaster(), backend() and
 *	  worker() in models/bgworker.py), for replay in the trace build:
 *	  backends register and signal the postmaster; its server loop reaps
 *	  exited workers first, then takes the signal and forks a worker for
 *	  every slot it registers; a worker exits at once.  The slot code is
 *	  slot_bgworker.c's; the process events are slot_process.h's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_bgworker_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_bgworker.h"
#include "slot_process.h"
#include "slot_replay.h"

/*
 * Laid out after BgwShmem: the postmaster's signal flag
 * (PMSIGNAL_BACKGROUND_WORKER_CHANGE) and the kernel's fork and exit flags,
 * nslots words each.
 */
typedef struct BgwProcsShmem
{
	pg_atomic_uint32 *bgworker_change;
	SlotProcesses procs;
} BgwProcsShmem;

typedef struct BgwThreadArgs
{
	BgwShmem   *shm;
	uint32		nslots;
	uint32		me;				/* backend number, or the worker's slot */
	uint32		ops;
	uint32		total;
} BgwThreadArgs;

static void
bgworker_attach_processes(BgwProcsShmem *p, BgwShmem *shm, uint32 nslots)
{
	pg_atomic_uint32 *after = (pg_atomic_uint32 *) ((char *) shm + BgwShmemSize(nslots));

	p->bgworker_change = &after[0];
	p->procs.started = &after[1];
	p->procs.exited = &after[1 + nslots];
}

static void
bgworker_backend(void *arg)
{
	BgwThreadArgs *a = arg;
	Bgw			bgw;
	BgwProcsShmem p;
	uint32		done = 0;

	BgwAttach(&bgw, a->shm, a->nslots);
	bgworker_attach_processes(&p, a->shm, a->nslots);
	while (done < a->ops)
	{
		if (BgwRegisterWorker(&bgw, a->me))
		{
			/*
			 * RegisterDynamicBackgroundWorker() ends with
			 * SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE), after
			 * releasing BackgroundWorkerLock.
			 */
			SlotSignalPostmaster(p.bgworker_change);
			done++;
		}
	}
}

static void
bgworker_fork(void *arg, uint32 slot)
{
	BgwProcsShmem *p = arg;

	SlotStartWorker(&p->procs, slot);
}

static void
bgworker_postmaster(void *arg)
{
	BgwThreadArgs *a = arg;
	Bgw			bgw;
	BgwProcsShmem p;
	BgwPostmaster pm = {0};
	uint32		done = 0;

	BgwAttach(&bgw, a->shm, a->nslots);
	bgworker_attach_processes(&p, a->shm, a->nslots);
	while (done < a->total)
	{
		/* ServerLoop: child exits first (the reaper), then the signal. */
		for (uint32 slot = 0; slot < a->nslots; slot++)
		{
			if (slot_set_is_member(&pm.running, slot) && SlotChildExited(&p.procs, slot))
			{
				BgwReapWorker(&bgw, &pm, slot);
				done++;
			}
		}
		if (SlotTakeSignal(p.bgworker_change))
			BgwStateChange(&bgw, &pm, bgworker_fork, &p);
	}
}

static void
bgworker_worker(void *arg)
{
	BgwThreadArgs *a = arg;
	BgwProcsShmem p;

	bgworker_attach_processes(&p, a->shm, a->nslots);

	/*
	 * One process after another in this slot: the harness abandons the
	 * thread where its recorded events end, waiting for the next fork.
	 */
	for (;;)
	{
		SlotWorkerForked(&p.procs, a->me);
		/* The worker's own work touches no slot. */
		SlotWorkerExit(&p.procs, a->me);
	}
}

Size
bgworker_shmem_size(uint32 nslots)
{
	return BgwShmemSize(nslots) + sizeof(pg_atomic_uint32) * (1 + 2 * (Size) nslots);
}

void
bgworker_shmem_init(void *shm, uint32 nslots)
{
	BgwProcsShmem p;

	BgwShmemInit((BgwShmem *) shm, nslots);
	bgworker_attach_processes(&p, shm, nslots);
	pg_atomic_init_u32(p.bgworker_change, 0);
	for (uint32 s = 0; s < nslots; s++)
	{
		pg_atomic_init_u32(&p.procs.started[s], 0);
		pg_atomic_init_u32(&p.procs.exited[s], 0);
	}
}

int
bgworker_regions(void *shm, uint32 nslots, SlotRegion *out, int max)
{
	Bgw			bgw;
	BgwShmem   *s = shm;
	BgwProcsShmem p;
	int			n = 0;

	BgwAttach(&bgw, s, nslots);
	bgworker_attach_processes(&p, s, nslots);
	SLOT_REGION(out, max, n, s, "in_use", bgw.in_use, nslots);
	SLOT_REGION(out, max, n, s, "generation", bgw.generation, nslots);
	SLOT_REGION(out, max, n, s, "notify_pid", bgw.notify_pid, nslots);
	SLOT_REGION(out, max, n, s, "worker", bgw.worker, nslots);
	SLOT_REGION(out, max, n, s, "signalled", &s->signalled, 0);
	SLOT_REGION(out, max, n, s, "BackgroundWorkerLock", &s->BackgroundWorkerLock.state, 0);
	SLOT_REGION(out, max, n, s, "bgworker_change", p.bgworker_change, 0);
	SLOT_REGION(out, max, n, s, "worker.started", p.procs.started, nslots);
	SLOT_REGION(out, max, n, s, "worker.exited", p.procs.exited, nslots);
	return n;
}

int
bgworker_replay_thread(void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total,
							 uint32 extra)
{
	BgwThreadArgs a = {shm, nslots, me, ops, total};

	(void) extra;
	switch (role)
	{
		case SLOT_ROLE_POSTMASTER:
			return slot_trace_run(bgworker_postmaster, &a);
		case SLOT_ROLE_BACKEND:
			return slot_trace_run(bgworker_backend, &a);
		default:
			return slot_trace_run(bgworker_worker, &a);
	}
}
