/*-------------------------------------------------------------------------
 *
 * bench.h
 *	  Benchmark of a slot design (bench.c): what a backend's obtain plus the
 *	  postmaster's release of a slot costs, with the pool kept nearly full,
 *	  and the table through which each design's adapter (bench_<design>.c)
 *	  plugs in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_BENCH_H
#define SLOT_BENCH_H

#include "pg_shim.h"
#include "slot_set.h"

#define BENCH_NO_SLOT	((uint32) 0xFFFFFFFF)

typedef struct SlotBenchResult
{
	int			ok;
	int			supported;		/* 0: nslots is more than the design handles */
	uint32		max_slots;		/* what the design handles */
	uint32		held;			/* slots kept running all along: the pool nearly full */
	double		elapsed;		/* seconds of the measured window */
	uint64		cycles;			/* obtain + start + release completed in the window */
	uint64		obtained;		/* backend obtains, whole run (window and drain) */
	uint64		started;		/* slots the postmaster picked up, whole run */
	uint64		released;		/* slots the postmaster gave back, whole run */
	uint64		empty;			/* obtains that found no free slot */
	uint64		twice;			/* a slot picked up while in use, or released while free */
	uint32		free_at_end;	/* distinct slots obtainable once all were given back */
	double		timer_ns;		/* cost of one clock reading (included in latencies) */
	uint64		release_samples;
	uint32		release_p50;	/* ns, the postmaster's release of one slot */
	uint32		release_p99;
	uint32		release_max;
	uint64		start_samples;
	uint32		start_p50;		/* ns, the postmaster picking up one obtained slot */
	uint32		start_p99;
	uint32		start_max;
	char		failure[256];	/* the first check that failed, or "" */
} SlotBenchResult;

/*
 * A design as the benchmark drives it.  "view" is a process's view of the
 * shared memory (view_size bytes), "pm" the postmaster's private state
 * (pm_size bytes); both are allocated by the harness.
 */
typedef struct BenchOps
{
	const char *name;
	uint32		max_slots;
	Size		view_size;
	Size		pm_size;
	Size		(*shmem_size) (uint32 nslots);
	void		(*shmem_init) (void *shm, uint32 nslots);
	void		(*attach) (void *view, void *shm, uint32 nslots);
	void		(*pm_init) (void *pm, uint32 nslots, uint32 nbackends);
	/* backend: RegisterDynamicBackgroundWorker(); false if no slot was free */
	bool		(*obtain) (void *view, uint32 me);
	/* postmaster: one obtained slot it has not picked up yet, or BENCH_NO_SLOT */
	uint32		(*start) (void *view, void *pm);
	/* postmaster: the slot's worker exited; give the slot back (never waits) */
	void		(*release) (void *view, void *pm, uint32 slot);
	void		(*housekeeping) (void *view, void *pm);	/* may be NULL */
	bool		(*corrupt) (void *pm);
} BenchOps;

/* Defined by the adapter linked into the build. */
extern const BenchOps slot_bench_ops;

/*
 * backends == 0: one thread obtains, picks up and releases in turn (the cost
 * of a cycle with no contention).  backends >= 1: that many backend threads
 * obtain while one postmaster thread picks up and releases.  Runs "seconds".
 * Returns 0 if every check passed, 1 if one failed (out->failure says
 * which), 2 if the design does not handle nslots, -1 on bad arguments.
 */
extern int	slot_bench(uint32 nslots, int backends, double seconds, SlotBenchResult *out);

#endif							/* SLOT_BENCH_H */
