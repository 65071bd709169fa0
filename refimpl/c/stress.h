/*-------------------------------------------------------------------------
 *
 * stress_ring.h
 *	  Native stress test of the ring protocol (stress_ring.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef STRESS_RING_H
#define STRESS_RING_H

#include "slot_ring.h"

typedef struct RingStressResult
{
	int			ok;
	double		elapsed;		/* seconds, threads started to joined */
	uint64		registrations;	/* RingTakeFreeSlot + fill + RingQueueForStart */
	uint64		empty;			/* RingTakeFreeSlot found the free queue empty */
	uint64		starts;			/* RingStartQueuedWorker found a worker */
	uint64		reaps;			/* RingReapWorker */
	char		failure[256];	/* the first property that failed, or "" */
} RingStressResult;

/*
 * Run one postmaster thread and "backends" backend threads for "seconds".
 * Returns 0 if every check passed, 1 if one failed (out->failure says which),
 * -1 on bad arguments.
 */
extern int	ring_stress(uint32 nslots, int backends, double seconds, RingStressResult *out);

#endif							/* STRESS_RING_H */
