"""Litmus tests in the C dialect of herd7 (as in the Linux kernel's
tools/memory-model/litmus-tests/), run on the checker's memory models.

A test is translated into the modelling language (one program per process,
each C statement into the primitive it names), explored exhaustively, and
judged on its final states: the outcome set (the distinct final values of the
registers and locations named in the condition) and whether the ``exists``
condition is reachable (*allowed*) or not (*forbidden*).

Both vocabularies are accepted inside processes: PostgreSQL's
(``pg_atomic_read_u32(x)``, ``pg_atomic_write_u32(x, 1)``, ``pg_memory_barrier()``
...) and Linux's (``READ_ONCE(*x)``, ``WRITE_ONCE(*x, 1)``, ``smp_mb()``,
``smp_rmb()``, ``smp_wmb()``, ``smp_load_acquire(x)``, ``smp_store_release(x, 1)``,
``xchg(x, 1)``, ``cmpxchg(x, 0, 1)``, ``atomic_*``).  Linux's non-returning
atomics (``atomic_add``, ``atomic_inc`` ...) are unordered there; here every
RMW is a full barrier (the PostgreSQL reading), a stated difference.

Each shipped test states what it expects per memory model in a comment:
``(* expect sc=forbidden/3 tso=allowed/4 weak=allowed/4 weak@arm64=allowed *)``
(``/n`` is the size of the outcome set; ``model@profile`` overrides for one
profile).  A misspelt model, profile or verdict there is an error, never a
silently dropped expectation.

The Linux kernel's tests (``tools/memory-model/litmus-tests/``) run
unmodified: variables declared without a value are 0, ``locations [...]`` is
accepted, ``spin_lock``/``spin_unlock`` are a lock (see ``_LOCKING``), plain C
accesses (``*x = a;``, ``*y == 1``) are relaxed accesses that carry
dependencies like registers.  Their ``(* Result: Never|Sometimes|Always *)``
line is checked when a file states no ``(* expect ... *)``: see ``judge`` and
``KERNEL_KNOWN_DIFFERENCES`` (docs/litmus.md).
"""

from __future__ import annotations


import linecache
import re
from dataclasses import dataclass, field
from pathlib import Path

from checker.ir import CompileError, Symbols, compile_program
from checker.memory import DEFAULT_MEMORY_MODEL
from checker.model import Declaration, Params, ModelError, System, ThreadSpec


class LitmusError(Exception):
    """A litmus file that cannot be run: ``file:line: reason``."""


class _NeedPointers(LitmusError):
    """A pointer construct met while parsing without pointer values: parse again with them."""


# With pointer values, every location is an element of one shared array and a
# pointer to location k is the value POINTER_BASE + k (far from the small
# integers tests store, so a stray integer dereferenced is out of range, a
# memory-safety error, not a silent alias).
POINTER_BASE = 0x10000
POINTER_ARRAY = "_mem"


# ---------------------------------------------------------------------------
# Lexing

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+) | (?P<nl>\n) |
    (?P<comment>\(\*\s.*?\*\)|/\*.*?\*/|//[^\n]*) |
    (?P<string>"[^"\n]*") |
    (?P<num>0[xX][0-9a-fA-F]+|\d+) |
    (?P<id>[A-Za-z_][A-Za-z0-9_]*) |
    (?P<op>/\\|\\/|&&|\|\||==|!=|<=|>=|<<|>>|[-+*/%&|^!~<>=(){},;:.\[\]])
""", re.VERBOSE | re.DOTALL)


@dataclass
class Tok:
    kind: str
    text: str
    line: int


def _lex(src: str, file: str) -> tuple[list[Tok], list[tuple[int, str]]]:
    toks, comments = [], []
    pos, line = 0, 1
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m:
            raise LitmusError(f"{file}:{line}: unexpected character {src[pos]!r}")
        kind = m.lastgroup
        text = m.group()
        if kind == "comment":
            comments.append((line, text))
        elif kind not in ("ws", "nl"):
            toks.append(Tok(kind, text, line))
        line += text.count("\n")
        pos = m.end()
    toks.append(Tok("eof", "", line))
    return toks, comments


# ---------------------------------------------------------------------------
# The test

@dataclass
class Process:
    index: int
    params: list[str]
    python: list[str]  # translated body lines (indented by 4)
    registers: list[str]
    line: int


@dataclass
class LitmusTest:
    name: str
    file: str
    init: dict[str, int]
    processes: list[Process]
    quantifier: str  # "exists" or "~exists"
    condition: object  # parsed condition tree
    cond_vars: list[tuple]  # ("reg", proc, name) | ("loc", name)
    expect: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    locations: list[str] = field(default_factory=list)
    # Locations used as spinlocks (declared as LWLocks: 0 = free).
    locks: frozenset = frozenset()
    # The kernel model's verdict from a ``(* Result: ... *)`` comment.
    kernel_result: str | None = None
    # Pointer values: locations are elements of one array (POINTER_BASE).
    pointers: bool = False
    # herd7's ``filter (...)``: final states that falsify it are discarded;
    # filter_vars are its variables that the condition does not name.
    filter: object = None
    filter_vars: list = field(default_factory=list)

    def expected(self, model: str, profile: str) -> tuple[str, int | None] | None:
        """The expected outcome, or None where no verdict is recorded.

        A model's plain expectation holds for the documented profile, for
        every profile under sc, for x86-64 under tso and arm64 under weak
        (the machines they describe; a test whose verdict flips on arm64
        says so with ``weak@arm64=...``); other pairings (a weak machine
        with x86's compiler-only barriers) need an explicit entry.
        """
        own = self.expect.get(f"{model}@{profile}")
        if own is not None:
            return own
        if profile == "documented" or model == "sc" or (model, profile) in (("tso", "x86-64"), ("weak", "arm64")):
            return self.expect.get(model)
        return None


class _Parser:
    def __init__(self, toks, file):
        self.toks, self.i, self.file = toks, 0, file

    @property
    def tok(self):
        return self.toks[self.i]

    def error(self, msg, tok=None):
        t = tok or self.tok
        return LitmusError(f"{self.file}:{t.line}: {msg}")

    def next(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def accept(self, text):
        if self.tok.text == text and self.tok.kind in ("op", "id"):
            self.i += 1
            return True
        return False

    def expect(self, text):
        if not self.accept(text):
            raise self.error(f"expected {text!r}, found {self.tok.text or 'end of file'!r}")

    def ident(self):
        t = self.tok
        if t.kind != "id":
            raise self.error(f"expected a name, found {t.text or 'end of file'!r}")
        self.i += 1
        return t.text


_LINUX_LOADS = {"READ_ONCE": "pg_atomic_read_u32", "atomic_read": "pg_atomic_read_u32",
                "smp_load_acquire": "smp_load_acquire", "pg_atomic_read_u32": "pg_atomic_read_u32"}
_STORES = {"WRITE_ONCE": "pg_atomic_write_u32", "atomic_set": "pg_atomic_write_u32",
           "smp_store_release": "smp_store_release", "pg_atomic_write_u32": "pg_atomic_write_u32",
           "pg_atomic_write_membarrier_u32": "pg_atomic_write_membarrier_u32"}
_FENCES = {"smp_mb": "pg_memory_barrier", "smp_rmb": "pg_read_barrier", "smp_wmb": "pg_write_barrier",
           "pg_memory_barrier": "pg_memory_barrier", "pg_read_barrier": "pg_read_barrier",
           "pg_write_barrier": "pg_write_barrier"}
# RMWs: name -> (primitive, argument order: which argument is the location)
_RMWS = {
    "xchg": ("pg_atomic_exchange_u32", 0), "atomic_xchg": ("pg_atomic_exchange_u32", 0),
    "pg_atomic_exchange_u32": ("pg_atomic_exchange_u32", 0),
    "pg_atomic_fetch_add_u32": ("pg_atomic_fetch_add_u32", 0), "pg_atomic_fetch_sub_u32": ("pg_atomic_fetch_sub_u32", 0),
    "pg_atomic_fetch_or_u32": ("pg_atomic_fetch_or_u32", 0), "pg_atomic_fetch_and_u32": ("pg_atomic_fetch_and_u32", 0),
    "atomic_fetch_add": ("pg_atomic_fetch_add_u32", 1), "atomic_fetch_sub": ("pg_atomic_fetch_sub_u32", 1),
    "atomic_fetch_or": ("pg_atomic_fetch_or_u32", 1), "atomic_fetch_and": ("pg_atomic_fetch_and_u32", 1),
    "atomic_add": ("pg_atomic_fetch_add_u32", 1), "atomic_sub": ("pg_atomic_fetch_sub_u32", 1),
    "atomic_or": ("pg_atomic_fetch_or_u32", 1), "atomic_and": ("pg_atomic_fetch_and_u32", 1),
}
_INC_DEC = {"atomic_inc": "pg_atomic_fetch_add_u32", "atomic_dec": "pg_atomic_fetch_sub_u32",
            "atomic_fetch_inc": "pg_atomic_fetch_add_u32", "atomic_fetch_dec": "pg_atomic_fetch_sub_u32"}
# Linux's value-returning atomics that return the *new* value:
# name -> (fetch primitive, operator applied to the old value, operand: None = given (i, v) / 1)
_RETURNS = {"atomic_add_return": ("pg_atomic_fetch_add_u32", "+", None),
            "atomic_sub_return": ("pg_atomic_fetch_sub_u32", "-", None),
            "atomic_inc_return": ("pg_atomic_fetch_add_u32", "+", 1),
            "atomic_dec_return": ("pg_atomic_fetch_sub_u32", "-", 1)}
# Conditional adds, compiled to a read and a compare-exchange loop: ordered
# (a full barrier) when they add, unordered (a relaxed read) when they do
# not, as in the kernel.  name -> (added, unless); None = given (v, a, u).
_ADD_UNLESS = {"atomic_add_unless": None, "atomic_inc_not_zero": (1, 0)}
_CAS = {"cmpxchg", "atomic_cmpxchg", "pg_atomic_compare_exchange_u32"}
# Linux's fences that order more than the next RMW or lock in the kernel
# model; here every RMW and every spin_lock is already a full barrier, so a
# full fence is what they add (never less than the kernel's meaning).
_FENCES.update({"smp_mb__after_spinlock": "pg_memory_barrier", "smp_mb__before_atomic": "pg_memory_barrier",
                "smp_mb__after_atomic": "pg_memory_barrier", "smp_mb__after_unlock_lock": "pg_memory_barrier"})
# Spinlocks, onto the IR's lock word (0 free, 1 held).  spin_lock is an
# LWLockAcquire: it waits for the word to be 0 and sets it atomically, so
# critical sections exclude each other, and it is a full barrier -- stronger
# than the kernel model's acquire, which lets accesses before the lock move
# into the critical section (docs/litmus.md, "spin_lock").  spin_unlock is
# exactly the kernel's: a release store of 0.  spin_is_locked reads the word
# (relaxed); spin_trylock is a compare-exchange 0 -> 1 (a full barrier here
# even when it fails, where the kernel orders nothing).
_LOCKING = {"spin_lock", "spin_unlock", "spin_is_locked", "spin_trylock"}
# Named so that a test using them is refused with the construct's name.
_UNSUPPORTED = {
    "synchronize_rcu": "RCU grace periods are not modelled", "synchronize_rcu_expedited":
    "RCU grace periods are not modelled", "srcu_read_lock": "SRCU is not modelled",
    "srcu_read_unlock": "SRCU is not modelled", "synchronize_srcu": "SRCU is not modelled",
    "call_rcu": "RCU grace periods are not modelled",
}
# Without a grace period (synchronize_rcu is refused) the kernel model gives
# RCU read-side critical sections no ordering at all: they compile to nothing.
_RCU_NOOPS = {"rcu_read_lock", "rcu_read_unlock"}
# rcu_dereference is a READ_ONCE (what depends on it by address is ordered
# after it, as for any load here); rcu_assign_pointer is a release store.
_LINUX_LOADS["rcu_dereference"] = "pg_atomic_read_u32"
_STORES["rcu_assign_pointer"] = "smp_store_release"
_LINUX_LOADS["atomic_read_acquire"] = "smp_load_acquire"
_STORES["atomic_set_release"] = "smp_store_release"


class _Body:
    """Translate one process body into Python lines of the modelling language."""

    def __init__(self, p: _Parser, params: set[str], locations: set[str], locks: set[str], pointers: bool):
        self.p, self.params, self.locations, self.locks = p, params, locations, locks
        self.pointers = pointers
        self.lines: list[str] = []
        self.registers: list[str] = []
        self.tmp = 0

    def emit(self, depth, text):
        self.lines.append("    " * depth + text)

    def location(self, deref_required: bool):
        p = self.p
        t = p.tok
        star = p.accept("*")
        if p.accept("("):
            name = self.location(deref_required=False)
            p.expect(")")
            return name
        if p.accept("&"):
            star = True
        name = p.ident()
        if star and name in self.registers:
            # A register holding a pointer, dereferenced: an address dependency.
            if not self.pointers:
                raise _NeedPointers("")
            return f"{POINTER_ARRAY}[{name} - {POINTER_BASE}]"
        if name not in self.params:
            raise p.error(f"undeclared location {name!r} (not a parameter of this process)", t)
        if deref_required and not star:
            raise p.error(f"{name} is a pointer: write *{name}", t)
        self.locations.add(name)
        if self.pointers:
            return f"{POINTER_ARRAY}[{name} - {POINTER_BASE}]"
        return name

    def block(self, depth):
        p = self.p
        if p.accept("{"):
            while not p.accept("}"):
                if p.tok.kind == "eof":
                    raise p.error("unterminated block")
                self.statement(depth)
        else:
            self.statement(depth)

    def statement(self, depth):
        p = self.p
        t = p.tok
        if t.text == "int" and t.kind == "id":
            p.next()
            while True:
                if p.accept("*") and not self.pointers:
                    raise _NeedPointers("")
                name = p.ident()
                if name in self.params:
                    raise p.error(f"{name} is already a location")
                self.registers.append(name)
                if p.accept("="):
                    self.emit(depth, f"{name} = {self.expr(depth)}")
                else:
                    self.emit(depth, f"{name} = 0")
                if not p.accept(","):
                    break
            p.expect(";")
            return
        if t.text == "if" and t.kind == "id":
            p.next()
            p.expect("(")
            cond = self.expr(depth)
            p.expect(")")
            self.emit(depth, f"if {cond}:")
            before = len(self.lines)
            self.block(depth + 1)
            if len(self.lines) == before:
                self.emit(depth + 1, "pass")
            if p.accept("else"):
                self.emit(depth, "else:")
                before = len(self.lines)
                self.block(depth + 1)
                if len(self.lines) == before:
                    self.emit(depth + 1, "pass")
            return
        if t.text == "{":
            self.block(depth)
            return
        if t.text == "*" and t.kind == "op":
            # A plain C store, `*x = v;`: a relaxed store here (the kernel
            # model's plain accesses also allow compiler tricks and flag
            # data races; docs/litmus.md).
            loc = self.location(deref_required=True)
            p.expect("=")
            self.emit(depth, f"pg_atomic_write_u32({loc}, {self.expr(depth)})")
            p.expect(";")
            return
        if t.text == "(" and p.toks[p.i + 1].text == "void" and p.toks[p.i + 2].text == ")":
            p.i += 3  # `(void)call(...);`: the value is dropped anyway
            t = p.tok
        if t.kind == "id" and self.p.toks[self.p.i + 1].text == "=" and t.text not in self.params:
            name = p.next().text
            if name not in self.registers:
                # herd7 accepts a register assigned without a declaration
                # (some kernel tests rely on it); reading one stays an error.
                self.registers.append(name)
            p.expect("=")
            self.emit(depth, f"{name} = {self.expr(depth)}")
            p.expect(";")
            return
        if t.kind == "id":
            call = self.call(depth, statement=True)
            if call:
                self.emit(depth, call)
            p.expect(";")
            return
        if p.accept(";"):
            return
        raise p.error(f"unsupported statement starting with {t.text!r}")

    def call(self, depth, statement=False):
        """Translate a call; returns Python text (an expression), or '' when fully emitted."""
        p = self.p
        t = p.next()
        name = t.text
        if p.tok.text != "(" or name in ("while", "for", "do", "switch", "return", "goto", "sizeof"):
            raise p.error(f"unsupported construct {name!r}", t)
        if name in _UNSUPPORTED:
            raise p.error(f"unsupported: {name}() ({_UNSUPPORTED[name]})", t)
        for suffix in ("_relaxed", "_acquire", "_release"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and (base in _RMWS or base in _CAS or base in _INC_DEC or base in _RETURNS):
                # Every RMW is a full barrier here: at least the ordering the
                # variant promises (docs/litmus.md, "RMWs and their fences").
                name = base
        p.expect("(")
        if name in _FENCES:
            p.expect(")")
            return f"{_FENCES[name]}()"
        if name in _RCU_NOOPS:
            p.expect(")")
            if not statement:
                raise p.error(f"{name}() has no value", t)
            return ""
        if name in _LOCKING:
            if self.pointers:
                raise p.error(f"unsupported: {name}() in a test with pointer values", t)
            loc = self.location(deref_required=False)
            p.expect(")")
            self.locks.add(loc)
            if name == "spin_lock":
                return f"LWLockAcquire({loc})"
            if name == "spin_unlock":
                return f"smp_store_release({loc}, 0)"
            if name == "spin_is_locked":
                return f"pg_atomic_read_u32({loc})"
            self.tmp += 1
            e = f"_trylock_expected{self.tmp}"
            self.emit(depth, f"{e} = 0")
            return f"pg_atomic_compare_exchange_u32({loc}, {e}, 1)"
        if name == "smp_store_mb":
            loc = self.location(deref_required=False)
            p.expect(",")
            v = self.expr(depth)
            p.expect(")")
            self.emit(depth, f"pg_atomic_write_u32({loc}, {v})")
            return "pg_memory_barrier()"
        if name in _LINUX_LOADS:
            loc = self.location(deref_required=name == "READ_ONCE")
            p.expect(")")
            return f"{_LINUX_LOADS[name]}({loc})"
        if name in _STORES:
            loc = self.location(deref_required=name == "WRITE_ONCE")
            p.expect(",")
            v = self.expr(depth)
            p.expect(")")
            return f"{_STORES[name]}({loc}, {v})"
        if name in _INC_DEC:
            loc = self.location(deref_required=False)
            p.expect(")")
            return f"{_INC_DEC[name]}({loc}, 1)"
        if name in _RETURNS:
            prim, op, operand = _RETURNS[name]
            if operand is None:
                self.tmp += 1
                arg = f"_rmw_operand{self.tmp}"
                self.emit(depth, f"{arg} = {self.expr(depth)}")
                p.expect(",")
            else:
                arg = str(operand)
            loc = self.location(deref_required=False)
            p.expect(")")
            call = f"{prim}({loc}, {arg})"
            return call if statement else f"({call} {op} {arg})"
        if name in _ADD_UNLESS:
            loc = self.location(deref_required=False)
            if _ADD_UNLESS[name] is None:
                p.expect(",")
                added = self.expr(depth)
                p.expect(",")
                unless = self.expr(depth)
            else:
                added, unless = map(str, _ADD_UNLESS[name])
            p.expect(")")
            self.tmp += 1
            ok, old, expected = (f"_add_unless_{what}{self.tmp}" for what in ("ok", "old", "expected"))
            self.emit(depth, f"{ok} = 0")
            self.emit(depth, "while True:")
            self.emit(depth + 1, f"{old} = pg_atomic_read_u32({loc})")
            self.emit(depth + 1, f"if {old} == {unless}:")
            self.emit(depth + 2, "break")
            self.emit(depth + 1, f"{expected} = {old}")
            self.emit(depth + 1, f"if pg_atomic_compare_exchange_u32({loc}, {expected}, {old} + {added}):")
            self.emit(depth + 2, f"{ok} = 1")
            self.emit(depth + 2, "break")
            return "" if statement else ok
        if name in _RMWS:
            prim, loc_pos = _RMWS[name]
            if loc_pos == 0:
                loc = self.location(deref_required=False)
                p.expect(",")
                v = self.expr(depth)
            else:
                v = self.expr(depth)
                p.expect(",")
                loc = self.location(deref_required=False)
            p.expect(")")
            return f"{prim}({loc}, {v})"
        if name in _CAS:
            loc = self.location(deref_required=False)
            p.expect(",")
            old = self.expr(depth)
            p.expect(",")
            new = self.expr(depth)
            p.expect(")")
            # Linux's cmpxchg returns the value found; PostgreSQL's CAS writes
            # it back into `expected`, which equals `old` on success.
            self.tmp += 1
            e = f"_cas_expected{self.tmp}"
            self.emit(depth, f"{e} = {old}")
            self.emit(depth, f"pg_atomic_compare_exchange_u32({loc}, {e}, {new})")
            return "" if statement else e
        raise p.error(f"unknown primitive {name}()", t)

    # expressions: precedence climbing
    _BIN = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="), ("<<", ">>"),
            ("+", "-"), ("*", "/", "%")]
    _PY = {"||": "or", "&&": "and", "/": "//"}

    def expr(self, depth, level=0):
        if level == len(self._BIN):
            return self.unary(depth)
        left = self.expr(depth, level + 1)
        while self.p.tok.kind == "op" and self.p.tok.text in self._BIN[level]:
            op = self.p.next().text
            right = self.expr(depth, level + 1)
            left = f"({left} {self._PY.get(op, op)} {right})"
        return left

    def unary(self, depth):
        p = self.p
        t = p.tok
        if p.accept("!"):
            return f"(not {self.unary(depth)})"
        if p.accept("-"):
            return f"(-{self.unary(depth)})"
        if p.accept("~"):
            return f"(~{self.unary(depth)})"
        if t.text == "*" and t.kind == "op":
            # A plain C load, `*x`: a relaxed load whose value flows on like
            # any register's (dependencies through plain accesses order as
            # they do through READ_ONCE).
            return f"pg_atomic_read_u32({self.location(deref_required=True)})"
        if t.text == "&" and t.kind == "op":
            raise p.error("unsupported: taking an address (&); a location's name is its address")
        if p.accept("("):
            e = self.expr(depth)
            p.expect(")")
            return e
        if t.kind == "num":
            p.next()
            return str(int(t.text, 0))
        if t.kind == "id":
            if p.toks[p.i + 1].text == "(":
                text = self.call(depth)
                if not text:
                    raise p.error("a value is needed here", t)
                return text
            p.next()
            if t.text in self.params:
                # A location's name as a value is a pointer to it (herd7's C).
                if not self.pointers:
                    raise _NeedPointers("")
                self.locations.add(t.text)
                return t.text
            if t.text not in self.registers:
                raise p.error(f"register {t.text} is not declared", t)
            return t.text
        raise p.error(f"unexpected {t.text or 'end of file'!r} in an expression")


def _parse_condition(p: _Parser, nprocs: int, regs: list[list[str]], locations: set[str],
                     pointer_values: dict[str, int] | None = None):
    """Parse a herd7 condition into a tree; returns (tree, variables)."""
    variables: list[tuple] = []

    def atom():
        if p.accept("("):
            e = disj()
            p.expect(")")
            return e
        if p.accept("~"):
            return ("not", atom())
        if p.tok.kind == "id" and p.tok.text == "true":
            p.next()
            return ("true",)
        t = p.tok
        if t.kind == "num":
            proc = int(p.next().text)
            p.expect(":")
            reg = p.ident()
            if proc >= nprocs or reg not in regs[proc]:
                raise p.error(f"{proc}:{reg} is not a register of process {proc}", t)
            var = ("reg", proc, reg)
        else:
            name = p.ident()
            if name not in locations:
                raise p.error(f"undeclared location {name!r} in the condition", t)
            var = ("loc", name)
        p.expect("=")
        vt = p.next()
        if vt.kind == "id":
            if pointer_values is None:
                raise _NeedPointers("")
            if vt.text not in pointer_values:
                raise p.error(f"undeclared location {vt.text!r} as a pointer value", vt)
            value = pointer_values[vt.text]
        elif vt.kind != "num":
            raise p.error("expected a number", vt)
        else:
            value = int(vt.text, 0)
        if var not in variables:
            variables.append(var)
        return ("eq", var, value)

    def conj():
        e = atom()
        while p.accept("/\\"):
            e = ("and", e, atom())
        return e

    def disj():
        e = conj()
        while p.accept("\\/"):
            e = ("or", e, conj())
        return e

    return disj(), variables


def _holds(tree, outcome: dict) -> bool:
    k = tree[0]
    if k == "eq":
        return outcome[tree[1]] == tree[2]
    if k == "and":
        return _holds(tree[1], outcome) and _holds(tree[2], outcome)
    if k == "or":
        return _holds(tree[1], outcome) or _holds(tree[2], outcome)
    if k == "not":
        return not _holds(tree[1], outcome)
    return True


_EXPECT_LINE = re.compile(r"\(\*\s*expect\b(.*?)\*\)\Z", re.DOTALL)
_EXPECT_ITEM = re.compile(r"([A-Za-z0-9_]+)(?:@([A-Za-z0-9_-]+))?=([A-Za-z]+)(?:/(\d+))?\Z")
# herd7's convention: ``Result:`` opens the comment or one of its lines
# (`` * Result: Never``); the word elsewhere in prose is not a claim.
_RESULT = re.compile(r"(?:\A\(\*|^)[ \t*]*Result:[ \t]*(\S*)", re.MULTILINE)
KERNEL_RESULTS = ("Never", "Sometimes", "Always")
# Types a variable of the initial state or a process parameter may have.
_TYPES = {"int", "atomic_t", "pg_atomic_uint32", "spinlock_t", "unsigned", "u32", "long"}


def _parse_expectations(comments, file: str) -> dict[str, tuple[str, int | None]]:
    """Strict: every word of an ``(* expect ... *)`` comment must be a known
    ``model[@profile]=allowed|forbidden[/n]``; anything else is an error, so a
    typo never silently drops the expectation it was meant to state."""
    from checker.memory import PROFILES, memory_models

    models = memory_models()
    expect: dict[str, tuple[str, int | None]] = {}
    for line, text in comments:
        m = _EXPECT_LINE.match(text)
        if not m:
            continue
        words = m.group(1).split()
        if not words:
            raise LitmusError(f"{file}:{line}: an (* expect ... *) comment states no expectation")
        for word in words:
            item = _EXPECT_ITEM.match(word)
            if not item:
                raise LitmusError(f"{file}:{line}: malformed expectation {word!r} "
                                  "(want model[@profile]=allowed|forbidden[/n])")
            model, profile, verdict, n = item.groups()
            if model not in models:
                raise LitmusError(f"{file}:{line}: unknown memory model {model!r} in {word!r} "
                                  f"(known: {', '.join(models)})")
            if profile is not None and profile not in PROFILES:
                raise LitmusError(f"{file}:{line}: unknown profile {profile!r} in {word!r} "
                                  f"(known: {', '.join(PROFILES)})")
            if verdict not in ("allowed", "forbidden"):
                raise LitmusError(f"{file}:{line}: unknown verdict {verdict!r} in {word!r} "
                                  "(allowed or forbidden)")
            key = model if profile is None else f"{model}@{profile}"
            if key in expect:
                raise LitmusError(f"{file}:{line}: {key} is given two expectations")
            expect[key] = (verdict, int(n) if n else None)
    return expect


def _parse_kernel_result(comments, file: str) -> str | None:
    found = None
    for line, text in comments:
        for m in _RESULT.finditer(text):
            at = line + text.count("\n", 0, m.start())
            word = m.group(1).rstrip(".,;")
            if word not in KERNEL_RESULTS:
                raise LitmusError(f"{file}:{at}: unknown Result {word!r} (Never, Sometimes or Always)")
            if found is not None and found != word:
                raise LitmusError(f"{file}:{at}: two different Result lines ({found}, {word})")
            found = word
    return found


def _parse_init(p: _Parser, init: dict, locks: set[str], pointers: bool) -> None:
    """The initial state: ``{ x=1; int y; spinlock_t s; }`` (no value = 0)."""
    p.expect("{")
    while not p.accept("}"):
        t = p.tok
        if t.kind == "eof":
            raise p.error("unterminated init block")
        if p.accept(";") or p.accept(","):
            continue
        if t.kind == "num":
            raise p.error(f"unsupported: an initial register value ({t.text}:...)")
        kind = None
        while p.tok.kind == "id" and p.tok.text in _TYPES | {"volatile", "const"}:
            kind = p.next().text if p.tok.text in _TYPES else kind
        if p.accept("*") and not pointers:
            raise _NeedPointers("")
        loc_tok = p.tok
        loc = p.ident()
        if loc in init:
            raise p.error(f"{loc} is declared twice in the initial state", loc_tok)
        value: int | str = 0
        if p.accept("="):
            vt = p.next()
            if vt.kind == "id" and vt.text == "ATOMIC_INIT":
                p.expect("(")
                vt = p.next()
                p.expect(")")
            elif vt.kind == "id":
                # A pointer to location vt.text, resolved once every location is known.
                if not pointers:
                    raise _NeedPointers("")
                init[loc] = vt.text
                if not (p.accept(";") or p.accept(",")) and p.tok.text != "}":
                    raise p.error(f"expected ';', found {p.tok.text or 'end of file'!r}")
                continue
            if vt.kind != "num":
                raise p.error("an initial value must be a number", vt)
            value = int(vt.text, 0)
            if value > 0xFFFFFFFF:
                raise p.error(f"initial value {vt.text} of {loc} is not a 32-bit unsigned value", vt)
            if kind == "spinlock_t":
                raise p.error(f"spinlock {loc} cannot be given an initial value", vt)
        if kind == "spinlock_t":
            locks.add(loc)
        init[loc] = value
        if not (p.accept(";") or p.accept(",")) and p.tok.text != "}":
            raise p.error(f"expected ';', found {p.tok.text or 'end of file'!r}")


def _parse_locations(p: _Parser, nprocs: int, regs: list[list[str]], locations: set[str]) -> None:
    """herd7's ``locations [0:r1; x; ...]``: what to print besides the
    condition's variables.  Checked, then ignored (outcome sets here are
    over the condition's variables)."""
    p.expect("[")
    while not p.accept("]"):
        t = p.tok
        if t.kind == "eof":
            raise p.error("unterminated locations [...]")
        if p.accept(";"):
            continue
        if t.kind == "num":
            proc = int(p.next().text)
            p.expect(":")
            reg = p.ident()
            if proc >= nprocs or reg not in regs[proc]:
                raise p.error(f"{proc}:{reg} is not a register of process {proc}", t)
        else:
            name = p.ident()
            if name not in locations:
                raise p.error(f"undeclared location {name!r} in locations [...]", t)


def parse_litmus(path) -> LitmusTest:
    path = Path(path)
    try:
        src = path.read_text()
    except OSError as exc:
        raise LitmusError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise LitmusError(f"{path}: not a text file (not UTF-8)") from None
    file = str(path)
    toks, comments = _lex(src, file)
    try:
        return _parse(src, toks, comments, file, pointers=False)
    except _NeedPointers:
        # Pointer values change how every location is represented (one array,
        # see POINTER_BASE): only tests that use them pay for it.
        return _parse(src, toks, comments, file, pointers=True)


def _parse(src: str, toks: list[Tok], comments, file: str, pointers: bool) -> LitmusTest:
    p = _Parser(toks, file)
    if not (p.tok.kind == "id" and p.tok.text == "C"):
        raise p.error("a C litmus test starts with `C <name>`")
    header = p.next()
    # The name runs to the end of its line and may hold + . - (2+2W+wmbs, Z6.0+...).
    m = re.match(r"\s*C[ \t]+(\S+)", src.splitlines()[header.line - 1])
    if not m:
        raise p.error("a C litmus test starts with `C <name>`", header)
    name = m.group(1)
    while p.tok.line == header.line and p.tok.kind != "eof":
        p.next()
    if p.tok.kind == "string":
        p.next()
    init: dict[str, int | str] = {}
    locks: set[str] = set()
    _parse_init(p, init, locks, pointers)
    processes: list[Process] = []
    locations: set[str] = set(init)
    while p.tok.kind == "id" and re.fullmatch(r"P\d+", p.tok.text):
        t = p.next()
        idx = int(t.text[1:])
        if idx != len(processes):
            raise p.error(f"processes must be P0, P1, ... in order; found {t.text}", t)
        p.expect("(")
        params: list[str] = []
        while not p.accept(")"):
            kind = None
            while p.tok.kind == "id" and p.tok.text in _TYPES | {"volatile", "const"}:
                kind = p.next().text if p.tok.text in _TYPES else kind
            p.expect("*")
            if p.accept("*") and not pointers:
                raise _NeedPointers("")  # int **p: a location holding a pointer
            param = p.ident()
            params.append(param)
            if kind == "spinlock_t":
                locks.add(param)
            p.accept(",")
        body = _Body(p, set(params), locations, locks, pointers)
        if not p.accept("{"):
            raise p.error("expected the process body")
        while not p.accept("}"):
            if p.tok.kind == "eof":
                raise p.error("unterminated process body")
            body.statement(1)
        processes.append(Process(idx, params, body.lines, body.registers, t.line))
    if not processes:
        raise p.error("no processes (P0, P1, ...)")
    regs = [pr.registers for pr in processes]
    if p.tok.kind == "id" and p.tok.text == "locations":
        p.next()
        _parse_locations(p, len(processes), regs, locations)
    pointer_values = None
    if pointers:
        if locks:
            raise LitmusError(f"{file}: unsupported: spinlocks in a test with pointer values")
        pointer_values = {loc: POINTER_BASE + i for i, loc in enumerate(sorted(locations))}
        for loc, target in init.items():
            if isinstance(target, str):
                if target not in pointer_values:
                    raise LitmusError(f"{file}: initial value of {loc}: undeclared location {target!r}")
                init[loc] = pointer_values[target]
    filter_tree, filter_vars = None, []
    if p.tok.kind == "id" and p.tok.text == "filter":
        # herd7's filter: only final states that satisfy it count at all.
        p.next()
        filter_tree, filter_vars = _parse_condition(p, len(processes), regs, locations, pointer_values)
    q_tok = p.tok
    if q_tok.kind == "id" and q_tok.text == "forall":
        raise p.error(f"unsupported: a `{q_tok.text}` clause (only exists and ~exists)")
    quant = "exists"
    if p.accept("~"):
        quant = "~exists"
    if not p.accept("exists"):
        raise p.error("expected the final condition: exists (...)", q_tok)
    cond, variables = _parse_condition(p, len(processes), regs, locations, pointer_values)
    if p.tok.kind != "eof":
        raise p.error(f"unexpected {p.tok.text!r} after the condition")
    for lock in sorted(locks):
        if init.get(lock, 0) != 0:
            raise LitmusError(f"{file}: spinlock {lock} must start unlocked (0)")
    expect = _parse_expectations(comments, file)
    kernel_result = _parse_kernel_result(comments, file)
    return LitmusTest(name, file, init, processes, quant, cond, variables, expect, sorted(locations),
                      frozenset(locks), kernel_result, pointers, filter_tree,
                      [v for v in filter_vars if v not in variables])



# ---------------------------------------------------------------------------
# Running


class _LitmusProtocol:
    name = "litmus"

    def check_quiescent(self, view):  # pragma: no cover - conservation is not checked
        pass


def _ghost_name(var) -> str:
    return f"out_P{var[1]}_{var[2]}"


def location_addresses(test: LitmusTest, shared) -> dict[str, int]:
    """The address of each of the test's locations in shared memory."""
    if test.pointers:
        base = shared[POINTER_ARRAY].base
        return {loc: base + i for i, loc in enumerate(test.locations)}
    return {loc: shared[loc].base for loc in test.locations}


def build_litmus_system(test: LitmusTest) -> System:
    decl = Declaration()
    if test.pointers:
        decl.array(POINTER_ARRAY, len(test.locations), [test.init.get(loc, 0) for loc in test.locations])
        for i, loc in enumerate(test.locations):
            decl.constant(loc, POINTER_BASE + i)
    else:
        for loc in test.locations:
            if loc in test.locks:
                decl.lock(loc)
            else:
                decl.word(loc, test.init.get(loc, 0))
    reg_vars = [v for v in test.cond_vars + test.filter_vars if v[0] == "reg"]
    for v in reg_vars:
        decl.ghost_word(_ghost_name(v), 0)
    module_lines = ["from checker.lang import *", ""]
    fn_names = []
    for proc in test.processes:
        fn = f"P{proc.index}"
        fn_names.append(fn)
        module_lines.append(f"def {fn}():")
        module_lines.extend(proc.python or ["    pass"])
        outs = [v for v in reg_vars if v[1] == proc.index]
        if outs:
            module_lines.append("    with ghost:")
            for v in outs:
                module_lines.append(f"        {_ghost_name(v)} = {v[2]}")
        module_lines.append("")
    source = "\n".join(module_lines) + "\n"
    filename = f"<litmus {test.name}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict = {}
    exec(compile(source, filename, "exec"), namespace)
    symbols = Symbols(decl.shared, decl.ghost, decl.constants, frozenset(), frozenset(), namespace, None)
    threads = []
    try:
        for i, fn in enumerate(fn_names):
            prog = compile_program("litmus", namespace[fn], symbols)
            threads.append(ThreadSpec(i, "litmus", fn, prog))
    except CompileError as exc:
        raise LitmusError(f"{test.file}: {exc.message} (in the translation of {fn})") from None
    cells = [""] * len(decl.shared_init)
    for loc, address in location_addresses(test, decl.shared).items():
        cells[address] = loc
    params = Params(threads=len(threads))
    return System(_LitmusProtocol(), params, None, decl.shared, tuple(decl.shared_init), decl.ghost,
                  tuple(decl.ghost_init), {}, threads, frozenset(), None, (), cells)


@dataclass(frozen=True)
class KnownDifference:
    """A kernel test whose ``Result:`` our models answer otherwise, on purpose."""

    kernel: str  # the file's Result: line
    ours: str  # what `weak` (and so the stronger sc and tso) gives: Never | Sometimes | Always
    reason: str


# The known differences between the Linux kernel memory model and ours, by
# test name; docs/litmus.md lists the same entries (a test checks that).  A
# test here is reported as a known difference, not a disagreement, only while
# our answer is exactly ``ours``: if the models change, it is judged afresh.
KERNEL_KNOWN_DIFFERENCES: dict[str, KnownDifference] = {
    "Z6.0+pooncelock+pooncelock+pombonce": KnownDifference(
        "Sometimes", "Never",
        "multi-copy atomicity: the kernel model makes the order of two critical sections of one lock "
        "visible only to CPUs that take the lock, so P2 (no lock) may see z=2 overwrite P1's z=1 and "
        "still read x=0 (possible on POWER); in `weak` every store is visible to all CPUs at once, P0's "
        "x=1 before its unlock and P1's z=1 after its lock, so P2's full barrier makes it see x=1"),
    "Z6.0+pooncerelease+poacquirerelease+fencembonceonce": KnownDifference(
        "Sometimes", "Never",
        "release-acquire chains: with two non-reads-from links (P1->P2 by coherence, P2->P0 by "
        "from-read) the kernel model leaves the chain unordered (release is only A-cumulative and "
        "the machine need not be multi-copy atomic); in `weak`, multi-copy atomic, x=1 is visible "
        "to all before y=1, hence before z=1 and P2's later store, so P2 reads x=1"),
    "Z6.0+pooncerelease+poacquirerelease+mbonceonce": KnownDifference(
        "Sometimes", "Never",
        "the same test as Z6.0+pooncerelease+poacquirerelease+fencembonceonce under its name before "
        "the kernel renamed its smp_mb() tests from mb to fencemb: release-acquire chains with two "
        "non-reads-from links"),
    "cmpxchg-fail-unordered-1": KnownDifference(
        "Sometimes", "Never",
        "a compare-exchange is a full barrier here even when it fails (PostgreSQL documents "
        "pg_atomic_compare_exchange_u32 so, and every RMW of the documented profile is one); the "
        "kernel orders a failed cmpxchg() not at all, so store buffering around two failing ones "
        "is allowed there (Documentation/litmus-tests/atomic/)"),
    "cmpxchg-fail-unordered-2": KnownDifference(
        "Sometimes", "Never",
        "as cmpxchg-fail-unordered-1: a failing compare-exchange is a full barrier here, neither "
        "acquire nor release in the kernel, so P1's later load may pass it there"),
    "MP+polockonce+poacquiresilsil": KnownDifference(
        "Sometimes", "Never",
        "spin_lock is stronger here: an LWLock acquire sets the lock word atomically as a full "
        "barrier, so no store of the critical section is visible before the lock is seen held; in "
        "the kernel model spin_lock is an acquire RMW whose store may become visible after the "
        "critical section's store to x, so spin_is_locked() can read 0 after x=1 was seen "
        "(smp_mb__after_spinlock() forbids it there too: MP+polockmbonce+poacquiresilsil, Never)"),
}


@dataclass(frozen=True)
class Judgement:
    """How a result compares with what its file states.

    verdict: ``agree``, ``disagree``, ``known`` (a listed difference from the
    kernel model), ``stronger`` (sc or tso forbids what the kernel model
    allows: expected, they are stronger models) or ``unchecked`` (the file
    states nothing for this model).
    """

    verdict: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.verdict == "disagree"


def _our_result(pos: bool, neg: bool) -> str:
    return "Always" if pos and not neg else ("Sometimes" if pos else "Never")


def judge(test: LitmusTest, memory_model: str, profile: str, pos: bool, neg: bool,
          ok: bool | None) -> Judgement:
    """Compare with ``(* expect ... *)`` if the file has any, else with its
    kernel ``Result:`` line.  ``pos``/``neg``: some final state satisfies /
    falsifies the condition."""
    if test.expect:
        if ok is None:
            return Judgement("unchecked", f"no expectation for {memory_model} under {profile}")
        return Judgement("agree" if ok else "disagree", "" if ok else "differs from (* expect ... *)")
    kernel = test.kernel_result
    if kernel is None:
        return Judgement("unchecked", "no (* expect ... *) and no Result: line")
    ours = _our_result(pos, neg)
    if ours == kernel:
        return Judgement("agree", f"Result: {kernel}")
    known = KERNEL_KNOWN_DIFFERENCES.get(test.name)
    if kernel == "Sometimes" and memory_model in ("sc", "tso"):
        return Judgement("stronger", f"Result: Sometimes; {ours} under {memory_model}, a stronger model "
                                     "than the kernel's (expected)")
    if known is not None and known.kernel == kernel and known.ours == ours:
        return Judgement("known", f"Result: {kernel}, here {ours} ({known.reason})")
    return Judgement("disagree", f"Result: {kernel}, but {ours} under {memory_model}")


@dataclass
class LitmusResult:
    name: str
    result: str  # "allowed" | "forbidden" (of the exists condition)
    states: int
    outcomes: int
    quantifier: str
    expected: tuple[str, int | None] | None
    outcome_set: frozenset = frozenset()  # the final values of the condition's variables
    judgement: Judgement = Judgement("unchecked")
    # --window: only executions with at most this many events in flight
    # (weak) or buffered stores (tso) per thread were explored (None:
    # nothing the model allows was left out), so "forbidden" holds only
    # within it.
    reordering_bound: int | None = None

    @property
    def ok(self) -> bool | None:
        if self.expected is None:
            return None
        want, n = self.expected
        return self.result == want and (n is None or n == self.outcomes)

    def as_json(self) -> dict:
        d = {"result": self.result, "states": self.states, "outcomes": self.outcomes}
        if self.expected is not None:
            d["expected"] = self.expected[0] + (f"/{self.expected[1]}" if self.expected[1] else "")
            d["ok"] = self.ok
        d["verdict"] = self.judgement.verdict
        if self.reordering_bound is not None:
            d["reordering_bound"] = self.reordering_bound
        if self.judgement.detail:
            d["detail"] = self.judgement.detail
        return d


# How run_litmus explores: the interpreted reference models, or the C search (sc and tso).
LITMUS_ENGINES = ("interpreted", "c")


def run_litmus(test: LitmusTest, memory_model: str = DEFAULT_MEMORY_MODEL, profile: str = "documented",
               window: int | None = None, engine: str = "interpreted") -> LitmusResult:
    """``engine``: "interpreted" (the reference models) or "c" (the sc or tso search in C, checker.engine_c)."""
    from checker.explore import Engine
    from checker.memory import PROFILES, memory_models

    models = memory_models()
    if memory_model not in models:
        raise ModelError(f"unknown memory model {memory_model!r} (known: {', '.join(models)})")
    if profile not in PROFILES:
        raise ModelError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    if engine not in LITMUS_ENGINES:
        raise ModelError(f"unknown litmus engine {engine!r} (known: {', '.join(LITMUS_ENGINES)})")
    system = build_litmus_system(test)
    opts = {} if window is None else {"window": window}
    mm = models[memory_model](system, PROFILES[profile], **opts)
    outcomes: set[tuple] = set()
    loc_addr = location_addresses(test, system.shared)
    ghost_addr = {name: r.base for name, r in system.ghost.items()}

    def final(s) -> None:
        """A state where no process can move: its outcome, or an error before the end."""
        if not all(search.halted(s, t) for t in search.program_tids) or not mm.quiescent(s[2]):
            hint = " (a deadlock: a spin_lock that is never released?)" if test.locks else ""
            raise LitmusError(f"{test.file}: a state where no process can move before the end{hint}")
        values = {}
        for v in test.cond_vars + test.filter_vars:
            if v[0] == "reg":
                values[v] = s[3][ghost_addr[_ghost_name(v)]]
            else:
                values[v] = s[0][loc_addr[v[1]]]
        if test.filter is None or _holds(test.filter, values):
            outcomes.add(tuple(values[v] for v in test.cond_vars))

    def refuse(viol) -> None:
        if test.pointers and POINTER_ARRAY in str(viol[1]):
            raise LitmusError(f"{test.file}: a dereferenced value is not a pointer to a location "
                              f"({viol[1]})")
        raise LitmusError(f"{test.file}: {viol[0]}: {viol[1]}")

    search: Engine
    if engine == "c":
        from checker.engine_c import CEngine, reach

        search = CEngine(system, mm)
        reached = reach(search)
        if reached.violation is not None:
            refuse(reached.violation)
        for s in reached.stuck:
            final(s)
        nstates = reached.states
    else:
        search = Engine(system, mm)
        init = search.initial()
        seen = {init}
        queue = [init]
        out: list = []
        while queue:
            s = queue.pop()
            out.clear()
            search.successors(s, out)
            if not out:
                final(s)
                continue
            for _label, nxt, viol in out:
                if viol is not None:
                    refuse(viol)
                if nxt is not None and nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        nstates = len(seen)
    if mm.reordering_bound() is not None and not mm.reordering_bound_requested():
        # A safety cap (weak's window, tso's buffers) refused a step: outcomes past it were not explored.
        raise LitmusError(f"{test.file}: the search hit {mm.cap_phrase.format(n=mm.reordering_bound())}: "
                          "the outcomes are incomplete")
    truth = [_holds(test.condition, dict(zip(test.cond_vars, o))) for o in outcomes]
    pos, neg = any(truth), not all(truth)
    res = LitmusResult(test.name, "allowed" if pos else "forbidden", nstates, len(outcomes),
                       test.quantifier, test.expected(memory_model, profile), frozenset(outcomes))
    res.judgement = judge(test, memory_model, profile, pos, neg, res.ok)
    res.reordering_bound = mm.reordering_bound()
    return res


def suite_files() -> list[Path]:
    import models

    return sorted((Path(models.__file__).parent / "litmus").glob("*.litmus"))



