"""Inductive invariants under sequential consistency, for any number of slots.

The protocol's proof module (``models/<name>_proof.py``) states an invariant:
a list of named conjuncts over a symbolic state (the properties, plus the
strengthening conjuncts an induction needs), and a description of the
initial state for a symbolic slot count.  We check, with z3:

1. *initiation*: the described initial state satisfies every conjunct, and
   the description matches the model's real initial state for small slot
   counts (so the description cannot be wishful);
2. *consecution*: from any state satisfying the invariant, every step of
   every thread (any event the thread may be at, executed under sc, then the
   thread's local code up to its next event, ghost updates included) leads to
   a state satisfying every conjunct, and every ghost assertion and array
   index on the way holds.

``slots`` (and the constants derived from it) are symbolic, shared arrays are
z3 arrays, thread counters are 32-bit values; the number of threads is fixed
(``--threads``).  A conjunct that is not preserved is reported with the
instruction that breaks it and a concrete pre-state.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import z3

from checker.ir import Assign, Branch, Choose, Fence, Ghost, Halt, Jump, Load, LockAcquire, LockRelease, OpMark, \
    Program, Rmw, Store
from checker.model import MEMORY_SAFETY, PM_SAFETY, ModelError, Params, Protocol
from checker.progress import ProgressFn, report
from checker.prove import budget
from checker.prove.setup import _system, proof_module, recompile, slot_space, _shape
from checker.prove.quant import Grounder, free_constants
from checker.prove.symbolic import Translator, Unsupported, as_bv, bv, ghost_actions, truth

BV = z3.BitVecSort(32)
# SLOTCHECK_PROVE_DEBUG=1 prints every query with its time (to find the slow ones).
_DEBUG = bool(os.environ.get("SLOTCHECK_PROVE_DEBUG"))


def _dbg(*a):
    if _DEBUG:
        print(*a, file=sys.stderr, flush=True)


class ProofSpecError(ModelError):
    """The proof module is missing or refers to something the model does not have."""


# ---------------------------------------------------------------------------
# Symbolic states


class SymState:
    """Shared memory, ghost state and every thread's pc and locals, as z3 terms."""

    def __init__(self, ctx: "Context", tag: str):
        self.ctx = ctx
        self.mem: dict[str, z3.ExprRef] = {}
        self.ghost: dict[str, z3.ExprRef] = {}
        for name, r in ctx.system.shared.items():
            self.mem[name] = z3.BitVec(f"{tag}.{name}", 32) if r.length is None else z3.Array(f"{tag}.{name}", BV, BV)
        for name, r in ctx.system.ghost.items():
            self.ghost[name] = (z3.BitVec(f"{tag}.g.{name}", 32) if r.length is None
                                else z3.Array(f"{tag}.g.{name}", BV, BV))
        self.pc = [z3.BitVec(f"{tag}.pc{t}", 32) for t in range(len(ctx.programs))]
        self.L = [[z3.BitVec(f"{tag}.t{t}.{n}", 32) for n in prog.local_names]
                  for t, prog in enumerate(ctx.programs)]

    def copy(self) -> "SymState":
        s = object.__new__(SymState)
        s.ctx = self.ctx
        s.mem, s.ghost = dict(self.mem), dict(self.ghost)
        s.pc = list(self.pc)
        s.L = [list(x) for x in self.L]
        return s


class View:
    """What an invariant (in a proof module) sees of a symbolic state."""

    def __init__(self, ctx: "Context", st: SymState):
        self.ctx, self.st = ctx, st
        self.postmaster = 0
        self.backends = [t for t in range(1, len(ctx.programs))]

    def word(self, name):
        return self.st.mem[name]

    def array(self, name):
        return self.st.mem[name]

    def ghost(self, name):
        return self.st.ghost[name]

    def const(self, name):
        return self.ctx.const_terms[name]

    def pc(self, tid):
        return self.st.pc[tid]

    def at(self, tid, *texts, nth=None):
        """The thread is at one of the events whose source line contains one of ``texts``
        (with ``nth``: only the nth such event in program order, from 0)."""
        pcs = self.ctx.pcs(tid, texts)
        if nth is not None:
            pcs = pcs[nth:nth + 1]
        if not pcs:
            return z3.BoolVal(False)
        return z3.Or(*[self.st.pc[tid] == p for p in pcs])

    def local(self, tid, name):
        return self.st.L[tid][self.ctx.local_index(tid, name)]

    def each(self, guard, body):
        """For every 32-bit k with guard(k): body(k).  A real quantifier: the
        prover instantiates it (checker/prove/quant.py), so the statement
        covers every slot count, not only those up to some bound."""
        k = z3.BitVec(f"k{self.ctx.fresh()}", 32)
        return z3.ForAll([k], z3.Implies(guard(k), body(k)))

    @staticmethod
    def popcount(x):
        """The number of set bits of a 32-bit term, bit-parallel (a tree of
        narrow adders): z3 bit-blasts this far more cheaply than a chain of
        32 full-width additions."""
        x = x - (z3.LShR(x, 1) & 0x55555555)
        x = (x & 0x33333333) + (z3.LShR(x, 2) & 0x33333333)
        x = (x + z3.LShR(x, 4)) & 0x0F0F0F0F
        return z3.LShR(x * 0x01010101, 24)

    def lock_conjuncts(self, lock: str, inside) -> list:
        """A lock word is 1 exactly when a backend is inside (``inside[i]``:
        backend i is at one of the events under the lock), and no two are."""
        one, zero = z3.BitVecVal(1, 32), z3.BitVecVal(0, 32)
        out = [(f"{lock} is held exactly by the backend inside it",
                self.word(lock) == z3.If(z3.Or(*inside), one, zero))]
        for i, b in enumerate(self.backends):
            for j in range(i + 1, len(self.backends)):
                out.append((f"backends {b} and {self.backends[j]} are not both inside {lock}",
                            z3.Not(z3.And(inside[i], inside[j]))))
        return out

    def each_pair(self, guard, body):
        """For every two different j, k with guard(j) and guard(k): body(j, k)."""
        n = self.ctx.fresh()
        j, k = z3.BitVec(f"j{n}", 32), z3.BitVec(f"k{n}", 32)
        return z3.ForAll([j, k], z3.Implies(z3.And(j != k, guard(j), guard(k)), body(j, k)))


@dataclass
class Context:
    system: object
    programs: list[Program]
    const_terms: dict[str, z3.ExprRef]
    markers: dict[int, z3.ExprRef]
    lengths: dict[str, z3.ExprRef]
    assumptions: list
    counter: list = field(default_factory=lambda: [0])
    # Without a mutation every event the invariant names must exist (a typo
    # in the proof module is an error); a mutation may remove some.
    strict: bool = True
    pow2: list = field(default_factory=list)  # parameters stated to be powers of two

    def fresh(self) -> int:
        self.counter[0] += 1
        return self.counter[0]

    def pcs(self, tid, texts) -> list[int]:
        prog = self.programs[tid]
        pcs = [i.pc for i in prog.instrs if i.is_event and any(t in i.src.text for t in texts)]
        if not pcs and self.strict:
            raise ProofSpecError(f"no event of thread {tid} ({prog.role}) on a line containing {texts!r}")
        return pcs

    def local_index(self, tid, name) -> int:
        names = self.programs[tid].local_names
        if name in names:
            return names.index(name)
        # "fn.var" matches "fn#2.var"; "var" matches a unique "*.var"
        def norm(n):
            if "." not in n:
                return n
            fn, var = n.rsplit(".", 1)
            return fn.split("#")[0] + "." + var
        hits = [i for i, n in enumerate(names) if norm(n) == name or (("." not in name) and n.endswith("." + name))]
        if len(hits) != 1:
            raise ProofSpecError(f"local {name!r} of thread {tid} is {'ambiguous' if hits else 'unknown'}")
        return hits[0]


# ---------------------------------------------------------------------------
# One step


@dataclass
class Outcome:
    conds: list
    post: SymState
    next_pc: int
    obligations: list  # (BoolRef under conds, prop, message, instr)


# Merge the paths of one step that reach the same event when there are at
# least this many (see Stepper.merge); two-way forks stay separate, which
# keeps their queries small.
MERGE_AT_LEAST = 3


def _choose_bound(ctx: Context, n: int):
    for m, term in ctx.markers.items():
        if 0 <= n - m <= 16:
            return term + (n - m)
    return bv(n)


class Stepper:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.ghost_by_base = {r.base: (name, r) for name, r in ctx.system.ghost.items()}
        self.ghost_cache: dict = {}
        # Optional: conds -> False when the path is known infeasible.  A scan
        # loop over symbolic slot numbers only ends once the invariant's
        # bounds prune its paths (spec.PRUNE_BRANCHES).
        self.feasible = None

    def tr(self, st: SymState, tid: int, obligations, conds, ins) -> Translator:
        def ghost_read(base, length, idx):
            name, r = self.ghost_by_base[base]
            if r.length is None:
                return st.ghost[name]
            obligations.append((list(conds), z3.ULT(idx, self.ctx.lengths[name]), MEMORY_SAFETY,
                                f"ghost index out of range for {name}", ins))
            return z3.Select(st.ghost[name], idx)
        t = Translator(st.L[tid], self.ctx.markers, ghost_read)
        t.pow2 = self.ctx.pow2
        return t

    def index(self, st, tid, loc, obligations, conds, ins):
        if loc.index is None:
            return None
        t = self.tr(st, tid, obligations, conds, ins)
        idx = t.expr(loc.index.src)
        prop = PM_SAFETY if tid == 0 else MEMORY_SAFETY
        ok = z3.And(*t.side, z3.ULT(idx, self.ctx.lengths[loc.region.name]))
        obligations.append((list(conds), ok, prop, f"index {loc.index.text} out of range for {loc.region.name}",
                            ins))
        return idx

    def read(self, st, loc, idx):
        m = st.mem[loc.region.name]
        return m if idx is None else z3.Select(m, idx)

    def write(self, st, loc, idx, v):
        name = loc.region.name
        st.mem[name] = v if idx is None else z3.Store(st.mem[name], idx, v)

    def step(self, pre: SymState, tid: int, pc: int) -> list[Outcome]:
        """Every way thread ``tid`` at event ``pc`` may move (none if it is blocked or halted)."""
        prog = self.ctx.programs[tid]
        ins = prog.instrs[pc]
        st = pre.copy()
        L = st.L[tid]
        obligations: list = []
        conds: list = []
        if isinstance(ins, Halt):
            return []
        if isinstance(ins, Load):
            idx = self.index(st, tid, ins.loc, obligations, conds, ins)
            L[ins.dst] = self.read(st, ins.loc, idx)
        elif isinstance(ins, Store):
            idx = self.index(st, tid, ins.loc, obligations, conds, ins)
            t = self.tr(st, tid, obligations, conds, ins)
            self.write(st, ins.loc, idx, t.expr(ins.value.src))
        elif isinstance(ins, Rmw):
            idx = self.index(st, tid, ins.loc, obligations, conds, ins)
            t = self.tr(st, tid, obligations, conds, ins)
            args = [t.expr(a.src) for a in ins.args]
            old = self.read(st, ins.loc, idx)
            k = ins.kind
            if k == "cas":
                ok = old == args[0]
                self.write(st, ins.loc, idx, z3.If(ok, args[1], old))
                L[ins.dst] = z3.If(ok, bv(1), bv(0))
                L[ins.expected_local] = old
            else:
                new = {"add": lambda: old + args[0], "sub": lambda: old - args[0], "or": lambda: old | args[0],
                       "and": lambda: old & args[0], "xchg": lambda: args[0], "read_mb": lambda: old}[k]()
                self.write(st, ins.loc, idx, new)
                L[ins.dst] = old
        elif isinstance(ins, LockAcquire):
            conds.append(self.read(st, ins.loc, None) == 0)
            self.write(st, ins.loc, None, bv(1))
        elif isinstance(ins, LockRelease):
            self.write(st, ins.loc, None, bv(0))
        elif isinstance(ins, Choose):
            c = z3.BitVec(f"choice{self.ctx.fresh()}", 32)
            conds.append(z3.ULT(c, _choose_bound(self.ctx, ins.n)))
            L[ins.dst] = c
        elif isinstance(ins, Fence):
            pass
        else:  # pragma: no cover
            raise Unsupported(f"event {ins.op}")
        return self.merge(self.local(st, tid, pc + 1, conds, obligations))

    def merge(self, outcomes: list[Outcome]) -> list[Outcome]:
        """One outcome per next event when many paths reach it.

        A scan over slot numbers in local code (bitmap's) forks at every
        slot, and each fork would be checked against every conjunct.  Paths
        that end at the same event are merged: the post-state takes each
        value from the path that was taken (an if-then-else on the path
        conditions), and the step's condition is that one of them was.
        Obligations keep their own path conditions.
        """
        groups: dict[int, list[Outcome]] = {}
        for oc in outcomes:
            groups.setdefault(oc.next_pc, []).append(oc)
        out = []
        for next_pc, group in groups.items():
            if len(group) < MERGE_AT_LEAST:
                out.extend(group)
                continue
            guards = [z3.And(*oc.conds) for oc in group]

            def pick(values):
                if all(x.eq(values[0]) for x in values[1:]):
                    return values[0]
                term = values[-1]
                for guard, x in zip(reversed(guards[:-1]), reversed(values[:-1])):
                    term = z3.If(guard, x, term)
                return term

            post = group[0].post.copy()
            for name in post.mem:
                post.mem[name] = pick([oc.post.mem[name] for oc in group])
            for name in post.ghost:
                post.ghost[name] = pick([oc.post.ghost[name] for oc in group])
            for t, row in enumerate(post.L):
                for i in range(len(row)):
                    row[i] = pick([oc.post.L[t][i] for oc in group])
            # Paths share the obligations made before they forked.
            seen, obligations = set(), []
            for oc in group:
                for ob in oc.obligations:
                    if id(ob) not in seen:
                        seen.add(id(ob))
                        obligations.append(ob)
            out.append(Outcome([z3.Or(*guards)], post, next_pc, obligations))
        return out

    def local(self, st, tid, pc, conds, obligations) -> list[Outcome]:
        """Run local code to the next event; forks at branches whose outcome the state does not decide."""
        prog = self.ctx.programs[tid]
        out = []
        work = [(st, pc, conds, obligations)]
        while work:
            st, pc, conds, obligations = work.pop()
            for _ in range(100000):
                ins = prog.instrs[pc]
                if ins.is_event:
                    st.pc[tid] = bv(pc)
                    out.append(Outcome(conds, st, pc, obligations))
                    break
                L = st.L[tid]
                if isinstance(ins, Assign):
                    t = self.tr(st, tid, obligations, conds, ins)
                    L[ins.dst] = z3.simplify(t.expr(ins.expr.src))
                    pc += 1
                elif isinstance(ins, Branch):
                    t = self.tr(st, tid, obligations, conds, ins)
                    c = z3.simplify(t.cond(ins.cond.src))
                    if z3.is_true(c):
                        pc += 1
                    elif z3.is_false(c):
                        pc = ins.target
                    else:
                        if self.feasible is not None:
                            if not self.feasible(conds + [c]):
                                conds, pc = conds + [z3.Not(c)], ins.target
                                continue
                            if not self.feasible(conds + [z3.Not(c)]):
                                conds, pc = conds + [c], pc + 1
                                continue
                        work.append((st.copy(), ins.target, conds + [z3.Not(c)], list(obligations)))
                        conds = conds + [c]
                        pc += 1
                elif isinstance(ins, Jump):
                    pc = ins.target
                elif isinstance(ins, Ghost):
                    self.ghost(st, tid, ins, conds, obligations)
                    pc += 1
                elif isinstance(ins, OpMark):
                    pc += 1
                else:  # pragma: no cover
                    raise Unsupported(f"local instruction {ins.op}")
            else:  # pragma: no cover
                raise Unsupported("local code loops")
        return out

    def ghost(self, st, tid, ins, conds, obligations):
        acts = self.ghost_cache.get(id(ins))
        if acts is None:
            acts = ghost_actions(ins.code)
            self.ghost_cache[id(ins)] = acts
        self._acts(st, tid, ins, acts, conds, [], obligations)

    def _acts(self, st, tid, ins, acts, conds, guard, obligations):
        for a in acts:
            if a[0] == "assert":
                _, prop, msg, node = a
                t = self.tr(st, tid, obligations, conds + guard, ins)
                obligations.append((conds + guard, truth(t.node(node)), prop, msg, ins))
            elif a[0] == "set":
                _, target, value = a
                t = self.tr(st, tid, obligations, conds + guard, ins)
                v = as_bv(t.node(value))
                sl = target.slice
                if hasattr(sl, "func"):  # G[_gidx(base, len, i)]
                    base = sl.args[0].value
                    name, r = self.ghost_by_base[base]
                    idx = as_bv(t.node(sl.args[2]))
                    obligations.append((conds + guard, z3.ULT(idx, self.ctx.lengths[name]), MEMORY_SAFETY,
                                        f"ghost index out of range for {name}", ins))
                    new = z3.Store(st.ghost[name], idx, v)
                else:
                    name, r = self.ghost_by_base[sl.value]
                    new = v
                old = st.ghost[name]
                st.ghost[name] = z3.If(z3.And(*guard), new, old) if guard else new
            elif a[0] == "if":
                t = self.tr(st, tid, obligations, conds + guard, ins)
                c = truth(t.node(a[1]))
                self._acts(st, tid, ins, a[2], conds, guard + [c], obligations)
                self._acts(st, tid, ins, a[3], conds, guard + [z3.Not(c)], obligations)
            else:
                raise Unsupported("ghost loops are not supported by the invariant prover")


# ---------------------------------------------------------------------------
# The proof


class Checker:
    """One satisfiability query, quantifiers included.

    The query is made quantifier-free (checker/prove/quant.py): an ``unsat``
    answer there is a proof.  A ``sat`` answer may only mean that an instance
    of a quantified hypothesis was not given, so (with ``confirm``) the
    candidate model is checked against the quantified hypotheses themselves:
    with every constant pinned to the candidate's value, a position that
    breaks one of them is a quantifier-free query.  None: the counterexample
    is real.  One: that position joins the instances and the query is solved
    again.  After ``REFINEMENTS`` candidates, z3 gets the quantified query as
    it is; its ``unknown`` is reported as unknown, never as a proof.
    """

    REFINEMENTS = 8
    # Before refining, a candidate is looked for among small slot counts
    # (slots <= SMALL_SLOTS), with the quantifiers also instantiated at every
    # position below 2 * SMALL_SLOTS (ring positions are below RING < 2 *
    # slots): most real counterexamples are small, and this finds them in
    # one query where refinement would add positions one at a time.
    SMALL_SLOTS = 4

    def __init__(self, ctx: Context, rounds: int):
        self.assumptions = list(ctx.assumptions)
        slots = getattr(ctx, "const_terms", {}).get("SLOTS")
        self.small = [] if slots is None else [z3.ULE(slots, self.SMALL_SLOTS)]
        self.small_positions = [z3.BitVecVal(i, 32) for i in range(2 * self.SMALL_SLOTS)]
        self.ground = Grounder(rounds)
        self.model = None
        self.reason = ""
        self.confirmations = 0  # candidate models checked against the quantifiers
        self.fallbacks = 0  # queries that went to z3 with their quantifiers

    def _solver(self, logic):
        # Bounded by resources, not seconds (checker/prove/budget.py).
        s = budget.solver(logic)
        s.add(*self.assumptions)
        return s

    def _qf(self, formulas):
        # A fresh solver per query, the query passed as assumptions.  One
        # solver reused for every query, or the query asserted (which sends
        # it through z3's preprocessing tactics), left the counting
        # conjuncts at the timeout; this way they take seconds.
        s = self._solver("QF_AUFBV")
        return budget.check(s, *formulas), s

    def _violation(self, sk, model):
        """Positions where the candidate ``model`` breaks a quantified
        hypothesis of the skolemised query ``sk``: [] if none, None if z3
        cannot tell."""
        pins = [c == model.eval(c, model_completion=True) for c in free_constants(sk)]
        broken, witnesses = self.ground.skolemise([z3.Not(z3.And(*sk))])
        r, s = self._qf(pins + broken)
        if r == z3.unsat:
            return []
        if r == z3.unknown:
            return None
        m = s.model()
        return [m.eval(w, model_completion=True) for w in witnesses]

    def __call__(self, *formulas, confirm: bool = True):
        formulas = list(formulas)
        if not any(self.ground.has_quantifier(f) for f in formulas):
            r, s = self._qf(formulas)
            if r == z3.sat:
                self.model = s.model()
            elif r == z3.unknown:
                self.reason = budget.why_unknown(s)
            return r
        sk, skolems = self.ground.skolemise(formulas)
        extra: list = []
        tried_small = False
        for _ in range(1 + self.REFINEMENTS):
            r, s = self._qf(self.ground.instantiate(sk, skolems, extra))
            if r == z3.unsat:
                return r
            if not confirm:
                return r
            if r == z3.unknown:
                break
            self.confirmations += 1
            found = self._violation(sk, s.model())
            if found == []:
                self.model = s.model()
                return z3.sat
            if found is None:
                break
            if self.small and not tried_small:
                tried_small = True
                if self._small_counterexample(sk, skolems):
                    return z3.sat
            extra += [w for w in found if not any(w.eq(e) for e in extra)]
        return self._fallback(formulas)

    def _small_counterexample(self, sk, skolems) -> bool:
        r, s = self._qf(self.ground.instantiate(sk, skolems, self.small_positions) + self.small)
        if r != z3.sat:
            return False
        self.confirmations += 1
        if self._violation(sk, s.model()) != []:
            return False
        self.model = s.model()
        return True

    def _fallback(self, formulas):
        self.fallbacks += 1
        full = self._solver(None)
        r = budget.check(full, *formulas)
        if r == z3.sat:
            self.model = full.model()
        elif r == z3.unknown:
            self.reason = ("the invariant's instances did not decide it, and z3 on the quantified query: "
                           f"{budget.why_unknown(full)}")
        return r


@dataclass
class InvFailure:
    what: str  # "initiation", "consecution", "assertion"
    conjunct: str
    thread: str = ""
    instr: str = ""
    pre_state: dict = field(default_factory=dict)
    message: str = ""

    def lines(self) -> list[str]:
        out = [f"{self.what}: {self.conjunct}" + (f" -- {self.message}" if self.message else "")]
        if self.instr:
            out.append(f"  step of {self.thread}: {self.instr}")
        for k, v in self.pre_state.items():
            out.append(f"  {k} = {v}")
        return out


@dataclass
class InvResult:
    protocol: str
    mutation: str | None
    threads: int
    slot_range: str
    conjuncts: list[str] = field(default_factory=list)
    steps_checked: int = 0
    queries: int = 0
    failures: list[InvFailure] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    initial_checked: list[int] = field(default_factory=list)
    elapsed: float = 0.0
    note: str = ""
    only_steps: str | None = None  # a partial check: only these steps
    only_conjuncts: str | None = None  # a partial check: consecution of only these conjuncts

    @property
    def partial(self) -> bool:
        return self.only_steps is not None or self.only_conjuncts is not None

    @property
    def proved(self) -> bool:
        return not self.failures and not self.unknown and not self.partial

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else (0 if self.proved else 3)

    def as_json(self) -> dict:
        return {"protocol": self.protocol, "mutation": self.mutation, "kind": "invariants",
                "threads": self.threads, "slots": self.slot_range, "conjuncts": self.conjuncts,
                "steps_checked": self.steps_checked, "queries": self.queries, "proved": self.proved,
                "only_steps": self.only_steps, "only_conjuncts": self.only_conjuncts,
                "initial_state_checked_for_slots": self.initial_checked,
                "failures": [f.__dict__ for f in self.failures], "unknown": self.unknown,
                "elapsed_seconds": round(self.elapsed, 3), "exit_code": self.exit_code}


def _model_state(ctx, st: SymState, model, moving=None) -> dict:
    """The pre-state of a counterexample; ``moving`` = (thread, pc) of the
    step, whose pc the query fixed by substitution (the model does not)."""
    ev = lambda t: model.eval(t, model_completion=True)  # noqa: E731
    out = {}
    for t, prog in enumerate(ctx.programs):
        pc = moving[1] if moving is not None and moving[0] == t else ev(st.pc[t]).as_long()
        ins = prog.instrs[pc] if pc < len(prog.instrs) else None
        where = f"{ins.src.file}:{ins.src.line} {ins.src.text}" if ins is not None else f"pc {pc}"
        if isinstance(ins, Halt):
            where = "finished"
        out[f"{ctx.system.threads[t].name} at"] = where
    for name, term in ctx.const_terms.items():
        if not z3.is_bv_value(term):  # slot-dependent, symbolic in the proof
            out[name] = ev(term).as_long()
    for name, r in ctx.system.shared.items():
        if r.length is None:
            out[name] = hex(ev(st.mem[name]).as_long())
        else:
            size = ev(ctx.lengths[name]).as_long()
            out[name] = [hex(ev(z3.Select(st.mem[name], bv(i))).as_long()) for i in range(min(size, 8))]
    for name, r in ctx.system.ghost.items():
        if r.length is None:
            out["ghost " + name] = ev(st.ghost[name]).as_long()
        else:
            size = ev(ctx.lengths[name]).as_long()
            out["ghost " + name] = [ev(z3.Select(st.ghost[name], bv(i))).as_long() for i in range(min(size, 8))]
    if moving is not None:
        t = moving[0]
        names = ctx.programs[t].local_names
        out[f"{ctx.system.threads[t].name} locals"] = {n: hex(ev(v).as_long()) for n, v in zip(names, st.L[t])
                                                       if not n.startswith("$")}
    return out


def build_context(proto_cls, params: Params, mutation):
    space, system = slot_space(proto_cls, params, mutation, role="backend", rogue=False)
    spec = proof_module(proto_cls)
    if space.symbolic and spec is not None and hasattr(spec, "INVARIANT_SLOT_RANGE"):
        lo, hi = spec.INVARIANT_SLOT_RANGE
        n = space.variables["SLOTS"]
        space.slot_range = (lo, hi)
        space.constraints = [z3.ULE(lo, n), z3.ULE(n, hi)] + space.constraints[2:]
    system = _system(proto_cls, params, mutation, params.slots, False)
    if not space.symbolic:
        raise ProofSpecError(f"slots cannot be symbolic for {proto_cls.name}: {space.reason}")
    programs = []
    for t in system.threads:
        prog = recompile(system, t.role, t.tid, space.markers, False)
        if _shape(prog) != _shape(t.program):
            raise ProofSpecError(f"the {t.role}'s control structure depends on slots at compile time")
        programs.append(prog)
    terms = {n: bv(v) for n, v in system.constants.items()}
    terms.update(space.variables)
    lengths = {n: bv(r.length or 1) for n, r in list(system.shared.items()) + list(system.ghost.items())}
    lengths.update({r: space.variables[c] for r, c in space.lengths.items()})
    lengths.update(space.extra_lengths)
    ctx = Context(system, programs, terms, space.marker_terms(), lengths, list(space.constraints))
    ctx.strict = mutation is None
    ctx.pow2 = [space.variables[n] for n in getattr(spec, "POWERS_OF_TWO", ()) if n in space.variables]
    return ctx, space


def prove_invariants(proto_cls: type[Protocol], params: Params, mutation: str | None = None,
                     only_steps: str | None = None, progress: ProgressFn | None = None,
                     only_conjuncts: str | None = None) -> InvResult:
    """Check the protocol's stated invariant; ``only_steps`` limits consecution
    to the events whose source line contains that text, ``only_conjuncts`` to
    the conjuncts whose name contains that text (partial checks: their result
    is never a proof; initiation is checked in full either way, since it is
    cheap).  ``progress`` is told each step as its check starts."""
    t0 = time.perf_counter()
    spec = proof_module(proto_cls)
    if spec is None or not hasattr(spec, "invariant"):
        raise ProofSpecError(f"{proto_cls.name} states no inductive invariant (models/{proto_cls.name}_proof.py: "
                             "invariant(view)); it is checked by bounded search only")
    ctx, space = build_context(proto_cls, params, mutation)
    res = InvResult(proto_cls.name, mutation, params.threads, f"{space.describe()}", only_steps=only_steps,
                    only_conjuncts=only_conjuncts)
    check = Checker(ctx, getattr(spec, "INSTANTIATION_ROUNDS", 1))

    def conj(st):
        return [(n, c) for n, c in spec.invariant(View(ctx, st))]

    def valid_pc(st):
        out = []
        for t, prog in enumerate(ctx.programs):
            out.append(z3.Or(*[st.pc[t] == i.pc for i in prog.instrs if i.is_event]))
        return out

    pre = SymState(ctx, "s")
    inv_pre = conj(pre)
    res.conjuncts = [n for n, _ in inv_pre]
    if only_conjuncts is not None and not any(only_conjuncts in n for n in res.conjuncts):
        raise ProofSpecError(f"no conjunct of {proto_cls.name}'s invariant is named with {only_conjuncts!r} "
                             f"(known: {'; '.join(res.conjuncts)})")

    # 1. Initiation: the stated initial state satisfies the invariant ...
    init = SymState(ctx, "i")
    init_desc = list(spec.initial(View(ctx, init)))
    for name, c in conj(init):
        res.queries += 1
        _t = time.perf_counter()
        r = check(*init_desc, z3.Not(c))
        _dbg(f"init {name}: {r} {time.perf_counter() - _t:.2f}s")
        if r == z3.sat:
            res.failures.append(InvFailure("initiation", name, pre_state=_model_state(ctx, init, check.model)))
        elif r == z3.unknown:
            res.unknown.append(f"initiation of {name}: {check.reason}")
    # ... and is what the model really starts with (small slot counts).
    lo, hi = space.slot_range
    for n in range(max(lo, proto_cls.min_slots), min(hi, proto_cls.max_slots, 6) + 1):
        sysn = _system(proto_cls, params, mutation, n, False)
        if not _initial_matches(ctx, sysn, spec, check, res):
            res.failures.append(InvFailure("initiation", "the stated initial state",
                                           message=f"does not describe the model's initial state at slots = {n}"))
            break
        res.initial_checked.append(n)

    # 2. Consecution: every step of every thread from any invariant state.
    stepper = Stepper(ctx)
    hyp = [c for _n, c in inv_pre] + valid_pc(pre)
    steps = [(tid, ins) for tid, prog in enumerate(ctx.programs) for ins in prog.instrs
             if ins.is_event and not isinstance(ins, Halt)
             and (only_steps is None or only_steps in ins.src.text)]
    for k, (tid, ins) in enumerate(steps):
        tname = ctx.system.threads[tid].name
        report(progress, f"consecution: {tname} {ins.src.file.rsplit('/', 1)[-1]}:{ins.src.line}", k, len(steps))
        # The moving thread's pc is known: substitute it so that every
        # "thread t is at ..." test of that thread folds away.
        sub = (pre.pc[tid], bv(ins.pc))
        hyp_here = [z3.simplify(z3.substitute(h, sub)) for h in hyp]
        if getattr(spec, "PRUNE_BRANCHES", False):
            stepper.feasible = lambda cs, _h=hyp_here: check(*_h, *cs, confirm=False) != z3.unsat
        outcomes = stepper.step(pre, tid, ins.pc)
        for oc in outcomes:
            res.steps_checked += 1
            base = hyp_here + oc.conds
            where = f"{ins.src.file}:{ins.src.line}: {ins.src.text}"
            for oconds, ok, prop, msg, oins in oc.obligations:
                res.queries += 1
                _t = time.perf_counter()
                r = check(*base, *oconds, z3.Not(z3.substitute(ok, sub)))
                _dbg(f"  obligation {prop} {msg}: {r} {time.perf_counter() - _t:.2f}s")
                if r == z3.sat:
                    res.failures.append(InvFailure(
                        "assertion", prop, tname, f"{oins.src.file}:{oins.src.line}: {oins.src.text}",
                        _model_state(ctx, pre, check.model, (tid, ins.pc)), msg))
                elif r == z3.unknown:
                    res.unknown.append(f"{prop} at {where}: {check.reason}")
            post = conj(oc.post)
            for (name, c), (_n, c0) in zip(post, inv_pre):
                if c.eq(c0):
                    continue  # the step leaves everything this conjunct mentions unchanged
                if only_conjuncts is not None and only_conjuncts not in name:
                    continue
                res.queries += 1
                _t = time.perf_counter()
                r = check(*base, z3.Not(z3.simplify(z3.substitute(c, sub))))
                _dbg(f"{tname} {where} -> {oc.next_pc}: {name}: {r} {time.perf_counter() - _t:.2f}s")
                if r == z3.sat:
                    res.failures.append(InvFailure("consecution", name, tname, where,
                                                   _model_state(ctx, pre, check.model, (tid, ins.pc))))
                elif r == z3.unknown:
                    res.unknown.append(f"{name} after {where}: {check.reason}")
    res.elapsed = time.perf_counter() - t0
    return res


def _initial_matches(ctx, sysn, spec, check, res) -> bool:
    """The model's concrete initial state at this slot count satisfies the stated description."""
    st = SymState(ctx, f"c{sysn.params.slots}")
    fix = [ctx.const_terms[n] == bv(sysn.constants[n]) for n in ctx.const_terms if n in sysn.constants]
    for regions, terms, init in ((sysn.shared, st.mem, sysn.shared_init), (sysn.ghost, st.ghost, sysn.ghost_init)):
        for name, r in regions.items():
            if r.length is None:
                fix.append(terms[name] == bv(init[r.base]))
            else:
                fix += [z3.Select(terms[name], bv(i)) == bv(init[r.base + i]) for i in range(r.length)]
    from checker.explore import Engine
    from checker.memory import PROFILES, memory_models

    eng = Engine(sysn, memory_models()["sc"](sysn, PROFILES["documented"]))
    init = eng.initial()
    for t, T in enumerate(init[1]):
        if ctx.system.threads[t].program is None:
            continue
        fix.append(st.pc[t] == bv(T[0]))
        for i, v in enumerate(T):
            if i >= 2:
                fix.append(st.L[t][i] == bv(v))
    desc = list(spec.initial(View(ctx, st)))
    res.queries += 1
    return check(*fix, z3.Not(z3.And(*desc))) == z3.unsat
