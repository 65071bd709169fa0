/*-------------------------------------------------------------------------
 *
 * slot_set.h
 *	  A set of slot numbers in a process's private memory: the postmaster's
 *	  "which workers run" and "which slots it kept" (what PostgreSQL keeps in
 *	  BackgroundWorkerList).  Never in shared memory, so it is plain C in both
 *	  the native and the trace build, and no event of the model.
 *
 * Fixed capacity (SLOT_MAX_SLOTS bits, 512 bytes), so a postmaster's state
 * needs no allocation; the count makes "is anything running" O(1).  The
 * protocols' shared structures have their own limits (the caslist head holds
 * a 16-bit index); SLOT_MAX_SLOTS is below all of them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_SET_H
#define SLOT_SET_H

#include "pg_shim.h"

#define SLOT_MAX_SLOTS	4096

typedef struct SlotSet
{
	uint32		count;			/* members */
	uint64		words[SLOT_MAX_SLOTS / 64];
} SlotSet;

static inline void
slot_set_clear(SlotSet *set)
{
	set->count = 0;
	for (uint32 w = 0; w < SLOT_MAX_SLOTS / 64; w++)
		set->words[w] = 0;
}

static inline bool
slot_set_is_member(const SlotSet *set, uint32 slot)
{
	return slot < SLOT_MAX_SLOTS && ((set->words[slot >> 6] >> (slot & 63)) & 1) != 0;
}

/*
 * Callers pass slot < nslots <= SLOT_MAX_SLOTS.  A build with a range check
 * mutated away may pass garbage from shared memory: that is ignored rather
 * than written out of bounds, so the replay sees the protocol's mistake and
 * not a crash of the harness.
 */
static inline void
slot_set_add(SlotSet *set, uint32 slot)
{
	if (slot < SLOT_MAX_SLOTS && !slot_set_is_member(set, slot))
	{
		set->words[slot >> 6] |= (uint64) 1 << (slot & 63);
		set->count++;
	}
}

static inline void
slot_set_delete(SlotSet *set, uint32 slot)
{
	if (slot_set_is_member(set, slot))
	{
		set->words[slot >> 6] &= ~((uint64) 1 << (slot & 63));
		set->count--;
	}
}

static inline bool
slot_set_is_empty(const SlotSet *set)
{
	return set->count == 0;
}

/* The smallest member, or SLOT_MAX_SLOTS if the set is empty. */
static inline uint32
slot_set_first(const SlotSet *set)
{
	if (set->count == 0)
		return SLOT_MAX_SLOTS;
	for (uint32 w = 0; w < SLOT_MAX_SLOTS / 64; w++)
		if (set->words[w] != 0)
			return w * 64 + (uint32) __builtin_ctzll(set->words[w]);
	return SLOT_MAX_SLOTS;
}

#endif							/* SLOT_SET_H */
