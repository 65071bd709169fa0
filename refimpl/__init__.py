"""The C reference implementation of the slot protocols (``refimpl/c``) and its cffi builds.

``refimpl.build.load(protocol, "trace"|"native", mutation)`` compiles (once,
into a cache) and returns the cffi module; ``checker.replay`` drives the trace
build through a model's trace, ``checker stress`` runs the native build with
real threads.
"""

from refimpl.build import PROTOCOLS, RefimplError, c_mutations, load, mutation_macro

__all__ = ["PROTOCOLS", "RefimplError", "c_mutations", "load", "mutation_macro"]
