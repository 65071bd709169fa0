"""TLA+ modules (parsed with the `tla` package) and TLC configurations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from checker.tla.errors import STANDARD_MODULES, TlaError


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
                for name in operator_names(body):
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

def operator_names(node) -> Iterator[str]:
    if hasattr(node, "_fields") and hasattr(node, "symbol"):
        if type(node).__name__ == "OperatorApplication":
            yield node.operator
        for f in node._fields:
            yield from operator_names(getattr(node, f))
    elif isinstance(node, (list, tuple)):
        for x in node:
            yield from operator_names(x)
