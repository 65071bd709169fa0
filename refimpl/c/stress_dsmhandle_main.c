/*-------------------------------------------------------------------------
 *
 * stress_dsmhandle_main.c
 *	  A threaded run of the native DSM control code (slot_dsmhandle.c), on
 *	  its own: stress.c's harness registers, starts and reaps workers, and
 *	  DSM has none of that.
 *
 *	  stress-dsmhandle THREADS ITERATIONS MAXITEMS GEN_BITS LINEAR [LOCKSTEP]
 *
 * Each thread, ITERATIONS times: creates a segment, records a segment id in
 * harness memory, publishes the handle (DsmPublish, with its barrier) and
 * then the pair (id, handle) in its own cell; reads any thread's cell into
 * a private history of 64 pairs; attaches with a pair from the history
 * (often stale by then); if that succeeds, checks that the item holds the
 * segment the pair was published for, and detaches; detaches its own.
 * With every thread joined, every item must be free (refcnt 0) and, for the
 * proposal, in the free ring exactly once.  Exit 0: every check passed;
 * 1: one failed (the message says which); 2: bad arguments.
 *
 * LOCKSTEP 1: the threads take turns in a fixed order, one phase each
 * (create and publish; attach from the history and detach it; detach their
 * own), so every thread holds its segment while the others attach.  The run
 * is then one interleaving, the same every time: whether it meets a reused
 * handle depends on the iteration count, not on the scheduler (the tests
 * assert on it; the free-running mode is the stress).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot_dsmhandle.h"

#define MAX_THREADS		16
#define HISTORY			64

static DsmControlShmem *shm;
static uint32 maxitems;
static uint32 gen_bits;
static bool linear;
static uint32 iterations;
static int	nthreads;

/* Harness memory, not the protocol's. */
static _Atomic uint64 cells[MAX_THREADS];	/* id << 32 | handle */
static _Atomic uint32 *seg_id;	/* per item: the id of the segment in it */
static _Atomic uint32 next_id;
static _Atomic int failed;
static char failure[256];
/* Every thread starts at once, so that they overlap. */
static pthread_barrier_t start;

/* LOCKSTEP: whose phase it is (thread me runs when turn % nthreads == me - 1). */
static bool lockstep;
static uint64 turn;
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;

static void
fail(const char *msg)
{
	int			expected = 0;

	if (atomic_compare_exchange_strong(&failed, &expected, 1))
		snprintf(failure, sizeof(failure), "%s", msg);
}

static uint32
next_random(uint32 *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/*
 * LOCKSTEP: wait for this thread's turn.  The mutex orders each phase after
 * the previous thread's (the unlock in end_phase pairs with the lock here),
 * so the phases run one at a time, in thread order.  A failure ends the
 * waits: the failing thread stops taking turns.
 */
static void
begin_phase(uint32 me)
{
	if (!lockstep)
		return;
	pthread_mutex_lock(&turn_lock);
	/* fail() comes before the failing phase's end_phase: its broadcast ends this wait. */
	while (turn % (uint64) nthreads != me - 1 && !atomic_load(&failed))
		pthread_cond_wait(&turn_changed, &turn_lock);
	pthread_mutex_unlock(&turn_lock);
}

static void
end_phase(void)
{
	if (!lockstep)
		return;
	pthread_mutex_lock(&turn_lock);
	turn++;
	pthread_cond_broadcast(&turn_changed);
	pthread_mutex_unlock(&turn_lock);
}

static void *
run(void *arg)
{
	uint32		me = (uint32) (uintptr_t) arg;
	uint32		rnd = 2463534242u * (me + 1);
	uint64		history[HISTORY] = {0};
	DsmControl	ctl;

	DsmAttachControl(&ctl, shm, maxitems, gen_bits, linear);
	pthread_barrier_wait(&start);
	for (uint32 i = 0; i < iterations && !atomic_load(&failed); i++)
	{
		uint32		slot = DSM_NO_SLOT;
		uint32		mine;
		uint64		pair;
		uint32		handle;

		begin_phase(me);
		mine = DsmCreateItem(&ctl, me, &slot);
		if (mine != DSM_HANDLE_INVALID)
		{
			uint32		id = atomic_fetch_add(&next_id, 1) + 1;

			atomic_store_explicit(&seg_id[slot], id, memory_order_relaxed);
			DsmPublish(&ctl, slot, mine, &ctl.board[me]);
			atomic_store_explicit(&cells[me], (uint64) id << 32 | mine, memory_order_release);
		}
		end_phase();
		begin_phase(me);
		history[next_random(&rnd) % HISTORY] =
			atomic_load_explicit(&cells[next_random(&rnd) % nthreads], memory_order_acquire);
		pair = history[next_random(&rnd) % HISTORY];
		handle = (uint32) pair;
		/* dsm_attach refuses a segment this process has attached already */
		if (handle != DSM_HANDLE_INVALID && handle != mine)
		{
			uint32		s = DsmAttachItem(&ctl, handle);

			if (s != DSM_NO_SLOT)
			{
				if (atomic_load_explicit(&seg_id[s], memory_order_relaxed) != (uint32) (pair >> 32))
					fail("stale handle refused: an attach reached a segment other than the one published");
				DsmDetachItem(&ctl, s);
			}
		}
		end_phase();
		begin_phase(me);
		if (mine != DSM_HANDLE_INVALID)
			DsmDetachItem(&ctl, slot);
		end_phase();
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	pthread_t	threads[MAX_THREADS];
	DsmControl	ctl;

	if (argc != 6 && argc != 7)
	{
		fprintf(stderr, "usage: %s THREADS ITERATIONS MAXITEMS GEN_BITS LINEAR [LOCKSTEP]\n", argv[0]);
		return 2;
	}
	nthreads = atoi(argv[1]);
	iterations = (uint32) strtoul(argv[2], NULL, 10);
	maxitems = (uint32) strtoul(argv[3], NULL, 10);
	gen_bits = (uint32) strtoul(argv[4], NULL, 10);
	linear = atoi(argv[5]) != 0;
	lockstep = argc == 7 && atoi(argv[6]) != 0;
	if (nthreads < 1 || nthreads > MAX_THREADS || maxitems < 1 || maxitems > 64 ||
		gen_bits < 1 || gen_bits > 24)
	{
		fprintf(stderr, "bad arguments\n");
		return 2;
	}
	shm = calloc(1, DsmShmemSize(maxitems));
	seg_id = calloc(maxitems, sizeof(*seg_id));
	if (shm == NULL || seg_id == NULL)
		return 2;
	DsmShmemInit(shm, maxitems);
	pthread_barrier_init(&start, NULL, (unsigned) nthreads);
	for (int t = 0; t < nthreads; t++)
		pthread_create(&threads[t], NULL, run, (void *) (uintptr_t) (t + 1));
	for (int t = 0; t < nthreads; t++)
		pthread_join(threads[t], NULL);

	if (!atomic_load(&failed))
	{
		DsmAttachControl(&ctl, shm, maxitems, gen_bits, linear);
		for (uint32 s = 0; s < maxitems; s++)
			if (pg_atomic_read_u32(&ctl.item_refcnt[s]) != 0)
				fail("conservation: an item is still in use with every thread gone");
		if (!linear)
		{
			uint32		head = pg_atomic_read_u32(&shm->free_head);
			uint32		tail = pg_atomic_read_u32(&shm->free_tail);
			uint32		seen = 0;

			if (head - tail != maxitems)
				fail("conservation: the free ring does not hold every item");
			for (uint32 k = 0; k < maxitems && k < head - tail; k++)
				seen |= (uint32) 1 << pg_atomic_read_u32(&ctl.free_ring[(tail + k) % ctl.ring]);
			if (maxitems < 32 && seen != ((uint32) 1 << maxitems) - 1)
				fail("conservation: an item is in the free ring twice");
		}
	}
	if (atomic_load(&failed))
	{
		printf("FAILED: %s (%u segments created)\n", failure, atomic_load(&next_id));
		return 1;
	}
	printf("ok: %u segments created by %d threads\n", atomic_load(&next_id), nthreads);
	return 0;
}
