"""What the z3 proofs of the ring need to know, next to the model (models/ring.py).

``checker prove ring --robustness`` makes ``slots`` symbolic: ring.py derives
RING (slots rounded up to a power of two) in Python, so the relation is
stated here for z3.  ``checker prove ring --invariants`` checks the inductive
invariant below (the properties plus the strengthening conjuncts a proof
needs) for every slot count.
"""

# Constants that depend on slots, and how (for z3).  RING sizes the free queue
# (models/ring.py), SQ_RING the shared start queue (models/_startqueue.py):
# both are slots rounded up to a power of two.
SLOT_CONSTANTS = ("SLOTS", "RING", "SQ_RING")
# 32-bit free-running counters and 32-bit slot numbers: nothing narrower
# limits the design; the bound keeps RING (a power of two >= slots) in range.
SLOT_RANGE = (1, 262143)
# Constants that are powers of two (slot_constraints says so): the prover may
# compute ``x % RING`` as ``x & (RING - 1)``.
POWERS_OF_TWO = ("RING", "SQ_RING")
# The two rings have equal lengths, so which constant sizes which region is
# said here rather than guessed from their values.
REGION_LENGTHS = {
    **{r: (lambda c: c["RING"]) for r in ("free_ring", "free_pos", "free_val")},
    **{r: (lambda c: c["SQ_RING"]) for r in ("start_ring", "start_pos", "start_val")},
}


def slot_constraints(c):
    import z3

    slots, ring = c["SLOTS"], c["RING"]
    return [ring != 0, ring & (ring - 1) == 0, z3.ULE(slots, ring), z3.ULT(ring, slots * 2),
            c["SQ_RING"] == ring]


# ---------------------------------------------------------------------------
# The inductive invariant (checker prove ring --invariants)
#
# Statements about ring positions and slot numbers are universally quantified
# (View.each): the prover instantiates them at the positions and slot numbers
# each step touches, so the proof holds for every slot count at once.  The
# range is the model's: the postmaster keeps the running slots in a 32-bit
# private mask (models/ring.py), so the model stops at 32 slots.
INVARIANT_SLOT_RANGE = (1, 32)

# Ghost owner codes (models/ring.py).
FREE, START, RUNNING, POSTMASTER, BACKEND = 1, 2, 3, 4, 8

# Events, by a piece of their source line (see View.at).
B_LOCKED_FREE = ("tail = pg_atomic_read_u32(free_tail)", "head = pg_atomic_read_u32(free_head)",
                 "LWLockRelease(FreeQueueLock)", "pg_read_barrier()", "slot = pg_atomic_read_u32(free_ring",
                 "pg_memory_barrier()", "pg_atomic_write_u32(free_tail")
B_LOCKED_START = ("head = pg_atomic_read_u32(start_head)", "tail = pg_atomic_read_u32(start_tail)",
                  "pg_atomic_write_u32(start_ring", "pg_write_barrier()", "pg_atomic_write_u32(start_head",
                  "LWLockRelease(StartQueueLock)")
PM_REAPING = ("tail = pg_atomic_read_u32(free_tail)", "pg_atomic_write_u32(free_ring", "pg_write_barrier()",
              "pg_atomic_write_u32(free_head")


def invariant(v):
    """Named conjuncts over a symbolic state ``v`` (checker.prove.invariants.View)."""
    import z3

    U = lambda x: z3.BitVecVal(x, 32)  # noqa: E731
    N, R = v.const("SLOTS"), v.const("RING")
    FH, FT, SH, ST = v.word("free_head"), v.word("free_tail"), v.word("start_head"), v.word("start_tail")
    fring, sring, worker = v.array("free_ring"), v.array("start_ring"), v.array("slot_worker")
    own, reg = v.ghost("owner"), v.ghost("registrant")
    fpos, fval, spos, sval = v.ghost("free_pos"), v.ghost("free_val"), v.ghost("start_pos"), v.ghost("start_val")
    pm = v.postmaster
    pmFH, pmST, running = v.local(pm, "pm_free_head"), v.local(pm, "pm_start_tail"), v.local(pm, "pm_running")
    sq_slot = v.local(pm, "start_queued_worker.slot")
    sq_head = v.local(pm, "start_queued_worker.head")
    reap = v.local(pm, "reap_worker.slot")
    nF, nS = FH - FT, SH - pmST

    def bit(s):
        return z3.Extract(0, 0, z3.LShR(running, s)) == 1

    popcount = v.popcount

    def one(c):
        return z3.If(c, U(1), U(0))

    pm_taking = v.at(pm, "pg_memory_barrier()", "pg_atomic_write_u32(start_tail")
    pm_starting = v.at(pm, "worker = pg_atomic_read_u32(slot_worker")
    pm_reaping = v.at(pm, *PM_REAPING)
    pm_reap_held = v.at(pm, "tail = pg_atomic_read_u32(free_tail)", "pg_atomic_write_u32(free_ring")
    pm_free_pending = v.at(pm, "pg_write_barrier()", "pg_atomic_write_u32(free_head")
    pm_reading_entry = v.at(pm, "pg_read_barrier()", "slot = pg_atomic_read_u32(start_ring")

    each, each_pair = v.each, v.each_pair

    def off_free(p):  # how far position p is from the free tail
        return (p - FT) & (R - 1)

    def off_start(p):
        return (p - pmST) & (R - 1)

    def free_live(p):
        return z3.And(z3.ULT(p, R), z3.ULT(off_free(p), nF))

    def start_live(p):
        return z3.And(z3.ULT(p, R), z3.ULT(off_start(p), nS))

    c = []
    add = lambda name, f: c.append((name, f))  # noqa: E731

    # -- counters and the postmaster's private copies --------------------
    add("free queue holds at most slots entries", z3.ULE(nF, N))
    add("start queue holds at most slots entries", z3.ULE(nS, N))
    add("pm_free_head is free_head (one ahead while publishing)",
        pmFH == z3.If(v.at(pm, "pg_atomic_write_u32(free_head"), FH + 1, FH))
    add("pm_start_tail is start_tail (one ahead while releasing the entry)",
        pmST == z3.If(pm_taking, ST + 1, ST))
    add("running mask only has slot bits", z3.LShR(running, N) == 0)

    # -- the free queue ---------------------------------------------------
    claimed = z3.Or(*[v.at(b, "pg_memory_barrier()", "pg_atomic_write_u32(free_tail") for b in v.backends])
    add("free entries: produced for their position, slot numbers, owned by the free queue",
        each(lambda p: z3.And(free_live(p), z3.Not(z3.And(claimed, off_free(p) == 0))),
             lambda p: z3.And(fpos[p] == FT + off_free(p), fval[p] == fring[p], z3.ULT(fring[p], N),
                              own[fring[p]] == FREE)))
    add("free entries are distinct", each_pair(free_live, lambda p, q: fring[p] != fring[q]))

    # -- the start queue --------------------------------------------------
    add("start entries: produced for their position, slot numbers, queued, described by their registrant",
        each(start_live, lambda p: z3.And(spos[p] == pmST + off_start(p), sval[p] == sring[p],
                                          z3.ULT(sring[p], N), own[sring[p]] == START,
                                          worker[sring[p]] == reg[sring[p]])))
    add("start entries are distinct", each_pair(start_live, lambda p, q: sring[p] != sring[q]))

    # -- the postmaster ------------------------------------------------------
    add("after reading the start head: it covers one entry or more",
        z3.Implies(pm_reading_entry, z3.And(sq_head - pmST != 0, z3.ULE(sq_head - pmST, nS))))
    add("a start entry the postmaster took: a queued slot, out of the queue",
        z3.Implies(pm_taking, z3.And(z3.ULT(sq_slot, N), own[sq_slot] == START, worker[sq_slot] == reg[sq_slot],
                                     each(start_live, lambda p: sring[p] != sq_slot))))
    add("a slot being started: running in ghost state, not yet in the mask",
        z3.Implies(pm_starting, z3.And(z3.ULT(sq_slot, N), own[sq_slot] == RUNNING, z3.Not(bit(sq_slot)),
                                       worker[sq_slot] == reg[sq_slot])))
    add("running slots are running (except the one being reaped)",
        each(lambda s: z3.And(z3.ULT(s, N), bit(s), z3.Not(z3.And(pm_reaping, s == reap))),
             lambda s: own[s] == RUNNING))
    add("a slot being reaped is in the mask and held by the postmaster",
        z3.Implies(pm_reaping, z3.And(z3.ULT(reap, N), bit(reap),
                                      z3.Implies(pm_reap_held, own[reap] == POSTMASTER),
                                      z3.Implies(pm_reap_held, v.local(pm, "return_free_slot.slot") == reap))))
    add("a free entry being published: produced for its position, not yet in the queue",
        z3.Implies(pm_free_pending, z3.And(
            fring[FH & (R - 1)] == reap, fpos[FH & (R - 1)] == FH, fval[FH & (R - 1)] == reap, own[reap] == FREE,
            each(free_live, lambda p: fring[p] != reap))))

    # -- backends -------------------------------------------------------------
    in_free = [v.at(b, *B_LOCKED_FREE) for b in v.backends]
    in_start = [v.at(b, *B_LOCKED_START) for b in v.backends]
    c.extend(v.lock_conjuncts("FreeQueueLock", in_free))
    c.extend(v.lock_conjuncts("StartQueueLock", in_start))
    held = []
    for b in v.backends:
        me = U(BACKEND + b)
        t_tail, t_slot = v.local(b, "take_free_slot.tail"), v.local(b, "take_free_slot.slot")
        r_slot, q_slot, q_head = v.local(b, "register_worker.slot"), v.local(b, "queue_for_start.slot"), \
            v.local(b, "queue_for_start.head")
        claim = v.at(b, "pg_memory_barrier()", "pg_atomic_write_u32(free_tail")
        after_claim = v.at(b, "LWLockRelease(FreeQueueLock)", nth=1)
        filling = v.at(b, "pg_atomic_write_u32(slot_worker")
        queuing = v.at(b, "LWLockAcquire(StartQueueLock)", "head = pg_atomic_read_u32(start_head)",
                       "tail = pg_atomic_read_u32(start_tail)", "pg_atomic_write_u32(start_ring")
        publishing = v.at(b, "pg_write_barrier()", "pg_atomic_write_u32(start_head")
        add(f"backend {b}: the tail it read is the free tail",
            z3.Implies(v.at(b, "head = pg_atomic_read_u32(free_head)", "pg_read_barrier()",
                            "slot = pg_atomic_read_u32(free_ring", "pg_memory_barrier()",
                            "pg_atomic_write_u32(free_tail"), t_tail == FT))
        add(f"backend {b}: the free queue it saw non-empty is non-empty",
            z3.Implies(v.at(b, "pg_read_barrier()", "slot = pg_atomic_read_u32(free_ring", "pg_memory_barrier()",
                            "pg_atomic_write_u32(free_tail"), nF != 0))
        add(f"backend {b}: a claimed slot is the entry at the tail, owned by it",
            z3.Implies(claim, z3.And(t_slot == fring[FT & (R - 1)], z3.ULT(t_slot, N), own[t_slot] == me)))
        add(f"backend {b}: a slot it took is owned by it",
            z3.Implies(after_claim, z3.And(z3.ULT(t_slot, N), own[t_slot] == me)))
        add(f"backend {b}: a slot it fills in is owned by it",
            z3.Implies(filling, z3.And(z3.ULT(r_slot, N), own[r_slot] == me)))
        add(f"backend {b}: a slot it queues is owned by it and described by it",
            z3.Implies(queuing, z3.And(z3.ULT(q_slot, N), own[q_slot] == me, worker[q_slot] == reg[q_slot])))
        add(f"backend {b}: the start head it read is current",
            z3.Implies(v.at(b, "tail = pg_atomic_read_u32(start_tail)", "pg_atomic_write_u32(start_ring",
                            "pg_write_barrier()", "pg_atomic_write_u32(start_head"), q_head == SH))
        add(f"backend {b}: an entry being published is produced for its position and not yet queued",
            z3.Implies(publishing, z3.And(
                sring[SH & (R - 1)] == q_slot, spos[SH & (R - 1)] == SH, sval[SH & (R - 1)] == q_slot, z3.ULT(q_slot, N),
                own[q_slot] == START, worker[q_slot] == reg[q_slot],
                each(start_live, lambda p: sring[p] != q_slot),
                z3.Implies(pm_taking, sq_slot != q_slot))))
        # A claimed entry is still between the free queue's tail and head:
        # it is counted there, not here.
        held.append(z3.Or(after_claim, filling, queuing, publishing))
    # -- conservation, counted: every slot is in exactly one place ------------
    # In 64 bits, so that the sum cannot wrap and every term is plainly >= 0.
    def wide(x):
        return z3.ZeroExt(32, x)

    held_n = [wide(one(h)) for h in held]
    places = wide(nF) + wide(nS) + z3.Sum(held_n) + wide(one(pm_taking)) + wide(one(pm_starting)) \
        + z3.ZeroExt(32, popcount(running))  # a slot being reaped keeps its bit until it is free again
    add("every slot is in exactly one place (counted)", places == wide(N))
    return c


def initial(v):
    """The initial state for any slot count in the range (models/ring.py declare())."""
    import z3

    N, R = v.const("SLOTS"), v.const("RING")
    start = -R  # 2^32 - RING
    FT, FH = v.word("free_tail"), v.word("free_head")
    pm = v.postmaster
    fring, fpos, fval = v.array("free_ring"), v.ghost("free_pos"), v.ghost("free_val")
    out = [
        FT == start, FH == start + N, v.word("start_head") == start, v.word("start_tail") == start,
        v.word("FreeQueueLock") == 0, v.word("StartQueueLock") == 0,
        v.local(pm, "pm_free_head") == start + N, v.local(pm, "pm_start_tail") == start,
        v.local(pm, "pm_running") == 0,
        v.at(pm, "head = pg_atomic_read_u32(start_head)"),
    ]

    def off(p):
        return (p - FT) & (R - 1)

    out.append(v.each(lambda p: z3.And(z3.ULT(p, R), z3.ULT(off(p), N)),
                      lambda p: z3.And(fring[p] == off(p), fpos[p] == FT + off(p), fval[p] == off(p))))
    worker, reg = v.array("slot_worker"), v.ghost("registrant")
    out.append(v.each(lambda s: z3.ULT(s, N), lambda s: z3.And(v.ghost("owner")[s] == FREE, worker[s] == reg[s])))
    for b in v.backends:
        out.append(v.at(b, "LWLockAcquire(FreeQueueLock)"))
    return out
