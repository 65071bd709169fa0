/*-------------------------------------------------------------------------
 *
 * stress.h
 *	  Native stress test of a slot protocol (stress.c) and the table through
 *	  which each protocol's adapter (stress_<protocol>.c) plugs in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_STRESS_H
#define SLOT_STRESS_H

#include "pg_shim.h"
#include "slot_set.h"

#define STRESS_NO_SLOT	((uint32) 0xFFFFFFFF)

typedef struct SlotStressResult
{
	int			ok;
	double		elapsed;		/* seconds, threads started to joined */
	uint64		registrations;	/* take a free slot + fill it in + queue it */
	uint64		empty;			/* attempts that found no free slot */
	uint64		starts;			/* the postmaster started a queued worker */
	uint64		reaps;			/* the postmaster gave a slot back */
	char		failure[256];	/* the first property that failed, or "" */
} SlotStressResult;

/*
 * A protocol as the harness drives it.  "view" is a process's view of the
 * shared memory (view_size bytes), "pm" the postmaster's private state
 * (pm_size bytes); both are allocated by the harness.
 */
typedef struct StressOps
{
	const char *name;
	uint32		max_slots;
	Size		view_size;
	Size		pm_size;
	Size		(*shmem_size) (uint32 nslots);
	void		(*shmem_init) (void *shm, uint32 nslots);
	void		(*attach) (void *view, void *shm, uint32 nslots);
	void		(*pm_init) (void *pm, uint32 nslots, uint32 nbackends);
	/* backend side */
	uint32		(*take) (void *view);	/* STRESS_NO_SLOT if none is free */
	pg_atomic_uint32 *(*worker_word) (void *view, uint32 slot);
	void		(*queue) (void *view, uint32 slot);
	/* postmaster side */
	uint32		(*start) (void *view, void *pm, uint32 *worker);	/* STRESS_NO_SLOT if none */
	void		(*reap) (void *view, void *pm, uint32 slot);
	void		(*housekeeping) (void *view, void *pm);	/* may be NULL */
	const SlotSet *(*running) (void *pm);	/* slots whose worker runs */
	bool		(*corrupt) (void *pm);

	/*
	 * With every thread stopped: the slots the free structure holds, into
	 * out[] (at most max); -1 with a message if something else still holds
	 * one (a non-empty start queue, a slot the postmaster kept).
	 */
	int			(*free_slots) (void *view, void *pm, uint32 *out, int max, char *msg, Size msglen);
} StressOps;

/* Defined by the adapter linked into the build. */
extern const StressOps slot_stress_ops;

/*
 * Run one postmaster thread and "backends" backend threads for "seconds".
 * Returns 0 if every check passed, 1 if one failed (out->failure says which),
 * -1 on bad arguments.
 */
extern int	slot_stress(uint32 nslots, int backends, double seconds, SlotStressResult *out);

#endif							/* SLOT_STRESS_H */
