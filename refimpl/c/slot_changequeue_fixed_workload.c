/*-------------------------------------------------------------------------
 *
 * slot_changequeue_fixed_workload.c
 *	  The workload of changequeue-fixed: the same as changequeue's, exported
 *	  under the prefix changequeue_fixed, with the queued flags.
 *
 *-------------------------------------------------------------------------
 */
#define CQ_WORKLOAD_PREFIX changequeue_fixed
#define CQ_HAS_QUEUED_FLAG 1
#include "slot_changequeue_workload.c"
