/*-------------------------------------------------------------------------
 *
 * bench_bgworker.c
 *	  Today's design (slot_bgworker.c: a backend's linear search for a free
 *	  slot under BackgroundWorkerLock, the postmaster's scan of every slot)
 *	  as the benchmark (bench.c) drives it: the baseline the free-slot
 *	  designs would replace.
 *
 * BgwStateChange() starts every newly used slot in one pass, while the
 * benchmark takes them one at a time: the adapter hands out the slots the
 * last scan started and scans again only when none is left.  Finding them is
 * a pass over the running set a word (64 slots) at a time, the counterpart
 * of the walk over BackgroundWorkerList in PostgreSQL's
 * maybe_start_bgworkers().
 *
 *-------------------------------------------------------------------------
 */
#include "bench.h"
#include "slot_bgworker.h"

typedef struct BgwBenchPostmaster
{
	BgwPostmaster pm;
	SlotSet		handed_out;		/* started slots the benchmark already has */
	uint32		nslots;
} BgwBenchPostmaster;

static Size
shmem_size(uint32 nslots)
{
	return BgwShmemSize(nslots);
}

static void
shmem_init(void *shm, uint32 nslots)
{
	BgwShmemInit(shm, nslots);
}

static void
attach(void *view, void *shm, uint32 nslots)
{
	BgwAttach(view, shm, nslots);
}

static void
pm_init(void *pm, uint32 nslots, uint32 nbackends)
{
	BgwBenchPostmaster *p = pm;

	(void) nbackends;
	slot_set_clear(&p->pm.running);
	slot_set_clear(&p->handed_out);
	p->nslots = nslots;
}

static bool
obtain(void *view, uint32 me)
{
	return BgwRegisterWorker(view, me);
}

/* A slot the postmaster started but has not handed out, or BENCH_NO_SLOT. */
static uint32
not_handed_out(BgwBenchPostmaster *p)
{
	if (p->pm.running.count == p->handed_out.count)
		return BENCH_NO_SLOT;
	for (uint32 w = 0; w < (p->nslots + 63) / 64; w++)
	{
		uint64		fresh = p->pm.running.words[w] & ~p->handed_out.words[w];

		if (fresh != 0)
			return w * 64 + (uint32) __builtin_ctzll(fresh);
	}
	return BENCH_NO_SLOT;
}

/*
 * The benchmark has no processes: starting the worker is fork(), a system
 * call, which orders the postmaster's reads of the slot against everything
 * after it.  PostgreSQL has no explicit barrier there; this one stands for
 * the fork().
 */
static void
fork_by_barrier(void *arg, uint32 slot)
{
	(void) arg;
	(void) slot;
	pg_memory_barrier();
}

static uint32
start(void *view, void *pm)
{
	BgwBenchPostmaster *p = pm;
	uint32		slot = not_handed_out(p);

	if (slot == BENCH_NO_SLOT)
	{
		BgwStateChange(view, &p->pm, fork_by_barrier, NULL);
		slot = not_handed_out(p);
	}
	if (slot != BENCH_NO_SLOT)
		slot_set_add(&p->handed_out, slot);
	return slot;
}

static void
release(void *view, void *pm, uint32 slot)
{
	BgwBenchPostmaster *p = pm;

	BgwReapWorker(view, &p->pm, slot);
	slot_set_delete(&p->handed_out, slot);
}

static bool
corrupt(void *pm)
{
	/* the design reads nothing it could find corrupt: it trusts in_use */
	(void) pm;
	return false;
}

const BenchOps slot_bench_ops = {
	.name = "bgworker",
	.max_slots = SLOT_MAX_SLOTS,
	.view_size = sizeof(Bgw),
	.pm_size = sizeof(BgwBenchPostmaster),
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
