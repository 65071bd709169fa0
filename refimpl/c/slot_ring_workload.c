/*-------------------------------------------------------------------------
 *
 * slot_ring_workload.c
 *	  The model's workload for the ring protocol (postmaster() and backend()
 *	  in models/ring.py), for replay in the trace build.  Not part of what
 *	  PostgreSQL would take: there the postmaster's server loop and the
 *	  backends' RegisterDynamicBackgroundWorker() calls play this part.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_ring_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_ring.h"
#include "slot_replay.h"

typedef struct RingThreadArgs
{
	RingShmem  *shm;
	uint32		nslots;
	uint32		me;				/* backend number, 1.. */
	uint32		ops;			/* registrations per backend */
	uint32		total;			/* registrations of all backends */
} RingThreadArgs;

/* Each backend registers OPS workers, retrying while no slot is free. */
static void
ring_backend(void *arg)
{
	RingThreadArgs *a = arg;
	RingSlots	rs;
	uint32		done = 0;

	RingAttach(&rs, a->shm, a->nslots);
	while (done < a->ops)
		done += RingRegisterWorker(&rs, a->me) ? 1 : 0;
}

/*
 * The postmaster starts queued workers and reaps running ones until every
 * registered worker has been reaped.  Which worker exits, if any, is the
 * model's choose(SLOTS + 1), supplied by the trace.
 */
static void
ring_postmaster(void *arg)
{
	RingThreadArgs *a = arg;
	RingSlots	rs;
	RingPostmasterState pm;
	uint32		done = 0;

	RingAttach(&rs, a->shm, a->nslots);
	RingPostmasterInit(&pm, a->nslots, a->ops ? a->total / a->ops : 0);
	while (done < a->total)
	{
		uint32		worker;
		uint32		exited;

		(void) RingStartQueuedWorker(&rs, &pm, &worker);
		exited = slot_choose(a->nslots + 1);
		if (exited < a->nslots && slot_set_is_member(&pm.sq.running, exited))
		{
			RingReapWorker(&rs, &pm, exited);
			done++;
		}
	}
}

Size
ring_shmem_size(uint32 nslots)
{
	return RingShmemSize(nslots);
}

void
ring_shmem_init(void *shm, uint32 nslots)
{
	RingShmemInit((RingShmem *) shm, nslots);
}

int
ring_regions(void *shm, uint32 nslots, SlotRegion *out, int max)
{
	RingSlots	rs;
	RingShmem  *s = shm;
	int			n = 0;

	RingAttach(&rs, s, nslots);
	SLOT_REGION(out, max, n, s, "free_head", &s->free_head, 0);
	SLOT_REGION(out, max, n, s, "free_tail", &s->free_tail, 0);
	SLOT_REGION(out, max, n, s, "free_ring", rs.free_ring, rs.ring_size);
	SLOT_REGION(out, max, n, s, "start_head", &s->sq.start_head, 0);
	SLOT_REGION(out, max, n, s, "start_tail", &s->sq.start_tail, 0);
	SLOT_REGION(out, max, n, s, "start_ring", rs.sq.start_ring, rs.ring_size);
	SLOT_REGION(out, max, n, s, "slot_worker", rs.sq.slot_worker, nslots);
	SLOT_REGION(out, max, n, s, "FreeQueueLock", &s->FreeQueueLock.state, 0);
	SLOT_REGION(out, max, n, s, "StartQueueLock", &s->sq.StartQueueLock.state, 0);
	return n;
}

int
ring_replay_thread(void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total, uint32 extra)
{
	RingThreadArgs a = {shm, nslots, me, ops, total};

	(void) extra;
	return slot_trace_run(role == SLOT_ROLE_POSTMASTER ? ring_postmaster : ring_backend, &a);
}
