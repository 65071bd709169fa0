"""Evaluation of the TLA+ subset the specs use: initial states, successors, invariants."""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from checker.tla.errors import TlaError
from checker.tla.module import Config, Module, operator_names
from checker.tla.values import (
    DiffSet, Fn, FunSet, NatSet, PowerSet, RecordSet, UnionSet, check_same_kind, as_sequence, sorted_values, finite, member,
)


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
        for n in operator_names(self.m.defs[name].definiens):
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
            values = sorted_values(self.eval(s, env, cur, nxt))
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
            check_same_kind(*vals)
            return vals[0] == vals[1]
        if op in ("#", "/="):
            check_same_kind(*vals)
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
            return Fn({i + 1: v for i, v in enumerate(as_sequence(a) + as_sequence(b))})
        if op == "Len":
            return len(as_sequence(vals[0]))
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
                    for val in sorted_values(self.eval(args[1], env, cur if not init else nxt, nxt)):
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




