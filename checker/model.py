"""Protocols: the plug-in interface, the registry, and compiled systems.

A protocol is a subclass of :class:`Protocol` in ``models/``.  It declares its
shared memory, ghost state and constants for given parameters, names the entry
function of each role, lists its mutations, and may add a quiescence check
(conservation).  :func:`build_system` compiles it, for one set of parameters
and one mutation, into a :class:`System` the engine can run.  The engine knows
nothing of any protocol beyond this interface.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from checker.ir import MASK, CompileError, ModelError, Program, Region, Symbols, Violation, compile_program

# Property names, as printed and as used in ``assert_(cond, "...")``.
EXCLUSIVE = "exclusive ownership"
CONSERVATION = "conservation"
INTEGRITY = "queue integrity"
PM_SAFETY = "postmaster safety"
WAIT_FREEDOM = "postmaster wait-freedom"
DEADLOCK = "deadlock freedom"
MEMORY_SAFETY = "memory safety"
NOTIFY = "notify integrity"

PROPERTIES = {
    EXCLUSIVE: "a slot is never held by two parties at once",
    CONSERVATION: "when quiescent, every slot is in exactly one place",
    INTEGRITY: "every queue entry consumed is the value produced for that position",
    PM_SAFETY: "every index and slot number the postmaster uses is in range, whatever shared memory holds",
    WAIT_FREEDOM: "each postmaster operation finishes within a bounded number of its own steps",
    DEADLOCK: "no reachable state where threads wait forever",
    MEMORY_SAFETY: "backends never index shared memory out of range (without a rogue)",
}
# With a rogue only these are required (DESIGN.md §4).
ROGUE_PROPERTIES = (PM_SAFETY, WAIT_FREEDOM, DEADLOCK)
# Checked by the engine and the memory models for every model: an index out
# of range (postmaster / backend), the step bound and lassos, stuck states.
ENGINE_PROPERTIES = (PM_SAFETY, WAIT_FREEDOM, DEADLOCK, MEMORY_SAFETY)

ROGUE_VALUES_FIXED = (0, 1, 0x7FFF, 0xFFFF, 0x80000000, 0xFFFFFFFF)


@dataclass(frozen=True)
class Mutation:
    description: str
    # Memory models under which the mutation is a real bug (the checker must
    # find it there, and must not report it elsewhere).
    bug_under: tuple[str, ...] = ("sc", "tso", "weak")
    # Extra flags a test of the mutation needs (e.g. a rogue).
    needs_rogue: bool = False
    # The property its counterexample violates.
    breaks: str = ""


@dataclass
class Params:
    threads: int = 3
    slots: int = 2
    ops: int = 2
    rogue: bool = False
    rogue_writes: int | None = 2  # None: unlimited
    step_bound: int = 64
    rogue_anywhere: bool = False
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def backends(self) -> int:
        return self.threads - 1

    def as_dict(self) -> dict[str, Any]:
        d = {
            "threads": self.threads, "slots": self.slots, "ops": self.ops, "rogue": self.rogue,
            "rogue_writes": "unlimited" if self.rogue_writes is None else self.rogue_writes,
            "step_bound": self.step_bound, "rogue_anywhere": self.rogue_anywhere,
        }
        d.update(self.extra)
        return d


def _check_word(name: str, value) -> None:
    """Every declared value is a 32-bit unsigned word, as in the C it models.

    Wrapping -1 to 0xFFFFFFFF silently would check a different program from
    the one the model's author wrote down.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelError(f"{name}: initial value {value!r} is not an integer")
    if not 0 <= value <= MASK:
        raise ModelError(f"{name}: initial value {value} is outside 0..2^32-1 (a 32-bit unsigned word)")


class Declaration:
    """What a protocol declares for one set of parameters."""

    def __init__(self) -> None:
        self.shared: dict[str, Region] = {}
        self.shared_init: list[int] = []
        self.ghost: dict[str, Region] = {}
        self.ghost_init: list[int] = []
        self.constants: dict[str, int] = {}
        self.private: dict[str, dict[str, int]] = {"postmaster": {}, "backend": {}}

    def _add(self, table, init, name, values, length, lock=False):
        if name in self.shared or name in self.ghost or name in self.constants:
            raise ModelError(f"{name} is declared twice")
        for v in values:
            _check_word(name, v)
        table[name] = Region(name, len(init), length, lock)
        init.extend(values)

    def word(self, name: str, init: int = 0) -> None:
        self._add(self.shared, self.shared_init, name, [init], None)

    def array(self, name: str, length: int, init: int | list[int] = 0) -> None:
        values = list(init) if isinstance(init, list) else [init] * length
        if len(values) != length:
            raise ModelError(f"{name}: {len(values)} initial values for {length} entries")
        self._add(self.shared, self.shared_init, name, values, length)

    def lock(self, name: str) -> None:
        """An LWLock: a shared word, 0 when free (a rogue may corrupt it)."""
        self._add(self.shared, self.shared_init, name, [0], None, lock=True)

    def ghost_word(self, name: str, init: int = 0) -> None:
        self._add(self.ghost, self.ghost_init, name, [init], None)

    def ghost_array(self, name: str, length: int, init: int | list[int] = 0) -> None:
        values = list(init) if isinstance(init, list) else [init] * length
        self._add(self.ghost, self.ghost_init, name, values, length)

    def private_var(self, role: str, name: str, init: int = 0) -> None:
        """A thread-private global of ``role`` (like a ``static`` in postmaster.c)."""
        _check_word(name, init)
        self.private[role][name] = init

    def constant(self, name: str, value: int) -> None:
        if name in self.constants:
            raise ModelError(f"constant {name} declared twice")
        _check_word(name, value)
        self.constants[name] = value


@dataclass(frozen=True)
class CTwin:
    """A model's C twin, kept in the model file's directory.

    ``sources`` are the protocol's own files (what PostgreSQL would take),
    ``workload`` the replay driver exporting ``<prefix>_shmem_size``,
    ``<prefix>_shmem_init``, ``<prefix>_regions`` and
    ``<prefix>_replay_thread`` (see refimpl/c/slot_replay.h).  The files are
    looked up next to the model first, then in refimpl/c (for pg_shim.h and
    the replay harness).  ``extra_param`` names a model parameter passed to
    the workload as its ``extra`` argument.
    """

    sources: tuple[str, ...]
    workload: str
    prefix: str
    extra_param: str | None = None


class Protocol:
    """Base class of every protocol model (a plug-in; see ``models/``)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    roles: ClassVar[dict[str, Callable]] = {}  # "postmaster", "backend"
    mutations: ClassVar[dict[str, Mutation]] = {}
    # Protocol-specific integer parameters: name -> (default, help).
    extra_params: ClassVar[dict[str, tuple[int, str]]] = {}
    # Property names of this protocol's own beyond the built-in PROPERTIES
    # (bgworker's notify integrity).  What a model actually checks is derived
    # from its code (checker.properties), not from this list.
    properties: ClassVar[tuple[str, ...]] = ()
    min_slots: ClassVar[int] = 1
    max_slots: ClassVar[int] = 64
    # A C twin next to a model file (the shipped ones are in refimpl/build.py).
    c_twin: ClassVar[CTwin | None] = None
    # The file a protocol was loaded from by path (None for a shipped one):
    # traces record it, so that view, replay and the re-check find the model.
    model_file: ClassVar[str | None] = None

    registry: ClassVar[dict[str, type["Protocol"]]] = {}

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        if cls.name:
            Protocol.registry[cls.name] = cls

    # -- to be provided by each protocol ----------------------------------

    def declare(self, p: Params, d: Declaration) -> None:
        raise NotImplementedError

    def check_quiescent(self, view: "StateView") -> None:
        """Raise Violation if a quiescent state breaks a property (conservation).

        A state is quiescent when every thread is between operations (or at
        the first shared event of one) and the memory model has nothing
        pending.  Local code at the start of an operation, before its first
        shared event, has already run in such a state: keep hand-overs of
        private state (e.g. clearing a "running" bit) after an event.
        """

    def validate(self, p: Params) -> None:
        """Raise ModelError for parameters the protocol cannot run with."""


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


class StateView:
    """Read-only access by name to a state, for quiescence checks and tools."""

    def __init__(self, system: System, state) -> None:
        self.system, self.state = system, state

    def word(self, name: str) -> int:
        r = self.system.shared[name]
        return self.state[0][r.base]

    def array(self, name: str) -> tuple[int, ...]:
        r = self.system.shared[name]
        return self.state[0][r.base:r.base + r.length]

    def ghost(self, name: str):
        r = self.system.ghost[name]
        g = self.state[3]
        return g[r.base] if r.length is None else g[r.base:r.base + r.length]

    def local(self, tid: int, name: str) -> int:
        prog = self.system.threads[tid].program
        for i, n in enumerate(prog.local_names):
            if n == name or n.endswith("." + name):
                return self.state[1][tid][i]
        raise KeyError(name)

    def threads_of(self, role: str) -> list[int]:
        return [t.tid for t in self.system.threads if t.role == role]


# ---------------------------------------------------------------------------
# Registry


def load_protocols() -> dict[str, type[Protocol]]:
    import models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"models.{info.name}")
    return dict(sorted(Protocol.registry.items()))


def resolve_protocol(name_or_path: str) -> type[Protocol]:
    """A registered protocol name, or a path to a model file defining one."""
    if name_or_path.endswith(".py") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ModelError(f"no model file {name_or_path}")
        if path.suffix != ".py":
            raise ModelError(f"{name_or_path} is not a model file (a .py file defining a Protocol)")
        load_protocols()
        before = dict(Protocol.registry)
        spec = importlib.util.spec_from_file_location(f"slotcheck_user_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            Protocol.registry.update(before)
            raise ModelError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
        except ModelError:
            Protocol.registry.update(before)
            raise
        except (Exception, SystemExit) as exc:
            # SystemExit too: a model that exits at import must not end the
            # run with its own exit code (0 would read as "holds").
            Protocol.registry.update(before)
            raise ModelError(f"{model_line(exc, path)}: loading the model failed: {exception_text(exc)}") from None
        # A model file (a scratch copy of a built-in, say) is used where it
        # is named, but never replaces a registered protocol of the same name.
        Protocol.registry.update(before)
        new = [n for n in Protocol.registry if n not in before]
        found = [c for c in vars(module).values()
                 if isinstance(c, type) and issubclass(c, Protocol) and c is not Protocol and c.name]
        if not found:
            raise ModelError(f"{path} defines no Protocol subclass with a name")
        cls = found[-1] if not new else Protocol.registry[new[-1]]
        cls.model_file = str(path.resolve())
        return cls
    protocols = load_protocols()
    if name_or_path not in protocols:
        raise ModelError(f"unknown protocol {name_or_path!r} (known: {', '.join(protocols)})")
    return protocols[name_or_path]


def exception_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it calls exit ({exc.code!r}) at import"
    if isinstance(exc, ModuleNotFoundError):
        return f"no module named {exc.name!r}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def model_line(exc: BaseException, path: Path | str | None = None) -> str:
    """file:line of the innermost frame of ``exc`` in ``path`` (else in a model file).

    A model's own code is what its author can fix, so that is the line to show,
    not the line inside Python's import machinery.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    want = str(Path(path).resolve()) if path is not None else None
    import sysconfig

    # The checker's own frames, the standard library's and installed
    # packages' are not where a model's author looks.
    foreign = tuple(str(Path(d).resolve()) + os.sep for d in
                    (Path(__file__).resolve().parent, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]))
    best = None
    for f in frames:
        if f.filename.startswith("<"):
            continue
        fname = str(Path(f.filename).resolve())
        if want is not None and fname == want:
            best = f
        elif want is None and not fname.startswith(foreign):
            best = f
    if best is None:
        return str(path) if path is not None else "model"
    from checker.ir import _display_path

    return f"{_display_path(best.filename)}:{best.lineno}"


def _call_model(proto: "Protocol", method: str, *args):
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


def build_system(protocol_cls: type[Protocol], params: Params, mutation: str | None = None) -> System:
    proto = protocol_cls()
    selected = mutation_names(mutation)
    for m in selected:
        if m not in proto.mutations:
            known = ", ".join(proto.mutations) or "none"
            raise ModelError(f"unknown mutation {m!r} for {proto.name} (known: {known})")
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
    if not isinstance(proto.roles, dict):
        raise ModelError(f"{proto.name}: roles must be a dict of role name -> function")
    decl = Declaration()
    decl.constant("SLOTS", params.slots)
    decl.constant("OPS", params.ops)
    decl.constant("BACKENDS", params.backends)
    for k, v in params.extra.items():
        decl.constant(k.upper().replace("-", "_"), v)
    _call_model(proto, "declare", params, decl)
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
                         *decl.private["backend"]])
    # With a rogue only the postmaster's properties are required: the other
    # assertions compile to nothing (ownership means nothing in corrupted memory).
    required = frozenset(ROGUE_PROPERTIES) if params.rogue else None
    symbols = Symbols(decl.shared, decl.ghost, decl.constants, frozenset(proto.mutations),
                      frozenset(selected), vars(module), required)
    symbols.known_properties = known
    threads: list[ThreadSpec] = []
    for role in ("postmaster", "backend"):
        if role not in proto.roles:
            raise ModelError(f"{proto.name} has no {role} role")
        if not inspect.isfunction(proto.roles[role]):
            raise ModelError(f"{proto.name}: the {role} role is {proto.roles[role]!r}, not a function")
    symbols.ghost_updates = not params.rogue
    symbols.private = decl.private["postmaster"]
    pm = compile_program("postmaster", proto.roles["postmaster"], symbols, {"ME": 0})
    threads.append(ThreadSpec(0, "postmaster", "postmaster", pm))
    symbols.private = decl.private["backend"]
    for b in range(params.backends):
        prog = compile_program("backend", proto.roles["backend"], symbols, {"ME": b + 1})
        threads.append(ThreadSpec(b + 1, "backend", f"backend{b + 1}", prog))
    # What this model checks, derived from its code (see checker.properties),
    # and of that what this run checks.
    # Helper modules whose code was inlined (models/_startqueue.py) are read
    # whole as well, for names in branches this run folded away.
    for name in sorted(set().union(*(t.program.modules for t in threads)) - {module.__name__}):
        if name in sys.modules:
            check_module_names(sys.modules[name], known)
    quiescent = quiescent_properties(proto, known)
    checkable = frozenset(ENGINE_PROPERTIES).union(quiescent, *(t.program.asserted for t in threads))
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
    system.compile_backend = lambda me: compile_program("backend", proto.roles["backend"], symbols, {"ME": me})
    return system


__all__ = [
    "CompileError", "CTwin", "Violation", "ModelError", "Mutation", "Params", "Protocol", "Declaration",
    "System", "StateView", "build_system", "mutation_names", "resolve_protocol", "load_protocols",
]
