"""The modelling language's vocabulary.

Protocol programs are ordinary-looking Python functions that the checker
compiles (see ``checker.ir``); they are never executed by Python itself.  The
names below exist so that a model file imports what it uses, reads like the C
it mirrors, and fails loudly if someone calls a program directly.

Primitives (one shared-memory event each, as in PostgreSQL's atomics.h):

    pg_atomic_read_u32(loc)                   load
    pg_atomic_write_u32(loc, value)           store
    pg_atomic_compare_exchange_u32(loc, expected, new)
        RMW; ``expected`` must be a local: like C's ``&expected`` it receives
        the value found when the exchange fails.  Returns 1 on success.
    pg_atomic_fetch_add_u32 / fetch_sub / fetch_or / fetch_and / exchange
    pg_atomic_read_membarrier_u32 / pg_atomic_write_membarrier_u32
    pg_memory_barrier(), pg_read_barrier(), pg_write_barrier()
    LWLockAcquire(lock), LWLockRelease(lock)

Model-only statements (never replayed to C):

    with ghost: ...          bookkeeping for properties; runs atomically with
                             the shared-memory event that precedes it
    assert_(cond, prop)      inside ``with ghost``: ``prop`` names the property
    mutation("name")         compile-time test: is this mutation selected?
    choose(n)                nondeterministic choice 0..n-1 (a step of its own)

Processes and signals (each one event, a full barrier: a system call):

    start_worker(slot)        postmaster: fork the worker of ``slot``
    child_exited(slot)        postmaster: 1 if that worker exited (and reap it)
    signal_postmaster(flag)   backend/worker: set a signal flag (kill())
    take_signal(flag)         postmaster: read and clear a signal flag
    wait_signal(flag)         postmaster: sleep until the flag is set, clear it

A ``location`` is a shared word's name or ``array[index]``.
"""

from __future__ import annotations


class _ModelOnly:
    def __init__(self, name: str) -> None:
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            f"{self.__name__}() belongs to the modelling language: programs are compiled by "
            "the checker, not called from Python"
        )

    def __enter__(self):  # pragma: no cover - only reached by misuse
        self()

    def __exit__(self, *exc):  # pragma: no cover
        return False


PRIMITIVES = (
    "pg_atomic_read_u32",
    "pg_atomic_write_u32",
    "pg_atomic_compare_exchange_u32",
    "pg_atomic_fetch_add_u32",
    "pg_atomic_fetch_sub_u32",
    "pg_atomic_fetch_or_u32",
    "pg_atomic_fetch_and_u32",
    "pg_atomic_exchange_u32",
    "pg_atomic_read_membarrier_u32",
    "pg_atomic_write_membarrier_u32",
    "pg_memory_barrier",
    "pg_read_barrier",
    "pg_write_barrier",
    "LWLockAcquire",
    "LWLockRelease",
    # Linux-kernel vocabulary used by litmus tests.
    "smp_load_acquire",
    "smp_store_release",
)

pg_atomic_read_u32 = _ModelOnly("pg_atomic_read_u32")
pg_atomic_write_u32 = _ModelOnly("pg_atomic_write_u32")
pg_atomic_compare_exchange_u32 = _ModelOnly("pg_atomic_compare_exchange_u32")
pg_atomic_fetch_add_u32 = _ModelOnly("pg_atomic_fetch_add_u32")
pg_atomic_fetch_sub_u32 = _ModelOnly("pg_atomic_fetch_sub_u32")
pg_atomic_fetch_or_u32 = _ModelOnly("pg_atomic_fetch_or_u32")
pg_atomic_fetch_and_u32 = _ModelOnly("pg_atomic_fetch_and_u32")
pg_atomic_exchange_u32 = _ModelOnly("pg_atomic_exchange_u32")
pg_atomic_read_membarrier_u32 = _ModelOnly("pg_atomic_read_membarrier_u32")
pg_atomic_write_membarrier_u32 = _ModelOnly("pg_atomic_write_membarrier_u32")
pg_memory_barrier = _ModelOnly("pg_memory_barrier")
pg_read_barrier = _ModelOnly("pg_read_barrier")
pg_write_barrier = _ModelOnly("pg_write_barrier")
LWLockAcquire = _ModelOnly("LWLockAcquire")
LWLockRelease = _ModelOnly("LWLockRelease")
smp_load_acquire = _ModelOnly("smp_load_acquire")
smp_store_release = _ModelOnly("smp_store_release")

ghost = _ModelOnly("ghost")
assert_ = _ModelOnly("assert_")
mutation = _ModelOnly("mutation")
choose = _ModelOnly("choose")

start_worker = _ModelOnly("start_worker")
child_exited = _ModelOnly("child_exited")
signal_postmaster = _ModelOnly("signal_postmaster")
take_signal = _ModelOnly("take_signal")
wait_signal = _ModelOnly("wait_signal")


def operation(fn):
    """Mark a helper as one *operation* of its role.

    Operation boundaries define quiescence (conservation is checked when every
    thread is between operations) and the postmaster's per-operation step
    bound (wait-freedom).
    """
    fn.__slotcheck_operation__ = True
    return fn
