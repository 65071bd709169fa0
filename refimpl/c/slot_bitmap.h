/*-------------------------------------------------------------------------
 *
 * slot_bitmap.h
 *	  Free background-worker slots as one bit each (idea #4 of "connection
 *	  establishment versus parallel workers", pgsql-hackers, 2025-02-06).
 *	  The model is models/bitmap.py; this code performs exactly its
 *	  shared-memory events, one for one.
 *
 * Bit slot % 32 of free_bits[slot / 32] is set while the slot is free.  The
 * postmaster frees a slot with one pg_atomic_fetch_or_u32() and trusts
 * nothing it reads; backends scan the words and claim a bit with
 * pg_atomic_fetch_and_u32(), keeping the slot only if the old value still
 * had the bit.  Started slots go through the shared start queue
 * (slot_startqueue.h).
 *
 * Who calls what:
 *
 *	BitmapShmemSize, BitmapShmemInit	postmaster, at startup
 *	BitmapAttach						every process, from its own nslots
 *	BitmapTakeFreeSlot,
 *	BitmapRegisterWorker				backends; lock-free; a scan of at
 *										most nslots bits
 *	BitmapStartQueuedWorker, BitmapReapWorker
 *										postmaster only; no lock; wait-free
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_BITMAP_H
#define SLOT_BITMAP_H

#include "slot_startqueue.h"

typedef struct BitmapShmem
{
	StartQueueShmem sq;
	/* start_ring[ring_size], slot_worker[nslots], free_bits[(nslots + 31) / 32] */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} BitmapShmem;

typedef struct Bitmap
{
	BitmapShmem *shm;
	StartQueue	sq;
	pg_atomic_uint32 *free_bits;
	uint32		nslots;			/* at most SLOT_MAX_SLOTS */
} Bitmap;

extern Size BitmapShmemSize(uint32 nslots);
extern void BitmapShmemInit(BitmapShmem *shm, uint32 nslots);
extern void BitmapAttach(Bitmap *bm, BitmapShmem *shm, uint32 nslots);

/* Backend: claim a free slot, or SQ_NO_SLOT if none is free. */
extern uint32 BitmapTakeFreeSlot(Bitmap *bm);

/* Backend: RegisterDynamicBackgroundWorker(); false if no slot was free. */
extern bool BitmapRegisterWorker(Bitmap *bm, uint32 me);

/* Postmaster: see SQStartQueuedWorker(). */
extern uint32 BitmapStartQueuedWorker(Bitmap *bm, StartQueuePostmaster *pm, uint32 *worker);

/* Postmaster: the worker in "slot" exited; set its bit again. */
extern void BitmapReapWorker(Bitmap *bm, StartQueuePostmaster *pm, uint32 slot);

#endif							/* SLOT_BITMAP_H */
