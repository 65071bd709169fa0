/*-------------------------------------------------------------------------
 *
 * slot_startqueue.h
 *	  The start queue every free-slot design shares (models/_startqueue.py):
 *	  backends publish filled-in slots under StartQueueLock, the postmaster
 *	  consumes them without a lock, keeping its own tail and range-checking
 *	  the head and every entry it reads.  A design (slot_caslist.c,
 *	  slot_bitmap.c) differs only in how free slots are kept.
 *
 * Who calls what:
 *
 *	SQQueueForStart			backends; takes StartQueueLock; blocking
 *	SQStartQueuedWorker		postmaster only; no lock; wait-free
 *	SQWorkerExited			postmaster only; no shared memory at all
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_STARTQUEUE_H
#define SLOT_STARTQUEUE_H

#include "pg_shim.h"
#include "slot_set.h"

#define SQ_NO_SLOT	((uint32) 0xFFFFFFFF)

/* The fixed shared words; the ring and the slot descriptions are arrays the design lays out. */
typedef struct StartQueueShmem
{
	pg_atomic_uint32 start_head;	/* advanced by backends, StartQueueLock held */
	pg_atomic_uint32 start_tail;	/* advanced by the postmaster only */
	LWLock		StartQueueLock;
} StartQueueShmem;

/* A process's view; sizes come from its own configuration, never from shared memory. */
typedef struct StartQueue
{
	StartQueueShmem *shm;
	pg_atomic_uint32 *start_ring;	/* ring_size entries */
	pg_atomic_uint32 *slot_worker;	/* nslots descriptions (who registered) */
	uint32		nslots;
	uint32		ring_size;		/* power of two >= nslots */
} StartQueue;

/* The postmaster's private state (static variables of postmaster.c). */
typedef struct StartQueuePostmaster
{
	uint32		start_tail;		/* our copy: the shared one is never read back */
	SlotSet		running;		/* slots whose worker runs */
	uint32		nbackends;		/* a registrant is a backend number 1..nbackends */
	bool		corrupt;		/* shared memory held a value no backend writes */
} StartQueuePostmaster;

extern uint32 SQRingSize(uint32 nslots);
extern void SQShmemInit(StartQueueShmem *shm, pg_atomic_uint32 *start_ring,
						pg_atomic_uint32 *slot_worker, uint32 nslots);
extern void SQAttach(StartQueue *sq, StartQueueShmem *shm, pg_atomic_uint32 *start_ring,
					 pg_atomic_uint32 *slot_worker, uint32 nslots);
extern void SQPostmasterInit(StartQueuePostmaster *pm, uint32 nslots, uint32 nbackends);

/* Backend: publish a filled-in slot (the queue is never full: slots <= entries). */
extern void SQQueueForStart(StartQueue *sq, uint32 slot);

/*
 * Postmaster: start the worker at the front of the queue.  Returns its slot,
 * or SQ_NO_SLOT if the queue is empty or shared memory is corrupt (then
 * pm->corrupt is set).  *worker receives the slot's description; one no
 * backend could have written also sets pm->corrupt (the worker is started
 * all the same, as the model does).
 */
extern uint32 SQStartQueuedWorker(StartQueue *sq, StartQueuePostmaster *pm, uint32 *worker);

#endif							/* SLOT_STARTQUEUE_H */
