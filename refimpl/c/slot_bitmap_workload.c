/*-------------------------------------------------------------------------
 *
 * slot_bitmap_workload.c
 *	  The model's workload for bitmap (postmaster() and backend() in
 *	  models/_startqueue.py), for replay in the trace build.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_bitmap_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_bitmap.h"
#include "slot_replay.h"

typedef struct BitmapThreadArgs
{
	BitmapShmem *shm;
	uint32		nslots;
	uint32		me;
	uint32		ops;
	uint32		total;
} BitmapThreadArgs;

static void
bitmap_backend(void *arg)
{
	BitmapThreadArgs *a = arg;
	Bitmap		bm;
	uint32		done = 0;

	BitmapAttach(&bm, a->shm, a->nslots);
	while (done < a->ops)
		done += BitmapRegisterWorker(&bm, a->me) ? 1 : 0;
}

static void
bitmap_postmaster(void *arg)
{
	BitmapThreadArgs *a = arg;
	Bitmap		bm;
	StartQueuePostmaster pm;
	uint32		done = 0;

	BitmapAttach(&bm, a->shm, a->nslots);
	SQPostmasterInit(&pm, a->nslots, a->ops ? a->total / a->ops : 0);
	while (done < a->total)
	{
		uint32		worker;
		uint32		exited;

		(void) BitmapStartQueuedWorker(&bm, &pm, &worker);
		exited = slot_choose(a->nslots + 1);
		if (exited < a->nslots && slot_set_is_member(&pm.running, exited))
		{
			BitmapReapWorker(&bm, &pm, exited);
			done++;
		}
	}
}

Size
bitmap_shmem_size(uint32 nslots)
{
	return BitmapShmemSize(nslots);
}

void
bitmap_shmem_init(void *shm, uint32 nslots)
{
	BitmapShmemInit((BitmapShmem *) shm, nslots);
}

int
bitmap_regions(void *shm, uint32 nslots, SlotRegion *out, int max)
{
	Bitmap		bm;
	BitmapShmem *s = shm;
	int			n = 0;

	BitmapAttach(&bm, s, nslots);
	SLOT_REGION(out, max, n, s, "start_head", &s->sq.start_head, 0);
	SLOT_REGION(out, max, n, s, "start_tail", &s->sq.start_tail, 0);
	SLOT_REGION(out, max, n, s, "start_ring", bm.sq.start_ring, bm.sq.ring_size);
	SLOT_REGION(out, max, n, s, "slot_worker", bm.sq.slot_worker, nslots);
	SLOT_REGION(out, max, n, s, "StartQueueLock", &s->sq.StartQueueLock.state, 0);
	SLOT_REGION(out, max, n, s, "free_bits", bm.free_bits, (nslots + 31) / 32);
	return n;
}

int
bitmap_replay_thread(void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total, uint32 extra)
{
	BitmapThreadArgs a = {shm, nslots, me, ops, total};

	(void) extra;
	return slot_trace_run(role == SLOT_ROLE_POSTMASTER ? bitmap_postmaster : bitmap_backend, &a);
}
