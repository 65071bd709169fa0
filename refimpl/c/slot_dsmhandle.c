/*-------------------------------------------------------------------------
 *
 * slot_dsmhandle.c
 *	  DSM control items with generation-carrying handles, and today's
 *	  random handles with linear searches; see slot_dsmhandle.h.  Every
 *	  shared-memory access is one event of models/dsmhandle.py, in the same
 *	  order; mutations are compiled in with -DSLOT_MUTATION_<NAME>.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_dsmhandle.h"

static uint32
dsm_ring_size(uint32 maxitems)
{
	uint32		ring = 1;

	while (ring < maxitems)
		ring <<= 1;
	return ring;
}

/* pg_leftmost_one_pos32(maxitems) + 1: the bits a slot index takes. */
static uint32
dsm_slot_bits(uint32 maxitems)
{
	uint32		bits = 0;

	while ((maxitems >> bits) != 0)
		bits++;
	return bits;
}

/*
 * The baseline's random handle.  The model draws from maxitems + 1 values so
 * that a handle can come round again; so does the trace build, from the
 * trace.  Natively, a per-thread xorshift over the same small range keeps
 * collisions frequent enough for a stress run to meet them.
 */
#ifdef SLOT_TRACE
#define dsm_random(n)	slot_choose(n)
#else
static uint32
dsm_random(uint32 n)
{
	static __thread uint32 state = 0;
	static _Atomic uint32 threads_seeded = 0;

	/*
	 * Seeded by the order in which threads first draw, not by an address
	 * (ASLR): a stress run whose threads take turns draws the same handles
	 * every time.
	 */
	if (state == 0)
		state = (atomic_fetch_add(&threads_seeded, 1) + 1) * 2654435761u | 1;
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	return state % n;
}
#endif

Size
DsmShmemSize(uint32 maxitems)
{
	return offsetof(DsmControlShmem, words) +
		sizeof(pg_atomic_uint32) * ((Size) 3 * maxitems + dsm_ring_size(maxitems) + DSM_BOARD_CELLS);
}

/* Every item free, and in the free ring in index order. */
void
DsmShmemInit(DsmControlShmem *shm, uint32 maxitems)
{
	DsmControl	ctl;

	DsmAttachControl(&ctl, shm, maxitems, 1, false);
	pg_atomic_init_u32(&shm->nitems, 0);
	pg_atomic_init_u32(&shm->free_head, maxitems);
	pg_atomic_init_u32(&shm->free_tail, 0);
	LWLockInitialize(&shm->DynamicSharedMemoryControlLock);
	for (uint32 i = 0; i < maxitems; i++)
	{
		pg_atomic_init_u32(&ctl.item_handle[i], DSM_HANDLE_INVALID);
		pg_atomic_init_u32(&ctl.item_refcnt[i], 0);
		pg_atomic_init_u32(&ctl.seg_payload[i], 0);
	}
	for (uint32 i = 0; i < ctl.ring; i++)
		pg_atomic_init_u32(&ctl.free_ring[i], i < maxitems ? i : 0);
	for (uint32 i = 0; i < DSM_BOARD_CELLS; i++)
		pg_atomic_init_u32(&ctl.board[i], DSM_HANDLE_INVALID);
}

void
DsmAttachControl(DsmControl *ctl, DsmControlShmem *shm, uint32 maxitems, uint32 gen_bits, bool linear)
{
	ctl->shm = shm;
	ctl->maxitems = maxitems;
	ctl->ring = dsm_ring_size(maxitems);
	ctl->slot_bits = dsm_slot_bits(maxitems);
	ctl->gen_limit = (uint32) 1 << gen_bits;
	ctl->linear = linear;
	ctl->item_handle = &shm->words[0];
	ctl->item_refcnt = &shm->words[maxitems];
	ctl->free_ring = &shm->words[2 * maxitems];
	ctl->seg_payload = &shm->words[2 * maxitems + ctl->ring];
	ctl->board = &shm->words[3 * maxitems + ctl->ring];
}

/* The handle of the next occupant of "slot", whose last one had "old". */
static uint32
dsm_next_handle(DsmControl *ctl, uint32 slot, uint32 old, uint32 me)
{
	uint32		gen = old >> (ctl->slot_bits + 1);

#ifdef SLOT_MUTATION_NO_GENERATION
	/* the mistake: the field never changes, so a handle names only the slot */
	gen = 1;
#else
	gen++;
	if (gen >= ctl->gen_limit)
		gen = 1;				/* wrap, skipping 0: no handle may be 0 */
#endif
	/* odd: a main-region segment; even: an OS segment */
	return (gen << (ctl->slot_bits + 1)) | (slot << 1) | (me & 1);
}

/* The proposal: the item at the front of the free ring, O(1). */
static uint32
dsm_create_ring(DsmControl *ctl, uint32 me, uint32 *slot)
{
	DsmControlShmem *shm = ctl->shm;
	uint32		head;
	uint32		tail;
	uint32		old;
	uint32		handle;

	LWLockAcquire(&shm->DynamicSharedMemoryControlLock, LW_EXCLUSIVE);
	tail = pg_atomic_read_u32(&shm->free_tail);
	head = pg_atomic_read_u32(&shm->free_head);
	if (head == tail)
	{
		/* too many dynamic shared memory segments */
		LWLockRelease(&shm->DynamicSharedMemoryControlLock);
		return DSM_HANDLE_INVALID;
	}
	*slot = pg_atomic_read_u32(&ctl->free_ring[tail % ctl->ring]);
	pg_atomic_write_u32(&shm->free_tail, tail + 1);
	old = pg_atomic_read_u32(&ctl->item_handle[*slot]);
	handle = dsm_next_handle(ctl, *slot, old, me);
	pg_atomic_write_u32(&ctl->item_handle[*slot], handle);
	/* refcnt 1 means moribund, so a new segment starts at 2 */
	pg_atomic_write_u32(&ctl->item_refcnt[*slot], 2);
	LWLockRelease(&shm->DynamicSharedMemoryControlLock);
	return handle;
}

/* Today's dsm_create: a random even handle, the first free item or a new one. */
static uint32
dsm_create_linear(DsmControl *ctl, uint32 *slot)
{
	DsmControlShmem *shm = ctl->shm;
	uint32		handle = (dsm_random(ctl->maxitems + 1) + 1) << 1;
	uint32		found = DSM_NO_SLOT;
	uint32		nitems;

	LWLockAcquire(&shm->DynamicSharedMemoryControlLock, LW_EXCLUSIVE);
	nitems = pg_atomic_read_u32(&shm->nitems);
	for (uint32 i = 0; i < nitems; i++)
	{
		if (pg_atomic_read_u32(&ctl->item_refcnt[i]) == 0)
		{
			if (found == DSM_NO_SLOT)
				found = i;
		}
		else if (pg_atomic_read_u32(&ctl->item_handle[i]) == handle)
		{
			/*
			 * A segment with this handle still exists: shm_open(O_EXCL)
			 * would fail with EEXIST.
			 */
			LWLockRelease(&shm->DynamicSharedMemoryControlLock);
			return DSM_HANDLE_INVALID;
		}
	}
	if (found == DSM_NO_SLOT)
	{
		if (nitems >= ctl->maxitems)
		{
			LWLockRelease(&shm->DynamicSharedMemoryControlLock);
			return DSM_HANDLE_INVALID;
		}
		found = nitems;
		pg_atomic_write_u32(&shm->nitems, nitems + 1);
	}
	pg_atomic_write_u32(&ctl->item_handle[found], handle);
	pg_atomic_write_u32(&ctl->item_refcnt[found], 2);
	LWLockRelease(&shm->DynamicSharedMemoryControlLock);
	*slot = found;
	return handle;
}

uint32
DsmCreateItem(DsmControl *ctl, uint32 me, uint32 *slot)
{
	*slot = DSM_NO_SLOT;
	if (ctl->linear)
		return dsm_create_linear(ctl, slot);
	return dsm_create_ring(ctl, me, slot);
}

/*
 * What a caller of dsm_create() does next: fill the segment in (here its
 * contents are the handle itself, so a reader can tell whose they are) and
 * publish the handle where other backends find it (a shm_toc, a field of
 * some shared struct).  The barrier is the caller's business, not dsm.c's,
 * but every such caller needs it.
 */
void
DsmPublish(DsmControl *ctl, uint32 slot, uint32 handle, pg_atomic_uint32 *where)
{
	pg_atomic_write_u32(&ctl->seg_payload[slot], handle);
#ifndef SLOT_MUTATION_PUBLISH_NO_WRITE_BARRIER
	/*
	 * The contents must be visible before the handle that leads to them.
	 * Pairs with the LWLockAcquire() in the reader's DsmAttachItem(), a full
	 * barrier between its read of the handle and its read of the contents.
	 */
	pg_write_barrier();
#endif
	pg_atomic_write_u32(where, handle);
}

/* The proposal: decode the item, compare its handle, O(1). */
static uint32
dsm_attach_decode(DsmControl *ctl, uint32 handle)
{
	DsmControlShmem *shm = ctl->shm;
	uint32		slot = (handle >> 1) & (((uint32) 1 << ctl->slot_bits) - 1);
	uint32		current;
	uint32		refcnt;
	bool		usable;

	if (slot >= ctl->maxitems)
		return DSM_NO_SLOT;		/* no item has this index */
	LWLockAcquire(&shm->DynamicSharedMemoryControlLock, LW_EXCLUSIVE);
	current = pg_atomic_read_u32(&ctl->item_handle[slot]);
	refcnt = pg_atomic_read_u32(&ctl->item_refcnt[slot]);
#ifdef SLOT_MUTATION_ATTACH_MORIBUND
	/* the mistake: a segment being destroyed (refcnt 1) is attached to */
	usable = refcnt >= 1;
#else
	/* refcnt 0: free; 1: moribund, its last detacher is destroying it */
	usable = refcnt >= 2;
#endif
	if (current != handle || !usable)
	{
		LWLockRelease(&shm->DynamicSharedMemoryControlLock);
		return DSM_NO_SLOT;
	}
	pg_atomic_write_u32(&ctl->item_refcnt[slot], refcnt + 1);
	LWLockRelease(&shm->DynamicSharedMemoryControlLock);
	return slot;
}

/* Today's dsm_attach: every item, skipping free and moribund ones. */
static uint32
dsm_attach_linear(DsmControl *ctl, uint32 handle)
{
	DsmControlShmem *shm = ctl->shm;
	uint32		nitems;

	LWLockAcquire(&shm->DynamicSharedMemoryControlLock, LW_EXCLUSIVE);
	nitems = pg_atomic_read_u32(&shm->nitems);
	for (uint32 i = 0; i < nitems; i++)
	{
		uint32		refcnt = pg_atomic_read_u32(&ctl->item_refcnt[i]);

#ifdef SLOT_MUTATION_ATTACH_MORIBUND
		if (refcnt < 1)
			continue;
#else
		if (refcnt <= 1)
			continue;
#endif
		if (pg_atomic_read_u32(&ctl->item_handle[i]) != handle)
			continue;
		pg_atomic_write_u32(&ctl->item_refcnt[i], refcnt + 1);
		LWLockRelease(&shm->DynamicSharedMemoryControlLock);
		return i;
	}
	LWLockRelease(&shm->DynamicSharedMemoryControlLock);
	return DSM_NO_SLOT;
}

uint32
DsmAttachItem(DsmControl *ctl, uint32 handle)
{
	if (ctl->linear)
		return dsm_attach_linear(ctl, handle);
	return dsm_attach_decode(ctl, handle);
}

void
DsmDetachItem(DsmControl *ctl, uint32 slot)
{
	DsmControlShmem *shm = ctl->shm;
	uint32		refcnt;

	/*
	 * Unmapping is munmap(), a system call, so a full barrier: every read of
	 * the segment's contents is done before the decrement below lets the
	 * last detacher destroy it and the item be reused.  Pairs with the
	 * LWLockAcquire() of whoever takes the item next.
	 */
	pg_memory_barrier();
	LWLockAcquire(&shm->DynamicSharedMemoryControlLock, LW_EXCLUSIVE);
	refcnt = pg_atomic_read_u32(&ctl->item_refcnt[slot]);
	Assert(refcnt > 1);
	pg_atomic_write_u32(&ctl->item_refcnt[slot], refcnt - 1);
	LWLockRelease(&shm->DynamicSharedMemoryControlLock);
	if (refcnt != 2)
		return;

	/*
	 * We were the last: destroy the segment (shm_unlink, or give its pages
	 * back to the main region), then free the item.  Until refcnt is 0 the
	 * item is moribund and nobody attaches to it.
	 */
	LWLockAcquire(&shm->DynamicSharedMemoryControlLock, LW_EXCLUSIVE);
	refcnt = pg_atomic_read_u32(&ctl->item_refcnt[slot]);
	Assert(refcnt == 1);
	pg_atomic_write_u32(&ctl->item_refcnt[slot], 0);
	if (!ctl->linear)
	{
		uint32		head = pg_atomic_read_u32(&shm->free_head);

		pg_atomic_write_u32(&ctl->free_ring[head % ctl->ring], slot);
		pg_atomic_write_u32(&shm->free_head, head + 1);
	}
	LWLockRelease(&shm->DynamicSharedMemoryControlLock);
}
