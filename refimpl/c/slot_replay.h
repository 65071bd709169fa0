/*-------------------------------------------------------------------------
 *
 * slot_replay.h
 *	  What each protocol's workload file exports to the replay harness
 *	  (trace build).  refimpl/build.py declares the same to cffi.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_REPLAY_H
#define SLOT_REPLAY_H

#include "pg_shim.h"

#define SLOT_ROLE_POSTMASTER	0
#define SLOT_ROLE_BACKEND		1
#define SLOT_ROLE_WORKER		2	/* "me" is the worker's slot */

/*
 * A shared word or array, named as in the model, at "offset" bytes from the
 * start of the protocol's shared memory; length 0 for a single word.  The
 * harness maps every address the hook sees back to "name[index]".
 */
typedef struct SlotRegion
{
	const char *name;
	Size		offset;
	uint32		length;
} SlotRegion;

/* Append one region to out[] (counting past "max" so the caller sees the need). */
#define SLOT_REGION(out, max, n, base, name_, ptr_, len_) \
	do { \
		if ((n) < (max)) \
		{ \
			(out)[n].name = (name_); \
			(out)[n].offset = (Size) ((const char *) (ptr_) - (const char *) (base)); \
			(out)[n].length = (len_); \
		} \
		(n)++; \
	} while (0)

#endif							/* SLOT_REPLAY_H */
