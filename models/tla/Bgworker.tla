------------------------------ MODULE Bgworker ------------------------------
(***************************************************************************)
(* The design PostgreSQL ships today (src/backend/postmaster/bgworker.c    *)
(* and the postmaster's server loop): no free list, an in_use flag per     *)
(* BackgroundWorkerSlot, and a worker process per started slot.           *)
(*                                                                         *)
(*  - A backend, holding BackgroundWorkerLock, searches the slots for one  *)
(*    not in use, fills it in (worker, notify pid), bumps its generation,  *)
(*    issues pg_write_barrier() and only then sets in_use; after releasing *)
(*    the lock it signals the postmaster (SendPostmasterSignal: the flag   *)
(*    bgworker_change, then kill()).                                       *)
(*  - The postmaster's server loop handles child exits first: for each     *)
(*    slot whose worker it started, waitpid() tells whether the worker     *)
(*    exited; if so it reads the pid to notify, issues                     *)
(*    pg_memory_barrier(), clears in_use and signals the pid it read.      *)
(*    Then it takes the signal, and if it was sent scans every slot        *)
(*    without a lock: for one in use that it has not started it issues     *)
(*    pg_read_barrier(), reads the description and forks the worker.       *)
(*  - A worker process exits whenever it likes (here: at once), which the  *)
(*    kernel reports to the postmaster as a child exit.                    *)
(*                                                                         *)
(* This module is the TLA+ twin of models/bgworker.py under sequential     *)
(* consistency, written like Ring.tla (read its header): one action per    *)
(* shared-memory event, the local code after an event folded into its      *)
(* action, dead locals reset to 0, pm_steps counting the postmaster's      *)
(* steps in its current operation, the model's ghost assertions recorded   *)
(* in `failed`.  The fork, a worker's exit, waitpid(), the signal and      *)
(* taking it are events too, on the words the checker lays out for them:   *)
(* started[s] and exited[s] (the kernel's worker.started[] and             *)
(* worker.exited[]) and bgworker_change.  The postmaster's list of the     *)
(* workers it started is the set pm_running (the model's private array     *)
(* pm_running[]); the checker's record of the processes it forked and has  *)
(* not reaped is pm_running less the slot being reaped, so it is no        *)
(* variable here.  Its distinct states are the ones `checker explore       *)
(* bgworker --memory-model sc` counts.  The model's mutations (barriers    *)
(* left out) are bugs only under weaker memory models, so no configuration *)
(* of this spec is expected to fail.                                       *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets

CONSTANTS
    SLOTS,        \* number of worker slots (and worker process slots)
    BACKENDS,     \* number of backends (the checker's --threads minus one)
    OPS,          \* workers each backend registers
    StepBound,    \* the checker's --step-bound for one postmaster operation
    WordModulus   \* 2^32 in C; see MCBgworker.tla

ASSUME /\ SLOTS \in Nat \ {0}
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
Min(S) == CHOOSE x \in S : \A y \in S : x <= y

VARIABLES
    \* Shared memory, named as in the Python model.
    in_use, generation, notify_pid, worker, signalled,
    BackgroundWorkerLock,
    \* The postmaster's signal flag and the kernel's per-slot fork and exit
    \* flags (the checker lays them out with shared memory).
    bgworker_change, started, exited,
    \* The postmaster's private state, its live locals (the slot it reaps or
    \* scans, the worker and pid it read) and its step counter.
    pm_running, pm_done,
    pm_slot, pm_w, pm_pid, pm_steps,
    \* Each backend's locals.
    done, slot, gen,
    pc,
    \* Each worker process slot: waiting to be forked, or running.
    worker_pc,
    \* Ghost state.
    owner, registrant, run_by,
    failed

shared == <<in_use, generation, notify_pid, worker, signalled, BackgroundWorkerLock>>
kernel == <<bgworker_change, started, exited>>
pmvars == <<pm_running, pm_done, pm_slot, pm_w, pm_pid, pm_steps>>
bvars == <<done, slot, gen>>
ghost == <<owner, registrant, run_by, failed>>
vars == <<shared, kernel, pmvars, bvars, pc, worker_pc, ghost>>

PostmasterLabels ==
    {"child_exited", "reap_read_pid", "reap_barrier", "clear_in_use", "signal",
     "take_signal", "scan_read_in_use", "scan_read_barrier", "read_worker",
     "read_notify_pid", "start_worker", "Done"}

BackendLabels ==
    {"lock", "read_in_use", "unlock_full", "write_worker", "write_notify_pid",
     "read_generation", "write_generation", "register_write_barrier",
     "set_in_use", "unlock", "signal_postmaster", "Done"}

\* Between operations, or at the first shared event of one (quiescence):
\* taking the signal is the first event of handle_signals(); the reaper's
\* waitpid() is not always the first of its pass.
PostmasterIdleLabels == {"take_signal", "Done"}
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
    /\ bgworker_change \in {0, 1}
    /\ started \in [Slots -> {0, 1}]
    /\ exited \in [Slots -> {0, 1}]
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
    /\ worker_pc \in [Slots -> {"fork", "exit"}]
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
    /\ bgworker_change = 0
    /\ started = [s \in Slots |-> 0]
    /\ exited = [s \in Slots |-> 0]
    /\ pm_running = {}
    /\ pm_done = 0
    /\ pm_slot = 0
    /\ pm_w = 0
    /\ pm_pid = 0
    /\ pm_steps = 0
    /\ done = [b \in Backends |-> 0]
    /\ slot = [b \in Backends |-> 0]
    /\ gen = [b \in Backends |-> 0]
    \* TOTAL is at least 1 and no worker runs yet: the reaper has nothing to
    \* wait for, so the postmaster's first event is taking the signal;
    \* backends wait for the lock, worker processes for a fork.
    /\ pc = [t \in Threads |-> IF t = Postmaster THEN "take_signal" ELSE "lock"]
    /\ worker_pc = [s \in Slots |-> "fork"]
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
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, signalled, kernel, pmvars, bvars, ghost>>

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
    /\ UNCHANGED <<shared, kernel, pmvars, registrant, run_by>>

\* LWLockRelease(BackgroundWorkerLock) with no free slot: returns 0 (and
\* does not signal).
UnlockFull(b) ==
    /\ pc[b] = "unlock_full"
    /\ BackgroundWorkerLock' = 0
    /\ Registered(b, 0)
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, signalled, kernel, pmvars, ghost>>

\* pg_atomic_write_u32(worker[slot], ME)
WriteWorker(b) ==
    /\ pc[b] = "write_worker"
    /\ worker' = [worker EXCEPT ![slot[b]] = b]
    /\ Goto(b, "write_notify_pid")
    /\ UNCHANGED <<in_use, generation, notify_pid, signalled, BackgroundWorkerLock,
                   kernel, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(notify_pid[slot], ME)
WriteNotifyPid(b) ==
    /\ pc[b] = "write_notify_pid"
    /\ notify_pid' = [notify_pid EXCEPT ![slot[b]] = b]
    /\ Goto(b, "read_generation")
    /\ UNCHANGED <<in_use, generation, worker, signalled, BackgroundWorkerLock,
                   kernel, pmvars, bvars, ghost>>

\* gen = pg_atomic_read_u32(generation[slot])
ReadGeneration(b) ==
    /\ pc[b] = "read_generation"
    /\ Goto(b, "write_generation")
    /\ Locals(b, done[b], slot[b], generation[slot[b]])
    /\ UNCHANGED <<shared, kernel, pmvars, ghost>>

\* pg_atomic_write_u32(generation[slot], gen + 1)
WriteGeneration(b) ==
    /\ pc[b] = "write_generation"
    /\ generation' = [generation EXCEPT ![slot[b]] = Add(gen[b], 1)]
    /\ registrant' = [registrant EXCEPT ![slot[b]] = b]
    /\ Goto(b, "register_write_barrier")
    /\ Locals(b, done[b], slot[b], 0)
    /\ UNCHANGED <<in_use, notify_pid, worker, signalled, BackgroundWorkerLock,
                   kernel, pmvars, owner, run_by, failed>>

\* pg_write_barrier(): the contents are visible before in_use.
RegisterWriteBarrier(b) ==
    /\ pc[b] = "register_write_barrier"
    /\ Goto(b, "set_in_use")
    /\ UNCHANGED <<shared, kernel, pmvars, bvars, ghost>>

\* pg_atomic_write_u32(in_use[slot], 1): the hand-over to the postmaster.
SetInUse(b) ==
    /\ pc[b] = "set_in_use"
    /\ in_use' = [in_use EXCEPT ![slot[b]] = 1]
    /\ owner' = [owner EXCEPT ![slot[b]] = OWN_REGISTERED]
    /\ Goto(b, "unlock")
    /\ Locals(b, done[b], 0, 0)
    /\ UNCHANGED <<generation, notify_pid, worker, signalled, BackgroundWorkerLock,
                   kernel, pmvars, registrant, run_by, failed>>

\* LWLockRelease(BackgroundWorkerLock)
Unlock(b) ==
    /\ pc[b] = "unlock"
    /\ BackgroundWorkerLock' = 0
    /\ Goto(b, "signal_postmaster")
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, signalled, kernel, pmvars, bvars, ghost>>

\* SendPostmasterSignal(PMSIGNAL_BACKGROUND_WORKER_CHANGE): returns 1.
SignalPostmaster(b) ==
    /\ pc[b] = "signal_postmaster"
    /\ bgworker_change' = 1
    /\ Registered(b, 1)
    /\ UNCHANGED <<shared, started, exited, pmvars, ghost>>

\* A backend's step leaves the worker processes alone.
Backend(b) ==
    /\ \/ Lock(b) \/ ReadInUse(b) \/ UnlockFull(b) \/ WriteWorker(b)
       \/ WriteNotifyPid(b) \/ ReadGeneration(b) \/ WriteGeneration(b)
       \/ RegisterWriteBarrier(b) \/ SetInUse(b) \/ Unlock(b) \/ SignalPostmaster(b)
    /\ UNCHANGED worker_pc

-----------------------------------------------------------------------------
(***************************************************************************)
(* Worker processes: forked by the postmaster, exit at once.               *)
(***************************************************************************)

\* fork(): the process slot's worker begins (it consumes the start flag).
Fork(s) ==
    /\ worker_pc[s] = "fork"
    /\ started[s] = 1
    /\ started' = [started EXCEPT ![s] = 0]
    /\ worker_pc' = [worker_pc EXCEPT ![s] = "exit"]
    /\ UNCHANGED <<shared, bgworker_change, exited, pmvars, bvars, pc, ghost>>

\* exit(): the kernel reports it to the postmaster as a child exit.
Exit(s) ==
    /\ worker_pc[s] = "exit"
    /\ exited' = [exited EXCEPT ![s] = 1]
    /\ worker_pc' = [worker_pc EXCEPT ![s] = "fork"]
    /\ UNCHANGED <<shared, bgworker_change, started, pmvars, bvars, pc, ghost>>

WorkerProcess(s) == Fork(s) \/ Exit(s)

-----------------------------------------------------------------------------
(***************************************************************************)
(* Postmaster side: the server loop, its reaper and                        *)
(* BackgroundWorkerStateChange().                                          *)
(***************************************************************************)

PmGoto(label) == pc' = [pc EXCEPT ![Postmaster] = label]

PmLocals(s, w, p, steps) ==
    /\ pm_slot' = s /\ pm_w' = w /\ pm_pid' = p /\ pm_steps' = steps

\* The reaper goes on at the first slot from s whose worker it started, or
\* its pass ends and handle_signals() begins (a new operation).
ReapFrom(s, running, steps) ==
    LET next == {x \in running : x >= s} IN
    IF next # {}
      THEN /\ PmGoto("child_exited")
           /\ PmLocals(Min(next), 0, 0, steps)
      ELSE /\ PmGoto("take_signal")
           /\ PmLocals(0, 0, 0, 0)

\* The top of the server loop: another pass while work remains (the reaper
\* is a new operation), else the postmaster is done and its state is never
\* read again.
LoopTop ==
    IF pm_done < TOTAL
      THEN /\ ReapFrom(0, pm_running, 0)
           /\ UNCHANGED <<pm_running, pm_done>>
      ELSE /\ PmGoto("Done")
           /\ PmLocals(0, 0, 0, 0)
           /\ pm_running' = {} /\ pm_done' = 0

\* child_exited(slot): waitpid() reads and clears the slot's exit flag.
ChildExited ==
    /\ pc[Postmaster] = "child_exited"
    /\ exited' = [exited EXCEPT ![pm_slot] = 0]
    /\ IF exited[pm_slot] # 0
         THEN /\ PmGoto("reap_read_pid")
              /\ PmLocals(pm_slot, 0, 0, pm_steps + 1)
         ELSE ReapFrom(pm_slot + 1, pm_running, pm_steps + 1)
    /\ UNCHANGED <<shared, bgworker_change, started, pm_running, pm_done, bvars, worker_pc, ghost>>

\* pid = pg_atomic_read_u32(notify_pid[slot])
ReapReadPid ==
    /\ pc[Postmaster] = "reap_read_pid"
    /\ PmGoto("reap_barrier")
    /\ PmLocals(pm_slot, 0, notify_pid[pm_slot], pm_steps + 1)
    /\ UNCHANGED <<shared, kernel, pm_running, pm_done, bvars, worker_pc, ghost>>

\* pg_memory_barrier(): the slot is read before in_use frees it.
ReapBarrier ==
    /\ pc[Postmaster] = "reap_barrier"
    /\ PmGoto("clear_in_use")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<shared, kernel, pm_running, pm_done, pm_slot, pm_w, pm_pid, bvars, worker_pc, ghost>>

\* pg_atomic_write_u32(in_use[slot], 0)
ClearInUse ==
    /\ pc[Postmaster] = "clear_in_use"
    /\ in_use' = [in_use EXCEPT ![pm_slot] = 0]
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_FREE]
    /\ PmGoto("signal")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<generation, notify_pid, worker, signalled, BackgroundWorkerLock, kernel,
                   pm_running, pm_done, pm_slot, pm_w, pm_pid, bvars, worker_pc,
                   registrant, run_by, failed>>

\* kill(pid, SIGUSR1): the pid must be the registrant's.  The worker is
\* forgotten; the reaper goes on with the next slot.
Signal ==
    /\ pc[Postmaster] = "signal"
    /\ signalled' = pm_pid
    /\ failed' = failed \cup Check(pm_pid = run_by[pm_slot], "NotifyIntegrity")
    /\ pm_running' = pm_running \ {pm_slot}
    /\ pm_done' = pm_done + 1
    /\ ReapFrom(pm_slot + 1, pm_running \ {pm_slot}, pm_steps + 1)
    /\ UNCHANGED <<in_use, generation, notify_pid, worker, BackgroundWorkerLock, kernel,
                   bvars, worker_pc, owner, registrant, run_by>>

\* take_signal(bgworker_change): read and clear the flag; if it was set,
\* BackgroundWorkerStateChange() (an operation of its own) scans from slot 0.
TakeSignal ==
    /\ pc[Postmaster] = "take_signal"
    /\ bgworker_change' = 0
    /\ IF bgworker_change # 0
         THEN /\ PmGoto("scan_read_in_use")
              /\ PmLocals(0, 0, 0, 0)
              /\ UNCHANGED <<pm_running, pm_done>>
         ELSE LoopTop
    /\ UNCHANGED <<shared, started, exited, bvars, worker_pc, ghost>>

\* The scan goes on at slot s, or it ends and so does the loop's pass.
ScanFrom(s, steps) ==
    IF s < SLOTS
      THEN /\ PmGoto("scan_read_in_use")
           /\ PmLocals(s, 0, 0, steps)
           /\ UNCHANGED <<pm_running, pm_done>>
      ELSE LoopTop

\* pg_atomic_read_u32(in_use[slot]): in use and not started yet?
ScanReadInUse ==
    /\ pc[Postmaster] = "scan_read_in_use"
    /\ IF in_use[pm_slot] # 0 /\ pm_slot \notin pm_running
         THEN /\ PmGoto("scan_read_barrier")
              /\ PmLocals(pm_slot, 0, 0, pm_steps + 1)
              /\ UNCHANGED <<pm_running, pm_done>>
         ELSE ScanFrom(pm_slot + 1, pm_steps + 1)
    /\ UNCHANGED <<shared, kernel, bvars, worker_pc, ghost>>

\* pg_read_barrier(): pairs with the backend's pg_write_barrier().  The slot
\* passes to the postmaster: it must be registered.
ScanReadBarrier ==
    /\ pc[Postmaster] = "scan_read_barrier"
    /\ failed' = failed \cup Check(owner[pm_slot] = OWN_REGISTERED, "ExclusiveOwnership")
    /\ owner' = [owner EXCEPT ![pm_slot] = OWN_RUNNING]
    /\ run_by' = [run_by EXCEPT ![pm_slot] = registrant[pm_slot]]
    /\ PmGoto("read_worker")
    /\ pm_steps' = pm_steps + 1
    /\ UNCHANGED <<shared, kernel, pm_running, pm_done, pm_slot, pm_w, pm_pid, bvars, worker_pc,
                   registrant>>

\* w = pg_atomic_read_u32(worker[slot])
ReadWorker ==
    /\ pc[Postmaster] = "read_worker"
    /\ PmGoto("read_notify_pid")
    /\ PmLocals(pm_slot, worker[pm_slot], 0, pm_steps + 1)
    /\ UNCHANGED <<shared, kernel, pm_running, pm_done, bvars, worker_pc, ghost>>

\* pid = pg_atomic_read_u32(notify_pid[slot]): the description must be its
\* registrant's.  The slot goes on the postmaster's list of started workers.
ReadNotifyPid ==
    /\ pc[Postmaster] = "read_notify_pid"
    /\ failed' = failed \cup
          Check(pm_w = run_by[pm_slot] /\ notify_pid[pm_slot] = run_by[pm_slot], "QueueIntegrity")
    /\ pm_running' = pm_running \cup {pm_slot}
    /\ PmGoto("start_worker")
    /\ PmLocals(pm_slot, 0, 0, pm_steps + 1)
    /\ UNCHANGED <<shared, kernel, pm_done, bvars, worker_pc, owner, registrant, run_by>>

\* start_worker(slot): fork(), a full barrier.  Forking a slot whose last
\* worker has not exited and been reaped would crash the postmaster.
StartWorker ==
    /\ pc[Postmaster] = "start_worker"
    /\ failed' = failed \cup
          Check(worker_pc[pm_slot] = "fork" /\ started[pm_slot] = 0 /\ exited[pm_slot] = 0,
                "PostmasterSafety")
    /\ started' = [started EXCEPT ![pm_slot] = 1]
    /\ ScanFrom(pm_slot + 1, pm_steps + 1)
    /\ UNCHANGED <<shared, bgworker_change, exited, bvars, worker_pc, owner, registrant, run_by>>

PostmasterStep ==
    \/ ChildExited \/ ReapReadPid \/ ReapBarrier \/ ClearInUse \/ Signal
    \/ TakeSignal \/ ScanReadInUse \/ ScanReadBarrier \/ ReadWorker \/ ReadNotifyPid \/ StartWorker

Terminating ==
    /\ \A t \in Threads : pc[t] = "Done"
    /\ \A s \in Slots : worker_pc[s] = "fork"
    /\ UNCHANGED vars

Next ==
    \/ PostmasterStep
    \/ \E b \in Backends : Backend(b)
    \/ \E s \in Slots : WorkerProcess(s)
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

\* When quiescent, no started worker's slot is free, and no slot in use is
\* owned by nobody (leaked).
Conservation ==
    Quiescent =>
      \A s \in Slots :
         /\ in_use[s] = 0 => s \notin pm_running
         /\ in_use[s] # 0 => owner[s] # OWN_FREE

PostmasterWaitFreedom == pm_steps <= StepBound

\* Every pass of the server loop ends: the postmaster comes back to taking
\* the signal, or is done.  (It never sleeps: without the signal it polls.)
PostmasterProgress ==
    (pc[Postmaster] \notin PostmasterIdleLabels) ~> (pc[Postmaster] \in PostmasterIdleLabels)

=============================================================================
