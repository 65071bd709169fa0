"""ring: idea #2 of the pgsql-hackers message (Thomas Munro, 2025-02-06).

Two rings of slot numbers, each an array of RING entries with free-running
32-bit head and tail counters (an entry's index is ``counter % RING``; RING is
a power of two so the index stays continuous when a counter wraps at 2^32):

* the *free queue*: the postmaster produces (slots it reaped), backends
  consume under FreeQueueLock;
* the *start queue*: backends produce (slots they filled in) under
  StartQueueLock, the postmaster consumes.

The postmaster never takes a lock and never trusts shared memory: it keeps its
own copy of the counters it owns (``pm_free_head``, ``pm_start_tail``) and
range-checks every head, tail and slot number it reads before using it.

Workload: each backend registers OPS workers (take a free slot, fill it in,
queue it to start); the postmaster starts queued workers and reaps running
ones (the slot goes back to the free queue) until all work is done.

The counters start just below 2^32 so that every run crosses the wrap.

The start queue, the workload and the postmaster's loop are the ones every
design shares (models/_startqueue.py); this file adds the free queue, the
lock hooks that the ``no-lock`` mutation empties, and the declarations.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, ghost, mutation, pg_atomic_read_u32, pg_atomic_write_u32,
    pg_memory_barrier, pg_read_barrier, pg_write_barrier,
)
from checker.model import (
    CONSERVATION, EXCLUSIVE, INTEGRITY, PM_SAFETY, Declaration, Mutation, Params, Protocol, Violation,
)
from models._startqueue import (  # noqa: F401  (the compiler finds these by name)
    OWN_BACKEND, OWN_FREE, backend, check_places, declare_workload, postmaster, queue_for_start, reap_worker,
    register_worker, ring_size, start_queued_worker, workload_places,
)


# ---------------------------------------------------------------------------
# Backend side: consumers of the free queue (producers of the start queue in
# models/_startqueue.py).  Both queues are serialised by an LWLock, so backends
# never race each other.


def take_free_slot():
    """Pop a slot number from the free queue, or return NO_SLOT if it is empty."""
    if not mutation("no-lock"):
        LWLockAcquire(FreeQueueLock)
    tail = pg_atomic_read_u32(free_tail)
    head = pg_atomic_read_u32(free_head)
    if mutation("empty-off-by-one"):
        available = head - tail >= 0  # off by one: always true for unsigned counters
    else:
        available = head - tail >= 1
    if not available:
        if not mutation("no-lock"):
            LWLockRelease(FreeQueueLock)
        return NO_SLOT
    if not mutation("free-no-read-barrier"):
        # Read the entry only after seeing the head that covers it.  Pairs
        # with the postmaster's pg_write_barrier() in return_free_slot().
        pg_read_barrier()
    slot = pg_atomic_read_u32(free_ring[tail % RING])
    with ghost:
        assert_(free_pos[tail % RING] == tail and free_val[tail % RING] == slot, "queue integrity",
                "a backend read a free-queue entry that is not the one produced for that position")
        assert_(owner[slot] == OWN_FREE, "exclusive ownership",
                "a backend took a slot that is not in the free queue")
        owner[slot] = OWN_BACKEND + ME
    if not mutation("free-no-consume-barrier"):
        # README.barrier asks for a full barrier between a load and a later
        # store: the entry must be read before the tail lets the postmaster
        # reuse the position.  The model shows it is not needed here (see the
        # free-no-consume-barrier mutation): the ring has at least as many
        # entries as there are slots, and the slot being read is not in the
        # postmaster's hands, so it can never lap this position before the
        # read completes.  Kept because that argument rests on RING >= SLOTS.
        # Pairs with the postmaster reading free_tail before it writes an
        # entry in return_free_slot() (its full-check orders that read
        # before the store: stores are never performed ahead of a branch).
        # documentation only: README.barrier's load-then-store rule; a ring
        # of at least SLOTS entries is never lapped while the entry is read.
        pg_memory_barrier()
    pg_atomic_write_u32(free_tail, tail + 1)
    if not mutation("no-lock"):
        LWLockRelease(FreeQueueLock)
    return slot


def lock_start_queue():
    if not mutation("no-lock"):
        LWLockAcquire(StartQueueLock)


def unlock_start_queue():
    if not mutation("no-lock"):
        LWLockRelease(StartQueueLock)


# ---------------------------------------------------------------------------
# Postmaster side: producer of the free queue (consumer of the start queue in
# models/_startqueue.py).  No locks, no waiting, and every value read from
# shared memory is checked.


def return_free_slot(slot):
    """Push a slot number onto the free queue; never waits."""
    global pm_free_head, pm_corrupt
    tail = pg_atomic_read_u32(free_tail)
    in_use = pm_free_head - tail
    if not mutation("no-range-check") and in_use >= RING:
        # Full, or a tail no backend could have written.  There are never
        # more slots than entries, so this is corruption: leak the slot
        # rather than overwrite an entry or wait.
        pm_corrupt = 1  # reported once; a flag keeps the state space finite
        return
    pg_atomic_write_u32(free_ring[pm_free_head % RING], slot)
    with ghost:
        free_pos[pm_free_head % RING] = pm_free_head
        free_val[pm_free_head % RING] = slot
        owner[slot] = OWN_FREE
    if not mutation("free-no-write-barrier"):
        # The entry must be visible before the head that publishes it.
        # Pairs with the backend's pg_read_barrier() in take_free_slot().
        pg_write_barrier()
    pm_free_head += 1
    pg_atomic_write_u32(free_head, pm_free_head)


def postmaster_housekeeping():
    return


# ---------------------------------------------------------------------------


class Ring(Protocol):
    name = "ring"
    summary = "idea #2: free and start queues as rings of slot numbers; postmaster lock-free with range checks"
    roles = {"postmaster": postmaster, "backend": backend}
    max_slots = 32  # running slots are bits of the postmaster's private 32-bit mask
    mutations = {
        "no-lock": Mutation("backends skip FreeQueueLock and StartQueueLock, so two consumers race",
                            breaks=EXCLUSIVE),
        "no-range-check": Mutation("the postmaster uses shared head/tail/entry values unchecked",
                                   needs_rogue=True, breaks=PM_SAFETY),
        "empty-off-by-one": Mutation("backends test `head - tail >= 0` instead of `>= 1`, so they take an "
                                     "entry from an empty free queue", breaks=INTEGRITY),
        "start-no-write-barrier": Mutation("backends publish the start-queue head without pg_write_barrier()",
                                           bug_under=("weak",), breaks=INTEGRITY),
        "start-no-read-barrier": Mutation("the postmaster reads a start-queue entry without pg_read_barrier() "
                                          "after the head", bug_under=("weak",), breaks=INTEGRITY),
        "free-no-write-barrier": Mutation("the postmaster publishes the free-queue head without "
                                          "pg_write_barrier()", bug_under=("weak",), breaks=INTEGRITY),
        "free-no-read-barrier": Mutation("backends read a free-queue entry without pg_read_barrier() "
                                         "after the head", bug_under=("weak",), breaks=INTEGRITY),
        "free-no-consume-barrier": Mutation("backends advance the free-queue tail without pg_memory_barrier() "
                                            "after reading the entry (load then store); harmless: a ring "
                                            "with at least as many entries as slots can never be lapped "
                                            "while a read is pending", bug_under=()),
    }

    def declare(self, p: Params, d: Declaration) -> None:
        # The free queue is declared first so that shared memory and the
        # postmaster's statics keep the C layout's order (free side, then start side).
        ring = ring_size(p.slots)
        start = (1 << 32) - ring  # every run crosses the 2^32 wrap
        d.constant("RING", ring)
        free_init = [0] * ring
        for s in range(p.slots):
            free_init[(start + s) % ring] = s
        d.word("free_head", (start + p.slots) & 0xFFFFFFFF)
        d.word("free_tail", start)
        d.array("free_ring", ring, free_init)
        d.lock("FreeQueueLock")
        d.private_var("postmaster", "pm_free_head", (start + p.slots) & 0xFFFFFFFF)
        # Ghost: what was produced at each free-queue position.
        pos = [0] * ring
        val = [0] * ring
        for s in range(p.slots):
            pos[(start + s) % ring] = (start + s) & 0xFFFFFFFF
            val[(start + s) % ring] = s
        d.ghost_array("free_pos", ring, pos)
        d.ghost_array("free_val", ring, val)
        declare_workload(p, d)

    def check_quiescent(self, v) -> None:
        ring = v.system.constants["RING"]
        places = workload_places(v)
        n = (v.word("free_head") - v.word("free_tail")) & 0xFFFFFFFF
        if n > ring:
            raise Violation(CONSERVATION, f"free queue holds {n} entries, more than {ring}")
        entries, tail = v.array("free_ring"), v.word("free_tail")
        for k in range(n):
            s = entries[(tail + k) % ring]
            if s not in places:
                raise Violation(CONSERVATION, f"free queue holds slot number {s}")
            places[s].append("free queue")
        check_places(places)
