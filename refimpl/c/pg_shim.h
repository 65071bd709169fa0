/*-------------------------------------------------------------------------
 *
 * pg_shim.h
 *	  The slice of PostgreSQL's port/atomics.h, storage/lwlock.h and c.h that
 *	  the slot protocols use, with two interchangeable backends.
 *
 * The protocol sources (slot_*.c) include only this header and are compiled
 * unchanged against either backend:
 *
 * native (default)
 *	  C11 <stdatomic.h> with the semantics PostgreSQL *documents*, which is
 *	  what the protocols are allowed to rely on:
 *	    pg_atomic_read_u32 / pg_atomic_write_u32   relaxed, never torn
 *	    pg_atomic_compare_exchange_u32, fetch_*,
 *	    exchange                                   sequentially consistent
 *	                                               (a full barrier)
 *	    pg_memory_barrier()                        seq_cst fence
 *	    pg_read_barrier()                          acquire fence (loads before
 *	                                               it against loads after it;
 *	                                               C11 cannot say less)
 *	    pg_write_barrier()                         release fence (stores before
 *	                                               against stores after; C11
 *	                                               cannot say less)
 *	    LWLockAcquire / LWLockRelease              a pthread mutex that really
 *	                                               blocks, with a full fence
 *	                                               after acquiring and before
 *	                                               releasing, as PostgreSQL's
 *	                                               atomic-RMW based LWLocks give
 *
 * trace (-DSLOT_TRACE)
 *	  Every load, store, read-modify-write, barrier and lock operation calls
 *	  one hook, slot_trace_hook(), provided by the replay harness
 *	  (refimpl/replay in Python, through cffi).  Nothing touches shared memory
 *	  except pg_atomic_init_u32 (initialisation is not an event): the hook
 *	  decides what a load returns, so the C code can be driven through any
 *	  execution the model checker found.  When the hook returns non-zero the
 *	  thread is abandoned with longjmp() to the entry point that started it
 *	  (slot_trace_run()), which happens only in plain C frames.
 *
 * Mutations of a protocol are compiled in with -DSLOT_MUTATION_<NAME>, the
 * model's mutation name in upper case with '-' as '_'.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SLOT_PG_SHIM_H
#define SLOT_PG_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t uint32;
typedef int32_t int32;
typedef uint64_t uint64;
typedef size_t Size;

#define FLEXIBLE_ARRAY_MEMBER	/* empty */

/*
 * Assert() checks what the model checks with ghost assertions.  The trace
 * build leaves it out: there the values come from a model execution that may
 * be a counterexample, and the replay harness does the checking.
 */
#if defined(SLOT_TRACE) || defined(NDEBUG)
#define Assert(condition)	((void) true)
#else
#include <assert.h>
#define Assert(condition)	assert(condition)
#endif

typedef enum LWLockMode
{
	LW_EXCLUSIVE,
	LW_SHARED
} LWLockMode;

/* Event kinds and primitives reported to the trace hook. */
enum SlotTraceEvent
{
	SLOT_EV_LOAD = 1,
	SLOT_EV_STORE,
	SLOT_EV_RMW,
	SLOT_EV_FENCE,
	SLOT_EV_ACQUIRE,
	SLOT_EV_RELEASE,
	SLOT_EV_CHOOSE
};

enum SlotTracePrim
{
	SLOT_PRIM_READ = 1,			/* pg_atomic_read_u32 */
	SLOT_PRIM_WRITE,			/* pg_atomic_write_u32 */
	SLOT_PRIM_CAS,				/* pg_atomic_compare_exchange_u32 */
	SLOT_PRIM_FETCH_ADD,
	SLOT_PRIM_FETCH_SUB,
	SLOT_PRIM_FETCH_OR,
	SLOT_PRIM_FETCH_AND,
	SLOT_PRIM_EXCHANGE,
	SLOT_PRIM_READ_MEMBARRIER,
	SLOT_PRIM_WRITE_MEMBARRIER,
	SLOT_PRIM_MEMORY_BARRIER,
	SLOT_PRIM_READ_BARRIER,
	SLOT_PRIM_WRITE_BARRIER,
	SLOT_PRIM_LWLOCK_ACQUIRE,
	SLOT_PRIM_LWLOCK_RELEASE,
	SLOT_PRIM_CHOOSE,
	SLOT_PRIM_FORK				/* a worker process begins (slot_process.h) */
};

#ifndef SLOT_TRACE
/* ====================================================================
 * native backend: C11 atomics
 * ====================================================================
 */
#include <pthread.h>
#include <stdatomic.h>

typedef struct pg_atomic_uint32
{
	_Atomic uint32 value;
} pg_atomic_uint32;

typedef struct LWLock
{
	pthread_mutex_t mutex;
} LWLock;

static inline void
pg_atomic_init_u32(pg_atomic_uint32 *ptr, uint32 val)
{
	atomic_init(&ptr->value, val);
}

static inline uint32
pg_atomic_read_u32(pg_atomic_uint32 *ptr)
{
	return atomic_load_explicit(&ptr->value, memory_order_relaxed);
}

static inline void
pg_atomic_write_u32(pg_atomic_uint32 *ptr, uint32 val)
{
	atomic_store_explicit(&ptr->value, val, memory_order_relaxed);
}

static inline bool
pg_atomic_compare_exchange_u32(pg_atomic_uint32 *ptr, uint32 *expected, uint32 newval)
{
	/* strong CAS; on failure *expected receives the current value */
	return atomic_compare_exchange_strong_explicit(&ptr->value, expected, newval,
												   memory_order_seq_cst,
												   memory_order_seq_cst);
}

static inline uint32
pg_atomic_fetch_add_u32(pg_atomic_uint32 *ptr, uint32 add)
{
	return atomic_fetch_add_explicit(&ptr->value, add, memory_order_seq_cst);
}

static inline uint32
pg_atomic_fetch_sub_u32(pg_atomic_uint32 *ptr, uint32 sub)
{
	return atomic_fetch_sub_explicit(&ptr->value, sub, memory_order_seq_cst);
}

static inline uint32
pg_atomic_fetch_or_u32(pg_atomic_uint32 *ptr, uint32 or_)
{
	return atomic_fetch_or_explicit(&ptr->value, or_, memory_order_seq_cst);
}

static inline uint32
pg_atomic_fetch_and_u32(pg_atomic_uint32 *ptr, uint32 and_)
{
	return atomic_fetch_and_explicit(&ptr->value, and_, memory_order_seq_cst);
}

static inline uint32
pg_atomic_exchange_u32(pg_atomic_uint32 *ptr, uint32 newval)
{
	return atomic_exchange_explicit(&ptr->value, newval, memory_order_seq_cst);
}

static inline uint32
pg_atomic_read_membarrier_u32(pg_atomic_uint32 *ptr)
{
	/* PostgreSQL implements it as fetch_add(0): a full-barrier RMW */
	return atomic_fetch_add_explicit(&ptr->value, 0, memory_order_seq_cst);
}

static inline void
pg_atomic_write_membarrier_u32(pg_atomic_uint32 *ptr, uint32 val)
{
	(void) atomic_exchange_explicit(&ptr->value, val, memory_order_seq_cst);
}

#define pg_memory_barrier()	atomic_thread_fence(memory_order_seq_cst)
#define pg_read_barrier()	atomic_thread_fence(memory_order_acquire)
#define pg_write_barrier()	atomic_thread_fence(memory_order_release)

static inline void
LWLockInitialize(LWLock *lock)
{
	pthread_mutex_init(&lock->mutex, NULL);
}

static inline void
LWLockAcquire(LWLock *lock, LWLockMode mode)
{
	(void) mode;
	pthread_mutex_lock(&lock->mutex);
	/* PostgreSQL's acquire is an atomic RMW: a full barrier */
	atomic_thread_fence(memory_order_seq_cst);
}

static inline void
LWLockRelease(LWLock *lock)
{
	/* PostgreSQL's release is an atomic RMW: a full barrier */
	atomic_thread_fence(memory_order_seq_cst);
	pthread_mutex_unlock(&lock->mutex);
}

#else							/* SLOT_TRACE */
/* ====================================================================
 * trace backend: one hook call per event
 * ====================================================================
 */
#include <setjmp.h>

typedef struct pg_atomic_uint32
{
	uint32		value;			/* written only by pg_atomic_init_u32 */
} pg_atomic_uint32;

typedef struct LWLock
{
	pg_atomic_uint32 state;		/* the lock word the model calls by the lock's name */
} LWLock;

/*
 * Provided by the replay harness.  Returns 0 to go on (with *result set for
 * loads, RMWs and choices) or non-zero to abandon the thread: its recorded
 * events ran out, or the C code diverged from them.
 */
extern int	slot_trace_hook(int event, int prim, const void *addr, uint32 arg0, uint32 arg1,
							const char *file, int line, uint32 *result);

/* Where an abandoned thread goes: set by slot_trace_run(). */
extern jmp_buf *slot_trace_exit;

/*
 * Run fn(arg) as one replayed thread (slot_trace.c).  Returns 1 if the hook
 * abandoned it, 0 if it returned.
 */
extern int	slot_trace_run(void (*fn) (void *), void *arg);

static inline uint32
slot_trace_event(int event, int prim, const void *addr, uint32 arg0, uint32 arg1,
				 const char *file, int line)
{
	uint32		result = 0;

	if (slot_trace_hook(event, prim, addr, arg0, arg1, file, line, &result) != 0)
		longjmp(*slot_trace_exit, 1);
	return result;
}

static inline void
pg_atomic_init_u32(pg_atomic_uint32 *ptr, uint32 val)
{
	ptr->value = val;
}

#define SLOT_EV(ev, prim, p, a, b) \
	slot_trace_event((ev), (prim), (const void *) (p), (a), (b), __FILE__, __LINE__)

#define pg_atomic_read_u32(p)				SLOT_EV(SLOT_EV_LOAD, SLOT_PRIM_READ, (p), 0, 0)
#define pg_atomic_write_u32(p, v)			((void) SLOT_EV(SLOT_EV_STORE, SLOT_PRIM_WRITE, (p), (v), 0))
#define pg_atomic_fetch_add_u32(p, v)		SLOT_EV(SLOT_EV_RMW, SLOT_PRIM_FETCH_ADD, (p), (v), 0)
#define pg_atomic_fetch_sub_u32(p, v)		SLOT_EV(SLOT_EV_RMW, SLOT_PRIM_FETCH_SUB, (p), (v), 0)
#define pg_atomic_fetch_or_u32(p, v)		SLOT_EV(SLOT_EV_RMW, SLOT_PRIM_FETCH_OR, (p), (v), 0)
#define pg_atomic_fetch_and_u32(p, v)		SLOT_EV(SLOT_EV_RMW, SLOT_PRIM_FETCH_AND, (p), (v), 0)
#define pg_atomic_exchange_u32(p, v)		SLOT_EV(SLOT_EV_RMW, SLOT_PRIM_EXCHANGE, (p), (v), 0)
#define pg_atomic_read_membarrier_u32(p)	SLOT_EV(SLOT_EV_RMW, SLOT_PRIM_READ_MEMBARRIER, (p), 0, 0)
#define pg_atomic_write_membarrier_u32(p, v) \
	((void) SLOT_EV(SLOT_EV_STORE, SLOT_PRIM_WRITE_MEMBARRIER, (p), (v), 0))
#define pg_memory_barrier()					((void) SLOT_EV(SLOT_EV_FENCE, SLOT_PRIM_MEMORY_BARRIER, NULL, 0, 0))
#define pg_read_barrier()					((void) SLOT_EV(SLOT_EV_FENCE, SLOT_PRIM_READ_BARRIER, NULL, 0, 0))
#define pg_write_barrier()					((void) SLOT_EV(SLOT_EV_FENCE, SLOT_PRIM_WRITE_BARRIER, NULL, 0, 0))
#define LWLockAcquire(l, mode) \
	((void) (mode), (void) SLOT_EV(SLOT_EV_ACQUIRE, SLOT_PRIM_LWLOCK_ACQUIRE, &(l)->state, 1, 0))
#define LWLockRelease(l) \
	((void) SLOT_EV(SLOT_EV_RELEASE, SLOT_PRIM_LWLOCK_RELEASE, &(l)->state, 0, 0))

/*
 * CAS reports (expected, newval); the hook answers with the value it found,
 * and the comparison happens here, as the hardware would do it.
 */
#define pg_atomic_compare_exchange_u32(p, expected, newval) \
	slot_trace_cas((p), (expected), (newval), __FILE__, __LINE__)

static inline bool
slot_trace_cas(pg_atomic_uint32 *ptr, uint32 *expected, uint32 newval, const char *file, int line)
{
	uint32		found = slot_trace_event(SLOT_EV_RMW, SLOT_PRIM_CAS, ptr, *expected, newval, file, line);
	bool		ok = (found == *expected);

	*expected = found;
	return ok;
}

static inline void
LWLockInitialize(LWLock *lock)
{
	pg_atomic_init_u32(&lock->state, 0);
}

/*
 * The model's choose(n): a nondeterministic choice in the workload (which
 * worker exits), supplied from the trace.  Only workload code uses it.
 */
#define slot_choose(n)	SLOT_EV(SLOT_EV_CHOOSE, SLOT_PRIM_CHOOSE, NULL, (n), 0)

#endif							/* SLOT_TRACE */

#endif							/* SLOT_PG_SHIM_H */
