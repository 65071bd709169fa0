/*-------------------------------------------------------------------------
 *
 * stress_caslist.c
 *	  The caslist protocol as the stress harness (stress.c) drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_caslist.h"
#include "stress.h"

#include <stdio.h>

/* Failed CASes before the postmaster keeps a slot (the model's default). */
#define STRESS_CAS_RETRIES 2

static Size
shmem_size(uint32 nslots)
{
	return CasListShmemSize(nslots);
}

static void
shmem_init(void *shm, uint32 nslots)
{
	CasListShmemInit(shm, nslots);
}

static void
attach(void *view, void *shm, uint32 nslots)
{
	CasListAttach(view, shm, nslots);
}

static void
pm_init(void *pm, uint32 nslots, uint32 nbackends)
{
	CasListPostmasterInit(pm, nslots, nbackends, STRESS_CAS_RETRIES);
}

static uint32
take(void *view)
{
	return CasListTakeFreeSlot(view);
}

static pg_atomic_uint32 *
worker_word(void *view, uint32 slot)
{
	return &((CasList *) view)->sq.slot_worker[slot];
}

static void
queue(void *view, uint32 slot)
{
	SQQueueForStart(&((CasList *) view)->sq, slot);
}

static uint32
start(void *view, void *pm, uint32 *worker)
{
	return CasListStartQueuedWorker(view, pm, worker);
}

static void
reap(void *view, void *pm, uint32 slot)
{
	CasListReapWorker(view, pm, slot);
}

static void
housekeeping(void *view, void *pm)
{
	CasListPushKeptSlot(view, pm);
}

static const SlotSet *
running(void *pm)
{
	return &((CasListPostmaster *) pm)->sq.running;
}

static bool
corrupt(void *pm)
{
	return ((CasListPostmaster *) pm)->sq.corrupt;
}

static int
free_slots(void *view, void *pm, uint32 *out, int max, char *msg, Size msglen)
{
	CasList    *cl = view;
	StartQueueShmem *sq = &cl->shm->sq;
	uint32		queued = pg_atomic_read_u32(&sq->start_head) - pg_atomic_read_u32(&sq->start_tail);
	uint32		slot = pg_atomic_read_u32(&cl->shm->free_head) & 0xFFFF;
	int			n = 0;

	if (queued != 0)
	{
		snprintf(msg, msglen, "the start queue still holds %u entries", queued);
		return -1;
	}
	if (!slot_set_is_empty(&((CasListPostmaster *) pm)->kept))
	{
		snprintf(msg, msglen, "the postmaster still keeps %u slots", ((CasListPostmaster *) pm)->kept.count);
		return -1;
	}
	while (slot != CASLIST_EMPTY)
	{
		if (n >= max || slot >= cl->nslots)
		{
			snprintf(msg, msglen, "the free list is longer than %d or links slot number %u", max, slot);
			return -1;
		}
		out[n++] = slot;
		slot = pg_atomic_read_u32(&cl->free_next[slot]) & 0xFFFF;
	}
	return n;
}

const StressOps slot_stress_ops = {
	.name = "caslist",
	.max_slots = 31,
	.view_size = sizeof(CasList),
	.pm_size = sizeof(CasListPostmaster),
	.shmem_size = shmem_size,
	.shmem_init = shmem_init,
	.attach = attach,
	.pm_init = pm_init,
	.take = take,
	.worker_word = worker_word,
	.queue = queue,
	.start = start,
	.reap = reap,
	.housekeeping = housekeeping,
	.running = running,
	.corrupt = corrupt,
	.free_slots = free_slots,
};
