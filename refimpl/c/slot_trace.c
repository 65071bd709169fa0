/*-------------------------------------------------------------------------
 *
 * slot_trace.c
 *	  Entry point of a replayed thread in the trace build (see pg_shim.h).
 *
 * The replay harness runs one thread at a time, so a single jump target is
 * enough.  The hook itself never longjmps: it returns a code, and the jump
 * happens in slot_trace_event(), a plain C frame, so no Python frame is
 * ever skipped.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_TRACE
#error "slot_trace.c belongs to the trace build only (-DSLOT_TRACE)"
#endif

#include "pg_shim.h"

jmp_buf    *slot_trace_exit = NULL;

int
slot_trace_run(void (*fn) (void *), void *arg)
{
	jmp_buf		env;

	slot_trace_exit = &env;
	if (setjmp(env) != 0)
	{
		slot_trace_exit = NULL;
		return 1;
	}
	fn(arg);
	slot_trace_exit = NULL;
	return 0;
}
