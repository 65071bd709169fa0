"""Compiling a protocol, for one set of parameters and one mutation, into a System.

:func:`build_system` checks the parameters and the model's names, compiles
each role's program and derives what the run checks.  The engine knows
nothing of any protocol beyond the :class:`System` it returns.
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass, field
from typing import Any, Callable

from checker.ir import MASK, ModelError, Program, Region, Symbols, compile_program
from checker.model.interface import Declaration, Params, Protocol
from checker.model.property_names import ENGINE_PROPERTIES, PROPERTIES, ROGUE_PROPERTIES
from checker.model.registry import exception_text, model_line

# The values a rogue writes besides those around the slot count: the edges of
# 16- and 32-bit words, where index arithmetic wraps.
ROGUE_VALUES_FIXED = (0, 1, 0x7FFF, 0xFFFF, 0x80000000, 0xFFFFFFFF)


@dataclass
class ThreadSpec:
    tid: int
    role: str
    name: str
    program: Program | None  # None for the rogue


@dataclass
class System:
    protocol: Protocol
    params: Params
    mutation: str | None
    shared: dict[str, Region]
    shared_init: tuple[int, ...]
    ghost: dict[str, Region]
    ghost_init: tuple[int, ...]
    constants: dict[str, int]
    threads: list[ThreadSpec]
    checked: frozenset[str]
    rogue_tid: int | None
    rogue_values: tuple[int, ...]
    cell_names: list[str]
    # Properties this model checks in some run (checked: in this one), and
    # every property name it may use.
    checkable: frozenset[str] = frozenset()
    known_properties: frozenset[str] = frozenset()
    quiescent_properties: frozenset[str] = frozenset()  # what check_quiescent can report
    # compile_backend(me): the backend program compiled with ME = me (checker.symmetry
    # compiles it once more with a marker value to find where the identity flows).
    compile_backend: Callable[[int], Program] | None = field(default=None, repr=False, compare=False)

    @property
    def nwords(self) -> int:
        return len(self.shared_init)

    def region_of(self, address: int) -> Region:
        for r in self.shared.values():
            n = r.length or 1
            if r.base <= address < r.base + n:
                return r
        raise KeyError(address)

    def ghost_cell_names(self) -> list[str]:
        names = [""] * len(self.ghost_init)
        for r in self.ghost.values():
            for i in range(r.length or 1):
                names[r.base + i] = r.cell_name(r.base + i)
        return names


# ---------------------------------------------------------------------------
# Building a System


def _call_model(proto: "Protocol", method: str, *args: Any) -> Any:
    """Call a protocol method; anything but a Violation/ModelError becomes a one-line ModelError."""
    try:
        return getattr(proto, method)(*args)
    except ModelError:
        raise
    except Exception as exc:  # a Violation too: only check_quiescent may report one
        raise ModelError(f"{model_line(exc)}: {proto.name}.{method}() raised {exception_text(exc)}") from None


def rogue_values(slots: int) -> tuple[int, ...]:
    vals = {0, 1, slots - 1, slots, slots + 1} | set(ROGUE_VALUES_FIXED)
    return tuple(sorted(v & MASK for v in vals))


def mutation_names(mutation: str | None) -> tuple[str, ...]:
    """The variants a ``--mutation`` value selects: ``"a,b"`` combines a and b."""
    if mutation is None:
        return ()
    names = tuple(m.strip() for m in mutation.split(","))
    if not all(names):
        raise ModelError(f"--mutation {mutation!r} has an empty name (write a,b to combine variants)")
    if len(set(names)) != len(names):
        raise ModelError(f"--mutation {mutation!r} names a variant twice")
    return names


ROLES = ("postmaster", "backend", "worker")  # the last is optional


def check_roles(proto: Protocol) -> None:
    """The roles a protocol declares: one line (exit 2) for anything else."""
    if not isinstance(proto.roles, dict):
        raise ModelError(f"{proto.name}: roles must be a dict of role name -> function")
    for role in proto.roles:
        if role not in ROLES:
            raise ModelError(f"{proto.name}: unknown role {role!r} (roles are {', '.join(ROLES)})")
    for role in ROLES:
        if role not in proto.roles:
            if role == "worker":
                continue
            raise ModelError(f"{proto.name} has no {role} role")
        fn = proto.roles[role]
        if not inspect.isfunction(fn):
            raise ModelError(f"{proto.name}: the {role} role is {fn!r}, not a function")
        if inspect.signature(fn).parameters:
            raise ModelError(f"{proto.name}: the {role} role's function {fn.__name__} takes parameters "
                             "(a role's entry takes none; a worker reads its slot as MY_SLOT)")


def protocol_roles(proto_cls: type[Protocol]) -> tuple[str, ...]:
    """The roles a protocol uses, in thread order (for `checker list`)."""
    roles = proto_cls.roles if isinstance(proto_cls.roles, dict) else {}
    return tuple(r for r in ROLES if r in roles)


def _declare_workers(proto: Protocol, params: Params, decl: Declaration):
    """The kernel's fork and exit flags of the worker pool, if the model has a worker role."""
    if "worker" not in proto.roles:
        return None
    decl.kernel_array("worker.started", params.slots)
    decl.kernel_array("worker.exited", params.slots)
    return decl.shared["worker.started"], decl.shared["worker.exited"]


def build_system(protocol_cls: type[Protocol], params: Params, mutation: str | None = None) -> System:
    proto = protocol_cls()
    selected = mutation_names(mutation)
    for m in selected:
        if m not in proto.mutations:
            names = ", ".join(proto.mutations) or "none"
            raise ModelError(f"unknown mutation {m!r} for {proto.name} (known: {names})")
    # One spelling wherever the run is recorded (traces, reports): "a,b".
    mutation = ",".join(selected) or None
    if params.threads < 2:
        raise ModelError(f"--threads must be at least 2 (one postmaster and one backend), got {params.threads}")
    if params.threads > 8:
        raise ModelError(f"--threads {params.threads} is beyond what explicit-state search can cover here (max 8)")
    if not proto.min_slots <= params.slots <= proto.max_slots:
        raise ModelError(f"--slots must be between {proto.min_slots} and {proto.max_slots} for {proto.name}")
    if params.ops < 1:
        raise ModelError(f"--ops must be at least 1, got {params.ops}")
    if params.step_bound < 0:
        raise ModelError("--step-bound must be at least 0 (0: no bound, wait-freedom by lasso search only)")
    for k, (default, _help) in proto.extra_params.items():
        params.extra.setdefault(k, default)
    unknown = set(params.extra) - set(proto.extra_params)
    if unknown:
        raise ModelError(f"{proto.name} has no parameter {', '.join(sorted(unknown))}")
    _call_model(proto, "validate", params)
    if type(proto).declare is Protocol.declare:
        raise ModelError(f"{proto.name} defines no declare(self, p, d) (its shared memory)")
    check_roles(proto)
    decl = Declaration()
    decl.constant("SLOTS", params.slots)
    decl.constant("OPS", params.ops)
    decl.constant("BACKENDS", params.backends)
    for k, v in params.extra.items():
        decl.constant(k.upper().replace("-", "_"), v)
    _call_model(proto, "declare", params, decl)
    workers = _declare_workers(proto, params, decl)
    from checker.properties import check_module_names, check_mutation_names, quiescent_properties

    if isinstance(proto.properties, str) or not all(isinstance(p, str) for p in proto.properties):
        raise ModelError(f"{proto.name}: properties must be a tuple of property names, not "
                         f"{proto.properties!r} (a one-name tuple needs a trailing comma)")
    known = frozenset(PROPERTIES) | frozenset(proto.properties)
    module = sys.modules[type(proto).__module__]
    check_module_names(module, known)
    check_mutation_names(proto, known)
    from checker.program_names import check_program_names

    check_program_names(proto.roles.values(), vars(module),
                        [*decl.shared, *decl.ghost, *decl.constants, *decl.private["postmaster"],
                         *decl.private["backend"], *decl.private["worker"], *(n for arrays in decl.private_arrays.values() for n in arrays),
                         *(("MY_SLOT",) if workers else ())])
    # With a rogue only the postmaster's properties are required: the other
    # assertions compile to nothing (ownership means nothing in corrupted memory).
    required = frozenset(ROGUE_PROPERTIES) if params.rogue else None
    symbols = Symbols(decl.shared, decl.ghost, decl.constants, frozenset(proto.mutations),
                      frozenset(selected), vars(module), required)
    symbols.known_properties = known
    symbols.workers = workers
    symbols.signals = frozenset(decl.signals)
    symbols.sleep_times_out = params.rogue
    threads: list[ThreadSpec] = []
    symbols.ghost_updates = not params.rogue
    symbols.private = decl.private["postmaster"]
    symbols.private_arrays = decl.private_arrays["postmaster"]
    pm = compile_program("postmaster", proto.roles["postmaster"], symbols, {"ME": 0})
    threads.append(ThreadSpec(0, "postmaster", "postmaster", pm))
    programs = [pm]
    symbols.private = decl.private["backend"]
    symbols.private_arrays = decl.private_arrays["backend"]
    for b in range(params.backends):
        prog = compile_program("backend", proto.roles["backend"], symbols, {"ME": b + 1})
        threads.append(ThreadSpec(b + 1, "backend", f"backend{b + 1}", prog))
        programs.append(prog)
    # One worker process slot per bgworker slot, after the backends: the
    # pool is fixed, so the state space stays finite, and a slot's worker is
    # forked again only after the postmaster reaped the last one.
    symbols.private = decl.private["worker"]
    symbols.private_arrays = decl.private_arrays["worker"]
    for slot in range(workers[0].length if workers else 0):
        tid = len(threads)
        prog = compile_program("worker", proto.roles["worker"], symbols, {"ME": tid, "MY_SLOT": slot},
                               worker_slot=slot)
        threads.append(ThreadSpec(tid, "worker", f"worker{slot}", prog))
        programs.append(prog)
    # What this model checks, derived from its code (see checker.properties),
    # and of that what this run checks.
    # Helper modules whose code was inlined (models/_startqueue.py) are read
    # whole as well, for names in branches this run folded away.
    for name in sorted(set().union(*(p.modules for p in programs)) - {module.__name__}):
        if name in sys.modules:
            check_module_names(sys.modules[name], known)
    quiescent = quiescent_properties(proto, known)
    checkable = frozenset(ENGINE_PROPERTIES).union(quiescent, *(p.asserted for p in programs))
    checked = checkable & required if required is not None else checkable
    for m in selected:
        breaks = proto.mutations[m].breaks
        if breaks and breaks not in checkable:
            # The mutation's bug would go unreported: the run could only say "holds".
            raise ModelError(f"mutation {m!r} of {proto.name} breaks {breaks}, which this model does not check")
    rogue_tid = None
    if params.rogue:
        rogue_tid = len(threads)
        threads.append(ThreadSpec(rogue_tid, "rogue", "rogue", None))
    cell_names = [""] * len(decl.shared_init)
    for r in decl.shared.values():
        for i in range(r.length or 1):
            cell_names[r.base + i] = r.cell_name(r.base + i)
    system = System(proto, params, mutation, decl.shared, tuple(decl.shared_init), decl.ghost,
                    tuple(decl.ghost_init), decl.constants, threads, checked, rogue_tid,
                    rogue_values(params.slots), cell_names, checkable, known, quiescent)
    symbols.private = decl.private["backend"]
    symbols.private_arrays = decl.private_arrays["backend"]
    system.compile_backend = lambda me: compile_program("backend", proto.roles["backend"], symbols, {"ME": me})
    return system
