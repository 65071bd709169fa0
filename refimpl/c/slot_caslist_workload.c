/*-------------------------------------------------------------------------
 *
 * slot_caslist_workload.c
 *	  The model's workload for caslist (postmaster() and backend() in
 *	  models/_startqueue.py), for replay in the trace build.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_caslist_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_caslist.h"
#include "slot_replay.h"

typedef struct CasListThreadArgs
{
	CasListShmem *shm;
	uint32		nslots;
	uint32		me;
	uint32		ops;
	uint32		total;
	uint32		cas_retries;
} CasListThreadArgs;

static void
caslist_backend(void *arg)
{
	CasListThreadArgs *a = arg;
	CasList		cl;
	uint32		done = 0;

	CasListAttach(&cl, a->shm, a->nslots);
	while (done < a->ops)
		done += CasListRegisterWorker(&cl, a->me) ? 1 : 0;
}

static void
caslist_postmaster(void *arg)
{
	CasListThreadArgs *a = arg;
	CasList		cl;
	CasListPostmaster pm;
	uint32		done = 0;

	CasListAttach(&cl, a->shm, a->nslots);
	CasListPostmasterInit(&pm, a->nslots, a->ops ? a->total / a->ops : 0, a->cas_retries);
	while (done < a->total)
	{
		uint32		worker;
		uint32		exited;

		(void) CasListStartQueuedWorker(&cl, &pm, &worker);
		CasListPushKeptSlot(&cl, &pm);
		exited = slot_choose(a->nslots + 1);
		if (exited < a->nslots && slot_set_is_member(&pm.sq.running, exited))
		{
			CasListReapWorker(&cl, &pm, exited);
			done++;
		}
	}
}

Size
caslist_shmem_size(uint32 nslots)
{
	return CasListShmemSize(nslots);
}

void
caslist_shmem_init(void *shm, uint32 nslots)
{
	CasListShmemInit((CasListShmem *) shm, nslots);
}

int
caslist_regions(void *shm, uint32 nslots, SlotRegion *out, int max)
{
	CasList		cl;
	CasListShmem *s = shm;
	int			n = 0;

	CasListAttach(&cl, s, nslots);
	SLOT_REGION(out, max, n, s, "start_head", &s->sq.start_head, 0);
	SLOT_REGION(out, max, n, s, "start_tail", &s->sq.start_tail, 0);
	SLOT_REGION(out, max, n, s, "start_ring", cl.sq.start_ring, cl.sq.ring_size);
	SLOT_REGION(out, max, n, s, "slot_worker", cl.sq.slot_worker, nslots);
	SLOT_REGION(out, max, n, s, "StartQueueLock", &s->sq.StartQueueLock.state, 0);
	SLOT_REGION(out, max, n, s, "free_head", &s->free_head, 0);
	SLOT_REGION(out, max, n, s, "free_next", cl.free_next, nslots);
	return n;
}

int
caslist_replay_thread(void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total, uint32 extra)
{
	CasListThreadArgs a = {shm, nslots, me, ops, total, extra};

	return slot_trace_run(role == SLOT_ROLE_POSTMASTER ? caslist_postmaster : caslist_backend, &a);
}
