-------------------------------- MODULE Ring --------------------------------
(***************************************************************************)
(* Idea #2 of the pgsql-hackers message "connection establishment versus  *)
(* parallel workers" (2025-02-06): two rings of slot numbers.              *)
(*                                                                         *)
(*  - the free queue: the postmaster produces the slots it reaped,         *)
(*    backends consume them under FreeQueueLock;                           *)
(*  - the start queue: backends produce the slots they filled in under     *)
(*    StartQueueLock, the postmaster consumes them.                        *)
(*                                                                         *)
(* Each ring has RING entries (a power of two) and free-running head and   *)
(* tail counters that wrap at the word size; an entry's index is           *)
(* counter % RING.  The postmaster never takes a lock: it keeps private    *)
(* copies of the counters it owns (pm_free_head, pm_start_tail) and        *)
(* range-checks whatever it reads.                                         *)
(*                                                                         *)
(* This module is the TLA+ twin of models/ring.py, with the start queue   *)
(* it shares (models/_startqueue.py), under sequential                     *)
(* consistency.  It is written so that its state space is the one          *)
(* `checker explore ring --memory-model sc` explores, state for state:     *)
(*                                                                         *)
(*  - one action per shared-memory event of the Python model (load,       *)
(*    store, fence, lock acquire/release, nondeterministic choice); the    *)
(*    thread-local code that follows an event is folded into its action,   *)
(*    as the checker folds it into the event's step;                       *)
(*  - pc values name the event a thread will perform next;                 *)
(*  - a local whose value will not be read again is reset to 0, as the     *)
(*    checker does (Program.dead_at), so that two states that differ only  *)
(*    in dead values are one state;                                        *)
(*  - pm_steps is the checker's step counter for the postmaster's current  *)
(*    operation (zero outside an operation);                               *)
(*  - ghost variables (owner, free_pos, ...) are the model's bookkeeping   *)
(*    for properties.  The model's ghost assertions are checked in the     *)
(*    same step as in Python; a failed one is recorded in `failed`, and    *)
(*    the named invariants below say that nothing was recorded.            *)
(*                                                                         *)
(* The rogue backend and the mutations that only matter under weaker       *)
(* memory models are not part of this spec (see README, "TLA+              *)
(* specifications").                                                       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    SLOTS,        \* number of worker slots
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers
    StepBound,    \* the checker's --step-bound for one postmaster operation
    WordModulus,  \* 2^32 in C; TLC's integers stop at 2^31, see MCRing.tla
    Mutation      \* "none", or a mutation of models/ring.py that is a bug under sc

ASSUME /\ SLOTS \in 1..64
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ Mutation \in {"none", "no-lock", "empty-off-by-one"}

\* The smallest power of two that holds every slot.
RING == CHOOSE r \in {2^k : k \in 0..6} :
            /\ r >= SLOTS
            /\ \A q \in {2^k : k \in 0..6} : q >= SLOTS => r <= q

\* Indexes stay continuous across the wrap when RING divides the word size,
\* and the word must be wide enough that counters never catch each other up.
ASSUME /\ WordModulus % RING = 0
       /\ WordModulus >= 4 * RING + 2 * BACKENDS * OPS

Word == 0..(WordModulus - 1)
Slots == 0..(SLOTS - 1)
RingIdx == 0..(RING - 1)
TOTAL == BACKENDS * OPS

\* Counters start just below the wrap so that every run crosses it.
Start == WordModulus - RING

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

\* Ghost: where a slot is (owner[s]).
OWN_FREE_QUEUE == 1
OWN_START_QUEUE == 2
OWN_RUNNING == 3
OWN_POSTMASTER == 4   \* reaped, on its way back to the free queue
OWN_BACKEND == 8      \* + backend number

NoLock == Mutation = "no-lock"
EmptyOffByOne == Mutation = "empty-off-by-one"

\* 32-bit unsigned arithmetic, with the word size as a parameter.
Add(a, b) == (a + b) % WordModulus
Sub(a, b) == (a - b) % WordModulus

VARIABLES
    \* Shared memory, named as in models/ring.py.
    free_head, free_tail, free_ring,
    start_head, start_tail, start_ring,
    slot_worker,
    FreeQueueLock, StartQueueLock,
    \* The postmaster's private state (statics of postmaster.c) ...
    pm_free_head, pm_start_tail, pm_running, pm_done,
    \* ... and its live local and the step counter of its current operation.
    pm_slot, pm_steps,
    \* Each backend's locals (functions of the backend number).
    done, tail, head, slot,
    \* Where each thread is: the event it performs next.
    pc,
    \* Ghost state.
    owner, free_pos, free_val, start_pos, start_val, registrant,
    failed

shared == <<free_head, free_tail, free_ring, start_head, start_tail, start_ring,
            slot_worker, FreeQueueLock, StartQueueLock>>
pmvars == <<pm_free_head, pm_start_tail, pm_running, pm_done, pm_slot, pm_steps>>
bvars == <<done, tail, head, slot>>
ghost == <<owner, free_pos, free_val, start_pos, start_val, registrant, failed>>
vars == <<shared, pmvars, bvars, pc, ghost>>

PostmasterLabels ==
    {"read_start_head", "start_read_barrier", "read_start_entry",
     "start_consume_barrier", "write_start_tail", "read_slot_worker",
     "choose_exit", "read_free_tail", "write_free_entry",
     "free_write_barrier", "write_free_head", "Done"}

BackendLabels ==
    {"lock_free", "read_free_tail", "read_free_head", "unlock_free_empty",
     "free_read_barrier", "read_free_entry", "free_consume_barrier",
     "write_free_tail", "unlock_free", "fill_slot", "lock_start",
     "read_start_head", "read_start_tail", "write_start_entry",
     "start_write_barrier", "write_start_head", "unlock_start", "Done"}

\* The postmaster's operations (start_queued_worker, reap_worker): the labels
\* inside one.  The checker bounds the steps of an operation.
PostmasterOpLabels == PostmasterLabels \ {"choose_exit", "Done"}

\* Where a thread is between operations, or at the first shared event of
\* one (nothing of it has happened yet): a state is quiescent when every
\* thread is at one of these.
PostmasterIdleLabels == {"choose_exit", "Done", "read_start_head", "read_free_tail"}
BackendIdleLabels == {"Done", IF NoLock THEN "read_free_tail" ELSE "lock_free"}

\* The names of the properties, as recorded in `failed`.
PropertyNames == {"ExclusiveOwnership", "QueueIntegrity", "PostmasterSafety"}

\* The model's `assert_(cond, prop)`: the first failed assertion of a ghost
\* block stops the step in Python; here it is recorded.
Check(cond, prop) == IF cond THEN {} ELSE {prop}

-----------------------------------------------------------------------------
TypeOK ==
    /\ free_head \in Word /\ free_tail \in Word
    /\ start_head \in Word /\ start_tail \in Word
    /\ free_ring \in [RingIdx -> Word]
    /\ start_ring \in [RingIdx -> Word]
    /\ slot_worker \in [Slots -> Word]
    /\ FreeQueueLock \in {0, 1} /\ StartQueueLock \in {0, 1}
    /\ pm_free_head \in Word /\ pm_start_tail \in Word
    /\ pm_running \subseteq Slots
    /\ pm_done \in 0..TOTAL
    /\ pm_slot \in Word
    /\ pm_steps \in 0..StepBound
    /\ done \in [Backends -> 0..OPS]
    /\ tail \in [Backends -> Word] /\ head \in [Backends -> Word]
    /\ slot \in [Backends -> Word]
    /\ pc \in [Threads -> PostmasterLabels \cup BackendLabels]
    /\ pc[Postmaster] \in PostmasterLabels
    /\ \A b \in Backends : pc[b] \in BackendLabels
    /\ owner \in [Slots -> {OWN_FREE_QUEUE, OWN_START_QUEUE, OWN_RUNNING, OWN_POSTMASTER}
                            \cup {OWN_BACKEND + b : b \in Backends}]
    /\ free_pos \in [RingIdx -> Word] /\ free_val \in [RingIdx -> Word]
    /\ start_pos \in [RingIdx -> Word] /\ start_val \in [RingIdx -> Word]
    /\ registrant \in [Slots -> {0} \cup Backends]
    /\ failed \subseteq PropertyNames

Init ==
    \* The free queue holds every slot; the start queue is empty.  Start is
    \* a multiple of RING, so slot s sits at index s.
    /\ free_head = Add(Start, SLOTS)
    /\ free_tail = Start
    /\ free_ring = [i \in RingIdx |-> IF i < SLOTS THEN i ELSE 0]
    /\ start_head = Start
    /\ start_tail = Start
    /\ start_ring = [i \in RingIdx |-> 0]
    /\ slot_worker = [s \in Slots |-> 0]
    /\ FreeQueueLock = 0
    /\ StartQueueLock = 0
    /\ pm_free_head = Add(Start, SLOTS)
    /\ pm_start_tail = Start
    /\ pm_running = {}
    /\ pm_done = 0
    /\ pm_slot = 0
    /\ pm_steps = 0
    /\ done = [b \in Backends |-> 0]
    /\ tail = [b \in Backends |-> 0]
    /\ head = [b \in Backends |-> 0]
    /\ slot = [b \in Backends |-> 0]
    \* TOTAL and OPS are at least 1: both sides start inside an operation.
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "read_start_head"
                               ELSE IF NoLock THEN "read_free_tail" ELSE "lock_free"]
    /\ owner = [s \in Slots |-> OWN_FREE_QUEUE]
    /\ free_pos = [i \in RingIdx |-> IF i < SLOTS THEN Add(Start, i) ELSE 0]
    /\ free_val = [i \in RingIdx |-> IF i < SLOTS THEN i ELSE 0]
    /\ start_pos = [i \in RingIdx |-> Sub(Start, RING - i)]
    /\ start_val = [i \in RingIdx |-> 0]
    /\ registrant = [s \in Slots |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
(***************************************************************************)
(* Backend side: take a free slot, fill it in, queue it to start.          *)
(* Backends serialise on the LWLocks, so they never race each other.       *)
(***************************************************************************)

Goto(b, label) == pc' = [pc EXCEPT ![b] = label]

\* Every backend step states all four locals: dead ones are 0.
Locals(b, d, t, h, s) ==
    /\ done' = [done EXCEPT ![b] = d]
    /\ tail' = [tail EXCEPT ![b] = t]
    /\ head' = [head EXCEPT ![b] = h]
    /\ slot' = [slot EXCEPT ![b] = s]

\* Where register_worker() begins: at the lock, or at the first read without it.
FreeEntry == IF NoLock THEN "read_free_tail" ELSE "lock_free"

\* register_worker() returned `result` (1 if a worker was queued): the
\* backend's loop counts it and either starts its next registration or ends.
Registered(b, result) ==
    LET d == done[b] + result IN
    IF d < OPS THEN /\ Goto(b, FreeEntry)
                    /\ Locals(b, d, 0, 0, 0)
               ELSE /\ Goto(b, "Done")
                    /\ Locals(b, 0, 0, 0, 0)

\* LWLockAcquire(FreeQueueLock): waits while the lock is held.
LockFree(b) ==
    /\ pc[b] = "lock_free"
    /\ FreeQueueLock = 0
    /\ FreeQueueLock' = 1
    /\ Goto(b, "read_free_tail")
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   start_ring, slot_worker, StartQueueLock, pmvars, bvars, ghost>>

\* tail = pg_atomic_read_u32(free_tail)
ReadFreeTail(b) ==
    /\ pc[b] = "read_free_tail"
    /\ Goto(b, "read_free_head")
    /\ Locals(b, done[b], free_tail, 0, 0)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* head = pg_atomic_read_u32(free_head); is an entry available?
ReadFreeHead(b) ==
    /\ pc[b] = "read_free_head"
    /\ LET available == IF EmptyOffByOne
                          THEN Sub(free_head, tail[b]) >= 0  \* always true
                          ELSE Sub(free_head, tail[b]) >= 1
       IN IF available
            THEN /\ Goto(b, "free_read_barrier")
                 /\ Locals(b, done[b], tail[b], 0, 0)
            ELSE IF NoLock
                   THEN Registered(b, 0)   \* return NO_SLOT; register_worker returns 0
                   ELSE /\ Goto(b, "unlock_free_empty")
                        /\ Locals(b, done[b], 0, 0, 0)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* LWLockRelease(FreeQueueLock) on an empty queue; register_worker() returns 0.
UnlockFreeEmpty(b) ==
    /\ pc[b] = "unlock_free_empty"
    /\ FreeQueueLock' = 0
    /\ Registered(b, 0)
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   start_ring, slot_worker, StartQueueLock, pmvars, ghost>>

\* pg_read_barrier(): pairs with the postmaster's write barrier.
FreeReadBarrier(b) ==
    /\ pc[b] = "free_read_barrier"
    /\ Goto(b, "read_free_entry")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* slot = pg_atomic_read_u32(free_ring[tail % RING]), then the ghost block:
\* the entry is the one produced for this position, and the slot was free.
ReadFreeEntry(b) ==
    /\ pc[b] = "read_free_entry"
    /\ LET i == tail[b] % RING
           s == free_ring[i]
       IN /\ Goto(b, "free_consume_barrier")
          /\ Locals(b, done[b], tail[b], 0, s)
          /\ failed' = failed \cup
                (IF ~(free_pos[i] = tail[b] /\ free_val[i] = s)
                   THEN {"QueueIntegrity"}
                   ELSE Check(owner[s] = OWN_FREE_QUEUE, "ExclusiveOwnership"))
          /\ owner' = [owner EXCEPT ![s] = OWN_BACKEND + b]
    /\ UNCHANGED <<shared, pmvars, free_pos, free_val, start_pos, start_val, registrant>>

\* pg_memory_barrier(): the entry is read before the tail frees its position.
FreeConsumeBarrier(b) ==
    /\ pc[b] = "free_consume_barrier"
    /\ Goto(b, "write_free_tail")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(free_tail, tail + 1)
WriteFreeTail(b) ==
    /\ pc[b] = "write_free_tail"
    /\ free_tail' = Add(tail[b], 1)
    /\ Goto(b, IF NoLock THEN "fill_slot" ELSE "unlock_free")
    /\ Locals(b, done[b], 0, 0, slot[b])
    /\ UNCHANGED <<free_head, free_ring, start_head, start_tail, start_ring,
                   slot_worker, FreeQueueLock, StartQueueLock, pmvars, ghost>>

\* LWLockRelease(FreeQueueLock); take_free_slot() returns the slot.
UnlockFree(b) ==
    /\ pc[b] = "unlock_free"
    /\ FreeQueueLock' = 0
    /\ Goto(b, "fill_slot")
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   start_ring, slot_worker, StartQueueLock, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(slot_worker[slot], ME): fill in the worker's description.
FillSlot(b) ==
    /\ pc[b] = "fill_slot"
    /\ slot_worker' = [slot_worker EXCEPT ![slot[b]] = b]
    /\ failed' = failed \cup Check(owner[slot[b]] = OWN_BACKEND + b, "ExclusiveOwnership")
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ Goto(b, IF NoLock THEN "read_start_head" ELSE "lock_start")
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   start_ring, FreeQueueLock, StartQueueLock, pmvars, bvars,
                   owner, free_pos, free_val, start_pos, start_val>>

\* LWLockAcquire(StartQueueLock)
LockStart(b) ==
    /\ pc[b] = "lock_start"
    /\ StartQueueLock = 0
    /\ StartQueueLock' = 1
    /\ Goto(b, "read_start_head")
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   start_ring, slot_worker, FreeQueueLock, pmvars, bvars, ghost>>

\* head = pg_atomic_read_u32(start_head)
BackendReadStartHead(b) ==
    /\ pc[b] = "read_start_head"
    /\ Goto(b, "read_start_tail")
    /\ Locals(b, done[b], 0, start_head, slot[b])
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* tail = pg_atomic_read_u32(start_tail).  There are never more slots than
\* entries, so the queue cannot be full and the value is not used (the
\* model reads it as the C code does; Conservation checks the bound).
BackendReadStartTail(b) ==
    /\ pc[b] = "read_start_tail"
    /\ Goto(b, "write_start_entry")
    /\ Locals(b, done[b], 0, head[b], slot[b])   \* tail is not read again
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* pg_atomic_write_u32(start_ring[head % RING], slot); the ghost records
\* what was produced at this position.
WriteStartEntry(b) ==
    /\ pc[b] = "write_start_entry"
    /\ LET i == head[b] % RING IN
       /\ start_ring' = [start_ring EXCEPT ![i] = slot[b]]
       /\ start_pos' = [start_pos EXCEPT ![i] = head[b]]
       /\ start_val' = [start_val EXCEPT ![i] = slot[b]]
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_START_QUEUE]
    /\ Goto(b, "start_write_barrier")
    /\ Locals(b, done[b], 0, head[b], 0)
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   slot_worker, FreeQueueLock, StartQueueLock, pmvars,
                   free_pos, free_val, registrant, failed>>

\* pg_write_barrier(): the entry is visible before the head that covers it.
StartWriteBarrier(b) ==
    /\ pc[b] = "start_write_barrier"
    /\ Goto(b, "write_start_head")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(start_head, head + 1)
WriteStartHead(b) ==
    /\ pc[b] = "write_start_head"
    /\ start_head' = Add(head[b], 1)
    /\ IF NoLock
         THEN Registered(b, 1)
         ELSE /\ Goto(b, "unlock_start")
              /\ Locals(b, done[b], 0, 0, 0)
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_tail, start_ring,
                   slot_worker, FreeQueueLock, StartQueueLock, pmvars, ghost>>

\* LWLockRelease(StartQueueLock); register_worker() returns 1.
UnlockStart(b) ==
    /\ pc[b] = "unlock_start"
    /\ StartQueueLock' = 0
    /\ Registered(b, 1)
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_tail,
                   start_ring, slot_worker, FreeQueueLock, pmvars, ghost>>

Backend(b) ==
    \/ LockFree(b) \/ ReadFreeTail(b) \/ ReadFreeHead(b) \/ UnlockFreeEmpty(b)
    \/ FreeReadBarrier(b) \/ ReadFreeEntry(b) \/ FreeConsumeBarrier(b)
    \/ WriteFreeTail(b) \/ UnlockFree(b) \/ FillSlot(b) \/ LockStart(b)
    \/ BackendReadStartHead(b) \/ BackendReadStartTail(b) \/ WriteStartEntry(b)
    \/ StartWriteBarrier(b) \/ WriteStartHead(b) \/ UnlockStart(b)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Postmaster side: start queued workers, reap running ones.  No locks, no *)
(* waiting, and every value read from shared memory is range-checked.      *)
(***************************************************************************)

PmGoto(label) == pc' = [pc EXCEPT ![Postmaster] = label]

\* One more step of the current operation (the checker's step counter).
Step == pm_steps' = pm_steps + 1

\* reap_worker() ends: its slot leaves pm_running, and the postmaster's loop
\* either begins the next start_queued_worker() or, with all work done,
\* ends.  A finished postmaster's variables are never read again, so (as in
\* the checker) they are reset.
EndReap ==
    LET d == pm_done + 1 IN
    IF d < TOTAL
      THEN /\ PmGoto("read_start_head")
           /\ pm_done' = d
           /\ pm_running' = pm_running \ {pm_slot}
           /\ pm_slot' = 0 /\ pm_steps' = 0
           /\ UNCHANGED <<pm_free_head, pm_start_tail>>
      ELSE /\ PmGoto("Done")
           /\ pm_done' = 0 /\ pm_slot' = 0 /\ pm_steps' = 0
           /\ pm_free_head' = 0 /\ pm_start_tail' = 0 /\ pm_running' = {}

\* The end of start_queued_worker(): on to the choice of a worker that exits.
EndStart ==
    /\ PmGoto("choose_exit")
    /\ pm_slot' = 0 /\ pm_steps' = 0

\* head = pg_atomic_read_u32(start_head): is anything queued, and is the
\* head believable?  A head no backend could have written is ignored (the
\* model sets a pm_corrupt flag that nothing reads, so it is no state).
PmReadStartHead ==
    /\ pc[Postmaster] = "read_start_head"
    /\ LET queued == Sub(start_head, pm_start_tail) IN
       IF queued = 0 \/ queued > RING
         THEN EndStart
         ELSE /\ PmGoto("start_read_barrier")
              /\ Step
              /\ UNCHANGED pm_slot
    /\ UNCHANGED <<shared, pm_free_head, pm_start_tail, pm_running, pm_done, bvars, ghost>>

\* pg_read_barrier(): pairs with the backend's write barrier.
StartReadBarrier ==
    /\ pc[Postmaster] = "start_read_barrier"
    /\ PmGoto("read_start_entry")
    /\ Step
    /\ UNCHANGED <<shared, pm_free_head, pm_start_tail, pm_running, pm_done,
                   pm_slot, bvars, ghost>>

\* slot = pg_atomic_read_u32(start_ring[pm_start_tail % RING]); the entry
\* must be the one produced for this position.
PmReadStartEntry ==
    /\ pc[Postmaster] = "read_start_entry"
    /\ LET i == pm_start_tail % RING
           s == start_ring[i]
       IN /\ pm_slot' = s
          /\ failed' = failed \cup
                Check(start_pos[i] = pm_start_tail /\ start_val[i] = s, "QueueIntegrity")
    /\ pm_start_tail' = Add(pm_start_tail, 1)
    /\ PmGoto("start_consume_barrier")
    /\ Step
    /\ UNCHANGED <<shared, pm_free_head, pm_running, pm_done, bvars,
                   owner, free_pos, free_val, start_pos, start_val, registrant>>

\* pg_memory_barrier(): the entry is read before the tail frees its position.
StartConsumeBarrier ==
    /\ pc[Postmaster] = "start_consume_barrier"
    /\ PmGoto("write_start_tail")
    /\ Step
    /\ UNCHANGED <<shared, pm_free_head, pm_start_tail, pm_running, pm_done,
                   pm_slot, bvars, ghost>>

\* pg_atomic_write_u32(start_tail, pm_start_tail); a slot number out of
\* range, or one whose worker already runs (no backend can have queued it),
\* is ignored rather than used: both checks are local, so they belong to
\* this step (models/_startqueue.py, start_queued_worker).  Otherwise the
\* slot passes from the start queue to the postmaster: it must be in range
\* and queued.
WriteStartTail ==
    /\ pc[Postmaster] = "write_start_tail"
    /\ start_tail' = pm_start_tail
    /\ IF pm_slot >= SLOTS \/ pm_slot \in pm_running
         THEN /\ EndStart
              /\ UNCHANGED <<owner, failed>>
         ELSE /\ PmGoto("read_slot_worker")
              /\ Step
              /\ UNCHANGED pm_slot
              /\ failed' = failed \cup
                    (IF ~(pm_slot < SLOTS) THEN {"PostmasterSafety"}
                     ELSE Check(owner[pm_slot] = OWN_START_QUEUE, "ExclusiveOwnership"))
              /\ owner' = [owner EXCEPT ![pm_slot] = OWN_RUNNING]
    /\ UNCHANGED <<free_head, free_tail, free_ring, start_head, start_ring,
                   slot_worker, FreeQueueLock, StartQueueLock,
                   pm_free_head, pm_start_tail, pm_running, pm_done, bvars,
                   free_pos, free_val, start_pos, start_val, registrant>>

\* worker = pg_atomic_read_u32(slot_worker[slot]): the description must be
\* the one its registrant wrote.  (A description no backend could have
\* written sets the model's pm_corrupt flag, which nothing reads.)  The
\* worker runs.
ReadSlotWorker ==
    /\ pc[Postmaster] = "read_slot_worker"
    /\ failed' = failed \cup
          Check(slot_worker[pm_slot] = registrant[pm_slot], "QueueIntegrity")
    /\ pm_running' = pm_running \cup {pm_slot}
    /\ EndStart
    /\ UNCHANGED <<shared, pm_free_head, pm_start_tail, pm_done, bvars,
                   owner, free_pos, free_val, start_pos, start_val, registrant>>

\* exited = choose(SLOTS + 1): any running worker may exit now, or none.
\* If one does, reap_worker() begins: the slot goes back to the postmaster.
\* It stays in pm_running until the operation ends: the checker counts an
\* operation that has not reached its first shared event as not begun, and
\* the slot must be accounted for in that (quiescent) state.
ChooseExit ==
    /\ pc[Postmaster] = "choose_exit"
    /\ \E e \in 0..SLOTS :
         IF e < SLOTS /\ e \in pm_running
           THEN /\ failed' = failed \cup Check(owner[e] = OWN_RUNNING, "ExclusiveOwnership")
                /\ owner' = [owner EXCEPT ![e] = OWN_POSTMASTER]
                /\ pm_slot' = e
                /\ pm_steps' = 0
                /\ PmGoto("read_free_tail")
                /\ UNCHANGED <<pm_running, pm_done>>
           ELSE \* pm_done < TOTAL still holds: the loop goes round.
                /\ PmGoto("read_start_head")
                /\ UNCHANGED <<pm_running, pm_done, pm_slot, pm_steps, owner, failed>>
    /\ UNCHANGED <<shared, pm_free_head, pm_start_tail, bvars,
                   free_pos, free_val, start_pos, start_val, registrant>>

\* tail = pg_atomic_read_u32(free_tail) in return_free_slot(): a full queue,
\* or a tail no backend could have written, is corruption: the slot is leaked
\* rather than an entry overwritten, and the operation ends.
PmReadFreeTail ==
    /\ pc[Postmaster] = "read_free_tail"
    /\ IF Sub(pm_free_head, free_tail) >= RING
         THEN EndReap
         ELSE /\ PmGoto("write_free_entry")
              /\ Step
              /\ UNCHANGED <<pm_free_head, pm_start_tail, pm_running, pm_done, pm_slot>>
    /\ UNCHANGED <<shared, bvars, ghost>>

\* pg_atomic_write_u32(free_ring[pm_free_head % RING], slot)
WriteFreeEntry ==
    /\ pc[Postmaster] = "write_free_entry"
    /\ LET i == pm_free_head % RING IN
       /\ free_ring' = [free_ring EXCEPT ![i] = pm_slot]
       /\ free_pos' = [free_pos EXCEPT ![i] = pm_free_head]
       /\ free_val' = [free_val EXCEPT ![i] = pm_slot]
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_FREE_QUEUE]
    /\ PmGoto("free_write_barrier")
    /\ Step
    /\ UNCHANGED <<free_head, free_tail, start_head, start_tail, start_ring,
                   slot_worker, FreeQueueLock, StartQueueLock,
                   pm_free_head, pm_start_tail, pm_running, pm_done, pm_slot, bvars,
                   start_pos, start_val, registrant, failed>>

\* pg_write_barrier(): the entry is visible before the head that publishes it.
FreeWriteBarrier ==
    /\ pc[Postmaster] = "free_write_barrier"
    /\ pm_free_head' = Add(pm_free_head, 1)
    /\ PmGoto("write_free_head")
    /\ Step
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_slot, bvars, ghost>>

\* pg_atomic_write_u32(free_head, pm_free_head); the worker is reaped.
WriteFreeHead ==
    /\ pc[Postmaster] = "write_free_head"
    /\ free_head' = pm_free_head
    /\ EndReap
    /\ UNCHANGED <<free_tail, free_ring, start_head, start_tail, start_ring,
                   slot_worker, FreeQueueLock, StartQueueLock, bvars, ghost>>

PostmasterStep ==
    \/ PmReadStartHead \/ StartReadBarrier \/ PmReadStartEntry
    \/ StartConsumeBarrier \/ WriteStartTail \/ ReadSlotWorker \/ ChooseExit
    \/ PmReadFreeTail \/ WriteFreeEntry \/ FreeWriteBarrier \/ WriteFreeHead

\* Every thread has finished: the behaviour ends (not a deadlock).
Terminating ==
    /\ \A t \in Threads : pc[t] = "Done"
    /\ UNCHANGED vars

Next ==
    \/ PostmasterStep
    \/ \E b \in Backends : Backend(b)
    \/ Terminating

\* The postmaster never waits, so weak fairness of its steps is all its
\* progress needs; backends may wait on their locks.
Spec == Init /\ [][Next]_vars /\ WF_vars(PostmasterStep)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Properties (DESIGN.md section 4).                                       *)
(***************************************************************************)

\* A slot is never held by two parties at once.
ExclusiveOwnership == "ExclusiveOwnership" \notin failed

\* Every queue entry consumed is the value produced for that position.
QueueIntegrity == "QueueIntegrity" \notin failed

\* Every index and slot number the postmaster uses is in range.
PostmasterSafety ==
    /\ "PostmasterSafety" \notin failed
    \* where pm_slot names a slot the postmaster acts on (it may hold
    \* anything just after the read of the entry, before the range check)
    /\ pc[Postmaster] \in {"read_slot_worker", "read_free_tail", "write_free_entry",
                           "free_write_barrier", "write_free_head"}
          => pm_slot \in Slots

\* No thread is part way through an operation.
Quiescent ==
    /\ pc[Postmaster] \in PostmasterIdleLabels
    /\ \A b \in Backends : pc[b] \in BackendIdleLabels

\* The entries between tail and head of a ring, as positions k = 0, 1, ...
Length(h, t) == Sub(h, t)
Count(ring, h, t, s) ==
    Cardinality({k \in 0..(Length(h, t) - 1) : ring[Add(t, k) % RING] = s})

\* When quiescent, every slot is in exactly one place: the free queue, the
\* start queue, or running; and the queues hold only slot numbers.
Conservation ==
    Quiescent =>
      /\ Length(free_head, free_tail) <= RING
      /\ Length(start_head, start_tail) <= RING
      /\ \A k \in 0..(Length(free_head, free_tail) - 1) :
            free_ring[Add(free_tail, k) % RING] \in Slots
      /\ \A k \in 0..(Length(start_head, start_tail) - 1) :
            start_ring[Add(start_tail, k) % RING] \in Slots
      /\ \A s \in Slots :
            Count(free_ring, free_head, free_tail, s)
              + Count(start_ring, start_head, start_tail, s)
              + (IF s \in pm_running THEN 1 ELSE 0) = 1

\* Each postmaster operation takes a bounded number of its own steps.
PostmasterWaitFreedom == pm_steps <= StepBound

\* ... and, since it never waits, every operation it begins it finishes.
PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
