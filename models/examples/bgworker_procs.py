"""bgworker with processes: today's bgworker.c with workers forked, reaped and signalled.

The shipped ``bgworker`` model (models/bgworker.py) squeezes a worker's life
into a ``choose()`` inside the postmaster, lets the postmaster poll every
slot on every pass and keeps its list of running workers in a bitmask.  This
example is the same protocol, event for event in shared memory, in the shape
PostgreSQL has it:

* a backend registers a worker under BackgroundWorkerLock
  (RegisterDynamicBackgroundWorker) and then signals the postmaster
  (SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE));
* the postmaster's server loop handles child exits first (the reaper:
  ForgetBackgroundWorker and ReportBackgroundWorkerExit for a worker that
  exited), then the signal (BackgroundWorkerStateChange, which scans every
  slot), and forks a worker process for each slot it registered
  (``start_worker``);
* its per-slot bookkeeping (BackgroundWorkerList: is the slot's worker
  running) is a private array;
* a worker is a process that exits whenever it likes (here: at once).

The three mutations are the shipped model's, and are caught where it catches
them: under weak memory only.  Its C twin is ``bgworker-procs``
(refimpl/c/slot_bgworker.c with slot_bgworker_procs_workload.c), which
``checker replay`` runs with a thread per worker process slot.  Not shipped
yet (no TLA+ spec or proof for this shape: see docs/protocols.md,
"bgworker"):

    checker explore models/examples/bgworker_procs.py -m weak --threads 3 --slots 2 --ops 1
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


def worker():
    # The worker's own work touches no slot; it may exit at once.
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
                    # reused: a load then a store, so a full barrier.  Pairs
                    # with the backend's read of in_use under the lock.
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


class BgWorkerProcs(Protocol):
    name = "bgworker-procs"
    summary = "bgworker with worker processes, the postmaster's signal and its private list (an example)"
    roles = {"postmaster": postmaster, "backend": backend, "worker": worker}
    properties = (EXCLUSIVE, CONSERVATION, INTEGRITY, NOTIFY, PM_SAFETY, WAIT_FREEDOM, DEADLOCK)
    mutations = {
        "release-no-barrier": Mutation("the postmaster clears in_use with no barrier after reading the slot",
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
