/*-------------------------------------------------------------------------
 *
 * slot_bgworker_workload.c
 *	  The model's workload for bgworker (postmaster() and backend() in
 *	  models/bgworker.py), for replay in the trace build.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_bgworker_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_bgworker.h"
#include "slot_replay.h"

typedef struct BgwThreadArgs
{
	BgwShmem   *shm;
	uint32		nslots;
	uint32		me;
	uint32		ops;
	uint32		total;
} BgwThreadArgs;

static void
bgworker_backend(void *arg)
{
	BgwThreadArgs *a = arg;
	Bgw			bgw;
	uint32		done = 0;

	BgwAttach(&bgw, a->shm, a->nslots);
	while (done < a->ops)
		done += BgwRegisterWorker(&bgw, a->me) ? 1 : 0;
}

static void
bgworker_postmaster(void *arg)
{
	BgwThreadArgs *a = arg;
	Bgw			bgw;
	BgwPostmaster pm = {0};
	uint32		done = 0;

	BgwAttach(&bgw, a->shm, a->nslots);
	while (done < a->total)
	{
		uint32		exited;

		BgwScanSlots(&bgw, &pm);
		exited = slot_choose(a->nslots + 1);
		if (exited < a->nslots && slot_set_is_member(&pm.running, exited))
		{
			BgwReapWorker(&bgw, &pm, exited);
			done++;
		}
	}
}

Size
bgworker_shmem_size(uint32 nslots)
{
	return BgwShmemSize(nslots);
}

void
bgworker_shmem_init(void *shm, uint32 nslots)
{
	BgwShmemInit((BgwShmem *) shm, nslots);
}

int
bgworker_regions(void *shm, uint32 nslots, SlotRegion *out, int max)
{
	Bgw			bgw;
	BgwShmem   *s = shm;
	int			n = 0;

	BgwAttach(&bgw, s, nslots);
	SLOT_REGION(out, max, n, s, "in_use", bgw.in_use, nslots);
	SLOT_REGION(out, max, n, s, "generation", bgw.generation, nslots);
	SLOT_REGION(out, max, n, s, "notify_pid", bgw.notify_pid, nslots);
	SLOT_REGION(out, max, n, s, "worker", bgw.worker, nslots);
	SLOT_REGION(out, max, n, s, "signalled", &s->signalled, 0);
	SLOT_REGION(out, max, n, s, "BackgroundWorkerLock", &s->BackgroundWorkerLock.state, 0);
	return n;
}

int
bgworker_replay_thread(void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total, uint32 extra)
{
	BgwThreadArgs a = {shm, nslots, me, ops, total};

	(void) extra;
	return slot_trace_run(role == SLOT_ROLE_POSTMASTER ? bgworker_postmaster : bgworker_backend, &a);
}
