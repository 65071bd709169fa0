/*-------------------------------------------------------------------------
 *
 * slot_ring.h
 *	  Background-worker slots handed out through two rings of slot numbers
 *	  (idea #2 of "connection establishment versus parallel workers",
 *	  pgsql-hackers, 2025-02-06).  The model is models/ring.py; this code
 *	  performs exactly its shared-memory events, one for one.
 *
 * Two rings of ring_size entries (nslots rounded up to a power of two, so
 * that "counter % ring_size" stays continuous when a free-running 32-bit
 * counter wraps):
 *
 *	free queue:   the postmaster produces (slots it reaped), backends consume
 *				  under FreeQueueLock;
 *	start queue:  backends produce (slots they filled in) under
 *				  StartQueueLock, the postmaster consumes.
 *
 * The postmaster never takes a lock, never waits, and never trusts shared
 * memory: it keeps its own copy of the counters it owns (RingPostmasterState)
 * and range-checks every head, tail and slot number it reads.
 *
 * The start queue is the one every design shares (slot_startqueue.c, the
 * model's models/_startqueue.py); this file adds the free queue.
 *
 * Who calls what:
 *
 *	RingShmemSize, RingShmemInit		postmaster, at startup, before any
 *										backend exists (not concurrent)
 *	RingAttach							every process, from its own nslots
 *	RingTakeFreeSlot, RingQueueForStart,
 *	RingRegisterWorker					backends; take an LWLock; blocking
 *	RingStartQueuedWorker, RingReapWorker
 *										postmaster only; no lock; wait-free
 *										(a bounded number of steps whatever
 *										shared memory holds)
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_RING_H
#define SLOT_RING_H

#include "pg_shim.h"
#include "slot_set.h"
#include "slot_startqueue.h"

#define RING_NO_SLOT	SQ_NO_SLOT

/* The shared part; the three arrays follow the fixed words. */
typedef struct RingShmem
{
	pg_atomic_uint32 free_head;		/* advanced by the postmaster only */
	pg_atomic_uint32 free_tail;		/* advanced by backends, FreeQueueLock held */
	LWLock		FreeQueueLock;
	StartQueueShmem sq;			/* start_head, start_tail, StartQueueLock */
	/* free_ring[ring_size], start_ring[ring_size], slot_worker[nslots] */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} RingShmem;

/*
 * A process's view of the rings.  Sizes come from the process's own
 * configuration (max_worker_processes), never from shared memory.
 */
typedef struct RingSlots
{
	RingShmem  *shm;
	uint32		nslots;
	uint32		ring_size;		/* power of two >= nslots */
	pg_atomic_uint32 *free_ring;
	StartQueue	sq;				/* start_ring and slot_worker (who registered) */
} RingSlots;

/* The postmaster's private state (static variables of postmaster.c). */
typedef struct RingPostmasterState
{
	uint32		free_head;		/* our copy: the shared one is never read back */
	StartQueuePostmaster sq;	/* start_tail, running, nbackends, corrupt */
} RingPostmasterState;

/* nslots must be between 1 and SLOT_MAX_SLOTS. */
extern uint32 RingSize(uint32 nslots);
extern Size RingShmemSize(uint32 nslots);
extern void RingShmemInit(RingShmem *shm, uint32 nslots);
extern void RingAttach(RingSlots *rs, RingShmem *shm, uint32 nslots);
extern void RingPostmasterInit(RingPostmasterState *pm, uint32 nslots, uint32 nbackends);

/*
 * Backend side.  Each takes and releases one LWLock (unless built with
 * SLOT_MUTATION_NO_LOCK) and may block on it.  Backends trust shared memory
 * (as every backend in PostgreSQL does).
 */

/* Pop a slot number from the free queue; RING_NO_SLOT if it is empty. */
extern uint32 RingTakeFreeSlot(RingSlots *rs);

/* Publish a filled-in slot on the start queue (never full: slots <= entries). */
extern void RingQueueForStart(RingSlots *rs, uint32 slot);

/*
 * RegisterDynamicBackgroundWorker(): take a free slot, fill it in (here: the
 * registering backend's number), queue it.  Returns false if no slot was free.
 */
extern bool RingRegisterWorker(RingSlots *rs, uint32 me);

/*
 * Postmaster side: no lock, no wait, every value from shared memory checked.
 */

/*
 * Start the worker at the front of the start queue (SQStartQueuedWorker()).
 * Returns its slot number, or RING_NO_SLOT if the queue is empty or shared
 * memory is corrupt (then pm->sq.corrupt is set).  *worker receives the
 * slot's contents; a description no backend could have written also sets
 * pm->sq.corrupt (the worker is started all the same, as the model does).
 */
extern uint32 RingStartQueuedWorker(RingSlots *rs, RingPostmasterState *pm, uint32 *worker);

/*
 * The worker in "slot" (< nslots, running) exited: give the slot back to the
 * free queue.  If the free queue looks full, shared memory is corrupt: the
 * slot is leaked rather than an entry overwritten (pm->sq.corrupt is set).
 */
extern void RingReapWorker(RingSlots *rs, RingPostmasterState *pm, uint32 slot);

#endif							/* SLOT_RING_H */
