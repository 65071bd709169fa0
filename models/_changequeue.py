"""What ``changequeue`` (the 0001 patch as written) and ``changequeue-fixed`` share.

Both keep PostgreSQL's ``BackgroundWorkerSlot`` (``in_use``, ``terminate``,
``generation``, ``pid``, the worker description, here reduced to who asked
for it) and add the patch's shared queue of slot numbers: ``QSIZE = 2N + 1``
entries (N = max_worker_processes = ``--slots``) with a head that backends
advance under BackgroundWorkerLock and a tail that the postmaster advances
without a lock.  Head and tail are indexes in ``0..QSIZE-1`` (not
free-running counters), as in the patch.

The postmaster's private bookkeeping (its list of RegisteredBgWorker) is kept
in bitmasks, one bit per slot, because the language has no private arrays
yet: ``pm_registered`` (a RegisteredBgWorker exists for the slot),
``pm_running`` (its process was forked), ``pm_rw_terminate`` (its
``rw_terminate``).  A worker role (issue 15, section 1) would replace the
bitmasks with private arrays and the ``choose()`` below with child-exit
events.

Ghost state follows each registration: ``owner[s]`` says who holds slot s,
``reg_gen[s]`` counts the registrations of s (bumped with the store of
``in_use = true``, so that it moves exactly when the postmaster can first see
the new registration), ``term_gen[s]`` is the registration a backend asked to
terminate, ``registrant[s]`` the backend whose description the slot holds, ``my_reg[b]``
the registration backend b's handle names.
``q_val[p]`` is the slot number last written at queue position p.

The programs below are the code the patch and its fix share; each model
imports them and supplies, found by name in its own module when the checker
compiles it:

* ``register_worker()`` (backend): RegisterDynamicBackgroundWorker, where
  the two differ in the barrier before ``in_use = true``;
* ``request_change(slot)`` (backend, BackgroundWorkerLock held): make sure an
  entry for the slot waits in the queue (the patch: ``enqueue_change``);
* ``handle_change(slot)`` (postmaster): one queue entry, up to the read of
  ``in_use`` (the fix clears ``queued`` first and reads with barriers), then
  :func:`handle_slot_in_use`;
* ``state_change()`` (postmaster): BackgroundWorkerStateChange's loop over
  the queue (the fix range-checks what it reads).
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from __future__ import annotations

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, choose, ghost, mutation, operation, pg_atomic_read_u32,
    pg_atomic_write_u32, pg_memory_barrier, pg_write_barrier,
)
from checker.model import CONSERVATION, Violation

# The patch's mistake a model may declare as its own mutation (the fix does
# not: there the generation check is always compiled).  checker/ir.py reads
# this name.
OPTIONAL_MUTATIONS = ("terminate-no-generation-check",)

# Where a slot is, in ghost state (owner[slot]).
OWN_FREE = 1
OWN_QUEUED = 2  # in_use, the postmaster has no RegisteredBgWorker for it yet
OWN_REGISTERED = 3  # the postmaster has a RegisteredBgWorker, not started
OWN_RUNNING = 4  # its process runs
OWN_BACKEND = 8  # + backend number: being filled in under BackgroundWorkerLock

INVALID_PID = 0

# The properties the patch needs beyond the shipped ones.
CAPACITY = "queue capacity"
REGISTRATION = "registration honoured"
TERMINATION = "terminate delivered"
PROPERTY_TEXT = {
    CAPACITY: "an enqueue never finds the queue full (the patch's Assert(head != tail))",
    REGISTRATION: "a registered worker is started unless its registrant asked to terminate it",
    TERMINATION: "a terminate request for a live worker reaches the postmaster",
}


# ---------------------------------------------------------------------------
# Backends


def register_worker():  # pragma: no cover - each model defines its own
    return 0


def request_change(slot):  # pragma: no cover - each model defines its own
    return


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
    if ASSERTS:
        # Assert(head != tail): a branch on the load, so the store of the
        # head below is not performed before the load (no store is
        # performed before an earlier branch is resolved), as in C.
        tail = pg_atomic_read_u32(cq_tail)
        if head == tail:
            with ghost:
                assert_(head != tail, "queue capacity",
                        "Assert(head != tail) failed: the change queue of 2N+1 entries is full")
    pg_atomic_write_u32(cq_head, head)


@operation
def terminate_worker():
    """TerminateBackgroundWorker() with the handle of this backend's last registration."""
    LWLockAcquire(BackgroundWorkerLock)
    gen = pg_atomic_read_u32(generation[my_slot])
    if mutation("terminate-no-generation-check") or gen == my_gen:
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
# Postmaster: no lock, never waits.


def handle_change(slot):  # pragma: no cover - each model defines its own
    return


def state_change():  # pragma: no cover - each model defines its own
    return


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


def handle_slot_in_use(slot):
    """The rest of one entry, for a slot the postmaster has seen in use."""
    global pm_registered, pm_rw_terminate, pm_done
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
        # Free the slot at once, never registered.  What was read from the
        # slot must be read before in_use frees it (load then store: a full
        # barrier, as bgworker.c has).  Pairs with the backends' read of
        # in_use under the lock.
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


# ---------------------------------------------------------------------------
# Declarations and the quiescent check


def queue_size(slots: int) -> int:
    return 2 * slots + 1


def declare_common(p, d) -> None:
    q = queue_size(p.slots)
    d.constant("QSIZE", q)
    d.constant("TOTAL", p.backends * p.ops)
    d.constant("INVALID_PID", INVALID_PID)
    for k, v in (("OWN_FREE", OWN_FREE), ("OWN_QUEUED", OWN_QUEUED), ("OWN_REGISTERED", OWN_REGISTERED),
                 ("OWN_RUNNING", OWN_RUNNING), ("OWN_BACKEND", OWN_BACKEND)):
        d.constant(k, v)
    d.array("in_use", p.slots, 0)
    d.array("terminate", p.slots, 0)
    d.array("generation", p.slots, 0)
    d.array("pid", p.slots, 0)
    d.array("worker", p.slots, 0)
    d.word("cq_head", 0)
    d.word("cq_tail", 0)
    d.array("cq_ring", q, 0)
    d.lock("BackgroundWorkerLock")
    d.private_var("backend", "my_slot", 0)
    d.private_var("backend", "my_gen", 0)
    for name in ("pm_registered", "pm_running", "pm_rw_terminate", "pm_done"):
        d.private_var("postmaster", name, 0)
    d.ghost_array("owner", p.slots, OWN_FREE)
    d.ghost_array("reg_gen", p.slots, 0)
    d.ghost_array("term_gen", p.slots, 0xFFFFFFFF)
    d.ghost_array("registrant", p.slots, 0)
    d.ghost_array("my_reg", p.threads, 0)  # per backend: the registration its handle names
    d.ghost_array("q_val", q, 0)


def queued_entries(v) -> list[int] | None:
    """The slot numbers between tail and head, or None if they are out of range."""
    q = v.system.constants["QSIZE"]
    head, tail = v.word("cq_head"), v.word("cq_tail")
    if head >= q or tail >= q:
        return None
    ring = v.array("cq_ring")
    out = []
    while tail != head:
        out.append(ring[tail])
        tail = (tail + 1) % q
    return out


def check_slots(v) -> None:
    """Every slot in one place, and nothing a backend handed over forgotten.

    Runs when every thread is between operations.  A slot that is in use,
    unknown to the postmaster and named by no queue entry will never be
    looked at again: its registration is lost (and the slot leaked).  A
    terminate request for a live registration that no entry names and that
    the postmaster has not recorded in ``rw_terminate`` is lost too.
    """
    slots = v.system.params.slots
    entries = queued_entries(v)
    if entries is None:
        raise Violation(CONSERVATION, "the change queue's head or tail is out of range")
    in_use, owner = v.array("in_use"), v.ghost("owner")
    reg_gen, term_gen = v.ghost("reg_gen"), v.ghost("term_gen")
    pm = v.threads_of("postmaster")[0]
    registered, running = v.local(pm, "pm_registered"), v.local(pm, "pm_running")
    rw_terminate = v.local(pm, "pm_rw_terminate")
    for s in range(slots):
        bit = 1 << s
        if (owner[s] == OWN_FREE) != (in_use[s] == 0):
            raise Violation(CONSERVATION, f"slot {s} has in_use = {in_use[s]} but belongs to "
                            f"{'nobody' if owner[s] == OWN_FREE else 'a registration'}")
        if running & bit and not registered & bit:
            raise Violation(CONSERVATION, f"slot {s} runs a worker the postmaster has not registered")
        if owner[s] == OWN_QUEUED and s not in entries:
            raise Violation(REGISTRATION, f"slot {s} holds a registered worker that the postmaster does not "
                            "know and no queue entry names: it will never start (and the slot is leaked)")
        if (owner[s] in (OWN_REGISTERED, OWN_RUNNING) and term_gen[s] == reg_gen[s]
                and not rw_terminate & bit and s not in entries):
            raise Violation(TERMINATION, f"the terminate request for slot {s}'s worker was lost: "
                            "no queue entry names the slot and the postmaster never saw it")
