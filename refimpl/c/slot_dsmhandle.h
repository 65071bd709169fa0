/*-------------------------------------------------------------------------
 *
 * slot_dsmhandle.h
 *	  The DSM control segment with handles that encode slot index +
 *	  generation (the last paragraph of "connection establishment versus
 *	  parallel workers", pgsql-hackers, 2025-02-06), and today's dsm.c
 *	  scheme (random handles, linear searches) as the baseline.  The model
 *	  is models/dsmhandle.py; this code performs exactly its shared-memory
 *	  events, one for one.
 *
 * A handle is
 *
 *		generation << (slot_bits + 1) | slot << 1 | kind
 *
 * where slot_bits is pg_leftmost_one_pos32(maxitems) + 1, as in
 * make_main_region_dsm_handle(), kind is 1 for a segment in the main
 * region and 0 for an OS segment, and the generation is bumped (skipping 0)
 * each time the item is reused.  dsm_attach() decodes the item and compares
 * its handle in O(1); a handle of an earlier occupant carries another
 * generation and is refused.  Free items wait in a FIFO ring, so
 * dsm_create() is O(1) too.
 *
 * Everything in the control segment is read and written under
 * DynamicSharedMemoryControlLock, as today.  The postmaster never calls any
 * of this (dsm_create and dsm_attach assert IsUnderPostmaster).
 *
 *	DsmShmemSize, DsmShmemInit		at startup
 *	DsmAttachControl				every backend, from its own maxitems
 *	DsmCreateItem, DsmAttachItem,
 *	DsmDetachItem					backends, under the lock
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_DSMHANDLE_H
#define SLOT_DSMHANDLE_H

#include "pg_shim.h"

#define DSM_NO_SLOT				0xFFFFFFFF
#define DSM_HANDLE_INVALID		0
/* The board of published handles (the workload's, for replay) holds this many. */
#define DSM_BOARD_CELLS			64

typedef struct DsmControlShmem
{
	pg_atomic_uint32 nitems;	/* high-water mark (baseline only) */
	pg_atomic_uint32 free_head;	/* free ring: next position to fill */
	pg_atomic_uint32 free_tail;	/* free ring: next position to take */
	LWLock		DynamicSharedMemoryControlLock;

	/*
	 * item_handle[maxitems], item_refcnt[maxitems], free_ring[ring],
	 * seg_payload[maxitems], board[DSM_BOARD_CELLS]
	 */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} DsmControlShmem;

typedef struct DsmControl
{
	DsmControlShmem *shm;
	pg_atomic_uint32 *item_handle;
	pg_atomic_uint32 *item_refcnt;	/* 2+ active, 1 moribund, 0 free */
	pg_atomic_uint32 *free_ring;
	/* Not the control segment's: the segments' contents and the board. */
	pg_atomic_uint32 *seg_payload;
	pg_atomic_uint32 *board;
	uint32		maxitems;
	uint32		ring;			/* maxitems rounded up to a power of two */
	uint32		slot_bits;
	uint32		gen_limit;		/* 1 << generation bits */
	bool		linear;			/* today's dsm.c instead of the proposal */
} DsmControl;

extern Size DsmShmemSize(uint32 maxitems);
extern void DsmShmemInit(DsmControlShmem *shm, uint32 maxitems);
extern void DsmAttachControl(DsmControl *ctl, DsmControlShmem *shm, uint32 maxitems,
							 uint32 gen_bits, bool linear);

/*
 * dsm_create(): a new item for backend "me" (whose parity picks the kind of
 * segment); returns its handle, or DSM_HANDLE_INVALID if there is no free
 * item (or, in the baseline, the random handle is taken), and sets *slot.
 */
extern uint32 DsmCreateItem(DsmControl *ctl, uint32 me, uint32 *slot);

/* The caller's part: fill the segment in, pg_write_barrier(), publish the handle. */
extern void DsmPublish(DsmControl *ctl, uint32 slot, uint32 handle, pg_atomic_uint32 *where);

/* dsm_attach(): the item "handle" names, with its refcnt bumped, or DSM_NO_SLOT. */
extern uint32 DsmAttachItem(DsmControl *ctl, uint32 handle);

/* dsm_detach(): unmap, drop our reference, and destroy if it was the last. */
extern void DsmDetachItem(DsmControl *ctl, uint32 slot);

#endif							/* SLOT_DSMHANDLE_H */
