"""changequeue: the WIP patch 0001-Remove-BackgroundWorkerStateChange-s-outer-loop, as written.

Instead of scanning every bgworker slot on each PMSIGNAL_BACKGROUND_WORKER_CHANGE,
the postmaster reads slot numbers from a shared queue of ``2N + 1`` entries
(N = max_worker_processes) that backends fill under BackgroundWorkerLock:

* ``RegisterDynamicBackgroundWorker`` (exclusive lock): the first slot with
  ``!in_use``; copy the description, ``pid = InvalidPid``, ``generation++``,
  ``terminate = false``, ``in_use = true`` -- the patch removed the
  ``pg_write_barrier()`` that stood before ``in_use = true`` -- then enqueue
  the slot number, release, signal the postmaster;
* ``TerminateBackgroundWorker(handle)`` (exclusive lock): if the generation
  still matches and ``!terminate``, set ``terminate`` and enqueue the slot
  number (``in_use`` is not looked at), release, signal;
* the enqueue writes the entry at ``head``, issues ``pg_write_barrier()``
  and advances ``head`` modulo 2N + 1.  Its only guard against a full queue
  is ``Assert(head != tail)``: an assertion in an assert-enabled build
  (``--param asserts=1``, the default: a failure is a violation of *queue
  capacity*), nothing in production (``--param asserts=0``: the entry
  overwrites one the postmaster has not read, and a head that catches the
  tail makes every queued entry vanish at once);
* ``BackgroundWorkerStateChange`` (postmaster, no lock): read tail and head
  once, one ``pg_read_barrier()``, then for each entry store the new tail and
  handle the slot: not ``in_use`` -> skip; a RegisteredBgWorker exists ->
  look only at ``terminate``; none and ``terminate`` set -> free the slot at
  once; otherwise register it;
* the postmaster also frees a slot (``ForgetBackgroundWorker``) when its
  worker exits -- child exits are handled before signals in the server loop
  -- and when a registered worker with ``rw_terminate`` is forgotten before
  it was started (``maybe_start_bgworkers``).

Where the issue is silent, PostgreSQL's bgworker.c gives the facts:
``ForgetBackgroundWorker`` and the free-at-once path issue
``pg_memory_barrier()`` before ``in_use = false``; the write barrier in the
enqueue is assumed (it is what the postmaster's one read barrier pairs with);
the patch as described range-checks nothing it reads from the queue.

What is modelled the way ``bgworker`` does it, for want of a worker role
(issue 15, section 1): the signal is polling (the postmaster runs
BackgroundWorkerStateChange on every pass), a worker's life is a bit in the
postmaster's ``pm_running`` and its exit a ``choose()`` handled at the top
of the postmaster's pass (as ServerLoop handles child exits before
signals), and RegisteredBgWorker is three private bitmasks.  With a worker
role the exit would be an event the worker process sends at any moment,
the SIGTERM the postmaster sends on ``rw_terminate`` would make it exit,
and the list of RegisteredBgWorker would be a private array.

See docs/changequeue.md for what the checker finds and changequeue_fixed.py
for the smallest change that makes every property hold.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, ghost, mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32,
    pg_read_barrier, pg_write_barrier,
)
from checker.model import INTEGRITY, PM_SAFETY, Finding, ModelError, Mutation, Protocol
from models._changequeue import (  # noqa: F401  (the compiler finds these by name)
    CAPACITY, REGISTRATION, TERMINATION, backend, check_slots, declare_common, enqueue_change, forget_worker,
    handle_slot_in_use, postmaster, reap_worker, start_workers, terminate_worker,
)

# ---------------------------------------------------------------------------
# Backends

# The patch: an entry for every change.
request_change = enqueue_change


@operation
def register_worker():
    """RegisterDynamicBackgroundWorker(): returns 1 if a slot was found."""
    global my_slot, my_gen
    LWLockAcquire(BackgroundWorkerLock)
    slot = 0
    while slot < SLOTS:
        if pg_atomic_read_u32(in_use[slot]) == 0:
            break
        slot += 1
    if slot == SLOTS:
        LWLockRelease(BackgroundWorkerLock)
        return 0
    with ghost:
        assert_(owner[slot] == OWN_FREE, "exclusive ownership", "a backend took a slot that is not free")
        owner[slot] = OWN_BACKEND + ME
    # Storing into the slot depends on the branch on in_use above: no store
    # is performed before the branch it follows is resolved.
    pg_atomic_write_u32(worker[slot], ME)
    pg_atomic_write_u32(pid[slot], INVALID_PID)
    gen = pg_atomic_read_u32(generation[slot]) + 1
    pg_atomic_write_u32(generation[slot], gen)
    pg_atomic_write_u32(terminate[slot], 0)
    if mutation("register-write-barrier"):
        # The barrier the patch removed, put back alone: it orders the
        # slot's new contents before in_use = true, but nothing pairs with
        # it (the postmaster has no read barrier between its loads of
        # in_use and terminate), so under weak it is not enough.
        pg_write_barrier()
    # No pg_write_barrier() here: the patch removed it.
    pg_atomic_write_u32(in_use[slot], 1)
    with ghost:
        owner[slot] = OWN_QUEUED
        registrant[slot] = ME
        reg_gen[slot] += 1
        my_reg[ME] = reg_gen[slot]
    enqueue_change(slot)
    LWLockRelease(BackgroundWorkerLock)
    # SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE): the postmaster polls.
    my_slot = slot
    my_gen = gen
    return 1


# ---------------------------------------------------------------------------
# Postmaster: no lock, never waits.


def handle_change(slot):
    """One entry of BackgroundWorkerStateChange's queue."""
    if pg_atomic_read_u32(in_use[slot]) == 0:
        return  # elog(LOG): a change for a slot not in use
    # No pg_read_barrier() after the read of in_use: the patch has none
    # (changequeue-fixed pairs one with the pg_write_barrier() before
    # in_use = true).
    handle_slot_in_use(slot)


@operation
def state_change():
    """BackgroundWorkerStateChange(): handle every entry queued so far."""
    tail = pg_atomic_read_u32(cq_tail)
    head = pg_atomic_read_u32(cq_head)
    if not mutation("state-change-no-read-barrier"):
        # Read the entries only after the head that covers them.  Pairs
        # with the backends' pg_write_barrier() in enqueue_change().
        pg_read_barrier()
    while tail != head:
        slot = pg_atomic_read_u32(cq_ring[tail])
        with ghost:
            assert_(slot == q_val[tail], "queue integrity",
                    "the postmaster read a queue entry that was not the one written there")
        tail = (tail + 1) % QSIZE
        pg_atomic_write_u32(cq_tail, tail)
        handle_change(slot)


class ChangeQueue(Protocol):
    name = "changequeue"
    summary = "the 0001 patch as written: a 2N+1-entry queue of slot numbers, postmaster reads it lock-free"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = (CAPACITY, REGISTRATION, TERMINATION)
    max_slots = 15  # slots are bits of the postmaster's private masks; 2N+1 queue entries
    extra_params = {"asserts": (1, "1: assert-enabled build (a full queue fails Assert(head != tail)); "
                                   "0: production build (the enqueue overwrites)")}
    # The patch as written is not correct.  At the CI parameters (one
    # registration per backend, two slots) it holds under sc and tso and
    # fails under weak; the findings are the rest of docs/changequeue.md.
    broken_under = ("weak",)
    ci_params = ({"threads": 3, "slots": 2, "ops": 1},)
    findings = (
        Finding("overflow", "sc", (CAPACITY,), (("threads", 2), ("slots", 1), ("ops", 2)),
                "a registration and a termination per use of a slot leave one stale entry behind; "
                "Assert(head != tail) fails"),
        Finding("overflow", "tso", (CAPACITY,), (("threads", 2), ("slots", 1), ("ops", 2))),
        Finding("overflow-production", "sc", (REGISTRATION,),
                (("threads", 2), ("slots", 1), ("ops", 2), ("extra", {"asserts": 0})),
                "without assertions the head catches the tail and every queued entry vanishes"),
        Finding("stale-terminate", "weak", (REGISTRATION,), (("threads", 3), ("slots", 2), ("ops", 1)),
                "a stale entry shows the new in_use with the old terminate: the new worker is freed unstarted"),
        Finding("rogue", "sc", (PM_SAFETY,), (("threads", 2), ("slots", 1), ("ops", 1), ("rogue", True)),
                "a corrupt tail indexes the queue out of bounds"),
    )
    mutations = {
        "terminate-no-generation-check": Mutation(
            "TerminateBackgroundWorker without the generation check: a stale handle terminates the slot's "
            "next occupant", breaks=REGISTRATION),
        "enqueue-no-write-barrier": Mutation(
            "the enqueue advances head without pg_write_barrier() after writing the entry",
            bug_under=("weak",), breaks=INTEGRITY),
        "state-change-no-read-barrier": Mutation(
            "BackgroundWorkerStateChange reads entries without its one pg_read_barrier()",
            bug_under=("weak",), breaks=INTEGRITY),
        "register-write-barrier": Mutation(
            "the removed pg_write_barrier() before in_use = true put back, alone: still broken under weak "
            "(the postmaster reads in_use and terminate with no read barrier between)",
            bug_under=("weak",), breaks=REGISTRATION),
    }

    def validate(self, p) -> None:
        if p.extra.get("asserts", 1) not in (0, 1):
            raise ModelError("asserts must be 0 or 1")

    def declare(self, p, d) -> None:
        declare_common(p, d)

    def check_quiescent(self, v) -> None:
        check_slots(v)

