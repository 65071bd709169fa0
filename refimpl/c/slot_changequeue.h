/*-------------------------------------------------------------------------
 *
 * slot_changequeue.h
 *	  The bgworker change queue of the WIP patch
 *	  0001-Remove-BackgroundWorkerStateChange-s-outer-loop: backends put
 *	  the number of every slot they change on a shared queue of 2N + 1
 *	  entries (N = max_worker_processes), and the postmaster handles the
 *	  queued slots instead of scanning all of them.
 *
 * Two implementations share this interface and are never linked together:
 *
 *	slot_changequeue.c			the patch as written (models/changequeue.py)
 *	slot_changequeue_fixed.c	the smallest correct change
 *								(models/changequeue_fixed.py)
 *
 * Each performs exactly its model's shared-memory events, one for one.  As
 * in slot_bgworker.h, the slot fields are pg_atomic_uint32 read and written
 * with relaxed pg_atomic_read_u32/pg_atomic_write_u32 (plain loads and
 * stores, which the replay harness can see).
 *
 * Who calls what (and where it is in PostgreSQL):
 *
 *	CqRegisterWorker	backends; BackgroundWorkerLock (RegisterDynamicBackgroundWorker)
 *	CqTerminateWorker	backends; BackgroundWorkerLock (TerminateBackgroundWorker)
 *	CqStateChange		postmaster; no lock (BackgroundWorkerStateChange)
 *	CqReapWorker		postmaster; no lock (CleanupBackgroundWorker ->
 *						ForgetBackgroundWorker)
 *	CqMaybeStartWorker	postmaster; no lock (maybe_start_bgworkers, one slot)
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_CHANGEQUEUE_H
#define SLOT_CHANGEQUEUE_H

#include "pg_shim.h"
#include "slot_set.h"

#define CQ_INVALID_PID	0

typedef struct CqShmem
{
	pg_atomic_uint32 head;		/* next entry a backend writes, 0..2N */
	pg_atomic_uint32 tail;		/* next entry the postmaster reads, 0..2N */
	LWLock		BackgroundWorkerLock;

	/*
	 * in_use[N], terminate[N], generation[N], pid[N], worker[N], queued[N]
	 * (the fixed version's flag; unused by the patch), then queue[2N + 1].
	 */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} CqShmem;

typedef struct Cq
{
	CqShmem    *shm;
	pg_atomic_uint32 *in_use;
	pg_atomic_uint32 *terminate;
	pg_atomic_uint32 *generation;
	pg_atomic_uint32 *pid;
	pg_atomic_uint32 *worker;	/* the worker description: who asked for it */
	pg_atomic_uint32 *queued;
	pg_atomic_uint32 *queue;
	uint32		nslots;			/* N, at most SLOT_MAX_SLOTS */
	uint32		queue_size;		/* 2N + 1 */
	bool		assert_checking;	/* the patch: USE_ASSERT_CHECKING */
} Cq;

/* What RegisterDynamicBackgroundWorker hands back (BackgroundWorkerHandle). */
typedef struct CqHandle
{
	uint32		slot;
	uint32		generation;
} CqHandle;

/* The postmaster's private state: its BackgroundWorkerList, reduced. */
typedef struct CqPostmaster
{
	SlotSet		registered;		/* a RegisteredBgWorker exists for the slot */
	SlotSet		running;		/* its process was forked */
	SlotSet		rw_terminate;	/* its rw_terminate */
	uint32		forgotten;		/* registrations whose slot was freed */
} CqPostmaster;

extern Size CqShmemSize(uint32 nslots);
extern void CqShmemInit(CqShmem *shm, uint32 nslots);
extern void CqAttach(Cq *cq, CqShmem *shm, uint32 nslots, bool assert_checking);

extern bool CqRegisterWorker(Cq *cq, uint32 me, CqHandle *handle);
extern void CqTerminateWorker(Cq *cq, const CqHandle *handle);

extern void CqStateChange(Cq *cq, CqPostmaster *pm);
extern void CqReapWorker(Cq *cq, CqPostmaster *pm, uint32 slot);
extern void CqMaybeStartWorker(Cq *cq, CqPostmaster *pm, uint32 slot);

/*
 * Between slot_changequeue_common.c and the two variants: the enqueue and the
 * postmaster's handling of a slot it saw in use are shared; each variant
 * supplies CqRequestChange() (make sure an entry for the slot waits in the
 * queue; BackgroundWorkerLock held).
 */
extern void CqEnqueue(Cq *cq, uint32 slot);
extern void CqRequestChange(Cq *cq, uint32 slot);
extern void CqHandleSlotInUse(Cq *cq, CqPostmaster *pm, uint32 slot);

#endif							/* SLOT_CHANGEQUEUE_H */
