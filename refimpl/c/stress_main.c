/*-------------------------------------------------------------------------
 *
 * stress_main.c
 *	  A command-line driver for the native stress test, so that it can be
 *	  built as a plain executable, e.g. with ThreadSanitizer:
 *
 *	  cc -std=gnu11 -O1 -g -fsanitize=thread -pthread -I refimpl/c \
 *		  refimpl/c/slot_ring.c refimpl/c/stress.c refimpl/c/stress_ring.c \
 *		  refimpl/c/stress_main.c -o slot-stress-tsan
 *	  ./slot-stress-tsan ring BACKENDS SECONDS SLOTS
 *
 *	  (any protocol with an adapter: slot_caslist.c slot_startqueue.c
 *	  stress_caslist.c for caslist, and so on).
 *
 *	  Prints key=value lines; exits 0 if every check passed, 1 if one failed,
 *	  2 on bad arguments (ThreadSanitizer exits 66 when it reports a race).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress.h"

int
main(int argc, char **argv)
{
	SlotStressResult r;
	int			rc;

	if (argc != 5 || strcmp(argv[1], slot_stress_ops.name) != 0)
	{
		fprintf(stderr, "usage: %s %s BACKENDS SECONDS SLOTS\n", argv[0], slot_stress_ops.name);
		return 2;
	}
	rc = slot_stress((uint32) atoi(argv[4]), atoi(argv[2]), atof(argv[3]), &r);
	if (rc < 0)
	{
		fprintf(stderr, "%s: %s\n", argv[0], r.failure);
		return 2;
	}
	printf("ok=%d\nelapsed=%.6f\nregistrations=%llu\nempty=%llu\nstarts=%llu\nreaps=%llu\nfailure=%s\n",
		   r.ok, r.elapsed, (unsigned long long) r.registrations, (unsigned long long) r.empty,
		   (unsigned long long) r.starts, (unsigned long long) r.reaps, r.failure);
	return r.ok ? 0 : 1;
}
