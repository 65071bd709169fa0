/*-------------------------------------------------------------------------
 *
 * bench.c
 *	  What a slot design costs in real code: a backend obtains a slot
 *	  (RegisterDynamicBackgroundWorker), the postmaster picks it up and, its
 *	  worker having exited at once, releases it.  The design comes in
 *	  through the BenchOps table of its adapter (bench_<design>.c), linked
 *	  into the same build.
 *
 * The pool is kept nearly full: before measuring, all but "free" slots are
 * obtained and picked up and stay running to the end, free being 1 when one
 * thread runs and the number of backends otherwise.  Every design hands out
 * slots 0, 1, 2, ... first, so the held slots are the low-numbered ones and
 * a search from slot 0 crosses all of them: the case where a linear search
 * hurts.
 *
 * Two modes:
 *	backends == 0	one thread does obtain, pick-up and release in turn: the
 *					cost of a cycle with nothing contended, no clock read
 *					inside the loop but one per 64 cycles;
 *	backends >= 1	that many backend threads obtain as fast as they can
 *					while one postmaster thread picks up and releases; every
 *					pick-up and release is timed (histograms, 1 ns buckets).
 *
 * Counting (the Python side checks these again): the postmaster (whichever
 * thread plays it) keeps a private state per slot and counts a slot picked
 * up while it was not free, or released while it was not in use, in
 * "twice"; obtained, started and released must agree once every thread has
 * stopped; and once everything is given back, obtaining until the design
 * says "none free" must yield every slot exactly once.
 *
 *-------------------------------------------------------------------------
 */
#ifdef SLOT_TRACE
#error "bench.c belongs to the native build"
#endif

#include "bench.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Latencies at or above this many ns share the last bucket (the maximum is kept exactly). */
#define BENCH_HIST_BUCKETS	65536

/* One slot's state as the postmaster knows it; only the postmaster's thread touches it. */
enum
{
	SLOT_FREE = 0,
	SLOT_CYCLING = 1,			/* picked up during the run, released soon */
	SLOT_HELD = 2				/* picked up before the run, kept running */
};

typedef struct Histogram
{
	uint64		samples;
	uint64		max;
	uint32	   *counts;			/* BENCH_HIST_BUCKETS */
} Histogram;

typedef struct Bench
{
	const BenchOps *ops;
	void	   *shm;
	uint32		nslots;
	uint8_t    *state;			/* per slot: SLOT_FREE, SLOT_CYCLING, SLOT_HELD */
	atomic_bool stop_backends;
	atomic_bool stop_postmaster;
	atomic_flag claimed;		/* set by the first failure, which writes the text */
	atomic_bool any_failure;
	char		failure[256];	/* read only after every thread is joined */
	/* the postmaster's counters: one thread at a time */
	uint64		started;
	uint64		released;
	uint64		twice;
	uint64		cycles_in_window;
	Histogram	release_hist;
	Histogram	start_hist;
} Bench;

typedef struct BackendArgs
{
	Bench	   *b;
	uint32		me;
	uint64		obtained;
	uint64		empty;
} BackendArgs;

typedef struct PostmasterArgs
{
	Bench	   *b;
	void	   *view;
	void	   *pm;
} PostmasterArgs;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64) ts.tv_sec * 1000000000u + (uint64) ts.tv_nsec;
}

/* The least cost of one clock reading, over a few hundred tries. */
static double
timer_cost_ns(void)
{
	uint64		best = UINT64_MAX;

	for (int i = 0; i < 512; i++)
	{
		uint64		t0 = now_ns();
		uint64		t1 = now_ns();

		if (t1 - t0 < best)
			best = t1 - t0;
	}
	return (double) best;
}

/*
 * Nothing to do (no free slot, nothing to pick up): give the CPU up at once.
 * Spinning first was measured to be several times slower here: with more
 * threads than cores the thread that would end the wait is often not
 * running, and a spinning thread keeps it off the CPU.
 */
static void
back_off(void)
{
	sched_yield();
}

static void
fail(Bench *b, const char *fmt, uint32 x, uint32 y, uint32 z)
{
	if (!atomic_flag_test_and_set(&b->claimed))
		snprintf(b->failure, sizeof(b->failure), fmt, x, y, z);
	atomic_store(&b->any_failure, true);
	atomic_store(&b->stop_backends, true);
	atomic_store(&b->stop_postmaster, true);
}

static bool
failed(Bench *b)
{
	return atomic_load(&b->any_failure);
}

static void
record(Histogram *h, uint64 ns)
{
	h->samples++;
	if (ns > h->max)
		h->max = ns;
	h->counts[ns < BENCH_HIST_BUCKETS ? ns : BENCH_HIST_BUCKETS - 1]++;
}

/* The smallest recorded value v with at least q of the samples <= v. */
static uint32
percentile(const Histogram *h, double q)
{
	uint64		need = (uint64) (q * (double) h->samples + 0.999999);
	uint64		seen = 0;

	if (h->samples == 0)
		return 0;
	if (need < 1)
		need = 1;
	for (uint32 v = 0; v < BENCH_HIST_BUCKETS; v++)
	{
		seen += h->counts[v];
		if (seen >= need)
			return v == BENCH_HIST_BUCKETS - 1 ? (uint32) h->max : v;
	}
	return (uint32) h->max;
}

/* The postmaster picked "slot" up: it must have been free. */
static bool
picked_up(Bench *b, void *pm, uint32 slot, uint8_t becomes)
{
	if (slot >= b->nslots)
	{
		fail(b, "memory safety: the postmaster picked up slot number %u (of %u)", slot, b->nslots, 0);
		return false;
	}
	if (b->ops->corrupt(pm))
	{
		fail(b, "the postmaster saw corrupt shared memory (picking up slot %u)", slot, 0, 0);
		return false;
	}
	if (b->state[slot] != SLOT_FREE)
	{
		b->twice++;
		fail(b, "slot %u was picked up twice without a release between", slot, 0, 0);
		return false;
	}
	b->state[slot] = becomes;
	return true;
}

/* The postmaster gives "slot" back: it must have been in use. */
static bool
released(Bench *b, uint32 slot, uint8_t was)
{
	if (b->state[slot] != was)
	{
		b->twice++;
		fail(b, "slot %u was released while not in use", slot, 0, 0);
		return false;
	}
	b->state[slot] = SLOT_FREE;
	return true;
}

static void *
backend_main(void *arg)
{
	BackendArgs *a = arg;
	Bench	   *b = a->b;
	void	   *view = calloc(1, b->ops->view_size);

	b->ops->attach(view, b->shm, b->nslots);
	while (!atomic_load_explicit(&b->stop_backends, memory_order_relaxed))
	{
		if (b->ops->obtain(view, a->me))
			a->obtained++;
		else
		{
			a->empty++;
			back_off();
		}
	}
	free(view);
	return NULL;
}

/* Pick up one obtained slot and release it at once, timing both; false if there was none. */
static bool
postmaster_cycle(Bench *b, void *view, void *pm)
{
	const BenchOps *ops = b->ops;
	uint64		t0 = now_ns();
	uint32		slot = ops->start(view, pm);
	uint64		t1 = now_ns();
	uint64		t2;

	if (slot == BENCH_NO_SLOT)
	{
		if (ops->corrupt(pm))
			fail(b, "the postmaster saw corrupt shared memory", 0, 0, 0);
		return false;
	}
	record(&b->start_hist, t1 - t0);
	if (!picked_up(b, pm, slot, SLOT_CYCLING))
		return false;
	b->started++;
	if (!released(b, slot, SLOT_CYCLING))
		return false;
	t1 = now_ns();
	ops->release(view, pm, slot);
	t2 = now_ns();
	record(&b->release_hist, t2 - t1);
	if (ops->corrupt(pm))
		fail(b, "the postmaster saw corrupt shared memory (releasing slot %u)", slot, 0, 0);
	b->released++;
	if (ops->housekeeping)
		ops->housekeeping(view, pm);
	return true;
}

static void *
postmaster_main(void *arg)
{
	PostmasterArgs *a = arg;
	Bench	   *b = a->b;
	bool		in_window = true;

	while (!atomic_load_explicit(&b->stop_postmaster, memory_order_relaxed))
	{
		if (in_window && atomic_load_explicit(&b->stop_backends, memory_order_relaxed))
		{
			b->cycles_in_window = b->released;
			in_window = false;
		}
		if (!postmaster_cycle(b, a->view, a->pm))
		{
			if (b->ops->housekeeping)
				b->ops->housekeeping(a->view, a->pm);
			back_off();
		}
	}
	if (in_window)
		b->cycles_in_window = b->released;
	/* the backends have been joined: pick up and release what they left */
	while (!failed(b) && postmaster_cycle(b, a->view, a->pm))
		;
	return NULL;
}

/* The single-threaded mode: one thread is a backend and the postmaster in turn. */
static void
run_single(Bench *b, void *view, void *pm, double seconds, SlotBenchResult *out)
{
	const BenchOps *ops = b->ops;
	double		t0 = now();
	double		deadline = t0 + seconds;

	while (!failed(b))
	{
		for (int k = 0; k < 64; k++)
		{
			uint32		slot;

			if (!ops->obtain(view, 1))
			{
				fail(b, "no slot free for the only backend although %u slots are not in use",
					 b->nslots - out->held, 0, 0);
				break;
			}
			out->obtained++;
			slot = ops->start(view, pm);
			if (slot == BENCH_NO_SLOT)
			{
				fail(b, "the postmaster found nothing to pick up after an obtain", 0, 0, 0);
				break;
			}
			if (!picked_up(b, pm, slot, SLOT_CYCLING))
				break;
			b->started++;
			if (!released(b, slot, SLOT_CYCLING))
				break;
			ops->release(view, pm, slot);
			b->released++;
			if (ops->housekeeping)
				ops->housekeeping(view, pm);
		}
		if (now() >= deadline)
			break;
	}
	out->elapsed = now() - t0;
	b->cycles_in_window = b->released;
}

/*
 * With every thread stopped: give back what is held, then obtain until the
 * design says none is free; every slot must come back exactly once.
 */
static void
check_conservation(Bench *b, void *view, void *pm, SlotBenchResult *out)
{
	const BenchOps *ops = b->ops;
	uint8_t    *seen = calloc(b->nslots, 1);
	uint32		n = 0;

	for (uint32 s = 0; s < b->nslots && !failed(b); s++)
	{
		if (b->state[s] == SLOT_HELD)
		{
			released(b, s, SLOT_HELD);
			ops->release(view, pm, s);
		}
		else if (b->state[s] != SLOT_FREE)
			fail(b, "conservation: slot %u is still in use after the run", s, 0, 0);
	}
	/* a postmaster that kept slots pushes one per pass, nobody contends now */
	for (uint32 pass = 0; ops->housekeeping && pass < 2 * b->nslots + 2; pass++)
		ops->housekeeping(view, pm);
	while (!failed(b) && n <= b->nslots)
	{
		uint32		slot;

		if (!ops->obtain(view, 1))
			break;
		slot = ops->start(view, pm);
		if (slot == BENCH_NO_SLOT || slot >= b->nslots)
		{
			fail(b, "conservation: an obtain at the end gave slot number %u (of %u)", slot, b->nslots, 0);
			break;
		}
		if (seen[slot])
		{
			fail(b, "conservation: slot %u was handed out twice at the end", slot, 0, 0);
			break;
		}
		seen[slot] = 1;
		n++;
	}
	out->free_at_end = n;
	if (!failed(b) && n != b->nslots)
		fail(b, "conservation: only %u of %u slots could be obtained at the end", n, b->nslots, 0);
	if (!failed(b) && ops->corrupt(pm))
		fail(b, "the postmaster saw corrupt shared memory", 0, 0, 0);
	free(seen);
}

int
slot_bench(uint32 nslots, int backends, double seconds, SlotBenchResult *out)
{
	const BenchOps *ops = &slot_bench_ops;
	Bench		b;
	void	   *view;
	void	   *pm;
	uint32		nfree;
	uint32		nbackends = backends > 0 ? (uint32) backends : 1;

	memset(out, 0, sizeof(*out));
	out->max_slots = ops->max_slots;
	if (backends < 0 || backends > 256 || !(seconds > 0) || nslots < 1)
	{
		snprintf(out->failure, sizeof(out->failure),
				 "slots must be at least 1, backends between 0 and 256, seconds more than 0");
		return -1;
	}
	if (nslots > ops->max_slots)
	{
		snprintf(out->failure, sizeof(out->failure), "not supported: max %u slots", ops->max_slots);
		return 2;
	}
	out->supported = 1;
	memset(&b, 0, sizeof(b));
	b.ops = ops;
	b.nslots = nslots;
	b.shm = calloc(1, ops->shmem_size(nslots));
	b.state = calloc(nslots, 1);
	b.release_hist.counts = calloc(BENCH_HIST_BUCKETS, sizeof(uint32));
	b.start_hist.counts = calloc(BENCH_HIST_BUCKETS, sizeof(uint32));
	view = calloc(1, ops->view_size);
	pm = calloc(1, ops->pm_size);
	if (!b.shm || !b.state || !b.release_hist.counts || !b.start_hist.counts || !view || !pm)
	{
		snprintf(out->failure, sizeof(out->failure), "out of memory");
		return -1;
	}
	atomic_init(&b.stop_backends, false);
	atomic_init(&b.stop_postmaster, false);
	atomic_flag_clear(&b.claimed);
	atomic_init(&b.any_failure, false);
	ops->shmem_init(b.shm, nslots);
	ops->attach(view, b.shm, nslots);
	ops->pm_init(pm, nslots, nbackends);
	out->timer_ns = timer_cost_ns();

	/* fill the pool but for nfree slots, which stay in play */
	nfree = nbackends < nslots ? nbackends : nslots;
	for (uint32 k = 0; k < nslots - nfree && !failed(&b); k++)
	{
		uint32		slot;

		if (!ops->obtain(view, 1))
		{
			fail(&b, "filling the pool: no slot free after %u of %u", k, nslots, 0);
			break;
		}
		slot = ops->start(view, pm);
		if (slot == BENCH_NO_SLOT)
			fail(&b, "filling the pool: nothing to pick up after an obtain", 0, 0, 0);
		else if (picked_up(&b, pm, slot, SLOT_HELD))
			out->held++;
	}

	if (failed(&b))
		;
	else if (backends == 0)
		run_single(&b, view, pm, seconds, out);
	else
	{
		pthread_t	pm_thread;
		pthread_t  *threads = calloc(backends, sizeof(*threads));
		BackendArgs *bargs = calloc(backends, sizeof(*bargs));
		PostmasterArgs pargs = {&b, view, pm};
		struct timespec pause;
		double		t0;

		if (!threads || !bargs)
		{
			snprintf(out->failure, sizeof(out->failure), "out of memory");
			return -1;
		}
		t0 = now();
		pthread_create(&pm_thread, NULL, postmaster_main, &pargs);
		for (int k = 0; k < backends; k++)
		{
			bargs[k].b = &b;
			bargs[k].me = (uint32) k + 1;
			pthread_create(&threads[k], NULL, backend_main, &bargs[k]);
		}
		pause.tv_sec = (time_t) seconds;
		pause.tv_nsec = (long) ((seconds - (double) pause.tv_sec) * 1e9);
		while (nanosleep(&pause, &pause) != 0)
			;
		atomic_store(&b.stop_backends, true);
		out->elapsed = now() - t0;
		for (int k = 0; k < backends; k++)
		{
			pthread_join(threads[k], NULL);
			out->obtained += bargs[k].obtained;
			out->empty += bargs[k].empty;
		}
		atomic_store(&b.stop_postmaster, true);
		pthread_join(pm_thread, NULL);
		free(threads);
		free(bargs);
	}

	out->started = b.started;
	out->released = b.released;
	out->cycles = b.cycles_in_window;
	if (!failed(&b) && (out->obtained != out->started || out->started != out->released))
		fail(&b, "counters: %u obtained, %u picked up, %u released", (uint32) out->obtained,
			 (uint32) out->started, (uint32) out->released);
	if (!failed(&b))
		check_conservation(&b, view, pm, out);
	out->twice = b.twice;
	out->release_samples = b.release_hist.samples;
	out->release_p50 = percentile(&b.release_hist, 0.50);
	out->release_p99 = percentile(&b.release_hist, 0.99);
	out->release_max = (uint32) b.release_hist.max;
	out->start_samples = b.start_hist.samples;
	out->start_p50 = percentile(&b.start_hist, 0.50);
	out->start_p99 = percentile(&b.start_hist, 0.99);
	out->start_max = (uint32) b.start_hist.max;
	memcpy(out->failure, b.failure, sizeof(out->failure));
	out->ok = !failed(&b);
	free(b.shm);
	free(b.state);
	free(b.release_hist.counts);
	free(b.start_hist.counts);
	free(view);
	free(pm);
	return out->ok ? 0 : 1;
}
