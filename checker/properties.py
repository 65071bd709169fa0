"""Which properties a model checks, derived from its code rather than trusted.

A verdict of "holds" means something only if the model contains a check for
that property.  The engine itself checks postmaster safety (an out-of-range
index in the postmaster), postmaster wait-freedom (the step bound and the
lasso search), deadlock freedom and memory safety for every model.  Every
other property is checked only where the model says so:

- an ``assert_(cond, "name")`` compiled into some thread's program (after
  mutations are folded away: the compiler records the names, see
  ``Program.asserted``);
- a ``Violation("name", ...)`` that ``check_quiescent`` can raise, found by
  reading the source of ``check_quiescent`` and of every function it calls.

Every property name a model writes (in ``assert_``, ``Violation`` and
``Mutation(breaks=...)``) must be a built-in property or one the protocol
lists in ``properties``: anything else is a misspelling, reported with its
file and line when the model is loaded.
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
from typing import Any

from checker.ir import CompileError, _display_path


def _resolve(node: ast.AST, namespace: dict[str, Any]) -> tuple[bool, Any]:
    """The value of a property-name expression, if it can be known without running the model."""
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.Name) and node.id in namespace:
        return True, namespace[node.id]
    if isinstance(node, ast.Attribute):
        ok, base = _resolve(node.value, namespace)
        if ok and hasattr(base, node.attr):
            return True, getattr(base, node.attr)
    return False, None


def _func_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _names_in(tree: ast.AST, namespace: dict[str, Any]):
    """(line, what, resolved?, value) for every property name written in ``tree``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _func_name(node)
        if name == "assert_" and len(node.args) >= 2:
            yield node.lineno, "assert_", *_resolve(node.args[1], namespace)
        elif name == "Violation" and node.args:
            yield node.lineno, "Violation", *_resolve(node.args[0], namespace)
        elif name == "Mutation":
            for kw in node.keywords:
                if kw.arg == "breaks":
                    yield kw.value.lineno, "breaks=", *_resolve(kw.value, namespace)


def _unknown(value, known: frozenset[str]) -> bool:
    return isinstance(value, str) and value != "" and value not in known


def _message(what: str, value: str, known: frozenset[str]) -> str:
    return (f"unknown property {value!r} in {what} (this model knows: {', '.join(sorted(known))}; "
            "a new one goes in the protocol's `properties`)")


def check_module_names(module, known: frozenset[str]) -> None:
    """Every literal property name in a model file is one the model knows (CompileError if not).

    The whole file is read, so a name in a branch that the current mutation
    folds away, or in ``check_quiescent``, is caught as well.
    """
    path = getattr(module, "__file__", None)
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return  # the import already succeeded; nothing more to read
    # Names another protocol of the same file declares are that one's business
    # (the compiler still checks this protocol's own assertions exactly).
    from checker.model import Protocol

    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, Protocol) and isinstance(obj.properties, (tuple, list)):
            known = known | frozenset(p for p in obj.properties if isinstance(p, str))
    for line, what, ok, value in _names_in(tree, vars(module)):
        if ok and _unknown(value, known):
            raise CompileError(_display_path(path), line, _message(what, value, known))


def check_mutation_names(proto, known: frozenset[str]) -> None:
    for name, mut in proto.mutations.items():
        if _unknown(mut.breaks, known):
            file = _display_path(inspect.getsourcefile(type(proto)) or "<unknown>")
            raise CompileError(file, inspect.getsourcelines(type(proto))[1],
                               f"mutation {name!r}: " + _message("breaks=", mut.breaks, known))


def quiescent_properties(proto, known: frozenset[str]) -> frozenset[str]:
    """The properties ``check_quiescent`` can report (empty when it is not overridden).

    Read from the source of ``check_quiescent`` and every function or method
    it calls, transitively.  A ``Violation`` whose property cannot be read
    from the source is an error: the checker could not say what is checked.
    """
    from checker.model import Protocol

    cls = type(proto)
    if cls.check_quiescent is Protocol.check_quiescent:
        return frozenset()
    found: set[str] = set()
    seen: set[Any] = set()
    work = [cls.check_quiescent]
    while work:
        fn = work.pop()
        fn = inspect.unwrap(fn)
        if fn in seen or not inspect.isfunction(fn):
            continue
        seen.add(fn)
        module = sys.modules.get(fn.__module__)
        if module is not None and module.__name__.startswith("checker."):
            continue  # the checker's own helpers report nothing by themselves
        try:
            lines, line0 = inspect.getsourcelines(fn)
        except (OSError, TypeError):
            continue
        tree = ast.parse(textwrap.dedent("".join(lines)))
        file = _display_path(inspect.getsourcefile(fn) or "<unknown>")
        namespace = dict(fn.__globals__)
        for line, what, ok, value in _names_in(tree, namespace):
            if what != "Violation":
                continue
            if not ok or not isinstance(value, str):
                raise CompileError(file, line0 + line - 1,
                                   "the property of this Violation must be a string or a name bound to one, "
                                   "so that the checker knows what the model checks")
            if value not in known:
                raise CompileError(file, line0 + line - 1, _message(what, value, known))
            found.add(value)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and inspect.isfunction(namespace.get(f.id)):
                    work.append(namespace[f.id])
                elif (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self"
                      and inspect.isfunction(getattr(cls, f.attr, None))):
                    work.append(getattr(cls, f.attr))
                elif isinstance(f, ast.Attribute):  # module.function(...)
                    ok, target = _resolve(f, namespace)
                    if ok and inspect.isfunction(target):
                        work.append(target)
    return frozenset(found)
