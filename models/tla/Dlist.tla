-------------------------------- MODULE Dlist --------------------------------
(***************************************************************************)
(* Idea #3 of the pgsql-hackers message, the lock-based baseline: backends *)
(* keep the free slots on a list protected by FreeListLock.  The           *)
(* postmaster never takes the lock: it frees a slot by setting its         *)
(* released[] flag, and a backend that finds the list empty refills it by  *)
(* a linear search of the flags, clearing each one it takes.  (One link    *)
(* per slot: only the first element is ever removed.)                      *)
(*                                                                         *)
(* Filled-in slots reach the postmaster through the start queue shared by  *)
(* every design (models/_startqueue.py).                                   *)
(*                                                                         *)
(* This module is the TLA+ twin of models/dlist.py under sequential        *)
(* consistency, written like Ring.tla (read its header): one action per    *)
(* shared-memory event, the local code after an event folded into its      *)
(* action, dead locals reset to 0, pm_steps counting the postmaster's      *)
(* steps in its current operation, the model's ghost assertions recorded   *)
(* in `failed`.  Its distinct states are the ones `checker explore dlist   *)
(* --memory-model sc` counts.                                              *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANTS
    SLOTS,        \* number of worker slots
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers
    StepBound,    \* the checker's --step-bound for one postmaster operation
    WordModulus,  \* 2^32 in C; see MCDlist.tla
    Mutation      \* "none", or a mutation of models/dlist.py

ASSUME /\ SLOTS \in 1..31
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ Mutation \in {"none", "no-lock", "refill-keeps-flag"}

SQ_RING == CHOOSE r \in {2^k : k \in 0..6} :
               /\ r >= SLOTS
               /\ \A q \in {2^k : k \in 0..6} : q >= SLOTS => r <= q

ASSUME /\ WordModulus % SQ_RING = 0
       /\ WordModulus >= 4 * SQ_RING + 2 * BACKENDS * OPS

Word == 0..(WordModulus - 1)
Slots == 0..(SLOTS - 1)
RingIdx == 0..(SQ_RING - 1)
TOTAL == BACKENDS * OPS
Start == WordModulus - SQ_RING

EMPTY == 65535   \* the end of the list

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

OWN_FREE == 1
OWN_START_QUEUE == 2
OWN_RUNNING == 3
OWN_POSTMASTER == 4   \* reaped, not yet released
OWN_BACKEND == 8      \* + backend number

NoLock == Mutation = "no-lock"
RefillKeepsFlag == Mutation = "refill-keeps-flag"

Add(a, b) == (a + b) % WordModulus
Sub(a, b) == (a - b) % WordModulus

VARIABLES
    \* Shared memory, named as in the Python model.
    free_first, free_next, released, FreeListLock,
    start_head, start_tail, start_ring,
    slot_worker,
    StartQueueLock,
    \* The postmaster's private state, its live local, its step counter.
    pm_start_tail, pm_running, pm_done,
    pm_slot, pm_steps,
    \* Each backend's locals: the slot it takes and that slot's link; in a
    \* refill, the position of its search and the list it builds; the start
    \* queue's head.
    done, slot, nxt, scan, first, head,
    pc,
    \* Ghost state.
    owner, start_pos, start_val, registrant,
    failed

freelist == <<free_first, free_next, released, FreeListLock>>
shared == <<freelist, start_head, start_tail, start_ring, slot_worker, StartQueueLock>>
pmvars == <<pm_start_tail, pm_running, pm_done, pm_slot, pm_steps>>
bvars == <<done, slot, nxt, scan, first, head>>
ghost == <<owner, start_pos, start_val, registrant, failed>>
vars == <<shared, pmvars, bvars, pc, ghost>>

PostmasterLabels ==
    {"read_start_head", "start_read_barrier", "read_start_entry",
     "start_consume_barrier", "write_start_tail", "read_slot_worker",
     "choose_exit", "release_barrier", "set_released", "Done"}

BackendLabels ==
    {"lock_free", "read_first", "refill_read", "refill_clear", "refill_link",
     "unlock_empty", "read_next", "write_first", "unlock_free", "fill_slot",
     "lock_start", "read_start_head", "read_start_tail", "write_start_entry",
     "start_write_barrier", "write_start_head", "unlock_start", "Done"}

PostmasterOpLabels == PostmasterLabels \ {"choose_exit", "Done"}

\* Between operations, or at the first shared event of one (quiescence).
PostmasterIdleLabels == {"choose_exit", "Done", "read_start_head", "release_barrier"}
BackendIdleLabels == {"Done", IF NoLock THEN "read_first" ELSE "lock_free"}

PropertyNames == {"ExclusiveOwnership", "QueueIntegrity", "PostmasterSafety"}

Check(cond, prop) == IF cond THEN {} ELSE {prop}

-----------------------------------------------------------------------------
TypeOK ==
    /\ free_first \in Slots \cup {EMPTY}
    /\ free_next \in [Slots -> Slots \cup {EMPTY}]
    /\ released \in [Slots -> {0, 1}]
    /\ FreeListLock \in {0, 1}
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
    /\ nxt \in [Backends -> Word]
    /\ scan \in [Backends -> 0..SLOTS]
    /\ first \in [Backends -> Slots \cup {0, EMPTY}]
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
    \* Every slot is on the free list, linked 0 -> 1 -> ... -> EMPTY.
    /\ free_first = 0
    /\ free_next = [s \in Slots |-> IF s + 1 < SLOTS THEN s + 1 ELSE EMPTY]
    /\ released = [s \in Slots |-> 0]
    /\ FreeListLock = 0
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
    /\ nxt = [b \in Backends |-> 0]
    /\ scan = [b \in Backends |-> 0]
    /\ first = [b \in Backends |-> 0]
    /\ head = [b \in Backends |-> 0]
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "read_start_head"
                               ELSE IF NoLock THEN "read_first" ELSE "lock_free"]
    /\ owner = [s \in Slots |-> OWN_FREE]
    /\ start_pos = [i \in RingIdx |-> Sub(Start, SQ_RING - i)]
    /\ start_val = [i \in RingIdx |-> 0]
    /\ registrant = [s \in Slots |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
(***************************************************************************)
(* Backend side: take a slot (refilling the list if it is empty), fill it  *)
(* in, queue it to start.                                                  *)
(***************************************************************************)

Goto(b, label) == pc' = [pc EXCEPT ![b] = label]

\* Every backend step states all six locals: dead ones are 0.
Locals(b, d, sl, n, sc, f, h) ==
    /\ done' = [done EXCEPT ![b] = d]
    /\ slot' = [slot EXCEPT ![b] = sl]
    /\ nxt' = [nxt EXCEPT ![b] = n]
    /\ scan' = [scan EXCEPT ![b] = sc]
    /\ first' = [first EXCEPT ![b] = f]
    /\ head' = [head EXCEPT ![b] = h]

FreeEntry == IF NoLock THEN "read_first" ELSE "lock_free"

Registered(b, result) ==
    LET d == done[b] + result IN
    IF d < OPS THEN /\ Goto(b, FreeEntry)
                    /\ Locals(b, d, 0, 0, 0, 0, 0)
               ELSE /\ Goto(b, "Done")
                    /\ Locals(b, 0, 0, 0, 0, 0, 0)

\* Take the first slot s of the list, or give up when the list is empty.
TakeFirst(b, s) ==
    IF s # EMPTY
      THEN /\ Goto(b, "read_next")
           /\ Locals(b, done[b], s, 0, 0, 0, 0)
      ELSE IF NoLock
        THEN Registered(b, 0)   \* NO_SLOT: register_worker() returns 0
        ELSE /\ Goto(b, "unlock_empty")
             /\ Locals(b, done[b], 0, 0, 0, 0, 0)

\* refill()'s search at position sc, with the list f built so far; at the
\* end the list's first slot is taken.
RefillFrom(b, sc, f) ==
    IF sc < SLOTS
      THEN /\ Goto(b, "refill_read")
           /\ Locals(b, done[b], 0, 0, sc, f, 0)
      ELSE TakeFirst(b, f)

\* LWLockAcquire(FreeListLock)
LockFree(b) ==
    /\ pc[b] = "lock_free"
    /\ FreeListLock = 0
    /\ FreeListLock' = 1
    /\ Goto(b, "read_first")
    /\ UNCHANGED <<free_first, free_next, released, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, pmvars, bvars, ghost>>

\* slot = pg_atomic_read_u32(free_first): an empty list is refilled.
ReadFirst(b) ==
    /\ pc[b] = "read_first"
    /\ IF free_first # EMPTY
         THEN TakeFirst(b, free_first)
         ELSE RefillFrom(b, 0, EMPTY)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* pg_atomic_read_u32(released[s]): a released slot is taken back.
RefillRead(b) ==
    /\ pc[b] = "refill_read"
    /\ IF released[scan[b]] # 0
         THEN /\ Goto(b, IF RefillKeepsFlag THEN "refill_link" ELSE "refill_clear")
              /\ UNCHANGED bvars
         ELSE RefillFrom(b, scan[b] + 1, first[b])
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* pg_atomic_write_u32(released[s], 0)
RefillClear(b) ==
    /\ pc[b] = "refill_clear"
    /\ released' = [released EXCEPT ![scan[b]] = 0]
    /\ Goto(b, "refill_link")
    /\ UNCHANGED <<free_first, free_next, FreeListLock, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(free_next[s], first); s is the list's new first slot.
RefillLink(b) ==
    /\ pc[b] = "refill_link"
    /\ free_next' = [free_next EXCEPT ![scan[b]] = first[b]]
    /\ RefillFrom(b, scan[b] + 1, scan[b])
    /\ UNCHANGED <<free_first, released, FreeListLock, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, pmvars, ghost>>

\* LWLockRelease(FreeListLock) with nothing to take: returns 0.
UnlockEmpty(b) ==
    /\ pc[b] = "unlock_empty"
    /\ FreeListLock' = 0
    /\ Registered(b, 0)
    /\ UNCHANGED <<free_first, free_next, released, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, pmvars, ghost>>

\* nxt = pg_atomic_read_u32(free_next[slot])
ReadNext(b) ==
    /\ pc[b] = "read_next"
    /\ Goto(b, "write_first")
    /\ Locals(b, done[b], slot[b], free_next[slot[b]], 0, 0, 0)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* pg_atomic_write_u32(free_first, nxt): the slot is ours.
WriteFirst(b) ==
    /\ pc[b] = "write_first"
    /\ free_first' = nxt[b]
    /\ failed' = failed \cup Check(owner[slot[b]] = OWN_FREE, "ExclusiveOwnership")
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_BACKEND + b]
    /\ Goto(b, IF NoLock THEN "fill_slot" ELSE "unlock_free")
    /\ Locals(b, done[b], slot[b], 0, 0, 0, 0)
    /\ UNCHANGED <<free_next, released, FreeListLock, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, pmvars, start_pos, start_val, registrant>>

\* LWLockRelease(FreeListLock); take_free_slot() returns the slot.
UnlockFree(b) ==
    /\ pc[b] = "unlock_free"
    /\ FreeListLock' = 0
    /\ Goto(b, "fill_slot")
    /\ UNCHANGED <<free_first, free_next, released, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(slot_worker[slot], ME)
FillSlot(b) ==
    /\ pc[b] = "fill_slot"
    /\ slot_worker' = [slot_worker EXCEPT ![slot[b]] = b]
    /\ failed' = failed \cup Check(owner[slot[b]] = OWN_BACKEND + b, "ExclusiveOwnership")
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ Goto(b, "lock_start")
    /\ UNCHANGED <<freelist, start_head, start_tail, start_ring, StartQueueLock,
                   pmvars, bvars, owner, start_pos, start_val>>

\* LWLockAcquire(StartQueueLock)
LockStart(b) ==
    /\ pc[b] = "lock_start"
    /\ StartQueueLock = 0
    /\ StartQueueLock' = 1
    /\ Goto(b, "read_start_head")
    /\ UNCHANGED <<freelist, start_head, start_tail, start_ring, slot_worker,
                   pmvars, bvars, ghost>>

\* head = pg_atomic_read_u32(start_head)
BackendReadStartHead(b) ==
    /\ pc[b] = "read_start_head"
    /\ Goto(b, "read_start_tail")
    /\ Locals(b, done[b], slot[b], 0, 0, 0, start_head)
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
    /\ Locals(b, done[b], 0, 0, 0, 0, head[b])
    /\ UNCHANGED <<freelist, start_head, start_tail, slot_worker, StartQueueLock,
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
    /\ Locals(b, done[b], 0, 0, 0, 0, 0)
    /\ UNCHANGED <<freelist, start_tail, start_ring, slot_worker, StartQueueLock,
                   pmvars, ghost>>

\* LWLockRelease(StartQueueLock); register_worker() returns 1.
UnlockStart(b) ==
    /\ pc[b] = "unlock_start"
    /\ StartQueueLock' = 0
    /\ Registered(b, 1)
    /\ UNCHANGED <<freelist, start_head, start_tail, start_ring, slot_worker,
                   pmvars, ghost>>

Backend(b) ==
    \/ LockFree(b) \/ ReadFirst(b) \/ RefillRead(b) \/ RefillClear(b)
    \/ RefillLink(b) \/ UnlockEmpty(b) \/ ReadNext(b) \/ WriteFirst(b)
    \/ UnlockFree(b) \/ FillSlot(b) \/ LockStart(b) \/ BackendReadStartHead(b)
    \/ BackendReadStartTail(b) \/ WriteStartEntry(b) \/ StartWriteBarrier(b)
    \/ WriteStartHead(b) \/ UnlockStart(b)

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
    /\ UNCHANGED <<freelist, start_head, start_ring, slot_worker, StartQueueLock,
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
                /\ PmGoto("release_barrier")
                /\ UNCHANGED <<pm_steps>>
           ELSE \* pm_done < TOTAL still holds: the loop goes round.
                /\ PmGoto("read_start_head")
                /\ UNCHANGED <<pm_slot, pm_steps, owner, failed>>
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, bvars,
                   start_pos, start_val, registrant>>

\* pg_memory_barrier(): the postmaster is done reading the slot before it
\* releases it (a load, then this store).
ReleaseBarrier ==
    /\ pc[Postmaster] = "release_barrier"
    /\ PmGoto("set_released")
    /\ Step
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_slot, bvars, ghost>>

\* pg_atomic_write_u32(released[slot], 1): the slot is free again, for a
\* backend's refill to find.  reap_worker() ends; the loop goes round or,
\* with all work done, ends.
SetReleased ==
    /\ pc[Postmaster] = "set_released"
    /\ released' = [released EXCEPT ![pm_slot] = 1]
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_FREE]
    /\ IF pm_done + 1 < TOTAL
         THEN /\ PmGoto("read_start_head")
              /\ pm_running' = pm_running \ {pm_slot}
              /\ pm_done' = pm_done + 1
              /\ UNCHANGED pm_start_tail
         ELSE /\ PmGoto("Done")
              /\ pm_running' = {} /\ pm_done' = 0 /\ pm_start_tail' = 0
    /\ pm_slot' = 0 /\ pm_steps' = 0
    /\ UNCHANGED <<free_first, free_next, FreeListLock, start_head, start_tail, start_ring,
                   slot_worker, StartQueueLock, bvars, start_pos, start_val, registrant, failed>>

PostmasterStep ==
    \/ PmReadStartHead \/ StartReadBarrier \/ PmReadStartEntry
    \/ StartConsumeBarrier \/ WriteStartTail \/ ReadSlotWorker \/ ChooseExit
    \/ ReleaseBarrier \/ SetReleased

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
    /\ pc[Postmaster] \in {"read_slot_worker", "release_barrier", "set_released"} => pm_slot \in Slots

Quiescent ==
    /\ pc[Postmaster] \in PostmasterIdleLabels
    /\ \A b \in Backends : pc[b] \in BackendIdleLabels

Length(h, t) == Sub(h, t)
Count(ring, h, t, s) ==
    Cardinality({k \in 0..(Length(h, t) - 1) : ring[Add(t, k) % SQ_RING] = s})

\* The free list from slot i, following links for at most `fuel` entries
\* (a cycle then shows as a slot listed twice).
RECURSIVE ListFrom(_, _)
ListFrom(i, fuel) ==
    IF i = EMPTY \/ fuel = 0 THEN << >>
    ELSE IF i \notin Slots THEN << i >>
    ELSE << i >> \o ListFrom(free_next[i], fuel - 1)

FreeList == ListFrom(free_first, SLOTS + 1)

\* When quiescent, every slot is in exactly one place: the free list,
\* released, the start queue, or running.
Conservation ==
    Quiescent =>
      /\ Length(start_head, start_tail) <= SQ_RING
      /\ \A k \in 0..(Length(start_head, start_tail) - 1) :
            start_ring[Add(start_tail, k) % SQ_RING] \in Slots
      /\ \A k \in 1..Len(FreeList) : FreeList[k] \in Slots
      /\ \A s \in Slots :
            Cardinality({k \in 1..Len(FreeList) : FreeList[k] = s})
              + released[s]
              + Count(start_ring, start_head, start_tail, s)
              + (IF s \in pm_running THEN 1 ELSE 0) = 1

PostmasterWaitFreedom == pm_steps <= StepBound

PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
