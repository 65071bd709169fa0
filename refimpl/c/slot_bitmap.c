/*-------------------------------------------------------------------------
 *
 * slot_bitmap.c
 *	  Free slots as bits; see slot_bitmap.h.  Every shared-memory access is
 *	  one event of models/bitmap.py, in the same order; mutations are
 *	  compiled in with -DSLOT_MUTATION_<NAME>.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_bitmap.h"

#define BITMAP_WORDS(nslots)	(((nslots) + 31) / 32)

Size
BitmapShmemSize(uint32 nslots)
{
	return offsetof(BitmapShmem, words) +
		sizeof(pg_atomic_uint32) * ((Size) SQRingSize(nslots) + nslots + BITMAP_WORDS(nslots));
}

/* Initially every slot is free: all its bits set. */
void
BitmapShmemInit(BitmapShmem *shm, uint32 nslots)
{
	Bitmap		bm;

	BitmapAttach(&bm, shm, nslots);
	SQShmemInit(&shm->sq, bm.sq.start_ring, bm.sq.slot_worker, nslots);
	for (uint32 w = 0; w < BITMAP_WORDS(nslots); w++)
	{
		uint32		bits = 0;

		for (uint32 s = w * 32; s < nslots && s < (w + 1) * 32; s++)
			bits |= (uint32) 1 << (s & 31);
		pg_atomic_init_u32(&bm.free_bits[w], bits);
	}
}

void
BitmapAttach(Bitmap *bm, BitmapShmem *shm, uint32 nslots)
{
	uint32		ring = SQRingSize(nslots);

	bm->shm = shm;
	bm->nslots = nslots;
	SQAttach(&bm->sq, &shm->sq, &shm->words[0], &shm->words[ring], nslots);
	bm->free_bits = &shm->words[ring + nslots];
}

/* Try to clear "slot"'s bit; true if this backend now owns the slot. */
static bool
claim(Bitmap *bm, uint32 slot)
{
	uint32		word = slot >> 5;
	uint32		bit = (uint32) 1 << (slot & 31);
	uint32		old;

#ifdef SLOT_MUTATION_PLAIN_RMW
	/* the mistake: a read and a write, so a claim in between is lost */
	old = pg_atomic_read_u32(&bm->free_bits[word]);
	pg_atomic_write_u32(&bm->free_bits[word], old & ~bit);
#else
	old = pg_atomic_fetch_and_u32(&bm->free_bits[word], ~bit);
#endif
#ifndef SLOT_MUTATION_UNCHECKED_CLAIM
	if ((old & bit) == 0)
		return false;			/* someone else claimed it after our scan */
#else
	(void) old;					/* the mistake: what the RMW returned is ignored */
#endif
	return true;
}

uint32
BitmapTakeFreeSlot(Bitmap *bm)
{
	uint32		bits = 0;

	for (uint32 slot = 0; slot < bm->nslots; slot++)
	{
		if ((slot & 31) == 0)
			bits = pg_atomic_read_u32(&bm->free_bits[slot >> 5]);
		if (((bits >> (slot & 31)) & 1) && claim(bm, slot))
			return slot;
	}
	return SQ_NO_SLOT;
}

bool
BitmapRegisterWorker(Bitmap *bm, uint32 me)
{
	uint32		slot = BitmapTakeFreeSlot(bm);

	if (slot == SQ_NO_SLOT)
		return false;
	/* Fill in the slot (the worker's description): here, who asked for it. */
	pg_atomic_write_u32(&bm->sq.slot_worker[slot], me);
	SQQueueForStart(&bm->sq, slot);
	return true;
}

uint32
BitmapStartQueuedWorker(Bitmap *bm, StartQueuePostmaster *pm, uint32 *worker)
{
	return SQStartQueuedWorker(&bm->sq, pm, worker);
}

void
BitmapReapWorker(Bitmap *bm, StartQueuePostmaster *pm, uint32 slot)
{
	uint32		old;

	/*
	 * A full-barrier RMW: the worker's use of the slot is over before the
	 * bit says it is free.  Pairs with the backend's pg_atomic_fetch_and_u32()
	 * that claims it.
	 */
	old = pg_atomic_fetch_or_u32(&bm->free_bits[slot >> 5], (uint32) 1 << (slot & 31));
	if ((old >> (slot & 31)) & 1)
	{
		/* the bit was already set: no backend frees, so memory is corrupt */
		pm->corrupt = true;
	}
	slot_set_delete(&pm->running, slot);
}
