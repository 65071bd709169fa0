"""`checker tla-states`: explore a TLA+ spec of models/tla without TLC.

The specs in ``models/tla`` are meant for TLC, which needs Java and
``tla2tools.jar``.  Where the jar cannot be had (it is not on any package
registry this project can reach), this command gives the same answer for
the small part of TLA+ those specs use: it parses the module with the `tla`
package from PyPI, enumerates the initial states and the successors of
``Next`` the way TLC does (a primed variable's first equality assigns it,
later ones test it), checks the configuration's invariants on every state
and reports a deadlock, and prints the number of distinct states: the figure
to compare with ``checker explore PROTOCOL --memory-model sc``.

Properties of the form ``P ~> Q`` are checked too, under the spec's weak
fairness, on the whole state graph (a fair cycle of not-Q states reachable
from a P state is a violation).

It is a cross-check, not a replacement for TLC: no other temporal formulas,
no strong fairness, no symmetry, no fingerprints, and anything outside the
supported subset is a one-line error rather than a guess.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from pathlib import Path
from typing import Any, Iterator

import click

# The standard modules these specs may extend, with the names each defines:
# a spec that defines one of them again is rejected, as SANY rejects it.
STANDARD_MODULES = {
    "Naturals": {"Nat"},
    "Integers": {"Nat", "Int"},
    "FiniteSets": {"IsFiniteSet", "Cardinality"},
    "Sequences": {"Seq", "Len", "Append", "Head", "Tail", "SubSeq", "SelectSeq"},
    "TLC": {"Print", "PrintT", "Assert", "JavaTime", "TLCGet", "TLCSet", "Permutations", "SortSeq",
            "RandomElement", "Any", "ToString", "TLCEval"},
}


class TlaError(Exception):
    """The spec or its configuration is outside what this explorer handles."""


# ---------------------------------------------------------------------------
# Values: ints, strings, booleans, frozensets, functions, and a few infinite
# sets that are only ever used on the right of \in.


class Fn:
    """A TLA+ function with a finite domain (hashable, immutable by convention)."""

    __slots__ = ("d", "_h")

    def __init__(self, d: dict) -> None:
        self.d = d
        self._h = None

    def __hash__(self) -> int:
        if self._h is None:
            self._h = hash(frozenset(self.d.items()))
        return self._h

    def __eq__(self, other) -> bool:
        return isinstance(other, Fn) and self.d == other.d

    def __repr__(self) -> str:
        return "[" + ", ".join(f"{k!r} |-> {v!r}" for k, v in sorted(self.d.items(), key=repr)) + "]"


class LazySet:
    def contains(self, x) -> bool:
        raise NotImplementedError


class NatSet(LazySet):
    def contains(self, x):
        return type(x) is int and x >= 0


class FunSet(LazySet):
    """[S -> T]"""

    def __init__(self, dom, cod) -> None:
        self.dom, self.cod = dom, cod

    def contains(self, x):
        return isinstance(x, Fn) and frozenset(x.d) == self.dom and all(member(v, self.cod) for v in x.d.values())


class PowerSet(LazySet):
    """SUBSET S"""

    def __init__(self, base) -> None:
        self.base = base

    def contains(self, x):
        return isinstance(x, frozenset) and all(member(v, self.base) for v in x)


class RecordSet(LazySet):
    """[a : S, b : T]"""

    def __init__(self, bounds: dict) -> None:
        self.bounds = bounds

    def contains(self, x):
        return (isinstance(x, Fn) and set(x.d) == set(self.bounds)
                and all(member(x.d[k], s) for k, s in self.bounds.items()))


class DiffSet(LazySet):
    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def contains(self, x):
        return member(x, self.a) and not member(x, self.b)


class UnionSet(LazySet):
    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def contains(self, x):
        return member(x, self.a) or member(x, self.b)


def member(x, s) -> bool:
    if isinstance(s, LazySet):
        return s.contains(x)
    if isinstance(s, frozenset):
        return x in s
    raise TlaError(f"\\in applied to a non-set {s!r}")


def finite(s) -> frozenset:
    if isinstance(s, frozenset):
        return s
    raise TlaError("cannot enumerate an infinite set")


def _sorted(s):
    return sorted(finite(s), key=lambda v: (type(v).__name__, repr(v)))


def _same_kind(a, b) -> None:
    if (type(a) is bool) != (type(b) is bool):
        raise TlaError(f"comparing {a!r} with {b!r}")


# ---------------------------------------------------------------------------
# Modules and configurations


class Module:
    def __init__(self, path: Path, seen: set | None = None) -> None:
        try:
            import tla
        except ImportError:
            raise TlaError("the TLA+ parser is not installed: pip install tla (or the test extra)") from None

        seen = set() if seen is None else seen
        text = _read(path)
        try:
            tree = _quiet(tla.parse, text)
        except Exception:  # the parser reports every kind of bad input by raising
            raise TlaError(f"{path}: TLA+ syntax error") from None
        if tree is None:
            raise TlaError(f"{path}: not a TLA+ module")
        self.name = tree.name
        self.defs: dict[str, Any] = {}
        self.constants: list[str] = []
        self.variables: list[str] = []
        self.assumptions: list = []
        self.standard_names: dict[str, str] = {}  # name -> the standard module defining it
        for ext in tree.extendees or ():
            name = ext.operator
            if name in STANDARD_MODULES:
                self.standard_names.update(dict.fromkeys(STANDARD_MODULES[name], name))
                continue
            if name in seen:
                continue
            seen.add(name)
            sub = Module(path.parent / f"{name}.tla", seen)
            self.standard_names.update(sub.standard_names)
            for d in sub.defs:
                if d in self.defs:
                    raise TlaError(f"{path}: {d} is defined in two extended modules")
            self.defs.update(sub.defs)
            self.constants += sub.constants
            self.variables += sub.variables
            self.assumptions += sub.assumptions
        inherited = set(self.defs)
        announced: set[str] = set()  # RECURSIVE names, usable before their definition
        for unit in tree.units or ():
            kind = type(unit).__name__
            if isinstance(unit, str):
                continue  # a separator line
            if kind == "RecursiveOperators":
                announced.update(n.operator for n in unit.names)
                continue
            if kind in ("OperatorDefinition", "Axiom"):
                # SANY reads a module top to bottom: a name must be defined
                # (or announced RECURSIVE) before it is used.
                body = unit.definiens if kind == "OperatorDefinition" else unit.expression
                for name in _names(body):
                    if name in own_later(tree, unit) and name not in announced:
                        raise TlaError(f"{path}:{unit.start.line + 1}: {name} is used before its definition")
            if kind == "OperatorDefinition":
                if unit.name in self.defs:
                    raise TlaError(f"{path}:{unit.start.line + 1}: {unit.name} is defined twice")
                self.defs[unit.name] = unit
            elif kind == "Constants":
                self.constants += [n.operator for n in unit.names]
            elif kind == "Variables":
                self.variables += [n.operator for n in unit.names]
            elif kind == "Axiom":
                self.assumptions.append(unit.expression)
            else:
                raise TlaError(f"{path}: {kind} is not supported here")
        clashes = sorted(set(self.defs) & set(self.standard_names))
        if clashes:
            name = clashes[0]
            raise TlaError(f"{path}: {name} is also defined by the standard module {self.standard_names[name]}")
        # SANY also rejects a parameter or bound name that reuses a defined one.
        taken = set(self.defs) | set(self.constants) | set(self.variables) | set(self.standard_names)
        for name, d in self.defs.items():
            if name in inherited:
                continue
            for bound, line in _binders(d):
                if bound in taken:
                    raise TlaError(f"{path}:{line + 1}: {bound} is bound here but already defined")


def own_later(tree, unit) -> set[str]:
    """Names the module itself defines at or after ``unit``."""
    units = [u for u in tree.units or () if type(u).__name__ == "OperatorDefinition"]
    key = id(tree)
    cache = _LATER.setdefault(key, {})
    if id(unit) not in cache:
        names: set[str] = set()
        later: dict[int, set[str]] = {}
        for u in reversed(units):
            names = names | {u.name}
            later[id(u)] = set(names)
        pos = {id(u): i for i, u in enumerate(tree.units or ())}
        for u in tree.units or ():
            if id(u) not in later:
                # an ASSUME: the definitions after it
                after = [v for v in units if pos[id(v)] > pos[id(u)]]
                later[id(u)] = {v.name for v in after}
        cache.update(later)
    return cache[id(unit)]


_LATER: dict[int, dict[int, set[str]]] = {}


def _binders(node) -> Iterator[tuple[str, int]]:
    """Every name bound inside a definition: parameters, quantified and LET names."""
    k = type(node).__name__
    if k == "OperatorDefinition":
        for p in node.arity or ():
            if hasattr(p, "operator"):
                yield p.operator, p.start.line
    decls = []
    if k == "Quantification" or k == "SetComprehension":
        decls = node.declarations
    elif k == "Function":
        decls = node.declaration
    elif k in ("SetSlice", "Choose"):
        decls = [node.declaration]
    for d in decls or ():
        if type(d).__name__ == "OperatorApplication" and d.operator == "\\in":
            for n in d.arguments[:-1]:
                yield n.operator, n.start.line
    if k == "Let":
        for d in node.definitions:
            yield d.name, d.start.line
    if hasattr(node, "_fields") and hasattr(node, "symbol"):
        for f in node._fields:
            if not (k == "OperatorDefinition" and f == "arity"):
                yield from _binders(getattr(node, f))
    elif isinstance(node, (list, tuple)):
        for x in node:
            yield from _binders(x)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise TlaError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TlaError(f"{path} is not a text file") from None


def _quiet(fn, *args):
    """The parser prints its diagnostics; a syntax error is reported in one line instead."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


_CFG_KEYWORDS = {"CONSTANT", "CONSTANTS", "INIT", "NEXT", "SPECIFICATION", "INVARIANT", "INVARIANTS",
                 "PROPERTY", "PROPERTIES", "CHECK_DEADLOCK", "SYMMETRY", "CONSTRAINT", "CONSTRAINTS"}


class Config:
    def __init__(self, path: Path) -> None:
        text = _read(path)
        text = re.sub(r"\\\*[^\n]*", "", text)
        text = re.sub(r"\(\*.*?\*\)", "", text, flags=re.S)
        tokens = re.findall(r'"[^"]*"|<-|[A-Za-z_][A-Za-z0-9_]*|-?\d+|=|\S', text)
        self.constants: dict[str, tuple[str, Any]] = {}
        self.specification = self.init = self.next = None
        self.invariants: list[str] = []
        self.properties: list[str] = []
        self.check_deadlock = True
        section = None
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok in _CFG_KEYWORDS:
                section = tok
                if tok in ("SYMMETRY", "CONSTRAINT", "CONSTRAINTS"):
                    raise TlaError(f"{path}: {tok} is not supported here")
                if tok == "CHECK_DEADLOCK":
                    if i + 1 >= len(tokens) or tokens[i + 1] not in ("TRUE", "FALSE"):
                        raise TlaError(f"{path}: CHECK_DEADLOCK takes TRUE or FALSE")
                    self.check_deadlock = tokens[i + 1] == "TRUE"
                    i += 1
                i += 1
                continue
            if section in ("CONSTANT", "CONSTANTS"):
                if i + 2 >= len(tokens):
                    raise TlaError(f"{path}: incomplete constant binding {tok}")
                op, val = tokens[i + 1], tokens[i + 2]
                if op == "=":
                    self.constants[tok] = ("value", _cfg_value(val, path))
                elif op == "<-":
                    self.constants[tok] = ("def", val)
                else:
                    raise TlaError(f"{path}: cannot read the binding of {tok}")
                i += 3
                continue
            if section in ("SPECIFICATION", "INIT", "NEXT"):
                setattr(self, section.lower(), tok)
            elif section in ("INVARIANT", "INVARIANTS"):
                self.invariants.append(tok)
            elif section in ("PROPERTY", "PROPERTIES"):
                self.properties.append(tok)
            else:
                raise TlaError(f"{path}: unexpected {tok!r}")
            i += 1


def _cfg_value(tok: str, path: Path):
    if tok.startswith('"'):
        return tok[1:-1]
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    if tok in ("TRUE", "FALSE"):
        return tok == "TRUE"
    raise TlaError(f"{path}: model value {tok} is not supported here")


# ---------------------------------------------------------------------------
# Evaluation


class _Thunk:
    __slots__ = ("node", "env", "value", "done")

    def __init__(self, node, env) -> None:
        self.node, self.env, self.done, self.value = node, env, False, None


_ARITH = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "%": lambda a, b: a % b,
    "\\div": lambda a, b: a // b,
    "^": lambda a, b: a ** b,
}
_CMP = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "=<": lambda a, b: a <= b,
        "\\leq": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        "\\geq": lambda a, b: a >= b}


class Spec:
    """A module bound to a configuration: initial states, successors, invariants."""

    def __init__(self, module: Module, config: Config) -> None:
        self.m = module
        self.cfg = config
        self.vars = module.variables
        self.var_set = set(self.vars)
        self.consts: dict[str, Any] = {}
        for name in module.constants:
            if name not in config.constants:
                raise TlaError(f"constant {name} is not bound by the configuration")
        for name, (kind, val) in config.constants.items():
            if name not in module.constants:
                raise TlaError(f"the configuration binds {name}, which the module does not declare")
            if kind == "value":
                self.consts[name] = val
        self._const_cache: dict[str, Any] = {}
        self._unchanged: dict[int, list[str]] = {}  # UNCHANGED's syntax node -> its variables
        self._const_level: dict[str, bool] = {}
        for name, (kind, val) in config.constants.items():
            if kind == "def":
                if val not in module.defs:
                    raise TlaError(f"{name} <- {val}: no definition {val}")
                self.consts[name] = self.eval(module.defs[val].definiens, {}, None, None)
        for a in module.assumptions:
            if self.eval(a, {}, None, None) is not True:
                raise TlaError("an ASSUME of the module does not hold for these constants")
        init, nxt = config.init, config.next
        self.weak_fair: list = []  # actions A of the spec's WF_vars(A) conjuncts
        if config.specification:
            init, nxt = self._split_spec(config.specification)
        if not init or not nxt:
            raise TlaError("the configuration names neither SPECIFICATION nor INIT and NEXT")
        self.init_name, self.next_name = init, nxt
        for name in config.invariants:
            if name not in module.defs:
                raise TlaError(f"invariant {name} is not defined")
        self.leads_to: dict[str, tuple] = {}
        for name in config.properties:
            if name not in module.defs:
                raise TlaError(f"property {name} is not defined")
            body = module.defs[name].definiens
            while type(body).__name__ == "Parentheses":
                body = body.expression
            if type(body).__name__ != "OperatorApplication" or body.operator != "~>":
                raise TlaError(f"property {name}: only P ~> Q is supported here")
            self.leads_to[name] = tuple(body.arguments)

    def _split_spec(self, name):
        if name not in self.m.defs:
            raise TlaError(f"specification {name} is not defined")
        conj = []

        def flatten(n):
            k = type(n).__name__
            if k == "VerticalList" and n.operator == "/\\":
                for it in n.arguments:
                    flatten(it.expression)
            elif k == "OperatorApplication" and n.operator == "/\\" and n.arguments:
                for a in n.arguments:
                    flatten(a)
            elif k == "Parentheses":
                flatten(n.expression)
            else:
                conj.append(n)

        flatten(self.m.defs[name].definiens)
        init = nxt = None
        for c in conj:
            k = type(c).__name__
            if k == "Fairness":
                if c.operator != "WF_":
                    raise TlaError(f"{name}: only weak fairness (WF_) is supported here")
                self.weak_fair.append(c.action)
            elif k == "OperatorApplication" and not c.arguments and init is None:
                init = c.operator
            elif k == "OperatorApplication" and c.operator == "[]" and c.arguments:
                act = c.arguments[0]
                if type(act).__name__ == "SubscriptedAction":
                    a = act.action
                    if type(a).__name__ == "OperatorApplication" and not a.arguments:
                        nxt = a.operator
        if init is None or nxt is None:
            raise TlaError(f"{name} is not of the form Init /\\ [][Next]_vars /\\ fairness")
        return init, nxt

    # -- expressions --------------------------------------------------------

    def lookup(self, name, args, env, cur, nxt, node):
        if name in env and not args:
            v = env[name]
            if isinstance(v, _Thunk):
                if not v.done:
                    v.value = self.eval(v.node, v.env, cur, nxt)
                    v.done = True
                return v.value
            return v
        if not args:
            if name in self.var_set:
                if cur is None:
                    raise TlaError(f"variable {name} used in a constant expression")
                if name not in cur:
                    raise TlaError(f"variable {name} read before Init gives it a value")
                return cur[name]
            if name in self.consts:
                return self.consts[name]
            if name == "TRUE":
                return True
            if name == "FALSE":
                return False
            if name == "Nat":
                return NatSet()
            if name == "BOOLEAN":
                return frozenset((True, False))
        if name in self.m.defs:
            d = self.m.defs[name]
            params = [p.operator for p in (d.arity or [])]
            if len(params) != len(args or ()):
                raise TlaError(f"{name} takes {len(params)} arguments")
            if not params:
                if self._is_const_level(name):
                    if name not in self._const_cache:
                        self._const_cache[name] = self.eval(d.definiens, {}, None, None)
                    return self._const_cache[name]
                return self.eval(d.definiens, {}, cur, nxt)
            vals = [self.eval(a, env, cur, nxt) for a in args]
            return self.eval(d.definiens, dict(zip(params, vals)), cur, nxt)
        if name == "Cardinality" and args and len(args) == 1:
            return len(finite(self.eval(args[0], env, cur, nxt)))
        raise TlaError(f"unknown name {name} (line {node.start.line})")

    def _is_const_level(self, name) -> bool:
        if name in self._const_level:
            return self._const_level[name]
        self._const_level[name] = False  # recursion guard
        result = True
        for n in _names(self.m.defs[name].definiens):
            if n in self.var_set or n == "'":
                result = False
                break
            if n in self.m.defs and not self._is_const_level(n):
                result = False
                break
        self._const_level[name] = result
        return result

    def eval(self, node, env, cur, nxt):
        k = type(node).__name__
        if k == "OperatorApplication":
            return self.apply(node, env, cur, nxt)
        if k == "IntegralNumeral":
            return int(node.value)
        if k == "StringLiteral":
            return node.value[1:-1]
        if k == "BooleanLiteral":
            return node.value == "TRUE"
        if k == "Parentheses":
            return self.eval(node.expression, env, cur, nxt)
        if k == "VerticalList":
            if node.operator == "/\\":
                return all(self._bool(it.expression, env, cur, nxt) for it in node.arguments)
            return any(self._bool(it.expression, env, cur, nxt) for it in node.arguments)
        if k == "If":
            c = self._bool(node.predicate, env, cur, nxt)
            return self.eval(node.then if c else node.else_, env, cur, nxt)
        if k == "Let":
            env2 = dict(env)
            for d in node.definitions:
                if d.arity:
                    raise TlaError("LET definitions with parameters are not supported here")
                env2[d.name] = _Thunk(d.definiens, env2)
            return self.eval(node.expression, env2, cur, nxt)
        if k == "SetEnumeration":
            return frozenset(self.eval(i, env, cur, nxt) for i in node.items)
        if k == "Tuple":
            return Fn({i + 1: self.eval(x, env, cur, nxt) for i, x in enumerate(node.items)})
        if k == "FunctionApplication":
            f = self.eval(node.function, env, cur, nxt)
            if len(node.arguments) != 1:
                raise TlaError("multi-argument function application is not supported here")
            x = self.eval(node.arguments[0], env, cur, nxt)
            if not isinstance(f, Fn) or x not in f.d:
                raise TlaError(f"{x!r} is not in the domain of the function (line {node.start.line})")
            return f.d[x]
        if k == "Function":
            out = {}
            for binding in self._bindings(node.declaration, env, cur, nxt):
                key = binding[0][1] if len(binding) == 1 else Fn({i + 1: v for i, (_, v) in enumerate(binding)})
                out[key] = self.eval(node.value, {**env, **dict(binding)}, cur, nxt)
            return Fn(out)
        if k == "Except":
            f = self.eval(node.function, env, cur, nxt)
            if not isinstance(f, Fn):
                raise TlaError("EXCEPT on a non-function")
            d = dict(f.d)
            for ch in node.changes:
                path = ch.item
                if len(path) != 1 or len(path[0]) != 1:
                    raise TlaError("only one-level ![x] = e changes are supported here")
                key = self.eval(path[0][0], env, cur, nxt)
                if key in d:
                    d[key] = self.eval(ch.expression, {**env, "@": d[key]}, cur, nxt)
            return Fn(d)
        if k == "Quantification":
            test = all if node.quantifier == "\\A" else any
            if node.quantifier not in ("\\A", "\\E"):
                raise TlaError(f"quantifier {node.quantifier} is not supported here")
            return test(self._bool(node.predicate, {**env, **dict(b)}, cur, nxt)
                        for b in self._bindings(node.declarations, env, cur, nxt))
        if k == "Choose":
            for b in self._bindings([node.declaration], env, cur, nxt):
                if self._bool(node.predicate, {**env, **dict(b)}, cur, nxt):
                    return b[0][1]
            raise TlaError(f"CHOOSE has no value (line {node.start.line})")
        if k == "SetComprehension":
            return frozenset(self.eval(node.item, {**env, **dict(b)}, cur, nxt)
                             for b in self._bindings(node.declarations, env, cur, nxt))
        if k == "SetSlice":
            out = set()
            for b in self._bindings([node.declaration], env, cur, nxt):
                if self._bool(node.predicate, {**env, **dict(b)}, cur, nxt):
                    out.add(b[0][1])
            return frozenset(out)
        if k == "Record":
            return Fn({name: self.eval(e, env, cur, nxt) for name, e in node.key_values})
        if k == "Field":
            r = self.eval(node.expression, env, cur, nxt)
            if not isinstance(r, Fn) or node.name not in r.d:
                raise TlaError(f"no field {node.name} (line {node.start.line})")
            return r.d[node.name]
        if k == "SetOfRecords":
            return RecordSet({kb.name: self.eval(kb.bound, env, cur, nxt) for kb in node.key_bounds})
        if k == "SetOfFunctions":
            return FunSet(finite(self.eval(node.domain, env, cur, nxt)), self.eval(node.codomain, env, cur, nxt))
        raise TlaError(f"{k} is not supported here (line {node.start.line})")

    def _bool(self, node, env, cur, nxt) -> bool:
        v = self.eval(node, env, cur, nxt)
        if type(v) is not bool:
            raise TlaError(f"expected a boolean at line {node.start.line}, got {v!r}")
        return v

    def _bindings(self, decls, env, cur, nxt) -> Iterator[list]:
        """Every assignment of the bound names of `x \\in S, y \\in T`."""
        names_sets = []
        for d in decls:
            if type(d).__name__ != "OperatorApplication" or d.operator != "\\in":
                raise TlaError("only bounded quantifiers `x \\in S` are supported here")
            *names, s = d.arguments
            values = _sorted(self.eval(s, env, cur, nxt))
            for n in names:
                names_sets.append((n.operator, values))
        for combo in itertools.product(*(vals for _, vals in names_sets)):
            yield [(n, v) for (n, _), v in zip(names_sets, combo)]

    def apply(self, node, env, cur, nxt):
        op, args = node.operator, node.arguments
        if not args:
            return self.lookup(op, None, env, cur, nxt, node)
        if op == "'":
            target = args[0]
            if (type(target).__name__ != "OperatorApplication" or target.arguments
                    or target.operator not in self.var_set):
                raise TlaError(f"only variables may be primed here (line {node.start.line})")
            if nxt is None or target.operator not in nxt:
                raise TlaError(f"{target.operator}' read before it is given a value (line {node.start.line})")
            return nxt[target.operator]
        if op == "/\\":
            return all(self._bool(a, env, cur, nxt) for a in args)
        if op == "\\/":
            return any(self._bool(a, env, cur, nxt) for a in args)
        if op == "=>":
            return (not self._bool(args[0], env, cur, nxt)) or self._bool(args[1], env, cur, nxt)
        if op in ("~", "\\lnot", "\\neg"):
            return not self._bool(args[0], env, cur, nxt)
        if op == "<=>" or op == "\\equiv":
            return self._bool(args[0], env, cur, nxt) == self._bool(args[1], env, cur, nxt)
        if op in self.m.defs or op == "Cardinality":
            return self.lookup(op, args, env, cur, nxt, node)
        vals = [self.eval(a, env, cur, nxt) for a in args]
        if op == "=":
            _same_kind(*vals)
            return vals[0] == vals[1]
        if op in ("#", "/="):
            _same_kind(*vals)
            return vals[0] != vals[1]
        if op in _ARITH:
            if len(vals) == 1 and op == "-":
                return -vals[0]
            a, b = vals
            if type(a) is not int or type(b) is not int:
                raise TlaError(f"arithmetic on non-integers at line {node.start.line}")
            if op in ("%", "\\div") and b <= 0:
                raise TlaError(f"{op} by {b} at line {node.start.line}")
            return _ARITH[op](a, b)
        if op in _CMP:
            return _CMP[op](*vals)
        if op == "..":
            return frozenset(range(vals[0], vals[1] + 1))
        if op == "\\in":
            return member(vals[0], vals[1])
        if op == "\\notin":
            return not member(vals[0], vals[1])
        if op in ("\\cup", "\\union"):
            a, b = vals
            if isinstance(a, frozenset) and isinstance(b, frozenset):
                return a | b
            return UnionSet(a, b)
        if op in ("\\cap", "\\intersect"):
            return finite(vals[0]) & finite(vals[1])
        if op == "\\":
            a, b = vals
            if isinstance(a, frozenset):
                return a - finite(b)
            return DiffSet(a, b)
        if op == "\\o":
            a, b = vals
            if isinstance(a, str) and isinstance(b, str):
                return a + b
            return Fn({i + 1: v for i, v in enumerate(_seq(a) + _seq(b))})
        if op == "Len":
            return len(_seq(vals[0]))
        if op == "SUBSET":
            return PowerSet(vals[0])
        if op == "\\subseteq":
            return all(member(x, vals[1]) for x in finite(vals[0]))
        raise TlaError(f"operator {op} is not supported here (line {node.start.line})")

    # -- actions: enumerate the assignments of primed variables -------------

    def act(self, node, env, cur, nxt: dict, init: bool) -> Iterator[dict]:
        k = type(node).__name__
        if k == "VerticalList":
            parts = [it.expression for it in node.arguments]
            if node.operator == "/\\":
                yield from self._conj(parts, env, cur, nxt, init)
            else:
                for p in parts:
                    yield from self.act(p, env, cur, nxt, init)
            return
        if k == "Parentheses":
            yield from self.act(node.expression, env, cur, nxt, init)
            return
        if k == "If":
            c = self._bool(node.predicate, env, cur if not init else nxt, nxt)
            yield from self.act(node.then if c else node.else_, env, cur, nxt, init)
            return
        if k == "Let":
            env2 = dict(env)
            for d in node.definitions:
                if d.arity:
                    raise TlaError("LET definitions with parameters are not supported here")
                env2[d.name] = _Thunk(d.definiens, env2)
            yield from self.act(node.expression, env2, cur, nxt, init)
            return
        if k == "Quantification" and node.quantifier == "\\E":
            for b in self._bindings(node.declarations, env, cur if not init else nxt, nxt):
                yield from self.act(node.predicate, {**env, **dict(b)}, cur, nxt, init)
            return
        if k == "OperatorApplication":
            op, args = node.operator, node.arguments
            if op == "/\\" and args:
                yield from self._conj(list(args), env, cur, nxt, init)
                return
            if op == "\\/" and args:
                for a in args:
                    yield from self.act(a, env, cur, nxt, init)
                return
            if op == "UNCHANGED":
                if init:
                    raise TlaError("UNCHANGED in Init")
                out = dict(nxt)
                for v in self._vars_of(args[0]):
                    if v in out:
                        if out[v] != cur[v]:
                            return
                    else:
                        out[v] = cur[v]
                yield out
                return
            if op == "=" and args:
                var = self._assignable(args[0], init)
                if var is not None and var not in nxt:
                    val = self.eval(args[1], env, cur if not init else nxt, nxt)
                    yield {**nxt, var: val}
                    return
            if op == "\\in" and args:
                var = self._assignable(args[0], init)
                if var is not None and var not in nxt:
                    for val in _sorted(self.eval(args[1], env, cur if not init else nxt, nxt)):
                        yield {**nxt, var: val}
                    return
            if op in self.m.defs and op not in env:
                d = self.m.defs[op]
                params = [p.operator for p in (d.arity or [])]
                if len(params) != len(args or ()):
                    raise TlaError(f"{op} takes {len(params)} arguments")
                vals = [self.eval(a, env, cur if not init else nxt, nxt) for a in (args or ())]
                yield from self.act(d.definiens, dict(zip(params, vals)), cur, nxt, init)
                return
        # Anything else is a condition on the current and next state.
        if self._bool(node, env, cur if not init else nxt, nxt):
            yield nxt

    def _conj(self, parts, env, cur, nxt, init):
        if not parts:
            yield nxt
            return
        for n2 in self.act(parts[0], env, cur, nxt, init):
            yield from self._conj(parts[1:], env, cur, n2, init)

    def _assignable(self, node, init):
        if type(node).__name__ != "OperatorApplication":
            return None
        if init and not node.arguments and node.operator in self.var_set:
            return node.operator
        if not init and node.operator == "'" and node.arguments:
            t = node.arguments[0]
            if type(t).__name__ == "OperatorApplication" and not t.arguments and t.operator in self.var_set:
                return t.operator
        return None

    def _vars_of(self, node) -> list[str]:
        key = id(node)
        if key not in self._unchanged:
            self._unchanged[key] = self._collect_vars(node)
        return self._unchanged[key]

    def _collect_vars(self, node) -> list[str]:
        k = type(node).__name__
        if k == "Tuple":
            return [v for item in node.items for v in self._collect_vars(item)]
        if k == "Parentheses":
            return self._collect_vars(node.expression)
        if k == "OperatorApplication" and not node.arguments:
            if node.operator in self.var_set:
                return [node.operator]
            if node.operator in self.m.defs:
                return self._collect_vars(self.m.defs[node.operator].definiens)
        raise TlaError(f"UNCHANGED of something that is not a tuple of variables (line {node.start.line})")

    # -- states -------------------------------------------------------------

    def _complete(self, assignment: dict, what: str) -> tuple:
        missing = [v for v in self.vars if v not in assignment]
        if missing:
            raise TlaError(f"{what} leaves {', '.join(missing)} without a value")
        return tuple(assignment[v] for v in self.vars)

    def initial_states(self) -> list[tuple]:
        d = self.m.defs.get(self.init_name)
        if d is None:
            raise TlaError(f"{self.init_name} is not defined")
        return list(dict.fromkeys(self._complete(a, "Init") for a in self.act(d.definiens, {}, None, {}, True)))

    def successors(self, state: tuple) -> list[tuple]:
        cur = dict(zip(self.vars, state))
        d = self.m.defs[self.next_name]
        return [self._complete(a, "a step of Next") for a in self.act(d.definiens, {}, cur, {}, False)]

    def holds(self, pred, state: tuple) -> bool:
        return self._bool(pred, {}, dict(zip(self.vars, state)), None)

    def fair_successors(self, state: tuple) -> list[set]:
        """For each WF_vars(A) of the spec, the states an A step leads to."""
        cur = dict(zip(self.vars, state))
        # A step that changes nothing is a stutter, not an <<A>>_vars step.
        return [{self._complete(a, "a step of a fair action") for a in self.act(node, {}, cur, {}, False)} - {state}
                for node in self.weak_fair]

    def check(self, state: tuple) -> str | None:
        cur = dict(zip(self.vars, state))
        for name in self.cfg.invariants:
            if self.eval(self.m.defs[name].definiens, {}, cur, None) is not True:
                return name
        return None


def _seq(v) -> list:
    if not isinstance(v, Fn) or set(v.d) != set(range(1, len(v.d) + 1)):
        raise TlaError(f"{v!r} is not a sequence")
    return [v.d[i] for i in range(1, len(v.d) + 1)]


def _names(node) -> Iterator[str]:
    if hasattr(node, "_fields") and hasattr(node, "symbol"):
        if type(node).__name__ == "OperatorApplication":
            yield node.operator
        for f in node._fields:
            yield from _names(getattr(node, f))
    elif isinstance(node, (list, tuple)):
        for x in node:
            yield from _names(x)


class Outcome:
    def __init__(self) -> None:
        self.states = 0
        self.violated: str | None = None  # an invariant, or "deadlock"
        self.depth = 0
        self.complete = False
        self.properties_checked: list[str] = []
        self.properties_failed: list[str] = []


def explore_tla(module_path: str | Path, config_path: str | Path | None = None,
                max_states: int | None = None) -> Outcome:
    """Breadth-first search of a spec under a configuration (TLC's defaults)."""
    module_path = Path(module_path)
    config_path = Path(config_path) if config_path else module_path.with_suffix(".cfg")
    spec = Spec(Module(module_path), Config(config_path))
    out = Outcome()
    keep_graph = bool(spec.leads_to)
    edges: dict[tuple, list] = {}
    seen: dict[tuple, int] = {}
    queue: deque = deque()
    for s in spec.initial_states():
        if s not in seen:
            seen[s] = 0
            queue.append(s)
            bad = spec.check(s)
            if bad:
                out.violated = bad
                out.states = len(seen)
                return out
    while queue:
        s = queue.popleft()
        d = seen[s]
        succ = spec.successors(s)
        if keep_graph:
            edges[s] = succ
        if not succ and spec.cfg.check_deadlock:
            out.violated = "deadlock"
            break
        for t in succ:
            if t in seen:
                continue
            seen[t] = d + 1
            out.depth = max(out.depth, d + 1)
            bad = spec.check(t)
            if bad:
                out.violated = bad
                out.states = len(seen)
                return out
            if max_states is not None and len(seen) >= max_states:
                out.states = len(seen)
                return out
            queue.append(t)
    out.states = len(seen)
    out.complete = out.violated is None
    if out.complete:
        for name, (p, q) in spec.leads_to.items():
            if not _leads_to_holds(spec, edges, p, q):
                out.violated = name
                out.properties_failed.append(name)
                out.complete = False
                break
            out.properties_checked.append(name)
    return out


def _leads_to_holds(spec: Spec, edges: dict, p, q) -> bool:
    """P ~> Q under the spec's weak fairness, over the whole state graph.

    It fails when a behaviour can reach a P state and then stay among not-Q
    states forever while being fair: a strongly connected set of not-Q
    states (or one state, stuttering) in which every WF action is disabled
    somewhere or taken somewhere.
    """
    not_q = {s for s in edges if not spec.holds(q, s)}
    start = [s for s in not_q if spec.holds(p, s)]
    reach: set = set()
    stack = list(start)
    while stack:
        s = stack.pop()
        if s in reach:
            continue
        reach.add(s)
        stack.extend(t for t in edges[s] if t in not_q and t not in reach)
    if not reach:
        return True
    fair_succ = {s: spec.fair_successors(s) for s in reach}
    # Stuttering forever in s is fair when every WF action is disabled there.
    if any(all(not f for f in fair_succ[s]) for s in reach):
        return False
    for comp in _sccs(reach, {s: [t for t in edges[s] if t in reach] for s in reach}):
        members = set(comp)
        if len(comp) == 1 and comp[0] not in edges[comp[0]]:
            continue  # no cycle
        if _fair_component(members, fair_succ, len(spec.weak_fair)):
            return False
    return True


def _fair_component(members: set, fair_succ: dict, nfair: int) -> bool:
    """Can a cycle through every state of the component satisfy each WF?"""
    for i in range(nfair):
        disabled = any(not fair_succ[s][i] for s in members)
        taken = any(t in members and t != s for s in members for t in fair_succ[s][i])
        if not (disabled or taken):
            return False
    return True


def _sccs(nodes: set, succ: dict) -> list[list]:
    """Tarjan's strongly connected components, iteratively."""
    index: dict = {}
    low: dict = {}
    on_stack: set = set()
    stack: list = []
    out: list[list] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    advanced = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def register(cli) -> None:
    from checker.cli import Fail

    @cli.command("tla-states")
    @click.argument("module", type=click.Path(dir_okay=False))
    @click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
                  help="TLC configuration (default: MODULE with .cfg)")
    @click.option("--max-states", type=int, default=None, help="stop after this many distinct states (exit 3)")
    def tla_states(module, config, max_states):
        """Explore a models/tla spec without TLC and count its distinct states.

        Handles the subset of TLA+ the specs in models/tla use; checks the
        configuration's invariants and deadlock, not its temporal properties.
        """
        try:
            out = explore_tla(module, config, max_states)
        except TlaError as exc:
            raise Fail(str(exc)) from None
        except (TypeError, AttributeError, KeyError, IndexError) as exc:
            # A construct of a shape this explorer does not expect.
            raise Fail(f"the spec uses TLA+ that tla-states does not handle ({type(exc).__name__}: {exc})") from None
        except RecursionError:
            raise Fail("the spec nests too deeply for this explorer") from None
        click.echo(f"{out.states} distinct states, depth {out.depth}")
        if out.violated == "deadlock":
            click.echo("deadlock reached")
            raise SystemExit(1)
        if out.violated in out.properties_failed:
            click.echo(f"property {out.violated} is violated")
            raise SystemExit(1)
        if out.violated:
            click.echo(f"invariant {out.violated} is violated")
            raise SystemExit(1)
        if not out.complete:
            click.echo("search incomplete: state limit reached")
            raise SystemExit(3)
        click.echo("no invariant violated (exhaustive)")
        for name in out.properties_checked:
            click.echo(f"property {name} holds")
