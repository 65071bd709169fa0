/*-------------------------------------------------------------------------
 *
 * bench_caslist.c
 *	  The caslist protocol (slot_caslist.c) as the benchmark (bench.c) drives it.
 *
 *-------------------------------------------------------------------------
 */
#include "bench.h"
#include "slot_caslist.h"

/* Failed CASes before the postmaster keeps a slot (the model's default, as in stress_caslist.c). */
#define BENCH_CAS_RETRIES 2

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
	CasListPostmasterInit(pm, nslots, nbackends, BENCH_CAS_RETRIES);
}

static bool
obtain(void *view, uint32 me)
{
	return CasListRegisterWorker(view, me);
}

static uint32
start(void *view, void *pm)
{
	uint32		worker;

	return CasListStartQueuedWorker(view, pm, &worker);
}

static void
release(void *view, void *pm, uint32 slot)
{
	CasListReapWorker(view, pm, slot);
}

static void
housekeeping(void *view, void *pm)
{
	CasListPushKeptSlot(view, pm);
}

static bool
corrupt(void *pm)
{
	return ((CasListPostmaster *) pm)->sq.corrupt;
}

const BenchOps slot_bench_ops = {
	.name = "caslist",
	.max_slots = SLOT_MAX_SLOTS,
	.view_size = sizeof(CasList),
	.pm_size = sizeof(CasListPostmaster),
	.shmem_size = shmem_size,
	.shmem_init = shmem_init,
	.attach = attach,
	.pm_init = pm_init,
	.obtain = obtain,
	.start = start,
	.release = release,
	.housekeeping = housekeeping,
	.corrupt = corrupt,
};
