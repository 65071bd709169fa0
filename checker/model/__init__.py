"""Protocols: the plug-in interface, the registry, the property names and compiled systems.

A protocol is a subclass of :class:`Protocol` in ``models/``.  It declares its
shared memory, ghost state and constants for given parameters, names the entry
function of each role, lists its mutations, and may add a quiescence check
(conservation).  :func:`build_system` compiles it, for one set of parameters
and one mutation, into a :class:`System` the engine can run.

One job per module: ``interface`` (what a model implements), ``registry``
(finding protocols), ``property_names`` (the built-in properties) and
``system`` (compiling a protocol into a System).  Everything is re-exported
here, so ``from checker.model import Protocol`` is the public spelling.
"""

from checker.ir import CompileError, ModelError, Violation
from checker.model.interface import CTwin, Declaration, Finding, Mutation, Params, Protocol, StateView
from checker.model.property_names import (
    CONSERVATION, DEADLOCK, ENGINE_PROPERTIES, EXCLUSIVE, INTEGRITY, MEMORY_SAFETY, NOTIFY, PM_SAFETY,
    PROPERTIES, ROGUE_PROPERTIES, WAIT_FREEDOM,
)
from checker.model.registry import exception_text, load_protocols, model_line, resolve_protocol
from checker.model.system import (
    ROGUE_VALUES_FIXED, System, ThreadSpec, build_system, mutation_names, rogue_values,
)

__all__ = [
    "CompileError", "CTwin", "Finding", "Violation", "ModelError", "Mutation", "Params", "Protocol", "Declaration",
    "System", "StateView", "ThreadSpec", "build_system", "mutation_names", "resolve_protocol", "load_protocols",
    "exception_text", "model_line", "rogue_values", "ROGUE_VALUES_FIXED",
    "CONSERVATION", "DEADLOCK", "ENGINE_PROPERTIES", "EXCLUSIVE", "INTEGRITY", "MEMORY_SAFETY", "NOTIFY",
    "PM_SAFETY", "PROPERTIES", "ROGUE_PROPERTIES", "WAIT_FREEDOM",
]
