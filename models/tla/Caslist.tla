------------------------------ MODULE Caslist ------------------------------
(***************************************************************************)
(* Idea #1 of the pgsql-hackers message: a Treiber-style free list.        *)
(*                                                                         *)
(* The list's head is one 32-bit word, a 16-bit tag and a 16-bit index     *)
(* (EMPTY = 0xFFFF when the list is empty); free_next[s] links the slots.  *)
(* Every change of the head bumps the tag, so a compare-exchange that saw  *)
(* index A cannot succeed after A was popped and pushed back (ABA).        *)
(* Backends pop with an ordinary CAS loop.  The postmaster pushes a reaped *)
(* slot with a compare-exchange but gives up after CAS_RETRIES failures    *)
(* and keeps the slot privately (pm_kept), trying again once per pass of   *)
(* its loop: each of its operations stays bounded whatever backends do.    *)
(*                                                                         *)
(* Filled-in slots reach the postmaster through the start queue shared by  *)
(* every design (models/_startqueue.py).                                   *)
(*                                                                         *)
(* This module is the TLA+ twin of models/caslist.py under sequential      *)
(* consistency, written like Ring.tla (read its header): one action per    *)
(* shared-memory event, the local code after an event folded into its      *)
(* action, dead locals reset to 0, pm_steps counting the postmaster's      *)
(* steps in its current operation, the model's ghost assertions recorded   *)
(* in `failed`.  Its distinct states are the ones `checker explore caslist *)
(* --memory-model sc` counts.                                              *)
(*                                                                         *)
(* The head word is written as a record [tag, index]: the same            *)
(* information, and TLC's integers cannot hold a 32-bit word.              *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences

CONSTANTS
    SLOTS,        \* number of worker slots
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers
    StepBound,    \* the checker's --step-bound for one postmaster operation
    CAS_RETRIES,  \* the checker's --param cas_retries (default 2)
    WordModulus,  \* 2^32 in C; see MCCaslist.tla
    Mutation      \* "none", or "no-tag"

ASSUME /\ SLOTS \in 1..31
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ CAS_RETRIES \in Nat \ {0}
       /\ Mutation \in {"none", "no-tag"}

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

EMPTY == 65535          \* the index of an empty list
TagModulus == 65536     \* the tag is the head word's upper 16 bits
Heads == [tag : 0..(TagModulus - 1), index : 0..EMPTY]
NoHead == [tag |-> 0, index |-> 0]   \* the word 0: a dead local

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

OWN_FREE == 1
OWN_START_QUEUE == 2
OWN_RUNNING == 3
OWN_POSTMASTER == 4   \* reaped or kept, not on the free list
OWN_BACKEND == 8      \* + backend number

NoTag == Mutation = "no-tag"

Add(a, b) == (a + b) % WordModulus
Sub(a, b) == (a - b) % WordModulus
Min(S) == CHOOSE x \in S : \A y \in S : x <= y

\* next_head(): the head word that replaces h and names index i.
NextHead(h, i) == [tag |-> IF NoTag THEN h.tag ELSE (h.tag + 1) % TagModulus, index |-> i]

VARIABLES
    \* Shared memory, named as in the Python model.
    free_head, free_next,
    start_head, start_tail, start_ring,
    slot_worker,
    StartQueueLock,
    \* The postmaster's private state ...
    pm_start_tail, pm_running, pm_done, pm_kept,
    \* ... its live locals in a push (slot, the head it expects, failed
    \* compare-exchanges so far) and its step counter.
    pm_slot, pm_head, pm_tries, pm_steps,
    \* Each backend's locals: the list head it saw, the slot it pops, that
    \* slot's link, and the start queue's head.
    done, seen_head, slot, nxt, head,
    pc,
    \* Ghost state.
    owner, start_pos, start_val, registrant,
    failed

shared == <<free_head, free_next, start_head, start_tail, start_ring, slot_worker, StartQueueLock>>
pmvars == <<pm_start_tail, pm_running, pm_done, pm_kept, pm_slot, pm_head, pm_tries, pm_steps>>
bvars == <<done, seen_head, slot, nxt, head>>
ghost == <<owner, start_pos, start_val, registrant, failed>>
vars == <<shared, pmvars, bvars, pc, ghost>>

PostmasterLabels ==
    {"read_start_head", "start_read_barrier", "read_start_entry",
     "start_consume_barrier", "write_start_tail", "read_slot_worker",
     "kept_read_free_head", "kept_write_next", "kept_cas_push",
     "choose_exit", "read_free_head", "write_next", "cas_push", "Done"}

BackendLabels ==
    {"read_free_head", "read_next", "cas_pop", "fill_slot", "lock_start",
     "read_start_head", "read_start_tail", "write_start_entry",
     "start_write_barrier", "write_start_head", "unlock_start", "Done"}

PostmasterOpLabels == PostmasterLabels \ {"choose_exit", "Done"}

\* Between operations, or at the first shared event of one (quiescence).
PostmasterIdleLabels == {"choose_exit", "Done", "read_start_head", "kept_read_free_head", "read_free_head"}
BackendIdleLabels == {"read_free_head", "Done"}

PropertyNames == {"ExclusiveOwnership", "QueueIntegrity", "PostmasterSafety"}

Check(cond, prop) == IF cond THEN {} ELSE {prop}

-----------------------------------------------------------------------------
TypeOK ==
    /\ free_head \in Heads
    /\ free_next \in [Slots -> Word]
    /\ start_head \in Word /\ start_tail \in Word
    /\ start_ring \in [RingIdx -> Word]
    /\ slot_worker \in [Slots -> Word]
    /\ StartQueueLock \in {0, 1}
    /\ pm_start_tail \in Word
    /\ pm_running \subseteq Slots
    /\ pm_done \in 0..TOTAL
    /\ pm_kept \subseteq Slots
    /\ pm_slot \in Word
    /\ pm_head \in Heads
    /\ pm_tries \in 0..CAS_RETRIES
    /\ pm_steps \in 0..StepBound
    /\ done \in [Backends -> 0..OPS]
    /\ seen_head \in [Backends -> Heads]
    /\ slot \in [Backends -> Word]
    /\ nxt \in [Backends -> Word]
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
    \* Every slot is free, linked 0 -> 1 -> ... -> EMPTY.
    /\ free_head = [tag |-> 0, index |-> 0]
    /\ free_next = [s \in Slots |-> IF s + 1 < SLOTS THEN s + 1 ELSE EMPTY]
    /\ start_head = Start
    /\ start_tail = Start
    /\ start_ring = [i \in RingIdx |-> 0]
    /\ slot_worker = [s \in Slots |-> 0]
    /\ StartQueueLock = 0
    /\ pm_start_tail = Start
    /\ pm_running = {}
    /\ pm_done = 0
    /\ pm_kept = {}
    /\ pm_slot = 0
    /\ pm_head = NoHead
    /\ pm_tries = 0
    /\ pm_steps = 0
    /\ done = [b \in Backends |-> 0]
    /\ seen_head = [b \in Backends |-> NoHead]
    /\ slot = [b \in Backends |-> 0]
    /\ nxt = [b \in Backends |-> 0]
    /\ head = [b \in Backends |-> 0]
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "read_start_head" ELSE "read_free_head"]
    /\ owner = [s \in Slots |-> OWN_FREE]
    /\ start_pos = [i \in RingIdx |-> Sub(Start, SQ_RING - i)]
    /\ start_val = [i \in RingIdx |-> 0]
    /\ registrant = [s \in Slots |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
(***************************************************************************)
(* Backend side: pop a slot, fill it in, queue it to start.                *)
(***************************************************************************)

Goto(b, label) == pc' = [pc EXCEPT ![b] = label]

\* Every backend step states all five locals: dead ones are 0.
Locals(b, d, h, s, n, sh) ==
    /\ done' = [done EXCEPT ![b] = d]
    /\ seen_head' = [seen_head EXCEPT ![b] = h]
    /\ slot' = [slot EXCEPT ![b] = s]
    /\ nxt' = [nxt EXCEPT ![b] = n]
    /\ head' = [head EXCEPT ![b] = sh]

Registered(b, result) ==
    LET d == done[b] + result IN
    IF d < OPS THEN /\ Goto(b, "read_free_head")
                    /\ Locals(b, d, NoHead, 0, 0, 0)
               ELSE /\ Goto(b, "Done")
                    /\ Locals(b, 0, NoHead, 0, 0, 0)

\* The top of take_free_slot()'s loop with head h: an empty list returns
\* NO_SLOT (register_worker() returns 0), else the first slot's link is next.
Pop(b, h) ==
    IF h.index = EMPTY
      THEN Registered(b, 0)
      ELSE /\ Goto(b, "read_next")
           /\ Locals(b, done[b], h, h.index, 0, 0)

\* head = pg_atomic_read_u32(free_head)
ReadFreeHead(b) ==
    /\ pc[b] = "read_free_head"
    /\ Pop(b, free_head)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* nxt = pg_atomic_read_u32(free_next[slot])
ReadNext(b) ==
    /\ pc[b] = "read_next"
    /\ Goto(b, "cas_pop")
    /\ Locals(b, done[b], seen_head[b], slot[b], free_next[slot[b]], 0)
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* pg_atomic_compare_exchange_u32(free_head, &head, next_head(head, nxt)):
\* on success the slot is ours; on failure `head` holds the head found, and
\* the loop goes round with it.
CasPop(b) ==
    /\ pc[b] = "cas_pop"
    /\ IF free_head = seen_head[b]
         THEN /\ free_head' = NextHead(seen_head[b], nxt[b] % TagModulus)
              /\ failed' = failed \cup Check(owner[slot[b]] = OWN_FREE, "ExclusiveOwnership")
              /\ owner' = [owner EXCEPT ![slot[b]] = OWN_BACKEND + b]
              /\ Goto(b, "fill_slot")
              /\ Locals(b, done[b], NoHead, slot[b], 0, 0)
         ELSE /\ Pop(b, free_head)
              /\ UNCHANGED <<free_head, owner, failed>>
    /\ UNCHANGED <<free_next, start_head, start_tail, start_ring, slot_worker, StartQueueLock,
                   pmvars, start_pos, start_val, registrant>>

\* pg_atomic_write_u32(slot_worker[slot], ME)
FillSlot(b) ==
    /\ pc[b] = "fill_slot"
    /\ slot_worker' = [slot_worker EXCEPT ![slot[b]] = b]
    /\ failed' = failed \cup Check(owner[slot[b]] = OWN_BACKEND + b, "ExclusiveOwnership")
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ Goto(b, "lock_start")
    /\ UNCHANGED <<free_head, free_next, start_head, start_tail, start_ring, StartQueueLock,
                   pmvars, bvars, owner, start_pos, start_val>>

\* LWLockAcquire(StartQueueLock)
LockStart(b) ==
    /\ pc[b] = "lock_start"
    /\ StartQueueLock = 0
    /\ StartQueueLock' = 1
    /\ Goto(b, "read_start_head")
    /\ UNCHANGED <<free_head, free_next, start_head, start_tail, start_ring, slot_worker,
                   pmvars, bvars, ghost>>

\* head = pg_atomic_read_u32(start_head)
BackendReadStartHead(b) ==
    /\ pc[b] = "read_start_head"
    /\ Goto(b, "read_start_tail")
    /\ Locals(b, done[b], NoHead, slot[b], 0, start_head)
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
    /\ Locals(b, done[b], NoHead, 0, 0, head[b])
    /\ UNCHANGED <<free_head, free_next, start_head, start_tail, slot_worker, StartQueueLock,
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
    /\ Locals(b, done[b], NoHead, 0, 0, 0)
    /\ UNCHANGED <<free_head, free_next, start_tail, start_ring, slot_worker, StartQueueLock,
                   pmvars, ghost>>

\* LWLockRelease(StartQueueLock); register_worker() returns 1.
UnlockStart(b) ==
    /\ pc[b] = "unlock_start"
    /\ StartQueueLock' = 0
    /\ Registered(b, 1)
    /\ UNCHANGED <<free_head, free_next, start_head, start_tail, start_ring, slot_worker,
                   pmvars, ghost>>

Backend(b) ==
    \/ ReadFreeHead(b) \/ ReadNext(b) \/ CasPop(b) \/ FillSlot(b) \/ LockStart(b)
    \/ BackendReadStartHead(b) \/ BackendReadStartTail(b) \/ WriteStartEntry(b)
    \/ StartWriteBarrier(b) \/ WriteStartHead(b) \/ UnlockStart(b)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Postmaster side.                                                        *)
(***************************************************************************)

PmGoto(label) == pc' = [pc EXCEPT ![Postmaster] = label]

\* The postmaster's locals and step counter after a step.
PmLocals(s, h, t, steps) ==
    /\ pm_slot' = s /\ pm_head' = h /\ pm_tries' = t /\ pm_steps' = steps

\* start_queued_worker() has ended: housekeeping (push_kept_slot()) begins
\* with the lowest kept slot, if the postmaster kept any; else on to the
\* choice of a worker that exits.
EndStart(kept) ==
    IF kept = {}
      THEN /\ PmGoto("choose_exit")
           /\ PmLocals(0, NoHead, 0, 0)
      ELSE /\ PmGoto("kept_read_free_head")
           /\ PmLocals(Min(kept), NoHead, 0, 0)

\* push_slot() returned `ok`.  In push_kept_slot() a pushed slot is no
\* longer kept.  In reap_worker() a slot that could not be pushed is kept;
\* the slot leaves pm_running, and the loop goes round or ends.
PushDone(kind, ok) ==
    IF kind = "kept_"
      THEN /\ pm_kept' = IF ok THEN pm_kept \ {pm_slot} ELSE pm_kept
           /\ PmGoto("choose_exit")
           /\ PmLocals(0, NoHead, 0, 0)
           /\ UNCHANGED <<pm_start_tail, pm_running, pm_done>>
      ELSE IF pm_done + 1 < TOTAL
        THEN /\ pm_kept' = IF ok THEN pm_kept ELSE pm_kept \cup {pm_slot}
             /\ pm_running' = pm_running \ {pm_slot}
             /\ pm_done' = pm_done + 1
             /\ PmGoto("read_start_head")
             /\ PmLocals(0, NoHead, 0, 0)
             /\ UNCHANGED pm_start_tail
        ELSE \* all work done: a finished postmaster's state is never read again
             /\ PmGoto("Done")
             /\ PmLocals(0, NoHead, 0, 0)
             /\ pm_kept' = {} /\ pm_running' = {} /\ pm_done' = 0 /\ pm_start_tail' = 0

\* The top of push_slot()'s loop with head h after `tries` failures: a head
\* no backend could have written is not linked to (the slot stays kept),
\* else link the slot in front of the first one.  `kind` is "kept_" in
\* push_kept_slot(), "" in reap_worker().
PushTry(kind, h, tries) ==
    IF h.index # EMPTY /\ h.index >= SLOTS
      THEN PushDone(kind, FALSE)
      ELSE /\ PmGoto(kind \o "write_next")
           /\ PmLocals(pm_slot, h, tries, pm_steps + 1)
           /\ UNCHANGED <<pm_start_tail, pm_running, pm_done, pm_kept>>

\* head = pg_atomic_read_u32(start_head)
PmReadStartHead ==
    /\ pc[Postmaster] = "read_start_head"
    /\ LET queued == Sub(start_head, pm_start_tail) IN
       IF queued = 0 \/ queued > SQ_RING
         THEN EndStart(pm_kept)
         ELSE /\ PmGoto("start_read_barrier")
              /\ PmLocals(0, NoHead, 0, pm_steps + 1)
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_kept, bvars, ghost>>

\* pg_read_barrier()
StartReadBarrier ==
    /\ pc[Postmaster] = "start_read_barrier"
    /\ PmGoto("read_start_entry")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_kept, pm_slot, pm_head,
                   pm_tries, bvars, ghost>>

\* slot = pg_atomic_read_u32(start_ring[pm_start_tail % SQ_RING])
PmReadStartEntry ==
    /\ pc[Postmaster] = "read_start_entry"
    /\ LET i == pm_start_tail % SQ_RING
           s == start_ring[i]
       IN /\ PmLocals(s, NoHead, 0, pm_steps + 1)
          /\ failed' = failed \cup
                Check(start_pos[i] = pm_start_tail /\ start_val[i] = s, "QueueIntegrity")
    /\ pm_start_tail' = Add(pm_start_tail, 1)
    /\ PmGoto("start_consume_barrier")
    /\ UNCHANGED <<shared, pm_running, pm_done, pm_kept, bvars, owner, start_pos, start_val, registrant>>

\* pg_memory_barrier()
StartConsumeBarrier ==
    /\ pc[Postmaster] = "start_consume_barrier"
    /\ PmGoto("write_start_tail")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_kept, pm_slot, pm_head,
                   pm_tries, bvars, ghost>>

\* pg_atomic_write_u32(start_tail, pm_start_tail); a slot number out of
\* range, or one already running, is corruption and is ignored.  Otherwise
\* the slot passes from the start queue to the postmaster: it must be queued.
WriteStartTail ==
    /\ pc[Postmaster] = "write_start_tail"
    /\ start_tail' = pm_start_tail
    /\ IF pm_slot >= SLOTS \/ pm_slot \in pm_running
         THEN /\ EndStart(pm_kept)
              /\ UNCHANGED <<owner, failed>>
         ELSE /\ PmGoto("read_slot_worker")
              /\ pm_steps' = pm_steps + 1
              /\ UNCHANGED <<pm_slot, pm_head, pm_tries>>
              /\ failed' = failed \cup Check(owner[pm_slot] = OWN_START_QUEUE, "ExclusiveOwnership")
              /\ owner' = [owner EXCEPT ![pm_slot] = OWN_RUNNING]
    /\ UNCHANGED <<free_head, free_next, start_head, start_ring, slot_worker, StartQueueLock,
                   pm_start_tail, pm_running, pm_done, pm_kept, bvars, start_pos, start_val, registrant>>

\* worker = pg_atomic_read_u32(slot_worker[slot]): the description must be
\* its registrant's.  (One no backend could have written sets the model's
\* pm_corrupt flag, which nothing reads.)  The worker runs.
ReadSlotWorker ==
    /\ pc[Postmaster] = "read_slot_worker"
    /\ failed' = failed \cup Check(slot_worker[pm_slot] = registrant[pm_slot], "QueueIntegrity")
    /\ pm_running' = pm_running \cup {pm_slot}
    /\ EndStart(pm_kept)
    /\ UNCHANGED <<shared, pm_start_tail, pm_done, pm_kept, bvars, owner, start_pos, start_val, registrant>>

\* head = pg_atomic_read_u32(free_head), at the start of a push (kind
\* "kept_": push_kept_slot(); kind "": reap_worker()).
PmReadFreeHead(kind) ==
    /\ pc[Postmaster] = kind \o "read_free_head"
    /\ PushTry(kind, free_head, 0)
    /\ UNCHANGED <<shared, bvars, ghost>>

\* pg_atomic_write_u32(free_next[slot], first): link the slot in front.
PmWriteNext(kind) ==
    /\ pc[Postmaster] = kind \o "write_next"
    /\ free_next' = [free_next EXCEPT ![pm_slot] = pm_head.index]
    /\ PmGoto(kind \o "cas_push")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<free_head, start_head, start_tail, start_ring, slot_worker, StartQueueLock,
                   pm_start_tail, pm_running, pm_done, pm_kept, pm_slot, pm_head, pm_tries,
                   bvars, ghost>>

\* pg_atomic_compare_exchange_u32(free_head, &head, next_head(head, slot)):
\* on success the slot is free; on failure try again with the head found,
\* up to CAS_RETRIES failures.
PmCasPush(kind) ==
    /\ pc[Postmaster] = kind \o "cas_push"
    /\ IF free_head = pm_head
         THEN /\ free_head' = NextHead(pm_head, pm_slot)
              /\ failed' = failed \cup Check(owner[pm_slot] = OWN_POSTMASTER, "ExclusiveOwnership")
              /\ owner' = [owner EXCEPT ![pm_slot] = OWN_FREE]
              /\ PushDone(kind, TRUE)
         ELSE /\ UNCHANGED <<free_head, owner, failed>>
              /\ IF pm_tries + 1 >= CAS_RETRIES
                   THEN PushDone(kind, FALSE)
                   ELSE PushTry(kind, free_head, pm_tries + 1)
    /\ UNCHANGED <<free_next, start_head, start_tail, start_ring, slot_worker, StartQueueLock,
                   bvars, start_pos, start_val, registrant>>

\* exited = choose(SLOTS + 1): any running worker may exit now, or none.
\* If one does, reap_worker() begins: the slot goes back to the postmaster.
ChooseExit ==
    /\ pc[Postmaster] = "choose_exit"
    /\ \E e \in 0..SLOTS :
         IF e < SLOTS /\ e \in pm_running
           THEN /\ failed' = failed \cup Check(owner[e] = OWN_RUNNING, "ExclusiveOwnership")
                /\ owner' = [owner EXCEPT ![e] = OWN_POSTMASTER]
                /\ PmGoto("read_free_head")
                /\ PmLocals(e, NoHead, 0, 0)
           ELSE \* pm_done < TOTAL still holds: the loop goes round.
                /\ PmGoto("read_start_head")
                /\ UNCHANGED <<pm_slot, pm_head, pm_tries, pm_steps, owner, failed>>
    /\ UNCHANGED <<shared, pm_start_tail, pm_running, pm_done, pm_kept, bvars,
                   start_pos, start_val, registrant>>

PostmasterStep ==
    \/ PmReadStartHead \/ StartReadBarrier \/ PmReadStartEntry
    \/ StartConsumeBarrier \/ WriteStartTail \/ ReadSlotWorker \/ ChooseExit
    \/ \E kind \in {"kept_", ""} :
          PmReadFreeHead(kind) \/ PmWriteNext(kind) \/ PmCasPush(kind)

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
    /\ pc[Postmaster] \in {"read_slot_worker", "read_free_head", "write_next", "cas_push",
                           "kept_read_free_head", "kept_write_next", "kept_cas_push"}
          => pm_slot \in Slots

Quiescent ==
    /\ pc[Postmaster] \in PostmasterIdleLabels
    /\ \A b \in Backends : pc[b] \in BackendIdleLabels

Length(h, t) == Sub(h, t)
Count(ring, h, t, s) ==
    Cardinality({k \in 0..(Length(h, t) - 1) : ring[Add(t, k) % SQ_RING] = s})

\* The free list from index i, following links for at most `fuel` entries
\* (a cycle then shows as a slot listed twice).  An index out of range ends
\* it, and Conservation rejects it.
RECURSIVE ListFrom(_, _)
ListFrom(i, fuel) ==
    IF i = EMPTY \/ fuel = 0 THEN << >>
    ELSE IF i \notin Slots THEN << i >>
    ELSE << i >> \o ListFrom(free_next[i] % TagModulus, fuel - 1)

FreeList == ListFrom(free_head.index, SLOTS + 1)

\* When quiescent, every slot is in exactly one place: the free list, the
\* start queue, running, or kept by the postmaster.
Conservation ==
    Quiescent =>
      /\ Length(start_head, start_tail) <= SQ_RING
      /\ \A k \in 0..(Length(start_head, start_tail) - 1) :
            start_ring[Add(start_tail, k) % SQ_RING] \in Slots
      /\ \A k \in 1..Len(FreeList) : FreeList[k] \in Slots
      /\ \A s \in Slots :
            Cardinality({k \in 1..Len(FreeList) : FreeList[k] = s})
              + Count(start_ring, start_head, start_tail, s)
              + (IF s \in pm_running THEN 1 ELSE 0)
              + (IF s \in pm_kept THEN 1 ELSE 0) = 1

PostmasterWaitFreedom == pm_steps <= StepBound

PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
