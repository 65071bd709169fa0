/*-------------------------------------------------------------------------
 *
 * bench_ring.c
 *	  The ring protocol (slot_ring.c) as the benchmark (bench.c) drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "bench.h"
#include "slot_ring.h"

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

static bool
obtain(void *view, uint32 me)
{
	return RingRegisterWorker(view, me);
}

static uint32
start(void *view, void *pm)
{
	uint32		worker;

	return RingStartQueuedWorker(view, pm, &worker);
}

static void
release(void *view, void *pm, uint32 slot)
{
	RingReapWorker(view, pm, slot);
}

static bool
corrupt(void *pm)
{
	return ((RingPostmasterState *) pm)->sq.corrupt;
}

const BenchOps slot_bench_ops = {
	.name = "ring",
	.max_slots = SLOT_MAX_SLOTS,
	.view_size = sizeof(RingSlots),
	.pm_size = sizeof(RingPostmasterState),
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
