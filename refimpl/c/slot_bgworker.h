/*-------------------------------------------------------------------------
 *
 * slot_bgworker.h
 *	  The design PostgreSQL ships today (src/backend/postmaster/bgworker.c),
 *	  reduced to what the model covers (models/bgworker.py): an in_use flag
 *	  per slot, a linear search by backends under BackgroundWorkerLock, a
 *	  lock-free scan of every slot by the postmaster, which forks a worker
 *	  for each slot it registers, and the exit path that reads the pid to
 *	  notify, frees the slot and signals.  This code performs exactly the
 *	  model's shared-memory events, one for one (the workload adds the
 *	  process events: slot_bgworker_workload.c, slot_process.h).
 *
 * In PostgreSQL the slot fields are plain variables ordered by the barriers
 * named below; here every shared field is a pg_atomic_uint32 read and
 * written with relaxed pg_atomic_read_u32/pg_atomic_write_u32, which compile
 * to the same plain loads and stores and let the replay harness see them.
 *
 * Who calls what (and where it is in PostgreSQL):
 *
 *	BgwRegisterWorker		backends; takes BackgroundWorkerLock; blocking
 *							(RegisterDynamicBackgroundWorker)
 *	BgwStateChange			postmaster only; no lock; wait-free
 *							(BackgroundWorkerStateChange + starting the
 *							workers, which PostgreSQL does right after it)
 *	BgwReapWorker			postmaster only; no lock; wait-free
 *							(ForgetBackgroundWorker + ReportBackgroundWorkerExit)
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_BGWORKER_H
#define SLOT_BGWORKER_H

#include "pg_shim.h"
#include "slot_set.h"

typedef struct BgwShmem
{
	pg_atomic_uint32 signalled;	/* stands for kill(pid, SIGUSR1): the last pid signalled */
	LWLock		BackgroundWorkerLock;
	/* in_use[nslots], generation[nslots], notify_pid[nslots], worker[nslots] */
	pg_atomic_uint32 words[FLEXIBLE_ARRAY_MEMBER];
} BgwShmem;

typedef struct Bgw
{
	BgwShmem   *shm;
	pg_atomic_uint32 *in_use;
	pg_atomic_uint32 *generation;
	pg_atomic_uint32 *notify_pid;
	pg_atomic_uint32 *worker;
	uint32		nslots;			/* at most SLOT_MAX_SLOTS */
} Bgw;

/* The postmaster's private state (its BackgroundWorkerList, reduced). */
typedef struct BgwPostmaster
{
	SlotSet		running;		/* slots whose worker runs */
} BgwPostmaster;

extern Size BgwShmemSize(uint32 nslots);
extern void BgwShmemInit(BgwShmem *shm, uint32 nslots);
extern void BgwAttach(Bgw *bgw, BgwShmem *shm, uint32 nslots);

/* Backend: find a free slot and fill it in; false if every slot is in use. */
extern bool BgwRegisterWorker(Bgw *bgw, uint32 me);

/* How the postmaster starts the worker of a slot: fork(), a full barrier. */
typedef void (*BgwForkFn) (void *arg, uint32 slot);

/* Postmaster: start every in-use slot it has not started yet. */
extern void BgwStateChange(Bgw *bgw, BgwPostmaster *pm, BgwForkFn fork_worker, void *fork_arg);

/* Postmaster: the worker in "slot" exited; free the slot, signal its registrant. */
extern void BgwReapWorker(Bgw *bgw, BgwPostmaster *pm, uint32 slot);

#endif							/* SLOT_BGWORKER_H */
