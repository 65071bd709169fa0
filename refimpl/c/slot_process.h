/*-------------------------------------------------------------------------
 *
 * slot_process.h
 *	  The process events of a model with a worker role (docs/writing-a-
 *	  model.md, "Workers, private arrays and signals"), for replay in the
 *	  trace build: fork(), a worker's exit(), waitpid() in the postmaster's
 *	  reaper, SendPostmasterSignal() and the postmaster taking the signal.
 *
 * The model lays the kernel's per-slot fork and exit flags and the
 * postmaster's signal flags out with shared memory (worker.started[],
 * worker.exited[], one word per signal), so a trace shows them; a C twin
 * keeps the same words next to its shared memory and performs the model's
 * event on each, with the model's primitive.  Every one of them is a system
 * call, so a full barrier: the stores are pg_atomic_write_membarrier_u32(),
 * the read-and-clears pg_atomic_fetch_and_u32() (a full barrier in
 * PostgreSQL's atomics), exactly as checker/ir.py compiles them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_PROCESS_H
#define SLOT_PROCESS_H

#ifndef SLOT_TRACE
#error "slot_process.h belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "pg_shim.h"

/* The kernel's view of the worker processes: one word per slot each. */
typedef struct SlotProcesses
{
	pg_atomic_uint32 *started;	/* the postmaster forked this slot's worker */
	pg_atomic_uint32 *exited;	/* the worker exited, not yet reaped */
} SlotProcesses;

/* SendPostmasterSignal(): the flag, then kill(); backends and workers. */
static inline void
SlotSignalPostmaster(pg_atomic_uint32 *flag)
{
	pg_atomic_write_membarrier_u32(flag, 1);
}

/* The postmaster's server loop takes a signal: true if it was sent. */
static inline bool
SlotTakeSignal(pg_atomic_uint32 *flag)
{
	return pg_atomic_fetch_and_u32(flag, 0) != 0;
}

/* fork(): the postmaster starts the worker for "slot". */
static inline void
SlotStartWorker(SlotProcesses *procs, uint32 slot)
{
	pg_atomic_write_membarrier_u32(&procs->started[slot], 1);
}

/* waitpid() for the worker of "slot": true if it exited (and is reaped now). */
static inline bool
SlotChildExited(SlotProcesses *procs, uint32 slot)
{
	return pg_atomic_fetch_and_u32(&procs->exited[slot], 0) != 0;
}

/*
 * A worker process slot waits to be forked; the replay harness answers
 * with the model's fork event, which consumes the started flag.
 */
#define SlotWorkerForked(procs, slot) \
	((void) SLOT_EV(SLOT_EV_ACQUIRE, SLOT_PRIM_FORK, &(procs)->started[slot], 0, 0))

/* exit(): the kernel reports it to the postmaster as a child exit. */
static inline void
SlotWorkerExit(SlotProcesses *procs, uint32 slot)
{
	pg_atomic_write_membarrier_u32(&procs->exited[slot], 1);
}

#endif							/* SLOT_PROCESS_H */
