"""The parts every free-slot design shares: the start queue and the workload.

A design module (``models/caslist.py``, ``models/bitmap.py``, ...) imports the
programs below and supplies three functions, found by name in its own module
when the checker compiles it:

* ``take_free_slot()`` (backend): a free slot number, or ``NO_SLOT``; on
  success its ghost code sets ``owner[slot] = OWN_BACKEND + ME``;
* ``return_free_slot(slot)`` (postmaster, inside ``reap_worker``): give a
  reaped slot back (``owner[slot]`` is ``OWN_POSTMASTER`` on entry);
* ``postmaster_housekeeping()`` (postmaster, once per pass of its loop):
  anything the design does outside starting and reaping (caslist pushes the
  slots it kept back), or nothing.

and may supply ``lock_start_queue()`` / ``unlock_start_queue()`` (import the
ones below otherwise): the ring's ``no-lock`` mutation drops StartQueueLock
along with its own FreeQueueLock.

Its ``Protocol.declare`` calls :func:`declare_workload` and its
``check_quiescent`` calls :func:`workload_places`, so that a design is one
small file that differs from the others only in how free slots are kept.

The start queue is the ring protocol's: backends produce under
StartQueueLock, the postmaster consumes without a lock, keeping its own tail
privately and range-checking the head and every entry it reads.  Its counters
start just below 2^32 so that every run crosses the wrap.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, choose, ghost, mutation, operation, pg_atomic_read_u32,
    pg_atomic_write_u32, pg_memory_barrier, pg_read_barrier, pg_write_barrier,
)
from checker.model import CONSERVATION, Violation

# Mistakes in the start queue a design may declare as its own mutations (the
# ring does).  In a design that does not, these tests compile to the correct
# code (checker/ir.py reads this name).
OPTIONAL_MUTATIONS = ("no-range-check", "start-no-write-barrier", "start-no-read-barrier")

# Where a slot is, in ghost state (owner[slot]).
OWN_FREE = 1
OWN_START_QUEUE = 2
OWN_RUNNING = 3
OWN_POSTMASTER = 4  # reaped, not (yet) back in the free structure
OWN_BACKEND = 8  # + backend number


def take_free_slot():  # pragma: no cover - each design defines its own
    return NO_SLOT


def return_free_slot(slot):  # pragma: no cover - each design defines its own
    return


def postmaster_housekeeping():  # pragma: no cover - each design defines its own
    return


def lock_start_queue():
    LWLockAcquire(StartQueueLock)


def unlock_start_queue():
    LWLockRelease(StartQueueLock)


# ---------------------------------------------------------------------------
# Backend side


def queue_for_start(slot):
    """Push a filled-in slot onto the start queue (under StartQueueLock)."""
    lock_start_queue()
    head = pg_atomic_read_u32(start_head)
    # There are never more slots than entries, so the queue cannot be full
    # (conservation checks that it never holds more than SQ_RING entries).
    # The tail is read as the C code does, but nothing here depends on it,
    # so under weak memory its read may be performed late.
    tail = pg_atomic_read_u32(start_tail)  # noqa: F841 (see above)
    pg_atomic_write_u32(start_ring[head % SQ_RING], slot)
    with ghost:
        start_pos[head % SQ_RING] = head
        start_val[head % SQ_RING] = slot
        owner[slot] = OWN_START_QUEUE
    if not mutation("start-no-write-barrier"):
        # The slot's contents and the entry must be visible before the new
        # head.  Pairs with the postmaster's pg_read_barrier() in
        # start_queued_worker().
        pg_write_barrier()
    pg_atomic_write_u32(start_head, head + 1)
    unlock_start_queue()


@operation
def register_worker():
    """RegisterDynamicBackgroundWorker(): returns 1 if a worker was queued."""
    slot = take_free_slot()
    if slot == NO_SLOT:
        return 0
    # Fill in the slot (the worker's description): here, who asked for it.
    pg_atomic_write_u32(slot_worker[slot], ME)
    with ghost:
        assert_(owner[slot] == OWN_BACKEND + ME, "exclusive ownership",
                "a backend filled in a slot that another party holds")
        registrant[slot] = ME
    queue_for_start(slot)
    return 1


def backend():
    done = 0
    while done < OPS:
        done += register_worker()


# ---------------------------------------------------------------------------
# Postmaster side: no locks, no waiting, every value read is checked.


@operation
def start_queued_worker():
    """Start the worker at the front of the start queue, if any."""
    global pm_start_tail, pm_running, pm_corrupt
    head = pg_atomic_read_u32(start_head)
    queued = head - pm_start_tail
    if queued == 0:
        return
    if not mutation("no-range-check") and queued > SQ_RING:
        # A head no backend could have written: ignore it.
        pm_corrupt = 1  # a flag, not a count, keeps the state space finite
        return
    if not mutation("start-no-read-barrier"):
        # Read the entry only after the head that covers it.  Pairs with the
        # backend's pg_write_barrier() in queue_for_start().
        pg_read_barrier()
    slot = pg_atomic_read_u32(start_ring[pm_start_tail % SQ_RING])
    with ghost:
        assert_(start_pos[pm_start_tail % SQ_RING] == pm_start_tail and start_val[pm_start_tail % SQ_RING] == slot,
                "queue integrity", "the postmaster read a start-queue entry not produced for that position")
    pm_start_tail += 1
    # The entry must be read before the tail frees its position for reuse
    # (load then store: README.barrier asks for a full barrier).  Pairs with
    # the backends reading start_tail before writing an entry, under
    # StartQueueLock, in queue_for_start().
    pg_memory_barrier()
    pg_atomic_write_u32(start_tail, pm_start_tail)
    if not mutation("no-range-check") and slot >= SLOTS:
        pm_corrupt = 1  # an entry no backend could have written: the position is skipped
        return
    if not mutation("no-range-check") and (pm_running >> slot) & 1:
        # Already running: a backend cannot have queued it, so memory is corrupt.
        pm_corrupt = 1
        return
    with ghost:
        assert_(slot < SLOTS, "postmaster safety", "the postmaster acted on a slot number out of range")
        assert_(owner[slot] == OWN_START_QUEUE, "exclusive ownership",
                "the postmaster started a slot that was not queued")
        owner[slot] = OWN_RUNNING
    worker = pg_atomic_read_u32(slot_worker[slot])
    with ghost:
        # Apart from the hand-over above: under weak memory this check waits
        # for the load, the hand-over must not.
        assert_(worker == registrant[slot], "queue integrity",
                "the postmaster read a slot description that its registrant did not write")
    if not mutation("no-range-check") and (worker == 0 or worker > BACKENDS):
        # A description no backend wrote.  The branch also keeps every later
        # store of the postmaster (a reap recycles the slot) behind this
        # read: stores are never performed before an unresolved branch.
        pm_corrupt = 1
    pm_running |= 1 << slot


@operation
def reap_worker(slot):
    """The worker in ``slot`` exited: give the slot back."""
    global pm_running, pm_done
    with ghost:
        assert_(owner[slot] == OWN_RUNNING, "exclusive ownership", "the postmaster reaped a slot not running")
        owner[slot] = OWN_POSTMASTER
    return_free_slot(slot)
    # Cleared only now: until its first shared event an operation counts as
    # not started (quiescence), so the slot is still accounted as running.
    pm_running &= ~(1 << slot)
    pm_done += 1


def postmaster():
    while pm_done < TOTAL:
        start_queued_worker()
        postmaster_housekeeping()
        # Any running worker may exit now, or none (choice SLOTS).
        exited = choose(SLOTS + 1)
        if exited < SLOTS and (pm_running >> exited) & 1:
            reap_worker(exited)


# ---------------------------------------------------------------------------
# Declarations and the quiescence check


def ring_size(slots: int) -> int:
    ring = 1
    while ring < slots:
        ring *= 2
    return ring


def declare_workload(p, d) -> None:
    """Constants, the start queue, slot descriptions, postmaster state and ghost state."""
    ring = ring_size(p.slots)
    start = (1 << 32) - ring  # every run crosses the 2^32 wrap
    d.constant("SQ_RING", ring)
    d.constant("TOTAL", p.backends * p.ops)
    d.constant("NO_SLOT", 0xFFFFFFFF)
    for k, v in (("OWN_FREE", OWN_FREE), ("OWN_START_QUEUE", OWN_START_QUEUE), ("OWN_RUNNING", OWN_RUNNING),
                 ("OWN_POSTMASTER", OWN_POSTMASTER), ("OWN_BACKEND", OWN_BACKEND)):
        d.constant(k, v)
    d.word("start_head", start)
    d.word("start_tail", start)
    d.array("start_ring", ring, 0)
    d.array("slot_worker", p.slots, 0)
    d.lock("StartQueueLock")
    d.private_var("postmaster", "pm_start_tail", start)
    d.private_var("postmaster", "pm_running", 0)
    d.private_var("postmaster", "pm_done", 0)
    d.private_var("postmaster", "pm_corrupt", 0)
    d.ghost_array("owner", p.slots, OWN_FREE)
    d.ghost_array("start_pos", ring, [(start - ring + i) & 0xFFFFFFFF for i in range(ring)])
    d.ghost_array("start_val", ring, 0)
    d.ghost_array("registrant", p.slots, 0)


def workload_places(v) -> dict[int, list[str]]:
    """Where each slot is in the start queue and among running workers."""
    ring = v.system.constants["SQ_RING"]
    slots = v.system.params.slots
    places: dict[int, list[str]] = {s: [] for s in range(slots)}
    head, tail = v.word("start_head"), v.word("start_tail")
    n = (head - tail) & 0xFFFFFFFF
    if n > ring:
        raise Violation(CONSERVATION, f"start queue holds {n} entries, more than {ring}")
    entries = v.array("start_ring")
    for k in range(n):
        s = entries[(tail + k) % ring]
        if s not in places:
            raise Violation(CONSERVATION, f"start queue holds slot number {s}")
        places[s].append("start queue")
    running = v.local(0, "pm_running")
    for s in range(slots):
        if running >> s & 1:
            places[s].append("running")
    return places


def check_places(places: dict[int, list[str]]) -> None:
    for s, where in places.items():
        if len(where) != 1:
            what = " and ".join(where) if where else "nowhere (leaked)"
            raise Violation(CONSERVATION, f"slot {s} is {what}")
