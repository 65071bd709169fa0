"""Postmaster robustness for every value: symbolic execution of its operations.

Each postmaster operation (the code between an ``@operation``'s begin and end
markers) is executed symbolically over the IR: every shared-memory read is a
fresh, unconstrained 32-bit value (a fresh one on every loop iteration), every
local the operation starts with (its arguments and the postmaster's private
globals) is unconstrained, ``choose`` is unconstrained, and ``slots`` is
symbolic where the code allows (see :mod:`checker.prove.setup`).  On every
feasible path z3 proves that

* every array index is below the array's length,
* every division has a non-zero divisor,
* every ghost assertion the postmaster must keep with a rogue present
  ("postmaster safety": every slot number acted on is < slots) holds,
* the operation reaches its end within the step bound, and never waits on a
  lock.

A path that exceeds the bound is a counterexample in itself: loops must be
bounded by private values, not by what shared memory says.  A failed proof
yields concrete values; :func:`witness_trace` turns them into a trace of the
explicit-state engine in which a rogue writes exactly those values just before
the postmaster reads them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import z3

from checker.ir import (
    STEPS_LOCAL, Assign, Branch, Choose, Fence, Ghost, Halt, Jump, Load, LockAcquire, LockRelease, OpMark,
    Program, Rmw, Store,
)
from checker.model import PM_SAFETY, ROGUE_PROPERTIES, WAIT_FREEDOM, Params, Protocol
from checker.prove.setup import SlotSpace, slot_space
from checker.prove.symbolic import Translator, as_bv, bv, ghost_actions, truth

MAX_PATHS = 20000
MAX_LOCAL_INSTRS = 20000  # per path: local code looping without events


@dataclass
class Read:
    var: z3.BitVecRef
    pc: int
    location: str
    index: z3.BitVecRef | None
    region: str


@dataclass
class Failure:
    op: str
    kind: str  # "index", "division", "assertion", "steps", "lock"
    prop: str
    pc: int
    source: str
    message: str
    values: list[dict] = field(default_factory=list)  # reads: location, value
    locals: dict[str, int] = field(default_factory=dict)
    slots: int | None = None
    constants: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{self.prop}: {self.message}", f"  at {self.source}"]
        if self.slots is not None:
            out.append("  with " + ", ".join(f"{k} = {v}" for k, v in self.constants.items()))
        if self.locals:
            out.append("  postmaster state at the start of " + self.op + ": "
                       + ", ".join(f"{k} = {v:#x}" for k, v in self.locals.items()))
        for r in self.values:
            out.append(f"  read {r['location']} -> {r['value']:#x} ({r['value']})  [{r['source']}]")
        return out


@dataclass
class OpResult:
    name: str
    paths: int = 0
    max_steps: int = 0
    obligations: int = 0
    failure: Failure | None = None
    incomplete: str = ""

    @property
    def proved(self) -> bool:
        return self.failure is None and not self.incomplete


@dataclass
class Robustness:
    protocol: str
    mutation: str | None
    space: SlotSpace
    step_bound: int
    ops: list[OpResult]
    elapsed: float = 0.0
    trace: dict | None = None
    trace_note: str = ""

    @property
    def proved(self) -> bool:
        return all(o.proved for o in self.ops)

    @property
    def failure(self) -> Failure | None:
        return next((o.failure for o in self.ops if o.failure), None)

    @property
    def exit_code(self) -> int:
        if self.failure:
            return 1
        return 0 if self.proved else 3


# ---------------------------------------------------------------------------


def _sanitize(name: str) -> str:
    return name.replace("#", "_").replace("$", "").replace(".", "_")


class _Path:
    __slots__ = ("pc", "L", "conds", "reads", "steps", "local_count", "choices")

    def __init__(self, pc, L, conds, reads, steps, local_count, choices):
        self.pc, self.L, self.conds, self.reads = pc, L, conds, reads
        self.steps, self.local_count, self.choices = steps, local_count, choices

    def fork(self, pc, cond):
        return _Path(pc, list(self.L), self.conds + [cond], list(self.reads), self.steps, self.local_count,
                     list(self.choices))


class SymbolicExecutor:
    """Symbolic execution of one program's operations.

    ``consts`` maps marker values to z3 terms; ``lengths`` gives each shared
    region's length as a term; ``assumptions`` constrain the parameters.
    """

    def __init__(self, prog: Program, lengths: dict[str, z3.BitVecRef], consts: dict[int, z3.BitVecRef],
                 assumptions: list, step_bound: int, checked=frozenset(ROGUE_PROPERTIES),
                 constrain_choose: bool = False):
        self.prog = prog
        self.lengths = lengths
        self.consts = consts
        self.step_bound = step_bound
        self.checked = checked
        self.constrain_choose = constrain_choose
        self.solver = z3.Solver()
        self.solver.add(*assumptions)
        self.nread = 0
        self.ghost_cache: dict[int, list] = {}
        self.extra_for_model: list = []  # soft preferences tried first when building a counterexample

    # -- entry points ----------------------------------------------------

    def operations(self) -> dict[str, list[int]]:
        ops: dict[str, list[int]] = {}
        for ins in self.prog.instrs:
            if isinstance(ins, OpMark) and ins.begin:
                ops.setdefault(ins.name, []).append(ins.pc)
        return ops

    def initial_locals(self, tag: str) -> list:
        L = [z3.BitVec(f"{tag}:{_sanitize(n)}", 32) for n in self.prog.local_names]
        L[STEPS_LOCAL] = bv(0)
        return L

    def run_op(self, name: str, begin_pc: int, L=None, steps: int = 0) -> OpResult:
        res = OpResult(name)
        L = L if L is not None else self.initial_locals(name)
        self.start_locals = list(L)
        stack = [_Path(begin_pc, L, [], [], steps, 0, [])]
        while stack:
            p = stack.pop()
            fail = self._run_path(name, p, stack, res)
            if fail is not None:
                res.failure = fail
                return res
            if res.paths > MAX_PATHS:
                res.incomplete = f"more than {MAX_PATHS} paths"
                return res
        return res

    # -- one path ---------------------------------------------------------

    def _sat(self, conds):
        return self.solver.check(*conds) == z3.sat

    def _check(self, name, p: _Path, ok, kind, prop, ins, message, res: OpResult):
        """Prove ``ok`` on this path; return a Failure when it can be false."""
        res.obligations += 1
        ok = z3.simplify(ok) if not isinstance(ok, bool) else z3.BoolVal(ok)
        if z3.is_true(ok):
            return None
        bad = p.conds + [z3.Not(ok)]
        if not self._sat(bad):
            return None
        return self._failure(name, p, bad, kind, prop, ins, message)

    def _failure(self, name, p, conds, kind, prop, ins, message):
        model = None
        for prefs in (self.extra_for_model, []):
            if prefs:
                extra = [f(p) for f in prefs]
                if self.solver.check(*conds, *extra) != z3.sat:
                    continue
            elif self.solver.check(*conds) != z3.sat:
                continue
            model = self.solver.model()
            break
        f = Failure(name, kind, prop, ins.pc, f"{ins.src.file}:{ins.src.line}: {ins.src.text}", message)
        ev = lambda t: model.eval(t, model_completion=True).as_long()  # noqa: E731
        f.values = [{"location": r.location, "value": ev(r.var), "pc": r.pc, "region": r.region,
                     "index": None if r.index is None else ev(r.index),
                     "source": f"{self.prog.instrs[r.pc].src.file}:{self.prog.instrs[r.pc].src.line}"}
                    for r in p.reads]
        f.choices = [ev(c) for c in p.choices]
        start = self.start_locals
        for i, n in enumerate(self.prog.local_names):
            if i >= 2 and "." not in n:  # the postmaster's private globals
                f.locals[n] = ev(start[i])
        if self.consts:
            f.constants = {str(t): ev(t) for t in self.consts.values()}
            f.slots = f.constants.get("SLOTS")
        f.model = model
        f.path = p
        return f

    def _loc(self, name, p, ins, loc, res):
        """Check an access's index; returns (failure, index term)."""
        if loc.index is None:
            return None, None
        tr = Translator(p.L, self.consts)
        idx = tr.expr(loc.index.src)
        length = self.lengths[loc.region.name]
        ok = z3.And(*tr.side, z3.ULT(idx, length)) if tr.side else z3.ULT(idx, length)
        f = self._check(name, p, ok, "index", PM_SAFETY, ins,
                        f"index {loc.index.text} may be out of range for {loc.region.name}", res)
        return f, idx

    def _fresh(self, p, pc, loc, idx):
        self.nread += 1
        v = z3.BitVec(f"read{self.nread}@{pc}", 32)
        text = loc.text if idx is None else loc.region.name + "[" + loc.index.text + "]"
        p.reads.append(Read(v, pc, text, idx, loc.region.name))
        return v

    def _run_path(self, name, p: _Path, stack, res: OpResult):
        instrs = self.prog.instrs
        while True:
            ins = instrs[p.pc]
            if ins.is_event and not isinstance(ins, Halt):
                p.steps += 1
                if p.steps > self.step_bound:
                    return self._failure(name, p, p.conds, "steps", WAIT_FREEDOM, ins,
                                         f"{name} can take more than {self.step_bound} steps")
            if isinstance(ins, Load):
                f, idx = self._loc(name, p, ins, ins.loc, res)
                if f:
                    return f
                p.L[ins.dst] = self._fresh(p, ins.pc, ins.loc, idx)
            elif isinstance(ins, Store):
                f, _ = self._loc(name, p, ins, ins.loc, res)
                if f:
                    return f
                tr = Translator(p.L, self.consts)
                tr.expr(ins.value.src)
                if tr.side:
                    f = self._check(name, p, z3.And(*tr.side), "division", PM_SAFETY, ins, "division by zero", res)
                    if f:
                        return f
            elif isinstance(ins, Rmw):
                f, idx = self._loc(name, p, ins, ins.loc, res)
                if f:
                    return f
                tr = Translator(p.L, self.consts)
                args = [tr.expr(a.src) for a in ins.args]
                old = self._fresh(p, ins.pc, ins.loc, idx)
                if ins.kind == "cas":
                    p.L[ins.dst] = z3.If(old == args[0], bv(1), bv(0))
                    p.L[ins.expected_local] = old
                else:
                    p.L[ins.dst] = old
            elif isinstance(ins, Choose):
                c = z3.BitVec(f"choice{len(p.choices)}@{ins.pc}", 32)
                p.choices.append(c)
                if self.constrain_choose:
                    p.conds.append(z3.ULT(c, ins.n))
                p.L[ins.dst] = c
            elif isinstance(ins, LockAcquire):
                return self._failure(name, p, p.conds, "lock", WAIT_FREEDOM, ins,
                                     f"the postmaster waits for {ins.loc.text} (a backend may hold it forever)")
            elif isinstance(ins, (Fence, LockRelease)):
                pass
            elif isinstance(ins, Halt):
                return self._failure(name, p, p.conds, "steps", WAIT_FREEDOM, ins,
                                     f"{name} never reaches its end")
            elif isinstance(ins, Assign):
                tr = Translator(p.L, self.consts)
                v = tr.expr(ins.expr.src)
                if tr.side:
                    f = self._check(name, p, z3.And(*tr.side), "division", PM_SAFETY, ins, "division by zero", res)
                    if f:
                        return f
                p.L[ins.dst] = z3.simplify(v)
            elif isinstance(ins, Branch):
                tr = Translator(p.L, self.consts)
                c = z3.simplify(tr.cond(ins.cond.src))
                if tr.side:
                    f = self._check(name, p, z3.And(*tr.side), "division", PM_SAFETY, ins, "division by zero", res)
                    if f:
                        return f
                take = [] if z3.is_false(c) else [(ins.pc + 1, c)]
                if not z3.is_true(c):
                    take.append((ins.target, z3.Not(c)))
                feasible = [(pc, cond) for pc, cond in take
                            if z3.is_true(cond) or self._sat(p.conds + [cond])]
                if not feasible:  # pragma: no cover - the path itself was feasible
                    return None
                for pc, cond in feasible[1:]:
                    stack.append(p.fork(pc, cond))
                pc, cond = feasible[0]
                if not z3.is_true(cond):
                    p.conds.append(cond)
                p.pc = pc
                p.local_count += 1
                continue
            elif isinstance(ins, Jump):
                p.pc = ins.target
                p.local_count += 1
                if p.local_count > MAX_LOCAL_INSTRS:
                    return self._failure(name, p, p.conds, "steps", WAIT_FREEDOM, ins,
                                         f"{name} loops without bound in local code")
                continue
            elif isinstance(ins, Ghost):
                f = self._ghost(name, p, ins, res)
                if f:
                    return f
            elif isinstance(ins, OpMark):
                if not ins.begin and ins.name == name:
                    res.paths += 1
                    res.max_steps = max(res.max_steps, p.steps)
                    return None
            p.pc += 1
            p.local_count += 1

    def _ghost(self, name, p, ins, res):
        acts = self.ghost_cache.get(ins.pc)
        if acts is None:
            acts = ghost_actions(ins.code)
            self.ghost_cache[ins.pc] = acts
        return self._ghost_acts(name, p, ins, acts, [], res)

    def _ghost_acts(self, name, p, ins, acts, guard, res):
        for a in acts:
            if a[0] == "assert":
                _, prop, msg, node = a
                if prop not in self.checked:
                    continue
                tr = Translator(p.L, self.consts)
                ok = truth(tr.node(node))
                ok = z3.Implies(z3.And(*guard), ok) if guard else ok
                f = self._check(name, p, ok, "assertion", prop, ins, msg, res)
                if f:
                    return f
            elif a[0] == "if":
                tr = Translator(p.L, self.consts)
                t = truth(tr.node(a[1]))
                f = self._ghost_acts(name, p, ins, a[2], guard + [t], res) or \
                    self._ghost_acts(name, p, ins, a[3], guard + [z3.Not(t)], res)
                if f:
                    return f
            # ghost updates are off with a rogue (nothing to track)
        return None


# ---------------------------------------------------------------------------


def prove_robustness(proto_cls: type[Protocol], params: Params, mutation: str | None = None,
                     witness: bool = True) -> Robustness:
    t0 = time.perf_counter()
    space, system = slot_space(proto_cls, params, mutation)
    ops: list[OpResult] = []
    if space.symbolic:
        runs = [(space, space.program, space.marker_terms(), space.constraints,
                 {r: space.variables[c] for r, c in space.lengths.items()})]
    else:
        from checker.prove.setup import _system

        runs = []
        for s in space.concrete:
            sysx = _system(proto_cls, params, mutation, s, True)
            runs.append((s, sysx.threads[0].program, {}, [], {}))
    failure_system = system
    for key, prog, consts, assumptions, lengths_sym in runs:
        if not space.symbolic:
            from checker.prove.setup import _system

            failure_system = _system(proto_cls, params, mutation, key, True)
            shared = failure_system.shared
        else:
            shared = system.shared
        lengths = {n: lengths_sym.get(n, bv(r.length or 1)) for n, r in shared.items()}
        ex = SymbolicExecutor(prog, lengths, consts, assumptions, params.step_bound)
        results = []
        for name, pcs in ex.operations().items():
            agg = OpResult(name)
            for pc in pcs:
                r = ex.run_op(name, pc)
                agg.paths += r.paths
                agg.obligations += r.obligations
                agg.max_steps = max(agg.max_steps, r.max_steps)
                agg.failure = agg.failure or r.failure
                agg.incomplete = agg.incomplete or r.incomplete
                if r.failure:
                    break
            results.append(agg)
        if not ops:
            ops = results
        else:
            for o, r in zip(ops, results):
                o.paths += r.paths
                o.obligations += r.obligations
                o.max_steps = max(o.max_steps, r.max_steps)
                o.failure = o.failure or r.failure
                o.incomplete = o.incomplete or r.incomplete
        if any(o.failure for o in ops):
            break
    res = Robustness(proto_cls.name, mutation, space, params.step_bound, ops)
    if witness and res.failure is not None:
        from checker.prove.witness import witness_trace

        res.trace, res.trace_note = witness_trace(proto_cls, params, mutation, res.failure)
    res.elapsed = time.perf_counter() - t0
    return res
