/*-------------------------------------------------------------------------
 *
 * slot_changequeue_workload.c
 *	  The model's workload for changequeue and changequeue-fixed
 *	  (postmaster() and backend() in models/changequeue.py and
 *	  models/changequeue_fixed.py, which are the same), for replay in the
 *	  trace build.  slot_changequeue_fixed_workload.c includes this file
 *	  with CQ_WORKLOAD_PREFIX set to its own prefix.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_changequeue_workload.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "slot_changequeue.h"
#include "slot_replay.h"

#ifndef CQ_WORKLOAD_PREFIX
#define CQ_WORKLOAD_PREFIX changequeue
#endif
#define CQ_CONCAT2(a, b) a##_##b
#define CQ_CONCAT(a, b) CQ_CONCAT2(a, b)
#define CQ_EXPORT(name) CQ_CONCAT(CQ_WORKLOAD_PREFIX, name)

typedef struct CqThreadArgs
{
	CqShmem    *shm;
	uint32		nslots;
	uint32		me;
	uint32		ops;
	uint32		total;
	bool		assert_checking;
} CqThreadArgs;

static void
cq_backend(void *arg)
{
	CqThreadArgs *a = arg;
	Cq			cq;
	CqHandle	handle;
	uint32		done = 0;

	CqAttach(&cq, a->shm, a->nslots, a->assert_checking);
	while (done < a->ops)
	{
		if (CqRegisterWorker(&cq, a->me, &handle))
		{
			done++;
			if (slot_choose(2) == 1)
				CqTerminateWorker(&cq, &handle);
		}
	}
}

static void
cq_postmaster(void *arg)
{
	CqThreadArgs *a = arg;
	Cq			cq;
	CqPostmaster pm = {0};

	CqAttach(&cq, a->shm, a->nslots, a->assert_checking);
	while (pm.forgotten < a->total)
	{
		/* ServerLoop: child exits first, then the signalled state change. */
		uint32		exited = slot_choose(a->nslots + 1);

		if (exited < a->nslots && slot_set_is_member(&pm.running, exited))
			CqReapWorker(&cq, &pm, exited);
		CqStateChange(&cq, &pm);
		CqMaybeStartWorker(&cq, &pm, slot_choose(a->nslots + 1));
	}
}

Size
CQ_EXPORT(shmem_size) (uint32 nslots)
{
	return CqShmemSize(nslots);
}

void
CQ_EXPORT(shmem_init) (void *shm, uint32 nslots)
{
	CqShmemInit((CqShmem *) shm, nslots);
}

int
CQ_EXPORT(regions) (void *shm, uint32 nslots, SlotRegion *out, int max)
{
	Cq			cq;
	CqShmem    *s = shm;
	int			n = 0;

	CqAttach(&cq, s, nslots, true);
	SLOT_REGION(out, max, n, s, "in_use", cq.in_use, nslots);
	SLOT_REGION(out, max, n, s, "terminate", cq.terminate, nslots);
	SLOT_REGION(out, max, n, s, "generation", cq.generation, nslots);
	SLOT_REGION(out, max, n, s, "pid", cq.pid, nslots);
	SLOT_REGION(out, max, n, s, "worker", cq.worker, nslots);
#ifdef CQ_HAS_QUEUED_FLAG
	SLOT_REGION(out, max, n, s, "queued", cq.queued, nslots);
#endif
	SLOT_REGION(out, max, n, s, "cq_head", &s->head, 0);
	SLOT_REGION(out, max, n, s, "cq_tail", &s->tail, 0);
	SLOT_REGION(out, max, n, s, "cq_ring", cq.queue, cq.queue_size);
	SLOT_REGION(out, max, n, s, "BackgroundWorkerLock", &s->BackgroundWorkerLock.state, 0);
	return n;
}

/*
 * "extra" is changequeue's asserts parameter.  changequeue-fixed has none: it
 * keeps the patch's Assert(head != tail) and is checked as an assert-enabled
 * build (its model declares ASSERTS = 1), so the enqueue always reads the tail.
 */
int
CQ_EXPORT(replay_thread) (void *shm, uint32 nslots, int role, uint32 me, uint32 ops, uint32 total, uint32 extra)
{
#ifdef CQ_HAS_QUEUED_FLAG
	CqThreadArgs a = {shm, nslots, me, ops, total, true};

	(void) extra;
#else
	CqThreadArgs a = {shm, nslots, me, ops, total, extra != 0};
#endif

	return slot_trace_run(role == SLOT_ROLE_POSTMASTER ? cq_postmaster : cq_backend, &a);
}
