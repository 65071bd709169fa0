"""IR expressions as z3 terms.

The compiler keeps, for every expression, the Python source it generated
(``Expr.src``, over ``L[i]``) and, for ghost code, the source of the ghost
function (``Ghost.code``).  That source is a small, fixed grammar (integer
constants, ``L[i]``, ``G[_gidx(base, len, i)]``, arithmetic that the compiler
already masks to 32 bits, comparisons, ``x if c else y``, ``and``/``or``,
``min``/``max``), so we translate its AST into 32-bit bit-vector terms with
*unsigned* semantics: ``//`` and ``%`` are UDiv/URem, ``>>`` is a logical shift,
comparisons are unsigned.  Python's ``x // 0`` raises, so every division
yields a side condition "divisor is not 0" that the caller proves.

Constants that stand for a parameter (``SLOTS`` compiled as a marker value)
are mapped back to z3 variables through ``consts``.
"""

from __future__ import annotations

import ast
from typing import Callable

import z3

MASK = 0xFFFFFFFF
W = 32


class Unsupported(Exception):
    """Source the translator does not understand (a compiler change, or ghost code reading ghost state)."""


def bv(v: int) -> z3.BitVecRef:
    return z3.BitVecVal(v & MASK, W)


def truth(x) -> z3.BoolRef:
    return x if z3.is_bool(x) else x != 0


def as_bv(x) -> z3.BitVecRef:
    return z3.If(x, bv(1), bv(0)) if z3.is_bool(x) else x


class Translator:
    """Translate generated sources; ``L`` maps local index to term, ``G`` (optional) ghost reads."""

    def __init__(self, L, consts: dict[int, z3.BitVecRef] | None = None,
                 ghost: Callable[[int, int | None, z3.BitVecRef], z3.BitVecRef] | None = None):
        self.L = L
        self.consts = consts or {}
        self.ghost = ghost
        self.side: list[z3.BoolRef] = []  # conditions for the expression to be defined (divisors non-zero)
        self.names: dict[str, z3.BitVecRef] = {}  # ghost loop variables
        # Parameters known to be powers of two (e.g. RING): ``x % d`` is
        # ``x & (d - 1)`` for them, which z3 decides far faster than a divider.
        self.pow2: list[z3.BitVecRef] = []

    def expr(self, src: str) -> z3.BitVecRef:
        return as_bv(self.node(ast.parse(src, mode="eval").body))

    def cond(self, src: str) -> z3.BoolRef:
        return truth(self.node(ast.parse(src, mode="eval").body))

    # -- nodes ---------------------------------------------------------------

    def node(self, n):
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            v = int(n.value)
            if v in self.consts:
                return self.consts[v]
            return bv(v)
        if isinstance(n, ast.Name) and n.id in self.names:
            return self.names[n.id]
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name):
            if n.value.id == "L" and isinstance(n.slice, ast.Constant):
                return self.L[n.slice.value]
            if n.value.id == "G":
                return self.ghost_read(n.slice)
        if isinstance(n, ast.BinOp):
            a, b = as_bv(self.node(n.left)), as_bv(self.node(n.right))
            op = type(n.op)
            if op is ast.Add:
                return a + b
            if op is ast.Sub:
                return a - b
            if op is ast.Mult:
                return a * b
            if op is ast.BitAnd:
                return a & b
            if op is ast.BitOr:
                return a | b
            if op is ast.BitXor:
                return a ^ b
            if op is ast.LShift:
                # Python shifts unbounded then masks; z3 gives 0 for shifts >= 32, as the mask would.
                return a << b
            if op is ast.RShift:
                return z3.LShR(a, b)
            if op is ast.FloorDiv:
                self.side.append(b != 0)
                return z3.UDiv(a, b)
            if op is ast.Mod:
                self.side.append(b != 0)
                if any(b.eq(t) for t in self.pow2):
                    return a & (b - 1)
                return z3.URem(a, b)
        if isinstance(n, ast.UnaryOp):
            v = self.node(n.operand)
            if isinstance(n.op, ast.Not):
                return z3.Not(truth(v))
            if isinstance(n.op, ast.Invert):
                return ~as_bv(v)
            if isinstance(n.op, ast.USub):
                return -as_bv(v)
        if isinstance(n, ast.IfExp):
            t = truth(self.node(n.test))
            a, b = self.node(n.body), self.node(n.orelse)
            if z3.is_bool(a) and z3.is_bool(b):
                return z3.If(t, a, b)
            return z3.If(t, as_bv(a), as_bv(b))
        if isinstance(n, ast.BoolOp):
            # Python's `and`/`or` return an operand; the generated code only
            # tests their truth, but keep the value semantics anyway.
            vals = [self.node(v) for v in n.values]
            if all(z3.is_bool(v) for v in vals):
                return z3.And(*vals) if isinstance(n.op, ast.And) else z3.Or(*vals)
            acc = as_bv(vals[-1])
            for v in reversed(vals[:-1]):
                bvv = as_bv(v)
                acc = z3.If(truth(v), acc, bvv) if isinstance(n.op, ast.And) else z3.If(truth(v), bvv, acc)
            return acc
        if isinstance(n, ast.Compare):
            left = as_bv(self.node(n.left))
            out = []
            for op, right in zip(n.ops, n.comparators):
                r = as_bv(self.node(right))
                t = type(op)
                if t is ast.Eq:
                    out.append(left == r)
                elif t is ast.NotEq:
                    out.append(left != r)
                elif t is ast.Lt:
                    out.append(z3.ULT(left, r))
                elif t is ast.LtE:
                    out.append(z3.ULE(left, r))
                elif t is ast.Gt:
                    out.append(z3.UGT(left, r))
                elif t is ast.GtE:
                    out.append(z3.UGE(left, r))
                else:
                    raise Unsupported(f"comparison {t.__name__}")
                left = r
            return out[0] if len(out) == 1 else z3.And(*out)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("min", "max"):
            args = [as_bv(self.node(a)) for a in n.args]
            acc = args[0]
            for a in args[1:]:
                acc = z3.If(z3.ULT(a, acc), a, acc) if n.func.id == "min" else z3.If(z3.UGT(a, acc), a, acc)
            return acc
        raise Unsupported(f"cannot translate {ast.unparse(n)}")

    def ghost_read(self, sl):
        if self.ghost is None:
            raise Unsupported("ghost code reads ghost state")
        if (isinstance(sl, ast.Call) and isinstance(sl.func, ast.Name) and sl.func.id == "_gidx"
                and len(sl.args) == 3):
            base = sl.args[0].value
            length = sl.args[1].value
            idx = as_bv(self.node(sl.args[2]))
            return self.ghost(base, length, idx)
        if isinstance(sl, ast.Constant):
            return self.ghost(sl.value, None, None)
        raise Unsupported(f"ghost index {ast.unparse(sl)}")


# ---------------------------------------------------------------------------
# Ghost code: the function body as a list of actions


def ghost_actions(code: str):
    """Parse ``def _ghost(G, L): ...`` into nested actions.

    Returns a list of ``("assert", prop, message, cond_node)``,
    ``("set", target_node, value_node)``, ``("if", test_node, then, else)`` and
    ``("for", var, range_args, body)`` tuples.
    """
    fn = ast.parse(code).body[0]
    return _stmts(fn.body)


def _stmts(body):
    out = []
    for s in body:
        if isinstance(s, ast.Pass):
            continue
        if (isinstance(s, ast.If) and len(s.body) == 1 and isinstance(s.body[0], ast.Raise)
                and isinstance(s.test, ast.UnaryOp) and isinstance(s.test.op, ast.Not) and not s.orelse):
            call = s.body[0].exc
            prop, msg = call.args[0].value, call.args[1].value
            out.append(("assert", prop, msg, s.test.operand))
        elif isinstance(s, ast.If):
            out.append(("if", s.test, _stmts(s.body), _stmts(s.orelse)))
        elif isinstance(s, ast.Assign):
            out.append(("set", s.targets[0], s.value))
        elif isinstance(s, ast.For):
            out.append(("for", s.target.id, s.iter.args, _stmts(s.body)))
        else:
            raise Unsupported(f"ghost statement {ast.unparse(s)}")
    return out
