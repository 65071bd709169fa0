"""Every name in a mutation's branch resolves, whichever mutation runs.

Programs are compiled, never run, and their free names (``SLOTS``, ``ME``,
``free_ring``, ``owner``) are bound by the protocol's ``declare()``, not by
the module.  A generic linter cannot know that, so model files used to
assign placeholders; they no longer need to (docs/writing-a-model.md, "Names
in program bodies").  The compiler reports an unknown name in the code it
compiles, but not in a branch that the current mutation folds away: this
check reads the mutation branches of every function a role can reach, so a
misspelt name in ``if mutation("x"):`` fails every run, not only the run of
``x``.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from checker.ir import CompileError, _function_ast


def _calls(tree: ast.AST) -> Iterable[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            yield node.func.id


def _bound_here(tree: ast.FunctionDef) -> set[str]:
    """Parameters, assigned names (loop and ghost variables included) and `global` names."""
    names = {a.arg for a in tree.args.args + tree.args.kwonlyargs + tree.args.posonlyargs}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.Global):
            names.update(node.names)
    return names


def _in_mutation_branches(tree: ast.AST) -> Iterable[ast.AST]:
    """Every node of an `if` whose test calls mutation(), and of its `else`.

    Only those: a branch folded by a parameter (``if LINEAR:``) may use names
    that only that configuration declares, and a run with it compiles it.
    """
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp)) and "mutation" in set(_calls(node.test)):
            yield from ast.walk(node)


def reachable_programs(roles: Iterable[Callable], namespace: dict[str, Any]) -> list[Callable]:
    """The role functions and every function they call by a name of ``namespace``, in any branch."""
    seen: dict[Callable, None] = {}
    todo = list(roles)
    while todo:
        fn = todo.pop()
        if fn in seen or not inspect.isfunction(fn):
            continue
        seen[fn] = None
        tree, *_ = _function_ast(fn)
        todo += [namespace[n] for n in _calls(tree) if n in namespace]
    return list(seen)


def check_program_names(roles: Iterable[Callable], namespace: dict[str, Any], declared: Iterable[str]) -> None:
    """CompileError at the first name no declaration, local, module or builtin defines."""
    declared = set(declared) | {"ME"}
    for fn in reachable_programs(roles, namespace):
        tree, file, line0, _lines = _function_ast(fn)
        known = declared | _bound_here(tree) | set(namespace) | set(vars(inspect.getmodule(fn) or builtins))
        for node in _in_mutation_branches(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in known \
                    and not hasattr(builtins, node.id):
                raise CompileError(file, line0 + node.lineno,
                                   f"unknown name {node.id} in {fn.__name__}() (not declared by the protocol, "
                                   "a local, or defined in the module)")


__all__ = ["check_program_names", "reachable_programs"]
