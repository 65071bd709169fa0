/*-------------------------------------------------------------------------
 *
 * stress.c
 *	  Native stress test of a slot protocol with real threads: one postmaster
 *	  thread starting and reaping workers, N backend threads registering
 *	  them, for a given time.  The protocol comes in through the StressOps
 *	  table of its adapter (stress_<protocol>.c), linked into the same build.
 *
 * What it checks:
 *	exclusive ownership  a per-slot owner word, changed with compare-exchange
 *						 at every hand-over (free queue -> backend -> start
 *						 queue -> running -> free queue); a CAS that finds
 *						 another owner is a violation;
 *	queue integrity		 the postmaster reads back, for every slot it starts,
 *						 the worker description its registrant wrote;
 *	postmaster safety	 every slot number either side gets is < nslots, and
 *						 the postmaster never sees corruption (there is no
 *						 rogue here);
 *	conservation		 at the end, with every thread stopped and the start
 *						 queue drained, the free queue holds each slot exactly
 *						 once.
 *
 * Built natively (cffi module, and a plain executable with
 * -fsanitize=thread through stress_main.c).
 *
 *-------------------------------------------------------------------------
 */
#ifdef SLOT_TRACE
#error "stress.c belongs to the native build"
#endif

#include "stress.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum
{
	OWN_FREE = 1,				/* in the free queue */
	OWN_QUEUED = 2,				/* in the start queue */
	OWN_RUNNING = 3,
	OWN_BACKEND = 8				/* + backend number: taken, being filled in */
};

typedef struct StressShared
{
	const StressOps *ops;
	void	   *shm;
	uint32		nslots;
	uint32		nbackends;
	_Atomic uint32 *owner;
	_Atomic uint32 *registrant;	/* who the harness says filled the slot in */
	atomic_bool stop_backends;
	atomic_bool stop_postmaster;
	atomic_flag claimed;		/* set by the first failure, which writes the text */
	atomic_bool any_failure;
	char		failure[256];	/* read only after every thread is joined */
} StressShared;

#ifdef SLOT_STRESS_INJECT_RACE
/*
 * A deliberate data race, built only to show that the ThreadSanitizer run
 * reports races at all: every backend increments a plain counter as it
 * starts, before anything could order it against its siblings.
 */
uint64		slot_stress_racy_counter;	/* global: the compiler may not drop the writes */
#endif

typedef struct BackendArgs
{
	StressShared *st;
	uint32		me;
	uint64		registrations;
	uint64		empty;			/* attempts that found no free slot */
} BackendArgs;

typedef struct PostmasterArgs
{
	StressShared *st;
	uint64		starts;
	uint64		reaps;
} PostmasterArgs;

static void
fail_stop(StressShared *st)
{
	atomic_store(&st->any_failure, true);
	atomic_store(&st->stop_backends, true);
	atomic_store(&st->stop_postmaster, true);
}

static void
fail(StressShared *st, const char *fmt, uint32 a, uint32 b, uint32 c)
{
	if (!atomic_flag_test_and_set(&st->claimed))
		snprintf(st->failure, sizeof(st->failure), fmt, a, b, c);
	fail_stop(st);
}

static bool
failed(StressShared *st)
{
	return atomic_load(&st->any_failure);
}

static void check_conservation(StressShared *st, void *view, void *pm);

static void
owner_name(uint32 owner, char *buf, size_t len)
{
	switch (owner)
	{
		case OWN_FREE:
			snprintf(buf, len, "the free queue");
			break;
		case OWN_QUEUED:
			snprintf(buf, len, "the start queue");
			break;
		case OWN_RUNNING:
			snprintf(buf, len, "a running worker");
			break;
		default:
			snprintf(buf, len, "backend %u", owner - OWN_BACKEND);
			break;
	}
}

/* Move "slot" from owner "from" to owner "to"; a violation if "from" did not hold it. */
static bool
hand_over(StressShared *st, uint32 slot, uint32 from, uint32 to)
{
	uint32		expected = from;
	char		held[32],
				wanted[32],
				taker[32];

	if (atomic_compare_exchange_strong(&st->owner[slot], &expected, to))
		return true;
	owner_name(expected, held, sizeof(held));
	owner_name(from, wanted, sizeof(wanted));
	owner_name(to, taker, sizeof(taker));
	if (!atomic_flag_test_and_set(&st->claimed))
		snprintf(st->failure, sizeof(st->failure),
				 "exclusive ownership: %s took slot %u from %s, but %s held it", taker, slot, wanted, held);
	fail_stop(st);
	return false;
}

static void *
backend_main(void *arg)
{
	BackendArgs *a = arg;
	StressShared *st = a->st;
	const StressOps *ops = st->ops;
	void	   *view = calloc(1, ops->view_size);

#ifdef SLOT_STRESS_INJECT_RACE
	slot_stress_racy_counter++;
#endif
	ops->attach(view, st->shm, st->nslots);
	while (!atomic_load_explicit(&st->stop_backends, memory_order_relaxed))
	{
		uint32		slot = ops->take(view);

		if (slot == STRESS_NO_SLOT)
		{
			a->empty++;
			sched_yield();
			continue;
		}
		if (slot >= st->nslots)
		{
			fail(st, "memory safety: backend %u took slot number %u (of %u)", a->me, slot, st->nslots);
			break;
		}
		if (!hand_over(st, slot, OWN_FREE, OWN_BACKEND + a->me))
			break;
		/* what the protocol's RegisterWorker() does between taking and queueing */
		pg_atomic_write_u32(ops->worker_word(view, slot), a->me);
		atomic_store_explicit(&st->registrant[slot], a->me, memory_order_relaxed);
		if (!hand_over(st, slot, OWN_BACKEND + a->me, OWN_QUEUED))
			break;
		ops->queue(view, slot);
		a->registrations++;
	}
	free(view);
	return NULL;
}

/* xorshift32: which running worker exits, and when */
static uint32
next_random(uint32 *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static bool
postmaster_start(PostmasterArgs *a, void *view, void *pm)
{
	StressShared *st = a->st;
	uint32		worker = 0;
	uint32		slot = st->ops->start(view, pm, &worker);

	if (st->ops->corrupt(pm))
	{
		fail(st, "postmaster safety: the postmaster saw corrupt shared memory (slot %u, worker %u)",
			 slot, worker, 0);
		return false;
	}
	if (slot == STRESS_NO_SLOT)
		return false;
	if (!hand_over(st, slot, OWN_QUEUED, OWN_RUNNING))
		return false;
	if (worker != atomic_load_explicit(&st->registrant[slot], memory_order_relaxed))
	{
		fail(st, "queue integrity: slot %u describes worker %u, registered by %u", slot, worker,
			 atomic_load_explicit(&st->registrant[slot], memory_order_relaxed));
		return false;
	}
	a->starts++;
	return true;
}

static void
postmaster_reap(PostmasterArgs *a, void *view, void *pm, uint32 slot)
{
	/* free before publishing: once published a backend may take it */
	if (!hand_over(a->st, slot, OWN_RUNNING, OWN_FREE))
		return;
	a->st->ops->reap(view, pm, slot);
	if (a->st->ops->corrupt(pm))
		fail(a->st, "postmaster safety: the postmaster saw corrupt shared memory reaping slot %u", slot, 0, 0);
	a->reaps++;
}

static void *
postmaster_main(void *arg)
{
	PostmasterArgs *a = arg;
	StressShared *st = a->st;
	const StressOps *ops = st->ops;
	void	   *view = calloc(1, ops->view_size);
	void	   *pm = calloc(1, ops->pm_size);
	uint32		rnd = 0x9e3779b9u;

	ops->attach(view, st->shm, st->nslots);
	ops->pm_init(pm, st->nslots, st->nbackends);
	while (!atomic_load_explicit(&st->stop_postmaster, memory_order_relaxed))
	{
		(void) postmaster_start(a, view, pm);
		if (ops->housekeeping)
			ops->housekeeping(view, pm);
		/* any running worker may exit now, or none */
		if (!slot_set_is_empty(ops->running(pm)))
		{
			uint32		exited = next_random(&rnd) % (st->nslots + 1);

			if (exited < st->nslots && slot_set_is_member(ops->running(pm), exited))
				postmaster_reap(a, view, pm, exited);
		}
		else
			sched_yield();
	}

	/*
	 * Backends have stopped: start what is queued, let everything exit, and
	 * give back what the postmaster kept (nobody contends any more, so a
	 * bounded number of passes suffices).
	 */
	if (!failed(st))
	{
		while (postmaster_start(a, view, pm))
			;
		for (uint32 s = 0; s < st->nslots && !failed(st); s++)
			if (slot_set_is_member(ops->running(pm), s))
				postmaster_reap(a, view, pm, s);
		for (uint32 pass = 0; ops->housekeeping && pass < 4 * st->nslots; pass++)
			ops->housekeeping(view, pm);
		if (!failed(st))
			check_conservation(st, view, pm);
	}
	free(view);
	free(pm);
	return NULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Conservation, once everything has stopped: the protocol's free structure
 * holds every slot exactly once, and every owner word says "free".
 */
static void
check_conservation(StressShared *st, void *view, void *pm)
{
	uint32		slots[64];
	char		msg[200] = "";
	int			n = st->ops->free_slots(view, pm, slots, 64, msg, sizeof(msg));
	uint64		seen = 0;

	if (n < 0)
	{
		if (!atomic_flag_test_and_set(&st->claimed))
			snprintf(st->failure, sizeof(st->failure), "conservation: %s", msg);
		fail_stop(st);
		return;
	}
	if ((uint32) n != st->nslots)
	{
		fail(st, "conservation: the free structure holds %u slots, not %u", (uint32) n, st->nslots, 0);
		return;
	}
	for (int k = 0; k < n; k++)
	{
		uint32		s = slots[k];

		if (s >= st->nslots || ((seen >> s) & 1))
		{
			fail(st, "conservation: the free structure holds slot %u twice or out of range", s, 0, 0);
			return;
		}
		seen |= (uint64) 1 << s;
		if (atomic_load(&st->owner[s]) != OWN_FREE)
		{
			fail(st, "conservation: slot %u is free but owned by %u", s, atomic_load(&st->owner[s]), 0);
			return;
		}
	}
}

int
slot_stress(uint32 nslots, int backends, double seconds, SlotStressResult *out)
{
	StressShared st;
	pthread_t	pm_thread;
	pthread_t  *threads;
	BackendArgs *bargs;
	PostmasterArgs pargs;
	double		t0;
	struct timespec pause;

	memset(out, 0, sizeof(*out));
	if (nslots < 1 || nslots > slot_stress_ops.max_slots)
	{
		snprintf(out->failure, sizeof(out->failure), "%s: slots must be between 1 and %u",
				 slot_stress_ops.name, slot_stress_ops.max_slots);
		return -1;
	}
	if (backends < 1 || backends > 256 || seconds < 0)
	{
		snprintf(out->failure, sizeof(out->failure), "backends must be between 1 and 256, seconds at least 0");
		return -1;
	}
	memset(&st, 0, sizeof(st));
	st.nslots = nslots;
	st.nbackends = (uint32) backends;
	st.ops = &slot_stress_ops;
	st.shm = calloc(1, slot_stress_ops.shmem_size(nslots));
	st.owner = calloc(nslots, sizeof(*st.owner));
	st.registrant = calloc(nslots, sizeof(*st.registrant));
	threads = calloc(backends, sizeof(*threads));
	bargs = calloc(backends, sizeof(*bargs));
	if (!st.shm || !st.owner || !st.registrant || !threads || !bargs)
	{
		snprintf(out->failure, sizeof(out->failure), "out of memory");
		return -1;
	}
	slot_stress_ops.shmem_init(st.shm, nslots);
	for (uint32 s = 0; s < nslots; s++)
		atomic_init(&st.owner[s], OWN_FREE);
	atomic_init(&st.stop_backends, false);
	atomic_init(&st.stop_postmaster, false);
	atomic_flag_clear(&st.claimed);
	atomic_init(&st.any_failure, false);

	t0 = now();
	memset(&pargs, 0, sizeof(pargs));
	pargs.st = &st;
	pthread_create(&pm_thread, NULL, postmaster_main, &pargs);
	for (int b = 0; b < backends; b++)
	{
		bargs[b].st = &st;
		bargs[b].me = (uint32) b + 1;
		pthread_create(&threads[b], NULL, backend_main, &bargs[b]);
	}
	pause.tv_sec = (time_t) seconds;
	pause.tv_nsec = (long) ((seconds - (double) pause.tv_sec) * 1e9);
	while (nanosleep(&pause, &pause) != 0)
		;
	atomic_store(&st.stop_backends, true);
	for (int b = 0; b < backends; b++)
	{
		pthread_join(threads[b], NULL);
		out->registrations += bargs[b].registrations;
		out->empty += bargs[b].empty;
	}
	atomic_store(&st.stop_postmaster, true);
	pthread_join(pm_thread, NULL);
	out->elapsed = now() - t0;
	out->starts = pargs.starts;
	out->reaps = pargs.reaps;
	if (!failed(&st) && (out->starts != out->registrations || out->reaps != out->starts))
		fail(&st, "conservation: %u registered, %u started, %u reaped", (uint32) out->registrations,
			 (uint32) out->starts, (uint32) out->reaps);
	memcpy(out->failure, st.failure, sizeof(out->failure));
	out->ok = !failed(&st);
	free(st.shm);
	free(st.owner);
	free(st.registrant);
	free(threads);
	free(bargs);
	return out->ok ? 0 : 1;
}
