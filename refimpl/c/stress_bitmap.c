/*-------------------------------------------------------------------------
 *
 * stress_bitmap.c
 *	  The bitmap protocol as the stress harness (stress.c) drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_bitmap.h"
#include "stress.h"

#include <stdio.h>

static Size
shmem_size(uint32 nslots)
{
	return BitmapShmemSize(nslots);
}

static void
shmem_init(void *shm, uint32 nslots)
{
	BitmapShmemInit(shm, nslots);
}

static void
attach(void *view, void *shm, uint32 nslots)
{
	BitmapAttach(view, shm, nslots);
}

static void
pm_init(void *pm, uint32 nslots, uint32 nbackends)
{
	SQPostmasterInit(pm, nslots, nbackends);
}

static uint32
take(void *view)
{
	return BitmapTakeFreeSlot(view);
}

static pg_atomic_uint32 *
worker_word(void *view, uint32 slot)
{
	return &((Bitmap *) view)->sq.slot_worker[slot];
}

static void
queue(void *view, uint32 slot)
{
	SQQueueForStart(&((Bitmap *) view)->sq, slot);
}

static uint32
start(void *view, void *pm, uint32 *worker)
{
	return BitmapStartQueuedWorker(view, pm, worker);
}

static void
reap(void *view, void *pm, uint32 slot)
{
	BitmapReapWorker(view, pm, slot);
}

static const SlotSet *
running(void *pm)
{
	return &((StartQueuePostmaster *) pm)->running;
}

static bool
corrupt(void *pm)
{
	return ((StartQueuePostmaster *) pm)->corrupt;
}

static int
free_slots(void *view, void *pm, uint32 *out, int max, char *msg, Size msglen)
{
	Bitmap	   *bm = view;
	StartQueueShmem *sq = &bm->shm->sq;
	uint32		queued = pg_atomic_read_u32(&sq->start_head) - pg_atomic_read_u32(&sq->start_tail);
	int			n = 0;

	(void) pm;
	if (queued != 0)
	{
		snprintf(msg, msglen, "the start queue still holds %u entries", queued);
		return -1;
	}
	for (uint32 w = 0; w < (bm->nslots + 31) / 32; w++)
	{
		uint32		bits = pg_atomic_read_u32(&bm->free_bits[w]);

		for (uint32 b = 0; b < 32; b++)
		{
			if (!((bits >> b) & 1))
				continue;
			if (n >= max)
			{
				snprintf(msg, msglen, "the bitmap marks more than %d slots free", max);
				return -1;
			}
			out[n++] = w * 32 + b;
		}
	}
	return n;
}

const StressOps slot_stress_ops = {
	.name = "bitmap",
	.max_slots = 31,
	.view_size = sizeof(Bitmap),
	.pm_size = sizeof(StartQueuePostmaster),
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
