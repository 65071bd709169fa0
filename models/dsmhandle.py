"""dsmhandle: DSM handles that encode slot index + generation (the seed's last paragraph).

Today's dsm.c keeps ``maxitems`` items ``{handle, refcnt}`` in the control
segment (refcnt 2+ active, 1 moribund, 0 free) with a high-water mark
``nitems``, all under DynamicSharedMemoryControlLock.  ``dsm_create`` takes
the first item with ``refcnt == 0`` (or appends), ``dsm_attach(h)`` searches
every item for ``handle == h`` skipping moribund ones, ``dsm_detach`` unmaps,
decrements, and the last detacher destroys the segment and only then sets
``refcnt = 0``.  Handles are random even numbers (OS segments), so a stale
handle is told apart from a live one only by luck of the draw.

The proposal (``--param linear=0``, the default):

* a handle is ``gen << (SLOT_BITS + 1) | slot << 1 | kind``: the item index,
  its generation (bumped each time the item is reused, skipping 0 so that no
  handle is 0, DSM_HANDLE_INVALID) and the odd/even discriminator (odd: the
  segment lives in the main region; even: an OS segment);
* ``dsm_attach(h)`` decodes the slot, range-checks it and compares the item's
  handle with ``h`` in O(1): a handle of an earlier occupant has another
  generation and is refused;
* free items sit in a FIFO ring (O(1) create, and a freed item waits behind
  every other free one before it is reused, which spreads the reuses).

``--param gen_bits=N`` is the width of the generation field (10 in
PostgreSQL with MaxBackends at its maximum: see docs/dsmhandle.md); with a
small N a slot's generation wraps within the bounds the checker explores.
``--param linear=1`` is today's dsm.c, the baseline: random even handles,
drawn here from ``SLOTS + 1`` values (the OS refuses a handle a live segment
already has, as ``shm_open(O_EXCL)`` does), linear searches on create and
attach.

The postmaster never touches the control segment (dsm_create and dsm_attach
assert ``IsUnderPostmaster``); its program here is empty.

Workload: each backend, OPS times, creates a segment, writes its contents
(here: its handle), issues pg_write_barrier() and publishes the handle in a
board cell of its own (each cell is written once, so a handle read from the
board always tells which segment it was published for); then it picks any
board cell, and if it holds a handle other than its own segment's (which
dsm_attach refuses: "can't attach the same segment more than once"),
attaches with it, reads the contents and detaches; then it detaches its own
segment (destroying it if it was the last).  A handle read from the board may be stale: its segment may be gone
and its item reused.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire,
    LWLockRelease,
    assert_,
    choose,
    ghost,
    mutation,
    operation,
    pg_atomic_read_u32,
    pg_atomic_write_u32,
    pg_memory_barrier,
    pg_write_barrier,
)
from checker.model import (
    CONSERVATION,
    EXCLUSIVE,
    Declaration,
    Mutation,
    Params,
    Protocol,
    Violation,
)

STALE = "stale handle refused"
VALID = "valid handle attaches"
REFCOUNT = "refcount conservation"
SEGMENT = "segment integrity"

PROPERTY_TEXT = {
    STALE: "a handle of a destroyed segment never attaches to the item's next occupant",
    VALID: "a handle of a live (not moribund) segment always attaches",
    REFCOUNT: "an item's refcnt is 1 + the backends attached to it; the last detacher frees an item nobody holds",
    SEGMENT: "a backend that attaches reads the contents the creator wrote before publishing the handle",
}

# Where an item is, in ghost state (owner[slot]).
OWN_FREE = 1
OWN_MORIBUND = 2  # refcnt 1: being destroyed by its last detacher
OWN_BACKEND = 8  # + the creating backend's number: live

NO_SLOT = 0xFFFFFFFF


# ---------------------------------------------------------------------------
# dsm_create


def encode_handle(slot, old):
    """The next handle for ``slot``, whose previous occupant had handle ``old``."""
    gen = old >> (SLOT_BITS + 1)
    if mutation("no-generation"):
        gen = 1  # the field never changes: a handle names only the slot
    else:
        gen = gen + 1
        if gen >= GEN_LIMIT:
            gen = 1  # wraps, skipping 0 so that no handle is DSM_HANDLE_INVALID
    # The discriminator: backend ME's segments are main-region (odd) or OS
    # segments (even) by the parity of ME, so both kinds occur.
    return (gen << (SLOT_BITS + 1)) | (slot << 1) | (ME & 1)


def create_ring():
    """Take the item at the front of the free ring; returns the new handle or 0."""
    LWLockAcquire(DynamicSharedMemoryControlLock)
    tail = pg_atomic_read_u32(free_tail)
    head = pg_atomic_read_u32(free_head)
    if head == tail:
        LWLockRelease(DynamicSharedMemoryControlLock)
        return 0  # too many dynamic shared memory segments
    slot = pg_atomic_read_u32(free_ring[tail % RING])
    pg_atomic_write_u32(free_tail, tail + 1)
    old = pg_atomic_read_u32(item_handle[slot])
    handle = encode_handle(slot, old)
    pg_atomic_write_u32(item_handle[slot], handle)
    # refcnt 1 means moribund, so a new segment starts at 2.
    pg_atomic_write_u32(item_refcnt[slot], 2)
    with ghost:
        assert_(owner[slot] == OWN_FREE, "exclusive ownership", "dsm_create took an item that is not free")
        owner[slot] = OWN_BACKEND + ME
        holders[slot] = 1
    LWLockRelease(DynamicSharedMemoryControlLock)
    return handle


def create_linear():
    """Today's dsm_create: a random even handle, then the first free item or a new one."""
    # The loop around dsm_impl_op(DSM_OP_CREATE) draws random handles; the
    # model draws from a small set so that a handle can come round again.
    handle = (choose(HANDLE_POOL) + 1) << 1
    LWLockAcquire(DynamicSharedMemoryControlLock)
    n = pg_atomic_read_u32(nitems)
    found = NO_SLOT
    i = 0
    while i < n:
        refcnt = pg_atomic_read_u32(item_refcnt[i])
        if refcnt == 0:
            if found == NO_SLOT:
                found = i
        elif pg_atomic_read_u32(item_handle[i]) == handle:
            # A segment with this handle still exists: the OS refuses to
            # create it again (shm_open with O_EXCL fails with EEXIST).
            LWLockRelease(DynamicSharedMemoryControlLock)
            return 0
        i += 1
    if found == NO_SLOT:
        if n >= SLOTS:
            LWLockRelease(DynamicSharedMemoryControlLock)
            return 0  # too many dynamic shared memory segments
        found = n
        pg_atomic_write_u32(nitems, n + 1)
    pg_atomic_write_u32(item_handle[found], handle)
    pg_atomic_write_u32(item_refcnt[found], 2)
    with ghost:
        assert_(owner[found] == OWN_FREE, "exclusive ownership", "dsm_create took an item that is not free")
        owner[found] = OWN_BACKEND + ME
        holders[found] = 1
    LWLockRelease(DynamicSharedMemoryControlLock)
    return handle | (found << 16)  # the model's way of returning two values; split by the caller


@operation
def dsm_create(cell):
    """Create a segment and publish its handle in ``board[cell]``; returns its handle or 0.

    The caller finds the item again with item_of() (dsm_segment keeps it in
    control_slot)."""
    if LINEAR:
        both = create_linear()
        handle = both & 0xFFFF
        slot = both >> 16
    else:
        handle = create_ring()
        slot = (handle >> 1) & SLOT_MASK
        both = handle
    if handle == 0:
        return 0
    with ghost:
        slot_seg[slot] = cell + 1
        cell_slot[cell] = slot
    # The contents: the handle itself, so that a reader can tell whose they are.
    pg_atomic_write_u32(seg_payload[slot], handle)
    if not mutation("publish-no-write-barrier"):
        # The contents must be visible before the handle that leads to them.
        # Pairs with the LWLockAcquire() in the reader's dsm_attach() (a full
        # barrier between its read of the board and its read of the contents).
        pg_write_barrier()
    pg_atomic_write_u32(board[cell], handle)
    return both


# ---------------------------------------------------------------------------
# dsm_attach


def attach_decode(handle):
    """The proposal: decode the item from the handle, compare, bump refcnt."""
    slot = (handle >> 1) & SLOT_MASK
    if slot >= SLOTS:
        return NO_SLOT  # no item has this index: not a handle of ours
    LWLockAcquire(DynamicSharedMemoryControlLock)
    current = pg_atomic_read_u32(item_handle[slot])
    refcnt = pg_atomic_read_u32(item_refcnt[slot])
    # refcnt 0: free; 1: moribund, its last detacher is destroying it.
    if current != handle or (refcnt <= 1 and not mutation("attach-moribund")) or refcnt == 0:
        LWLockRelease(DynamicSharedMemoryControlLock)
        return NO_SLOT
    pg_atomic_write_u32(item_refcnt[slot], refcnt + 1)
    with ghost:
        assert_(owner[slot] >= OWN_BACKEND, "refcount conservation",
                "dsm_attach bumped the refcnt of an item being destroyed")
        holders[slot] += 1
    LWLockRelease(DynamicSharedMemoryControlLock)
    return slot


def attach_linear(handle):
    """Today's dsm_attach: search every item for the handle, skipping moribund ones."""
    LWLockAcquire(DynamicSharedMemoryControlLock)
    n = pg_atomic_read_u32(nitems)
    i = 0
    while i < n:
        refcnt = pg_atomic_read_u32(item_refcnt[i])
        if refcnt > 1 or (refcnt == 1 and mutation("attach-moribund")):
            if pg_atomic_read_u32(item_handle[i]) == handle:
                pg_atomic_write_u32(item_refcnt[i], refcnt + 1)
                with ghost:
                    assert_(owner[i] >= OWN_BACKEND, "refcount conservation",
                            "dsm_attach bumped the refcnt of an item being destroyed")
                    holders[i] += 1
                LWLockRelease(DynamicSharedMemoryControlLock)
                return i
        i += 1
    LWLockRelease(DynamicSharedMemoryControlLock)
    return NO_SLOT


@operation
def dsm_attach(cell, mine_handle):
    """Attach with the handle in ``board[cell]`` (if any), read the contents, detach."""
    handle = pg_atomic_read_u32(board[cell])
    if handle == 0:
        return  # nothing published there (yet)
    if handle == mine_handle:
        # dsm_attach: "can't attach the same segment more than once" (an
        # ERROR; here the backend just does not attach).
        return
    if LINEAR:
        slot = attach_linear(handle)
    else:
        slot = attach_decode(handle)
    if slot == NO_SLOT:
        with ghost:
            # The segment published in this cell is still in its item and
            # not moribund: the handle was valid, so it must have attached.
            assert_(not (slot_seg[cell_slot[cell]] == cell + 1 and owner[cell_slot[cell]] >= OWN_BACKEND),
                    "valid handle attaches", "dsm_attach refused the handle of a live segment")
        return
    with ghost:
        assert_(slot_seg[slot] == cell + 1, "stale handle refused",
                "dsm_attach accepted a stale handle: the item now holds another segment")
    seen = pg_atomic_read_u32(seg_payload[slot])
    with ghost:
        # Kept apart from the check above: under weak memory this one waits
        # for the load, that one must not.
        assert_(seen == handle, "segment integrity", "the contents read after attaching are not the creator's")
    dsm_detach(slot)


# ---------------------------------------------------------------------------
# dsm_detach


def dsm_detach(slot):
    # dsm_impl_op(DSM_OP_DETACH) is munmap(), a system call: our reads of the
    # segment are done before the decrement lets its last detacher destroy it.
    pg_memory_barrier()
    LWLockAcquire(DynamicSharedMemoryControlLock)
    refcnt = pg_atomic_read_u32(item_refcnt[slot])
    with ghost:
        assert_(refcnt == holders[slot] + 1, "refcount conservation", "refcnt is not 1 + the backends attached")
    pg_atomic_write_u32(item_refcnt[slot], refcnt - 1)
    with ghost:
        holders[slot] -= 1
        if refcnt == 2:
            owner[slot] = OWN_MORIBUND
    LWLockRelease(DynamicSharedMemoryControlLock)
    if refcnt != 2:
        return
    # We were the last: destroy the segment (shm_unlink, or give the pages
    # back to the main region's FreePageManager), then free the item.
    LWLockAcquire(DynamicSharedMemoryControlLock)
    refcnt = pg_atomic_read_u32(item_refcnt[slot])
    with ghost:
        assert_(refcnt == 1 and holders[slot] == 0, "refcount conservation",
                "the last detacher frees an item that someone attached to meanwhile")
    pg_atomic_write_u32(item_refcnt[slot], 0)
    with ghost:
        owner[slot] = OWN_FREE
        slot_seg[slot] = 0
    if not LINEAR:
        head = pg_atomic_read_u32(free_head)
        pg_atomic_write_u32(free_ring[head % RING], slot)
        pg_atomic_write_u32(free_head, head + 1)
    LWLockRelease(DynamicSharedMemoryControlLock)


@operation
def detach_own(slot):
    dsm_detach(slot)


def item_of(both):
    """The item of our own segment, from what dsm_create returned."""
    if LINEAR:
        return both >> 16
    return (both >> 1) & SLOT_MASK


def backend():
    done = 0
    while done < OPS:
        # Our own segment: its handle (the baseline also packs the item in).
        mine = dsm_create((ME - 1) * OPS + done)
        own_handle = mine
        if LINEAR:
            own_handle = mine & 0xFFFF
        # Any board cell, own ones included: a handle published earlier may
        # be stale by now.
        dsm_attach(choose(BOARD_CELLS), own_handle)
        if mine != 0:
            detach_own(item_of(mine))
        done += 1


def postmaster():
    # The postmaster never attaches to DSM segments nor reads the control
    # segment (dsm_create and dsm_attach assert IsUnderPostmaster).
    return


class DsmHandle(Protocol):
    name = "dsmhandle"
    summary = "DSM slots: handles = slot index + generation, O(1) attach, free items in a ring (linear=1: today)"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = (EXCLUSIVE, CONSERVATION, STALE, VALID, REFCOUNT, SEGMENT)
    max_slots = 8
    extra_params = {
        "gen_bits": (10, "width of the handle's generation field (10 at PostgreSQL's largest MaxBackends)"),
        "linear": (0, "1: today's dsm.c (random even handles, linear search on create and attach)"),
    }
    mutations = {
        "no-generation": Mutation("handles carry only the slot (the generation is never bumped): a stale handle "
                                  "attaches to the item's next occupant", breaks=STALE),
        "attach-moribund": Mutation("dsm_attach does not skip an item whose refcnt is 1: it attaches to a segment "
                                    "its last detacher is destroying", breaks=REFCOUNT),
        "publish-no-write-barrier": Mutation("the creator publishes the handle without pg_write_barrier() after "
                                             "writing the contents", bug_under=("weak",), breaks=SEGMENT),
    }

    def validate(self, p: Params) -> None:
        from checker.model import ModelError

        if p.extra["linear"] not in (0, 1):
            raise ModelError("--param linear must be 0 or 1")
        slot_bits = p.slots.bit_length()
        if not 1 <= p.extra["gen_bits"] <= 31 - slot_bits:
            raise ModelError(f"--param gen_bits must be between 1 and {31 - slot_bits} with {p.slots} slots "
                             f"(32 bits less the discriminator and {slot_bits} slot bits)")
        if p.extra["linear"] and p.backends * p.ops >= 1 << 16:
            raise ModelError("too many operations for the model's linear create")

    def declare(self, p: Params, d: Declaration) -> None:
        ring = 1
        while ring < p.slots:
            ring *= 2
        # As make_main_region_dsm_handle(): the slot occupies the bits above
        # the discriminator, pg_leftmost_one_pos32(maxitems) + 1 of them.
        slot_bits = p.slots.bit_length()
        cells = p.backends * p.ops
        d.constant("RING", ring)
        d.constant("SLOT_BITS", slot_bits)
        d.constant("SLOT_MASK", (1 << slot_bits) - 1)
        d.constant("GEN_LIMIT", 1 << p.extra["gen_bits"])
        d.constant("HANDLE_POOL", p.slots + 1)
        d.constant("BOARD_CELLS", cells)
        d.constant("NO_SLOT", NO_SLOT)
        for k, v in (("OWN_FREE", OWN_FREE), ("OWN_MORIBUND", OWN_MORIBUND), ("OWN_BACKEND", OWN_BACKEND)):
            d.constant(k, v)
        d.array("item_handle", p.slots, 0)
        d.array("item_refcnt", p.slots, 0)
        if p.extra["linear"]:
            d.word("nitems", 0)
        else:
            d.array("free_ring", ring, [s if s < p.slots else 0 for s in range(ring)])
            d.word("free_head", p.slots)
            d.word("free_tail", 0)
        d.lock("DynamicSharedMemoryControlLock")
        d.array("seg_payload", p.slots, 0)
        d.array("board", cells, 0)
        d.ghost_array("owner", p.slots, OWN_FREE)
        d.ghost_array("holders", p.slots, 0)
        d.ghost_array("slot_seg", p.slots, 0)
        d.ghost_array("cell_slot", cells, 0)

    def check_quiescent(self, v) -> None:
        slots = v.system.params.slots
        linear = v.system.params.extra["linear"]
        refcnt = v.array("item_refcnt")
        owner_ = v.ghost("owner")
        holders_ = v.ghost("holders")
        for s in range(slots):
            if owner_[s] == OWN_MORIBUND:
                raise Violation(CONSERVATION, f"item {s} is moribund with no detach under way (leaked)")
            if owner_[s] == OWN_FREE and refcnt[s] != 0:
                raise Violation(CONSERVATION, f"item {s} has refcnt {refcnt[s]} but no segment (leaked)")
            if owner_[s] >= OWN_BACKEND and refcnt[s] != holders_[s] + 1:
                raise Violation(CONSERVATION, f"item {s} has refcnt {refcnt[s]} with {holders_[s]} attached")
            if owner_[s] >= OWN_BACKEND and holders_[s] == 0:
                raise Violation(CONSERVATION, f"item {s} is live with nobody attached (leaked)")
        if linear:
            n = v.word("nitems")
            for s in range(n, slots):
                if refcnt[s] != 0:
                    raise Violation(CONSERVATION, f"item {s} is in use beyond nitems = {n}")
            return
        ring = v.system.constants["RING"]
        head, tail = v.word("free_head"), v.word("free_tail")
        count = (head - tail) & 0xFFFFFFFF
        if count > slots:
            raise Violation(CONSERVATION, f"the free ring holds {count} entries, more than {slots} items")
        entries = v.array("free_ring")
        listed = [entries[(tail + k) % ring] for k in range(count)]
        for s in range(slots):
            free = owner_[s] == OWN_FREE
            times = listed.count(s)
            if free and times != 1:
                raise Violation(CONSERVATION, f"free item {s} is in the free ring {times} times")
            if not free and times:
                raise Violation(CONSERVATION, f"item {s} is in use and in the free ring")
        for s in listed:
            if s >= slots:
                raise Violation(CONSERVATION, f"the free ring holds item number {s}")
