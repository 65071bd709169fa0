------------------------------- MODULE Bitmap -------------------------------
(***************************************************************************)
(* Idea #4 of the pgsql-hackers message: one bit per free slot.            *)
(*                                                                         *)
(* A slot is free while its bit in the shared word free_bits is set.  The  *)
(* postmaster frees a slot with one pg_atomic_fetch_or_u32 and trusts      *)
(* nothing it reads; a backend reads the word, and claims the first set    *)
(* bit with pg_atomic_fetch_and_u32, keeping the slot only if the old      *)
(* value it gets back still had the bit (another backend may have claimed  *)
(* it since the read); if not, it goes on scanning the word it read.       *)
(*                                                                         *)
(* Filled-in slots reach the postmaster through the start queue shared by  *)
(* every design (models/_startqueue.py): a ring that backends produce      *)
(* under StartQueueLock and the postmaster consumes without a lock,        *)
(* range-checking the head and every entry.                                *)
(*                                                                         *)
(* This module is the TLA+ twin of models/bitmap.py under sequential       *)
(* consistency, written like Ring.tla (read its header): one action per    *)
(* shared-memory event, the local code after an event folded into its      *)
(* action, dead locals reset to 0, pm_steps counting the postmaster's      *)
(* steps in its current operation, and the model's ghost assertions        *)
(* recorded in `failed`.  Its distinct states are the ones `checker        *)
(* explore bitmap --memory-model sc` counts.                               *)
(*                                                                         *)
(* With at most 31 slots (the model's limit) free_bits is one word; the    *)
(* spec writes it as the set of its set bits.                              *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    SLOTS,        \* number of worker slots
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers
    StepBound,    \* the checker's --step-bound for one postmaster operation
    WordModulus,  \* 2^32 in C; see MCBitmap.tla
    Mutation      \* "none", or a mutation of models/bitmap.py

ASSUME /\ SLOTS \in 1..31
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ Mutation \in {"none", "unchecked-claim", "plain-rmw"}

\* Entries of the start queue: the smallest power of two that holds every slot.
SQ_RING == CHOOSE r \in {2^k : k \in 0..6} :
               /\ r >= SLOTS
               /\ \A q \in {2^k : k \in 0..6} : q >= SLOTS => r <= q

\* Indexes stay continuous across the wrap when SQ_RING divides the word
\* size, and the word must be wide enough that counters never catch up.
ASSUME /\ WordModulus % SQ_RING = 0
       /\ WordModulus >= 4 * SQ_RING + 2 * BACKENDS * OPS

Word == 0..(WordModulus - 1)
Slots == 0..(SLOTS - 1)
RingIdx == 0..(SQ_RING - 1)
TOTAL == BACKENDS * OPS

\* The start queue's counters start just below the wrap.
Start == WordModulus - SQ_RING

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

\* Ghost: where a slot is (owner[s]).
OWN_FREE == 1
OWN_START_QUEUE == 2
OWN_RUNNING == 3
OWN_POSTMASTER == 4   \* reaped, not yet back in the bitmap
OWN_BACKEND == 8      \* + backend number

UncheckedClaim == Mutation = "unchecked-claim"
PlainRmw == Mutation = "plain-rmw"

Add(a, b) == (a + b) % WordModulus
Sub(a, b) == (a - b) % WordModulus
Min(S) == CHOOSE x \in S : \A y \in S : x <= y

VARIABLES
    \* Shared memory, named as in the Python model.
    free_bits,
    start_head, start_tail, start_ring,
    slot_worker,
    StartQueueLock,
    \* The postmaster's private state, its live local, its step counter.
    pm_start_tail, pm_running, pm_done,
    pm_slot, pm_steps,
    \* Each backend's locals: `slot` is the scan position, then the slot it
    \* claimed; `bits` the word it scans; `old` the word read by a plain
    \* (non-atomic) claim; `head` the start queue's head.
    done, slot, bits, old, head,
    pc,
    \* Ghost state.
    owner, start_pos, start_val, registrant,
    failed

shared == <<free_bits, start_head, start_tail, start_ring, slot_worker, StartQueueLock>>
pmvars == <<pm_start_tail, pm_running, pm_done, pm_slot, pm_steps>>
bvars == <<done, slot, bits, old, head>>
ghost == <<owner, start_pos, start_val, registrant, failed>>
vars == <<shared, pmvars, bvars, pc, ghost>>

PostmasterLabels ==
    {"read_start_head", "start_read_barrier", "read_start_entry",
     "start_consume_barrier", "write_start_tail", "read_slot_worker",
     "choose_exit", "free_slot", "Done"}

BackendLabels ==
    {"read_bits", "claim", "claim_read", "claim_write", "fill_slot",
     "lock_start", "read_start_head", "read_start_tail", "write_start_entry",
     "start_write_barrier", "write_start_head", "unlock_start", "Done"}

PostmasterOpLabels == PostmasterLabels \ {"choose_exit", "Done"}

\* Where a thread counts as between operations (quiescence): the checker
\* also counts the first shared event of an operation, when no other event
\* can lead back to it.  The backend's read of free_bits cannot count: the
\* scan loop leads back to it (for a second word, which 31 slots never need).
PostmasterIdleLabels == {"choose_exit", "Done", "read_start_head", "free_slot"}
BackendIdleLabels == {"Done"}

PropertyNames == {"ExclusiveOwnership", "QueueIntegrity", "PostmasterSafety"}

Check(cond, prop) == IF cond THEN {} ELSE {prop}

-----------------------------------------------------------------------------
TypeOK ==
    /\ free_bits \subseteq Slots
    /\ start_head \in Word /\ start_tail \in Word
    /\ start_ring \in [RingIdx -> Word]
    /\ slot_worker \in [Slots -> Word]
    /\ StartQueueLock \in {0, 1}
    /\ pm_start_tail \in Word
    /\ pm_running \subseteq Slots
    /\ pm_done \in 0..TOTAL
    /\ pm_slot \in Word
    /\ pm_steps \in 0..StepBound
    /\ done \in [Backends -> 0..OPS]
    /\ slot \in [Backends -> Word]
    /\ bits \in [Backends -> SUBSET Slots]
    /\ old \in [Backends -> SUBSET Slots]
    /\ head \in [Backends -> Word]
    /\ pc \in [Threads -> PostmasterLabels \cup BackendLabels]
    /\ pc[Postmaster] \in PostmasterLabels
    /\ \A b \in Backends : pc[b] \in BackendLabels
    /\ owner \in [Slots -> {OWN_FREE, OWN_START_QUEUE, OWN_RUNNING, OWN_POSTMASTER}
                            \cup {OWN_BACKEND + b : b \in Backends}]
    /\ start_pos \in [RingIdx -> Word] /\ start_val \in [RingIdx -> Word]
    /\ registrant \in [Slots -> {0} \cup Backends]
    /\ failed \subseteq PropertyNames

Init ==
    /\ free_bits = Slots
    /\ start_head = Start
    /\ start_tail = Start
    /\ start_ring = [i \in RingIdx |-> 0]
    /\ slot_worker = [s \in Slots |-> 0]
    /\ StartQueueLock = 0
    /\ pm_start_tail = Start
    /\ pm_running = {}
    /\ pm_done = 0
    /\ pm_slot = 0
    /\ pm_steps = 0
    /\ done = [b \in Backends |-> 0]
    /\ slot = [b \in Backends |-> 0]
    /\ bits = [b \in Backends |-> {}]
    /\ old = [b \in Backends |-> {}]
    /\ head = [b \in Backends |-> 0]
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "read_start_head" ELSE "read_bits"]
    /\ owner = [s \in Slots |-> OWN_FREE]
    /\ start_pos = [i \in RingIdx |-> Sub(Start, SQ_RING - i)]
    /\ start_val = [i \in RingIdx |-> 0]
    /\ registrant = [s \in Slots |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
(***************************************************************************)
(* Backend side: claim a free slot, fill it in, queue it to start.         *)
(***************************************************************************)

Goto(b, label) == pc' = [pc EXCEPT ![b] = label]

\* Every backend step states all five locals: dead ones are 0 (or empty).
Locals(b, d, s, bs, o, h) ==
    /\ done' = [done EXCEPT ![b] = d]
    /\ slot' = [slot EXCEPT ![b] = s]
    /\ bits' = [bits EXCEPT ![b] = bs]
    /\ old' = [old EXCEPT ![b] = o]
    /\ head' = [head EXCEPT ![b] = h]

\* register_worker() returned `result`: the backend's loop counts it.
Registered(b, result) ==
    LET d == done[b] + result IN
    IF d < OPS THEN /\ Goto(b, "read_bits")
                    /\ Locals(b, d, 0, {}, {}, 0)
               ELSE /\ Goto(b, "Done")
                    /\ Locals(b, 0, 0, {}, {}, 0)

ClaimLabel == IF PlainRmw THEN "claim_read" ELSE "claim"

\* The scan of take_free_slot(), from position `from` in the word `bs`: claim
\* the next set bit, or return NO_SLOT (register_worker() returns 0).
Scan(b, bs, from) ==
    LET candidates == {s \in bs : s >= from} IN
    IF candidates = {}
      THEN Registered(b, 0)
      ELSE /\ Goto(b, ClaimLabel)
           /\ Locals(b, done[b], Min(candidates), bs, {}, 0)

\* The claim's outcome, given the word `o` the claim found: keep the slot
\* if its bit was still set (always, with the mutation unchecked-claim),
\* else scan on.
Claimed(b, o) ==
    IF UncheckedClaim \/ slot[b] \in o
      THEN /\ failed' = failed \cup Check(owner[slot[b]] = OWN_FREE, "ExclusiveOwnership")
           /\ owner' = [owner EXCEPT ![slot[b]] = OWN_BACKEND + b]
           /\ Goto(b, "fill_slot")
           /\ Locals(b, done[b], slot[b], {}, {}, 0)
      ELSE /\ Scan(b, bits[b], slot[b] + 1)
           /\ UNCHANGED <<owner, failed>>

\* bits = pg_atomic_read_u32(free_bits[0]), then the scan begins.
ReadBits(b) ==
    /\ pc[b] = "read_bits"
    /\ Scan(b, free_bits, 0)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* old = pg_atomic_fetch_and_u32(free_bits[0], ~bit)
Claim(b) ==
    /\ pc[b] = "claim"
    /\ free_bits' = free_bits \ {slot[b]}
    /\ Claimed(b, free_bits)
    /\ UNCHANGED <<start_head, start_tail, start_ring, slot_worker, StartQueueLock,
                   pmvars, start_pos, start_val, registrant>>

\* Mutation plain-rmw: old = pg_atomic_read_u32(free_bits[0]) ...
ClaimRead(b) ==
    /\ pc[b] = "claim_read"
    /\ Goto(b, "claim_write")
    /\ Locals(b, done[b], slot[b], bits[b], free_bits, 0)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* ... then pg_atomic_write_u32(free_bits[0], old & ~bit).
ClaimWrite(b) ==
    /\ pc[b] = "claim_write"
    /\ free_bits' = old[b] \ {slot[b]}
    /\ Claimed(b, old[b])
    /\ UNCHANGED <<start_head, start_tail, start_ring, slot_worker, StartQueueLock,
                   pmvars, start_pos, start_val, registrant>>

\* pg_atomic_write_u32(slot_worker[slot], ME)
FillSlot(b) ==
    /\ pc[b] = "fill_slot"
    /\ slot_worker' = [slot_worker EXCEPT ![slot[b]] = b]
    /\ failed' = failed \cup Check(owner[slot[b]] = OWN_BACKEND + b, "ExclusiveOwnership")
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ Goto(b, "lock_start")
    /\ UNCHANGED <<free_bits, start_head, start_tail, start_ring, StartQueueLock,
                   pmvars, bvars, owner, start_pos, start_val>>

\* LWLockAcquire(StartQueueLock)
LockStart(b) ==
    /\ pc[b] = "lock_start"
    /\ StartQueueLock = 0
    /\ StartQueueLock' = 1
    /\ Goto(b, "read_start_head")
    /\ UNCHANGED <<free_bits, start_head, start_tail, start_ring, slot_worker,
                   pmvars, bvars, ghost>>

\* head = pg_atomic_read_u32(start_head)
BackendReadStartHead(b) ==
    /\ pc[b] = "read_start_head"
    /\ Goto(b, "read_start_tail")
    /\ Locals(b, done[b], slot[b], {}, {}, start_head)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* tail = pg_atomic_read_u32(start_tail).  There are never more slots than
\* entries, so the queue cannot be full and the value is not used (the
\* model reads it as the C code does; Conservation checks the bound).
BackendReadStartTail(b) ==
    /\ pc[b] = "read_start_tail"
    /\ Goto(b, "write_start_entry")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(start_ring[head % SQ_RING], slot)
WriteStartEntry(b) ==
    /\ pc[b] = "write_start_entry"
    /\ LET i == head[b] % SQ_RING IN
       /\ start_ring' = [start_ring EXCEPT ![i] = slot[b]]
       /\ start_pos' = [start_pos EXCEPT ![i] = head[b]]
       /\ start_val' = [start_val EXCEPT ![i] = slot[b]]
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_START_QUEUE]
    /\ Goto(b, "start_write_barrier")
    /\ Locals(b, done[b], 0, {}, {}, head[b])
    /\ UNCHANGED <<free_bits, start_head, start_tail, slot_worker, StartQueueLock,
                   pmvars, registrant, failed>>

\* pg_write_barrier()
StartWriteBarrier(b) ==
    /\ pc[b] = "start_write_barrier"
    /\ Goto(b, "write_start_head")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(start_head, head + 1)
WriteStartHead(b) ==
    /\ pc[b] = "write_start_head"
    /\ start_head' = Add(head[b], 1)
    /\ Goto(b, "unlock_start")
    /\ Locals(b, done[b], 0, {}, {}, 0)
    /\ UNCHANGED <<free_bits, start_tail, start_ring, slot_worker, StartQueueLock,
                   pmvars, ghost>>

\* LWLockRelease(StartQueueLock); register_worker() returns 1.
UnlockStart(b) ==
    /\ pc[b] = "unlock_start"
    /\ StartQueueLock' = 0
    /\ Registered(b, 1)
    /\ UNCHANGED <<free_bits, start_head, start_tail, start_ring, slot_worker,
                   pmvars, ghost>>

Backend(b) ==
    \/ ReadBits(b) \/ Claim(b) \/ ClaimRead(b) \/ ClaimWrite(b) \/ FillSlot(b)
    \/ LockStart(b) \/ BackendReadStartHead(b) \/ BackendReadStartTail(b)
    \/ WriteStartEntry(b) \/ StartWriteBarrier(b) \/ WriteStartHead(b)
    \/ UnlockStart(b)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Postmaster side: start queued workers, reap running ones.               *)
(***************************************************************************)

PmGoto(label) == pc' = [pc EXCEPT ![Postmaster] = label]

Step == pm_steps' = pm_steps + 1

\* The end of start_queued_worker(): the design has no housekeeping, so on
\* to the choice of a worker that exits.
EndStart ==
    /\ PmGoto("choose_exit")
    /\ pm_slot' = 0 /\ pm_steps' = 0

\* head = pg_atomic_read_u32(start_head): anything queued, and believable?
PmReadStartHead ==
    /\ pc[Postmaster] = "read_start_head"
    /\ LET queued == Sub(start_head, pm_start_tail) IN
       IF queued = 0 \/ queued > SQ_RING
         THEN EndStart
         ELSE /\ PmGoto("start_read_barrier")
              /\ Step
              /\ UNCHANGED pm_slot
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, bvars, ghost>>

\* pg_read_barrier()
StartReadBarrier ==
    /\ pc[Postmaster] = "start_read_barrier"
    /\ PmGoto("read_start_entry")
    /\ Step
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_slot, bvars, ghost>>

\* slot = pg_atomic_read_u32(start_ring[pm_start_tail % SQ_RING])
PmReadStartEntry ==
    /\ pc[Postmaster] = "read_start_entry"
    /\ LET i == pm_start_tail % SQ_RING
           s == start_ring[i]
       IN /\ pm_slot' = s
          /\ failed' = failed \cup
                Check(start_pos[i] = pm_start_tail /\ start_val[i] = s, "QueueIntegrity")
    /\ pm_start_tail' = Add(pm_start_tail, 1)
    /\ PmGoto("start_consume_barrier")
    /\ Step
    /\ UNCHANGED <<shared, pm_running, pm_done, bvars, owner, start_pos, start_val, registrant>>

\* pg_memory_barrier()
StartConsumeBarrier ==
    /\ pc[Postmaster] = "start_consume_barrier"
    /\ PmGoto("write_start_tail")
    /\ Step
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_slot, bvars, ghost>>

\* pg_atomic_write_u32(start_tail, pm_start_tail); a slot number out of
\* range, or one already running, is corruption and is ignored.  Otherwise
\* the slot passes from the start queue to the postmaster: it must be queued.
WriteStartTail ==
    /\ pc[Postmaster] = "write_start_tail"
    /\ start_tail' = pm_start_tail
    /\ IF pm_slot >= SLOTS \/ pm_slot \in pm_running
         THEN /\ EndStart
              /\ UNCHANGED <<owner, failed>>
         ELSE /\ PmGoto("read_slot_worker")
              /\ Step
              /\ UNCHANGED pm_slot
              /\ failed' = failed \cup Check(owner[pm_slot] = OWN_START_QUEUE, "ExclusiveOwnership")
              /\ owner' = [owner EXCEPT ![pm_slot] = OWN_RUNNING]
    /\ UNCHANGED <<free_bits, start_head, start_ring, slot_worker, StartQueueLock,
                   pm_start_tail, pm_running, pm_done, bvars, start_pos, start_val, registrant>>

\* worker = pg_atomic_read_u32(slot_worker[slot]): the description must be
\* its registrant's.  (One no backend could have written sets the model's
\* pm_corrupt flag, which nothing reads.)  The worker runs.
ReadSlotWorker ==
    /\ pc[Postmaster] = "read_slot_worker"
    /\ failed' = failed \cup Check(slot_worker[pm_slot] = registrant[pm_slot], "QueueIntegrity")
    /\ pm_running' = pm_running \cup {pm_slot}
    /\ EndStart
    /\ UNCHANGED <<shared, pm_start_tail, pm_done, bvars, owner, start_pos, start_val, registrant>>

\* exited = choose(SLOTS + 1): any running worker may exit now, or none.
ChooseExit ==
    /\ pc[Postmaster] = "choose_exit"
    /\ \E e \in 0..SLOTS :
         IF e < SLOTS /\ e \in pm_running
           THEN /\ failed' = failed \cup Check(owner[e] = OWN_RUNNING, "ExclusiveOwnership")
                /\ owner' = [owner EXCEPT ![e] = OWN_POSTMASTER]
                /\ pm_slot' = e
                /\ PmGoto("free_slot")
                /\ UNCHANGED <<pm_steps>>
           ELSE \* pm_done < TOTAL still holds: the loop goes round.
                /\ PmGoto("read_start_head")
                /\ UNCHANGED <<pm_slot, pm_steps, owner, failed>>
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, bvars,
                   start_pos, start_val, registrant>>

\* pg_atomic_fetch_or_u32(free_bits[0], bit): the slot is free again.  (A
\* bit already set is corruption, reported with a flag nothing reads.)
\* reap_worker() ends, and the loop goes round or, with all work done, ends.
FreeSlot ==
    /\ pc[Postmaster] = "free_slot"
    /\ free_bits' = free_bits \cup {pm_slot}
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_FREE]
    /\ IF pm_done + 1 < TOTAL
         THEN /\ PmGoto("read_start_head")
              /\ pm_running' = pm_running \ {pm_slot}
              /\ pm_done' = pm_done + 1
              /\ UNCHANGED pm_start_tail
         ELSE /\ PmGoto("Done")
              /\ pm_running' = {} /\ pm_done' = 0 /\ pm_start_tail' = 0
    /\ pm_slot' = 0 /\ pm_steps' = 0
    /\ UNCHANGED <<start_head, start_tail, start_ring, slot_worker, StartQueueLock,
                   bvars, start_pos, start_val, registrant, failed>>

PostmasterStep ==
    \/ PmReadStartHead \/ StartReadBarrier \/ PmReadStartEntry
    \/ StartConsumeBarrier \/ WriteStartTail \/ ReadSlotWorker \/ ChooseExit
    \/ FreeSlot

Terminating ==
    /\ \A t \in Threads : pc[t] = "Done"
    /\ UNCHANGED vars

Next ==
    \/ PostmasterStep
    \/ \E b \in Backends : Backend(b)
    \/ Terminating

Spec == Init /\ [][Next]_vars /\ WF_vars(PostmasterStep)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Properties (DESIGN.md section 4).                                       *)
(***************************************************************************)

ExclusiveOwnership == "ExclusiveOwnership" \notin failed

QueueIntegrity == "QueueIntegrity" \notin failed

\* Every slot number the postmaster acts on is in range.
PostmasterSafety ==
    /\ "PostmasterSafety" \notin failed
    /\ pc[Postmaster] \in {"read_slot_worker", "free_slot"} => pm_slot \in Slots

Quiescent ==
    /\ pc[Postmaster] \in PostmasterIdleLabels
    /\ \A b \in Backends : pc[b] \in BackendIdleLabels

Length(h, t) == Sub(h, t)
Count(ring, h, t, s) ==
    Cardinality({k \in 0..(Length(h, t) - 1) : ring[Add(t, k) % SQ_RING] = s})

\* When quiescent, every slot is in exactly one place: free in the bitmap,
\* in the start queue, or running.
Conservation ==
    Quiescent =>
      /\ Length(start_head, start_tail) <= SQ_RING
      /\ \A k \in 0..(Length(start_head, start_tail) - 1) :
            start_ring[Add(start_tail, k) % SQ_RING] \in Slots
      /\ \A s \in Slots :
            (IF s \in free_bits THEN 1 ELSE 0)
              + Count(start_ring, start_head, start_tail, s)
              + (IF s \in pm_running THEN 1 ELSE 0) = 1

PostmasterWaitFreedom == pm_steps <= StepBound

PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
