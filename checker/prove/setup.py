"""Compiling a protocol for the prover, with ``slots`` symbolic where the code allows.

The compiler folds every constant into the IR, so a program compiled for
``slots = 3`` knows nothing about other slot counts.  To prove a property for
every ``slots`` we compile the program once more with each slot-dependent
constant (``SLOTS``, and e.g. ``RING`` = slots rounded up to a power of two)
replaced by a distinctive *marker* value, and map those markers back to z3
variables when translating expressions.  Which constants and arrays depend on
``slots`` is found by declaring the protocol at two slot counts and comparing;
how the derived constants relate to ``slots`` is stated by the protocol's proof
module (``models/<name>_proof.py``: ``SLOT_CONSTANTS``, ``slot_constraints``,
``SLOT_RANGE``).  When the control structure of the marker compile differs from
a concrete one (a constant decided an ``if`` at compile time), or a derived
constant has no stated relation, the prover falls back to proving each slot
count of a concrete range, and says so.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

import z3

from checker.ir import Branch, Jump, Program, Symbols, compile_program
from checker.model import ROGUE_PROPERTIES, ModelError, Params, Protocol, System, build_system, mutation_names

MARKER_BASE = 0x6B5D3A00  # unlikely to be a genuine constant of any model
DEFAULT_SLOT_RANGE = (1, 262143)
CONCRETE_FALLBACK = 8  # slot counts 1..8 when slots cannot be symbolic


def proof_module(proto_cls: type[Protocol]):
    """The protocol's proof module (``<model>_proof.py`` next to the model), or None."""
    mod = sys.modules.get(proto_cls.__module__)
    name = proto_cls.__module__
    if name.startswith("models."):
        try:
            return importlib.import_module(f"{name}_proof")
        except ModuleNotFoundError as exc:
            if exc.name == f"{name}_proof":
                return None
            raise
    path = getattr(mod, "__file__", None)
    if path:
        cand = Path(path).with_name(Path(path).stem + "_proof.py")
        if cand.is_file():
            spec = importlib.util.spec_from_file_location(f"slotcheck_user_{cand.stem}", cand)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    return None


def _shape(prog: Program):
    return [(i.op, i.target if isinstance(i, (Branch, Jump)) else None) for i in prog.instrs]


def private_of(prog: Program) -> dict[str, int]:
    return {prog.local_names[i]: v for i, v in prog.initial_locals.items()}


def recompile(system: System, role: str, tid: int, overrides: dict[str, int], rogue: bool) -> Program:
    """Compile ``role`` of ``system`` again with some constants replaced."""
    proto = system.protocol
    consts = dict(system.constants)
    consts.update(overrides)
    module = sys.modules[type(proto).__module__]
    checked = frozenset(ROGUE_PROPERTIES) if rogue else system.checked
    symbols = Symbols(system.shared, system.ghost, consts, frozenset(proto.mutations),
                      frozenset(mutation_names(system.mutation)), vars(module), checked)
    symbols.ghost_updates = not rogue
    symbols.private = private_of(system.threads[tid].program)
    return compile_program(role, proto.roles[role], symbols, {"ME": tid})


@dataclass
class SlotSpace:
    """How ``slots`` enters a proof: symbolic with constraints, or a list of concrete values."""

    symbolic: bool
    names: tuple[str, ...] = ()  # slot-dependent constants
    markers: dict[str, int] = field(default_factory=dict)  # constant -> marker value
    variables: dict[str, z3.BitVecRef] = field(default_factory=dict)
    constraints: list = field(default_factory=list)
    lengths: dict[str, str] = field(default_factory=dict)  # region -> constant naming its length
    slot_range: tuple[int, int] = DEFAULT_SLOT_RANGE
    concrete: list[int] = field(default_factory=list)
    reason: str = ""
    program: Program | None = None  # the marker compile, when symbolic
    extra_lengths: dict = field(default_factory=dict)  # region -> z3 term stated by the proof module

    def describe(self) -> str:
        if self.symbolic:
            lo, hi = self.slot_range
            return f"{lo} <= slots <= {hi} (symbolic)"
        vals = self.concrete
        return f"slots in {{{', '.join(map(str, vals))}}} (each value separately: {self.reason})"

    def marker_terms(self) -> dict[int, z3.BitVecRef]:
        return {self.markers[n]: self.variables[n] for n in self.names}


def _system(proto_cls, params: Params, mutation, slots: int, rogue: bool, postmaster_only: bool = False) -> System:
    p = Params(threads=params.threads, slots=slots, ops=params.ops, rogue=rogue,
               rogue_writes=params.rogue_writes, step_bound=params.step_bound, extra=dict(params.extra))
    return refuse_processes(build_system(proto_cls, p, mutation), postmaster_only)


def refuse_processes(system: System, postmaster_only: bool = False) -> System:
    """The provers know shared memory only: a model with workers, signals or
    private arrays would be proved about code they misread, so it is refused.

    ``postmaster_only``: the robustness proof, which executes the postmaster's
    program alone.  Its process events are shared-memory events to it (fork,
    exit and a signal are stores; waitpid and taking a signal are
    read-and-clears whose values it leaves unconstrained, more than the
    kernel can return), its private array elements are private locals, and
    the crash sites compiled into it (an index past a private array, a second
    fork) are failures where reached.  Only a sleep (``wait_signal``, which
    with a rogue compiles to a read-and-clear) would be misread there.
    """
    from checker.ir import AwaitFlag, PrivateRangeCrash, ProcessRmw, ProcessStore

    kinds = (AwaitFlag,) if postmaster_only else (AwaitFlag, PrivateRangeCrash, ProcessRmw, ProcessStore)
    threads = system.threads[:1] if postmaster_only else system.threads
    for t in threads:
        if t.program is None:
            continue
        for ins in t.program.instrs:
            if t.role == "worker" or isinstance(ins, kinds):
                raise ModelError(f"{system.protocol.name}: checker prove does not handle worker processes, signals "
                                 "or private arrays (a limit of the prover): check this model with `checker explore`")
    return system


def slot_space(proto_cls: type[Protocol], params: Params, mutation: str | None, role: str = "postmaster",
               rogue: bool = True) -> tuple[SlotSpace, System]:
    """Decide how ``slots`` can be handled; returns the space and a concrete system (at ``params.slots``)."""
    base = _system(proto_cls, params, mutation, params.slots, rogue, postmaster_only=role == "postmaster")
    lo, hi = proto_cls.min_slots, proto_cls.max_slots
    probe = [s for s in (3, 5, 6, 9, 2, 4) if lo <= s <= hi]
    spec = proof_module(proto_cls)
    if spec is not None and hasattr(spec, "SLOT_RANGE"):
        # A stated range bounds the slot counts proved one by one too.
        lo, hi = max(lo, spec.SLOT_RANGE[0]), min(hi, spec.SLOT_RANGE[1])
    fallback_vals = list(range(lo, min(hi, lo + CONCRETE_FALLBACK - 1) + 1))

    def fallback(reason):
        return SlotSpace(False, concrete=fallback_vals, reason=reason), base

    if len(probe) < 2:
        return fallback("the protocol allows too few slot counts to compare")
    a = _system(proto_cls, params, mutation, probe[0], rogue, postmaster_only=role == "postmaster")
    b = _system(proto_cls, params, mutation, probe[1], rogue, postmaster_only=role == "postmaster")
    dep = tuple(sorted(n for n in a.constants if a.constants[n] != b.constants.get(n)))
    lengths: dict[str, str] = {}
    stated_lengths = set(getattr(spec, "REGION_LENGTHS", {})) if spec else set()
    for name, ra in list(a.shared.items()) + list(a.ghost.items()):
        rb = b.shared.get(name) or b.ghost[name]
        if ra.length == rb.length or name in stated_lengths:
            continue
        match = [n for n in dep if a.constants[n] == ra.length and b.constants[n] == rb.length]
        if len(match) != 1:
            return fallback(f"the length of {name} is not one slot-dependent constant")
        lengths[name] = match[0]
    stated = tuple(getattr(spec, "SLOT_CONSTANTS", ("SLOTS",))) if spec else ("SLOTS",)
    if set(dep) - set(stated):
        extra = ", ".join(sorted(set(dep) - set(stated)))
        return fallback(f"no stated relation between slots and {extra} (add it to the proof module)")
    space = SlotSpace(True, names=dep, lengths=lengths)
    for k, n in enumerate(dep):
        space.markers[n] = MARKER_BASE + 0x11 * (k + 1)
        space.variables[n] = z3.BitVec(n, 32)
    space.slot_range = tuple(getattr(spec, "SLOT_RANGE", DEFAULT_SLOT_RANGE)) if spec else DEFAULT_SLOT_RANGE
    s = space.variables["SLOTS"]
    space.constraints = [z3.ULE(space.slot_range[0], s), z3.ULE(s, space.slot_range[1])]
    if spec is not None and hasattr(spec, "slot_constraints"):
        space.constraints += list(spec.slot_constraints(space.variables))
    # The marker compile must have the same control structure as concrete ones.
    tid = 0 if role == "postmaster" else 1
    # A private array is one local per element: when its length follows the
    # slot count, so does the program's shape (and any loop over it is unrolled).
    sized = sorted(name for name, (_first, n) in a.threads[tid].program.private_arrays.items()
                   if n != b.threads[tid].program.private_arrays.get(name, (0, None))[1])
    if sized:
        shown = [n for n in sized if not n.startswith("$")] or sized  # "$...": the kernel's, declared by no model
        return fallback(f"its private arrays ({', '.join(shown)}) have one local per slot, so the program's "
                        "shape depends on the slot count")
    try:
        marked = recompile(base, role, tid, space.markers, rogue)
    except (ModelError, Exception) as exc:  # a compile-time use of a constant (e.g. a division by it)
        return fallback(f"the program cannot be compiled with symbolic slots ({exc})")
    shapes = {tuple(_shape(x.threads[tid].program)) for x in (a, b)}
    if len(shapes) != 1 or tuple(_shape(marked)) not in shapes:
        return fallback("the program's control structure depends on slots at compile time")
    space.program = marked
    if spec is not None and hasattr(spec, "REGION_LENGTHS"):
        space.extra_lengths = {r: f(space.variables) for r, f in spec.REGION_LENGTHS.items()}
    return space, base
