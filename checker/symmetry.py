"""Symmetry reduction over interchangeable backends (``--symmetry``, issue 13).

Backends run one program; they differ only in their number ``ME`` (1..B).  A
permutation pi of the backend numbers maps a state onto another state: the
backends' thread states (and memory-model pending state) change places, and
every value *that is a backend's number* is renamed, wherever it is kept --
shared words such as ``slot_worker[slot]``, ghost owners such as
``owner[slot] = OWN_BACKEND + ME``, and locals (of backends or of the
postmaster) that hold one.  When the system cannot tell a backend's number
from another's except by equality, this map sends executions to executions
and violations to violations, and the search keeps one state per orbit.

Where a backend number flows is found, not declared, in the manner of Murphi's
scalarsets: the backend program is compiled once more with ``ME`` set to a
marker value, and a flow analysis over the IR of that program and of the
postmaster gives every shared region, ghost region and local a type: *plain*,
or *a backend number plus K* (K = 0 for ``ME``, ``OWN_BACKEND`` for an owner
value).  The reduction is refused, with one line naming the source line, when

* a backend's program is not the marker program with the marker read as its
  own number (``ME`` was folded into a test, an index, ``ME & 1``...);
* a number is used other than by equality with another number of the same
  kind, by comparison with a constant that cannot tell numbers apart
  (``worker == 0``, ``worker > BACKENDS``), or by adding a constant to it;
* a place holds numbers of two kinds, or numbers and plain values, or a
  constant that is itself some backend's number (``owner[s] = 9``);
* a shared word holding numbers is indexed by one (per-backend arrays), or a
  rogue may write some backend numbers into it but not all of them;
* the initial state is not left unchanged by every permutation.

Values are renamed as ``K + pi(v - K)`` when ``K < v <= K + B`` and kept
otherwise (0, ``OWN_FREE``, ``NO_SLOT``...).  The representative of a state is
the least of its images under the permutations that sort the backends by
their thread states with backend numbers masked (a key that permutations do
not change), so it is the same for every member of an orbit.

The quiescence check is Python code the analysis cannot read; a violation it
finds in any member of an orbit is a violation, so it is run on every member
(B! states, only in quiescent states).  Counterexamples are rebuilt as
concrete traces from the initial state; a breadth-first search over
representatives reaches each orbit at the depth of its nearest member, so
they keep their length.  A run whose wait-freedom rests on the cycle
analysis (``--step-bound 0``, not run on representatives) is refused.

Under the weak memory model a thread's pending state is its window: entries
holding stored values, values read (no-alias records), pending values (an
expression of locals whose loads are not yet performed) and snapshots of
locals.  Each such value comes from or goes to a place the analysis typed --
a local, an expression of the program, a shared word -- so it is renamed as
that place's values are; the layout of the entries is known only to
``WeakMemory.rename_pending``, which asks this module to rename each value
by its place.  A backend's window moves with its thread state, and since each
backend's program is compiled with its own ``ME``, the expressions its
pending values name are exchanged for the same expressions of the program of
the backend it becomes.  The sort key masks numbers in the window too (and
names expressions as the first backend's program does).  A window value whose
place cannot be typed ends the run with one line (exit 2) instead of being
guessed at.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass, field

from checker.ir import MASK, program_expressions
from checker.model import ModelError, System

SYMMETRIC_MODELS = ("sc", "tso", "weak")
_MARKER = 0x5A5A5A5A  # ME in the probe program: a value no model uses
_MARKER_RE = re.compile(rf"\b{_MARKER}\b")


class _Refuse(Exception):
    """Symmetry would be unsound here; the message says why (one line)."""


# ---------------------------------------------------------------------------
# The flow analysis

# An abstract value: ("c", v) a constant, ("id", k) a backend number plus k
# (or a constant no backend number equals), ("p",) anything else.
_PLAIN = ("p",)


@dataclass
class _Place:
    """What one region or local may hold."""

    kinds: set = field(default_factory=set)  # offsets k of the backend numbers it holds
    plain: bool = False
    consts: set = field(default_factory=set)
    where: str = ""  # the first source line that put a backend number here

    def value(self):
        if self.kinds:
            return ("id", min(self.kinds))
        if not self.plain and len(self.consts) == 1:
            return ("c", next(iter(self.consts)))
        return _PLAIN


class _Analysis:
    def __init__(self, system: System, probe) -> None:
        self.system = system
        self.nb = system.params.backends
        self.places: dict[tuple, _Place] = {}
        self.changed = False
        self.site = ""
        self.role = ""
        self.ghost_by_base = {r.base: r for r in system.ghost.values()}
        self.programs = [("postmaster", system.threads[0].program), ("backend", probe)]
        # Worker processes are never permuted: each is read as a role of its
        # own, so that a backend number one keeps shows (and is refused).
        self.programs += [(t.name, t.program) for t in system.threads if t.role == "worker"]

    # -- places
    def place(self, key) -> _Place:
        p = self.places.get(key)
        if p is None:
            p = self.places[key] = _Place()
        return p

    def join(self, key, v) -> None:
        p = self.place(key)
        before = (len(p.kinds), p.plain, len(p.consts))
        if v[0] == "id":
            p.kinds.add(v[1])
            p.where = p.where or self.site
        elif v[0] == "c":
            p.consts.add(v[1])
        else:
            p.plain = True
        if (len(p.kinds), p.plain, len(p.consts)) != before:
            self.changed = True

    def in_range(self, k: int, c: int) -> bool:
        return k < c <= k + self.nb

    # -- expressions
    def refuse(self, what: str):
        raise _Refuse(f"{self.site}: {what}")

    def expr(self, node):
        if isinstance(node, ast.Expression):
            return self.expr(node.body)
        if isinstance(node, ast.Constant):
            return ("id", 0) if node.value == _MARKER else ("c", int(node.value))
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == "L":
                return self.place(("local", self.role, node.slice.value)).value()
            if node.value.id == "G":
                return self.place(("ghost", self.ghost_cell(node.slice))).value()
        if isinstance(node, ast.Name):
            return _PLAIN  # a ghost loop variable
        if isinstance(node, ast.BinOp):
            a, b = self.expr(node.left), self.expr(node.right)
            if a[0] != "id" and b[0] != "id":
                if a[0] == "c" and b[0] == "c":
                    try:
                        return ("c", eval(compile(ast.Expression(node), "<const>", "eval")) & MASK)  # noqa: S307
                    except Exception:
                        return _PLAIN
                return _PLAIN
            if isinstance(node.op, ast.Add) and (a[0], b[0]) in (("id", "c"), ("c", "id")):
                k = a[1] + b[1]
                if k + self.nb > MASK:
                    self.refuse("a backend number plus a constant wraps")
                return ("id", k)
            if isinstance(node.op, ast.BitAnd) and (a[0], b[0]) in (("id", "c"), ("c", "id")) \
                    and (b if a[0] == "id" else a)[1] == MASK:
                return a if a[0] == "id" else b
            self.refuse(f"arithmetic on a backend number ({ast.unparse(node)})")
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            vals = [self.expr(o) for o in operands]
            for op, a, b in zip(node.ops, vals, vals[1:]):
                self.compare(op, a, b)
            return _PLAIN
        if isinstance(node, ast.BoolOp):
            for v in node.values:
                self.expr(v)
            return _PLAIN
        if isinstance(node, ast.UnaryOp):
            v = self.expr(node.operand)
            if v[0] == "id" and not isinstance(node.op, ast.Not):
                self.refuse(f"arithmetic on a backend number ({ast.unparse(node)})")
            return _PLAIN  # `not n` is `n == 0`: no backend number is 0
        if isinstance(node, ast.IfExp):
            self.expr(node.test)
            return self.merge(self.expr(node.body), self.expr(node.orelse))
        if isinstance(node, ast.Call):
            for a in node.args:
                if self.expr(a)[0] == "id":
                    self.refuse(f"a backend number used as an operand or index ({ast.unparse(node)})")
            return _PLAIN
        self.refuse(f"an expression the symmetry analysis does not know ({ast.unparse(node)})")

    def merge(self, a, b):
        if a == b:
            return a
        if a[0] == "id" or b[0] == "id":
            i, o = (a, b) if a[0] == "id" else (b, a)
            if o[0] == "c" and not self.in_range(i[1], o[1]):
                return i
            self.refuse("a value that is a backend number on one branch and not on the other")
        return _PLAIN

    def compare(self, op, a, b) -> None:
        if a[0] != "id" and b[0] != "id":
            return
        if a[0] == "id" and b[0] == "id":
            if a[1] != b[1] or not isinstance(op, (ast.Eq, ast.NotEq)):
                self.refuse("backend numbers compared other than for equality")
            return
        i, o = (a, b) if a[0] == "id" else (b, a)
        if o[0] != "c":
            self.refuse("a backend number compared with a value that is not one")
        k, c = i[1], o[1]
        if isinstance(op, (ast.Eq, ast.NotEq)):
            if self.in_range(k, c):
                self.refuse(f"a backend number compared with the constant {c}, which is one")
            return
        # An ordering against a constant must say the same of every number.
        fn = {ast.Lt: lambda v: v < c, ast.LtE: lambda v: v <= c, ast.Gt: lambda v: v > c,
              ast.GtE: lambda v: v >= c}[type(op)]
        if a[0] != "id":
            fn = {ast.Lt: lambda v: c < v, ast.LtE: lambda v: c <= v, ast.Gt: lambda v: c > v,
                  ast.GtE: lambda v: c >= v}[type(op)]
        if len({fn(v) for v in range(k + 1, k + self.nb + 1)}) != 1:
            self.refuse(f"a backend number ordered against {c}, which tells backends apart")

    def ghost_cell(self, node) -> str:
        """The ghost region a ``G[...]`` subscript names; its index may not be a backend number."""
        if isinstance(node, ast.Constant):
            for r in self.system.ghost.values():
                if r.base <= node.value < r.base + (r.length or 1):
                    return r.name
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_gidx":
            if self.expr(node.args[2])[0] == "id":
                self.refuse("a ghost array indexed by a backend number")
            return self.ghost_by_base[node.args[0].value].name
        self.refuse("ghost state accessed in a way the symmetry analysis does not know")

    def ghost_code(self, stmts) -> None:
        for st in stmts:
            if isinstance(st, ast.If):
                self.expr(st.test)
                self.ghost_code(st.body)
                self.ghost_code(st.orelse)
            elif isinstance(st, ast.For):
                self.expr(st.iter)
                self.ghost_code(st.body)
            elif isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Subscript):
                self.join(("ghost", self.ghost_cell(st.targets[0].slice)), self.expr(st.value))
            elif isinstance(st, (ast.Raise, ast.Pass)):
                pass
            else:
                self.refuse("ghost code the symmetry analysis does not know")

    # -- instructions
    def src(self, e):
        return self.expr(ast.parse(e.run_src, mode="eval"))

    def loc(self, loc) -> tuple:
        if loc.index is not None and self.src(loc.index)[0] == "id":
            self.refuse(f"{loc.region.name} indexed by a backend number (a per-backend array)")
        return ("mem", loc.region.name)

    def instr(self, ins) -> None:
        op, role = ins.op, self.role
        local = lambda i: ("local", role, i)  # noqa: E731
        if op == "assign":
            self.join(local(ins.dst), self.src(ins.expr))
        elif op == "branch":
            self.src(ins.cond)
        elif op == "load":
            self.join(local(ins.dst), self.place(self.loc(ins.loc)).value())
        elif op == "store":
            self.join(self.loc(ins.loc), self.src(ins.value))
        elif op == "rmw":
            where = self.loc(ins.loc)
            cur = self.place(where).value()
            args = [self.src(a) for a in ins.args]
            if ins.kind in ("xchg", "cas"):
                if ins.kind == "cas":
                    self.compare(ast.Eq(), cur, args[0])
                self.join(where, args[-1])
                self.join(local(ins.dst), _PLAIN if ins.kind == "cas" else cur)
            elif ins.kind == "read_mb":
                self.join(local(ins.dst), cur)
            else:
                if cur[0] == "id" or any(a[0] == "id" for a in args):
                    self.refuse(f"atomic {ins.kind} on a backend number")
                self.join(where, _PLAIN)
                self.join(local(ins.dst), _PLAIN)
            if ins.expected_local is not None:
                self.join(local(ins.expected_local), cur)
        elif op == "acquire":
            self.join(self.loc(ins.loc), ("c", 1))
        elif op == "release":
            self.join(self.loc(ins.loc), ("c", 0))
        elif op == "choose":
            self.join(local(ins.dst), _PLAIN)
        elif op == "ghost":
            self.ghost_code(ast.parse(ins.code).body[0].body)

    def run(self) -> None:
        s = self.system
        for r in s.shared.values():
            for a in range(r.base, r.base + (r.length or 1)):
                self.join(("mem", r.name), ("c", s.shared_init[a]))
        for r in s.ghost.values():
            for a in range(r.base, r.base + (r.length or 1)):
                self.join(("ghost", r.name), ("c", s.ghost_init[a]))
        for role, prog in self.programs:
            for i in range(prog.nlocals):
                self.join(("local", role, i), ("c", prog.initial_locals.get(i, 0)))  # dead locals read 0
        self.changed = True
        while self.changed:
            self.changed = False
            for role, prog in self.programs:
                self.role = role
                for ins in prog.instrs:
                    self.site = str(ins.src) if ins.src else role
                    self.instr(ins)

    def verdict(self) -> None:
        """Refuse a place that mixes kinds, or holds a constant that is some backend's number."""
        for key, p in self.places.items():
            name = key[1] if key[0] != "local" else self.local_name(key)
            if not p.kinds:
                continue
            if len(p.kinds) > 1:
                raise _Refuse(f"{p.where}: {name} holds backend numbers of two kinds")
            if p.plain:
                raise _Refuse(f"{p.where}: {name} holds backend numbers and other computed values")
            k = next(iter(p.kinds))
            bad = sorted(c for c in p.consts if self.in_range(k, c))
            if bad:
                raise _Refuse(f"{p.where}: {name} also holds the constant {bad[0]}, which is a backend's number")

    def local_name(self, key) -> str:
        prog = dict(self.programs)[key[1]]
        return f"{key[1]} local {prog.local_names[key[2]]}"


# ---------------------------------------------------------------------------
# The renaming


@dataclass(frozen=True)
class IdentityLayout:
    """Where backend numbers are kept, each with its offset K (value = K + number)."""

    backends: tuple[int, ...]  # thread ids, consecutive
    mem_cells: tuple[tuple[int, int], ...]  # (address, K)
    ghost_cells: tuple[tuple[int, int], ...]
    postmaster_locals: tuple[tuple[int, int], ...]  # (local index, K)
    backend_locals: tuple[tuple[int, int], ...]
    # Every expression of every program (Expr ident) with its K, or None when
    # it is never a backend's number: the weak model's pending values and
    # window entries hold expression values (WeakMemory.rename_pending).
    expr_kinds: tuple[tuple[int, int | None], ...] = ()
    # Per backend, its expressions' idents in program order: the same
    # expression in each backend's program (compiled with its own ME).
    backend_exprs: tuple[tuple[int, ...], ...] = ()


class _NoSites(ast.NodeTransformer):
    """Drops the site number of an undefined-behaviour guard (numbered per compilation, not per line)."""

    def visit_Call(self, node):
        self.generic_visit(node)
        if getattr(node.func, "id", "").startswith("_ub_"):
            node.args = node.args[:-1]
        return node


def _src_text(e) -> str:
    src = e.run_src
    if "_ub_" in src:
        src = ast.unparse(_NoSites().visit(ast.parse(src, mode="eval")))
    return src


def _program_text(prog) -> list[str]:
    rows = []
    for ins in prog.instrs:
        parts = [ins.op]
        for c in type(ins).__mro__:
            for name in getattr(c, "__slots__", ()):
                if name in ("src", "fn", "pc", "reads", "greads", "gwrites", "text"):
                    continue
                v = getattr(ins, name, None)
                if hasattr(v, "run_src"):
                    v = _src_text(v)
                elif hasattr(v, "region"):
                    v = (v.region.name, _src_text(v.index) if v.index is not None else None)
                elif isinstance(v, (list, tuple)):
                    v = [_src_text(a) if hasattr(a, "run_src") else a for a in v]
                parts.append(f"{name}={v}")
        rows.append(" ".join(parts))
    rows.append(f"locals={prog.local_names} init={sorted(prog.initial_locals.items())} dead={prog.dead_at}")
    return rows


def _expr_kinds(an, system: System, tids: list[int], probe):
    """(expr_kinds, backend_exprs) of IdentityLayout: each expression typed as the analysis types it."""
    kinds: dict[int, int | None] = {}

    def typed(role, prog, model):
        an.role = role
        out = []
        for e, m in zip(program_expressions(prog), program_expressions(model)):
            v = an.expr(ast.parse(m.run_src, mode="eval"))
            kinds[e.ident] = v[1] if v[0] == "id" else None
            out.append(e.ident)
        return tuple(out)

    for role, prog in an.programs:
        if role != "backend":
            typed(role, prog, prog)
    backend_exprs = tuple(typed("backend", system.threads[t].program, probe) for t in tids)
    return tuple(kinds.items()), backend_exprs


def _check_programs(system: System, tids: list[int], probe) -> None:
    probe_text = _program_text(probe)
    for tid in tids:
        me = tid - tids[0] + 1
        expected = [_MARKER_RE.sub(str(me), row) for row in probe_text]
        actual = _program_text(system.threads[tid].program)
        for ins, want, got in zip(system.threads[tid].program.instrs, expected, actual):
            if want != got:
                raise _Refuse(f"{ins.src}: the backend's code depends on its number ({ins.src.text.strip()})")
        if expected != actual:
            raise _Refuse("the backends' programs differ in their locals or layout")


def identity_layout(system: System, memory_model: str) -> IdentityLayout:
    """Where backend numbers are kept; ModelError (one line, naming --symmetry) when symmetry is unsound."""
    if memory_model not in SYMMETRIC_MODELS:
        raise ModelError(f"--symmetry supports the {' and '.join(SYMMETRIC_MODELS)} memory models, "
                         f"not {memory_model}")
    if system.params.step_bound == 0:
        raise ModelError("--symmetry cannot check wait-freedom by lasso search (--step-bound 0)")
    tids = [t.tid for t in system.threads if t.role == "backend"]
    if len(tids) < 2:
        raise ModelError("--symmetry needs at least two backends (--threads 3 or more)")
    if tids != list(range(tids[0], tids[0] + len(tids))) or system.compile_backend is None:  # pragma: no cover
        raise ModelError("--symmetry needs the backends numbered consecutively")
    try:
        probe = system.compile_backend(_MARKER)
        _check_programs(system, tids, probe)
        an = _Analysis(system, probe)
        an.run()
        an.verdict()
        workers = {t.name for t in system.threads if t.role == "worker"}
        for key, p in sorted(an.places.items(), key=lambda kv: str(kv[0])):
            if key[0] == "local" and key[1] in workers and p.kinds:
                # A renaming permutes the backends' threads and renames the
                # postmaster's locals; a worker's locals it leaves alone.
                raise _Refuse(f"{p.where}: {an.local_name(key)} holds a backend number, and worker processes "
                              "are not renamed")
    except _Refuse as exc:
        raise ModelError(f"--symmetry refused for {system.protocol.name}: {exc}") from None
    nb = len(tids)

    def cells(kind, regions):
        out = []
        for r in regions.values():
            p = an.places.get((kind, r.name))
            if p is not None and p.kinds:
                k = next(iter(p.kinds))
                out += [(a, k) for a in range(r.base, r.base + (r.length or 1))]
        return tuple(out)

    def locals_(role):
        return tuple((key[2], next(iter(p.kinds))) for key, p in sorted(an.places.items(), key=lambda kv: str(kv[0]))
                     if key[0] == "local" and key[1] == role and p.kinds)

    try:
        exprs = _expr_kinds(an, system, tids, probe) if memory_model == "weak" else ((), ())
    except _Refuse as exc:  # pragma: no cover - the fixpoint typed every expression already
        raise ModelError(f"--symmetry refused for {system.protocol.name}: {exc}") from None
    layout = IdentityLayout(tuple(tids), cells("mem", system.shared), cells("ghost", system.ghost),
                            locals_("postmaster"), locals_("backend"), *exprs)
    if system.rogue_tid is not None:
        values = set(system.rogue_values)
        for a, k in layout.mem_cells:
            hit = {v for v in values if k < v <= k + nb}
            if hit and len(hit) != nb:
                raise ModelError(f"--symmetry refused for {system.protocol.name}: the rogue may write some "
                                 f"backend numbers into {system.cell_names[a]} but not all")
    return layout


_MEMO_ITEMS = 1 << 20  # entries of each of Canonicaliser's memos before it is emptied


class Canonicaliser:
    """``canon(state)``: the orbit's representative; ``check_state``: the invariants on every member."""

    def __init__(self, engine, layout: IdentityLayout) -> None:
        self.engine = engine
        self.layout = layout
        tids = layout.backends
        self.lo, self.hi, self.nb = tids[0], tids[-1] + 1, len(tids)
        self.renames = bool(layout.mem_cells or layout.ghost_cells or layout.postmaster_locals
                            or layout.backend_locals)
        self.buffered = engine.mm.name == "tso"
        self.mem_k = dict(layout.mem_cells)
        self.weak = engine.mm.name == "weak"
        if self.weak:
            self._weak_init(engine)
        # Under weak, renaming a thread and its window, and a backend's sort
        # key, cost most of the reduced search (rename_pending on every
        # thread of every successor: 85% of its CPU at --threads 5).  A
        # successor shares all but one thread with its parent, so both are
        # memoised, per (thread, permutation, thread tuple, window) and per
        # (backend, thread tuple, window); emptied when they pass _MEMO_ITEMS.
        self._renamed: dict = {}
        self._keys: dict = {}
        self._identity = list(range(self.nb))
        init = engine.initial()
        for perm in itertools.permutations(range(self.nb)):
            if self.apply(init, perm) != init:
                raise ModelError(f"--symmetry refused for {engine.system.protocol.name}: "
                                 "the initial state tells the backends apart")
        self.init = init
        self.check_conservation = engine.check_conservation

    def _rename_value(self, v: int, k: int, pi) -> int:
        return k + pi[v - k - 1] + 1 if k < v <= k + self.nb else v

    # -- the weak model: windows and pending values (WeakMemory.rename_pending)

    def _weak_init(self, engine) -> None:
        lay = self.layout
        self.expr_k = dict(lay.expr_kinds)
        pm = dict(lay.postmaster_locals)
        self.locals_k = {t.tid: pm if t.role == "postmaster" else {} for t in engine.system.threads}
        for tid in lay.backends:
            self.locals_k[tid] = dict(lay.backend_locals)
        # expr_maps[b][j]: backend b's expression idents -> backend j's.
        ex = lay.backend_exprs
        self.expr_maps = [[dict(zip(ex[b], ex[j])) for j in range(self.nb)] for b in range(self.nb)]

    def _value_renamer(self, tid, f):
        """``rename_value`` for thread ``tid``'s window: ``f(v, k)`` on every value of kind K = k."""
        local_k, expr_k, mem_k = self.locals_k[tid], self.expr_k, self.mem_k
        name = self.engine.system.protocol.name

        def rename(v, source):
            kind, x = source
            if kind == "local":
                k = local_k.get(x)
            elif kind == "cell":
                k = mem_k.get(x)
            else:
                try:
                    k = expr_k[x]
                except KeyError:
                    raise ModelError(f"--symmetry refused for {name}: a pending value of an expression "
                                     "the identity analysis did not type") from None
            return v if k is None else f(v, k)
        return rename

    def _expr_renamer(self, b, j):
        m = self.expr_maps[b][j]
        name = self.engine.system.protocol.name

        def rename(eid):
            try:
                return m[eid]
            except KeyError:
                raise ModelError(f"--symmetry refused for {name}: a pending value of an expression "
                                 "outside the backend's program") from None
        return rename

    def _weak_apply(self, threads, pending, ts, ps, pi):
        """Rename every thread's locals and window; move backend b's to backend pi[b]."""
        lo, hi = self.lo, self.hi
        memo = self._renamed
        if len(memo) > _MEMO_ITEMS:
            memo.clear()
        pi_key = tuple(pi)
        for tid in range(len(threads)):
            at = (tid, pi_key, threads[tid], pending[tid])
            done = memo.get(at)
            if done is None:
                done = memo[at] = self._weak_rename(tid, threads[tid], pending[tid], pi)
            to = lo + pi[tid - lo] if lo <= tid < hi else tid
            ts[to], ps[to] = done

    def _weak_rename(self, tid, thread, pend, pi):
        """Thread ``tid``'s tuple and window with every backend number renamed by ``pi`` (a backend's
        expressions named as in the program of the backend it becomes)."""
        mm, lo, lay = self.engine.mm, self.lo, self.layout
        rv = self._rename_value

        def f(v, k):
            return rv(v, k, pi)
        if lo <= tid < self.hi:
            b = tid - lo
            t, p = mm.rename_pending(tid, thread, pend, self._value_renamer(tid, f), self._expr_renamer(b, pi[b]))
            return self._rename_int_locals(t, lay.backend_locals, pi), p
        t, p = mm.rename_pending(tid, thread, pend, self._value_renamer(tid, f), _same)
        return (self._rename_int_locals(t, lay.postmaster_locals, pi) if tid == 0 else t), p

    def _rename_int_locals(self, t, where, pi):
        """The numbers locals hold (their pending values are the weak model's)."""
        if not where:
            return t
        t = list(t)
        rv = self._rename_value
        for i, k in where:
            if type(t[i]) is int:
                t[i] = rv(t[i], k, pi)
        return tuple(t)

    def apply(self, s, order):
        """The image of ``s`` in which backend ``order[j]`` (0-based) becomes backend ``j``."""
        mem, threads, pending, ghost = s
        lo, nb = self.lo, self.nb
        pi = [0] * nb  # old number - 1 -> new number - 1
        for j, b in enumerate(order):
            pi[b] = j
        lay = self.layout
        rv = self._rename_value
        if lay.mem_cells:
            m = list(mem)
            for a, k in lay.mem_cells:
                m[a] = rv(m[a], k, pi)
            mem = tuple(m)
        if lay.ghost_cells:
            g = list(ghost)
            for a, k in lay.ghost_cells:
                g[a] = rv(g[a], k, pi)
            ghost = tuple(g)
        ts = list(threads)
        if self.weak:
            ps = list(pending)
            self._weak_apply(threads, pending, ts, ps, pi)
            return (mem, tuple(ts), tuple(ps), ghost)
        if lay.postmaster_locals:
            t = list(ts[0])
            for i, k in lay.postmaster_locals:
                t[i] = rv(t[i], k, pi)
            ts[0] = tuple(t)
        ps = list(pending)
        for j, b in enumerate(order):
            t = threads[lo + b]
            if lay.backend_locals:
                t = list(t)
                for i, k in lay.backend_locals:
                    t[i] = rv(t[i], k, pi)
                t = tuple(t)
            ts[lo + j] = t
            ps[lo + j] = pending[lo + b]
        if self.buffered and self.mem_k:
            mk = self.mem_k
            ps = [tuple((a, rv(v, mk[a], pi)) if a in mk else (a, v) for a, v in buf) if buf else buf for buf in ps]
        return (mem, tuple(ts), tuple(ps), ghost)

    def _key(self, thread, pend, b=0):
        if self.weak:
            keys = self._keys
            at = (b, thread, pend)
            key = keys.get(at)
            if key is None:
                if len(keys) > _MEMO_ITEMS:
                    keys.clear()
                key = keys[at] = self._weak_key(thread, pend, b)
            return key
        lay = self.layout
        if lay.backend_locals:
            t = list(thread)
            for i, k in lay.backend_locals:
                if k < t[i] <= k + self.nb:
                    t[i] = -1
            thread = tuple(t)
        if pend and self.mem_k:
            pend = tuple((a, -1 if a in self.mem_k and self.mem_k[a] < v <= self.mem_k[a] + self.nb else v)
                         for a, v in pend)
        return (thread, pend or ())

    def _weak_key(self, thread, pend, b):
        """Numbers masked, expressions named as in the first backend's program; repr orders locals that hold a
        number in one backend and a pending value in another."""
        lay, nb = self.layout, self.nb
        t, w = self.engine.mm.rename_pending(
            self.lo + b, thread, pend, self._value_renamer(self.lo + b, lambda v, k: -1 if k < v <= k + nb else v),
            self._expr_renamer(b, 0))
        if lay.backend_locals:
            t = list(t)
            for i, k in lay.backend_locals:
                if type(t[i]) is int and k < t[i] <= k + nb:
                    t[i] = -1
        return repr((t, w))

    def __call__(self, s):
        threads, pending = s[1], s[2]
        lo, nb = self.lo, self.nb
        keys = [self._key(threads[lo + b], pending[lo + b], b) for b in range(nb)]
        order = sorted(range(nb), key=keys.__getitem__)
        if not self.renames:
            return self.apply(s, order) if order != self._identity else s
        # Backends with equal keys may be ordered either way: the least image is the representative.
        groups, j = [], 0
        while j < nb:
            e = j + 1
            while e < nb and keys[order[e]] == keys[order[j]]:
                e += 1
            groups.append(order[j:e])
            j = e
        # The identity renames nothing (apply(s, identity) == s): no need to apply it.
        identity = self._identity
        if all(len(g) == 1 for g in groups):
            return s if order == identity else self.apply(s, order)
        best = None
        for choice in itertools.product(*(itertools.permutations(g) for g in groups)):
            perm = [b for g in choice for b in g]
            img = s if perm == identity else self.apply(s, perm)
            if best is None or img < best:
                best = img
        return best

    def check_state(self, s):
        """The state's invariants in every member of its orbit (the quiescence check is opaque code)."""
        engine = self.engine
        if not (self.check_conservation and engine.quiescent(s)):
            return None
        for perm in itertools.permutations(range(self.nb)):
            v = engine.check_state(self.apply(s, perm))
            if v is not None:
                return v
        return None

    def violating_member(self, s, prop):
        """A permutation of ``s`` whose invariants report ``prop``, or None."""
        for perm in itertools.permutations(range(self.nb)):
            img = self.apply(s, perm)
            v = self.engine.check_state(img)
            if v is not None and v[0] == prop:
                return img, v[1]
        return None


def _same(eid):
    return eid


def make_canonicaliser(engine) -> Canonicaliser:
    return Canonicaliser(engine, identity_layout(engine.system, engine.mm.name))


def backend_tids(system: System, memory_model: str) -> list[int]:
    """The interchangeable backends' thread ids; ModelError (one line) when symmetry is refused."""
    return list(identity_layout(system, memory_model).backends)


def concrete_path(engine, canon, representatives, chain):
    """A concrete trace through the orbits ``representatives[j]`` for ``j`` in ``chain``."""
    state = engine.initial()
    labels, path = [], [state]
    for j in chain[1:]:
        target = representatives[j]
        out: list = []
        engine.successors(state, out)
        for label, nxt, _viol in out:
            if nxt is not None and canon(nxt) == target:
                labels.append(label)
                path.append(nxt)
                state = nxt
                break
        else:  # pragma: no cover - would mean the system is not symmetric after all
            raise AssertionError("no move of the concrete state reaches the next orbit")
    return labels, path


def permuted_path(engine, canon, path, target):
    """The trace ``path`` carried by the permutation that maps its last state to ``target``.

    An automorphism maps a trace from the initial state (which it fixes) to a
    trace; its labels are found again by expanding each state.
    """
    last = path[-1]
    for perm in itertools.permutations(range(canon.nb)):
        if canon.apply(last, perm) == target:
            break
    else:  # pragma: no cover
        raise AssertionError("the target is not in the orbit of the trace's last state")
    states = [canon.apply(s, perm) for s in path]
    labels = []
    for a, b in zip(states, states[1:]):
        out: list = []
        engine.successors(a, out)
        labels.append(next(label for label, nxt, _v in out if nxt == b))
    return labels, states
