----------------------------- MODULE Changequeue -----------------------------
(***************************************************************************)
(* The WIP patch 0001-Remove-BackgroundWorkerStateChange-s-outer-loop as  *)
(* written (models/changequeue.py, Fixed = FALSE), and the smallest change *)
(* that makes it correct (models/changequeue_fixed.py, Fixed = TRUE); both *)
(* share models/_changequeue.py, as they share this module.                *)
(*                                                                         *)
(*  - A shared queue of QSIZE = 2N + 1 slot numbers (N = SLOTS): backends  *)
(*    append under BackgroundWorkerLock (write the entry at head,          *)
(*    pg_write_barrier(), advance head modulo QSIZE); the postmaster reads *)
(*    tail and head once, issues pg_read_barrier(), and for each entry     *)
(*    stores the new tail and handles the slot, without a lock.            *)
(*  - RegisterDynamicBackgroundWorker: the first slot not in_use; worker,  *)
(*    pid = InvalidPid, generation++, terminate = false, in_use = true     *)
(*    (the patch removed the pg_write_barrier() before it; the fix puts it *)
(*    back), then an entry for the slot.                                   *)
(*  - TerminateBackgroundWorker: if the handle's generation matches and    *)
(*    terminate is clear, set terminate and add an entry for the slot.     *)
(*  - The only guard against a full queue is Assert(head != tail) in the  *)
(*    enqueue: ASSERTS = 1 is an assert-enabled build (a full queue is a   *)
(*    failed assertion, QueueCapacity), ASSERTS = 0 production (the entry  *)
(*    overwrites one not read yet).                                        *)
(*  - The postmaster's pass: a child exit (any running worker, or none),  *)
(*    BackgroundWorkerStateChange, then maybe_start_bgworkers (fork one    *)
(*    registered worker, or forget one marked rw_terminate).  Its list of  *)
(*    RegisteredBgWorker is three sets of slots.                          *)
(*  - The fix: a per-slot flag `queued` so that a slot has at most one    *)
(*    entry waiting (a backend enqueues only if it is clear and sets it;   *)
(*    the postmaster clears it before reading the slot, with a             *)
(*    pg_memory_barrier() on each side), the write/read barrier pair       *)
(*    around in_use, and range checks of what the postmaster reads.        *)
(*                                                                         *)
(* Written like Ring.tla (read its header): one action per shared-memory  *)
(* event of the Python model, the local code after an event folded into    *)
(* its action, dead locals reset to 0 as the checker resets them,          *)
(* pm_steps the checker's step counter of the postmaster's current         *)
(* operation, the model's ghost assertions recorded in `failed`.  Its      *)
(* distinct states are the ones `checker explore changequeue` (or          *)
(* changequeue-fixed) `--memory-model sc` counts.  The mutations that are  *)
(* bugs only under weaker memory models (barriers left out or put back)    *)
(* and the rogue backend (the fix's range checks matter only with one) are *)
(* not part of this spec.                                                  *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    SLOTS,        \* max_worker_processes (the checker's --slots)
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers (--ops)
    StepBound,    \* the checker's --step-bound for one postmaster operation
    ASSERTS,      \* changequeue's --param asserts: 1 assert-enabled, 0 production
    Fixed,        \* FALSE: changequeue (the patch); TRUE: changequeue-fixed
    Mutation      \* "none", or a mutation of the model that is a bug under sc

ASSUME /\ SLOTS \in 1..15
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ ASSERTS \in {0, 1}
       /\ Fixed \in {TRUE, FALSE}
       \* The fix is checked in an assert-enabled build (the Assert stays).
       /\ Fixed => ASSERTS = 1
       /\ Mutation \in IF Fixed THEN {"none", "no-queued-flag"}
                               ELSE {"none", "terminate-no-generation-check"}

NoGenerationCheck == Mutation = "terminate-no-generation-check"
NoQueuedFlag == Mutation = "no-queued-flag"

QSIZE == 2 * SLOTS + 1
TOTAL == BACKENDS * OPS

Slots == 0..(SLOTS - 1)
QIdx == 0..(QSIZE - 1)

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

\* Ghost: where a slot is (owner[s]).
OWN_FREE == 1
OWN_QUEUED == 2       \* in_use, the postmaster has no RegisteredBgWorker for it yet
OWN_REGISTERED == 3   \* the postmaster has a RegisteredBgWorker, not started
OWN_RUNNING == 4      \* its process runs
OWN_BACKEND == 8      \* + backend number: being filled in under the lock

INVALID_PID == 0

\* term_gen[s] before any terminate request: 0xFFFFFFFF in the model, here
\* any value that no registration count reaches.
NO_TERM == TOTAL + 1

VARIABLES
    \* Shared memory, named as in models/_changequeue.py (queued is the
    \* fix's; the patch never writes it).
    in_use, terminate, generation, pid, worker,
    cq_head, cq_tail, cq_ring, queued,
    BackgroundWorkerLock,
    \* The postmaster's private state (its RegisteredBgWorker list as sets
    \* of slots, and how many registrations it has freed), its live locals
    \* and the step counter of its current operation.
    pm_registered, pm_running, pm_rw_terminate, pm_done,
    pm_slot, pm_tail, pm_head, pm_steps,
    \* Each backend's locals: head is the enqueue's; my_slot and my_gen are
    \* its handle of the last registration (private globals in the model).
    done, slot, gen, head, my_slot, my_gen,
    pc,
    \* Ghost state.
    owner, reg_gen, term_gen, registrant, my_reg, q_val,
    failed

shared == <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
            BackgroundWorkerLock>>
pmvars == <<pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail, pm_head, pm_steps>>
bvars == <<done, slot, gen, head, my_slot, my_gen>>
ghost == <<owner, reg_gen, term_gen, registrant, my_reg, q_val, failed>>
vars == <<shared, pmvars, bvars, pc, ghost>>

\* The two places a backend asks for a queue entry (request_change(), and
\* the enqueue inlined in it): after registering, and after setting
\* terminate.  The checker inlines them twice, so each has its own labels.
RegCopy ==
    [barrier |-> "reg_change_barrier", read_queued |-> "reg_read_queued",
     set_queued |-> "reg_set_queued", read_head |-> "reg_read_head",
     write_entry |-> "reg_write_entry", enqueue_barrier |-> "reg_enqueue_barrier",
     read_tail |-> "reg_read_tail", write_head |-> "reg_write_head", after |-> "unlock"]
TermCopy ==
    [barrier |-> "term_change_barrier", read_queued |-> "term_read_queued",
     set_queued |-> "term_set_queued", read_head |-> "term_read_head",
     write_entry |-> "term_write_entry", enqueue_barrier |-> "term_enqueue_barrier",
     read_tail |-> "term_read_tail", write_head |-> "term_write_head", after |-> "term_unlock"]

ChangeLabels(c) ==
    {c.barrier, c.read_queued, c.set_queued, c.read_head, c.write_entry,
     c.enqueue_barrier, c.read_tail, c.write_head}

PostmasterLabels ==
    {"choose_exit", "reap_barrier", "reap_clear_in_use",
     "read_tail", "read_head", "read_barrier", "read_entry", "write_tail",
     "clear_queued", "queued_barrier", "read_in_use", "in_use_barrier",
     "read_terminate_registered", "read_terminate", "free_barrier",
     "free_clear_in_use", "read_worker",
     "start_choose", "forget_barrier", "forget_clear_in_use", "fork_barrier", "Done"}

BackendLabels ==
    {"lock", "read_in_use", "unlock_full", "write_worker", "write_pid",
     "read_generation", "write_generation", "write_terminate", "register_barrier",
     "set_in_use", "unlock", "choose", "term_lock", "term_read_generation",
     "term_read_terminate", "set_terminate", "term_unlock", "Done"}
    \cup ChangeLabels(RegCopy) \cup ChangeLabels(TermCopy)

\* The postmaster's operations (reap_worker, state_change, start_workers):
\* the labels inside one.  The checker bounds the steps of an operation.
PostmasterOpLabels == PostmasterLabels \ {"choose_exit", "Done"}

\* Between operations, or at the first event of one (quiescence): the
\* checker's op_start events.  reap_worker's first event is its barrier
\* (its ghost check runs with the choice of the exited worker).
PostmasterIdleLabels == {"choose_exit", "reap_barrier", "read_tail", "start_choose", "Done"}
BackendIdleLabels == {"lock", "choose", "term_lock", "Done"}

PropertyNames == {"ExclusiveOwnership", "QueueIntegrity", "QueueCapacity", "RegistrationHonoured"}

\* The model's `assert_(cond, prop)`: the first failed assertion of a ghost
\* block stops the step in Python; here it is recorded.
Check(cond, prop) == IF cond THEN {} ELSE {prop}
\* Two assertions in one ghost block: the second runs only if the first held.
Check2(cond1, prop1, cond2, prop2) == IF cond1 THEN Check(cond2, prop2) ELSE {prop1}

-----------------------------------------------------------------------------
TypeOK ==
    /\ in_use \in [Slots -> {0, 1}]
    /\ terminate \in [Slots -> {0, 1}]
    /\ generation \in [Slots -> 0..TOTAL]
    /\ pid \in [Slots -> {INVALID_PID}]
    /\ worker \in [Slots -> {0} \cup Backends]
    /\ cq_head \in QIdx /\ cq_tail \in QIdx
    /\ cq_ring \in [QIdx -> Slots]
    /\ queued \in [Slots -> {0, 1}]
    /\ BackgroundWorkerLock \in {0, 1}
    /\ pm_registered \subseteq Slots
    /\ pm_running \subseteq Slots
    /\ pm_rw_terminate \subseteq Slots
    /\ pm_done \in 0..TOTAL
    /\ pm_slot \in Nat /\ pm_tail \in Nat /\ pm_head \in Nat
    /\ pm_steps \in Nat
    /\ done \in [Backends -> 0..OPS]
    /\ slot \in [Backends -> Slots]
    /\ gen \in [Backends -> 0..TOTAL]
    /\ head \in [Backends -> QIdx]
    /\ my_slot \in [Backends -> Slots]
    /\ my_gen \in [Backends -> 0..TOTAL]
    /\ pc \in [Threads -> PostmasterLabels \cup BackendLabels]
    /\ pc[Postmaster] \in PostmasterLabels
    /\ \A b \in Backends : pc[b] \in BackendLabels
    /\ owner \in [Slots -> {OWN_FREE, OWN_QUEUED, OWN_REGISTERED, OWN_RUNNING}
                            \cup {OWN_BACKEND + b : b \in Backends}]
    /\ reg_gen \in [Slots -> 0..TOTAL]
    /\ term_gen \in [Slots -> 0..TOTAL \cup {NO_TERM}]
    /\ registrant \in [Slots -> {0} \cup Backends]
    /\ my_reg \in [Backends -> 0..TOTAL]
    /\ q_val \in [QIdx -> Slots]
    /\ failed \subseteq PropertyNames

Init ==
    /\ in_use = [s \in Slots |-> 0]
    /\ terminate = [s \in Slots |-> 0]
    /\ generation = [s \in Slots |-> 0]
    /\ pid = [s \in Slots |-> INVALID_PID]
    /\ worker = [s \in Slots |-> 0]
    /\ cq_head = 0
    /\ cq_tail = 0
    /\ cq_ring = [i \in QIdx |-> 0]
    /\ queued = [s \in Slots |-> 0]
    /\ BackgroundWorkerLock = 0
    /\ pm_registered = {}
    /\ pm_running = {}
    /\ pm_rw_terminate = {}
    /\ pm_done = 0
    /\ pm_slot = 0
    /\ pm_tail = 0
    /\ pm_head = 0
    /\ pm_steps = 0
    /\ done = [b \in Backends |-> 0]
    /\ slot = [b \in Backends |-> 0]
    /\ gen = [b \in Backends |-> 0]
    /\ head = [b \in Backends |-> 0]
    /\ my_slot = [b \in Backends |-> 0]
    /\ my_gen = [b \in Backends |-> 0]
    \* TOTAL and OPS are at least 1: the postmaster starts its first pass,
    \* backends their first registration.
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "choose_exit" ELSE "lock"]
    /\ owner = [s \in Slots |-> OWN_FREE]
    /\ reg_gen = [s \in Slots |-> 0]
    /\ term_gen = [s \in Slots |-> NO_TERM]
    /\ registrant = [s \in Slots |-> 0]
    /\ my_reg = [b \in Backends |-> 0]
    /\ q_val = [i \in QIdx |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
(***************************************************************************)
(* Backends: RegisterDynamicBackgroundWorker() and                         *)
(* TerminateBackgroundWorker().                                            *)
(***************************************************************************)

Goto(b, label) == pc' = [pc EXCEPT ![b] = label]
Set(f, b, v) == [f EXCEPT ![b] = v]

\* The loop of backend(): the next registration, or the end (where every
\* local is dead).
NextRegistration(b) ==
    IF done[b] < OPS
      THEN Goto(b, "lock") /\ UNCHANGED <<done, my_slot, my_gen>>
      ELSE /\ Goto(b, "Done")
           /\ done' = Set(done, b, 0) /\ my_slot' = Set(my_slot, b, 0) /\ my_gen' = Set(my_gen, b, 0)

\* LWLockAcquire(BackgroundWorkerLock); the search starts at slot 0.
Lock(b) ==
    /\ pc[b] = "lock"
    /\ BackgroundWorkerLock = 0
    /\ BackgroundWorkerLock' = 1
    /\ Goto(b, "read_in_use")
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   pmvars, bvars, ghost>>

\* pg_atomic_read_u32(in_use[slot]): a free slot is taken (the handle of
\* the last registration is dead from here: it is assigned at the end);
\* else the search goes on, and with every slot in use it gives up.
ReadInUse(b) ==
    /\ pc[b] = "read_in_use"
    /\ IF in_use[slot[b]] = 0
         THEN /\ failed' = failed \cup Check(owner[slot[b]] = OWN_FREE, "ExclusiveOwnership")
              /\ owner' = [owner EXCEPT ![slot[b]] = OWN_BACKEND + b]
              /\ Goto(b, "write_worker")
              /\ my_slot' = Set(my_slot, b, 0) /\ my_gen' = Set(my_gen, b, 0)
              /\ UNCHANGED slot
         ELSE /\ IF slot[b] + 1 < SLOTS
                   THEN Goto(b, "read_in_use") /\ slot' = Set(slot, b, slot[b] + 1)
                   ELSE Goto(b, "unlock_full") /\ slot' = Set(slot, b, 0)
              /\ UNCHANGED <<owner, failed, my_slot, my_gen>>
    /\ UNCHANGED <<shared, pmvars, done, gen, head, reg_gen, term_gen, registrant, my_reg, q_val>>

\* LWLockRelease(BackgroundWorkerLock) with no free slot: returns 0 and
\* the loop tries again.
UnlockFull(b) ==
    /\ pc[b] = "unlock_full"
    /\ BackgroundWorkerLock' = 0
    /\ Goto(b, "lock")
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   pmvars, bvars, ghost>>

\* pg_atomic_write_u32(worker[slot], ME): the worker description.
WriteWorker(b) ==
    /\ pc[b] = "write_worker"
    /\ worker' = [worker EXCEPT ![slot[b]] = b]
    /\ Goto(b, "write_pid")
    /\ UNCHANGED <<in_use, terminate, generation, pid, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(pid[slot], INVALID_PID)
WritePid(b) ==
    /\ pc[b] = "write_pid"
    /\ pid' = [pid EXCEPT ![slot[b]] = INVALID_PID]
    /\ Goto(b, "read_generation")
    /\ UNCHANGED <<in_use, terminate, generation, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, bvars, ghost>>

\* gen = pg_atomic_read_u32(generation[slot]) + 1
ReadGeneration(b) ==
    /\ pc[b] = "read_generation"
    /\ gen' = Set(gen, b, generation[slot[b]] + 1)
    /\ Goto(b, "write_generation")
    /\ UNCHANGED <<shared, pmvars, done, slot, head, my_slot, my_gen, ghost>>

\* pg_atomic_write_u32(generation[slot], gen)
WriteGeneration(b) ==
    /\ pc[b] = "write_generation"
    /\ generation' = [generation EXCEPT ![slot[b]] = gen[b]]
    /\ Goto(b, "write_terminate")
    /\ UNCHANGED <<in_use, terminate, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(terminate[slot], 0); the patch goes straight on to
\* in_use (it removed the barrier), the fix issues pg_write_barrier().
WriteTerminate(b) ==
    /\ pc[b] = "write_terminate"
    /\ terminate' = [terminate EXCEPT ![slot[b]] = 0]
    /\ Goto(b, IF Fixed THEN "register_barrier" ELSE "set_in_use")
    /\ UNCHANGED <<in_use, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, bvars, ghost>>

\* The fix's pg_write_barrier(): the slot's contents before in_use.
RegisterBarrier(b) ==
    /\ pc[b] = "register_barrier"
    /\ Goto(b, "set_in_use")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* The first event of request_change() (the patch: of the enqueue).
StartChange(c) == IF Fixed THEN c.barrier ELSE c.read_head

\* pg_atomic_write_u32(in_use[slot], 1): the registration is handed over,
\* and an entry for the slot is requested.
SetInUse(b) ==
    /\ pc[b] = "set_in_use"
    /\ in_use' = [in_use EXCEPT ![slot[b]] = 1]
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_QUEUED]
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ reg_gen' = [reg_gen EXCEPT ![slot[b]] = reg_gen[slot[b]] + 1]
    /\ my_reg' = Set(my_reg, b, reg_gen[slot[b]] + 1)
    /\ Goto(b, StartChange(RegCopy))
    /\ UNCHANGED <<terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, bvars, term_gen, q_val, failed>>

\* The slot an entry is requested for: the one just registered, or the
\* handle's.
ChangeSlot(b, c) == IF c = TermCopy THEN my_slot[b] ELSE slot[b]

\* request_change(), fix only: pg_memory_barrier() between the stores to the
\* slot and the read of queued (pairs with the postmaster's between clearing
\* queued and reading the slot).
ChangeBarrier(b, c) ==
    /\ pc[b] = c.barrier
    /\ Goto(b, IF NoQueuedFlag THEN c.read_head ELSE c.read_queued)
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_read_u32(queued[slot]): an entry already waits, or one is added.
ReadQueued(b, c) ==
    /\ pc[b] = c.read_queued
    /\ Goto(b, IF queued[ChangeSlot(b, c)] = 0 THEN c.set_queued ELSE c.after)
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(queued[slot], 1)
SetQueued(b, c) ==
    /\ pc[b] = c.set_queued
    /\ queued' = [queued EXCEPT ![ChangeSlot(b, c)] = 1]
    /\ Goto(b, c.read_head)
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring,
                   BackgroundWorkerLock, pmvars, bvars, ghost>>

\* enqueue_change(): head = pg_atomic_read_u32(cq_head)
EnqReadHead(b, c) ==
    /\ pc[b] = c.read_head
    /\ head' = Set(head, b, cq_head)
    /\ Goto(b, c.write_entry)
    /\ UNCHANGED <<shared, pmvars, done, slot, gen, my_slot, my_gen, ghost>>

\* pg_atomic_write_u32(cq_ring[head], slot)
EnqWriteEntry(b, c) ==
    /\ pc[b] = c.write_entry
    /\ cq_ring' = [cq_ring EXCEPT ![head[b]] = ChangeSlot(b, c)]
    /\ q_val' = [q_val EXCEPT ![head[b]] = ChangeSlot(b, c)]
    /\ Goto(b, c.enqueue_barrier)
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, queued,
                   BackgroundWorkerLock, pmvars, bvars, owner, reg_gen, term_gen, registrant,
                   my_reg, failed>>

\* pg_write_barrier(): the entry before the head that covers it (pairs with
\* the postmaster's pg_read_barrier()).  Then head = (head + 1) % QSIZE, and
\* an assert-enabled build checks it against the tail.
EnqBarrier(b, c) ==
    /\ pc[b] = c.enqueue_barrier
    /\ head' = Set(head, b, (head[b] + 1) % QSIZE)
    /\ Goto(b, IF ASSERTS = 1 THEN c.read_tail ELSE c.write_head)
    /\ UNCHANGED <<shared, pmvars, done, slot, gen, my_slot, my_gen, ghost>>

\* Assert(head != tail): tail = pg_atomic_read_u32(cq_tail).
EnqReadTail(b, c) ==
    /\ pc[b] = c.read_tail
    /\ failed' = failed \cup Check(head[b] # cq_tail, "QueueCapacity")
    /\ Goto(b, c.write_head)
    /\ UNCHANGED <<shared, pmvars, bvars, owner, reg_gen, term_gen, registrant, my_reg, q_val>>

\* pg_atomic_write_u32(cq_head, head)
EnqWriteHead(b, c) ==
    /\ pc[b] = c.write_head
    /\ cq_head' = head[b]
    /\ head' = Set(head, b, 0)
    /\ Goto(b, c.after)
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, done, slot, gen, my_slot, my_gen, ghost>>

RequestChange(b, c) ==
    \/ ChangeBarrier(b, c) \/ ReadQueued(b, c) \/ SetQueued(b, c) \/ EnqReadHead(b, c)
    \/ EnqWriteEntry(b, c) \/ EnqBarrier(b, c) \/ EnqReadTail(b, c) \/ EnqWriteHead(b, c)

\* LWLockRelease(BackgroundWorkerLock): the handle is the new registration's;
\* register_worker() returned 1.  (SendPostmasterSignal: the postmaster
\* polls.)
Unlock(b) ==
    /\ pc[b] = "unlock"
    /\ BackgroundWorkerLock' = 0
    /\ Goto(b, "choose")
    /\ done' = Set(done, b, done[b] + 1)
    /\ my_slot' = Set(my_slot, b, slot[b]) /\ my_gen' = Set(my_gen, b, gen[b])
    /\ slot' = Set(slot, b, 0) /\ gen' = Set(gen, b, 0)
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   pmvars, head, ghost>>

\* choose(2): terminate the worker just registered, or not.
Choose(b) ==
    /\ pc[b] = "choose"
    /\ \E terminate_it \in {0, 1} :
         IF terminate_it = 1
           THEN Goto(b, "term_lock") /\ UNCHANGED <<done, my_slot, my_gen>>
           ELSE NextRegistration(b)
    /\ UNCHANGED <<shared, pmvars, slot, gen, head, ghost>>

TermLock(b) ==
    /\ pc[b] = "term_lock"
    /\ BackgroundWorkerLock = 0
    /\ BackgroundWorkerLock' = 1
    /\ Goto(b, "term_read_generation")
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   pmvars, bvars, ghost>>

\* handle->generation == slot->generation (the mutation skips the check).
TermReadGeneration(b) ==
    /\ pc[b] = "term_read_generation"
    /\ Goto(b, IF NoGenerationCheck \/ generation[my_slot[b]] = my_gen[b]
                 THEN "term_read_terminate" ELSE "term_unlock")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* !slot->terminate
TermReadTerminate(b) ==
    /\ pc[b] = "term_read_terminate"
    /\ Goto(b, IF terminate[my_slot[b]] = 0 THEN "set_terminate" ELSE "term_unlock")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* slot->terminate = true, and an entry for the slot (in_use is not looked at).
SetTerminate(b) ==
    /\ pc[b] = "set_terminate"
    /\ terminate' = [terminate EXCEPT ![my_slot[b]] = 1]
    /\ term_gen' = [term_gen EXCEPT ![my_slot[b]] = my_reg[b]]
    /\ Goto(b, StartChange(TermCopy))
    /\ UNCHANGED <<in_use, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pmvars, bvars, owner, reg_gen, registrant, my_reg,
                   q_val, failed>>

TermUnlock(b) ==
    /\ pc[b] = "term_unlock"
    /\ BackgroundWorkerLock' = 0
    /\ NextRegistration(b)
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   pmvars, slot, gen, head, ghost>>

Backend(b) ==
    \/ Lock(b) \/ ReadInUse(b) \/ UnlockFull(b) \/ WriteWorker(b) \/ WritePid(b)
    \/ ReadGeneration(b) \/ WriteGeneration(b) \/ WriteTerminate(b) \/ RegisterBarrier(b)
    \/ SetInUse(b) \/ RequestChange(b, RegCopy) \/ Unlock(b) \/ Choose(b)
    \/ TermLock(b) \/ TermReadGeneration(b) \/ TermReadTerminate(b) \/ SetTerminate(b)
    \/ RequestChange(b, TermCopy) \/ TermUnlock(b)

-----------------------------------------------------------------------------
(***************************************************************************)
(* The postmaster: no lock, never waits.  One pass of its loop: a child    *)
(* exit, BackgroundWorkerStateChange(), maybe_start_bgworkers().           *)
(***************************************************************************)

PmGoto(label) == pc' = [pc EXCEPT ![Postmaster] = label]
PmStep == pm_steps' = pm_steps + 1

\* state_change() returns and start_workers() begins: a new operation, its
\* step counter at 0; tail and head are dead.
EndStateChange ==
    PmGoto("start_choose") /\ pm_steps' = 0 /\ pm_tail' = 0 /\ pm_head' = 0

\* The loop over the entries: the next one, or the end of state_change().
\* The slot of the last entry is dead.
NextEntry ==
    /\ pm_slot' = 0
    /\ IF pm_tail # pm_head
         THEN PmGoto("read_entry") /\ PmStep /\ UNCHANGED <<pm_tail, pm_head>>
         ELSE EndStateChange

\* The end of start_workers and of the pass: the next pass, or the end
\* (where the postmaster's state is dead).  Takes the private sets and the
\* count as the pass left them.
EndPass(registered, running, rw_terminate, freed) ==
    /\ pm_slot' = 0 /\ pm_tail' = 0 /\ pm_head' = 0 /\ pm_steps' = 0
    /\ IF freed < TOTAL
         THEN /\ PmGoto("choose_exit")
              /\ pm_registered' = registered /\ pm_running' = running
              /\ pm_rw_terminate' = rw_terminate /\ pm_done' = freed
         ELSE /\ PmGoto("Done")
              /\ pm_registered' = {} /\ pm_running' = {} /\ pm_rw_terminate' = {} /\ pm_done' = 0

\* exited = choose(SLOTS + 1): a running worker exited (reap_worker), or
\* none did and BackgroundWorkerStateChange() begins.
ChooseExit ==
    /\ pc[Postmaster] = "choose_exit"
    /\ \E e \in 0..SLOTS :
         IF e < SLOTS /\ e \in pm_running
           THEN /\ PmGoto("reap_barrier")
                /\ pm_slot' = e
                /\ failed' = failed \cup Check(owner[e] = OWN_RUNNING, "ExclusiveOwnership")
           ELSE PmGoto("read_tail") /\ UNCHANGED <<pm_slot, failed>>
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_tail, pm_head,
                   pm_steps, bvars, owner, reg_gen, term_gen, registrant, my_reg, q_val>>

\* ForgetBackgroundWorker(): pg_memory_barrier(), what was read from the
\* slot before in_use frees it (pairs with the backends' read of in_use
\* under the lock).
ReapBarrier ==
    /\ pc[Postmaster] = "reap_barrier"
    /\ PmGoto("reap_clear_in_use")
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail,
                   pm_head, bvars, ghost>>

\* ForgetBackgroundWorker(): in_use = false, and the RegisteredBgWorker goes.
Forget(s) ==
    /\ in_use' = [in_use EXCEPT ![s] = 0]
    /\ owner' = [owner EXCEPT ![s] = OWN_FREE]

\* pg_atomic_write_u32(in_use[slot], 0); reap_worker() ends and
\* state_change() begins.
ReapClearInUse ==
    /\ pc[Postmaster] = "reap_clear_in_use"
    /\ Forget(pm_slot)
    /\ pm_registered' = pm_registered \ {pm_slot}
    /\ pm_running' = pm_running \ {pm_slot}
    /\ pm_rw_terminate' = pm_rw_terminate \ {pm_slot}
    /\ pm_done' = pm_done + 1
    /\ PmGoto("read_tail")
    /\ pm_slot' = 0 /\ pm_steps' = 0
    /\ UNCHANGED <<terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pm_tail, pm_head, bvars, reg_gen, term_gen, registrant,
                   my_reg, q_val, failed>>

\* tail = pg_atomic_read_u32(cq_tail)
ReadTail ==
    /\ pc[Postmaster] = "read_tail"
    /\ pm_tail' = cq_tail
    /\ PmGoto("read_head")
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_head,
                   bvars, ghost>>

\* head = pg_atomic_read_u32(cq_head).  The fix ignores a tail or head out
\* of range (only a rogue writes one).
ReadHead ==
    /\ pc[Postmaster] = "read_head"
    /\ IF Fixed /\ (pm_tail >= QSIZE \/ cq_head >= QSIZE)
         THEN EndStateChange
         ELSE PmGoto("read_barrier") /\ PmStep /\ pm_head' = cq_head /\ UNCHANGED pm_tail
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot,
                   bvars, ghost>>

\* pg_read_barrier(): the entries after the head that covers them (pairs
\* with the backends' pg_write_barrier() in the enqueue).  Then the loop
\* over the entries between tail and head (pm_slot is 0 here already).
ReadBarrier ==
    /\ pc[Postmaster] = "read_barrier"
    /\ NextEntry
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, bvars, ghost>>

\* slot = pg_atomic_read_u32(cq_ring[tail]); it must be the entry written
\* there.  tail = (tail + 1) % QSIZE.
ReadEntry ==
    /\ pc[Postmaster] = "read_entry"
    /\ pm_slot' = cq_ring[pm_tail]
    /\ failed' = failed \cup Check(cq_ring[pm_tail] = q_val[pm_tail], "QueueIntegrity")
    /\ pm_tail' = (pm_tail + 1) % QSIZE
    /\ PmGoto("write_tail")
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_head,
                   bvars, owner, reg_gen, term_gen, registrant, my_reg, q_val>>

\* pg_atomic_write_u32(cq_tail, tail), then handle_change(slot) (the fix
\* skips an entry out of range).
WriteTail ==
    /\ pc[Postmaster] = "write_tail"
    /\ cq_tail' = pm_tail
    /\ IF Fixed /\ pm_slot >= SLOTS
         THEN NextEntry
         ELSE /\ PmGoto(IF Fixed THEN "clear_queued" ELSE "read_in_use")
              /\ PmStep
              /\ UNCHANGED <<pm_slot, pm_tail, pm_head>>
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_ring, queued,
                   BackgroundWorkerLock, pm_registered, pm_running, pm_rw_terminate, pm_done,
                   bvars, ghost>>

\* The fix: pg_atomic_write_u32(queued[slot], 0) before the slot is read.
ClearQueued ==
    /\ pc[Postmaster] = "clear_queued"
    /\ queued' = [queued EXCEPT ![pm_slot] = 0]
    /\ PmGoto("queued_barrier")
    /\ PmStep
    /\ UNCHANGED <<in_use, terminate, generation, pid, worker, cq_head, cq_tail, cq_ring,
                   BackgroundWorkerLock, pm_registered, pm_running, pm_rw_terminate, pm_done,
                   pm_slot, pm_tail, pm_head, bvars, ghost>>

\* The fix: pg_memory_barrier() between clearing queued and reading the
\* slot (pairs with the backends' in request_change()).
QueuedBarrier ==
    /\ pc[Postmaster] = "queued_barrier"
    /\ PmGoto("read_in_use")
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail,
                   pm_head, bvars, ghost>>

\* handle_slot_in_use(): a slot with a RegisteredBgWorker looks only at
\* terminate.
HandleInUse ==
    PmGoto(IF pm_slot \in pm_registered THEN "read_terminate_registered" ELSE "read_terminate")

\* pg_atomic_read_u32(in_use[slot]): a slot not in use is skipped
\* (elog(LOG)).  The fix then issues pg_read_barrier().
PmReadInUse ==
    /\ pc[Postmaster] = "read_in_use"
    /\ IF in_use[pm_slot] = 0
         THEN NextEntry
         ELSE /\ IF Fixed THEN PmGoto("in_use_barrier") ELSE HandleInUse
              /\ PmStep
              /\ UNCHANGED <<pm_slot, pm_tail, pm_head>>
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, bvars, ghost>>

\* The fix: pg_read_barrier(), the slot's contents after in_use (pairs with
\* the backends' pg_write_barrier() before in_use = true).
InUseBarrier ==
    /\ pc[Postmaster] = "in_use_barrier"
    /\ HandleInUse
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail,
                   pm_head, bvars, ghost>>

\* A registered worker: terminate set marks it rw_terminate (and SIGTERM if
\* it runs).  Only its registrant may have asked.
ReadTerminateRegistered ==
    /\ pc[Postmaster] = "read_terminate_registered"
    /\ IF terminate[pm_slot] # 0
         THEN /\ failed' = failed \cup Check(term_gen[pm_slot] = reg_gen[pm_slot], "RegistrationHonoured")
              /\ pm_rw_terminate' = pm_rw_terminate \cup {pm_slot}
         ELSE UNCHANGED <<failed, pm_rw_terminate>>
    /\ NextEntry
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_done, bvars,
                   owner, reg_gen, term_gen, registrant, my_reg, q_val>>

\* No RegisteredBgWorker: terminate set frees the slot at once, never
\* registered; else the worker is registered.
ReadTerminate ==
    /\ pc[Postmaster] = "read_terminate"
    /\ IF terminate[pm_slot] # 0
         THEN /\ failed' = failed \cup
                   Check2(term_gen[pm_slot] = reg_gen[pm_slot], "RegistrationHonoured",
                          owner[pm_slot] = OWN_QUEUED, "ExclusiveOwnership")
              /\ PmGoto("free_barrier")
         ELSE PmGoto("read_worker") /\ UNCHANGED failed
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail,
                   pm_head, bvars, owner, reg_gen, term_gen, registrant, my_reg, q_val>>

\* pg_memory_barrier(): what was read from the slot before in_use frees it.
FreeBarrier ==
    /\ pc[Postmaster] = "free_barrier"
    /\ PmGoto("free_clear_in_use")
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail,
                   pm_head, bvars, ghost>>

\* pg_atomic_write_u32(in_use[slot], 0): freed unstarted.
FreeClearInUse ==
    /\ pc[Postmaster] = "free_clear_in_use"
    /\ Forget(pm_slot)
    /\ pm_done' = pm_done + 1
    /\ NextEntry
    /\ UNCHANGED <<terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, pm_registered, pm_running, pm_rw_terminate, bvars,
                   reg_gen, term_gen, registrant, my_reg, q_val, failed>>

\* w = pg_atomic_read_u32(worker[slot]): the slot must have been handed
\* over, and the description must be its registrant's.  A RegisteredBgWorker
\* now exists.
ReadWorker ==
    /\ pc[Postmaster] = "read_worker"
    /\ failed' = failed \cup
          Check2(owner[pm_slot] = OWN_QUEUED, "ExclusiveOwnership",
                 worker[pm_slot] = registrant[pm_slot], "QueueIntegrity")
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_REGISTERED]
    /\ pm_registered' = pm_registered \cup {pm_slot}
    /\ NextEntry
    /\ UNCHANGED <<shared, pm_running, pm_rw_terminate, pm_done, bvars,
                   reg_gen, term_gen, registrant, my_reg, q_val>>

\* start_workers(): slot = choose(SLOTS + 1).  A registered worker that is
\* not running is forgotten if marked rw_terminate, else forked; any other
\* choice ends the pass.
StartChoose ==
    /\ pc[Postmaster] = "start_choose"
    /\ \E c \in 0..SLOTS :
         IF c < SLOTS /\ c \in pm_registered /\ c \notin pm_running
           THEN /\ PmGoto(IF c \in pm_rw_terminate THEN "forget_barrier" ELSE "fork_barrier")
                /\ pm_slot' = c
                /\ PmStep
                /\ UNCHANGED <<pm_registered, pm_running, pm_rw_terminate, pm_done, pm_tail, pm_head>>
           ELSE EndPass(pm_registered, pm_running, pm_rw_terminate, pm_done)
    /\ UNCHANGED <<shared, bvars, ghost>>

\* ForgetBackgroundWorker()'s pg_memory_barrier().
ForgetBarrier ==
    /\ pc[Postmaster] = "forget_barrier"
    /\ PmGoto("forget_clear_in_use")
    /\ PmStep
    /\ UNCHANGED <<shared, pm_registered, pm_running, pm_rw_terminate, pm_done, pm_slot, pm_tail,
                   pm_head, bvars, ghost>>

ForgetClearInUse ==
    /\ pc[Postmaster] = "forget_clear_in_use"
    /\ Forget(pm_slot)
    /\ EndPass(pm_registered \ {pm_slot}, pm_running \ {pm_slot}, pm_rw_terminate \ {pm_slot},
               pm_done + 1)
    /\ UNCHANGED <<terminate, generation, pid, worker, cq_head, cq_tail, cq_ring, queued,
                   BackgroundWorkerLock, bvars, reg_gen, term_gen, registrant, my_reg, q_val, failed>>

\* fork(): a system call, modelled as pg_memory_barrier().  The worker runs.
ForkBarrier ==
    /\ pc[Postmaster] = "fork_barrier"
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_RUNNING]
    /\ EndPass(pm_registered, pm_running \cup {pm_slot}, pm_rw_terminate, pm_done)
    /\ UNCHANGED <<shared, bvars, reg_gen, term_gen, registrant, my_reg, q_val, failed>>

PostmasterStep ==
    \/ ChooseExit \/ ReapBarrier \/ ReapClearInUse \/ ReadTail \/ ReadHead \/ ReadBarrier
    \/ ReadEntry \/ WriteTail \/ ClearQueued \/ QueuedBarrier \/ PmReadInUse \/ InUseBarrier
    \/ ReadTerminateRegistered \/ ReadTerminate \/ FreeBarrier \/ FreeClearInUse \/ ReadWorker
    \/ StartChoose \/ ForgetBarrier \/ ForgetClearInUse \/ ForkBarrier

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
(* Properties: DESIGN.md section 4, and the three the patch needs          *)
(* (models/_changequeue.py: queue capacity, registration honoured,         *)
(* terminate delivered).                                                   *)
(***************************************************************************)

ExclusiveOwnership == "ExclusiveOwnership" \notin failed

\* Every entry and description the postmaster reads is the one written.
QueueIntegrity == "QueueIntegrity" \notin failed

\* An enqueue never finds the queue full (the patch's Assert(head != tail)).
QueueCapacity == "QueueCapacity" \notin failed

\* The postmaster indexes only within the queue and the slots.
PostmasterSafety == pm_slot \in Slots /\ pm_tail \in QIdx /\ pm_head \in QIdx

PostmasterWaitFreedom == pm_steps <= StepBound

Quiescent ==
    /\ pc[Postmaster] \in PostmasterIdleLabels
    /\ \A b \in Backends : pc[b] \in BackendIdleLabels

\* The slot numbers between tail and head.
QueueLength == (cq_head + QSIZE - cq_tail) % QSIZE
Entries == {cq_ring[(cq_tail + k) % QSIZE] : k \in 0..(QueueLength - 1)}

\* When quiescent: a slot is free exactly when it is not in use, and a
\* running worker is registered.
Conservation ==
    Quiescent =>
      /\ cq_head \in QIdx /\ cq_tail \in QIdx
      /\ \A s \in Slots :
           /\ (owner[s] = OWN_FREE) <=> (in_use[s] = 0)
           /\ s \in pm_running => s \in pm_registered

\* A registered worker is started unless its registrant asked to terminate
\* it: the postmaster never frees or marks a registration nobody asked to
\* terminate, and when quiescent a registration it does not know yet has a
\* queue entry (else it is lost, and the slot leaked).
RegistrationHonoured ==
    /\ "RegistrationHonoured" \notin failed
    /\ Quiescent => \A s \in Slots : owner[s] = OWN_QUEUED => s \in Entries

\* When quiescent, a terminate request for a live registration that the
\* postmaster has not recorded in rw_terminate has a queue entry.
TerminateDelivered ==
    Quiescent =>
      \A s \in Slots :
         (/\ owner[s] \in {OWN_REGISTERED, OWN_RUNNING}
          /\ term_gen[s] = reg_gen[s]
          /\ s \notin pm_rw_terminate) => s \in Entries

PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
