"""x86-TSO: a FIFO store buffer per thread.

A store enters its thread's buffer in program order and reaches memory later,
oldest first, in a step of its own (a *flush*).  A load reads the newest
buffered store to its address in its own buffer, else memory: a thread sees
its own stores early, others see them late, so a store followed by a load of
another address can appear reordered (SB), and nothing else can.  Locked
instructions (every RMW, LWLock acquire/release) and full fences wait for an
empty buffer and then act on memory at once.  Read and write barriers order
nothing the machine does not already order (on x86 they are compiler
barriers); a profile fence that orders store->load drains the buffer.

A thread with a full buffer waits for a flush, so a behaviour that needs more
buffered stores than the buffer holds is not explored.  Without ``--window``
the buffer holds SAFETY_CAP stores, more than any shipped protocol buffers at
once (at most 7, changequeue's postmaster), and a store refused for want of
room makes the search incomplete, never "holds": the model is meant to lose
nothing.  ``--window N`` is a bound the user asked for, an under-approximation
that every verdict states ("store buffers bounded to N").
"""

from __future__ import annotations

from typing import Any

from checker.ir import ModelError, OutOfRange
from checker.memory.profiles import Profile
from checker.memory.sc import SequentialConsistency
from checker.model import System
from checker.state import Label, State, Successor

# Not a size hardware has (x86 cores buffer some 50 stores) but a guard: it
# stops a thread that stores in a loop without draining, which would
# otherwise grow its buffer without end.  The C engine gives each thread
# room for this many pairs in a state (checker.engine_c).
SAFETY_CAP = 16


class TotalStoreOrder(SequentialConsistency):
    name = "tso"
    summary = "x86-TSO: FIFO store buffer per thread; RMWs and full fences drain it"
    # A thread's moves read and change its own store buffer only (a load
    # looks in its own buffer, then in memory): the search memoises them per
    # (memory, ghost, thread, own buffer), not per whole pending tuple.
    pending_local_steps = True
    pending_entries_may_reach_others = False
    bound_phrase = "store buffers bounded to {n}"
    cap_phrase = "the tso model's safety cap of {n} buffered stores per thread"

    def __init__(self, system: System, profile: Profile, window: int | None = None, **options: Any) -> None:
        super().__init__(system, profile, **options)
        if window is not None and window < 1:
            raise ModelError("--window must be at least 1")
        self.window_requested = window is not None
        self.capacity = window if window is not None else SAFETY_CAP
        # Some store waited only because its thread's buffer was full: set by
        # every engine (the compiled one through note_full_buffer, C through
        # sc_info), read through reordering_bound.
        self.buffer_refused = False
        # Fences that must drain the buffer: those ordering a store before a load.
        self.draining_fences = {prim for prim, pairs in profile.fences.items() if ("S", "L") in pairs}

    def initial_pending(self, tid: int) -> tuple[Any, ...]:
        return ()

    def successors(self, state: State, tid: int, out: list[Successor]) -> None:
        mem, threads, pending, ghost = state
        buf = pending[tid]
        if buf:
            # Flush the oldest buffered store to memory.
            (a, v), rest = buf[0], buf[1:]
            npend = pending[:tid] + (rest,) + pending[tid + 1:]
            out.append(((tid, "flush", None, (a, v)), (mem[:a] + (v,) + mem[a + 1:], threads, npend, ghost), None))
        T = threads[tid]
        prog = self.programs[tid]
        pc = T[0]
        ins = prog.instrs[pc]
        op = ins.op
        if op == "halt":
            return
        if not buf:
            # Nothing buffered: every event behaves as under sc, except that a
            # plain store goes into the buffer.
            if op != "store" or ins.prim in self.profile.full_stores:
                return super().successors(state, tid, out)
        L = list(T)
        try:
            if op == "load":
                a = ins.loc.address(L)
                v = mem[a]
                for ba, bv in buf:  # the newest buffered store to a wins
                    if ba == a:
                        v = bv
                L[ins.dst] = v
                self._finish(state, tid, prog, L, pc, mem, (a, v), out)
            elif op == "store":
                if ins.prim in self.profile.full_stores:
                    return  # a full-barrier store waits for an empty buffer
                if len(buf) >= self.capacity:
                    self.buffer_refused = True
                    return
                a = ins.loc.address(L)
                v = ins.value.fn(L)
                npend = pending[:tid] + (buf + ((a, v),),) + pending[tid + 1:]
                self._finish(state, tid, prog, L, pc, mem, (a, v), out, new_pending=npend)
            elif op == "fence":
                if ins.prim in self.draining_fences:
                    return
                self._finish(state, tid, prog, L, pc, mem, None, out)
            elif op == "choose":
                for choice in range(ins.n):
                    L2 = list(T)
                    L2[ins.dst] = choice
                    self._finish(state, tid, prog, L2, pc, mem, (None, choice), out)
            # rmw, acquire, release: locked instructions wait for an empty buffer
        except OutOfRange as exc:
            self._crash(state, tid, prog, pc, self.violation_for_range(tid, exc), out)

    def note_full_buffer(self) -> None:
        self.buffer_refused = True

    def reordering_bound(self) -> int | None:
        if self.window_requested or self.buffer_refused:
            return self.capacity
        return None

    def reordering_bound_requested(self) -> bool:
        return self.window_requested

    def pending_events(self, state: State, tid: int) -> list[str]:
        cells = self.system.cell_names
        return [f"buffered {cells[a]} = {v}" for a, v in state[2][tid]]

    def describe(self, label: Label, before: State, after: State | None) -> dict[str, Any]:
        tid, action, pc, info = label
        if action == "flush":
            a, v = info
            t = self.system.threads[tid]
            return {"thread": tid, "name": t.name, "role": t.role, "action": "flush", "event": "flush",
                    "text": f"flush {self.system.cell_names[a]} = {v}", "location": self.system.cell_names[a],
                    "address": a, "value": v}
        d = super().describe(label, before, after)
        if action == "step" and d.get("event") == "store" and pc is not None \
                and self.programs[tid].instrs[pc].prim not in self.profile.full_stores:
            # A full-barrier store (pg_atomic_write_membarrier_u32, and the
            # process events: a signal, fork, exit) waited for an empty buffer
            # and went to memory at its own step.
            d["buffered"] = True
        return d

