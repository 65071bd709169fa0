"""The memory-model interface, and the local-code runner all models share.

A memory model decides which of a thread's events may take effect next and
which value a load returns.  It owns one hashable piece of per-thread pending
state (a store buffer, a window of fetched-but-unperformed events, or nothing)
kept in ``state[2]``.  It never looks at a protocol: it sees programs only as
IR instructions and the ordering each primitive gives under the selected
profile (``checker.memory.profiles``).

A state is ``(memory, threads, pending, ghost)``:

- ``memory``: a tuple of 32-bit words (the layout comes from the System);
- ``threads``: one tuple per thread, ``(pc, steps, *locals)``;
- ``pending``: per-thread memory-model state (``None`` under sc);
- ``ghost``: a tuple of ints, bookkeeping for properties.

``successors(state, tid, out)`` appends one move (``MoveLayout``) per way thread ``tid`` may
move.  A move's ``label`` is a small tuple ``(tid, action, pc, info)`` that
``describe`` turns into words for a trace.

The NamedTuples below name these positions (``checker.state`` has the
matching type aliases the signatures use): they are the layout at the
boundary between the engine and a memory model.  The hot paths (the
interpreted models and the generated code of ``checker.compile_sc``) build
plain tuples of exactly this layout -- a NamedTuple is a tuple and compares
equal to one -- so naming costs nothing per state; the conformance kit
(``tests/test_memory_conformance.py``) checks the layout of every move of
every registered model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, NamedTuple

from checker.ir import (
    STEPS_LOCAL, GhostIndexError, Instr, ModelError, OutOfRange, Violation,
)
from checker.model import MEMORY_SAFETY, PM_SAFETY, WAIT_FREEDOM, System
from checker.state import Label, State, Successor

LOCAL_LOOP_LIMIT = 100_000

# A thread's state: (pc, steps in the current operation, *locals): ints, except
# that a model may keep a hashable token for a value not known yet (weak: the
# result of a load still in the window).
ThreadState = tuple[Any, ...]
# A property and the message that says how it failed.
ViolationReport = tuple[str, str]
# What a step is, for a trace: "step" (an event of the program), "crash" (an
# out-of-range index ends the thread), "flush" (tso: the oldest buffered store
# reaches memory), "fetch"/"perform"/"speculate" (weak: an event enters the
# window, takes effect, a load's value is guessed), "rogue" (the engine's rogue).
ACTIONS = frozenset({"step", "crash", "flush", "fetch", "perform", "speculate", "rogue"})


class StateLayout(NamedTuple):
    memory: tuple[int, ...]  # shared words, the System's layout
    threads: tuple[ThreadState, ...]  # one per thread, by thread id
    pending: tuple[Any, ...]  # per thread, the memory model's (hashable; None or () when nothing is pending)
    ghost: tuple[int, ...]  # bookkeeping for properties


class LabelLayout(NamedTuple):
    tid: int
    action: str  # one of ACTIONS
    pc: int | None  # the instruction, when the move is one
    info: Any  # hashable detail for the trace (an address and value, a choice...)


class MoveLayout(NamedTuple):
    """One way a thread may move.

    ``next_state`` None and ``violation`` None: a move the model discards (a
    wrong speculative guess), which a fair run still takes; ``next_state``
    None with a violation: the move breaks a property.
    """

    label: LabelLayout
    next_state: StateLayout | None
    violation: ViolationReport | None


class ModelLoopError(ModelError):
    """A program loops forever without touching shared memory."""


class MemoryModel(ABC):
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    # How verdicts name the model's bound on reordering (reordering_bound),
    # {n} its size: the one a user asked for, and the safety cap hit when
    # nobody asked.  A model with a bound words its own.
    bound_phrase: ClassVar[str] = "reordering bounded to {n}"
    cap_phrase: ClassVar[str] = "the memory model's safety cap of {n}"
    registry: ClassVar[dict[str, type["MemoryModel"]]] = {}
    # True when a thread's moves are a function of its own thread state, the
    # memory, the pending tuple and the ghost state alone, and change no other
    # thread: the compact search then computes them once per such combination
    # and replays them as key deltas (checker.search).  A model whose step
    # reads or writes another thread's state must leave this False.
    thread_local_steps: ClassVar[bool] = False
    # True when a thread's moves are a function of its own thread state, its
    # own entry of the pending tuple, the memory and the ghost state (and of
    # another thread's pending entry only where ``pending_reaches_others``
    # says so of that entry), and change nothing but those four: the compact
    # search then interns the pending entries one by one and memoises each
    # thread's moves per such combination (checker.search, split_pending),
    # except in a state where some entry reaches other threads.
    pending_local_steps: ClassVar[bool] = False
    # False when no pending entry ever reaches other threads: the search then
    # neither asks pending_reaches_others nor tests each state for such an entry.
    pending_entries_may_reach_others: ClassVar[bool] = True

    def pending_reaches_others(self, entry: Any) -> bool:
        """May the moves of threads other than its own depend on this pending entry?  (pending_local_steps)"""
        return True

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        if cls.name:
            MemoryModel.registry[cls.name] = cls

    def __init__(self, system: System, profile, **options) -> None:
        if options:
            # A model that ignored an option would check something else than
            # the user asked for (sc has no --window: it buffers nothing).
            raise ModelError(f"the {self.name} memory model takes no {', '.join('--' + k for k in options)} "
                             "(--window bounds weak's events in flight and tso's store buffers)")
        self.system = system
        self.profile = profile
        self.programs = [t.program for t in system.threads]
        self.bounded = [t.role == "postmaster" for t in system.threads]
        # --step-bound 0: no bound; the counter only records "has stepped in
        # this operation" (0 or 1), so a loop inside one operation closes a
        # cycle in the state graph and the lasso search finds it.
        self.step_bound = system.params.step_bound
        self.rogue = system.rogue_tid is not None

    # -- interface -------------------------------------------------------

    @abstractmethod
    def initial_pending(self, tid: int) -> Any:
        """Per-thread pending state at the start."""

    @abstractmethod
    def successors(self, state: State, tid: int, out: list[Successor]) -> None:
        """Append a move per possible step of ``tid`` (in a fixed order: traces are rebuilt from it)."""

    def quiescent(self, pending: tuple[Any, ...]) -> bool:
        """No thread has an event that is issued but not yet visible to all."""
        return all(p is None or p == () for p in pending)

    # The wire between the processes of a partitioned search.  Each process
    # builds the model itself (a Ray actor, a resumed checkpoint), so a value
    # that names something by a number private to one process must travel
    # under a name every build of the same model agrees on.

    def pending_to_wire(self, pending: tuple[Any, ...]) -> tuple[Any, ...]:
        """``pending`` (every thread's) as plain tuples, lists, ints, strings and frozensets, for marshal,
        named as ``values_to_wire`` names values."""
        return pending

    def pending_from_wire(self, pending: tuple[Any, ...]) -> tuple[Any, ...]:
        """The inverse of ``pending_to_wire``: equal to what was sent, of the model's own types."""
        return pending

    def values_to_wire(self, component: Any) -> Any:
        """A thread's locals or a ghost state as another process that built the same model reads them."""
        return component

    def values_from_wire(self, component: Any) -> Any:
        """The inverse of ``values_to_wire``, in this process's names."""
        return component

    # Memoised outcomes shared between the worker processes of a partitioned
    # search.  A model whose caches are keyed by one thread's state alone
    # (not by memory) would otherwise fill them afresh in every worker, since
    # the shards split states by memory.  The default shares nothing.

    def share_outcomes(self, portable: bool = False) -> bool:
        """From now on, remember what the caches learn, for ``outcomes_to_share``; False: nothing to share.

        ``portable``: the offers go to processes that built the model
        themselves (Ray actors), so they name values as ``values_to_wire`` does.
        """
        return False

    def outcomes_to_share(self) -> bytes | None:
        """What the caches learnt since the last call (then forgotten here), or None."""
        return None

    def adopt_outcomes(self, sender: int, blob: bytes) -> None:
        """Add to the caches what worker ``sender``'s ``outcomes_to_share`` returned: each of its offers, in order."""

    def reordering_bound(self) -> int | None:
        """The bound on reordering that limited this search, if any.

        ``None``: nothing the model allows was left out.  A number: the
        search explored only executions with at most that many events in
        flight per thread, so its verdicts are under-approximations.
        """
        return None

    def reordering_bound_requested(self) -> bool:
        """Did the user ask for that bound (``--window``)?  If not, a bound
        that was hit means the search is incomplete."""
        return False

    def between_operations_of_entry(self, entry) -> bool | None:
        """``between_operations`` read from the thread's own pending entry alone, or None if it takes more.

        For the cycle analysis, which asks it of every state: with one answer
        per distinct entry it need not unpack the states (see
        ``checker.search._LazyStates.place_ahead``).
        """
        return None

    def between_operations(self, state, tid: int) -> bool:
        """Has thread ``tid`` started its next operation while events of the
        previous one are still in flight?  (The cycle analysis must not count
        such a thread as staying inside one operation.)"""
        return False

    def upcoming_reads(self, state: State, tid: int) -> tuple[int, ...]:
        """Addresses thread ``tid`` may read in its very next step.

        The rogue uses this to deliver its writes just before the postmaster
        reads (see Engine.rogue_successors).  Default: the event at pc.
        """
        T = state[1][tid]
        ins = self.programs[tid].instrs[T[0]]
        if ins.op in ("load", "rmw", "acquire"):
            try:
                return (ins.loc.address(T),)
            except Exception:
                return ()
        return ()

    def pending_events(self, state: State, tid: int) -> list[str]:
        """Human-readable pending events of a thread (for traces)."""
        return []

    def describe(self, label: Label, before: State, after: State | None) -> dict:
        """What a step did, for a trace (see ``checker.trace``)."""
        return describe_program_step(self.system, label, before, after)

    # -- helpers shared by every model -------------------------------------

    def violation_for_range(self, tid: int, exc: OutOfRange):
        """An out-of-range index: a postmaster safety violation, or a backend's.

        With a rogue a backend indexing out of range is a crashed backend
        (allowed: only the postmaster must survive), signalled by ``None``.
        """
        role = self.system.threads[tid].role
        if role == "postmaster":
            return (PM_SAFETY, f"postmaster {exc}")
        if self.rogue:
            return None
        return (MEMORY_SAFETY, f"{role} {exc}")

    def count_step(self, tid: int, L: list, pc: int):
        """Count one event of the current operation; a violation past the bound."""
        if self.bounded[tid] and self.programs[tid].in_op[pc]:
            if not self.step_bound:
                L[STEPS_LOCAL] = 1
                return None
            L[STEPS_LOCAL] += 1
            if L[STEPS_LOCAL] > self.step_bound:
                op = self.programs[tid].op_name[pc]
                return (WAIT_FREEDOM, f"{op} took more than {self.step_bound} steps")
        return None


def run_local(instrs: list[Instr], pc: int, L: list, ghost: tuple, rogue: bool):
    """Run local instructions from ``pc`` up to the next event.

    Returns ``(pc, new_ghost_or_None)``.  Ghost code may raise Violation.  With
    a rogue, ghost bookkeeping that indexes out of range is skipped: ghost
    state means nothing once shared memory is corrupted.
    """
    G = None
    count = 0
    while True:
        ins = instrs[pc]
        if ins.is_event:
            return pc, (tuple(G) if G is not None else None)
        op = ins.op
        if op == "assign":
            L[ins.dst] = ins.expr.fn(L)
            pc += 1
        elif op == "branch":
            pc = pc + 1 if ins.cond.fn(L) else ins.target
        elif op == "jump":
            pc = ins.target
        elif op == "ghost":
            if G is None:
                G = list(ghost)
            try:
                ins.fn(G, L)
            except GhostIndexError as exc:
                if not rogue:
                    raise Violation(MEMORY_SAFETY, f"ghost bookkeeping: {exc}") from None
            except ArithmeticError as exc:
                raise ModelError(f"{ins.src}: ghost code failed: {exc}") from None
            pc += 1
        else:  # operation markers
            pc += 1
        count += 1
        if count > LOCAL_LOOP_LIMIT:
            src = ins.src
            raise ModelLoopError(f"{src}: the program loops without any shared-memory event")


def settle(prog, L: list, pc: int) -> tuple:
    """Canonical thread tuple at ``pc``: dead locals are reset to 0."""
    L[0] = pc
    for i in prog.dead_at[pc]:
        L[i] = 0
    return tuple(L)


def describe_program_step(system: System, label, before, after) -> dict:
    """Default description of a step that executed the event at ``label[2]``."""
    tid, action, pc, info = label
    t = system.threads[tid]
    d: dict[str, Any] = {"thread": tid, "name": t.name, "role": t.role, "action": action}
    if pc is not None and t.program is not None:
        ins = t.program.instrs[pc]
        d["pc"] = pc
        d["event"] = ins.op
        d["text"] = ins.describe()
        d["prim"] = getattr(ins, "prim", ins.op)
        if getattr(ins, "shown", None):  # fork, exit, a signal: a system call, not the atomic that orders it
            d["process"] = ins.shown
        d["source"] = ins.src.as_dict()
    if action == "rogue":
        a, v = info
        d.update({"event": "store", "text": f"rogue write {system.cell_names[a]} = {v:#x}",
                  "location": system.cell_names[a], "address": a, "value": v})
    elif action == "crash":
        d["text"] = "crashed on an out-of-range index (shared memory was corrupted)"
    return d
