"""Sequential consistency: one event at a time, in program order, against one memory.

Every event takes effect the moment its thread executes it, so there is no
pending state, and fences have no effect beyond being a step.  This is the
reference semantics: a protocol that fails here is wrong on any machine.
"""

from __future__ import annotations

from typing import Any

from checker.ir import OutOfRange, Violation, rmw_apply
from checker.memory.base import MemoryModel, run_local, settle
from checker.state import Label, State, Successor


class SequentialConsistency(MemoryModel):
    name = "sc"
    summary = "sequential consistency: one event at a time, in program order"
    # A step reads threads[tid], memory and ghost only, and rebuilds threads
    # with only entry tid replaced (tso's flush and buffered stores touch
    # pending, which is part of what the search's cache is keyed on).
    thread_local_steps = True

    def initial_pending(self, tid: int) -> Any:
        return None

    def successors(self, state: State, tid: int, out: list[Successor]) -> None:
        mem, threads, pending, ghost = state
        T = threads[tid]
        prog = self.programs[tid]
        instrs = prog.instrs
        pc = T[0]
        ins = instrs[pc]
        op = ins.op
        if op == "halt":
            return
        L = list(T)
        info: tuple[Any, ...] | None = None  # (address, value[, old]) or (None, choice)
        new_mem = mem
        try:
            if op == "load":
                a = ins.loc.address(L)
                v = mem[a]
                L[ins.dst] = v
                info = (a, v)
            elif op == "store":
                a = ins.loc.address(L)
                v = ins.value.fn(L)
                new_mem = mem[:a] + (v,) + mem[a + 1:]
                info = (a, v)
            elif op == "rmw":
                a = ins.loc.address(L)
                old = mem[a]
                args = tuple(e.fn(L) for e in ins.args)
                new, result = rmw_apply(ins.kind, old, args)
                if new != old:
                    new_mem = mem[:a] + (new,) + mem[a + 1:]
                L[ins.dst] = result
                if ins.expected_local is not None:
                    L[ins.expected_local] = old
                info = (a, new, old)
            elif op == "acquire":
                a = ins.loc.address(L)
                if (mem[a] != 0) != ins.wait_nonzero:
                    return  # blocked while the lock is held (a flag: while it is clear)
                new_mem = mem[:a] + (ins.taken,) + mem[a + 1:]
                info = (a, ins.taken)
            elif op == "release":
                a = ins.loc.address(L)
                new_mem = mem[:a] + (0,) + mem[a + 1:]
                info = (a, 0)
            elif op == "choose":
                for choice in range(ins.n):
                    L2 = list(T)
                    L2[ins.dst] = choice
                    self._finish(state, tid, prog, L2, pc, mem, (None, choice), out)
                return
            # fences: nothing to order in a sequentially consistent machine
        except OutOfRange as exc:
            v = self.violation_for_range(tid, exc)
            self._crash(state, tid, prog, pc, v, out)
            return
        self._finish(state, tid, prog, L, pc, new_mem, info, out)

    def _finish(self, state, tid, prog, L, pc, new_mem, info, out, new_pending=None):
        label = (tid, "step", pc, info)
        viol = self.count_step(tid, L, pc)
        if viol is not None:
            out.append((label, None, viol))
            return
        mem, threads, pending, ghost = state
        if new_pending is not None:
            pending = new_pending
        try:
            npc, G = run_local(prog.instrs, pc + 1, L, ghost, self.rogue)
        except Violation as exc:
            out.append((label, None, (exc.prop, exc.message)))
            return
        except OutOfRange as exc:
            # Local code cannot index shared memory, but it can divide by zero
            # (UndefinedBehaviour): the thread crashes as on a bad index.
            viol = self.violation_for_range(tid, exc)
            if viol is not None:
                out.append((label, None, viol))
            else:  # the event took effect; then the backend crashed
                self._crash((new_mem, threads, pending, ghost), tid, prog, pc, None, out)
            return
        T2 = settle(prog, L, npc)
        new_threads = threads[:tid] + (T2,) + threads[tid + 1:]
        out.append((label, (new_mem, new_threads, pending, ghost if G is None else G), None))

    def _crash(self, state, tid, prog, pc, viol, out):
        label = (tid, "step", pc, None)
        if viol is not None:
            out.append((label, None, viol))
            return
        # A backend crashed on corrupted memory (only possible with a rogue):
        # it stops for good, holding whatever it held.
        mem, threads, pending, ghost = state
        halt_pc = len(prog.instrs) - 1
        T2 = settle(prog, [0] * prog.nlocals, halt_pc)
        out.append(((tid, "crash", pc, None), (mem, threads[:tid] + (T2,) + threads[tid + 1:], pending, ghost),
                    None))

    def describe(self, label: Label, before: State, after: State | None) -> dict[str, Any]:
        d = super().describe(label, before, after)
        tid, action, pc, info = label
        if action != "step":
            return d
        d["program_order"] = True
        if info is None or pc is None:
            return d
        ins = self.programs[tid].instrs[pc]
        if ins.op == "choose":
            d["value"] = info[1]
            return d
        a = info[0]
        d["location"] = self.system.cell_names[a]
        d["address"] = a
        d["value"] = info[1]
        if ins.op == "rmw":
            d["old"] = info[2]
        return d
