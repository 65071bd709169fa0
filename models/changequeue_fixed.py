"""changequeue-fixed: the smallest change to the 0001 patch that makes every property hold.

The patch as written (``models/changequeue.py``, docs/changequeue.md) goes
wrong in three independent ways, and each part of the fix answers one:

1. **At most one queue entry per slot** (the queue overflows under every
   memory model).  The 2N+1 entries assume a slot has at most two entries
   waiting (its registration and its termination).  But the postmaster
   frees a slot while an entry for it may still wait (the free-at-once of a
   terminated registration, a child exit), the slot is registered again, and
   every registration + termination cycle leaves one more entry behind: the
   assertion fails, and a production build overwrites entries and loses
   registrations.  Fix: a per-slot flag ``queued`` (a new field of
   BackgroundWorkerSlot).  A backend enqueues the slot number only if the
   flag is clear, and sets it (under BackgroundWorkerLock); the postmaster
   clears it when it takes the entry, *before* it reads ``in_use`` and
   ``terminate``.  A change made while the entry waits is seen when the
   entry is handled, so nothing is lost, and there are never more than N
   entries: the queue cannot fill (the Assert stays, and never fires).  The
   flag is a store-then-load handshake on both sides (the backend stores
   ``in_use``/``terminate`` and loads ``queued``; the postmaster stores
   ``queued`` and loads ``in_use``/``terminate``), so each side needs a
   ``pg_memory_barrier()`` between its store and its load (README.barrier:
   only a full barrier orders a store before a later load; x86 reorders
   exactly that).
2. **Barriers for reading a slot through a stale entry** (weak memory only).
   An entry can be handled while a backend is refilling the slot it names,
   so the postmaster can see ``in_use = true`` of the new registration with
   ``terminate`` or the description of the old one, and free (or
   register) the wrong thing.  Fix: put back the ``pg_write_barrier()``
   before ``in_use = true`` that the patch removed, and pair it with a
   ``pg_read_barrier()`` after the postmaster's read of ``in_use`` (as
   today's BackgroundWorkerStateChange has).
3. **Range checks** (a rogue backend).  The postmaster uses the tail, head
   and entries it reads as indexes: a corrupt head makes its loop run
   forever, a corrupt tail or entry indexes out of bounds.  Fix: ignore a
   head or tail ``>= 2N+1`` and an entry ``>= N`` (log and skip).

Everything else is the patch: same queue, same lock, same handling.  Each
part is also a mutation that takes it out again (``Mutation``s below), and
the mutation matrix shows each is needed exactly where it says.

As in ``changequeue``, a worker's start and exit are bits and a ``choose()``
in the postmaster for want of a worker role (issue 15, section 1); see that
module's docstring.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, choose, ghost, mutation, operation, pg_atomic_read_u32,
    pg_atomic_write_u32, pg_memory_barrier, pg_read_barrier, pg_write_barrier,
)
from checker.model import PM_SAFETY, Mutation, Protocol
from models._changequeue import (
    CAPACITY, REGISTRATION, TERMINATION, check_slots, declare_common,
)

# ---------------------------------------------------------------------------
# Backends


def enqueue_change(slot):
    """Put a slot number on the change queue (BackgroundWorkerLock held)."""
    head = pg_atomic_read_u32(cq_head)
    pg_atomic_write_u32(cq_ring[head], slot)
    with ghost:
        q_val[head] = slot
    if not mutation("enqueue-no-write-barrier"):
        # The entry (and the slot's contents before it) must be visible
        # before the head that covers it.  Pairs with the postmaster's
        # pg_read_barrier() in state_change().
        pg_write_barrier()
    head = (head + 1) % QSIZE
    # Assert(head != tail): never fails now (at most N entries wait), kept
    # as the patch has it; a branch, so the store below waits for the load.
    tail = pg_atomic_read_u32(cq_tail)
    if head == tail:
        with ghost:
            assert_(head != tail, "queue capacity",
                    "Assert(head != tail) failed: the change queue of 2N+1 entries is full")
    pg_atomic_write_u32(cq_head, head)


def request_change(slot):
    """Make sure an entry for ``slot`` waits in the queue (BackgroundWorkerLock held)."""
    if not mutation("backend-no-full-barrier"):
        # The stores to the slot just made (in_use, terminate) must be
        # visible before we read queued: a store then a load, so a full
        # barrier.  Pairs with the postmaster's pg_memory_barrier() between
        # clearing queued and reading in_use in handle_change(): either we
        # see queued clear and enqueue, or the postmaster sees our stores.
        pg_memory_barrier()
    if mutation("no-queued-flag"):
        enqueue_change(slot)  # the patch: an entry for every change
        return
    if pg_atomic_read_u32(queued[slot]) == 0:
        pg_atomic_write_u32(queued[slot], 1)
        enqueue_change(slot)


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
    if not mutation("register-no-write-barrier"):
        # The new contents (terminate, the description) must be visible
        # before in_use: an entry left over from the slot's last use may be
        # handled right now.  Pairs with the postmaster's pg_read_barrier()
        # after it reads in_use in handle_change().
        pg_write_barrier()
    pg_atomic_write_u32(in_use[slot], 1)
    with ghost:
        owner[slot] = OWN_QUEUED
        registrant[slot] = ME
        reg_gen[slot] += 1
        my_reg[ME] = reg_gen[slot]
    request_change(slot)
    LWLockRelease(BackgroundWorkerLock)
    # SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE): the postmaster polls.
    my_slot = slot
    my_gen = gen
    return 1


@operation
def terminate_worker():
    """TerminateBackgroundWorker() with the handle of this backend's last registration."""
    LWLockAcquire(BackgroundWorkerLock)
    gen = pg_atomic_read_u32(generation[my_slot])
    if gen == my_gen:
        if pg_atomic_read_u32(terminate[my_slot]) == 0:
            pg_atomic_write_u32(terminate[my_slot], 1)
            with ghost:
                term_gen[my_slot] = my_reg[ME]
            request_change(my_slot)
    LWLockRelease(BackgroundWorkerLock)


def backend():
    done = 0
    while done < OPS:
        if register_worker() == 1:
            done += 1
            if choose(2) == 1:
                terminate_worker()


# ---------------------------------------------------------------------------
# Postmaster: no lock, never waits, checks every index it reads.


def forget_worker(slot):
    """ForgetBackgroundWorker(): free the slot and drop the RegisteredBgWorker."""
    global pm_registered, pm_running, pm_rw_terminate, pm_done
    # What the postmaster read from the slot must be read before in_use
    # frees it for reuse (load then store: a full barrier, as bgworker.c
    # has).  Pairs with the backends' read of in_use under the lock.
    pg_memory_barrier()
    pg_atomic_write_u32(in_use[slot], 0)
    with ghost:
        owner[slot] = OWN_FREE
    pm_registered &= ~(1 << slot)
    pm_running &= ~(1 << slot)
    pm_rw_terminate &= ~(1 << slot)
    pm_done += 1


def handle_change(slot):
    """One entry of BackgroundWorkerStateChange's queue."""
    global pm_registered, pm_rw_terminate, pm_done
    pg_atomic_write_u32(queued[slot], 0)
    if not mutation("postmaster-no-full-barrier"):
        # Clear queued before reading the slot: a store then a load, so a
        # full barrier.  Pairs with the backends' pg_memory_barrier() in
        # request_change(): a change we do not see below is enqueued again.
        pg_memory_barrier()
    if pg_atomic_read_u32(in_use[slot]) == 0:
        return  # elog(LOG): a change for a slot not in use
    if not mutation("postmaster-no-read-barrier"):
        # Read the slot's contents only after in_use.  Pairs with the
        # backends' pg_write_barrier() before in_use = true.
        pg_read_barrier()
    if (pm_registered >> slot) & 1:
        if pg_atomic_read_u32(terminate[slot]) != 0:
            with ghost:
                assert_(term_gen[slot] == reg_gen[slot], "registration honoured",
                        "the postmaster marked a worker for termination that nobody asked to terminate")
            pm_rw_terminate |= 1 << slot  # and kill(rw_pid, SIGTERM) if it runs
        return
    if pg_atomic_read_u32(terminate[slot]) != 0:
        with ghost:
            assert_(term_gen[slot] == reg_gen[slot], "registration honoured",
                    "the postmaster freed a registered worker's slot that nobody asked to terminate: "
                    "the worker will never start")
            assert_(owner[slot] == OWN_QUEUED, "exclusive ownership",
                    "the postmaster freed a slot that is not waiting to be registered")
        # Free the slot at once, never registered.
        pg_memory_barrier()
        pg_atomic_write_u32(in_use[slot], 0)
        with ghost:
            owner[slot] = OWN_FREE
        pm_done += 1
        return
    w = pg_atomic_read_u32(worker[slot])
    with ghost:
        assert_(owner[slot] == OWN_QUEUED, "exclusive ownership",
                "the postmaster registered a slot that no backend had handed over")
        owner[slot] = OWN_REGISTERED
        assert_(w == registrant[slot], "queue integrity",
                "the postmaster registered a worker description its registrant did not write")
    pm_registered |= 1 << slot


@operation
def state_change():
    """BackgroundWorkerStateChange(): handle every entry queued so far."""
    tail = pg_atomic_read_u32(cq_tail)
    head = pg_atomic_read_u32(cq_head)
    if not mutation("no-range-check") and (tail >= QSIZE or head >= QSIZE):
        return  # elog(LOG): corrupt queue, ignored (a rogue can jam bgworkers, not the postmaster)
    # Read the entries only after the head that covers them.  Pairs with
    # the backends' pg_write_barrier() in enqueue_change().
    pg_read_barrier()
    while tail != head:
        slot = pg_atomic_read_u32(cq_ring[tail])
        with ghost:
            assert_(slot == q_val[tail], "queue integrity",
                    "the postmaster read a queue entry that was not the one written there")
        tail = (tail + 1) % QSIZE
        pg_atomic_write_u32(cq_tail, tail)
        if mutation("no-range-check") or slot < SLOTS:
            handle_change(slot)


@operation
def reap_worker(slot):
    """A worker exited (CleanupBackgroundWorker, then ForgetBackgroundWorker)."""
    with ghost:
        assert_(owner[slot] == OWN_RUNNING, "exclusive ownership", "the postmaster reaped a slot not running")
    forget_worker(slot)


@operation
def start_workers():
    """maybe_start_bgworkers(): fork a registered worker, or forget it if it was terminated.

    Which registered slot it looks at on this pass is the postmaster's
    choice (or none): every order in which PostgreSQL may start them is
    covered, and there is no loop over the slots that takes no shared-memory
    step (the compiled engine follows such code only by interpretation).
    """
    global pm_running
    slot = choose(SLOTS + 1)
    if slot < SLOTS and (pm_registered >> slot) & 1 and (pm_running >> slot) & 1 == 0:
        if (pm_rw_terminate >> slot) & 1:
            forget_worker(slot)
        else:
            # fork(): a system call, which orders everything before it
            # against everything after.
            pg_memory_barrier()
            with ghost:
                owner[slot] = OWN_RUNNING
            pm_running |= 1 << slot


def postmaster():
    while pm_done < TOTAL:
        # ServerLoop: child exits first.  Any running worker may have exited,
        # or none (choice SLOTS).
        exited = choose(SLOTS + 1)
        if exited < SLOTS and (pm_running >> exited) & 1:
            reap_worker(exited)
        state_change()
        start_workers()


class ChangeQueueFixed(Protocol):
    name = "changequeue-fixed"
    summary = "the 0001 patch fixed: one queue entry per slot at most, barriers for stale entries, range checks"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = (CAPACITY, REGISTRATION, TERMINATION)
    max_slots = 15  # slots are bits of the postmaster's private masks; 2N+1 queue entries
    # The bounds the issue asks for; ci's default sets (3 threads, 2 slots, 2
    # registrations each) take minutes under sc alone (docs/changequeue.md).
    ci_params = ({"threads": 3, "slots": 1, "ops": 2},)
    mutations = {
        "no-queued-flag": Mutation(
            "enqueue on every change, as the patch does: entries for freed slots pile up and the queue of "
            "2N+1 entries fills", breaks=CAPACITY),
        "backend-no-full-barrier": Mutation(
            "backends read queued right after storing in_use/terminate, with no pg_memory_barrier(): the "
            "store may still sit in the store buffer while the postmaster clears queued and reads the slot",
            bug_under=("tso", "weak"), breaks=TERMINATION),
        "postmaster-no-full-barrier": Mutation(
            "the postmaster reads in_use/terminate right after clearing queued, with no pg_memory_barrier()",
            bug_under=("tso", "weak"), breaks=TERMINATION),
        "register-no-write-barrier": Mutation(
            "in_use = true without the pg_write_barrier() before it (as in the patch)",
            bug_under=("weak",), breaks=REGISTRATION),
        "postmaster-no-read-barrier": Mutation(
            "the postmaster reads terminate and the description without pg_read_barrier() after in_use "
            "(as in the patch)", bug_under=("weak",), breaks=REGISTRATION),
        "enqueue-no-write-barrier": Mutation(
            "the enqueue advances head without pg_write_barrier() after writing the entry: the postmaster "
            "reads the entry's old value, and the change it announced is never handled",
            bug_under=("weak",), breaks=TERMINATION),
        "no-range-check": Mutation(
            "the postmaster uses the tail, head and entries it reads unchecked (as in the patch)",
            needs_rogue=True, breaks=PM_SAFETY),
    }

    def declare(self, p, d) -> None:
        declare_common(p, d)
        d.array("queued", p.slots, 0)

    def check_quiescent(self, v) -> None:
        check_slots(v)
