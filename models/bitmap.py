"""bitmap: idea #4 of the pgsql-hackers message, one bit per free slot.

Bit ``slot % 32`` of ``free_bits[slot / 32]`` is set while the slot is free.
The postmaster frees a slot with one ``pg_atomic_fetch_or_u32`` and reads
nothing it must trust; backends scan the words and claim a bit with
``pg_atomic_fetch_and_u32``, keeping the slot only if the old value returned
still had the bit (another backend may have claimed it since the scan).

The start queue and the workload are the shared ones (models/_startqueue.py).
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    assert_, ghost, mutation, pg_atomic_fetch_and_u32, pg_atomic_fetch_or_u32, pg_atomic_read_u32,
    pg_atomic_write_u32,
)
from checker.model import CONSERVATION, EXCLUSIVE, Mutation, Protocol, Violation
from models._startqueue import (  # noqa: F401  (the compiler finds these by name)
    OWN_BACKEND, OWN_FREE, OWN_POSTMASTER, backend, check_places, declare_workload, lock_start_queue, postmaster,
    queue_for_start, reap_worker, register_worker, start_queued_worker, unlock_start_queue, workload_places,
)


def claim(slot):
    """Try to clear ``slot``'s bit; 1 if this backend now owns the slot."""
    word = slot >> 5
    bit = 1 << (slot & 31)
    if mutation("plain-rmw"):
        # A read and a write: another claim (or a free) in between is lost.
        old = pg_atomic_read_u32(free_bits[word])
        pg_atomic_write_u32(free_bits[word], old & ~bit)
    else:
        old = pg_atomic_fetch_and_u32(free_bits[word], ~bit)
    if not mutation("unchecked-claim") and old & bit == 0:
        return 0  # someone else claimed it after our scan
    with ghost:
        assert_(owner[slot] == OWN_FREE, "exclusive ownership", "a backend claimed a slot that is not free")
        owner[slot] = OWN_BACKEND + ME
    return 1


def take_free_slot():
    """Scan the bitmap for a set bit and claim it; NO_SLOT if none."""
    slot = 0
    bits = 0
    while slot < SLOTS:
        if slot & 31 == 0:
            bits = pg_atomic_read_u32(free_bits[slot >> 5])
        if (bits >> (slot & 31)) & 1:
            if claim(slot):
                return slot
        slot += 1
    return NO_SLOT


def return_free_slot(slot):
    global pm_corrupt
    old = pg_atomic_fetch_or_u32(free_bits[slot >> 5], 1 << (slot & 31))
    with ghost:
        owner[slot] = OWN_FREE
    if (old >> (slot & 31)) & 1:
        # The bit was already set: no backend frees, so memory is corrupt.
        # The slot is free either way; just say so once.
        pm_corrupt = 1


def postmaster_housekeeping():
    return


class Bitmap(Protocol):
    name = "bitmap"
    summary = "idea #4: one bit per free slot; postmaster frees with fetch_or, backends claim with fetch_and"
    roles = {"postmaster": postmaster, "backend": backend}
    max_slots = 31  # slots are bits of the postmaster's private masks
    mutations = {
        "unchecked-claim": Mutation("backends keep a slot whatever pg_atomic_fetch_and_u32 returned, so two "
                                    "backends that saw the same bit both take it", breaks=EXCLUSIVE),
        "plain-rmw": Mutation("backends claim with a read and a write instead of one atomic RMW, so two claims "
                              "of the same bit both succeed", breaks=EXCLUSIVE),
    }

    def declare(self, p, d) -> None:
        declare_workload(p, d)
        nwords = (p.slots + 31) // 32
        init = [0] * nwords
        for s in range(p.slots):
            init[s >> 5] |= 1 << (s & 31)
        d.array("free_bits", nwords, init)

    def check_quiescent(self, v) -> None:
        places = workload_places(v)
        words = v.array("free_bits")
        for w, bits in enumerate(words):
            for b in range(32):
                if bits >> b & 1:
                    s = w * 32 + b
                    if s not in places:
                        raise Violation(CONSERVATION, f"the bitmap marks slot number {s} free")
                    places[s].append("free bitmap")
        check_places(places)
