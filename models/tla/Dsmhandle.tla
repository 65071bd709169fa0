------------------------------ MODULE Dsmhandle ------------------------------
(***************************************************************************)
(* DSM handles that encode slot index + generation (the last paragraph of *)
(* "connection establishment versus parallel workers", pgsql-hackers,     *)
(* 2025-02-06): the proposal of models/dsmhandle.py (--param linear=0).    *)
(*                                                                         *)
(*  - A handle is gen * 2^(SLOT_BITS+1) + slot * 2 + kind: the item index, *)
(*    its generation (bumped on each reuse, skipping 0) and the odd/even   *)
(*    discriminator (backend b's segments have kind b % 2).                *)
(*  - dsm_create takes the item at the front of a FIFO ring of free items, *)
(*    dsm_attach decodes the item and compares its handle, dsm_detach     *)
(*    decrements and the last detacher frees the item (refcnt 1, then 0)  *)
(*    and puts it at the back of the ring; all under                       *)
(*    DynamicSharedMemoryControlLock.                                      *)
(*  - Workload: each backend, OPS times, creates a segment, writes its     *)
(*    contents, publishes the handle in its own board cell, attaches with *)
(*    the handle of any cell (stale ones included), reads the contents,    *)
(*    detaches, and detaches its own segment.  The postmaster does         *)
(*    nothing: it never touches the control segment.                       *)
(*                                                                         *)
(* Written like Ring.tla (read its header): one action per shared-memory  *)
(* event, the local code after an event folded into its action, dead      *)
(* locals reset to 0, the model's ghost assertions recorded in `failed`.  *)
(* Its distinct states are the ones `checker explore dsmhandle             *)
(* --memory-model sc` counts.  The baseline (today's random handles and    *)
(* linear searches, --param linear=1) and the barrier mutation (a bug only *)
(* under weak memory) are not part of this spec.                          *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    SLOTS,        \* maxitems
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* segments each backend creates
    StepBound,    \* the checker's --step-bound (the postmaster has no operation)
    GEN_BITS,     \* the checker's --param gen_bits
    Mutation      \* "none", or a mutation of models/dsmhandle.py that is a bug under sc

ASSUME /\ SLOTS \in 1..8
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ GEN_BITS \in 1..20
       /\ Mutation \in {"none", "no-generation", "attach-moribund"}

NoGeneration == Mutation = "no-generation"
AttachMoribund == Mutation = "attach-moribund"

\* The smallest power of two that holds every item.
RING == CHOOSE r \in {2^k : k \in 0..3} :
            /\ r >= SLOTS
            /\ \A q \in {2^k : k \in 0..3} : q >= SLOTS => r <= q

\* pg_leftmost_one_pos32(maxitems) + 1: the bits of SLOTS.
SLOT_BITS == CHOOSE k \in 1..4 : 2^(k - 1) <= SLOTS /\ SLOTS < 2^k
GEN_LIMIT == 2^GEN_BITS
CELLS == BACKENDS * OPS

Slots == 0..(SLOTS - 1)
RingIdx == 0..(RING - 1)
Cells == 0..(CELLS - 1)
Handles == 0..(2^(GEN_BITS + SLOT_BITS + 1) - 1)

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

\* Ghost: where an item is (owner[s]).
OWN_FREE == 1
OWN_MORIBUND == 2
OWN_BACKEND == 8      \* + the creating backend's number: live

Decode(h) == (h \div 2) % (2^SLOT_BITS)

\* The next handle of item s, whose last occupant had handle old.
NextHandle(s, old, b) ==
    LET g == old \div (2^(SLOT_BITS + 1))
        gen == IF NoGeneration THEN 1 ELSE IF g + 1 >= GEN_LIMIT THEN 1 ELSE g + 1
    IN gen * 2^(SLOT_BITS + 1) + s * 2 + (b % 2)

CellOf(b, d) == (b - 1) * OPS + d

VARIABLES
    \* Shared memory, named as in models/dsmhandle.py.
    item_handle, item_refcnt, free_ring, free_head, free_tail,
    DynamicSharedMemoryControlLock, seg_payload, board,
    \* Each backend's locals (mine: the handle of its own segment, 0 if
    \* none); `own` is 1 while it detaches its own segment
    \* (the model inlines dsm_detach twice: own tells the two copies apart).
    done, mine, cell, handle, slot, tail, cur, rc, head, own,
    pc,
    \* Ghost state.
    owner, holders, slot_seg, cell_slot,
    failed

shared == <<item_handle, item_refcnt, free_ring, free_head, free_tail,
            DynamicSharedMemoryControlLock, seg_payload, board>>
bvars == <<done, mine, cell, handle, slot, tail, cur, rc, head, own>>
ghost == <<owner, holders, slot_seg, cell_slot, failed>>
vars == <<shared, bvars, pc, ghost>>

BackendLabels ==
    {"create_lock", "read_free_tail", "read_free_head", "unlock_empty",
     "read_free_entry", "write_free_tail", "read_item_handle", "write_item_handle",
     "write_item_refcnt", "create_unlock", "write_payload", "publish_barrier",
     "publish", "choose", "read_board", "attach_lock", "read_current",
     "read_refcnt", "attach_unlock_fail", "bump_refcnt", "attach_unlock",
     "read_payload", "d_barrier", "d_lock", "d_read_refcnt", "d_decrement",
     "d_unlock", "d_lock2", "d_read_refcnt2", "d_zero", "d_read_head",
     "d_write_ring", "d_write_head", "d_unlock2", "Done"}

PostmasterLabels == {"Done"}
PostmasterOpLabels == {}

\* Between operations, or at the first event of one (quiescence): creating
\* starts with the lock, attaching with the read of the board, the own
\* detach with the barrier.
BackendIdle(b) ==
    \/ pc[b] \in {"create_lock", "choose", "read_board", "Done"}
    \/ pc[b] = "d_barrier" /\ own[b] = 1

PropertyNames ==
    {"ExclusiveOwnership", "StaleHandleRefused", "ValidHandleAttaches",
     "RefcountConservation", "SegmentIntegrity"}

Check(cond, prop) == IF cond THEN {} ELSE {prop}

-----------------------------------------------------------------------------
TypeOK ==
    /\ item_handle \in [Slots -> Handles]
    /\ item_refcnt \in [Slots -> 0..(BACKENDS + 2)]
    /\ free_ring \in [RingIdx -> Slots]
    /\ free_head \in Nat /\ free_tail \in Nat
    /\ DynamicSharedMemoryControlLock \in {0, 1}
    /\ seg_payload \in [Slots -> Handles]
    /\ board \in [Cells -> Handles]
    /\ done \in [Backends -> 0..OPS]
    /\ mine \in [Backends -> Handles]
    /\ cell \in [Backends -> Cells]
    /\ handle \in [Backends -> Handles]
    /\ slot \in [Backends -> 0..(2^SLOT_BITS - 1)]
    /\ own \in [Backends -> {0, 1}]
    /\ pc[Postmaster] \in PostmasterLabels
    /\ \A b \in Backends : pc[b] \in BackendLabels
    /\ owner \in [Slots -> {OWN_FREE, OWN_MORIBUND} \cup {OWN_BACKEND + b : b \in Backends}]
    /\ holders \in [Slots -> 0..BACKENDS]
    /\ slot_seg \in [Slots -> 0..CELLS]
    /\ cell_slot \in [Cells -> Slots]
    /\ failed \subseteq PropertyNames

Init ==
    /\ item_handle = [s \in Slots |-> 0]
    /\ item_refcnt = [s \in Slots |-> 0]
    /\ free_ring = [i \in RingIdx |-> IF i < SLOTS THEN i ELSE 0]
    /\ free_head = SLOTS
    /\ free_tail = 0
    /\ DynamicSharedMemoryControlLock = 0
    /\ seg_payload = [s \in Slots |-> 0]
    /\ board = [c \in Cells |-> 0]
    /\ done = [b \in Backends |-> 0]
    /\ mine = [b \in Backends |-> 0]
    /\ cell = [b \in Backends |-> 0]
    /\ handle = [b \in Backends |-> 0]
    /\ slot = [b \in Backends |-> 0]
    /\ tail = [b \in Backends |-> 0]
    /\ cur = [b \in Backends |-> 0]
    /\ rc = [b \in Backends |-> 0]
    /\ head = [b \in Backends |-> 0]
    /\ own = [b \in Backends |-> 0]
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "Done" ELSE "create_lock"]
    /\ owner = [s \in Slots |-> OWN_FREE]
    /\ holders = [s \in Slots |-> 0]
    /\ slot_seg = [s \in Slots |-> 0]
    /\ cell_slot = [c \in Cells |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
Goto(b, label) == pc' = [pc EXCEPT ![b] = label]
Set(f, b, v) == [f EXCEPT ![b] = v]

\* Locals: every one not named keeps its value.
Lock == /\ DynamicSharedMemoryControlLock = 0
        /\ DynamicSharedMemoryControlLock' = 1
Unlock == DynamicSharedMemoryControlLock' = 0

\* The end of one pass of the loop: the next create, or the end.
NextOp(b) ==
    /\ IF done[b] + 1 < OPS
         THEN /\ Goto(b, "create_lock")
              /\ done' = Set(done, b, done[b] + 1)
         ELSE /\ Goto(b, "Done")
              /\ done' = Set(done, b, 0)
    /\ mine' = Set(mine, b, 0) /\ cell' = Set(cell, b, 0) /\ handle' = Set(handle, b, 0)
    /\ slot' = Set(slot, b, 0) /\ own' = Set(own, b, 0)

\* dsm_attach returned: detach our own segment, if we have one.
AfterAttach(b) ==
    IF mine[b] # 0
      THEN /\ Goto(b, "d_barrier")
           /\ slot' = Set(slot, b, Decode(mine[b])) /\ own' = Set(own, b, 1)
           /\ mine' = Set(mine, b, 0) /\ cell' = Set(cell, b, 0) /\ handle' = Set(handle, b, 0)
           /\ UNCHANGED done
      ELSE NextOp(b)

\* The locals that only one event reads.
Others(b) == UNCHANGED <<tail, cur, rc, head>>

-----------------------------------------------------------------------------
(* dsm_create *)

CreateLock(b) ==
    /\ pc[b] = "create_lock"
    /\ Lock
    /\ Goto(b, "read_free_tail")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   bvars, ghost>>

ReadFreeTail(b) ==
    /\ pc[b] = "read_free_tail"
    /\ tail' = Set(tail, b, free_tail)
    /\ Goto(b, "read_free_head")
    /\ UNCHANGED <<shared, done, mine, cell, handle, slot, cur, rc, head, own, ghost>>

ReadFreeHead(b) ==
    /\ pc[b] = "read_free_head"
    /\ IF free_head = tail[b]
         THEN Goto(b, "unlock_empty") /\ tail' = Set(tail, b, 0)
         ELSE Goto(b, "read_free_entry") /\ UNCHANGED tail
    /\ UNCHANGED <<shared, done, mine, cell, handle, slot, cur, rc, head, own, ghost>>

\* Too many dynamic shared memory segments: dsm_create returns 0.
UnlockEmpty(b) ==
    /\ pc[b] = "unlock_empty"
    /\ Unlock
    /\ Goto(b, "choose")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   bvars, ghost>>

ReadFreeEntry(b) ==
    /\ pc[b] = "read_free_entry"
    /\ slot' = Set(slot, b, free_ring[tail[b] % RING])
    /\ Goto(b, "write_free_tail")
    /\ UNCHANGED <<shared, done, mine, cell, handle, tail, cur, rc, head, own, ghost>>

WriteFreeTail(b) ==
    /\ pc[b] = "write_free_tail"
    /\ free_tail' = tail[b] + 1
    /\ tail' = Set(tail, b, 0)
    /\ Goto(b, "read_item_handle")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, DynamicSharedMemoryControlLock,
                   seg_payload, board, done, mine, cell, handle, slot, cur, rc, head, own, ghost>>

ReadItemHandle(b) ==
    /\ pc[b] = "read_item_handle"
    /\ handle' = Set(handle, b, NextHandle(slot[b], item_handle[slot[b]], b))
    /\ Goto(b, "write_item_handle")
    /\ UNCHANGED <<shared, done, mine, cell, slot, tail, cur, rc, head, own, ghost>>

WriteItemHandle(b) ==
    /\ pc[b] = "write_item_handle"
    /\ item_handle' = [item_handle EXCEPT ![slot[b]] = handle[b]]
    /\ Goto(b, "write_item_refcnt")
    /\ UNCHANGED <<item_refcnt, free_ring, free_head, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, bvars, ghost>>

\* refcnt 2: active.  The item passes to the creator.
WriteItemRefcnt(b) ==
    /\ pc[b] = "write_item_refcnt"
    /\ item_refcnt' = [item_refcnt EXCEPT ![slot[b]] = 2]
    /\ failed' = failed \cup Check(owner[slot[b]] = OWN_FREE, "ExclusiveOwnership")
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_BACKEND + b]
    /\ holders' = [holders EXCEPT ![slot[b]] = 1]
    /\ slot' = Set(slot, b, 0)
    /\ Goto(b, "create_unlock")
    /\ UNCHANGED <<item_handle, free_ring, free_head, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, done, mine, cell, handle, tail, cur, rc, head, own,
                   slot_seg, cell_slot>>

\* dsm_create returns the handle; the caller decodes its item.
CreateUnlock(b) ==
    LET s == Decode(handle[b]) IN
    /\ pc[b] = "create_unlock"
    /\ Unlock
    /\ slot' = Set(slot, b, s)
    /\ slot_seg' = [slot_seg EXCEPT ![s] = CellOf(b, done[b]) + 1]
    /\ cell_slot' = [cell_slot EXCEPT ![CellOf(b, done[b])] = s]
    /\ Goto(b, "write_payload")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   done, mine, cell, handle, tail, cur, rc, head, own, owner, holders, failed>>

WritePayload(b) ==
    /\ pc[b] = "write_payload"
    /\ seg_payload' = [seg_payload EXCEPT ![slot[b]] = handle[b]]
    /\ slot' = Set(slot, b, 0)
    /\ Goto(b, "publish_barrier")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail,
                   DynamicSharedMemoryControlLock, board, done, mine, cell, handle, tail, cur, rc,
                   head, own, ghost>>

\* pg_write_barrier(): the contents before the handle.
PublishBarrier(b) ==
    /\ pc[b] = "publish_barrier"
    /\ Goto(b, "publish")
    /\ UNCHANGED <<shared, bvars, ghost>>

Publish(b) ==
    /\ pc[b] = "publish"
    /\ board' = [board EXCEPT ![CellOf(b, done[b])] = handle[b]]
    /\ mine' = Set(mine, b, handle[b])
    /\ handle' = Set(handle, b, 0)
    /\ Goto(b, "choose")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail,
                   DynamicSharedMemoryControlLock, seg_payload, done, cell, slot, tail, cur, rc, head,
                   own, ghost>>

-----------------------------------------------------------------------------
(* dsm_attach with the handle of any board cell *)

Choose(b) ==
    /\ pc[b] = "choose"
    /\ \E k \in Cells : cell' = Set(cell, b, k)
    /\ Goto(b, "read_board")
    /\ UNCHANGED <<shared, done, mine, handle, slot, tail, cur, rc, head, own, ghost>>

\* The attach failed: the handle's segment must not be live.
ValidCheck(b) ==
    failed' = failed \cup
        Check(~(slot_seg[cell_slot[cell[b]]] = cell[b] + 1 /\ owner[cell_slot[cell[b]]] >= OWN_BACKEND),
              "ValidHandleAttaches")

ReadBoard(b) ==
    LET h == board[cell[b]] IN
    /\ pc[b] = "read_board"
    \* dsm_attach: "can't attach the same segment more than once"
    /\ IF h = 0 \/ h = mine[b]
         THEN AfterAttach(b) /\ UNCHANGED failed
         ELSE IF Decode(h) >= SLOTS
           THEN AfterAttach(b) /\ ValidCheck(b)
           ELSE /\ Goto(b, "attach_lock")
                /\ handle' = Set(handle, b, h) /\ slot' = Set(slot, b, Decode(h))
                /\ UNCHANGED <<done, mine, cell, own, failed>>
    /\ UNCHANGED <<shared, tail, cur, rc, head, owner, holders, slot_seg, cell_slot>>

AttachLock(b) ==
    /\ pc[b] = "attach_lock"
    /\ Lock
    /\ Goto(b, "read_current")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   bvars, ghost>>

ReadCurrent(b) ==
    /\ pc[b] = "read_current"
    /\ cur' = Set(cur, b, item_handle[slot[b]])
    /\ Goto(b, "read_refcnt")
    /\ UNCHANGED <<shared, done, mine, cell, handle, slot, tail, rc, head, own, ghost>>

\* refcnt 0: free; 1: moribund.
ReadRefcnt(b) ==
    LET r == item_refcnt[slot[b]] IN
    /\ pc[b] = "read_refcnt"
    /\ cur' = Set(cur, b, 0)
    /\ IF cur[b] # handle[b] \/ (r <= 1 /\ ~AttachMoribund) \/ r = 0
         THEN /\ Goto(b, "attach_unlock_fail")
              /\ slot' = Set(slot, b, 0)
              /\ UNCHANGED rc
         ELSE /\ Goto(b, "bump_refcnt")
              /\ rc' = Set(rc, b, r)
              /\ UNCHANGED slot
    /\ UNCHANGED <<shared, done, mine, cell, handle, tail, head, own, ghost>>

AttachUnlockFail(b) ==
    /\ pc[b] = "attach_unlock_fail"
    /\ Unlock
    /\ ValidCheck(b)
    /\ AfterAttach(b)
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   tail, cur, rc, head, owner, holders, slot_seg, cell_slot>>

BumpRefcnt(b) ==
    /\ pc[b] = "bump_refcnt"
    /\ item_refcnt' = [item_refcnt EXCEPT ![slot[b]] = rc[b] + 1]
    /\ failed' = failed \cup Check(owner[slot[b]] >= OWN_BACKEND, "RefcountConservation")
    /\ holders' = [holders EXCEPT ![slot[b]] = holders[slot[b]] + 1]
    /\ rc' = Set(rc, b, 0)
    /\ Goto(b, "attach_unlock")
    /\ UNCHANGED <<item_handle, free_ring, free_head, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, done, mine, cell, handle, slot, tail, cur, head, own,
                   owner, slot_seg, cell_slot>>

\* Attached: the item must hold the segment the handle was published for.
AttachUnlock(b) ==
    /\ pc[b] = "attach_unlock"
    /\ Unlock
    /\ failed' = failed \cup Check(slot_seg[slot[b]] = cell[b] + 1, "StaleHandleRefused")
    /\ cell' = Set(cell, b, 0)
    /\ Goto(b, "read_payload")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   done, mine, handle, slot, tail, cur, rc, head, own, owner, holders, slot_seg, cell_slot>>

ReadPayload(b) ==
    /\ pc[b] = "read_payload"
    /\ failed' = failed \cup Check(seg_payload[slot[b]] = handle[b], "SegmentIntegrity")
    /\ handle' = Set(handle, b, 0)
    /\ Goto(b, "d_barrier")
    /\ UNCHANGED <<shared, done, mine, cell, slot, tail, cur, rc, head, own,
                   owner, holders, slot_seg, cell_slot>>

-----------------------------------------------------------------------------
(* dsm_detach (own = 0: the attached segment; own = 1: our own) *)

\* The end of dsm_detach.
Detached(b) ==
    IF own[b] = 1 THEN NextOp(b) ELSE AfterAttach(b)

\* munmap(): a system call, so a full barrier.
DBarrier(b) ==
    /\ pc[b] = "d_barrier"
    /\ Goto(b, "d_lock")
    /\ UNCHANGED <<shared, bvars, ghost>>

DLock(b) ==
    /\ pc[b] = "d_lock"
    /\ Lock
    /\ Goto(b, "d_read_refcnt")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   bvars, ghost>>

DReadRefcnt(b) ==
    LET r == item_refcnt[slot[b]] IN
    /\ pc[b] = "d_read_refcnt"
    /\ rc' = Set(rc, b, r)
    /\ failed' = failed \cup Check(r = holders[slot[b]] + 1, "RefcountConservation")
    /\ Goto(b, "d_decrement")
    /\ UNCHANGED <<shared, done, mine, cell, handle, slot, tail, cur, head, own,
                   owner, holders, slot_seg, cell_slot>>

DDecrement(b) ==
    /\ pc[b] = "d_decrement"
    /\ item_refcnt' = [item_refcnt EXCEPT ![slot[b]] = rc[b] - 1]
    /\ holders' = [holders EXCEPT ![slot[b]] = holders[slot[b]] - 1]
    /\ owner' = IF rc[b] = 2 THEN [owner EXCEPT ![slot[b]] = OWN_MORIBUND] ELSE owner
    /\ Goto(b, "d_unlock")
    /\ UNCHANGED <<item_handle, free_ring, free_head, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, bvars, slot_seg, cell_slot, failed>>

\* Not the last: done.  The last destroys the segment and frees the item.
DUnlock(b) ==
    /\ pc[b] = "d_unlock"
    /\ Unlock
    /\ rc' = Set(rc, b, 0)
    /\ IF rc[b] # 2
         THEN Detached(b)
         ELSE Goto(b, "d_lock2") /\ UNCHANGED <<done, mine, cell, handle, slot, own>>
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   tail, cur, head, ghost>>

DLock2(b) ==
    /\ pc[b] = "d_lock2"
    /\ Lock
    /\ Goto(b, "d_read_refcnt2")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   bvars, ghost>>

DReadRefcnt2(b) ==
    /\ pc[b] = "d_read_refcnt2"
    /\ failed' = failed \cup
          Check(item_refcnt[slot[b]] = 1 /\ holders[slot[b]] = 0, "RefcountConservation")
    /\ Goto(b, "d_zero")
    /\ UNCHANGED <<shared, bvars, owner, holders, slot_seg, cell_slot>>

DZero(b) ==
    /\ pc[b] = "d_zero"
    /\ item_refcnt' = [item_refcnt EXCEPT ![slot[b]] = 0]
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_FREE]
    /\ slot_seg' = [slot_seg EXCEPT ![slot[b]] = 0]
    /\ Goto(b, "d_read_head")
    /\ UNCHANGED <<item_handle, free_ring, free_head, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, bvars, holders, cell_slot, failed>>

DReadHead(b) ==
    /\ pc[b] = "d_read_head"
    /\ head' = Set(head, b, free_head)
    /\ Goto(b, "d_write_ring")
    /\ UNCHANGED <<shared, done, mine, cell, handle, slot, tail, cur, rc, own, ghost>>

DWriteRing(b) ==
    /\ pc[b] = "d_write_ring"
    /\ free_ring' = [free_ring EXCEPT ![head[b] % RING] = slot[b]]
    /\ slot' = Set(slot, b, 0)
    /\ Goto(b, "d_write_head")
    /\ UNCHANGED <<item_handle, item_refcnt, free_head, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, done, mine, cell, handle, tail, cur, rc, head, own, ghost>>

DWriteHead(b) ==
    /\ pc[b] = "d_write_head"
    /\ free_head' = head[b] + 1
    /\ head' = Set(head, b, 0)
    /\ Goto(b, "d_unlock2")
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_tail, DynamicSharedMemoryControlLock,
                   seg_payload, board, done, mine, cell, handle, slot, tail, cur, rc, own, ghost>>

DUnlock2(b) ==
    /\ pc[b] = "d_unlock2"
    /\ Unlock
    /\ Detached(b)
    /\ UNCHANGED <<item_handle, item_refcnt, free_ring, free_head, free_tail, seg_payload, board,
                   tail, cur, rc, head, ghost>>

Backend(b) ==
    \/ CreateLock(b) \/ ReadFreeTail(b) \/ ReadFreeHead(b) \/ UnlockEmpty(b)
    \/ ReadFreeEntry(b) \/ WriteFreeTail(b) \/ ReadItemHandle(b) \/ WriteItemHandle(b)
    \/ WriteItemRefcnt(b) \/ CreateUnlock(b) \/ WritePayload(b) \/ PublishBarrier(b)
    \/ Publish(b) \/ Choose(b) \/ ReadBoard(b) \/ AttachLock(b) \/ ReadCurrent(b)
    \/ ReadRefcnt(b) \/ AttachUnlockFail(b) \/ BumpRefcnt(b) \/ AttachUnlock(b)
    \/ ReadPayload(b) \/ DBarrier(b) \/ DLock(b) \/ DReadRefcnt(b) \/ DDecrement(b)
    \/ DUnlock(b) \/ DLock2(b) \/ DReadRefcnt2(b) \/ DZero(b) \/ DReadHead(b)
    \/ DWriteRing(b) \/ DWriteHead(b) \/ DUnlock2(b)

\* The postmaster has no step: it never touches the control segment.
PostmasterStep == FALSE

Terminating ==
    /\ \A t \in Threads : pc[t] = "Done"
    /\ UNCHANGED vars

Next ==
    \/ \E b \in Backends : Backend(b)
    \/ Terminating

Spec == Init /\ [][Next]_vars /\ WF_vars(PostmasterStep)

-----------------------------------------------------------------------------
(* Properties *)

ExclusiveOwnership == "ExclusiveOwnership" \notin failed
StaleHandleRefused == "StaleHandleRefused" \notin failed
ValidHandleAttaches == "ValidHandleAttaches" \notin failed
RefcountConservation == "RefcountConservation" \notin failed
SegmentIntegrity == "SegmentIntegrity" \notin failed

Quiescent == \A b \in Backends : BackendIdle(b)

FreeCount == free_head - free_tail
InRing(s) == Cardinality({k \in 0..(FreeCount - 1) : free_ring[(free_tail + k) % RING] = s})

\* When quiescent: nothing moribund; a free item has refcnt 0 and is in the
\* free ring exactly once; a live one has refcnt 1 + the backends attached,
\* at least one, and is not in the ring.
Conservation ==
    Quiescent =>
      /\ FreeCount <= SLOTS
      /\ \A s \in Slots :
           /\ owner[s] # OWN_MORIBUND
           /\ owner[s] = OWN_FREE => item_refcnt[s] = 0 /\ InRing(s) = 1
           /\ owner[s] >= OWN_BACKEND =>
                 /\ item_refcnt[s] = holders[s] + 1
                 /\ holders[s] > 0
                 /\ InRing(s) = 0

\* The postmaster has nothing to do: it is never part way through anything.
PostmasterWaitFreedom == pc[Postmaster] = "Done"

PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
