"""caslist: idea #1 of the pgsql-hackers message, a Treiber-style free list.

The free list's head is one 32-bit word, ``tag << 16 | index``, with index
0xFFFF meaning empty; ``next[slot]`` links live in shared memory.  Every change
of the head bumps the 16-bit tag, so a compare-exchange that saw index A can
not succeed after A was popped and pushed back in the meantime (ABA).

The postmaster pushes a reaped slot with a compare-exchange, but gives up
after CAS_RETRIES failures and keeps the slot privately (``pm_kept``), trying
again on a later pass of its loop: each of its operations stays bounded even
if backends (or a rogue) keep changing the head.  Backends pop with an
ordinary CAS loop.

The start queue and the workload are the shared ones (models/_startqueue.py).
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    assert_, ghost, mutation, operation, pg_atomic_compare_exchange_u32, pg_atomic_read_u32,
    pg_atomic_write_u32,
)
from checker.model import EXCLUSIVE, WAIT_FREEDOM, Mutation, Protocol, Violation
from models._startqueue import (  # noqa: F401  (the compiler finds these by name)
    OWN_BACKEND, OWN_FREE, OWN_POSTMASTER, backend, check_places, declare_workload, lock_start_queue, postmaster,
    queue_for_start, reap_worker, register_worker, start_queued_worker, unlock_start_queue, workload_places,
)

EMPTY = 0xFFFF


def next_head(head, index):
    """The head word that replaces ``head`` and names ``index``."""
    if mutation("no-tag"):
        return (head & 0xFFFF0000) | index
    return ((((head >> 16) + 1) & 0xFFFF) << 16) | index


def take_free_slot():
    """Pop the first slot of the free list, or NO_SLOT if it is empty."""
    head = pg_atomic_read_u32(free_head)
    while True:
        slot = head & 0xFFFF
        if slot == EMPTY:
            return NO_SLOT
        nxt = pg_atomic_read_u32(free_next[slot])
        # On failure the compare-exchange puts the head it found in `head`.
        if pg_atomic_compare_exchange_u32(free_head, head, next_head(head, nxt & 0xFFFF)):
            with ghost:
                assert_(owner[slot] == OWN_FREE, "exclusive ownership",
                        "a backend popped a slot that is not on the free list")
                owner[slot] = OWN_BACKEND + ME
            return slot


def push_slot(slot):
    """Push ``slot`` (held privately, < SLOTS) onto the free list; 1 on success.

    Gives up after CAS_RETRIES failed compare-exchanges, so that the
    postmaster never waits on backends (or on garbage) to stop changing the head.
    """
    global pm_corrupt
    head = pg_atomic_read_u32(free_head)
    tries = 0
    while True:
        first = head & 0xFFFF
        if first != EMPTY and first >= SLOTS:
            # No backend writes such a head.  Do not link our slot to garbage
            # (and never index by it): keep the slot and report corruption.
            pm_corrupt = 1
            return 0
        pg_atomic_write_u32(free_next[slot], first)
        # The compare-exchange is a full barrier: the link above is visible
        # before the head that publishes the slot.  Pairs with the backend's
        # read of free_next[] after its read of the head (a dependent load).
        if pg_atomic_compare_exchange_u32(free_head, head, next_head(head, slot)):
            with ghost:
                assert_(owner[slot] == OWN_POSTMASTER, "exclusive ownership",
                        "the postmaster pushed a slot it does not hold")
                owner[slot] = OWN_FREE
            return 1
        if not mutation("unbounded-retry"):
            tries += 1
            if tries >= CAS_RETRIES:
                return 0


def return_free_slot(slot):
    global pm_kept
    if not push_slot(slot):
        pm_kept |= 1 << slot


@operation
def push_kept_slot():
    """Try once more to push one slot the postmaster kept on an earlier pass."""
    global pm_kept
    if pm_kept == 0:
        return
    slot = 0
    while (pm_kept >> slot) & 1 == 0:
        slot += 1
    if push_slot(slot):
        pm_kept &= ~(1 << slot)


def postmaster_housekeeping():
    push_kept_slot()


class CasList(Protocol):
    name = "caslist"
    summary = "idea #1: Treiber free list, head = 16-bit tag | 16-bit index; postmaster CAS bounded by cas_retries"
    roles = {"postmaster": postmaster, "backend": backend}
    extra_params = {"cas_retries": (2, "failed compare-exchanges before the postmaster keeps a slot for later")}
    max_slots = 31  # slots are bits of the postmaster's private masks
    mutations = {
        "no-tag": Mutation("the head's tag is never bumped, so a stale compare-exchange succeeds (ABA) and "
                           "links a slot another backend holds", breaks=EXCLUSIVE),
        "unbounded-retry": Mutation("the postmaster retries its push until the compare-exchange succeeds: "
                                    "a rogue that keeps changing the head holds it in one operation forever",
                                    needs_rogue=True, breaks=WAIT_FREEDOM),
    }

    def validate(self, p) -> None:
        from checker.model import ModelError

        if p.extra["cas_retries"] < 1:
            raise ModelError("caslist: --param cas_retries must be at least 1")

    def declare(self, p, d) -> None:
        declare_workload(p, d)
        d.constant("EMPTY", EMPTY)
        # Initially every slot is free, linked 0 -> 1 -> ... -> EMPTY.
        d.word("free_head", 0 if p.slots else EMPTY)
        d.array("free_next", p.slots, [s + 1 if s + 1 < p.slots else EMPTY for s in range(p.slots)])
        d.private_var("postmaster", "pm_kept", 0)

    def check_quiescent(self, v) -> None:
        places = workload_places(v)
        kept = v.local(0, "pm_kept")
        for s in places:
            if kept >> s & 1:
                places[s].append("kept by the postmaster")
        nxt = v.array("free_next")
        s = v.word("free_head") & 0xFFFF
        seen = 0
        while s != EMPTY:
            if s not in places:
                raise Violation("conservation", f"the free list links slot number {s}")
            places[s].append("free list")
            seen += 1
            if seen > len(places):
                break  # a cycle: the slot counts twice and is reported below
            s = nxt[s] & 0xFFFF
        check_places(places)
