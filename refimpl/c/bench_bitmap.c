/*-------------------------------------------------------------------------
 *
 * bench_bitmap.c
 *	  The bitmap protocol (slot_bitmap.c) as the benchmark (bench.c) drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "bench.h"
#include "slot_bitmap.h"

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

static bool
obtain(void *view, uint32 me)
{
	return BitmapRegisterWorker(view, me);
}

static uint32
start(void *view, void *pm)
{
	uint32		worker;

	return BitmapStartQueuedWorker(view, pm, &worker);
}

static void
release(void *view, void *pm, uint32 slot)
{
	BitmapReapWorker(view, pm, slot);
}

static bool
corrupt(void *pm)
{
	return ((StartQueuePostmaster *) pm)->corrupt;
}

const BenchOps slot_bench_ops = {
	.name = "bitmap",
	.max_slots = SLOT_MAX_SLOTS,
	.view_size = sizeof(Bitmap),
	.pm_size = sizeof(StartQueuePostmaster),
	.shmem_size = shmem_size,
	.shmem_init = shmem_init,
	.attach = attach,
	.pm_init = pm_init,
	.obtain = obtain,
	.start = start,
	.release = release,
	.housekeeping = NULL,
	.corrupt = corrupt,
};
