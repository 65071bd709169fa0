"""The plug-in interface a protocol model implements (see ``models/``).

A protocol declares its shared memory, ghost state and constants for given
parameters (:class:`Declaration`), names the entry function of each role,
lists its mutations and may add a quiescence check reading a state through a
:class:`StateView`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from checker.ir import MASK, ModelError, Region

if TYPE_CHECKING:
    from checker.model.system import System
    from checker.state import State


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


@dataclass(frozen=True)
class Finding:
    """A violation a model of code *as written* must show (``checker ci`` expects it).

    ``params`` are the keyword arguments of the run (threads, slots, ops,
    and ``extra`` for ``--param``); ``breaks`` the properties a shortest
    counterexample may violate.
    """

    name: str
    memory_model: str
    breaks: tuple[str, ...]
    params: tuple[tuple[str, Any], ...]
    summary: str = ""

    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


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


def _check_word(name: str, value: object) -> None:
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
        self.private: dict[str, dict[str, int]] = {"postmaster": {}, "backend": {}, "worker": {}}
        self.private_arrays: dict[str, dict[str, list[int]]] = {"postmaster": {}, "backend": {}, "worker": {}}
        self.signals: list[str] = []

    def _add(self, table: dict[str, Region], init: list[int], name: str, values: list[int], length: int | None,
             lock: bool = False, kernel: bool = False) -> None:
        if name in self.shared or name in self.ghost or name in self.constants:
            raise ModelError(f"{name} is declared twice")
        for v in values:
            _check_word(name, v)
        table[name] = Region(name, len(init), length, lock, kernel)
        init.extend(values)

    def _private_role(self, role: str, what: str) -> None:
        if role not in self.private:
            raise ModelError(f"{what}: there is no role {role!r} (roles: {', '.join(self.private)})")

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
        self._private_role(role, "private_var")
        _check_word(name, init)
        self.private[role][name] = init

    def private_array(self, role: str, name: str, length: int, init: int | list[int] = 0) -> None:
        """An array only ``role`` sees (the postmaster's list of registered workers).

        Its elements live with the thread's locals: no other thread reads
        them, no memory model reorders them, no rogue writes them.  An index
        out of range is a crash of that thread (for the postmaster, a
        postmaster-safety violation; for a backend or a worker, memory
        safety).  Each thread of the role has its own copy.
        """
        self._private_role(role, "private_array")
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ModelError(f"private_array {name}: length must be a positive integer, got {length!r}")
        values = list(init) if isinstance(init, list) else [init] * length
        if len(values) != length:
            raise ModelError(f"{name}: {len(values)} initial values for {length} entries")
        for v in values:
            _check_word(name, v)
        taken = set(self.shared) | set(self.ghost) | set(self.constants) | set(self.private[role])
        if name in taken or name in self.private_arrays[role]:
            raise ModelError(f"{name} is declared twice")
        self.private_arrays[role][name] = values

    def signal(self, name: str) -> None:
        """A postmaster signal flag (a PMSignalReason's flag in PMSignalState).

        Backends and workers set it with ``signal_postmaster(name)``; the
        postmaster reads and clears it with ``take_signal(name)`` or sleeps
        until it is set with ``wait_signal(name)``.  It is a shared word (a
        rogue may corrupt it, as it may PMSignalState).
        """
        self._add(self.shared, self.shared_init, name, [0], None)
        self.signals.append(name)

    def kernel_array(self, name: str, length: int) -> None:
        """Process state the kernel keeps, one word per worker slot (see checker.model.system)."""
        self._add(self.shared, self.shared_init, name, [0] * length, length, kernel=True)

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
    roles: ClassVar[dict[str, Callable]] = {}  # "postmaster", "backend", optionally "worker"
    mutations: ClassVar[dict[str, Mutation]] = {}
    # Protocol-specific integer parameters: name -> (default, help).
    extra_params: ClassVar[dict[str, tuple[int, str]]] = {}
    # Property names of this protocol's own beyond the built-in PROPERTIES
    # (bgworker's notify integrity).  What a model actually checks is derived
    # from its code (checker.properties), not from this list.
    properties: ClassVar[tuple[str, ...]] = ()
    min_slots: ClassVar[int] = 1
    max_slots: ClassVar[int] = 64
    # A model of code as written (a patch under review) is not correct: it
    # lists the memory models under which it fails at its CI parameters and
    # the findings ``checker ci`` must reproduce; ``ci_params`` (a tuple of
    # threads/slots/ops dicts) replaces ci's parameter sets for the model.
    broken_under: ClassVar[tuple[str, ...]] = ()
    findings: ClassVar[tuple[Finding, ...]] = ()
    ci_params: ClassVar[tuple[dict[str, int], ...] | None] = None
    # A C twin next to a model file (the shipped ones are in refimpl/build.py).
    c_twin: ClassVar[CTwin | None] = None
    # The file a protocol was loaded from by path (None for a shipped one):
    # traces record it, so that view, replay and the re-check find the model.
    model_file: ClassVar[str | None] = None

    registry: ClassVar[dict[str, type["Protocol"]]] = {}

    def __init_subclass__(cls, **kw: Any) -> None:
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



class StateView:
    """Read-only access by name to a state, for quiescence checks and tools."""

    def __init__(self, system: System, state: State) -> None:
        self.system, self.state = system, state

    def word(self, name: str) -> int:
        r = self.system.shared[name]
        return self.state[0][r.base]

    def array(self, name: str) -> tuple[int, ...]:
        r = self.system.shared[name]
        if r.length is None:
            raise ModelError(f"{name} is a word, not an array")
        return self.state[0][r.base:r.base + r.length]

    def ghost(self, name: str) -> int | tuple[int, ...]:
        r = self.system.ghost[name]
        g = self.state[3]
        return g[r.base] if r.length is None else g[r.base:r.base + r.length]

    def local(self, tid: int, name: str) -> int:
        prog = self.system.threads[tid].program
        if prog is None:
            raise ModelError(f"thread {tid} is the rogue, which has no locals")
        for i, n in enumerate(prog.local_names):
            if n == name or n.endswith("." + name):
                return self.state[1][tid][i]
        raise KeyError(name)

    def private_array(self, tid: int, name: str) -> tuple[int, ...]:
        """A thread's private array (its elements are kept as locals ``name[k]``)."""
        prog = self.system.threads[tid].program
        if prog is None:
            raise ModelError(f"thread {tid} is the rogue, which has no private arrays")
        if name not in prog.private_arrays:
            raise KeyError(name)  # as local() for a name the thread does not have
        first, length = prog.private_arrays[name]
        return self.state[1][tid][first:first + length]

    def threads_of(self, role: str) -> list[int]:
        return [t.tid for t in self.system.threads if t.role == role]
