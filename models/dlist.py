"""dlist: idea #3 of the pgsql-hackers message, the lock-based baseline.

Backends keep the free slots on a list protected by FreeListLock.  The
postmaster never takes the lock: it frees a slot by setting its
``released[slot]`` flag, and a backend that finds the list empty refills it
by a linear search of the flags (clearing each one it takes).  PostgreSQL's
dlist is doubly linked so that an element can be removed from the middle;
nothing here is removed except the first element, so one link per slot
shows the same behaviour with fewer states.

The start queue and the workload are the shared ones (models/_startqueue.py).
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, ghost, mutation, pg_atomic_read_u32, pg_atomic_write_u32,
    pg_memory_barrier,
)
from checker.model import CONSERVATION, EXCLUSIVE, Mutation, Protocol, Violation
from models._startqueue import (  # noqa: F401  (the compiler finds these by name)
    OWN_BACKEND, OWN_FREE, OWN_POSTMASTER, backend, check_places, declare_workload, lock_start_queue, postmaster,
    queue_for_start, reap_worker, register_worker, start_queued_worker, unlock_start_queue, workload_places,
)

EMPTY = 0xFFFF


def refill():
    """The list is empty: move every released slot onto it (a linear search)."""
    first = EMPTY
    s = 0
    while s < SLOTS:
        if pg_atomic_read_u32(released[s]) != 0:
            if not mutation("refill-keeps-flag"):
                pg_atomic_write_u32(released[s], 0)
            pg_atomic_write_u32(free_next[s], first)
            first = s
        s += 1
    return first


def take_free_slot():
    if not mutation("no-lock"):
        LWLockAcquire(FreeListLock)
    slot = pg_atomic_read_u32(free_first)
    if slot == EMPTY:
        slot = refill()
        if slot == EMPTY:
            if not mutation("no-lock"):
                LWLockRelease(FreeListLock)
            return NO_SLOT
    nxt = pg_atomic_read_u32(free_next[slot])
    pg_atomic_write_u32(free_first, nxt)
    with ghost:
        assert_(owner[slot] == OWN_FREE, "exclusive ownership", "a backend took a slot that is not free")
        owner[slot] = OWN_BACKEND + ME
    if not mutation("no-lock"):
        LWLockRelease(FreeListLock)
    return slot


def return_free_slot(slot):
    # The postmaster is done with the slot (it read the description when it
    # started the worker): a load then this store, so a full barrier.
    pg_memory_barrier()
    pg_atomic_write_u32(released[slot], 1)
    with ghost:
        owner[slot] = OWN_FREE


def postmaster_housekeeping():
    return


class DList(Protocol):
    name = "dlist"
    summary = "idea #3: lock-protected free list, refilled by a linear search of flags the postmaster sets"
    roles = {"postmaster": postmaster, "backend": backend}
    max_slots = 31  # slots are bits of the postmaster's private masks
    mutations = {
        "no-lock": Mutation("backends use the free list without FreeListLock", breaks=EXCLUSIVE),
        "refill-keeps-flag": Mutation("the refill does not clear a released flag, so a later refill puts a "
                                      "slot on the list again", breaks=EXCLUSIVE),
    }

    def declare(self, p, d) -> None:
        declare_workload(p, d)
        d.constant("EMPTY", EMPTY)
        d.word("free_first", 0)
        d.array("free_next", p.slots, [s + 1 if s + 1 < p.slots else EMPTY for s in range(p.slots)])
        d.array("released", p.slots, 0)
        d.lock("FreeListLock")

    def check_quiescent(self, v) -> None:
        places = workload_places(v)
        for s, flag in enumerate(v.array("released")):
            if flag:
                places[s].append("released")
        nxt = v.array("free_next")
        s = v.word("free_first")
        seen = 0
        while s != EMPTY:
            if s not in places:
                raise Violation(CONSERVATION, f"the free list links slot number {s}")
            places[s].append("free list")
            seen += 1
            if seen > len(places):
                break  # a cycle: reported below as a slot in two places
            s = nxt[s]
        check_places(places)
