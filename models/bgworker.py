"""bgworker: the design PostgreSQL ships today (src/backend/postmaster/bgworker.c).

Each ``BackgroundWorkerSlot`` has ``in_use``, a generation and the worker's
description, including ``bgw_notify_pid``, the backend to tell when the
worker's state changes.  There is no free list:

* a backend, holding BackgroundWorkerLock, searches the array linearly for a
  slot with ``!in_use``, fills it in, bumps its generation, issues
  ``pg_write_barrier()`` and only then sets ``in_use``
  (RegisterDynamicBackgroundWorker); after releasing the lock it signals
  the postmaster (SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE));
* the postmaster's server loop handles child exits first (the reaper): for
  a worker that exited it reads what it still needs from the slot (here the
  pid to notify), issues ``pg_memory_barrier()``, clears ``in_use`` and then
  signals the pid it read (ForgetBackgroundWorker and
  ReportBackgroundWorkerExit);
* then it takes the signal and, if it was sent, scans every slot without a
  lock; for an in-use one it has not started it issues
  ``pg_read_barrier()`` before reading the contents
  (BackgroundWorkerStateChange), and forks the worker (``start_worker``);
* its per-slot bookkeeping (BackgroundWorkerList: is the slot's worker
  running) is a private array;
* a worker is a process that exits whenever it likes (here: at once); the
  kernel reports the exit to the postmaster as a child exit.

No start queue: the in-use flag is the hand-over.  The signal to the
registrant is modelled as a store of the pid into ``signalled`` (the kill()
the postmaster sends); ghost state checks it is the backend that registered
the exiting worker.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    LWLockAcquire, LWLockRelease, assert_, child_exited, ghost, mutation, operation, pg_atomic_read_u32,
    pg_atomic_write_u32, pg_memory_barrier, pg_read_barrier, pg_write_barrier, signal_postmaster, start_worker,
    take_signal,
)
from checker.model import (
    CONSERVATION, DEADLOCK, EXCLUSIVE, INTEGRITY, NOTIFY, PM_SAFETY, WAIT_FREEDOM, Mutation, Protocol, Violation,
)

OWN_FREE = 1
OWN_REGISTERED = 2  # in use, not yet started
OWN_RUNNING = 3
OWN_BACKEND = 8  # + backend number: filling it in under the lock


@operation
def register_worker():
    """RegisterDynamicBackgroundWorker(): returns 1 if a slot was found."""
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
    pg_atomic_write_u32(notify_pid[slot], ME)
    gen = pg_atomic_read_u32(generation[slot])
    pg_atomic_write_u32(generation[slot], gen + 1)
    with ghost:
        registrant[slot] = ME
    if not mutation("register-no-write-barrier"):
        # The contents must be visible before in_use.  Pairs with the
        # postmaster's pg_read_barrier() in scan_slots().
        pg_write_barrier()
    pg_atomic_write_u32(in_use[slot], 1)
    with ghost:
        owner[slot] = OWN_REGISTERED
    LWLockRelease(BackgroundWorkerLock)
    # SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE): kill() after
    # the flag, a full barrier.
    signal_postmaster(bgworker_change)
    return 1


def backend():
    done = 0
    while done < OPS:
        done += register_worker()


def background_worker():
    """The worker process (BackgroundWorkerMain): its own work touches no slot; it may exit at once."""
    return


@operation
def reap_children():
    """The reaper: a worker that exited is forgotten, its slot freed, its registrant signalled."""
    global pm_done
    for slot in range(SLOTS):
        running = pm_running[slot]
        if running == 1:
            if child_exited(slot):
                pid = pg_atomic_read_u32(notify_pid[slot])
                if not mutation("release-no-barrier"):
                    # The slot must be read before in_use says it may be
                    # reused: a load then a store, so a full barrier (a write
                    # barrier orders stores only).  Pairs with the backend's
                    # read of in_use under the lock.
                    pg_memory_barrier()
                pg_atomic_write_u32(in_use[slot], 0)
                with ghost:
                    owner[slot] = OWN_FREE
                # kill(pid, SIGUSR1)
                pg_atomic_write_u32(signalled, pid)
                with ghost:
                    assert_(pid == run_by[slot], "notify integrity",
                            "the postmaster signalled a backend other than the one that registered this worker")
                pm_running[slot] = 0
                pm_done += 1


@operation
def scan_slots():
    """BackgroundWorkerStateChange(): register and start every in-use slot not yet started."""
    for slot in range(SLOTS):
        running = pm_running[slot]
        if pg_atomic_read_u32(in_use[slot]) != 0 and running == 0:
            if not mutation("scan-no-read-barrier"):
                # Read the contents only after seeing in_use.  Pairs with the
                # backend's pg_write_barrier() in register_worker().
                pg_read_barrier()
            with ghost:
                assert_(owner[slot] == OWN_REGISTERED, "exclusive ownership",
                        "the postmaster started a slot that is not registered")
                owner[slot] = OWN_RUNNING
                run_by[slot] = registrant[slot]
            w = pg_atomic_read_u32(worker[slot])
            pid = pg_atomic_read_u32(notify_pid[slot])
            with ghost:
                # Apart from the hand-over above: under weak memory this
                # check waits for the loads, the hand-over must not.
                assert_(w == run_by[slot] and pid == run_by[slot], "queue integrity",
                        "the postmaster read a slot description that its registrant did not write")
            pm_running[slot] = 1
            # fork(): a full barrier, ordering the reads above before
            # everything after.
            start_worker(slot)


@operation
def handle_signals():
    if take_signal(bgworker_change):
        scan_slots()


def postmaster():
    while pm_done < TOTAL:
        reap_children()
        handle_signals()


class BgWorker(Protocol):
    name = "bgworker"
    summary = ("today's PostgreSQL: in_use flags, backends search under BackgroundWorkerLock and signal, "
               "the postmaster reaps, scans and forks")
    roles = {"postmaster": postmaster, "backend": backend, "worker": background_worker}
    properties = (EXCLUSIVE, CONSERVATION, INTEGRITY, NOTIFY, PM_SAFETY, WAIT_FREEDOM, DEADLOCK)
    mutations = {
        "release-no-barrier": Mutation("the postmaster clears in_use with no barrier after reading the slot "
                                       "(before commit 30d8bad494): the read of the notify pid can be "
                                       "performed after the slot was reused, so the new registrant is signalled",
                                       bug_under=("weak",), breaks=NOTIFY),
        "register-no-write-barrier": Mutation("backends set in_use without pg_write_barrier() after filling in "
                                              "the slot", bug_under=("weak",), breaks=INTEGRITY),
        "scan-no-read-barrier": Mutation("the postmaster reads an in-use slot's contents without "
                                         "pg_read_barrier()", bug_under=("weak",), breaks=INTEGRITY),
    }

    def declare(self, p, d) -> None:
        d.constant("TOTAL", p.backends * p.ops)
        for k, v in (("OWN_FREE", OWN_FREE), ("OWN_REGISTERED", OWN_REGISTERED), ("OWN_RUNNING", OWN_RUNNING),
                     ("OWN_BACKEND", OWN_BACKEND)):
            d.constant(k, v)
        d.array("in_use", p.slots, 0)
        d.array("generation", p.slots, 0)
        d.array("notify_pid", p.slots, 0)
        d.array("worker", p.slots, 0)
        d.word("signalled", 0)
        d.lock("BackgroundWorkerLock")
        d.signal("bgworker_change")
        d.private_var("postmaster", "pm_done", 0)
        d.private_array("postmaster", "pm_running", p.slots, 0)
        d.ghost_array("owner", p.slots, OWN_FREE)
        d.ghost_array("registrant", p.slots, 0)
        d.ghost_array("run_by", p.slots, 0)

    def check_quiescent(self, v) -> None:
        flags = v.array("in_use")
        running = v.private_array(0, "pm_running")
        for s, used in enumerate(flags):
            if not used and running[s]:
                raise Violation(CONSERVATION, f"slot {s} is free while its worker runs")
            if used and v.ghost("owner")[s] == OWN_FREE:
                raise Violation(CONSERVATION, f"slot {s} is in use but belongs to nobody (leaked)")
