------------------------------ MODULE Bgworker ------------------------------
(***************************************************************************)
(* The design PostgreSQL ships today (src/backend/postmaster/bgworker.c):  *)
(* no free list, an in_use flag per BackgroundWorkerSlot.                  *)
(*                                                                         *)
(*  - A backend, holding BackgroundWorkerLock, searches the slots for one  *)
(*    not in use, fills it in (worker, notify pid), bumps its generation,  *)
(*    issues pg_write_barrier() and only then sets in_use.                 *)
(*  - The postmaster, without a lock, scans every slot; for one in use     *)
(*    that it has not started it issues pg_read_barrier() and reads the    *)
(*    description; starting the worker is fork(), which orders those reads *)
(*    against everything after.                                            *)
(*  - When a worker exits the postmaster reads the pid to notify, issues   *)
(*    pg_memory_barrier(), clears in_use, and signals the pid it read (a   *)
(*    store into `signalled`).                                             *)
(*                                                                         *)
(* This module is the TLA+ twin of models/bgworker.py under sequential     *)
(* consistency, written like Ring.tla (read its header): one action per    *)
(* shared-memory event, the local code after an event folded into its      *)
(* action, dead locals reset to 0, pm_steps counting the postmaster's      *)
(* steps in its current operation, the model's ghost assertions recorded   *)
(* in `failed`.  Its distinct states are the ones `checker explore         *)
(* bgworker --memory-model sc` counts.  The model's mutations (barriers    *)
(* left out) are bugs only under weaker memory models, so no configuration *)
(* of this spec is expected to fail.                                       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    SLOTS,        \* number of worker slots
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers
    StepBound,    \* the checker's --step-bound for one postmaster operation
    WordModulus   \* 2^32 in C; see MCBgworker.tla

ASSUME /\ SLOTS \in 1..31
       /\ BACKENDS \in Nat \ {0}
       /\ OPS \in Nat \ {0}
       /\ StepBound \in Nat \ {0}
       /\ WordModulus > BACKENDS * OPS   \* generations never wrap here

Word == 0..(WordModulus - 1)
Slots == 0..(SLOTS - 1)
TOTAL == BACKENDS * OPS

Postmaster == 0
Backends == 1..BACKENDS
Threads == {Postmaster} \cup Backends

OWN_FREE == 1
OWN_REGISTERED == 2   \* in use, not yet started
OWN_RUNNING == 3
OWN_BACKEND == 8      \* + backend number: being filled in under the lock

Add(a, b) == (a + b) % WordModulus

VARIABLES
    \* Shared memory, named as in the Python model.
    in_use, generation, notify_pid, worker, signalled,
    BackgroundWorkerLock,
    \* The postmaster's private state, its live locals (the slot it scans or
    \* reaps, the worker and pid it read) and its step counter.
    pm_running, pm_done,
    pm_slot, pm_w, pm_pid, pm_steps,
    \* Each backend's locals.
    done, slot, gen,
    pc,
    \* Ghost state.
    owner, registrant, run_by,
    failed

shared == <<in_use, generation, notify_pid, worker, signalled, BackgroundWorkerLock>>
pmvars == <<pm_running, pm_done, pm_slot, pm_w, pm_pid, pm_steps>>
bvars == <<done, slot, gen>>
ghost == <<owner, registrant, run_by, failed>>
vars == <<shared, pmvars, bvars, pc, ghost>>

PostmasterLabels ==
    {"scan_read_in_use", "scan_read_barrier", "read_worker", "read_notify_pid",
     "fork_barrier", "choose_exit", "reap_read_pid", "reap_barrier", "clear_in_use", "signal", "Done"}

BackendLabels ==
    {"lock", "read_in_use", "unlock_full", "write_worker", "write_notify_pid",
     "read_generation", "write_generation", "register_write_barrier",
     "set_in_use", "unlock", "Done"}

PostmasterOpLabels == PostmasterLabels \ {"choose_exit", "Done"}

\* Between operations, or at the first shared event of one (quiescence).
\* The scan's read of in_use does not count: the scan loop leads back to it.
PostmasterIdleLabels == {"choose_exit", "Done", "reap_read_pid"}
BackendIdleLabels == {"lock", "Done"}

PropertyNames == {"ExclusiveOwnership", "QueueIntegrity", "NotifyIntegrity", "PostmasterSafety"}

Check(cond, prop) == IF cond THEN {} ELSE {prop}

-----------------------------------------------------------------------------
TypeOK ==
    /\ in_use \in [Slots -> {0, 1}]
    /\ generation \in [Slots -> Word]
    /\ notify_pid \in [Slots -> {0} \cup Backends]
    /\ worker \in [Slots -> {0} \cup Backends]
    /\ signalled \in {0} \cup Backends
    /\ BackgroundWorkerLock \in {0, 1}
    /\ pm_running \subseteq Slots
    /\ pm_done \in 0..TOTAL
    /\ pm_slot \in Slots
    /\ pm_w \in {0} \cup Backends
    /\ pm_pid \in {0} \cup Backends
    /\ pm_steps \in 0..StepBound
    /\ done \in [Backends -> 0..OPS]
    /\ slot \in [Backends -> Slots]
    /\ gen \in [Backends -> Word]
    /\ pc \in [Threads -> PostmasterLabels \cup BackendLabels]
    /\ pc[Postmaster] \in PostmasterLabels
    /\ \A b \in Backends : pc[b] \in BackendLabels
    /\ owner \in [Slots -> {OWN_FREE, OWN_REGISTERED, OWN_RUNNING}
                            \cup {OWN_BACKEND + b : b \in Backends}]
    /\ registrant \in [Slots -> {0} \cup Backends]
    /\ run_by \in [Slots -> {0} \cup Backends]
    /\ failed \subseteq PropertyNames

Init ==
    /\ in_use = [s \in Slots |-> 0]
    /\ generation = [s \in Slots |-> 0]
    /\ notify_pid = [s \in Slots |-> 0]
    /\ worker = [s \in Slots |-> 0]
    /\ signalled = 0
    /\ BackgroundWorkerLock = 0
    /\ pm_running = {}
    /\ pm_done = 0
    /\ pm_slot = 0
    /\ pm_w = 0
    /\ pm_pid = 0
    /\ pm_steps = 0
    /\ done = [b \in Backends |-> 0]
    /\ slot = [b \in Backends |-> 0]
    /\ gen = [b \in Backends |-> 0]
    \* TOTAL, OPS and SLOTS are at least 1: the postmaster's scan reads
    \* slot 0 first, backends wait for the lock.
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "scan_read_in_use" ELSE "lock"]
    /\ owner = [s \in Slots |-> OWN_FREE]
    /\ registrant = [s \in Slots |-> 0]
    /\ run_by = [s \in Slots |-> 0]
    /\ failed = {}

-----------------------------------------------------------------------------
(***************************************************************************)
(* Backend side: RegisterDynamicBackgroundWorker().                        *)
(***************************************************************************)

Goto(b, label) == pc' = [pc EXCEPT ![b] = label]

Locals(b, d, s, g) ==
    /\ done' = [done EXCEPT ![b] = d]
    /\ slot' = [slot EXCEPT ![b] = s]
    /\ gen' = [gen EXCEPT ![b] = g]

Registered(b, result) ==
    LET d == done[b] + result IN
    IF d < OPS THEN /\ Goto(b, "lock")
                    /\ Locals(b, d, 0, 0)
               ELSE /\ Goto(b, "Done")
                    /\ Locals(b, 0, 0, 0)

\* LWLockAcquire(BackgroundWorkerLock); the search starts at slot 0.
Lock(b) ==
    /\ pc[b] = "lock"
    /\ BackgroundWorkerLock = 0
    /\ BackgroundWorkerLock' = 1
    /\ Goto(b, "read_in_use")
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, signalled, pmvars, bvars, ghost>>

\* pg_atomic_read_u32(in_use[slot]): a free slot is taken; else the search
\* goes on, and when every slot is in use register_worker() gives up.
ReadInUse(b) ==
    /\ pc[b] = "read_in_use"
    /\ IF in_use[slot[b]] = 0
         THEN /\ failed' = failed \cup Check(owner[slot[b]] = OWN_FREE, "ExclusiveOwnership")
              /\ owner' = [owner EXCEPT ![slot[b]] = OWN_BACKEND + b]
              /\ Goto(b, "write_worker")
              /\ UNCHANGED bvars
         ELSE /\ IF slot[b] + 1 < SLOTS
                   THEN /\ Goto(b, "read_in_use")
                        /\ Locals(b, done[b], slot[b] + 1, 0)
                   ELSE /\ Goto(b, "unlock_full")
                        /\ Locals(b, done[b], 0, 0)
              /\ UNCHANGED <<owner, failed>>
    /\ UNCHANGED <<shared, pmvars, registrant, run_by>>

\* LWLockRelease(BackgroundWorkerLock) with no free slot: returns 0.
UnlockFull(b) ==
    /\ pc[b] = "unlock_full"
    /\ BackgroundWorkerLock' = 0
    /\ Registered(b, 0)
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, signalled, pmvars, ghost>>

\* pg_atomic_write_u32(worker[slot], ME)
WriteWorker(b) ==
    /\ pc[b] = "write_worker"
    /\ worker' = [worker EXCEPT ![slot[b]] = b]
    /\ Goto(b, "write_notify_pid")
    /\ UNCHANGED <<in_use, generation, notify_pid, signalled, BackgroundWorkerLock,
                   pmvars, bvars, ghost>>

\* pg_atomic_write_u32(notify_pid[slot], ME)
WriteNotifyPid(b) ==
    /\ pc[b] = "write_notify_pid"
    /\ notify_pid' = [notify_pid EXCEPT ![slot[b]] = b]
    /\ Goto(b, "read_generation")
    /\ UNCHANGED <<in_use, generation, worker, signalled, BackgroundWorkerLock,
                   pmvars, bvars, ghost>>

\* gen = pg_atomic_read_u32(generation[slot])
ReadGeneration(b) ==
    /\ pc[b] = "read_generation"
    /\ Goto(b, "write_generation")
    /\ Locals(b, done[b], slot[b], generation[slot[b]])
    /\ UNCHANGED <<shared, pmvars, ghost>>

\* pg_atomic_write_u32(generation[slot], gen + 1)
WriteGeneration(b) ==
    /\ pc[b] = "write_generation"
    /\ generation' = [generation EXCEPT ![slot[b]] = Add(gen[b], 1)]
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ Goto(b, "register_write_barrier")
    /\ Locals(b, done[b], slot[b], 0)
    /\ UNCHANGED <<in_use, notify_pid, worker, signalled, BackgroundWorkerLock,
                   pmvars, owner, run_by, failed>>

\* pg_write_barrier(): the contents are visible before in_use.
RegisterWriteBarrier(b) ==
    /\ pc[b] = "register_write_barrier"
    /\ Goto(b, "set_in_use")
    /\ UNCHANGED <<shared, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(in_use[slot], 1): the hand-over to the postmaster.
SetInUse(b) ==
    /\ pc[b] = "set_in_use"
    /\ in_use' = [in_use EXCEPT ![slot[b]] = 1]
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_REGISTERED]
    /\ Goto(b, "unlock")
    /\ Locals(b, done[b], 0, 0)
    /\ UNCHANGED <<generation, notify_pid, worker, signalled, BackgroundWorkerLock,
                   pmvars, registrant, run_by, failed>>

\* LWLockRelease(BackgroundWorkerLock): returns 1.
Unlock(b) ==
    /\ pc[b] = "unlock"
    /\ BackgroundWorkerLock' = 0
    /\ Registered(b, 1)
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, signalled, pmvars, ghost>>

Backend(b) ==
    \/ Lock(b) \/ ReadInUse(b) \/ UnlockFull(b) \/ WriteWorker(b)
    \/ WriteNotifyPid(b) \/ ReadGeneration(b) \/ WriteGeneration(b)
    \/ RegisterWriteBarrier(b) \/ SetInUse(b) \/ Unlock(b)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Postmaster side: BackgroundWorkerStateChange() and reaping.             *)
(***************************************************************************)

PmGoto(label) == pc' = [pc EXCEPT ![Postmaster] = label]

PmLocals(s, w, p, steps) ==
    /\ pm_slot' = s /\ pm_w' = w /\ pm_pid' = p /\ pm_steps' = steps

\* The scan goes on at slot s, or scan_slots() ends.
ScanFrom(s) ==
    IF s < SLOTS
      THEN /\ PmGoto("scan_read_in_use")
           /\ PmLocals(s, 0, 0, pm_steps + 1)
      ELSE /\ PmGoto("choose_exit")
           /\ PmLocals(0, 0, 0, 0)

\* pg_atomic_read_u32(in_use[slot]): in use and not started yet?
PmReadInUse ==
    /\ pc[Postmaster] = "scan_read_in_use"
    /\ IF in_use[pm_slot] # 0 /\ pm_slot \notin pm_running
         THEN /\ PmGoto("scan_read_barrier")
              /\ PmLocals(pm_slot, 0, 0, pm_steps + 1)
         ELSE ScanFrom(pm_slot + 1)
    /\ UNCHANGED <<shared, pm_running, pm_done, bvars, ghost>>

\* pg_read_barrier(): pairs with the backend's pg_write_barrier().  The slot
\* passes to the postmaster: it must be registered.
ScanReadBarrier ==
    /\ pc[Postmaster] = "scan_read_barrier"
    /\ failed' = failed \cup Check(owner[pm_slot] = OWN_REGISTERED, "ExclusiveOwnership")
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_RUNNING]
    /\ run_by' = [run_by EXCEPT ![pm_slot] = registrant[pm_slot]]
    /\ PmGoto("read_worker")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<shared, pm_running, pm_done, pm_slot, pm_w, pm_pid, bvars, registrant>>

\* w = pg_atomic_read_u32(worker[slot])
ReadWorker ==
    /\ pc[Postmaster] = "read_worker"
    /\ PmGoto("read_notify_pid")
    /\ PmLocals(pm_slot, worker[pm_slot], 0, pm_steps + 1)
    /\ UNCHANGED <<shared, pm_running, pm_done, bvars, ghost>>

\* pid = pg_atomic_read_u32(notify_pid[slot]): the description must be its
\* registrant's.
ReadNotifyPid ==
    /\ pc[Postmaster] = "read_notify_pid"
    /\ failed' = failed \cup
          Check(pm_w = run_by[pm_slot] /\ notify_pid[pm_slot] = run_by[pm_slot], "QueueIntegrity")
    /\ PmGoto("fork_barrier")
    /\ PmLocals(pm_slot, 0, 0, pm_steps + 1)
    /\ UNCHANGED <<shared, pm_running, pm_done, bvars, owner, registrant, run_by>>

\* Starting the worker is fork(), a system call: modelled as
\* pg_memory_barrier().  The worker runs; the scan goes on.
ForkBarrier ==
    /\ pc[Postmaster] = "fork_barrier"
    /\ pm_running' = pm_running \cup {pm_slot}
    /\ ScanFrom(pm_slot + 1)
    /\ UNCHANGED <<shared, pm_done, bvars, ghost>>

\* exited = choose(SLOTS + 1): any running worker may exit now, or none.
ChooseExit ==
    /\ pc[Postmaster] = "choose_exit"
    /\ \E e \in 0..SLOTS :
         IF e < SLOTS /\ e \in pm_running
           THEN /\ PmGoto("reap_read_pid")
                /\ PmLocals(e, 0, 0, 0)
           ELSE \* pm_done < TOTAL still holds: the next scan begins.
                /\ PmGoto("scan_read_in_use")
                /\ PmLocals(0, 0, 0, 0)
    /\ UNCHANGED <<shared, pm_running, pm_done, bvars, ghost>>

\* pid = pg_atomic_read_u32(notify_pid[slot]) in reap_worker()
ReapReadPid ==
    /\ pc[Postmaster] = "reap_read_pid"
    /\ PmGoto("reap_barrier")
    /\ PmLocals(pm_slot, 0, notify_pid[pm_slot], pm_steps + 1)
    /\ UNCHANGED <<shared, pm_running, pm_done, bvars, ghost>>

\* pg_memory_barrier(): the slot is read before in_use frees it.
ReapBarrier ==
    /\ pc[Postmaster] = "reap_barrier"
    /\ PmGoto("clear_in_use")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<shared, pm_running, pm_done, pm_slot, pm_w, pm_pid, bvars, ghost>>

\* pg_atomic_write_u32(in_use[slot], 0)
ClearInUse ==
    /\ pc[Postmaster] = "clear_in_use"
    /\ in_use' = [in_use EXCEPT ![pm_slot] = 0]
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_FREE]
    /\ PmGoto("signal")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<generation, notify_pid, worker, signalled, BackgroundWorkerLock,
                   pm_running, pm_done, pm_slot, pm_w, pm_pid, bvars,
                   registrant, run_by, failed>>

\* kill(pid, SIGUSR1): the pid must be the registrant's.  The worker is
\* reaped; the loop scans again or, with all work done, ends.
Signal ==
    /\ pc[Postmaster] = "signal"
    /\ signalled' = pm_pid
    /\ failed' = failed \cup Check(pm_pid = run_by[pm_slot], "NotifyIntegrity")
    /\ IF pm_done + 1 < TOTAL
         THEN /\ PmGoto("scan_read_in_use")
              /\ pm_running' = pm_running \ {pm_slot}
              /\ pm_done' = pm_done + 1
         ELSE \* a finished postmaster's state is never read again
              /\ PmGoto("Done")
              /\ pm_running' = {} /\ pm_done' = 0
    /\ PmLocals(0, 0, 0, 0)
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, BackgroundWorkerLock,
                   bvars, owner, registrant, run_by>>

PostmasterStep ==
    \/ PmReadInUse \/ ScanReadBarrier \/ ReadWorker \/ ReadNotifyPid
    \/ ForkBarrier \/ ChooseExit \/ ReapReadPid \/ ReapBarrier \/ ClearInUse \/ Signal

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
(* Properties (DESIGN.md section 4, and the notification this design      *)
(* adds).                                                                  *)
(***************************************************************************)

ExclusiveOwnership == "ExclusiveOwnership" \notin failed

\* Every slot description the postmaster reads is its registrant's.
QueueIntegrity == "QueueIntegrity" \notin failed

\* The postmaster signals the backend that registered the exiting worker.
NotifyIntegrity == "NotifyIntegrity" \notin failed

PostmasterSafety ==
    /\ "PostmasterSafety" \notin failed
    /\ pm_slot \in Slots

Quiescent ==
    /\ pc[Postmaster] \in PostmasterIdleLabels
    /\ \A b \in Backends : pc[b] \in BackendIdleLabels

\* When quiescent, no running worker's slot is free, and no slot in use is
\* owned by nobody (leaked).
Conservation ==
    Quiescent =>
      \A s \in Slots :
         /\ in_use[s] = 0 => s \notin pm_running
         /\ in_use[s] # 0 => owner[s] # OWN_FREE

PostmasterWaitFreedom == pm_steps <= StepBound

PostmasterProgress ==
    (pc[Postmaster] \in PostmasterOpLabels) ~> (pc[Postmaster] \notin PostmasterOpLabels)

=============================================================================
