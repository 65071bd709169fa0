/*-------------------------------------------------------------------------
 *
 * stress_ring.c
 *	  The ring protocol as the stress harness (stress.c) drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_ring.h"
#include "stress.h"

#include <stdio.h>

static Size
shmem_size(uint32 nslots)
{
	return RingShmemSize(nslots);
}

static void
shmem_init(void *shm, uint32 nslots)
{
	RingShmemInit(shm, nslots);
}

static void
attach(void *view, void *shm, uint32 nslots)
{
	RingAttach(view, shm, nslots);
}

static void
pm_init(void *pm, uint32 nslots, uint32 nbackends)
{
	RingPostmasterInit(pm, nslots, nbackends);
}

static uint32
take(void *view)
{
	return RingTakeFreeSlot(view);
}

static pg_atomic_uint32 *
worker_word(void *view, uint32 slot)
{
	return &((RingSlots *) view)->sq.slot_worker[slot];
}

static void
queue(void *view, uint32 slot)
{
	RingQueueForStart(view, slot);
}

static uint32
start(void *view, void *pm, uint32 *worker)
{
	return RingStartQueuedWorker(view, pm, worker);
}

static void
reap(void *view, void *pm, uint32 slot)
{
	RingReapWorker(view, pm, slot);
}

static const SlotSet *
running(void *pm)
{
	return &((RingPostmasterState *) pm)->sq.running;
}

static bool
corrupt(void *pm)
{
	return ((RingPostmasterState *) pm)->sq.corrupt;
}

static int
free_slots(void *view, void *pm, uint32 *out, int max, char *msg, Size msglen)
{
	RingSlots  *rs = view;
	uint32		head = pg_atomic_read_u32(&rs->shm->free_head);
	uint32		tail = pg_atomic_read_u32(&rs->shm->free_tail);
	uint32		queued = pg_atomic_read_u32(&rs->shm->sq.start_head) - pg_atomic_read_u32(&rs->shm->sq.start_tail);
	uint32		n = head - tail;

	if (queued != 0)
	{
		snprintf(msg, msglen, "the start queue still holds %u entries", queued);
		return -1;
	}
	if (head != ((RingPostmasterState *) pm)->free_head)
	{
		snprintf(msg, msglen, "the shared free-queue head is not the postmaster's");
		return -1;
	}
	if (n > (uint32) max)
	{
		snprintf(msg, msglen, "the free queue holds %u entries", n);
		return -1;
	}
	for (uint32 k = 0; k < n; k++)
		out[k] = pg_atomic_read_u32(&rs->free_ring[(tail + k) % rs->ring_size]);
	return (int) n;
}

const StressOps slot_stress_ops = {
	.name = "ring",
	.max_slots = 32,
	.view_size = sizeof(RingSlots),
	.pm_size = sizeof(RingPostmasterState),
	.shmem_size = shmem_size,
	.shmem_init = shmem_init,
	.attach = attach,
	.pm_init = pm_init,
	.take = take,
	.worker_word = worker_word,
	.queue = queue,
	.start = start,
	.reap = reap,
	.housekeeping = NULL,
	.running = running,
	.corrupt = corrupt,
	.free_slots = free_slots,
};
