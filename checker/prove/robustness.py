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
from checker.progress import ProgressFn, report
from checker.prove import budget
from checker.prove.setup import CONCRETE_FALLBACK, SlotSpace, slot_space
from checker.prove.symbolic import Translator, as_bv, bv, ghost_actions, truth

MAX_PATHS = 20000
# Merging advances every path one loop iteration at a time, and the merged
# values grow with each iteration: a loop that only the step bound ends (a
# retry loop) would take minutes to reach the failure that the path-by-path
# search, depth first, meets at once.  Past this many iterations of one loop,
# the proof runs path by path instead.  Loops over slots stay below it for
# the slot counts proved one by one (bgworker: 9 at eight slots).
MERGE_MAX_ITERATIONS = 12
SHOW_READS = 12
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
    choices: list[int] = field(default_factory=list)  # values of choose() on the path, in order

    def lines(self) -> list[str]:
        out = [f"{self.prop}: {self.message}", f"  at {self.source}"]
        if self.slots is not None:
            out.append("  with " + ", ".join(f"{k} = {v}" for k, v in self.constants.items()))
        if self.locals:
            out.append("  postmaster state at the start of " + self.op + ": "
                       + ", ".join(f"{k} = {v:#x}" for k, v in self.locals.items()))
        for r in self.values[:SHOW_READS]:
            out.append(f"  read {r['location']} -> {r['value']:#x} ({r['value']})  [{r['source']}]")
        if len(self.values) > SHOW_READS:
            out.append(f"  ... and {len(self.values) - SHOW_READS} more reads (all in --json)")
        return out


@dataclass
class OpResult:
    name: str
    paths: int = 0  # symbolic paths run to the operation's end (a merged path counts once)
    # What those paths stand for: the paths a search without merging would
    # run, or more (a merged path counts all it stands for, also where a
    # branch is feasible for some of them only).
    paths_unmerged_at_most: int = 0
    max_steps: int = 0  # at most this many steps (a merged path counts its longest)
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
    private_invariant: bool = False  # the proof module states one

    @property
    def proved(self) -> bool:
        return all(o.proved for o in self.ops)

    @property
    def failure(self) -> Failure | None:
        return next((o.failure for o in self.ops if o.failure), None)

    @property
    def failures(self) -> list[Failure]:
        return [o.failure for o in self.ops if o.failure]

    @property
    def exit_code(self) -> int:
        if self.failure:
            return 1
        return 0 if self.proved else 3


# ---------------------------------------------------------------------------


def _sanitize(name: str) -> str:
    return name.replace("#", "_").replace("$", "").replace(".", "_")


class _Path:
    __slots__ = ("pc", "L", "conds", "reads", "steps", "local_count", "choices", "op", "first",
                 "weight", "visits", "resumed")

    def __init__(self, pc, L, conds, reads, steps, local_count, choices, op, first):
        self.pc, self.L, self.conds, self.reads = pc, L, conds, reads
        self.steps, self.local_count, self.choices = steps, local_count, choices
        self.op, self.first = op, first  # the operation we are in; the entry event still to execute
        self.weight = 1  # the paths this one stands for (more than one after a merge)
        self.visits: dict[int, int] = {}  # loop head -> times this path arrived there
        self.resumed = False  # released from its loop head: run on before parking again

    def fork(self, pc, cond):
        q = _Path(pc, list(self.L), self.conds + [cond], list(self.reads), self.steps, self.local_count,
                  list(self.choices), self.op, False)
        q.weight, q.visits = self.weight, dict(self.visits)
        return q


class _NotMerging(Exception):
    """The merged search stops: a path failed (a merged path's values,
    steps and reads mix paths, and the merged search meets failures in
    another order, so the proof is run again path by path to report the
    failure the path-by-path search finds), or a loop went past
    ``MERGE_MAX_ITERATIONS``."""


def _loop_heads(prog: Program) -> frozenset[int]:
    """The targets of backward jumps: where the iterations of a loop meet."""
    return frozenset(i.target for i in prog.instrs if isinstance(i, (Branch, Jump)) and i.target <= i.pc)


def _merge(paths: list[_Path]) -> _Path:
    """One path standing for all of ``paths`` (same pc, operation and loop
    iteration): the conditions after their common prefix become one
    disjunction, and each local that differs an if-then-else over them.

    Exact for the proof: a query on the merged path is satisfiable exactly
    when it is on one of the paths.  That needs the guards to exclude each
    other (else an if-then-else could pick another path's value where this
    one's guard holds too), and they do: paths of one search part at a
    branch, one with its condition and the other with its negation.  Only
    the step counts over-approximate (the largest is kept), and a failure of
    a merged path is never reported as such (the executor re-runs unmerged,
    see ``_NotMerging``).
    Without it, a loop over slots whose body forks k ways costs k**slots paths
    (bgworker's reaper: 3**8 at eight slots).
    """
    first = paths[0]
    k = 0
    shortest = min(len(p.conds) for p in paths)
    while k < shortest and all(p.conds[k] is first.conds[k] for p in paths):
        k += 1
    guards = [z3.And(*p.conds[k:]) if len(p.conds) > k else z3.BoolVal(True) for p in paths]
    L = list(first.L)
    for j in range(len(L)):
        values = [p.L[j] for p in paths]
        if all(v.eq(values[0]) for v in values[1:]):
            continue
        merged = values[-1]
        for g, v in zip(reversed(guards[:-1]), reversed(values[:-1])):
            merged = z3.If(g, v, merged)
        L[j] = merged
    conds = first.conds[:k] + [z3.Or(*guards)]
    # No reads or choices: they serve a failure's report only, and a merging
    # search reports none (it stops at the first, _NotMerging).
    out = _Path(first.pc, L, conds, [], max(p.steps for p in paths), max(p.local_count for p in paths),
                [], first.op, first.first)
    out.weight = sum(p.weight for p in paths)
    out.visits = dict(first.visits)
    return out


LOOP = "(postmaster loop)"  # code outside any operation
_PARKED = object()  # what _run_path returns for a path that reached a loop head


class _PrivateView:
    """What a stated postmaster invariant may look at: private globals and constants."""

    def __init__(self, ex, L):
        self.ex, self.L = ex, L

    def private(self, name):
        return as_bv(self.L[self.ex.private_idx[name]])

    def const(self, name):
        return self.ex.const_terms[name]


class SymbolicExecutor:
    """Symbolic execution of a postmaster program, one *segment* at a time.

    A segment starts at a resting point outside every operation (the program
    start, just after an operation ends, or an event of the main loop, which
    is executed first) and runs to the next one, passing through at most one
    operation.  Starting from the main loop's events, rather than from an
    operation's first line, keeps the checks the caller makes on an
    operation's arguments (``exited < SLOTS`` before ``reap_worker(exited)``).
    Locals at a resting point are unconstrained, except the postmaster's
    private globals, which satisfy the invariant stated in the protocol's proof
    module (``postmaster_invariant``) when there is one; every segment must
    re-establish it.

    ``consts`` maps marker values to z3 terms; ``lengths`` gives each shared
    region's length as a term; ``assumptions`` constrain the parameters.
    """

    def __init__(self, prog: Program, lengths: dict[str, z3.BitVecRef], consts: dict[int, z3.BitVecRef],
                 assumptions: list, step_bound: int, checked=frozenset(ROGUE_PROPERTIES),
                 constrain_choose: bool = False, private_invariant=None, const_terms=None, merge: bool = False):
        self.prog = prog
        # merge: paths meet at loop heads and go on as one (see _merge); a
        # failure then raises _NotMerging, for a re-run without it.
        self.loop_heads = _loop_heads(prog) if merge else frozenset()
        self.explored = 0  # paths run to their end (a merged one counts once), bounded by MAX_PATHS
        self.lengths = lengths
        self.consts = consts
        self.step_bound = step_bound
        self.checked = checked
        self.constrain_choose = constrain_choose
        self.private_invariant = private_invariant  # fn(view) -> [(name, BoolRef)]
        self.const_terms = const_terms or {}
        self.solver = budget.solver()  # resource-bounded; an undecided query is budget.Undecided
        self.solver.add(*assumptions)
        self.nread = 0
        self.ghost_cache: dict[int, list] = {}
        self.extra_for_model: list = []  # preferences tried first when building a counterexample
        self.private_idx = {n: i for i, n in enumerate(prog.local_names) if i >= 2 and "." not in n}

    # -- entry points ----------------------------------------------------

    def operations(self) -> list[str]:
        names = []
        for ins in self.prog.instrs:
            if isinstance(ins, OpMark) and ins.begin and ins.name not in names:
                names.append(ins.name)
        return names

    def symbolic_locals(self, tag: str) -> list:
        L = [z3.BitVec(f"{tag}:{_sanitize(n)}", 32) for n in self.prog.local_names]
        L[STEPS_LOCAL] = bv(0)
        return L

    def private_conjuncts(self, L):
        if self.private_invariant is None:
            return []
        return list(self.private_invariant(_PrivateView(self, L)))

    def prove_all(self, progress: ProgressFn | None = None, where: str = "") -> dict[str, OpResult]:
        """Every segment of the program; one result per operation (and the main loop).

        ``progress`` is told each segment as it starts (``where`` prefixes its name).
        """
        results = {n: OpResult(n) for n in self.operations()}
        results[LOOP] = OpResult(LOOP)
        prog = self.prog
        init = [bv(0)] * prog.nlocals
        for i, v in prog.initial_locals.items():
            init[i] = bv(v)
        # The stated invariant must hold for the initial private values.
        for cname, c in self.private_conjuncts(init):
            ok = z3.simplify(c)
            if budget.check_decided(self.solver, z3.Not(ok)) == z3.sat:
                results[LOOP].failure = Failure(LOOP, "invariant", PM_SAFETY, 0, "(initial state)",
                                                f"the stated postmaster invariant {cname!r} fails initially")
                return results
        entries = [(0, init, False, "start")]
        for ins in prog.instrs:
            if isinstance(ins, OpMark) and not ins.begin:
                entries.append((ins.pc + 1, None, False, f"after{ins.pc}"))
            elif ins.is_event and not isinstance(ins, Halt) and not prog.in_op[ins.pc]:
                entries.append((ins.pc, None, True, f"at{ins.pc}"))
        for k, (pc, L, first, tag) in enumerate(entries):
            report(progress, f"{where}postmaster from pc {pc}", k, len(entries))
            assume = []
            if L is None:
                L = self.symbolic_locals(tag)
                assume = [c for _n, c in self.private_conjuncts(L)]
            self.run_from(pc, L, None, first, results, assume)
            if any(r.incomplete for r in results.values()):
                break
        loop = results[LOOP]
        if not loop.obligations and not loop.failure and not loop.incomplete:
            del results[LOOP]
        return results

    def run_op(self, name: str, pc: int, L) -> OpResult:
        """From a resting point inside operation ``name`` (a concrete state) to its end."""
        results = {name: OpResult(name), LOOP: OpResult(LOOP)}
        self.run_from(pc, L, name, False, results, [])
        r = results[name]
        r.failure = r.failure or results[LOOP].failure
        return r

    def run_from(self, pc, L, op, first, results, assume) -> None:
        self.start_locals = list(L)
        stack = [_Path(pc, L, list(assume), [], 0, 0, [], op, first)]
        parked: dict[tuple, list[_Path]] = {}
        while stack or parked:
            if not stack:
                # Every live path waits at a loop head: release the group
                # of the earliest iteration, merged into one path.
                key = min(parked, key=lambda k: (k[3], k[0]))
                group = parked.pop(key)
                p = group[0] if len(group) == 1 else _merge(group)
                p.resumed = True
                stack.append(p)
            p = stack.pop()
            fail = self._run_path(p, stack, results)
            if fail is _PARKED:
                n = p.visits.get(p.pc, 0) + 1
                if n > MERGE_MAX_ITERATIONS:
                    raise _NotMerging
                p.visits[p.pc] = n
                parked.setdefault((p.pc, p.op, p.first, n), []).append(p)
                continue
            if fail is not None:
                # One counterexample per operation is enough.
                results[fail.op].failure = results[fail.op].failure or fail
                return
            self.explored += 1
            if self.explored > MAX_PATHS:
                results[p.op or LOOP].incomplete = f"more than {MAX_PATHS} paths explored"
                return

    # -- one path ---------------------------------------------------------

    def _sat(self, conds):
        return budget.check_decided(self.solver, *conds) == z3.sat

    def _check(self, p: _Path, ok, kind, prop, ins, message, results):
        """Prove ``ok`` on this path; return a Failure when it can be false."""
        results[p.op or LOOP].obligations += 1
        ok = z3.simplify(ok)
        if z3.is_true(ok):
            return None
        bad = p.conds + [z3.Not(ok)]
        if not self._sat(bad):
            return None
        return self._failure(p, bad, kind, prop, ins, message)

    def _failure(self, p, conds, kind, prop, ins, message):
        if self.loop_heads:
            # Merging: report what the path-by-path search reports, the first
            # failing path in its order with its own values (see _NotMerging).
            raise _NotMerging
        model = None
        for prefs in (self.extra_for_model, []):
            extra = [f(p) for f in prefs]
            if budget.check(self.solver, *conds, *extra) == z3.sat:
                model = self.solver.model()
                break
        if model is None:
            raise budget.Undecided("z3 found the failing path but no values for it within its resource limit")
        name = p.op or LOOP
        f = Failure(name, kind, prop, ins.pc, f"{ins.src.file}:{ins.src.line}: {ins.src.text}", message)
        ev = lambda t: model.eval(t, model_completion=True).as_long()  # noqa: E731
        f.values = [{"location": r.location, "value": ev(r.var), "pc": r.pc, "region": r.region,
                     "index": None if r.index is None else ev(r.index),
                     "source": f"{self.prog.instrs[r.pc].src.file}:{self.prog.instrs[r.pc].src.line}"}
                    for r in p.reads]
        f.choices = [ev(c) for c in p.choices]
        for n, i in self.private_idx.items():
            f.locals[n] = ev(self.start_locals[i])
        if self.consts:
            f.constants = {str(t): ev(t) for t in self.consts.values()}
            f.slots = f.constants.get("SLOTS")
        return f

    def _loc(self, p, ins, loc, results):
        """Check an access's index; returns (failure, index term)."""
        if loc.index is None:
            return None, None
        if loc.region.length == 0:
            # A crash site the compiler put into the program (an index past a
            # private array, a second fork of a slot whose worker was not
            # reaped): reaching it at all is the failure.
            shown = loc.index.text
            if shown.startswith("$"):  # a compiler temporary: name the source's index instead
                text = loc.text
                shown = text[text.index("[") + 1:-1] if text.endswith("]") and "[" in text else text
            what = loc.region.what.replace("{index}", shown) if loc.region.what else \
                f"index {shown} is out of range for {loc.region.name}"
            return self._check(p, z3.BoolVal(False), "index", PM_SAFETY, ins, what, results), None
        tr = Translator(p.L, self.consts)
        idx = tr.expr(loc.index.src)
        length = self.lengths[loc.region.name]
        ok = z3.And(*tr.side, z3.ULT(idx, length)) if tr.side else z3.ULT(idx, length)
        f = self._check(p, ok, "index", PM_SAFETY, ins,
                        f"index {loc.index.text} may be out of range for {loc.region.name}", results)
        return f, idx

    def _fresh(self, p, pc, loc, idx):
        self.nread += 1
        v = z3.BitVec(f"read{self.nread}@{pc}", 32)
        text = loc.text if idx is None else loc.region.name + "[" + loc.index.text + "]"
        p.reads.append(Read(v, pc, text, idx, loc.region.name))
        return v

    def _end_segment(self, p, ins, results):
        """A resting point: the stated private invariant must hold again."""
        for cname, c in self.private_conjuncts(p.L):
            f = self._check(p, c, "invariant", PM_SAFETY, ins,
                            f"the stated postmaster invariant {cname!r} is not preserved", results)
            if f:
                return f
        return None

    def _side(self, p, tr, ins, results):
        if tr.side:
            return self._check(p, z3.And(*tr.side), "division", PM_SAFETY, ins, "division by zero", results)
        return None

    def _run_path(self, p: _Path, stack, results):
        instrs = self.prog.instrs
        in_op = self.prog.in_op
        heads = self.loop_heads
        while True:
            if p.pc in heads:
                if not p.resumed:
                    return _PARKED
                p.resumed = False
            ins = instrs[p.pc]
            if ins.is_event:
                if isinstance(ins, Halt):
                    return None
                if not p.first and p.op is None:
                    results[LOOP].paths += 1
                    results[LOOP].paths_unmerged_at_most += p.weight
                    return self._end_segment(p, ins, results)
                p.first = False
                if in_op[p.pc] and p.op is not None:
                    p.steps += 1
                    if p.steps > self.step_bound:
                        return self._failure(p, p.conds, "steps", WAIT_FREEDOM, ins,
                                             f"{p.op} can take more than {self.step_bound} steps")
            if isinstance(ins, Load):
                f, idx = self._loc(p, ins, ins.loc, results)
                if f:
                    return f
                p.L[ins.dst] = self._fresh(p, ins.pc, ins.loc, idx)
            elif isinstance(ins, Store):
                f, _ = self._loc(p, ins, ins.loc, results)
                if f:
                    return f
                tr = Translator(p.L, self.consts)
                tr.expr(ins.value.src)
                f = self._side(p, tr, ins, results)
                if f:
                    return f
            elif isinstance(ins, Rmw):
                f, idx = self._loc(p, ins, ins.loc, results)
                if f:
                    return f
                tr = Translator(p.L, self.consts)
                args = [tr.expr(a.src) for a in ins.args]
                f = self._side(p, tr, ins, results)
                if f:
                    return f
                old = self._fresh(p, ins.pc, ins.loc, idx)
                if ins.kind == "cas":
                    p.L[ins.dst] = z3.If(old == args[0], bv(1), bv(0))
                    p.L[ins.expected_local] = old
                else:
                    p.L[ins.dst] = old
            elif isinstance(ins, Choose):
                c = z3.BitVec(f"choice{len(p.choices)}@{ins.pc}:{self.nread}", 32)
                self.nread += 1
                p.choices.append(c)
                if self.constrain_choose:
                    p.conds.append(z3.ULT(c, ins.n))
                p.L[ins.dst] = c
            elif isinstance(ins, LockAcquire):
                return self._failure(p, p.conds, "lock", WAIT_FREEDOM, ins,
                                     f"the postmaster waits for {ins.loc.text} (a backend may hold it forever)")
            elif isinstance(ins, (Fence, LockRelease)):
                pass
            elif isinstance(ins, Assign):
                tr = Translator(p.L, self.consts)
                v = tr.expr(ins.expr.src)
                f = self._side(p, tr, ins, results)
                if f:
                    return f
                p.L[ins.dst] = z3.simplify(v)
            elif isinstance(ins, Branch):
                tr = Translator(p.L, self.consts)
                c = z3.simplify(tr.cond(ins.cond.src))
                f = self._side(p, tr, ins, results)
                if f:
                    return f
                take = [] if z3.is_false(c) else [(ins.pc + 1, c)]
                if not z3.is_true(c):
                    take.append((ins.target, z3.simplify(z3.Not(c))))
                feasible = [(pc, cond) for pc, cond in take if z3.is_true(cond) or self._sat(p.conds + [cond])]
                if not feasible:
                    return None  # the assumptions at the entry are contradictory here
                for pc, cond in feasible[1:]:
                    stack.append(p.fork(pc, cond))
                pc, cond = feasible[0]
                if not z3.is_true(cond):
                    p.conds.append(cond)
                p.pc = pc
                p.local_count += 1
                if p.local_count > MAX_LOCAL_INSTRS:
                    return self._failure(p, p.conds, "steps", WAIT_FREEDOM, ins,
                                         f"{p.op or 'the postmaster'} loops without bound in local code")
                continue
            elif isinstance(ins, Jump):
                p.pc = ins.target
                p.local_count += 1
                if p.local_count > MAX_LOCAL_INSTRS:
                    return self._failure(p, p.conds, "steps", WAIT_FREEDOM, ins,
                                         f"{p.op or 'the postmaster'} loops without bound in local code")
                continue
            elif isinstance(ins, Ghost):
                f = self._ghost(p, ins, results)
                if f:
                    return f
            elif isinstance(ins, OpMark):
                if ins.begin:
                    if p.op is None:
                        p.op = ins.name
                        p.steps = 0
                elif ins.name == p.op:
                    r = results[p.op]
                    r.paths += 1
                    r.paths_unmerged_at_most += p.weight
                    r.max_steps = max(r.max_steps, p.steps)
                    return self._end_segment(p, ins, results)
            p.pc += 1
            p.local_count += 1

    def _ghost(self, p, ins, results):
        acts = self.ghost_cache.get(ins.pc)
        if acts is None:
            acts = ghost_actions(ins.code)
            self.ghost_cache[ins.pc] = acts
        return self._ghost_acts(p, ins, acts, [], results)

    def _ghost_acts(self, p, ins, acts, guard, results):
        for a in acts:
            if a[0] == "assert":
                _, prop, msg, node = a
                if prop not in self.checked:
                    continue
                tr = Translator(p.L, self.consts)
                ok = truth(tr.node(node))
                ok = z3.Implies(z3.And(*guard), ok) if guard else ok
                f = self._check(p, ok, "assertion", prop, ins, msg, results)
                if f:
                    return f
            elif a[0] == "if":
                tr = Translator(p.L, self.consts)
                t = truth(tr.node(a[1]))
                f = self._ghost_acts(p, ins, a[2], guard + [t], results) or \
                    self._ghost_acts(p, ins, a[3], guard + [z3.Not(t)], results)
                if f:
                    return f
            # ghost updates are off with a rogue (nothing to track)
        return None


# ---------------------------------------------------------------------------


def _fingerprint(prog: Program) -> list:
    """What a compile-time decision could change: each instruction's kind, jump
    target, source line and the region it accesses (the arms of an ``if``
    decided at compile time lie on different lines)."""
    out = []
    for i in prog.instrs:
        loc = getattr(i, "loc", None)
        out.append((i.op, getattr(i, "target", None), i.src.line if i.src else None,
                    loc.region.name if loc is not None else None))
    return out


def supported_slots(proto_cls: type[Protocol], space: SlotSpace, params: Params, mutation: str | None,
                    system_at) -> SlotSpace:
    """Check a symbolic slot space against the program at every slot count it claims.

    The marker compile stands for every slot count only if the program built
    for each count in the range has the same instructions and the same
    slot-independent constants: a compile-time ``if SLOTS >= 3:`` gives a
    different program below 3, which comparing two probe sizes cannot see.
    The range never goes beyond what the model (and its C twin, whose limits
    ``min_slots``/``max_slots`` mirror) supports; within it every count is
    compiled, so the check is exact.  Otherwise fall back to proving the
    counts one by one (those that differ, and the smallest ones).
    """
    lo = max(space.slot_range[0], proto_cls.min_slots)
    hi = min(space.slot_range[1], proto_cls.max_slots)
    if not space.symbolic:
        space.concrete = [n for n in space.concrete if lo <= n <= hi]
        return space
    marked = _fingerprint(space.program)
    fixed = None
    lengths = None
    differ = []
    for n in range(lo, hi + 1):
        sysx = system_at(n)
        consts = {k: v for k, v in sysx.constants.items() if k not in space.names}
        lens = {}
        for name, r in list(sysx.shared.items()) + list(sysx.ghost.items()):
            if name in space.extra_lengths:
                continue
            if name in space.lengths:
                if r.length != sysx.constants[space.lengths[name]]:
                    lens[name] = ("not", space.lengths[name])
            else:
                lens[name] = r.length
        if fixed is None:
            fixed, lengths = consts, lens
        if consts != fixed or lens != lengths or _fingerprint(sysx.threads[0].program) != marked:
            differ.append(n)
    if differ:
        small = list(range(lo, min(hi, lo + CONCRETE_FALLBACK - 1) + 1))
        shown = ", ".join(map(str, differ[:6])) + (", ..." if len(differ) > 6 else "")
        return SlotSpace(False, concrete=sorted(set(small) | set(differ[:CONCRETE_FALLBACK])),
                         reason=f"the program built for slots = {shown} differs from the general one "
                                "(a compile-time condition on slots)")
    space.slot_range = (lo, hi)
    s = space.variables["SLOTS"]
    space.constraints = [z3.ULE(lo, s), z3.ULE(s, hi)] + space.constraints[2:]
    return space


def prove_robustness(proto_cls: type[Protocol], params: Params, mutation: str | None = None,
                     witness: bool = True, progress: ProgressFn | None = None) -> Robustness:
    from checker.prove.setup import _system, proof_module

    t0 = time.perf_counter()
    space, system = slot_space(proto_cls, params, mutation)
    space = supported_slots(proto_cls, space, params, mutation,
                            lambda n: _system(proto_cls, params, mutation, n, True, True))
    spec = proof_module(proto_cls)
    private_invariant = getattr(spec, "postmaster_invariant", None) if spec else None
    if space.symbolic:
        terms = {n: bv(v) for n, v in system.constants.items()}
        terms.update(space.variables)
        lengths = {n: bv(r.length or 1) for n, r in system.shared.items()}
        lengths.update({r: space.variables[c] for r, c in space.lengths.items()})
        lengths.update(space.extra_lengths)
        runs = [(space.program, space.marker_terms(), space.constraints, lengths, terms, None)]
    else:
        runs = []
        for s in space.concrete:
            sysx = _system(proto_cls, params, mutation, s, True, True)
            runs.append((sysx.threads[0].program, {}, [],
                         {n: bv(r.length or 1) for n, r in sysx.shared.items()},
                         {n: bv(v) for n, v in sysx.constants.items()}, s))
    ops: dict[str, OpResult] = {}
    for prog, consts, assumptions, lengths, terms, slots in runs:
        where = "" if slots is None else f"slots {slots}: "

        def search(**how):
            return SymbolicExecutor(prog, lengths, consts, assumptions, params.step_bound,
                                    private_invariant=private_invariant, const_terms=terms,
                                    **how).prove_all(progress, where)

        try:
            found = search(merge=True)
        except (_NotMerging, budget.Undecided):
            # Path by path: for the failing path's own values and steps, for a
            # long loop, or because a merged query (if-then-else values) was
            # too hard for z3's budget.
            found = search()
        for name, r in found.items():
            o = ops.setdefault(name, OpResult(name))
            o.paths += r.paths
            o.paths_unmerged_at_most += r.paths_unmerged_at_most
            o.obligations += r.obligations
            o.max_steps = max(o.max_steps, r.max_steps)
            if r.failure is not None and r.failure.slots is None:
                r.failure.slots = slots  # a per-size proof: the size it failed at
                r.failure.constants = {"SLOTS": slots}
            o.failure = o.failure or r.failure
            o.incomplete = o.incomplete or r.incomplete
        if any(o.failure or o.incomplete for o in ops.values()):
            break
    res = Robustness(proto_cls.name, mutation, space, params.step_bound, list(ops.values()))
    res.private_invariant = private_invariant is not None
    if witness and res.failure is not None:
        from checker.prove.witness import witness_trace

        report(progress, "finding a replayable run of the failure")
        res.trace, res.trace_note = witness_trace(proto_cls, params, mutation, res.failures, SymbolicExecutor)
    res.elapsed = time.perf_counter() - t0
    return res
