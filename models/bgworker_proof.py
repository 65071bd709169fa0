"""What the z3 proofs of bgworker need to know, next to the model (models/bgworker.py).

Today's design: the postmaster scans every slot (BackgroundWorkerStateChange),
so an operation takes a number of steps that grows with slots.  The
robustness proof (every value read, a bounded scan) is therefore stated for a
slot range whose scan fits the step bound: 1 <= slots <= 8 within 64 steps.
The inductive invariant (``checker prove bgworker --invariants``) has no such
limit: both scans take one step per slot, so no step loops over slot numbers.
"""

SLOT_RANGE = (1, 8)

# ---------------------------------------------------------------------------
# The inductive invariant (checker prove bgworker --invariants)
#
# There is no queue and no free list: a slot's state is its in_use flag, its
# ghost owner code and its bit in the postmaster's private pm_running mask.
# So, unlike the ring and the bitmap, no counting conjunct is needed: every
# slot number is related to those three by universally quantified conjuncts
# (View.each), which the prover instantiates at the slots each step touches,
# and the proof covers every slot count the model has (up to 31: the slots
# are bits of a 32-bit mask, models/bgworker.py max_slots).
INVARIANT_SLOT_RANGE = (1, 31)

# Ghost owner codes (models/bgworker.py).
FREE, REGISTERED, RUNNING, BACKEND = 1, 2, 3, 8

# Events, by a piece of their source line (see View.at).
B_SEARCH = ("if pg_atomic_read_u32(in_use[slot]) == 0",)
B_FILL = ("pg_atomic_write_u32(worker[slot]", "pg_atomic_write_u32(notify_pid[slot]",
          "gen = pg_atomic_read_u32(generation[slot])", "pg_atomic_write_u32(generation[slot]",
          "pg_write_barrier()", "pg_atomic_write_u32(in_use[slot], 1)")
B_LOCKED = B_SEARCH + B_FILL + ("LWLockRelease(BackgroundWorkerLock)",)
PM_SCAN = "!= 0 and (pm_running >> slot) & 1 == 0"
PM_STARTING = ("w = pg_atomic_read_u32(worker[slot])", "pid = pg_atomic_read_u32(notify_pid[slot])",
               "pg_memory_barrier()")
PM_REAP_READ = "pid = pg_atomic_read_u32(notify_pid[slot])"
PM_REAP_BARRIER = "pg_memory_barrier()"
PM_REAP_FREE = "pg_atomic_write_u32(in_use[slot], 0)"
PM_SIGNAL = "pg_atomic_write_u32(signalled, pid)"


def invariant(v):
    """Named conjuncts over a symbolic state ``v`` (checker.prove.invariants.View)."""
    import z3

    U = lambda x: z3.BitVecVal(x, 32)  # noqa: E731
    N = v.const("SLOTS")
    in_use, worker, notify = v.array("in_use"), v.array("worker"), v.array("notify_pid")
    own, reg, run_by = v.ghost("owner"), v.ghost("registrant"), v.ghost("run_by")
    pm = v.postmaster
    running = v.local(pm, "pm_running")
    scan, scan_w = v.local(pm, "scan_slots.slot"), v.local(pm, "scan_slots.w")
    reap, reap_pid = v.local(pm, "reap_worker.slot"), v.local(pm, "reap_worker.pid")

    def bit(s):
        return z3.Extract(0, 0, z3.LShR(running, s)) == 1

    def slot(s):
        return z3.ULT(s, N)

    each = v.each

    # The postmaster's positions.  scan_slots() and reap_worker() both have a
    # "pg_memory_barrier()" and a read of notify_pid[slot]: nth tells them
    # apart (scan_slots() comes first in program order; with release-no-barrier
    # reap_worker() has no barrier, and nth=1 names no event).
    pm_scanning = v.at(pm, PM_SCAN)
    pm_checking = v.at(pm, "pg_read_barrier()")
    pm_starting = z3.Or(v.at(pm, PM_STARTING[0]), v.at(pm, PM_STARTING[1], nth=0), v.at(pm, PM_STARTING[2], nth=0))
    pm_reading_w = v.at(pm, PM_STARTING[1], nth=0)
    pm_reap_held = z3.Or(v.at(pm, PM_REAP_READ, nth=1), v.at(pm, PM_REAP_BARRIER, nth=1), v.at(pm, PM_REAP_FREE))
    pm_reap_read = z3.Or(v.at(pm, PM_REAP_BARRIER, nth=1), v.at(pm, PM_REAP_FREE))
    pm_signalling = v.at(pm, PM_SIGNAL)

    fills = {b: v.at(b, *B_FILL) for b in v.backends}
    slot_of = {b: v.local(b, "register_worker.slot") for b in v.backends}

    c = []
    add = lambda name, f: c.append((name, f))  # noqa: E731

    # -- every slot: owner code, in_use flag and running bit agree -------------
    # A backend's search trusts in_use == 0 to mean "free" (EXCLUSIVE in
    # register_worker), the postmaster's scan trusts in_use != 0 with the bit
    # clear to mean "registered, not started" (EXCLUSIVE in scan_slots): both
    # need the flag tied to the owner code.  A slot a backend fills in is
    # still in_use == 0; the lock (below) keeps other backends off it.
    def owned_by_filler(s):
        return z3.Or(*[z3.And(own[s] == BACKEND + b, fills[b], slot_of[b] == s) for b in v.backends])

    add("a slot is free, registered, running, or being filled in by the backend at it",
        each(slot, lambda s: z3.Or(own[s] == FREE, own[s] == REGISTERED, own[s] == RUNNING, owned_by_filler(s))))
    add("in_use is set exactly for registered and running slots",
        each(slot, lambda s: in_use[s] == z3.If(z3.Or(own[s] == REGISTERED, own[s] == RUNNING), U(1), U(0))))
    # The running bit is set from the fork (after the contents were read) to
    # the end of reap_worker() (after in_use was cleared and the registrant
    # signalled): two windows where bit and owner disagree, both the
    # postmaster's own.  Conservation (check_quiescent) is this at rest.
    add("the running bit is set exactly for running slots (except while starting or being reaped)",
        each(slot, lambda s: bit(s) == z3.Or(z3.And(own[s] == RUNNING, z3.Not(z3.And(pm_starting, s == scan))),
                                            z3.And(pm_signalling, s == reap))))

    # -- every slot: what its description says --------------------------------
    # INTEGRITY (the postmaster reads the registrant's worker and pid) and
    # NOTIFY (it signals the pid of the backend that registered the worker).
    add("registered slots are described by their registrant",
        each(slot, lambda s: z3.Implies(own[s] == REGISTERED, z3.And(worker[s] == reg[s], notify[s] == reg[s]))))
    add("running slots are described by the backend they run for",
        each(slot, lambda s: z3.Implies(own[s] == RUNNING, z3.And(worker[s] == run_by[s],
                                                                  notify[s] == run_by[s]))))

    # -- the postmaster ----------------------------------------------------------
    add("the scan position is a slot number", z3.Implies(z3.Or(pm_scanning, pm_checking, pm_starting), slot(scan)))
    add("a slot the scan found in use and not running is registered",
        z3.Implies(pm_checking, own[scan] == REGISTERED))
    add("a slot being started is running in ghost state",
        z3.Implies(pm_starting, own[scan] == RUNNING))
    add("the worker the postmaster read is the one the slot runs for",
        z3.Implies(pm_reading_w, scan_w == run_by[scan]))
    # Until in_use is cleared the slot is the postmaster's; after that a
    # backend may take it and rewrite notify_pid, so what is signalled must
    # be the pid read before (NOTIFY), and run_by is only the postmaster's.
    add("a slot being reaped is a running slot number",
        z3.Implies(pm_reap_held, z3.And(slot(reap), own[reap] == RUNNING)))
    add("the pid read for a reaped slot is the backend it ran for",
        z3.Implies(z3.Or(pm_reap_read, pm_signalling), reap_pid == run_by[reap]))
    # reap_worker() clears the bit after signalling: the slot must not be
    # running again by then (only this postmaster could start it).
    add("a slot being signalled for is freed, not running",
        z3.Implies(pm_signalling, z3.And(slot(reap), own[reap] != RUNNING)))

    # -- backends and BackgroundWorkerLock ----------------------------------------
    # The search trusts in_use == 0 only because no other backend is filling
    # a slot in at the same time: the lock makes that so.
    locked = [v.at(b, *B_LOCKED) for b in v.backends]
    c.extend(v.lock_conjuncts("BackgroundWorkerLock", locked))
    for b in v.backends:
        me, s = U(b), slot_of[b]  # a backend's ME is its thread id
        add(f"backend {b}: the search position is a slot number", z3.Implies(v.at(b, *B_SEARCH), slot(s)))
        add(f"backend {b}: a slot it fills in is owned by it", z3.Implies(fills[b], z3.And(slot(s),
                                                                                       own[s] == BACKEND + b)))
        # What it has written so far: the slot is registered only once all
        # of it is there (INTEGRITY and NOTIFY via the conjuncts above).
        add(f"backend {b}: the worker it wrote", z3.Implies(v.at(b, *B_FILL[1:]), worker[s] == me))
        add(f"backend {b}: the notify pid it wrote", z3.Implies(v.at(b, *B_FILL[2:]), notify[s] == me))
        add(f"backend {b}: it is the registrant", z3.Implies(v.at(b, *B_FILL[4:]), reg[s] == me))
    return c


def initial(v):
    """The initial state for any slot count in the range (models/bgworker.py declare())."""
    import z3

    N = v.const("SLOTS")
    pm = v.postmaster
    out = [
        v.word("BackgroundWorkerLock") == 0, v.local(pm, "pm_running") == 0,
        v.at(pm, PM_SCAN), v.local(pm, "scan_slots.slot") == 0,
        v.each(lambda s: z3.ULT(s, N), lambda s: z3.And(v.ghost("owner")[s] == FREE, v.array("in_use")[s] == 0)),
    ]
    for b in v.backends:
        out.append(v.at(b, "LWLockAcquire(BackgroundWorkerLock)"))
    return out
