/*-------------------------------------------------------------------------
 *
 * bench_ck_bitmap.c
 *	  A reference point outside PostgreSQL's idiom: free slots as the set
 *	  bits of a Concurrency Kit bitmap (libck, <ck_bitmap.h>); started slots
 *	  through the CK start queue of bench_ck.h.  Driven by the benchmark
 *	  (bench.c).
 *
 * A backend walks the set bits with ck_bitmap_next() (a word at a time,
 * count-trailing-zeros within one) and claims a bit with CK's atomic
 * test-and-reset (ck_pr_btr_uint on the bitmap's word): only the backend
 * that clears a set bit keeps the slot.  The postmaster frees a slot with
 * ck_bitmap_bts(), which also tells it if the bit was already set (a slot
 * freed twice, which no backend can cause).
 *
 *-------------------------------------------------------------------------
 */
#include "bench_ck.h"

#include <ck_bitmap.h>

typedef struct CkBitmapShmem
{
	ck_ring_t	start_ring;
	/* start_buf[ring size], slot_worker[nslots], then the bitmap */
	ck_ring_buffer_t buf[FLEXIBLE_ARRAY_MEMBER];
} CkBitmapShmem;

typedef struct CkBitmapView
{
	ck_bitmap_t *free;
	unsigned int *words;		/* the bitmap's buffer */
	CkStartQueue sq;
	uint32		nslots;
} CkBitmapView;

static Size
shmem_size(uint32 nslots)
{
	return offsetof(CkBitmapShmem, buf) + sizeof(ck_ring_buffer_t) * (Size) ck_ring_size_for(nslots) +
		sizeof(uint32) * (Size) nslots + ck_bitmap_size(nslots);
}

static void
attach(void *view, void *shm, uint32 nslots)
{
	CkBitmapView *v = view;
	CkBitmapShmem *s = shm;
	uint32		size = ck_ring_size_for(nslots);

	v->nslots = nslots;
	v->sq.ring = &s->start_ring;
	v->sq.buf = &s->buf[0];
	v->sq.slot_worker = (_Atomic uint32 *) &s->buf[size];
	v->sq.nslots = nslots;
	v->free = (ck_bitmap_t *) &v->sq.slot_worker[nslots];
	v->words = ck_bitmap_buffer(v->free);
}

/* Every slot starts free: every bit set. */
static void
shmem_init(void *shm, uint32 nslots)
{
	CkBitmapView v;

	attach(&v, shm, nslots);
	ck_start_queue_init(&v.sq);
	ck_bitmap_init(v.free, nslots, true);
}

static bool
obtain(void *view, uint32 me)
{
	CkBitmapView *v = view;
	ck_bitmap_iterator_t it;
	unsigned int bit;

	ck_bitmap_iterator_init(&it, v->free);
	while (ck_bitmap_next(v->free, &it, &bit))
	{
		if (ck_pr_btr_uint(&v->words[bit / CK_BITMAP_BLOCK], bit % CK_BITMAP_BLOCK))
		{
			/*
			 * The claim comes before our writes to the slot.  Pairs with the
			 * release fence before the postmaster's ck_bitmap_bts().
			 */
			ck_pr_fence_acquire();
			ck_queue_for_start(&v->sq, bit, me);
			return true;
		}
	}
	return false;
}

static uint32
start(void *view, void *pm)
{
	return ck_start_queued(&((CkBitmapView *) view)->sq, pm);
}

static void
release(void *view, void *pm, uint32 slot)
{
	CkBitmapView *v = view;

	/*
	 * The postmaster's reads of the slot come before the bit that frees it
	 * (loads, then an atomic store: a release fence).  Pairs with the
	 * acquire fence after a backend's claim.
	 */
	ck_pr_fence_release();
	if (ck_bitmap_bts(v->free, slot))
		((CkPostmaster *) pm)->corrupt = true;	/* already free */
}

const BenchOps slot_bench_ops = {
	.name = "ck-bitmap",
	.max_slots = SLOT_MAX_SLOTS,
	.view_size = sizeof(CkBitmapView),
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
