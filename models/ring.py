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
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, choose, ghost, mutation, operation,
    pg_atomic_read_u32, pg_atomic_write_u32, pg_memory_barrier, pg_read_barrier,
    pg_write_barrier,
)
from checker.model import (
    CONSERVATION, EXCLUSIVE, INTEGRITY, PM_SAFETY, Declaration, Mutation, Params, Protocol, Violation,
)

# Where a slot is, in ghost state (owner[slot]).
OWN_FREE_QUEUE = 1
OWN_START_QUEUE = 2
OWN_RUNNING = 3
OWN_POSTMASTER = 4  # reaped, on its way back to the free queue
OWN_BACKEND = 8  # + backend number


# ---------------------------------------------------------------------------
# Backend side: consumers of the free queue, producers of the start queue.
# Both sides are serialised by an LWLock, so backends never race each other.


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
        assert_(owner[slot] == OWN_FREE_QUEUE, "exclusive ownership",
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
        pg_memory_barrier()
    pg_atomic_write_u32(free_tail, tail + 1)
    if not mutation("no-lock"):
        LWLockRelease(FreeQueueLock)
    return slot


def queue_for_start(slot):
    """Push a filled-in slot onto the start queue."""
    if not mutation("no-lock"):
        LWLockAcquire(StartQueueLock)
    head = pg_atomic_read_u32(start_head)
    # There are never more slots than entries, so the queue cannot be full
    # (conservation checks that no queue ever holds more than RING entries).
    tail = pg_atomic_read_u32(start_tail)
    pg_atomic_write_u32(start_ring[head % RING], slot)
    with ghost:
        start_pos[head % RING] = head
        start_val[head % RING] = slot
        owner[slot] = OWN_START_QUEUE
    if not mutation("start-no-write-barrier"):
        # The slot's contents and the entry must be visible before the new
        # head.  Pairs with the postmaster's pg_read_barrier() in
        # start_queued_worker().
        pg_write_barrier()
    pg_atomic_write_u32(start_head, head + 1)
    if not mutation("no-lock"):
        LWLockRelease(StartQueueLock)


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
# Postmaster side: consumer of the start queue, producer of the free queue.
# No locks, no waiting, and every value read from shared memory is checked.


@operation
def start_queued_worker():
    """Start the worker at the front of the start queue, if any."""
    global pm_start_tail, pm_running, pm_corrupt
    head = pg_atomic_read_u32(start_head)
    queued = head - pm_start_tail
    if queued == 0:
        return
    if not mutation("no-range-check") and queued > RING:
        # A head that no backend could have written: ignore it.
        pm_corrupt = 1  # reported once; a flag keeps the state space finite
        return
    if not mutation("start-no-read-barrier"):
        # Read the entry only after the head that covers it.  Pairs with the
        # backend's pg_write_barrier() in queue_for_start().
        pg_read_barrier()
    slot = pg_atomic_read_u32(start_ring[pm_start_tail % RING])
    with ghost:
        assert_(start_pos[pm_start_tail % RING] == pm_start_tail and start_val[pm_start_tail % RING] == slot,
                "queue integrity", "the postmaster read a start-queue entry not produced for that position")
    pm_start_tail += 1
    # The entry must be read before the tail frees its position for reuse
    # (load then store: README.barrier asks for a full barrier).  Pairs with
    # the backends reading start_tail before writing an entry, under
    # StartQueueLock, in queue_for_start().
    pg_memory_barrier()
    pg_atomic_write_u32(start_tail, pm_start_tail)
    if not mutation("no-range-check") and slot >= SLOTS:
        pm_corrupt = 1  # reported once; a flag keeps the state space finite
        return
    with ghost:
        assert_(slot < SLOTS, "postmaster safety", "the postmaster acted on a slot number out of range")
        assert_(owner[slot] == OWN_START_QUEUE, "exclusive ownership",
                "the postmaster started a slot that was not queued")
        owner[slot] = OWN_RUNNING
    worker = pg_atomic_read_u32(slot_worker[slot])
    with ghost:
        # Kept apart from the hand-over above: under weak memory this check
        # waits for the load, the hand-over must not.
        assert_(worker == registrant[slot], "queue integrity",
                "the postmaster read a slot description that its registrant did not write")
    if not mutation("no-range-check") and (worker == 0 or worker > BACKENDS):
        # A description no backend wrote.  This check also keeps every later
        # store of the postmaster (reaping, which recycles the slot) behind
        # the read of the description: stores are never speculated.
        pm_corrupt = 1
    pm_running |= 1 << slot


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
        owner[slot] = OWN_FREE_QUEUE
    if not mutation("free-no-write-barrier"):
        # The entry must be visible before the head that publishes it.
        # Pairs with the backend's pg_read_barrier() in take_free_slot().
        pg_write_barrier()
    pm_free_head += 1
    pg_atomic_write_u32(free_head, pm_free_head)


@operation
def reap_worker(slot):
    """The worker in ``slot`` exited: give the slot back."""
    global pm_running, pm_done
    with ghost:
        assert_(owner[slot] == OWN_RUNNING, "exclusive ownership", "the postmaster reaped a slot not running")
        owner[slot] = OWN_POSTMASTER
    return_free_slot(slot)
    # Cleared only now: until its first shared event an operation counts as
    # not started (quiescence), so the slot must still be accounted as running.
    pm_running &= ~(1 << slot)
    pm_done += 1


def postmaster():
    while pm_done < TOTAL:
        start_queued_worker()
        # Any running worker may exit now, or none (choice SLOTS).
        exited = choose(SLOTS + 1)
        if exited < SLOTS and (pm_running >> exited) & 1:
            reap_worker(exited)


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
        ring = 1
        while ring < p.slots:
            ring *= 2
        start = (1 << 32) - ring  # every run crosses the 2^32 wrap
        d.constant("RING", ring)
        d.constant("TOTAL", p.backends * p.ops)
        d.constant("NO_SLOT", 0xFFFFFFFF)
        for k, v in (("OWN_FREE_QUEUE", OWN_FREE_QUEUE), ("OWN_START_QUEUE", OWN_START_QUEUE),
                     ("OWN_RUNNING", OWN_RUNNING), ("OWN_POSTMASTER", OWN_POSTMASTER),
                     ("OWN_BACKEND", OWN_BACKEND)):
            d.constant(k, v)
        free_init = [0] * ring
        for s in range(p.slots):
            free_init[(start + s) % ring] = s
        d.word("free_head", (start + p.slots) & 0xFFFFFFFF)
        d.word("free_tail", start)
        d.array("free_ring", ring, free_init)
        d.word("start_head", start)
        d.word("start_tail", start)
        d.array("start_ring", ring, 0)
        d.array("slot_worker", p.slots, 0)
        d.lock("FreeQueueLock")
        d.lock("StartQueueLock")
        d.private_var("postmaster", "pm_free_head", (start + p.slots) & 0xFFFFFFFF)
        d.private_var("postmaster", "pm_start_tail", start)
        d.private_var("postmaster", "pm_running", 0)
        d.private_var("postmaster", "pm_done", 0)
        d.private_var("postmaster", "pm_corrupt", 0)
        # Ghost: where each slot is, and what was produced at each position.
        d.ghost_array("owner", p.slots, OWN_FREE_QUEUE)
        pos = [0] * ring
        val = [0] * ring
        for s in range(p.slots):
            pos[(start + s) % ring] = (start + s) & 0xFFFFFFFF
            val[(start + s) % ring] = s
        d.ghost_array("free_pos", ring, pos)
        d.ghost_array("free_val", ring, val)
        d.ghost_array("start_pos", ring, [(start - ring + i) & 0xFFFFFFFF for i in range(ring)])
        d.ghost_array("start_val", ring, 0)
        d.ghost_array("registrant", p.slots, 0)

    def check_quiescent(self, v) -> None:
        ring = v.system.constants["RING"]
        slots = v.system.params.slots
        places: dict[int, list[str]] = {s: [] for s in range(slots)}

        def queue(name, head, tail):
            entries = v.array(name + "_ring")
            n = (head - tail) & 0xFFFFFFFF
            if n > ring:
                raise Violation(CONSERVATION, f"{name} queue holds {n} entries, more than {ring}")
            for k in range(n):
                s = entries[(tail + k) % ring]
                if s not in places:
                    raise Violation(CONSERVATION, f"{name} queue holds slot number {s}")
                places[s].append(f"{name} queue")

        queue("free", v.word("free_head"), v.word("free_tail"))
        queue("start", v.word("start_head"), v.word("start_tail"))
        running = v.local(0, "pm_running")
        for s in range(slots):
            if running >> s & 1:
                places[s].append("running")
        for s, where in places.items():
            if len(where) != 1:
                what = " and ".join(where) if where else "nowhere (leaked)"
                raise Violation(CONSERVATION, f"slot {s} is {what}")
