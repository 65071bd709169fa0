/*-------------------------------------------------------------------------
 *
 * slot_caslist.c
 *	  Free slots on a tagged Treiber list; see slot_caslist.h.  Every
 *	  shared-memory access is one event of models/caslist.py, in the same
 *	  order; mutations are compiled in with -DSLOT_MUTATION_<NAME>.
 *
 *-------------------------------------------------------------------------
 */
#include "slot_caslist.h"

/* The head word that replaces "head" and names "index". */
static inline uint32
next_head(uint32 head, uint32 index)
{
#ifdef SLOT_MUTATION_NO_TAG
	/* the mistake: the tag never changes, so a stale CAS can succeed (ABA) */
	return (head & 0xFFFF0000) | index;
#else
	return ((((head >> 16) + 1) & 0xFFFF) << 16) | index;
#endif
}

Size
CasListShmemSize(uint32 nslots)
{
	return offsetof(CasListShmem, words) +
		sizeof(pg_atomic_uint32) * ((Size) SQRingSize(nslots) + 2 * (Size) nslots);
}

/* Initially every slot is free, linked 0 -> 1 -> ... -> EMPTY. */
void
CasListShmemInit(CasListShmem *shm, uint32 nslots)
{
	CasList		cl;

	CasListAttach(&cl, shm, nslots);
	SQShmemInit(&shm->sq, cl.sq.start_ring, cl.sq.slot_worker, nslots);
	pg_atomic_init_u32(&shm->free_head, nslots > 0 ? 0 : CASLIST_EMPTY);
	for (uint32 s = 0; s < nslots; s++)
		pg_atomic_init_u32(&cl.free_next[s], s + 1 < nslots ? s + 1 : CASLIST_EMPTY);
}

void
CasListAttach(CasList *cl, CasListShmem *shm, uint32 nslots)
{
	uint32		ring = SQRingSize(nslots);

	cl->shm = shm;
	cl->nslots = nslots;
	SQAttach(&cl->sq, &shm->sq, &shm->words[0], &shm->words[ring], nslots);
	cl->free_next = &shm->words[ring + nslots];
}

void
CasListPostmasterInit(CasListPostmaster *pm, uint32 nslots, uint32 nbackends, uint32 cas_retries)
{
	SQPostmasterInit(&pm->sq, nslots, nbackends);
	slot_set_clear(&pm->kept);
	pm->cas_retries = cas_retries;
}

uint32
CasListTakeFreeSlot(CasList *cl)
{
	uint32		head = pg_atomic_read_u32(&cl->shm->free_head);

	for (;;)
	{
		uint32		slot = head & 0xFFFF;
		uint32		nxt;

		if (slot == CASLIST_EMPTY)
			return SQ_NO_SLOT;

		/*
		 * No barrier between the head and the link: the link's address
		 * depends on the head's value (a dependent load), and the CAS below
		 * fails if the head changed since.
		 */
		nxt = pg_atomic_read_u32(&cl->free_next[slot]);
		/* on failure the CAS puts the head it found into "head" */
		if (pg_atomic_compare_exchange_u32(&cl->shm->free_head, &head, next_head(head, nxt & 0xFFFF)))
			return slot;
	}
}

bool
CasListRegisterWorker(CasList *cl, uint32 me)
{
	uint32		slot = CasListTakeFreeSlot(cl);

	if (slot == SQ_NO_SLOT)
		return false;
	/* Fill in the slot (the worker's description): here, who asked for it. */
	pg_atomic_write_u32(&cl->sq.slot_worker[slot], me);
	SQQueueForStart(&cl->sq, slot);
	return true;
}

uint32
CasListStartQueuedWorker(CasList *cl, CasListPostmaster *pm, uint32 *worker)
{
	return SQStartQueuedWorker(&cl->sq, &pm->sq, worker);
}

/*
 * Push "slot" (held privately, < nslots); true on success.  Gives up after
 * cas_retries failed compare-exchanges, so the postmaster never waits for
 * backends (or garbage) to stop changing the head.
 */
static bool
push_slot(CasList *cl, CasListPostmaster *pm, uint32 slot)
{
	uint32		head = pg_atomic_read_u32(&cl->shm->free_head);
	uint32		tries = 0;

	for (;;)
	{
		uint32		first = head & 0xFFFF;

		if (first != CASLIST_EMPTY && first >= cl->nslots)
		{
			/*
			 * No backend writes such a head.  Do not link our slot to
			 * garbage (and never index by it): keep the slot, report it.
			 */
			pm->sq.corrupt = true;
			return false;
		}
		pg_atomic_write_u32(&cl->free_next[slot], first);

		/*
		 * The compare-exchange is a full barrier: the link above is visible
		 * before the head that publishes the slot.  Pairs with the backend's
		 * read of free_next[] after its read of the head in
		 * CasListTakeFreeSlot() (a dependent load).
		 */
		if (pg_atomic_compare_exchange_u32(&cl->shm->free_head, &head, next_head(head, slot)))
			return true;
		tries++;
#ifndef SLOT_MUTATION_UNBOUNDED_RETRY
		if (tries >= pm->cas_retries)
			return false;
#endif
	}
}

void
CasListReapWorker(CasList *cl, CasListPostmaster *pm, uint32 slot)
{
	if (!push_slot(cl, pm, slot))
		slot_set_add(&pm->kept, slot);
	slot_set_delete(&pm->sq.running, slot);
}

void
CasListPushKeptSlot(CasList *cl, CasListPostmaster *pm)
{
	uint32		slot;

	if (slot_set_is_empty(&pm->kept))
		return;
	slot = slot_set_first(&pm->kept);
	if (push_slot(cl, pm, slot))
		slot_set_delete(&pm->kept, slot);
}
