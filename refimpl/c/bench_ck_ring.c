/*-------------------------------------------------------------------------
 *
 * bench_ck_ring.c
 *	  A reference point outside PostgreSQL's idiom: free slots on a
 *	  Concurrency Kit ring (libck, <ck_ring.h>) that the postmaster alone
 *	  produces into (a released slot) and backends consume
 *	  (ck_ring_*_spmc); started slots through the CK start queue of
 *	  bench_ck.h.  Driven by the benchmark (bench.c).
 *
 * Like the ring protocol the postmaster never waits (CK's single-producer
 * enqueue and single-consumer dequeue are bounded) and range-checks every
 * slot number it reads; unlike it, backends take no lock (CK's
 * multi-consumer dequeue and multi-producer enqueue retry a CAS).
 *
 *-------------------------------------------------------------------------
 */
#include "bench_ck.h"

typedef struct CkRingShmem
{
	ck_ring_t	free_ring;
	ck_ring_t	start_ring;
	/* free_buf[ring size], start_buf[ring size], then slot_worker[nslots] */
	ck_ring_buffer_t buf[FLEXIBLE_ARRAY_MEMBER];
} CkRingShmem;

typedef struct CkRingView
{
	CkRingShmem *shm;
	ck_ring_buffer_t *free_buf;
	CkStartQueue sq;
} CkRingView;

static Size
shmem_size(uint32 nslots)
{
	return offsetof(CkRingShmem, buf) + sizeof(ck_ring_buffer_t) * 2 * (Size) ck_ring_size_for(nslots) +
		sizeof(uint32) * (Size) nslots;
}

static void
attach(void *view, void *shm, uint32 nslots)
{
	CkRingView *v = view;
	uint32		size = ck_ring_size_for(nslots);

	v->shm = shm;
	v->free_buf = &v->shm->buf[0];
	v->sq.ring = &v->shm->start_ring;
	v->sq.buf = &v->shm->buf[size];
	v->sq.slot_worker = (_Atomic uint32 *) &v->shm->buf[2 * size];
	v->sq.nslots = nslots;
}

/* Every slot starts free, in order 0, 1, 2, ... */
static void
shmem_init(void *shm, uint32 nslots)
{
	CkRingView	v;

	attach(&v, shm, nslots);
	ck_start_queue_init(&v.sq);
	ck_ring_init(&v.shm->free_ring, ck_ring_size_for(nslots));
	for (uint32 s = 0; s < nslots; s++)
		(void) ck_ring_enqueue_spmc(&v.shm->free_ring, v.free_buf, (void *) (uintptr_t) s);
}

static bool
obtain(void *view, uint32 me)
{
	CkRingView *v = view;
	void	   *entry;

	if (!ck_ring_dequeue_spmc(&v->shm->free_ring, v->free_buf, &entry))
		return false;
	ck_queue_for_start(&v->sq, (uint32) (uintptr_t) entry, me);
	return true;
}

static uint32
start(void *view, void *pm)
{
	return ck_start_queued(&((CkRingView *) view)->sq, pm);
}

static void
release(void *view, void *pm, uint32 slot)
{
	CkRingView *v = view;

	/*
	 * The postmaster's reads of the slot come before the entry that frees
	 * it (loads, then a store: a release fence).  Pairs with the backend's
	 * dequeue, after which it writes the slot.
	 */
	ck_pr_fence_release();
	if (!ck_ring_enqueue_spmc(&v->shm->free_ring, v->free_buf, (void *) (uintptr_t) slot))
		((CkPostmaster *) pm)->corrupt = true;	/* full: more releases than slots */
}

const BenchOps slot_bench_ops = {
	.name = "ck-ring",
	.max_slots = SLOT_MAX_SLOTS,
	.view_size = sizeof(CkRingView),
	.pm_size = sizeof(CkPostmaster),
	.shmem_size = shmem_size,
	.shmem_init = shmem_init,
	.attach = attach,
	.pm_init = ck_postmaster_init,
	.obtain = obtain,
	.start = start,
	.release = release,
	.housekeeping = NULL,
	.corrupt = ck_postmaster_corrupt,
};
