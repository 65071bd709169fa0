/*-------------------------------------------------------------------------
 *
 * slot_caslist.h
 *	  Free background-worker slots on a Treiber-style list (idea #1 of
 *	  "connection establishment versus parallel workers", pgsql-hackers,
 *	  2025-02-06).  The model is models/caslist.py; this code performs
 *	  exactly its shared-memory events, one for one.
 *
 * The list's head is one 32-bit word, tag << 16 | index (index 0xFFFF: the
 * list is empty); free_next[slot] links live in shared memory.  Every change
 * of the head bumps the tag, so a compare-exchange that saw index A cannot
 * succeed after A was popped and pushed back meanwhile (ABA).
 *
 * The postmaster pushes a reaped slot with compare-exchange but gives up
 * after cas_retries failures and keeps the slot privately, trying again on a
 * later pass of its server loop, so each of its operations stays bounded
 * even if backends (or a rogue) keep changing the head.  Started slots go
 * through the shared start queue (slot_startqueue.h).
 *
 * Who calls what:
 *
 *	CasListShmemSize, CasListShmemInit	postmaster, at startup
 *	CasListAttach						every process, from its own nslots
 *	CasListTakeFreeSlot,
 *	CasListRegisterWorker				backends; lock-free (a CAS loop that
 *										retries only when another process
 *										changed the head)
 *	CasListStartQueuedWorker, CasListReapWorker, CasListPushKeptSlot
 *										postmaster only; no lock; wait-free
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_CASLIST_H
#define SLOT_CASLIST_H

#include "slot_startqueue.h"

#define CASLIST_EMPTY	0xFFFF

typedef struct CasListShmem
{
	StartQueueShmem sq;
	pg_atomic_uint32 free_head;	/* tag << 16 | first free slot */
	/* start_ring[ring_size], slot_worker[nslots], free_next[nslots] */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} CasListShmem;

typedef struct CasList
{
	CasListShmem *shm;
	StartQueue	sq;
	pg_atomic_uint32 *free_next;
	uint32		nslots;			/* at most SLOT_MAX_SLOTS */
} CasList;

typedef struct CasListPostmaster
{
	StartQueuePostmaster sq;
	SlotSet		kept;			/* slots reaped but not yet pushed */
	uint32		cas_retries;	/* failed CASes before a slot is kept for later */
} CasListPostmaster;

extern Size CasListShmemSize(uint32 nslots);
extern void CasListShmemInit(CasListShmem *shm, uint32 nslots);
extern void CasListAttach(CasList *cl, CasListShmem *shm, uint32 nslots);
extern void CasListPostmasterInit(CasListPostmaster *pm, uint32 nslots, uint32 nbackends, uint32 cas_retries);

/* Backend: pop a free slot, or SQ_NO_SLOT if the list is empty. */
extern uint32 CasListTakeFreeSlot(CasList *cl);

/* Backend: RegisterDynamicBackgroundWorker(); false if no slot was free. */
extern bool CasListRegisterWorker(CasList *cl, uint32 me);

/* Postmaster: see SQStartQueuedWorker(). */
extern uint32 CasListStartQueuedWorker(CasList *cl, CasListPostmaster *pm, uint32 *worker);

/*
 * Postmaster: the worker in "slot" exited; push the slot back, or keep it
 * privately if the head kept changing (CasListPushKeptSlot() retries later).
 */
extern void CasListReapWorker(CasList *cl, CasListPostmaster *pm, uint32 slot);

/* Postmaster, once per pass of its loop: try once more to push one kept slot. */
extern void CasListPushKeptSlot(CasList *cl, CasListPostmaster *pm);

#endif							/* SLOT_CASLIST_H */
