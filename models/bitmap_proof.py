"""What the z3 proofs of bitmap need to know, next to the model (models/bitmap.py)."""

# SQ_RING is the shared start queue's size: slots rounded up to a power of two.
SLOT_CONSTANTS = ("SLOTS", "SQ_RING")
SLOT_RANGE = (1, 262143)
# free_bits has one 32-bit word per 32 slots.
REGION_LENGTHS = {"free_bits": lambda c: __import__("z3").UDiv(c["SLOTS"] + 31, 32)}


def slot_constraints(c):
    import z3

    slots, ring = c["SLOTS"], c["SQ_RING"]
    return [ring != 0, ring & (ring - 1) == 0, z3.ULE(slots, ring), z3.ULT(ring, slots * 2)]


# ---------------------------------------------------------------------------
# The inductive invariant (checker prove bitmap --invariants)
#
# As for the ring (models/ring_proof.py), statements about slot numbers and
# start-queue positions are universally quantified, so the proof covers every
# slot count the model has: up to 31, because the postmaster keeps its running
# slots in a private 32-bit mask, and one word of free bits then suffices.
# The backend's scan loop runs over slot numbers inside one step; the prover
# prunes its paths with the invariant (the scan position is below SLOTS),
# which bounds the loop by 31 iterations.
INVARIANT_SLOT_RANGE = (1, 31)
PRUNE_BRANCHES = True

# Ghost owner codes (models/_startqueue.py).
FREE, START, RUNNING, POSTMASTER, BACKEND = 1, 2, 3, 4, 8

# Events, by a piece of their source line (see View.at).
B_LOCKED_START = ("head = pg_atomic_read_u32(start_head)", "tail = pg_atomic_read_u32(start_tail)",
                  "pg_atomic_write_u32(start_ring", "pg_write_barrier()", "pg_atomic_write_u32(start_head",
                  "LWLockRelease(StartQueueLock)")
# The claim's events: one RMW, or (mutation plain-rmw) a read and a write.
B_CLAIM = ("pg_atomic_fetch_and_u32(free_bits", "old = pg_atomic_read_u32(free_bits",
           "pg_atomic_write_u32(free_bits")


def invariant(v):
    """Named conjuncts over a symbolic state ``v`` (checker.prove.invariants.View)."""
    import z3

    U = lambda x: z3.BitVecVal(x, 32)  # noqa: E731
    N, R = v.const("SLOTS"), v.const("SQ_RING")
    SH, ST = v.word("start_head"), v.word("start_tail")
    bits = v.array("free_bits")[U(0)]  # slots <= 31: one word
    sring, worker = v.array("start_ring"), v.array("slot_worker")
    own, reg = v.ghost("owner"), v.ghost("registrant")
    spos, sval = v.ghost("start_pos"), v.ghost("start_val")
    pm = v.postmaster
    pmST, running = v.local(pm, "pm_start_tail"), v.local(pm, "pm_running")
    sq_slot, sq_head = v.local(pm, "start_queued_worker.slot"), v.local(pm, "start_queued_worker.head")
    reap = v.local(pm, "reap_worker.slot")
    nS = SH - pmST

    def bit(x, s):
        return z3.Extract(0, 0, z3.LShR(x, s)) == 1

    popcount = v.popcount

    def one(c):
        return z3.If(c, U(1), U(0))

    each, each_pair = v.each, v.each_pair

    def off_start(p):
        return (p - pmST) & (R - 1)

    def start_live(p):
        return z3.And(z3.ULT(p, R), z3.ULT(off_start(p), nS))

    def slot(s):
        return z3.ULT(s, N)

    pm_taking = v.at(pm, "pg_memory_barrier()", "pg_atomic_write_u32(start_tail")
    pm_starting = v.at(pm, "worker = pg_atomic_read_u32(slot_worker")
    pm_reaping = v.at(pm, "pg_atomic_fetch_or_u32(free_bits")
    pm_reading_entry = v.at(pm, "pg_read_barrier()", "slot = pg_atomic_read_u32(start_ring")

    c = []
    add = lambda name, f: c.append((name, f))  # noqa: E731

    # -- the bitmap -----------------------------------------------------------
    add("free bits only for slot numbers", z3.LShR(bits, N) == 0)
    add("a slot whose bit is set is free (owned by the bitmap)", each(lambda s: z3.And(slot(s), bit(bits, s)),
                                                                      lambda s: own[s] == FREE))

    # -- the start queue and the postmaster's copies ---------------------------
    add("start queue holds at most slots entries", z3.ULE(nS, N))
    add("pm_start_tail is start_tail (one ahead while releasing the entry)", pmST == z3.If(pm_taking, ST + 1, ST))
    add("running mask only has slot bits", z3.LShR(running, N) == 0)
    add("start entries: produced for their position, slot numbers, queued",
        each(start_live, lambda p: z3.And(spos[p] == pmST + off_start(p), sval[p] == sring[p],
                                          slot(sring[p]), own[sring[p]] == START)))
    add("start entries are distinct", each_pair(start_live, lambda p, q: sring[p] != sring[q]))
    add("queued and running slots are described by their registrant",
        each(lambda s: z3.And(slot(s), z3.Or(own[s] == START, own[s] == RUNNING)), lambda s: worker[s] == reg[s]))

    # -- the postmaster ---------------------------------------------------------
    add("after reading the start head: it covers one entry or more",
        z3.Implies(pm_reading_entry, z3.And(sq_head - pmST != 0, z3.ULE(sq_head - pmST, nS))))
    add("a start entry the postmaster took: a queued slot, out of the queue",
        z3.Implies(pm_taking, z3.And(slot(sq_slot), own[sq_slot] == START,
                                     each(start_live, lambda p: sring[p] != sq_slot))))
    add("a slot being started: running in ghost state, not yet in the mask",
        z3.Implies(pm_starting, z3.And(slot(sq_slot), own[sq_slot] == RUNNING, z3.Not(bit(running, sq_slot)))))
    add("slots in the running mask are running (except the one being reaped)",
        each(lambda s: z3.And(slot(s), bit(running, s), z3.Not(z3.And(pm_reaping, s == reap))),
             lambda s: own[s] == RUNNING))
    add("a slot being reaped is in the mask, held by the postmaster, the one freed",
        z3.Implies(pm_reaping, z3.And(slot(reap), bit(running, reap), own[reap] == POSTMASTER,
                                      v.local(pm, "return_free_slot.slot") == reap)))

    # -- backends -----------------------------------------------------------------
    in_start = [v.at(b, *B_LOCKED_START) for b in v.backends]
    c.extend(v.lock_conjuncts("StartQueueLock", in_start))
    held = []
    for b in v.backends:
        me = U(BACKEND + b)
        scan = v.local(b, "take_free_slot.slot")
        c_slot = v.local(b, "claim.slot")
        r_slot, q_slot = v.local(b, "register_worker.slot"), v.local(b, "queue_for_start.slot")
        q_head = v.local(b, "queue_for_start.head")
        filling = v.at(b, "pg_atomic_write_u32(slot_worker")
        queuing = v.at(b, "LWLockAcquire(StartQueueLock)", "head = pg_atomic_read_u32(start_head)",
                       "tail = pg_atomic_read_u32(start_tail)", "pg_atomic_write_u32(start_ring")
        publishing = v.at(b, "pg_write_barrier()", "pg_atomic_write_u32(start_head")
        add(f"backend {b}: a scan starts at slot 0",
            z3.Implies(v.at(b, "bits = pg_atomic_read_u32(free_bits"), scan == 0))
        add(f"backend {b}: a claim is of the scanned slot number, with its word and bit",
            z3.Implies(v.at(b, *B_CLAIM), z3.And(
                slot(scan), c_slot == scan, v.local(b, "claim.word") == z3.LShR(scan, 5),
                v.local(b, "claim.bit") == U(1) << (scan & 31))))
        add(f"backend {b}: a slot it fills in is owned by it",
            z3.Implies(filling, z3.And(slot(r_slot), own[r_slot] == me)))
        add(f"backend {b}: a slot it queues is owned by it and described by it",
            z3.Implies(queuing, z3.And(slot(q_slot), own[q_slot] == me, worker[q_slot] == reg[q_slot])))
        add(f"backend {b}: the start head it read is current",
            z3.Implies(v.at(b, "tail = pg_atomic_read_u32(start_tail)", "pg_atomic_write_u32(start_ring",
                            "pg_write_barrier()", "pg_atomic_write_u32(start_head"), q_head == SH))
        add(f"backend {b}: an entry being published is produced for its position and not yet queued",
            z3.Implies(publishing, z3.And(
                sring[SH & (R - 1)] == q_slot, spos[SH & (R - 1)] == SH, sval[SH & (R - 1)] == q_slot,
                slot(q_slot), own[q_slot] == START, worker[q_slot] == reg[q_slot],
                each(start_live, lambda p: sring[p] != q_slot),
                z3.Implies(pm_taking, sq_slot != q_slot))))
        held.append(z3.Or(filling, queuing, publishing))

    # -- conservation, counted: every slot is in exactly one place ---------------
    # With the conjuncts above (each place names the slot's owner code, queue
    # entries are distinct), the count makes the places a partition.  In 64
    # bits, so that the sum cannot wrap.
    def wide(x):
        return z3.ZeroExt(32, x)

    # Free bits and running bits are disjoint, so one count covers both; and
    # freeing a slot moves its bit from one mask to the other in one step,
    # which leaves their union, and so the count, unchanged.
    add("no slot is both free and running", bits & running == 0)
    places = wide(nS) + z3.Sum([wide(one(h)) for h in held]) + wide(one(pm_taking)) + wide(one(pm_starting)) \
        + wide(popcount(bits | running))  # a slot being reaped keeps its running bit until freed
    add("every slot is in exactly one place (counted)", places == wide(N))
    return c


def initial(v):
    """The initial state for any slot count in the range (models/bitmap.py declare())."""
    import z3

    U = lambda x: z3.BitVecVal(x, 32)  # noqa: E731
    N, R = v.const("SLOTS"), v.const("SQ_RING")
    start = -R  # 2^32 - SQ_RING
    pm = v.postmaster
    out = [
        v.array("free_bits")[U(0)] == (U(1) << N) - 1,
        v.word("start_head") == start, v.word("start_tail") == start, v.word("StartQueueLock") == 0,
        v.local(pm, "pm_start_tail") == start, v.local(pm, "pm_running") == 0,
        v.at(pm, "head = pg_atomic_read_u32(start_head)"),
    ]
    out.append(v.each(lambda s: z3.ULT(s, N), lambda s: v.ghost("owner")[s] == FREE))
    for b in v.backends:
        out += [v.at(b, "bits = pg_atomic_read_u32(free_bits"), v.local(b, "take_free_slot.slot") == 0]
    return out
