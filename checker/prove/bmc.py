"""Bounded model checking under sc with z3: a second, independent engine.

The same one-step encoding as the invariant prover (:class:`Stepper`), but
from the model's concrete initial state and unrolled ``depth`` times: at
every step a selector picks one enabled (thread, event, branch outcome), and
the next state is that option's post-state.  At each depth we ask z3 whether
some enabled option breaks a ghost assertion or an index bound.  It finds the
shortest counterexample, as breadth-first search does, so the two engines
can be compared on the mutation matrix (tests/test_prove_bmc.py).

It checks what is written as assertions in the model (ownership, integrity,
postmaster safety, memory safety); conservation (a Python check on quiescent
states) and liveness are left to the explicit-state engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from checker.explore import Engine
from checker.ir import Halt
from checker.memory import PROFILES, memory_models
from checker.model import Params, Protocol, build_system
from checker.prove.invariants import Context, Stepper, SymState
from checker.progress import ProgressFn, report
from checker.prove import budget
from checker.prove.symbolic import bv


@dataclass
class BmcResult:
    protocol: str
    mutation: str | None
    params: Params
    depth: int
    violation: dict | None = None  # property, step, message, thread, source
    properties_at_depth: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    steps_encoded: int = 0
    exhausted: bool = False  # no execution is longer than the bound reached

    @property
    def exit_code(self) -> int:
        # A bound reached without a violation is not a proof (exit 3).
        return 1 if self.violation else (0 if self.exhausted else 3)

    def as_json(self) -> dict:
        return {"protocol": self.protocol, "mutation": self.mutation, "kind": "bmc", "depth": self.depth,
                "params": self.params.as_dict(), "violation": self.violation,
                "properties_at_depth": self.properties_at_depth, "elapsed_seconds": round(self.elapsed, 3),
                "exit_code": self.exit_code}


def _context(system) -> Context:
    programs = [t.program for t in system.threads]
    terms = {n: bv(v) for n, v in system.constants.items()}
    lengths = {n: bv(r.length or 1) for n, r in list(system.shared.items()) + list(system.ghost.items())}
    return Context(system, programs, terms, {}, lengths, [])


def _fix(st: SymState, system, state) -> list:
    mem, threads, _pending, ghost = state
    out = []
    for name, r in system.shared.items():
        if r.length is None:
            out.append(st.mem[name] == bv(mem[r.base]))
        else:
            out += [z3.Select(st.mem[name], bv(i)) == bv(mem[r.base + i]) for i in range(r.length)]
    for name, r in system.ghost.items():
        if r.length is None:
            out.append(st.ghost[name] == bv(ghost[r.base]))
        else:
            out += [z3.Select(st.ghost[name], bv(i)) == bv(ghost[r.base + i]) for i in range(r.length)]
    for t, T in enumerate(threads):
        out.append(st.pc[t] == bv(T[0]))
        out += [st.L[t][i] == bv(v) for i, v in enumerate(T) if i >= 2]
    return out


def _components(st: SymState):
    for k in st.mem:
        yield ("mem", k)
    for k in st.ghost:
        yield ("ghost", k)
    for t in range(len(st.pc)):
        yield ("pc", t)
        for i in range(len(st.L[t])):
            yield ("L", (t, i))


def _get(st, comp):
    kind, key = comp
    if kind == "mem":
        return st.mem[key]
    if kind == "ghost":
        return st.ghost[key]
    if kind == "pc":
        return st.pc[key]
    t, i = key
    return st.L[t][i]


def bmc(proto_cls: type[Protocol], params: Params, mutation: str | None, depth: int,
        progress: ProgressFn | None = None) -> BmcResult:
    t0 = time.perf_counter()
    p = Params(threads=params.threads, slots=params.slots, ops=params.ops, step_bound=params.step_bound,
               extra=dict(params.extra))
    from checker.prove.setup import refuse_processes

    system = refuse_processes(build_system(proto_cls, p, mutation))
    if any(t.program is None for t in system.threads):  # pragma: no cover - no rogue here
        raise ValueError("bmc runs without a rogue")
    ctx = _context(system)
    engine = Engine(system, memory_models()["sc"](system, PROFILES["documented"]))
    stepper = Stepper(ctx)
    res = BmcResult(proto_cls.name, mutation, p, depth)
    solver = budget.solver("QF_AUFBV")  # an undecided query is Undecided: bmc's verdict is then unknown
    cur = SymState(ctx, "b0")
    solver.add(*_fix(cur, system, engine.initial()))
    # Only the events a thread can have reached in i of its own steps are
    # encoded at step i (its program's control flow from the initial pc):
    # the early steps, where most of the search happens, stay small.
    init = engine.initial()
    reach = [{init[1][t][0]} for t in range(len(ctx.programs))]  # event pcs a thread may be at by step i
    for i in range(depth):
        report(progress, f"step {i + 1}", i, depth)
        options = []
        for tid, prog in enumerate(ctx.programs):
            for ins in prog.instrs:
                if ins.is_event and not isinstance(ins, Halt) and ins.pc in reach[tid]:
                    for oc in stepper.step(cur, tid, ins.pc):
                        options.append((tid, ins, oc, z3.And(cur.pc[tid] == ins.pc, *oc.conds)))
        res.steps_encoded += len(options)
        for tid, ins, oc, _g in options:
            reach[tid].add(oc.next_pc)
        sel = z3.BitVec(f"sel{i}", 16)
        # A violation on this step?
        bad = []
        for k, (tid, ins, oc, g) in enumerate(options):
            for oconds, ok, prop, msg, oins in oc.obligations:
                if prop not in system.checked:
                    continue
                bad.append((z3.And(sel == k, cur.pc[tid] == ins.pc, *oconds, z3.Not(ok)), prop, msg, tid, oins))
        if bad:
            solver.push()
            solver.add(z3.Or(*[b[0] for b in bad]))
            if budget.check_decided(solver) == z3.sat:
                m = solver.model()
                hits = [b for b in bad if z3.is_true(m.eval(b[0], model_completion=True))]
                props = sorted(p for p in {b[1] for b in bad}
                               if _possible(solver, z3.Or(*[b[0] for b in bad if b[1] == p])))
                b = hits[0]
                th = system.threads[b[3]]
                res.violation = {"property": b[1], "message": b[2], "step": i + 1, "thread": th.name,
                                 "source": f"{b[4].src.file}:{b[4].src.line}: {b[4].src.text}"}
                res.properties_at_depth = props
                solver.pop()
                break
            solver.pop()
        if not options:
            res.exhausted = True
            break
        solver.add(z3.Or(*[z3.And(sel == k, g) for k, (_t, _i, _o, g) in enumerate(options)]))
        if budget.check_decided(solver) != z3.sat:
            res.exhausted = True  # every execution ends before this step
            break
        nxt = SymState(ctx, f"b{i + 1}")
        for comp in _components(cur):
            val = _get(cur, comp)
            for k in range(len(options) - 1, -1, -1):
                v = _get(options[k][2].post, comp)
                if not v.eq(val):
                    val = z3.If(sel == k, v, val)
            solver.add(_get(nxt, comp) == val)
        cur = nxt
    res.elapsed = time.perf_counter() - t0
    return res


def _possible(solver, cond) -> bool:
    solver.push()
    solver.add(cond)
    r = budget.check_decided(solver) == z3.sat
    solver.pop()
    return r
