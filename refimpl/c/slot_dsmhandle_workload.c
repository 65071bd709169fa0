/*-------------------------------------------------------------------------
 *
 * slot_dsmhandle_workload.c
 *	  The model's workload for dsmhandle (backend() in models/dsmhandle.py),
 *	  for replay in the trace build.  The postmaster does nothing.
 *
 * "extra" packs the model's parameters: gen_bits in bits 0-7, linear in
 * bits 8-15.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_dsmhandle_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_dsmhandle.h"
#include "slot_replay.h"

typedef struct DsmThreadArgs
{
	DsmControlShmem *shm;
	uint32		maxitems;
	uint32		me;
	uint32		ops;
	uint32		total;
	uint32		gen_bits;
	bool		linear;
} DsmThreadArgs;

/* Create a segment, fill it in and publish its handle in board[cell]. */
static uint32
create_and_publish(DsmControl *ctl, uint32 me, uint32 cell, uint32 *slot)
{
	uint32		handle = DsmCreateItem(ctl, me, slot);

	if (handle != DSM_HANDLE_INVALID)
		DsmPublish(ctl, *slot, handle, &ctl->board[cell]);
	return handle;
}

/* Attach with whatever handle board[cell] holds, read the contents, detach. */
static void
attach_published(DsmControl *ctl, uint32 cell, uint32 mine)
{
	uint32		handle = pg_atomic_read_u32(&ctl->board[cell]);
	uint32		slot;

	if (handle == DSM_HANDLE_INVALID)
		return;
	/* dsm_attach: "can't attach the same segment more than once" */
	if (handle == mine)
		return;
	slot = DsmAttachItem(ctl, handle);
	if (slot == DSM_NO_SLOT)
		return;
	(void) pg_atomic_read_u32(&ctl->seg_payload[slot]);
	DsmDetachItem(ctl, slot);
}

static void
dsmhandle_backend(void *arg)
{
	DsmThreadArgs *a = arg;
	DsmControl	ctl;

	DsmAttachControl(&ctl, a->shm, a->maxitems, a->gen_bits, a->linear);
	for (uint32 done = 0; done < a->ops; done++)
	{
		uint32		slot;
		uint32		mine = create_and_publish(&ctl, a->me, (a->me - 1) * a->ops + done, &slot);

		attach_published(&ctl, slot_choose(a->total), mine);
		if (mine != DSM_HANDLE_INVALID)
			DsmDetachItem(&ctl, slot);
	}
}

static void
dsmhandle_postmaster(void *arg)
{
	(void) arg;
}

Size
dsmhandle_shmem_size(uint32 nslots)
{
	return DsmShmemSize(nslots);
}

void
dsmhandle_shmem_init(void *shm, uint32 nslots)
{
	DsmShmemInit((DsmControlShmem *) shm, nslots);
}

int
dsmhandle_regions(void *shm, uint32 nslots, SlotRegion *out, int max)
{
	DsmControl	ctl;
	DsmControlShmem *s = shm;
	int			n = 0;

	DsmAttachControl(&ctl, s, nslots, 1, false);
	SLOT_REGION(out, max, n, s, "item_handle", ctl.item_handle, nslots);
	SLOT_REGION(out, max, n, s, "item_refcnt", ctl.item_refcnt, nslots);
	SLOT_REGION(out, max, n, s, "nitems", &s->nitems, 0);
	SLOT_REGION(out, max, n, s, "free_ring", ctl.free_ring, ctl.ring);
	SLOT_REGION(out, max, n, s, "free_head", &s->free_head, 0);
	SLOT_REGION(out, max, n, s, "free_tail", &s->free_tail, 0);
	SLOT_REGION(out, max, n, s, "DynamicSharedMemoryControlLock", &s->DynamicSharedMemoryControlLock.state, 0);
	SLOT_REGION(out, max, n, s, "seg_payload", ctl.seg_payload, nslots);
	SLOT_REGION(out, max, n, s, "board", ctl.board, DSM_BOARD_CELLS);
	return n;
}

int
dsmhandle_replay_thread(void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total, uint32 extra)
{
	DsmThreadArgs a = {shm, nslots, me, ops, total, extra & 0xFF, ((extra >> 8) & 0xFF) != 0};

	return slot_trace_run(role == SLOT_ROLE_POSTMASTER ? dsmhandle_postmaster : dsmhandle_backend, &a);
}
