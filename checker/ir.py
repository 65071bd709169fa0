"""The intermediate representation, and the compiler from the modelling language.

A role's program is compiled into a flat list of instructions.  *Event*
instructions touch shared memory (or are fences, lock operations, or a
nondeterministic choice) and each is one step of a thread.  *Local*
instructions (assignments, branches, ghost code) are folded into the step of
the event that precedes them: after an event takes effect the thread runs local
instructions until it reaches the next event.

Locals are unsigned 32-bit integers; arithmetic wraps.  Every instruction keeps
the source line it came from.  Helper functions are inlined (recursion is
rejected), and compile-time tests such as ``mutation("no-lock")`` or
``if SLOTS > 1`` are folded away, so the IR of a mutated model differs from the
correct one exactly where the mutation says.
"""

from __future__ import annotations

import ast
import inspect
import os
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from checker import lang

MASK = 0xFFFFFFFF

# ---------------------------------------------------------------------------
# Errors


class CompileError(Exception):
    """A model program uses something outside the modelling language."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file, self.line, self.message = file, line, message


class ModelError(Exception):
    """A protocol or its parameters are unusable (reported as a one-line error)."""


class Violation(Exception):
    """A property failed while a step was taken (raised by ghost assertions)."""

    def __init__(self, prop: str, message: str) -> None:
        super().__init__(f"{prop}: {message}")
        self.prop, self.message = prop, message


class GhostIndexError(Exception):
    """Ghost code indexed a ghost array out of range (only meaningful without a rogue)."""


# ---------------------------------------------------------------------------
# Memory layout


@dataclass(frozen=True)
class Region:
    """A named shared (or ghost) word or array laid out at ``base``."""

    name: str
    base: int
    length: int | None  # None: a single word
    lock: bool = False
    # Process state the kernel keeps (a worker's fork and exit, see
    # checker.model.system): laid out with shared memory so that every
    # memory model orders it, but no rogue backend can write it.
    kernel: bool = False
    # What an index out of range means, if not the plain "index out of range"
    # ({index} is replaced): a crash site of a check compiled into a program.
    what: str = ""

    def cell_name(self, address: int) -> str:
        if self.length is None:
            return self.name
        return f"{self.name}[{address - self.base}]"


@dataclass(frozen=True)
class Source:
    file: str
    line: int
    text: str
    function: str = ""  # the model function the line is in (helpers are inlined, so a pc alone does not say)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    def as_dict(self) -> dict[str, object]:
        """As a trace records it."""
        d: dict[str, object] = {"file": self.file, "line": self.line, "text": self.text}
        if self.function:
            d["function"] = self.function
        return d


# ---------------------------------------------------------------------------
# Expressions and locations


class Expr:
    """A side-effect-free expression over locals: ``fn(L) -> int``."""

    __slots__ = ("fn", "reads", "text", "const", "ident", "src", "run_src")
    _registry: list["Expr"] = []

    def __init__(self, fn: Callable, reads: tuple[int, ...], text: str, const: int | None = None,
                 src: str | None = None, run_src: str | None = None):
        self.fn, self.reads, self.text, self.const = fn, reads, text, const
        # The generated Python source of ``fn`` (over ``L[i]``) with plain
        # operators, kept so that checker.prove can evaluate the same
        # expression symbolically.
        self.src = src
        # The source ``fn`` really runs: divisions and shifts that C leaves
        # undefined go through the _ub_* guards (UNDEFINED_GUARDS), so code
        # generated from it (checker.compile_sc) raises as ``fn`` does.
        self.run_src = src if run_src is None else run_src
        self.ident = len(Expr._registry)
        Expr._registry.append(self)

    @staticmethod
    def by_id(ident: int) -> "Expr":
        return Expr._registry[ident]

    def __repr__(self) -> str:
        return self.text


class OutOfRange(Exception):
    def __init__(self, region: Region, index: int) -> None:
        super().__init__(region.what.format(index=index) if region.what
                         else f"index {index} out of range for {region.name}[{region.length}]")
        self.region, self.index = region, index


class UndefinedBehaviour(OutOfRange, ModelError):
    """An operation whose result C leaves undefined: division by zero, a shift by 32 or more.

    A memory model treats it like an out-of-range index (the thread crashes:
    a postmaster-safety violation with a trace, a backend's crash with a
    rogue); anywhere else it ends the run as a one-line model error.  Never a
    silent value: C does not give one.
    """

    def __init__(self, site: str, what: str) -> None:
        Exception.__init__(self, f"{what} at {site} (undefined in C)")
        self.region, self.index = None, None


# Source sites of the guarded operations below, by number (the generated code
# passes the number, so expressions stay plain lambdas over L).
_UB_SITES: list[str] = []


def _ub_div(a: int, b: int, site: int) -> int:
    if b == 0:
        raise UndefinedBehaviour(_UB_SITES[site], "division by zero")
    return a // b


def _ub_mod(a: int, b: int, site: int) -> int:
    if b == 0:
        raise UndefinedBehaviour(_UB_SITES[site], "modulo by zero")
    return a % b


def _ub_shl(a: int, b: int, site: int) -> int:
    if b >= 32:
        raise UndefinedBehaviour(_UB_SITES[site], f"shift left by {b}")
    return (a << b) & MASK


def _ub_shr(a: int, b: int, site: int) -> int:
    if b >= 32:
        raise UndefinedBehaviour(_UB_SITES[site], f"shift right by {b}")
    return a >> b


_UB_PLAIN = {"_ub_div": "//", "_ub_mod": "%", "_ub_shl": "<<", "_ub_shr": ">>"}
# The guards by name, for code generated from ``Expr.run_src``.
UNDEFINED_GUARDS = {"_ub_div": _ub_div, "_ub_mod": _ub_mod, "_ub_shl": _ub_shl, "_ub_shr": _ub_shr}
_UB_GUARD = {ast.FloorDiv: "_ub_div", ast.Mod: "_ub_mod", ast.LShift: "_ub_shl", ast.RShift: "_ub_shr"}


class _Unguard(ast.NodeTransformer):
    """The guarded calls back to plain operators (the form checker.prove evaluates)."""

    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _UB_PLAIN:
            op = {"//": ast.FloorDiv, "%": ast.Mod, "<<": ast.LShift, ">>": ast.RShift}[_UB_PLAIN[node.func.id]]
            plain = ast.BinOp(node.args[0], op(), node.args[1])
            if node.func.id == "_ub_shl":
                plain = ast.BinOp(plain, ast.BitAnd(), ast.Constant(MASK))
            return plain
        return node


def _unguarded(src: str) -> str:
    if "_ub_" not in src:
        return src
    return ast.unparse(_Unguard().visit(ast.parse(src, mode="eval")))


class Loc:
    """A shared location: a word, or an array element with an index expression."""

    __slots__ = ("region", "index", "text")

    def __init__(self, region: Region, index: Expr | None, text: str) -> None:
        self.region, self.index, self.text = region, index, text

    @property
    def reads(self) -> tuple[int, ...]:
        return self.index.reads if self.index is not None else ()

    def address(self, L) -> int:
        region = self.region
        if self.index is None:
            return region.base
        i = self.index.fn(L)
        if i >= region.length:  # locals are unsigned: never negative
            raise OutOfRange(region, i)
        return region.base + i


# ---------------------------------------------------------------------------
# Instructions


class Instr:
    __slots__ = ("pc", "src", "op")
    pc: int
    src: Source | None
    op: str  # what the engine and memory models dispatch on ("load", "assign", ...)
    is_event = False

    def uses(self) -> tuple[int, ...]:
        return ()

    def defs(self) -> tuple[int, ...]:
        return ()

    def describe(self) -> str:
        return self.op


class Load(Instr):
    """``dst = prim(loc)``: a load; ``prim`` names the primitive (the profile orders it)."""

    __slots__ = ("dst", "loc", "prim")
    is_event = True

    def __init__(self, dst, loc, prim):
        self.op, self.dst, self.loc, self.prim = "load", dst, loc, prim

    def uses(self):
        return self.loc.reads

    def defs(self):
        return (self.dst,)

    def describe(self):
        return f"{self.prim}({self.loc.text})"


class Store(Instr):
    __slots__ = ("loc", "value", "prim")
    is_event = True

    def __init__(self, loc, value, prim):
        self.op, self.loc, self.value, self.prim = "store", loc, value, prim

    def uses(self):
        return self.loc.reads + self.value.reads

    def describe(self):
        return f"{self.prim}({self.loc.text}, {self.value.text})"


RMW_OPS = {
    "pg_atomic_fetch_add_u32": "add",
    "pg_atomic_fetch_sub_u32": "sub",
    "pg_atomic_fetch_or_u32": "or",
    "pg_atomic_fetch_and_u32": "and",
    "pg_atomic_exchange_u32": "xchg",
    "pg_atomic_compare_exchange_u32": "cas",
    "pg_atomic_read_membarrier_u32": "read_mb",
}


def rmw_apply(op: str, old: int, args: tuple[int, ...]) -> tuple[int, int]:
    """Return (new memory value, result) of an RMW on ``old``."""
    if op == "add":
        return (old + args[0]) & MASK, old
    if op == "sub":
        return (old - args[0]) & MASK, old
    if op == "or":
        return old | args[0], old
    if op == "and":
        return old & args[0], old
    if op == "xchg":
        return args[0], old
    if op == "cas":
        return (args[1], 1) if old == args[0] else (old, 0)
    if op == "read_mb":
        return old, old
    raise ValueError(op)


class Rmw(Instr):
    """An atomic read-modify-write.

    For ``cas`` the args are (expected, new); ``expected_local`` receives the
    value found in memory (as C's ``&expected`` does) and ``dst`` gets 1 or 0.
    For the others ``dst`` receives the old value.
    """

    __slots__ = ("kind", "dst", "loc", "args", "expected_local", "prim")
    is_event = True
    # The profile's ordering taken away by `checker fences` (fences.RelaxedRmw); only weak can tell.
    relaxed = False

    def __init__(self, kind, dst, loc, args, expected_local, prim):
        self.op, self.kind, self.dst, self.loc = "rmw", kind, dst, loc
        self.args, self.expected_local, self.prim = args, expected_local, prim

    def uses(self):
        r = self.loc.reads
        for a in self.args:
            r = r + a.reads
        return r

    def defs(self):
        d = (self.dst,)
        if self.expected_local is not None:
            d += (self.expected_local,)
        return d

    def describe(self):
        return f"{self.prim}({self.loc.text}, {', '.join(a.text for a in self.args)})"


class Fence(Instr):
    __slots__ = ("prim",)
    is_event = True

    def __init__(self, prim):
        self.op, self.prim = "fence", prim

    def describe(self):
        return f"{self.prim}()"


class LockAcquire(Instr):
    """``LWLockAcquire``: an RMW on the lock word that waits while it is non-zero.

    ``wait_nonzero``/``taken``: what the wait waits for and what it leaves
    (a lock: waits for 0, leaves 1).  Every memory model reads them.
    """

    __slots__ = ("loc", "prim")
    is_event = True
    wait_nonzero = False
    taken = 1

    def __init__(self, loc):
        self.op, self.loc, self.prim = "acquire", loc, "LWLockAcquire"

    def uses(self):
        return self.loc.reads

    def describe(self):
        return f"LWLockAcquire({self.loc.text})"


class AwaitFlag(LockAcquire):
    """Sleep until a flag is set, then clear it: a worker waiting to be forked
    (``fork``), the postmaster sleeping until a signal (``wait_signal``).

    The same event as an LWLock acquire with the sense inverted (waits for a
    non-zero word, leaves 0), so every memory model orders it as a full
    barrier, as the system call behind it is.
    """

    __slots__ = ()
    wait_nonzero = True
    taken = 0

    def __init__(self, loc, prim):
        self.op, self.loc, self.prim = "acquire", loc, prim

    @property
    def shown(self) -> str:
        return self.prim

    def describe(self):
        return f"{self.prim}({self.loc.text})"


class LockRelease(Instr):
    __slots__ = ("loc", "prim")
    is_event = True

    def __init__(self, loc):
        self.op, self.loc, self.prim = "release", loc, "LWLockRelease"

    def uses(self):
        return self.loc.reads

    def describe(self):
        return f"LWLockRelease({self.loc.text})"


class Choose(Instr):
    __slots__ = ("dst", "n")
    is_event = True

    def __init__(self, dst, n):
        self.op, self.dst, self.n = "choose", dst, n

    def defs(self):
        return (self.dst,)

    def describe(self):
        return f"choose({self.n})"


class Assign(Instr):
    __slots__ = ("dst", "expr")

    def __init__(self, dst, expr):
        self.op, self.dst, self.expr = "assign", dst, expr

    def uses(self):
        return self.expr.reads

    def defs(self):
        return (self.dst,)


class Branch(Instr):
    """Fall through when ``cond`` is non-zero, else jump to ``target``."""

    __slots__ = ("cond", "target")

    def __init__(self, cond, target):
        self.op, self.cond, self.target = "branch", cond, target

    def uses(self):
        return self.cond.reads


class Jump(Instr):
    __slots__ = ("target",)

    def __init__(self, target):
        self.op, self.target = "jump", target


class Ghost(Instr):
    """Ghost code: ``fn(G, L)`` mutates the ghost list ``G`` and may raise Violation.

    ``greads``/``gwrites`` name the ghost variables it reads and writes, so a
    memory model that runs ghost blocks out of program order keeps the ones
    that touch the same bookkeeping in order.
    """

    __slots__ = ("fn", "reads", "text", "code", "greads", "gwrites")

    def __init__(self, fn, reads, text, code=None, greads=frozenset(), gwrites=frozenset()):
        self.op, self.fn, self.reads, self.text = "ghost", fn, reads, text
        self.code = code  # the generated source of ``fn`` (for checker.prove)
        self.greads, self.gwrites = greads, gwrites

    def conflicts(self, other: "Ghost") -> bool:
        return bool(self.gwrites & (other.greads | other.gwrites) or other.gwrites & self.greads)

    def uses(self):
        return self.reads


class OpMark(Instr):
    __slots__ = ("begin", "name")

    def __init__(self, begin, name):
        self.op, self.begin, self.name = ("op_begin" if begin else "op_end"), begin, name


class Halt(Instr):
    __slots__ = ()
    is_event = True  # a thread that halted takes no more steps

    def __init__(self):
        self.op = "halt"


def instr_expressions(ins: Instr) -> Iterator[Expr]:
    """The expressions ``ins`` holds (its locations' indexes included), in a fixed order.

    The order is that of the instruction's fields, so two builds of one
    program list the same expressions in the same places: what the weak
    model's wire and the symmetry's renaming of expressions rest on.
    """
    for c in type(ins).__mro__:
        for name in getattr(c, "__slots__", ()):
            if name in ("src", "fn", "pc", "reads", "greads", "gwrites", "text"):
                continue
            v = getattr(ins, name, None)
            if isinstance(v, Expr):
                yield v
            elif hasattr(v, "region"):  # a Loc, or a location of its kind
                if v.index is not None:
                    yield v.index
            elif isinstance(v, (list, tuple)):
                yield from (a for a in v if isinstance(a, Expr))


def program_expressions(prog: Program) -> Iterator[Expr]:
    """The expressions of ``prog``'s instructions, in program order (see instr_expressions)."""
    for ins in prog.instrs:
        yield from instr_expressions(ins)


# ---------------------------------------------------------------------------
# Programs


# A thread's state is one tuple: slot 0 is its pc, slot 1 counts the steps of
# its current operation (for the postmaster's step bound), the rest are locals.
PC_LOCAL = 0
STEPS_LOCAL = 1


@dataclass
class Program:
    role: str
    instrs: list[Instr]
    local_names: list[str]
    file: str
    dead_at: list[tuple[int, ...]] = field(default_factory=list)  # locals to reset at pc
    in_op: list[bool] = field(default_factory=list)
    op_name: list[str | None] = field(default_factory=list)
    initial_locals: dict[int, int] = field(default_factory=dict)
    op_start: list[bool] = field(default_factory=list)  # first event of an operation
    # Properties named by the assertions compiled into this program (after
    # mutations are folded away): what its ghost code actually checks.
    asserted: frozenset[str] = frozenset()
    modules: frozenset[str] = frozenset()  # modules of the functions inlined into it
    # A worker's pc while its process slot is empty (waiting to be forked),
    # and the address of the fork flag it waits for: there, unless forked, it
    # counts as finished, not as stuck.
    idle_pc: int | None = None
    fork_address: int | None = None
    # Private arrays: name -> (first local, length); their elements are locals ``name[k]``.
    private_arrays: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def nlocals(self) -> int:
        return len(self.local_names)

    def listing(self) -> str:
        rows = []
        for ins in self.instrs:
            tag = "*" if ins.is_event else " "
            extra = ""
            if isinstance(ins, (Branch, Jump)):
                extra = f" -> {ins.target}"
            text = ins.src.text.strip() if ins.src else ""
            rows.append(f"{ins.pc:4}{tag} {ins.op:9}{extra:8} {text}")
        return "\n".join(rows)


# ---------------------------------------------------------------------------
# The compiler

_BINOPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%",
    ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
}
_WRAPPING = {ast.Add, ast.Sub, ast.Mult, ast.LShift}
_CMPOPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
}
_LOAD_PRIMS = {"pg_atomic_read_u32", "smp_load_acquire"}
_STORE_PRIMS = {"pg_atomic_write_u32", "pg_atomic_write_membarrier_u32", "smp_store_release"}
_FENCE_PRIMS = {"pg_memory_barrier", "pg_read_barrier", "pg_write_barrier"}


class _Label:
    __slots__ = ("pc",)

    def __init__(self):
        self.pc = None


@dataclass
class Symbols:
    """What a program's names may refer to."""

    shared: dict[str, Region]
    ghost: dict[str, Region]
    constants: dict[str, int]
    mutations: frozenset[str] = frozenset()  # mutations the model declares
    active: frozenset[str] = frozenset()  # the ones selected for this run
    namespace: dict[str, Any] = field(default_factory=dict)  # helper functions
    checked: frozenset[str] | None = None  # properties checked in this run (None: all)
    # Thread-private globals of the role being compiled (C's `static` in
    # postmaster.c): name -> initial value.  Functions assign them after a
    # `global` statement, as in Python.
    private: dict[str, int] = field(default_factory=dict)
    # False with a rogue: ownership bookkeeping means nothing once shared
    # memory is corrupted, and keeping it would only multiply states.
    ghost_updates: bool = True
    # Property names an assertion may use (None: not checked here).  A
    # misspelt name must not compile to an assertion nobody reports.
    known_properties: frozenset[str] | None = None
    # Thread-private arrays of the role being compiled: name -> initial values.
    private_arrays: dict[str, list[int]] = field(default_factory=dict)
    # Processes and signals (docs/writing-a-model.md, "Workers and signals"):
    # the kernel's per-slot fork and exit flags when the model has a worker
    # role, and the names of the declared postmaster signal flags.
    workers: tuple[Region, Region] | None = None
    signals: frozenset[str] = frozenset()
    # With a rogue the postmaster's sleep ends by timeout too (ServerLoop never
    # sleeps for ever): wait_signal() does not block, so that a rogue that
    # clears a flag or never signals cannot pass for a postmaster stuck.
    sleep_times_out: bool = False


@dataclass
class _Frame:
    fn_name: str
    locals: dict[str, int]
    file: str
    line0: int
    lines: list[str]
    ret_label: _Label | None
    ret_local: int | None
    loops: list[tuple[_Label, _Label]] = field(default_factory=list)
    # Mutations a shared helper module may test although this model does not
    # declare them (its module-level OPTIONAL_MUTATIONS; see const_value).
    optional_mutations: frozenset[str] = frozenset()


def _function_ast(fn) -> tuple[ast.FunctionDef, str, int, list[str]]:
    try:
        source_lines, line0 = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise CompileError("<unknown>", 0, f"cannot read the source of {fn!r}: {exc}") from None
    file = _display_path(file)
    src = textwrap.dedent("".join(source_lines))
    tree = ast.parse(src)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise CompileError(file, line0, f"{fn.__name__} is not a plain function")
    return node, file, line0 - 1, source_lines


_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _display_path(file: str) -> str:
    """Paths inside the project are shown relative to its root (models/ring.py)."""
    absolute = os.path.abspath(file)
    if absolute.startswith(_ROOT + os.sep):
        return os.path.relpath(absolute, _ROOT)
    return file


# The postmaster's private record of which worker slots hold a process it
# forked and has not reaped (what it needs to refuse a second fork).
FORKED = "$forked"
# Primitives that start, reap and signal processes (see Compiler.process_call).
PROCESS_PRIMITIVES = ("start_worker", "child_exited", "signal_postmaster", "take_signal", "wait_signal")
_POSTMASTER_ONLY = ("start_worker", "child_exited", "take_signal", "wait_signal")


class ProcessStore(Store):
    """A store made by a system call (fork, exit, kill): ``prim`` orders it, ``shown`` names it."""

    __slots__ = ("shown", "arg")

    def __init__(self, loc, value, shown, arg=""):
        super().__init__(loc, value, "pg_atomic_write_membarrier_u32")
        self.shown, self.arg = shown, arg

    def describe(self):
        return f"{self.shown}({self.arg})"


class ProcessRmw(Rmw):
    """A read-and-clear made by a system call (waitpid, taking a signal)."""

    __slots__ = ("shown", "arg")

    def __init__(self, dst, loc, shown, arg=""):
        super().__init__("and", dst, loc, (_const(0),), None, "pg_atomic_fetch_and_u32")
        self.shown, self.arg = shown, arg

    def describe(self):
        return f"{self.shown}({self.arg})"


class PrivateRangeCrash(Load):
    """Reached only with an index out of range of a private array: its access
    is to an empty region, so the thread crashes there as on any bad index."""

    __slots__ = ()

    def __init__(self, dst, loc):
        super().__init__(dst, loc, "pg_atomic_read_u32")

    def describe(self):
        return f"{self.loc.text}  (index out of range)"


class Compiler:
    """Compile one role's entry function (for one thread) into a Program."""

    def __init__(self, symbols: Symbols, thread_constants: dict[str, int] | None = None):
        self.sym = symbols
        self.consts = dict(symbols.constants)
        self.consts.update(thread_constants or {})
        self.code: list[Instr] = []
        self.local_names: list[str] = ["$pc", "$steps"]
        self.call_stack: list[str] = []
        self.frame: _Frame | None = None
        self.temp_count = 0
        self.file = "<unknown>"
        self.private: dict[str, int] = {}
        self.initial_locals: dict[int, int] = {}
        self.asserted: set[str] = set()
        self.modules: set[str] = set()
        for name, init in symbols.private.items():
            idx = self.new_local(name)
            self.private[name] = idx
            self.initial_locals[idx] = init & MASK
        self.role = ""
        # Private arrays: one local per element; name -> (first local, length).
        self.private_arrays: dict[str, tuple[int, int]] = {}
        for name, values in symbols.private_arrays.items():
            self.add_private_array(name, values)

    def add_private_array(self, name: str, values: list[int]) -> None:
        base = len(self.local_names)
        for k, v in enumerate(values):
            self.initial_locals[self.new_local(f"{name}[{k}]")] = v & MASK
        self.private_arrays[name] = (base, len(values))

    # -- errors and sources -------------------------------------------------

    def error(self, node, message) -> CompileError:
        f = self.frame
        line = (f.line0 + getattr(node, "lineno", 1)) if f else 0
        return CompileError(f.file if f else self.file, line, message)

    def source(self, node) -> Source:
        f = self.frame
        lineno = getattr(node, "lineno", 1)
        idx = lineno - 1
        text = f.lines[idx].strip() if 0 <= idx < len(f.lines) else ""
        return Source(f.file, f.line0 + lineno, text, f.fn_name)

    def emit(self, instr: Instr, node) -> Instr:
        instr.pc = len(self.code)
        instr.src = self.source(node)
        self.code.append(instr)
        return instr

    def label_here(self, label: _Label) -> None:
        label.pc = len(self.code)

    # -- locals ------------------------------------------------------------

    def new_local(self, name: str) -> int:
        self.local_names.append(name)
        return len(self.local_names) - 1

    def temp(self, hint: str) -> int:
        self.temp_count += 1
        return self.new_local(f"{self.frame.fn_name}.${hint}{self.temp_count}")

    # -- entry -------------------------------------------------------------

    def compile(self, role: str, entry, worker_slot: int | None = None) -> Program:
        self.file = _display_path(inspect.getsourcefile(entry) or "<unknown>")
        self.role = role
        if role == "postmaster" and self.sym.workers is not None:
            self.add_private_array(FORKED, [0] * self.sym.workers[0].length)
        end = _Label()
        idle_pc = None
        if worker_slot is not None:
            # A worker process slot: idle until the postmaster forks it, then
            # the worker's function, then exit(), which the kernel reports to
            # the postmaster as a child exit; then idle again (a slot may be
            # started anew).
            started, exited = self.sym.workers
            try:
                line = inspect.getsourcelines(entry)[1]
            except (OSError, TypeError):  # pragma: no cover - the role was read above
                line = 0
            slot = _const(worker_slot)
            fork = AwaitFlag(Loc(started, slot, f"{started.name}[{worker_slot}]"), "fork")
            fork.pc, fork.src = 0, Source(self.file, line, f"fork(): the postmaster starts worker {worker_slot}")
            self.code.append(fork)
            idle_pc = 0
        self.inline(entry, [], None, end_label=end, is_entry=True)
        self.label_here(end)
        if worker_slot is not None:
            ex = ProcessStore(Loc(exited, slot, f"{exited.name}[{worker_slot}]"), _const(1), "exit")
            ex.pc, ex.src = len(self.code), Source(self.file, line, "exit(): the worker's function returned")
            self.code.append(ex)
            # The next fork is a new process: its statics, scalars and
            # array elements alike, start afresh.
            statics = [*self.private.values(),
                       *(base + k for base, n in self.private_arrays.values() for k in range(n))]
            for idx in statics:
                fresh = Assign(idx, _const(self.initial_locals[idx]))
                fresh.pc, fresh.src = len(self.code), ex.src
                self.code.append(fresh)
            back = Jump(0)
            back.pc, back.src = len(self.code), ex.src
            self.code.append(back)
        halt = Halt()
        halt.pc, halt.src = len(self.code), Source(self.file, 0, "<end of program>")
        self.code.append(halt)
        # Resolve labels.
        for ins in self.code:
            if isinstance(ins, (Branch, Jump)) and isinstance(ins.target, _Label):
                ins.target = ins.target.pc
        prog = Program(role, self.code, self.local_names, self.file)
        prog.idle_pc = idle_pc
        prog.private_arrays = dict(self.private_arrays)
        if worker_slot is not None:
            prog.fork_address = self.sym.workers[0].base + worker_slot
        prog.initial_locals = dict(self.initial_locals)
        prog.asserted = frozenset(self.asserted)
        prog.modules = frozenset(self.modules)
        _analyse(prog)
        return prog

    def inline(self, fn, arg_nodes, call_node, end_label=None, is_entry=False) -> int | None:
        """Inline ``fn`` here; returns the local holding its return value."""
        name = fn.__name__
        if name in self.call_stack:
            raise self.error(call_node, f"recursive call to {name} is not supported")
        node, file, line0, lines = _function_ast(fn)
        self.modules.add(fn.__module__)
        params = [a.arg for a in node.args.args]
        if node.args.vararg or node.args.kwarg or node.args.kwonlyargs or node.args.defaults:
            raise CompileError(file, line0 + node.lineno, f"{name}: only plain positional parameters")
        if len(params) != len(arg_nodes):
            raise self.error(call_node, f"{name}() takes {len(params)} arguments, {len(arg_nodes)} given")
        # Evaluate arguments in the caller's frame.
        arg_exprs = [self.expr(a) for a in arg_nodes]
        assigned = _assigned_names(node)
        declared_global: set[str] = set()
        for g in ast.walk(node):
            if isinstance(g, ast.Global):
                for n in g.names:
                    if n in self.private_arrays:
                        continue  # elements are assigned by index: no rebinding, `global` changes nothing
                    if n not in self.private:
                        raise CompileError(file, line0 + g.lineno, f"{n} is not a private variable of this role")
                    declared_global.add(n)
        caller = self.frame
        depth = len(self.call_stack)
        prefix = name if depth == 0 else f"{name}#{depth}"
        local_map: dict[str, int] = {n: self.private[n] for n in declared_global}
        assigned -= declared_global
        for p in params:
            local_map[p] = self.new_local(f"{prefix}.{p}")
        for n in sorted(assigned - set(params)):
            if n in self.consts:
                raise CompileError(file, line0 + node.lineno, f"{name}: assigns to constant {n}")
            if n in self.sym.shared or n in self.sym.ghost:
                continue  # reported at the assignment
            local_map[n] = self.new_local(f"{prefix}.{n}")
        ret_label = end_label or _Label()
        ret_local = None if is_entry else self.new_local(f"{prefix}.$ret")
        frame = _Frame(name, local_map, file, line0, lines, ret_label, ret_local,
                       optional_mutations=frozenset(getattr(inspect.getmodule(fn), "OPTIONAL_MUTATIONS", ())))
        is_op = getattr(fn, "__slotcheck_operation__", False)
        for p, e in zip(params, arg_exprs):  # in the caller's frame: its source line
            self.emit(Assign(local_map[p], e), call_node)
        self.call_stack.append(name)
        self.frame = frame
        try:
            if ret_local is not None:
                self.emit(Assign(ret_local, _const(0)), node)
            if is_op:
                self.emit(OpMark(True, name), node)
                self.emit(Assign(STEPS_LOCAL, _const(0)), node)
            self.block(node.body)
            if not is_entry:
                self.label_here(ret_label)
            if is_op:
                self.emit(OpMark(False, name), node)
        finally:
            self.call_stack.pop()
            self.frame = caller
        return ret_local

    # -- statements --------------------------------------------------------

    def block(self, stmts) -> None:
        for s in stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return  # docstring
            if isinstance(s.value, ast.Call):
                self.call(s.value, want_value=False)
                return
            raise self.error(s, "an expression statement must be a call")
        if isinstance(s, (ast.Assign, ast.AugAssign)):
            target = s.targets[0] if isinstance(s, ast.Assign) and len(s.targets) == 1 else getattr(s, "target", None)
            if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                    and target.value.id in self.private_arrays):
                value = s.value
                if isinstance(s, ast.AugAssign):
                    load = ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
                    value = ast.copy_location(ast.BinOp(left=load, op=s.op, right=s.value), s)
                self.private_store(target.value.id, target.slice, value, s)
                return
        if isinstance(s, ast.Assign):
            if len(s.targets) != 1 or not isinstance(s.targets[0], ast.Name):
                raise self.error(s, "only `local = expression` assignments (shared memory is written "
                                    "with pg_atomic_write_u32)")
            dst = self.local_target(s.targets[0])
            self.assign(dst, s.value, s)
            return
        if isinstance(s, ast.AugAssign):
            if not isinstance(s.target, ast.Name):
                raise self.error(s, "only locals can be updated in place")
            dst = self.local_target(s.target)
            binop = ast.BinOp(left=ast.Name(id=s.target.id, ctx=ast.Load()), op=s.op, right=s.value)
            ast.copy_location(binop, s)
            self.assign(dst, binop, s)
            return
        if isinstance(s, ast.If):
            c = self.const_value(s.test)
            if c is not None:
                self.block(s.body if c else s.orelse)
                return
            cond = self.expr(s.test)
            else_label, end_label = _Label(), _Label()
            self.emit(Branch(cond, else_label), s)
            self.block(s.body)
            if s.orelse:
                self.emit(Jump(end_label), s)
                self.label_here(else_label)
                self.block(s.orelse)
                self.label_here(end_label)
            else:
                self.label_here(else_label)
            return
        if isinstance(s, ast.While):
            if s.orelse:
                raise self.error(s, "while/else is not supported")
            head, end = _Label(), _Label()
            self.label_here(head)
            c = self.const_value(s.test)
            if c is not None and not c:
                return
            if c is None:
                cond = self.expr(s.test)
                self.emit(Branch(cond, end), s)
            self.frame.loops.append((end, head))
            self.block(s.body)
            self.frame.loops.pop()
            self.emit(Jump(head), s)
            self.label_here(end)
            return
        if isinstance(s, ast.For):
            self.for_range(s)
            return
        if isinstance(s, (ast.Break, ast.Continue)):
            if not self.frame.loops:
                raise self.error(s, "break/continue outside a loop")
            brk, cont = self.frame.loops[-1]
            self.emit(Jump(brk if isinstance(s, ast.Break) else cont), s)
            return
        if isinstance(s, ast.Return):
            f = self.frame
            if s.value is not None:
                if f.ret_local is None:
                    raise self.error(s, "the role's entry function cannot return a value")
                self.assign(f.ret_local, s.value, s)
            self.emit(Jump(f.ret_label), s)
            return
        if isinstance(s, (ast.Pass, ast.Global)):
            return
        if isinstance(s, ast.With):
            if (len(s.items) == 1 and isinstance(s.items[0].context_expr, ast.Name)
                    and s.items[0].context_expr.id == "ghost" and s.items[0].optional_vars is None):
                self.ghost_block(s)
                return
            raise self.error(s, "only `with ghost:` blocks are supported")
        raise self.error(s, f"{type(s).__name__} statements are not part of the modelling language")

    def for_range(self, s: ast.For) -> None:
        it = s.iter
        if not (isinstance(s.target, ast.Name) and isinstance(it, ast.Call)
                and isinstance(it.func, ast.Name) and it.func.id == "range"
                and 1 <= len(it.args) <= 2 and not it.keywords) or s.orelse:
            raise self.error(s, "only `for name in range(stop)` or `range(start, stop)` loops")
        var = self.local_target(s.target)
        start = it.args[0] if len(it.args) == 2 else ast.Constant(0)
        stop = it.args[-1]
        self.assign(var, start, s)
        stop_local = self.temp("stop")
        self.assign(stop_local, stop, s)
        head, cont, end = _Label(), _Label(), _Label()
        self.label_here(head)
        cond = self.make_expr(f"(1 if L[{var}] < L[{stop_local}] else 0)", (var, stop_local),
                              f"{s.target.id} < stop")
        self.emit(Branch(cond, end), s)
        self.frame.loops.append((end, cont))
        self.block(s.body)
        self.frame.loops.pop()
        self.label_here(cont)
        self.emit(Assign(var, self.make_expr(f"((L[{var}] + 1) & {MASK})", (var,), f"{s.target.id} + 1")), s)
        self.emit(Jump(head), s)
        self.label_here(end)

    def private_index(self, name: str, index, node, what: str = "") -> int:
        """A local holding ``index``, checked against private array ``name``.

        Out of range, the thread crashes at an event of its own (an access
        to an empty region), the way every memory model already reports an
        index out of range: for the postmaster, a postmaster-safety violation.
        """
        base, n = self.private_arrays[name]
        text = ast.unparse(index)
        index_local = self.temp("pidx")
        self.assign(index_local, index, node)
        in_range = _Label()
        self.emit(Branch(self.make_expr(f"(1 if L[{index_local}] >= {n} else 0)", (index_local,),
                                        f"{text} >= {n}"), in_range), node)
        bad = Region(name, 0, 0, what=what or f"index {{index}} out of range for {name}[{n}] (a private array)")
        self.emit(PrivateRangeCrash(index_local, Loc(bad, self.local_expr(index_local), f"{name}[{text}]")), node)
        self.label_here(in_range)
        return index_local

    def private_store(self, name: str, index, value, node) -> None:
        """``name[index] = value`` for a private array: a range check, then each element."""
        value_local = self.temp("pval")
        self.assign(value_local, value, node)
        index_local = self.private_index(name, index, node)
        self.private_set(name, index_local, f"L[{value_local}]", (value_local,), node)

    def private_set(self, name: str, index_local: int, value_src: str, value_reads, node, when: str = "") -> None:
        """Store ``value_src`` into element ``L[index_local]`` (already range-checked) of a private array."""
        base, n = self.private_arrays[name]
        for k in range(n):
            cond = f"L[{index_local}] == {k}" + (f" and {when}" if when else "")
            e = self.make_expr(f"({value_src} if {cond} else L[{base + k}])",
                               (*value_reads, index_local, base + k), f"{name}[{k}]")
            self.emit(Assign(base + k, e), node)

    def private_get_src(self, name: str, index_local: int, reads: set[int]) -> str:
        """The element at ``L[index_local]`` (already range-checked), as an expression."""
        base, n = self.private_arrays[name]
        reads.update(range(base, base + n))
        reads.add(index_local)
        src = f"L[{base + n - 1}]"
        for k in range(n - 2, -1, -1):
            src = f"(L[{base + k}] if L[{index_local}] == {k} else {src})"
        return src

    def local_target(self, target: ast.Name) -> int:
        name = target.id
        if name in self.private_arrays:
            raise self.error(target, f"{name} is a private array: assign its elements ({name}[i] = ...)")
        if name in self.sym.shared:
            raise self.error(target, f"{name} is shared memory: write it with pg_atomic_write_u32")
        if name in self.sym.ghost:
            raise self.error(target, f"{name} is ghost state: update it inside `with ghost:`")
        if name not in self.frame.locals:
            raise self.error(target, f"cannot assign to {name}")
        return self.frame.locals[name]

    def assign(self, dst: int, value, node) -> None:
        if isinstance(value, ast.Call) and self.is_event_call(value):
            self.call(value, want_value=True, dst=dst)
            return
        e = self.expr(value)
        self.emit(Assign(dst, e), node)

    # -- calls -------------------------------------------------------------

    def is_event_call(self, node: ast.Call) -> bool:
        return isinstance(node.func, ast.Name) and (node.func.id in lang.PRIMITIVES or node.func.id == "choose"
                                                    or node.func.id in PROCESS_PRIMITIVES)

    def call(self, node: ast.Call, want_value: bool, dst: int | None = None) -> int | None:
        """Compile a call; returns the local holding its value (if any)."""
        if not isinstance(node.func, ast.Name):
            raise self.error(node, "only calls of named functions")
        if node.keywords:
            raise self.error(node, "keyword arguments are not supported")
        name = node.func.id
        args = node.args
        if name in lang.PRIMITIVES:
            return self.primitive(name, args, node, want_value, dst)
        if name in PROCESS_PRIMITIVES:
            return self.process_call(name, args, node, dst)
        if name == "choose":
            n = self.const_value(args[0]) if len(args) == 1 else None
            if n is None or n < 1:
                raise self.error(node, "choose(n) needs a constant n >= 1")
            d = dst if dst is not None else self.temp("choice")
            self.emit(Choose(d, n), node)
            return d
        if name in ("assert_", "ghost"):
            raise self.error(node, f"{name} may only appear inside `with ghost:`")
        if name == "mutation":
            raise self.error(node, "mutation(...) is a compile-time test: use it in an if")
        fn = self.sym.namespace.get(name)
        if fn is None or not inspect.isfunction(fn):
            raise self.error(node, f"unknown function {name}")
        ret = self.inline(fn, args, node)
        if dst is not None:
            self.emit(Assign(dst, self.local_expr(ret)), node)
            return dst
        return ret

    def location(self, node) -> Loc:
        if isinstance(node, ast.Name):
            r = self.sym.shared.get(node.id)
            if r is None:
                raise self.error(node, f"{node.id} is not a shared location")
            if r.length is not None:
                raise self.error(node, f"{node.id} is an array: index it")
            return Loc(r, None, node.id)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            r = self.sym.shared.get(node.value.id)
            if r is None or r.length is None:
                raise self.error(node, f"{node.value.id} is not a shared array")
            idx = self.expr(node.slice)
            return Loc(r, idx, f"{node.value.id}[{idx.text}]")
        raise self.error(node, "expected a shared word or array element")

    def primitive(self, name, args, node, want_value, dst) -> int | None:
        def need(n):
            if len(args) != n:
                raise self.error(node, f"{name} takes {n} argument(s), {len(args)} given")

        if name in _FENCE_PRIMS:
            need(0)
            self.emit(Fence(name), node)
            return None
        if name in ("LWLockAcquire", "LWLockRelease"):
            need(1)
            loc = self.location(args[0])
            if not loc.region.lock:
                raise self.error(node, f"{loc.region.name} is not declared as a lock")
            self.emit(LockAcquire(loc) if name == "LWLockAcquire" else LockRelease(loc), node)
            return None
        if name in _LOAD_PRIMS:
            need(1)
            loc = self.location(args[0])
            d = dst if dst is not None else self.temp("v")
            self.emit(Load(d, loc, name), node)
            return d
        if name in _STORE_PRIMS:
            need(2)
            loc = self.location(args[0])
            val = self.expr(args[1])
            self.emit(Store(loc, val, name), node)
            return None
        kind = RMW_OPS[name]
        if kind == "cas":
            need(3)
            if not isinstance(args[1], ast.Name) or args[1].id not in self.frame.locals:
                raise self.error(node, "the expected value of a compare-exchange must be a local "
                                       "(it receives the current value, like C's &expected)")
            loc = self.location(args[0])
            exp_local = self.frame.locals[args[1].id]
            new = self.expr(args[2])
            d = dst if dst is not None else self.temp("ok")
            self.emit(Rmw("cas", d, loc, (self.local_expr(exp_local), new), exp_local, name), node)
            return d
        if kind == "read_mb":
            need(1)
            loc = self.location(args[0])
            d = dst if dst is not None else self.temp("v")
            self.emit(Rmw(kind, d, loc, (), None, name), node)
            return d
        need(2)
        loc = self.location(args[0])
        operand = self.expr(args[1])
        d = dst if dst is not None else self.temp("old")
        self.emit(Rmw(kind, d, loc, (operand,), None, name), node)
        return d

    def process_call(self, name, args, node, dst) -> int | None:
        """Starting and reaping workers, signalling the postmaster (docs/writing-a-model.md).

        Each is one event made by a system call, so each is a full barrier:
        fork() and exit() (a ProcessStore), waitpid() and taking a signal (a
        read-and-clear ProcessRmw), kill() (a ProcessStore), sleeping until a
        signal (an AwaitFlag).
        """
        if len(args) != 1:
            raise self.error(node, f"{name} takes 1 argument, {len(args)} given")
        if name in _POSTMASTER_ONLY and self.role != "postmaster":
            raise self.error(node, f"{name}() is the postmaster's: a {self.role} cannot call it")
        if name == "signal_postmaster" and self.role == "postmaster":
            raise self.error(node, "signal_postmaster() is for backends and workers: the postmaster does not "
                                   "signal itself")
        if name in ("start_worker", "child_exited"):
            if self.sym.workers is None:
                raise self.error(node, f"{name}(): this model has no worker role")
            started, exited = self.sym.workers
            slot_text = ast.unparse(args[0])
            index_local = self.private_index(FORKED, args[0], node,
                                             what=f"{name}({{index}}): there are {started.length} worker slots")
            if name == "start_worker":
                # Forking a second process for a slot whose process the
                # postmaster has not reaped is the postmaster's own mistake:
                # the fork crashes it (a postmaster-safety violation).
                reads: set[int] = set()
                forked = self.private_get_src(FORKED, index_local, reads)
                free = _Label()
                self.emit(Branch(self.make_expr(f"(1 if {forked} != 0 else 0)", reads, "forked"), free), node)
                twice = Region(started.name, 0, 0, kernel=True,
                               what="started a worker for slot {index}, whose previous worker has not exited "
                                    "and been reaped (two processes for one slot)")
                self.emit(ProcessStore(Loc(twice, self.local_expr(index_local), slot_text), _const(1),
                                       "start_worker", slot_text), node)
                self.label_here(free)
                self.private_set(FORKED, index_local, "1", (), node)
                self.emit(ProcessStore(Loc(started, self.local_expr(index_local), f"{started.name}[{slot_text}]"),
                                       _const(1), "start_worker", slot_text), node)
                return None
            d = dst if dst is not None else self.temp("exited")
            self.emit(ProcessRmw(d, Loc(exited, self.local_expr(index_local), f"{exited.name}[{slot_text}]"),
                                 "child_exited", slot_text), node)
            self.private_set(FORKED, index_local, "0", (d,), node, when=f"L[{d}] != 0")
            return d
        flag = args[0]
        if not (isinstance(flag, ast.Name) and flag.id in self.sym.signals):
            raise self.error(node, f"{name}() takes a signal flag declared with d.signal(name)")
        loc = self.location(flag)
        if name == "signal_postmaster":
            self.emit(ProcessStore(loc, _const(1), "signal_postmaster", flag.id), node)
            return None
        if name == "take_signal":
            d = dst if dst is not None else self.temp("signalled")
            self.emit(ProcessRmw(d, loc, "take_signal", flag.id), node)
            return d
        if self.sym.sleep_times_out:
            self.emit(ProcessRmw(self.temp("woken"), loc, "wait_signal", flag.id), node)
        else:
            self.emit(AwaitFlag(loc, "wait_signal"), node)
        return None

    # -- ghost code --------------------------------------------------------

    def ghost_block(self, s: ast.With) -> None:
        reads: set[int] = set()
        body_lines: list[str] = []
        self.ghost_touched = (set(), set())
        self.ghost_stmts(s.body, body_lines, 1, reads)
        greads, gwrites = self.ghost_touched
        src = "def _ghost(G, L):\n" + "\n".join(body_lines or ["    pass"])
        env = {"_Violation": Violation, "_gidx": _ghost_index}
        try:
            exec(compile(src, f"<ghost {self.frame.file}:{self.source(s).line}>", "exec"), env)
        except SyntaxError as exc:  # pragma: no cover - a compiler bug
            raise self.error(s, f"internal error compiling ghost code: {exc}") from None
        text = self.source(s).text
        self.emit(Ghost(env["_ghost"], tuple(sorted(reads)), text, src, frozenset(greads), frozenset(gwrites)), s)

    def ghost_stmts(self, stmts, out, depth, reads) -> None:
        pad = "    " * depth
        for s in stmts:
            if isinstance(s, ast.Pass):
                out.append(pad + "pass")
            elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) \
                    and isinstance(s.value.func, ast.Name) and s.value.func.id == "assert_":
                a = s.value.args
                if not 2 <= len(a) <= 3 or not all(isinstance(x, ast.Constant) and isinstance(x.value, str)
                                                   for x in a[1:]):
                    raise self.error(s, 'assert_(condition, "property"[, "message"])')
                cond = self.ghost_expr(a[0], reads)
                prop = a[1].value
                known = self.sym.known_properties
                if known is not None and prop not in known:
                    raise self.error(s, f"unknown property {prop!r} (this model knows: {', '.join(sorted(known))}; "
                                        "a new one goes in the protocol's `properties`)")
                self.asserted.add(prop)
                msg = a[2].value if len(a) == 3 else ast.unparse(a[0])
                if self.sym.checked is not None and prop not in self.sym.checked:
                    out.append(pad + "pass")  # not required in this run (e.g. with a rogue)
                else:
                    out.append(f"{pad}if not ({cond}): raise _Violation({prop!r}, {msg!r})")
            elif isinstance(s, (ast.Assign, ast.AugAssign)):
                target = s.targets[0] if isinstance(s, ast.Assign) else s.target
                if isinstance(s, ast.Assign) and len(s.targets) != 1:
                    raise self.error(s, "one target per ghost assignment")
                t = self.ghost_target(target, reads)
                v = self.ghost_expr(s.value, reads)
                if isinstance(s, ast.AugAssign):
                    v = f"{t} {_BINOPS[type(s.op)]} ({v})"
                if self.sym.ghost_updates:
                    out.append(f"{pad}{t} = {v}")
                else:
                    out.append(pad + "pass")  # bookkeeping nobody checks in this run
            elif isinstance(s, ast.If):
                out.append(f"{pad}if {self.ghost_expr(s.test, reads)}:")
                self.ghost_stmts(s.body or [ast.Pass()], out, depth + 1, reads)
                if s.orelse:
                    out.append(f"{pad}else:")
                    self.ghost_stmts(s.orelse, out, depth + 1, reads)
            elif isinstance(s, ast.For) and isinstance(s.target, ast.Name) and s.target.id not in self.frame.locals:
                it = s.iter
                if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"):
                    raise self.error(s, "ghost loops must be `for i in range(...)`")
                bounds = ", ".join(self.ghost_expr(a, reads) for a in it.args)
                out.append(f"{pad}for _g_{s.target.id} in range({bounds}):")
                self.ghost_loopvars = getattr(self, "ghost_loopvars", set()) | {s.target.id}
                self.ghost_stmts(s.body, out, depth + 1, reads)
                self.ghost_loopvars.discard(s.target.id)
            else:
                raise self.error(s, f"{type(s).__name__} is not allowed in ghost code")

    def ghost_reads_shared(self, node, what: str) -> CompileError:
        # Ghost code runs with no event of its own: a shared read there would
        # be a load no memory model orders and no C twin performs.
        return self.error(node, f"ghost code reads shared memory ({what}): it may read only ghost state and "
                                "locals; load the value into a local before the `with ghost:` block")

    def ghost_target(self, node, reads) -> str:
        name = node.id if isinstance(node, ast.Name) else getattr(getattr(node, "value", None), "id", None)
        if name in self.sym.ghost:
            self.ghost_touched[1].add(name)
        if isinstance(node, ast.Name) and node.id in self.sym.ghost:
            r = self.sym.ghost[node.id]
            if r.length is not None:
                raise self.error(node, f"{node.id} is a ghost array: index it")
            return f"G[{r.base}]"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in self.sym.ghost:
            r = self.sym.ghost[node.value.id]
            idx = self.ghost_expr(node.slice, reads)
            return f"G[_gidx({r.base}, {r.length}, {idx})]"
        raise self.error(node, "ghost code may only assign ghost variables")

    def ghost_expr(self, node, reads) -> str:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return str(int(node.value))
            if isinstance(node.value, int):
                return str(node.value)
            raise self.error(node, "only integer constants")
        if isinstance(node, ast.Name):
            n = node.id
            if n in getattr(self, "ghost_loopvars", ()):
                return f"_g_{n}"
            if n in self.frame.locals or n in self.private:
                i = self.frame.locals.get(n, self.private.get(n))
                reads.add(i)
                return f"L[{i}]"
            if n in self.consts:
                return str(self.consts[n])
            if n in self.sym.ghost:
                r = self.sym.ghost[n]
                if r.length is not None:
                    raise self.error(node, f"{n} is a ghost array: index it")
                self.ghost_touched[0].add(n)
                return f"G[{r.base}]"
            if n in ("True", "False"):
                return "1" if n == "True" else "0"
            if n in self.sym.shared:
                raise self.ghost_reads_shared(node, n)
            raise self.error(node, f"unknown name {n} in ghost code")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in self.sym.shared:
            raise self.ghost_reads_shared(node, node.value.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("pg_atomic_"):
            raise self.ghost_reads_shared(node, f"{node.func.id}(...)")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in self.private_arrays:
            base, n = self.private_arrays[node.value.id]
            reads.update(range(base, base + n))
            return f"L[_gidx({base}, {n}, {self.ghost_expr(node.slice, reads)})]"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in self.sym.ghost:
            r = self.sym.ghost[node.value.id]
            self.ghost_touched[0].add(node.value.id)
            return f"G[_gidx({r.base}, {r.length}, {self.ghost_expr(node.slice, reads)})]"
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            s = f"({self.ghost_expr(node.left, reads)} {_BINOPS[type(node.op)]} {self.ghost_expr(node.right, reads)})"
            # Ghost arithmetic wraps like the program's, so `head - tail` means the same.
            return f"({s} & {MASK})" if type(node.op) in _WRAPPING else s
        if isinstance(node, ast.UnaryOp):
            op = {ast.Not: "not ", ast.USub: "-", ast.Invert: "~"}.get(type(node.op))
            if op is None:
                raise self.error(node, "unsupported unary operator")
            return f"({op}{self.ghost_expr(node.operand, reads)})"
        if isinstance(node, ast.BoolOp):
            op = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + op.join(self.ghost_expr(v, reads) for v in node.values) + ")"
        if isinstance(node, ast.Compare):
            parts = [self.ghost_expr(node.left, reads)]
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in _CMPOPS:
                    raise self.error(node, "unsupported comparison")
                parts += [_CMPOPS[type(op)], self.ghost_expr(right, reads)]
            return "(" + " ".join(parts) + ")"
        if isinstance(node, ast.IfExp):
            return (f"({self.ghost_expr(node.body, reads)} if {self.ghost_expr(node.test, reads)} "
                    f"else {self.ghost_expr(node.orelse, reads)})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            return f"{node.func.id}(" + ", ".join(self.ghost_expr(a, reads) for a in node.args) + ")"
        raise self.error(node, f"{type(node).__name__} is not allowed in ghost code")

    # -- expressions -------------------------------------------------------

    def const_value(self, node) -> int | None:
        """The value of a compile-time constant expression, or None."""
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "mutation":
            if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant):
                raise self.error(node, 'mutation("name") takes one string')
            m = node.args[0].value
            if m not in self.sym.mutations and m not in self.frame.optional_mutations:
                raise self.error(node, f"mutation {m!r} is not declared by this model")
            # A helper module's optional mutation that this model does not
            # declare can never be selected: the correct code is compiled.
            return int(m in self.sym.active)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, bool)):
            return int(node.value) & MASK
        if isinstance(node, ast.Name):
            if node.id in self.consts and node.id not in self.frame.locals:
                return self.consts[node.id] & MASK
            if node.id in ("True", "False"):
                return int(node.id == "True")
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            v = self.const_value(node.operand)
            return None if v is None else int(not v)
        if isinstance(node, ast.BoolOp):
            vals = [self.const_value(v) for v in node.values]
            if any(v is None for v in vals):
                return None
            return int(all(vals)) if isinstance(node.op, ast.And) else int(any(vals))
        if isinstance(node, (ast.BinOp, ast.Compare, ast.UnaryOp)):
            if any(isinstance(n, ast.Call) for n in ast.walk(node)):
                return None
            names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
            if all(n in self.consts and n not in self.frame.locals for n in names):
                e = self.expr(node)
                return e.const
        return None

    def make_expr(self, src: str, reads, text: str) -> Expr:
        fn = eval(f"lambda L: {src}")  # noqa: S307 - generated from the checked AST
        reads = tuple(sorted(set(reads)))
        const = fn(None) if not reads else None
        return Expr(fn, reads, text, const, _unguarded(src), src)

    def local_expr(self, idx: int) -> Expr:
        return self.make_expr(f"L[{idx}]", (idx,), self.local_names[idx].split(".")[-1])

    def expr(self, node) -> Expr:
        reads: set[int] = set()
        src = self.expr_src(node, reads)
        try:
            text = ast.unparse(node)
        except Exception:  # pragma: no cover
            text = "?"
        return self.make_expr(src, reads, text)

    def expr_src(self, node, reads, hoist_ok: bool = True) -> str:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return str(int(node.value))
            if isinstance(node.value, int):
                if not 0 <= node.value <= MASK:
                    raise self.error(node, f"constant {node.value} is not a 32-bit unsigned value")
                return str(node.value)
            raise self.error(node, "only integer constants")
        if isinstance(node, ast.Name):
            n = node.id
            if n in self.frame.locals or n in self.private:
                i = self.frame.locals.get(n, self.private.get(n))
                reads.add(i)
                return f"L[{i}]"
            if n in self.consts:
                return str(self.consts[n] & MASK)
            if n in ("True", "False"):
                return "1" if n == "True" else "0"
            if n in self.sym.shared:
                raise self.error(node, f"{n} is shared memory: read it with pg_atomic_read_u32")
            if n in self.sym.ghost:
                raise self.error(node, f"{n} is ghost state: programs may not read it")
            if n in self.private_arrays:
                raise self.error(node, f"{n} is a private array: index it")
            raise self.error(node, f"unknown name {n}")
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BINOPS:
                raise self.error(node, f"operator {type(node.op).__name__} is not supported")
            left = self.expr_src(node.left, reads, hoist_ok)
            right = self.expr_src(node.right, reads, hoist_ok)
            s = f"({left} {_BINOPS[op]} {right})"
            if op in _WRAPPING:
                s = f"({s} & {MASK})"
            if op in _UB_GUARD:
                # C leaves these undefined; Python would quietly give a value.
                rc = self.const_value(node.right)
                if rc == 0 and op in (ast.FloorDiv, ast.Mod):
                    raise self.error(node, "division by zero")
                if rc is not None and rc >= 32 and op in (ast.LShift, ast.RShift):
                    raise self.error(node, f"shift by {rc}: undefined in C for a 32-bit word")
                if rc is None:
                    src = self.source(node)
                    _UB_SITES.append(f"{src.file}:{src.line} (`{ast.unparse(node)}`)")
                    s = f"{_UB_GUARD[op]}({left}, {right}, {len(_UB_SITES) - 1})"
            return s
        if isinstance(node, ast.UnaryOp):
            v = self.expr_src(node.operand, reads, hoist_ok)
            if isinstance(node.op, ast.Not):
                return f"(0 if {v} else 1)"
            if isinstance(node.op, ast.Invert):
                return f"(~{v} & {MASK})"
            if isinstance(node.op, ast.USub):
                return f"(-{v} & {MASK})"
            raise self.error(node, "unsupported unary operator")
        if isinstance(node, ast.BoolOp):
            first = self.expr_src(node.values[0], reads, hoist_ok)
            rest = [self.expr_src(v, reads, hoist_ok=False) for v in node.values[1:]]
            op = " and " if isinstance(node.op, ast.And) else " or "
            return "(1 if (" + op.join([first] + rest) + ") else 0)"
        if isinstance(node, ast.Compare):
            parts = [self.expr_src(node.left, reads, hoist_ok)]
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in _CMPOPS:
                    raise self.error(node, f"comparison {type(op).__name__} is not supported")
                parts += [_CMPOPS[type(op)], self.expr_src(right, reads, hoist_ok)]
            return "(1 if " + " ".join(parts) + " else 0)"
        if isinstance(node, ast.IfExp):
            t = self.expr_src(node.test, reads, hoist_ok)
            a = self.expr_src(node.body, reads, hoist_ok=False)
            b = self.expr_src(node.orelse, reads, hoist_ok=False)
            return f"({a} if {t} else {b})"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in self.private_arrays:
            if not hoist_ok:
                raise self.error(node, "a private array read inside a short-circuit or conditional expression "
                                       "(its index is checked first): assign it to a local first")
            index_local = self.private_index(node.value.id, node.slice, node)
            return self.private_get_src(node.value.id, index_local, reads)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "mutation":
                return str(self.const_value(node))
            if node.func.id in ("min", "max") and not node.keywords:
                args = ", ".join(self.expr_src(a, reads, hoist_ok) for a in node.args)
                return f"{node.func.id}({args})"
            if not hoist_ok:
                raise self.error(node, "a call inside a short-circuit or conditional expression: "
                                       "assign it to a local first")
            d = self.call(node, want_value=True)
            if d is None:
                raise self.error(node, f"{node.func.id}() has no value")
            reads.add(d)
            return f"L[{d}]"
        raise self.error(node, f"{type(node).__name__} expressions are not part of the modelling language")


def _const(v: int) -> Expr:
    return Expr(eval(f"lambda L: {v}"), (), str(v), v, str(v))  # noqa: S307


def _ghost_index(base: int, length: int | None, i: int) -> int:
    if length is None or not 0 <= i < length:
        raise GhostIndexError(f"ghost index {i} out of range")
    return base + i


def _assigned_names(fn: ast.FunctionDef) -> set[str]:
    """Locals of a function: names it assigns outside ghost blocks (as Python decides scope)."""
    out: set[str] = set()

    def visit(node):
        if isinstance(node, ast.With):
            return  # ghost code assigns ghost state only
        if isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AugAssign, ast.For)) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(fn)
    return out


# ---------------------------------------------------------------------------
# Static analysis: liveness (for canonical states) and operation extents


def _successors(prog: Program, ins: Instr) -> tuple[int, ...]:
    if isinstance(ins, Halt):
        return ()
    if isinstance(ins, Jump):
        return (ins.target,)
    if isinstance(ins, Branch):
        return (ins.pc + 1, ins.target)
    return (ins.pc + 1,)


def _analyse(prog: Program) -> None:
    n = len(prog.instrs)
    succ = [_successors(prog, i) for i in prog.instrs]
    uses = [set(i.uses()) for i in prog.instrs]
    defs = [set(i.defs()) for i in prog.instrs]
    live_in: list[set[int]] = [set() for _ in range(n)]
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            out: set[int] = set()
            for s in succ[pc]:
                out |= live_in[s]
            new = uses[pc] | (out - defs[pc])
            if new != live_in[pc]:
                live_in[pc] = new
                changed = True
    # Operation extents: a forward walk tracking the open operation.
    in_op: list[bool] = [False] * n
    op_name: list[str | None] = [None] * n
    state: list[str | None | bool] = [False] * n  # False = unvisited
    work = [(0, None)]
    while work:
        pc, cur = work.pop()
        if state[pc] is not False:
            continue
        ins = prog.instrs[pc]
        if isinstance(ins, OpMark):
            after = ins.name if ins.begin else None
            cur_here = ins.name  # a marker belongs to its operation
        else:
            after = cur
            cur_here = cur
        state[pc] = cur_here
        op_name[pc] = cur_here
        in_op[pc] = cur_here is not None
        for s in succ[pc]:
            work.append((s, after))
    # First events of operations: an event reached from an operation's begin
    # marker without passing another event, on every path.  A thread resting
    # there holds nothing of that operation yet, so it counts as between
    # operations for quiescence.
    fresh: list[bool | None] = [None] * n  # None: unvisited
    work2 = [(0, False)]
    while work2:
        pc, since_begin = work2.pop()
        ins = prog.instrs[pc]
        if isinstance(ins, OpMark) and ins.begin:
            since_begin = True
        if ins.is_event:
            old = fresh[pc]
            new = since_begin if old is None else (old and since_begin)
            if new == old:
                continue
            fresh[pc] = new
            nxt_flag = False
        else:
            if fresh[pc] is not None and (fresh[pc] is False or since_begin):
                continue  # nothing new to propagate
            fresh[pc] = since_begin if fresh[pc] is None else (fresh[pc] and since_begin)
            nxt_flag = since_begin
        for s in succ[pc]:
            work2.append((s, nxt_flag))
    prog.op_start = [bool(in_op[pc] and fresh[pc] and prog.instrs[pc].is_event) for pc in range(n)]
    nloc = prog.nlocals
    dead_at = []
    for pc in range(n):
        live = live_in[pc]
        if in_op[pc]:
            live = live | {STEPS_LOCAL}
        dead_at.append(tuple(i for i in range(1, nloc) if i not in live))
    prog.dead_at = dead_at
    prog.in_op = in_op
    prog.op_name = op_name


def compile_program(role: str, entry, symbols: Symbols, thread_constants: dict[str, int] | None = None,
                    worker_slot: int | None = None) -> Program:
    return Compiler(symbols, thread_constants).compile(role, entry, worker_slot)
