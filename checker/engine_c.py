"""``--engine c``: the whole sc or tso search in C, generated from the IR (issue 13).

``checker.compile_sc`` turns each event of each thread into a Python function;
this module turns the same events into C functions (locals as variables,
expressions translated from their IR source, the local code after an event
unrolled into nested ``if``/``else`` up to every next event, dead locals
zeroed as ``settle`` does, the postmaster's step bound counted), appends the
fixed breadth-first search of ``checker.engine_c_runtime`` and builds the
whole, once per system, with cffi into the C build cache (``SLOTCHECK_CACHE``,
as ``refimpl.build`` does), under a name that hashes the generated source.

Under tso (``compile_sc.CompiledEngine._tso_thread_moves``) each program
thread's words end with its store buffer (a count, then ``--window`` pairs of
address and value, oldest first, unused pairs 0).  A thread with a non-empty
buffer first has its flush move (the oldest pair to memory), then its own
step in the buffered form: a load reads the newest buffered store to its
address, else memory; a plain store is appended while the buffer has room;
choose and non-draining fences are their sc functions; rmw, acquire,
release, full-barrier stores and draining fences wait.  With an empty buffer
every event is its sc function but a plain store, which is buffered.  A state
with anything buffered is not quiescent.  Flushes count no postmaster step.

The C search numbers states in the order the Python search does (same threads
in the same order, within a thread the flush before its own step, each
thread's moves in the same order), so the two report the same states,
transitions and shortest counterexamples.  C returns counts and, per
violated property, the index of the state (and the number of the move) where
it was first seen; Python rebuilds the counterexample from the parent
indices, unpacking each state and expanding it again with the compiled
Python engine for its labels (C stores no labels).  ``reach`` runs the same
search for litmus tests (``checker litmus --engine c``).

Local code that loops without an event (or would unroll too large) is
written as labelled blocks and ``goto``s, with run_local's instruction limit.
What C does not compute it asks Python for, one thread's step at a time
(``slotcheck_c_fallback``): any step that meets an operation C leaves
undefined (a division by zero, a shift by 32 or more), a ghost index out of
range, a ghost division by zero, or the instruction limit: the compiled Python
engine takes that step, with its exact semantics (a crash, a violation, a
model error), and hands the moves back: all of that thread's moves, under
tso its flush included (``thread_successors``), in place of any C had made.
``Protocol.check_quiescent`` runs in Python on each new quiescent state
(``slotcheck_c_check``), in discovery order.

A rogue (``--rogue``) is a thread of one word, its writes left (a sentinel
for unlimited).  Its moves are the runtime's, after every program thread's,
as ``Engine.rogue_successors`` lists them: each rogue value but the current
one into the word the postmaster's next load, rmw or acquire reads (a
generated ``pm_read_address``), or into every word with --rogue-anywhere,
kernel words left out (under tso too: ``upcoming_reads`` is the address at
the pc whatever the buffer holds).  A backend whose index is out of range
crashes, a move C writes itself; a ghost index out of range is left to
Python as without a rogue (it then skips that bookkeeping).  A state where
the postmaster cannot move while others can is a deadlock, as the Python
searches say.

Refused with one line (exit 2), never explored some other way: the weak
memory model, --symmetry, --fingerprint, --workers/--ray/--checkpoint,
ghost code with a unary minus or ``~``, values that do not fit the 32-bit
words of a C state (a rogue budget of 2^32 - 1 writes or more too), more than
64 properties, and the cycle analysis past 2^28 states or 2^32 edges.
"""

from __future__ import annotations

import ast
import os
import time
from array import array
from dataclasses import dataclass, field

from checker.compile_sc import _MAX_LINES, CompiledEngine
from checker.engine_c_runtime import CDEF, RUNTIME
from checker.ir import MASK
from checker.model import DEADLOCK, MEMORY_SAFETY, PM_SAFETY, WAIT_FREEDOM, ModelError
from checker.model.property_names import PROPERTIES

# The "move number" C records for a state where, with a rogue, the postmaster
# alone cannot move (-1: no thread can).
_POSTMASTER_STUCK = -2
_CHUNK = 1 << 14  # states expanded per call into C: progress, Ctrl-C and --max-memory are seen between calls
_NO_LIMIT = (1 << 64) - 1  # sc_run's room without --max-memory
# Bytes each component id of a packed state starts with (they widen as their tables grow); the tests start
# them at 4, where none ever widens, to compare the two.
_FIRST_ID_BYTES = 1


class Unsupported(ModelError):
    """Something --engine c does not translate (one line, exit 2)."""


class _Fallback(Exception):
    """This event's step is left to Python (every time it is taken)."""


_BINOP_C = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "/", ast.Mod: "%",
            ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>"}
_CMP_C = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_UB_C = {"_ub_div": "ub_div", "_ub_mod": "ub_mod", "_ub_shl": "ub_shl", "_ub_shr": "ub_shr"}


class _ExprC:
    """Python source of an IR expression (``Expr.run_src``) or ghost code, as C over uint64_t.

    Every value is below 2^32 and every operation that can grow one is masked
    in the source (as the IR compiler writes it), so 64-bit arithmetic with
    the same masks gives Python's values.  ``risky`` is set when the C can
    set ``ub`` (an operation C leaves undefined, a ghost index): the caller
    then tests it and leaves the step to Python.
    """

    def __init__(self, ghost: bool, locals_: str = "l") -> None:
        self.ghost = ghost
        self.risky = False
        self.loopvars: set[str] = set()
        self.local_prefix = locals_

    def of_src(self, src: str) -> str:
        return self.c(ast.parse(src, mode="eval").body)

    def c(self, n) -> str:
        if isinstance(n, ast.Constant) and isinstance(n.value, int):
            v = int(n.value)
            if not 0 <= v <= MASK:
                raise Unsupported(f"--engine c: the constant {v} does not fit a 32-bit word")
            return f"UINT64_C({v})"
        if isinstance(n, ast.Name) and n.id in self.loopvars:
            return n.id
        if isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id in ("L", "G"):
            idx = n.slice
            arr = n.value.id
            if isinstance(idx, ast.Constant) and isinstance(idx.value, int):
                return f"l{idx.value}" if arr == "L" else f"G[{idx.value}]"
            if not self.ghost:
                raise Unsupported("--engine c: a computed local index outside ghost code")
            return f"{'Lv' if arr == 'L' else 'G'}[{self.c(idx)}]"
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOP_C:
            a, b = self.c(n.left), self.c(n.right)
            op = type(n.op)
            if self.ghost and op in (ast.FloorDiv, ast.Mod):
                # Python raises on a zero divisor (a model error): Python takes that step.
                self.risky = True
                return f"{'ub_div' if op is ast.FloorDiv else 'ub_mod'}({a}, {b}, &ub)"
            if self.ghost and op is ast.LShift:
                return f"g_shl({a}, {b})"
            if self.ghost and op is ast.RShift:
                return f"g_shr({a}, {b})"
            # Unguarded, the IR compiler found the right operand constant: a
            # shift below 32, a divisor not 0 (else it wrote a _ub_ guard).
            return f"({a} {_BINOP_C[op]} {b})"
        if isinstance(n, ast.UnaryOp):
            v = self.c(n.operand)
            if isinstance(n.op, ast.Not):
                return f"((uint64_t) !({v}))"
            if isinstance(n.op, (ast.USub, ast.Invert)) and not self.ghost:
                # Always masked by the enclosing `& MASK` in program expressions.
                return f"({'-' if isinstance(n.op, ast.USub) else '~'}{v})"
            raise Unsupported("--engine c: ghost code with a negative or inverted value (Python ints have no width)")
        if isinstance(n, ast.BoolOp):
            vals = [self.c(v) for v in n.values]
            out = vals[-1]
            for v in reversed(vals[:-1]):
                # Python's `x and y` is x when x is 0, else y; `x or y` is x when x is not 0.
                out = f"({v} ? {out} : UINT64_C(0))" if isinstance(n.op, ast.And) else f"({v} ? {v} : {out})"
            return out
        if isinstance(n, ast.Compare):
            parts = []
            left = self.c(n.left)
            for op, right in zip(n.ops, n.comparators):
                if type(op) not in _CMP_C:
                    raise Unsupported(f"--engine c: comparison {type(op).__name__}")
                r = self.c(right)
                parts.append(f"{left} {_CMP_C[type(op)]} {r}")
                left = r
            return "((uint64_t) (" + " && ".join(parts) + "))"
        if isinstance(n, ast.IfExp):
            return f"({self.c(n.test)} ? {self.c(n.body)} : {self.c(n.orelse)})"
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and not n.keywords:
            name = n.func.id
            if name in _UB_C and len(n.args) == 3:
                self.risky = True
                return f"{_UB_C[name]}({self.c(n.args[0])}, {self.c(n.args[1])}, &ub)"
            if name in ("min", "max") and n.args:
                vals = [self.c(a) for a in n.args]
                out = vals[0]
                for v in vals[1:]:
                    out = f"u{name}({out}, {v})"
                return out
            if name == "_gidx" and self.ghost and len(n.args) == 3:
                self.risky = True
                return f"g_idx({', '.join(self.c(a) for a in n.args)}, &ub)"
        raise Unsupported(f"--engine c: cannot translate {ast.unparse(n)!r}")


# The memory models the C search runs (weak stays with the Python engines).
C_MODELS = ("sc", "tso")

# The rogue's word when its writes are unlimited (the Python state says -1).
ROGUE_UNLIMITED = MASK


class _Layout:
    """Where each part of a state sits among the words of an unpacked C state.

    Under tso each program thread's tuple is followed by its store buffer: a
    count, then ``capacity`` (address, value) pairs, oldest first, unused
    pairs 0 so that one buffer has one encoding.  It sits in the thread's
    words, so the runtime interns it with the thread.
    """

    def __init__(self, system, mm) -> None:
        self.mem_len = len(system.shared_init)
        self.ghost_off = self.mem_len
        self.ghost_len = len(system.ghost_init)
        self.tso = mm.name == "tso"
        self.capacity: int = mm.capacity if self.tso else 0
        off = self.ghost_off + self.ghost_len
        self.thr_off: list[int] = []
        self.thr_len: list[int] = []
        self.buf_off: list[int | None] = []
        self.rogue_tid = system.rogue_tid
        for t in system.threads:
            self.thr_off.append(off)
            # The rogue's tuple is (writes left,); it has no buffer.
            n = 1 if t.program is None else t.program.nlocals
            self.buf_off.append(off + n if self.tso and t.program is not None else None)
            if self.buf_off[-1] is not None:
                n += 1 + 2 * self.capacity
            self.thr_len.append(n)
            off += n
        self.words = off
        self.nthreads = len(system.threads)

    def encode(self, state) -> list[int]:
        mem, threads, pending, ghost = state
        words = list(mem) + [int(g) for g in ghost]
        rt = self.rogue_tid
        for tid, T in enumerate(threads):
            if tid == rt:
                left = T[0]
                if left >= ROGUE_UNLIMITED:
                    raise Unsupported(f"--engine c: {left} rogue writes do not fit a 32-bit word "
                                      "(use --rogue-writes unlimited)")
                words.append(ROGUE_UNLIMITED if left < 0 else left)
                continue
            words.extend(T)
            if self.buf_off[tid] is not None:
                buf = pending[tid]
                if len(buf) > self.capacity:
                    raise ModelError(f"--engine c: a store buffer of {len(buf)} entries past --window "
                                     f"{self.capacity}")
                words.append(len(buf))
                for a, v in buf:
                    words += (a, v)
                words += [0] * (2 * (self.capacity - len(buf)))
        for w in words:
            if w.__class__ is not int and w.__class__ is not bool or not 0 <= w <= MASK:
                raise Unsupported(f"--engine c: the state holds {w!r}, which does not fit a 32-bit word")
        return words

    def decode(self, words) -> tuple:
        mem = tuple(words[:self.mem_len])
        ghost = tuple(words[self.ghost_off:self.ghost_off + self.ghost_len])
        threads = []
        pending: list = []
        for o, n, b in zip(self.thr_off, self.thr_len, self.buf_off):
            if b is None:
                threads.append(tuple(words[o:o + n]))
                # Under tso the rogue's pending is empty too (TotalStoreOrder.initial_pending).
                pending.append(() if self.tso else None)
                continue
            threads.append(tuple(words[o:b]))
            k = words[b]
            pending.append(tuple((words[b + 1 + 2 * i], words[b + 2 + 2 * i]) for i in range(k)))
        if self.rogue_tid is not None and threads[self.rogue_tid][0] == ROGUE_UNLIMITED:
            threads[self.rogue_tid] = (-1,)
        return (mem, tuple(threads), tuple(pending), ghost)


class _EventC:
    """The C function of one event (thread ``tid`` at ``pc``), as compile_sc._EventCompiler writes Python."""

    def __init__(self, gen: "_Generator", tid: int, pc: int, jumps: bool = False, buffered: bool = False) -> None:
        # buffered: tso's load or plain store of a thread whose buffer may be
        # non-empty (compile_sc._EventCompiler.event_buffered); ``bst_`` functions.
        self.gen, self.tid, self.pc = gen, tid, pc
        self.buffered = buffered
        self.mm = gen.mm
        self.prog = self.mm.programs[tid]
        self.nloc = self.prog.nlocals
        self.lines: list[str] = []
        # jumps: the local code as labelled blocks and gotos, not unrolled
        # (it loops without an event, or unrolls too large); ghost_copied is
        # then known only at run time (gcp).
        self.jumps = jumps
        self.pending: list[int] = []
        self.placed: set[int] = set()

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("\t" * depth + text)
        if len(self.lines) > _MAX_LINES and not self.jumps:
            raise _Fallback("too large")

    def expr(self, src: str, d: int, exit_: str) -> str:
        """The C of an expression; when it may meet undefined behaviour, it is computed into a temporary first."""
        x = _ExprC(ghost=False)
        code = x.of_src(src)
        if not x.risky:
            return code
        tmp = f"e{self.gen.counter()}"
        self.emit(d, f"uint64_t {tmp} = {code};")
        self.emit(d, "if (ub) return FB;")
        return tmp

    def address(self, loc, d: int, exit_: str) -> None:
        region = loc.region
        if loc.index is None:
            self.emit(d, f"a = {region.base};")
            return
        i = self.expr(loc.index.run_src, d, exit_)
        self.emit(d, f"if ({i} >= {region.length}) {{")
        role = self.gen.system.threads[self.tid].role
        if role != "postmaster" and self.gen.system.rogue_tid is not None:
            self.crash(d + 1)
        else:
            prop = PM_SAFETY if role == "postmaster" else MEMORY_SAFETY
            self.emit(d + 1, f"if (push_violation({self.gen.prop(prop)})) return NOMEM;")
        self.emit(d + 1, exit_)
        self.emit(d, "}")
        self.emit(d, f"a = {region.base} + {i};")

    def crash(self, d: int) -> None:
        """A backend crashed on memory the rogue corrupted (MemoryModel.violation_for_range, sc's _crash).

        It stops for good at its halt, its locals all 0, holding whatever it held.
        """
        toff = self.gen.layout.thr_off[self.tid]
        halt_pc = len(self.prog.instrs) - 1
        self.emit(d, "{")
        self.emit(d + 1, "uint32_t *m = push_move(-1, 0, 0);")
        self.emit(d + 1, "if (!m) return NOMEM;")
        self.emit(d + 1, f"memcpy(m, s, {self.gen.layout.words} * sizeof(uint32_t));")
        self.emit(d + 1, " ".join(f"m[{toff + i}] = {halt_pc if i == 0 else 0};" for i in range(self.nloc)))
        self.emit(d, "}")

    def build(self) -> str:
        ins = self.prog.instrs[self.pc]
        lay = self.gen.layout
        toff = lay.thr_off[self.tid]
        self.emit(0, f"static int\n{self.name}(const uint32_t *s)\n{{")
        decl = ", ".join(f"l{i}" for i in range(self.nloc))
        self.emit(1, f"uint64_t {decl};")
        self.emit(1, "uint64_t a = 0, wv = 0, Lv[1];")
        self.emit(1, "int ub = 0, wrote = 0, gcp = 0;")
        self.emit(1, "long nlocal = 0;")
        if lay.ghost_len:
            self.emit(1, f"uint64_t G[{lay.ghost_len}];")
        self.emit(1, "(void) a; (void) wv; (void) wrote; (void) ub; (void) Lv; (void) gcp; (void) nlocal;")
        load = " ".join(f"l{i} = s[{toff + i}];" for i in range(self.nloc))
        if ins.op == "choose":
            self.emit(1, f"for (uint64_t choice = 0; choice < {ins.n}; choice++) {{")
            self.emit(2, load)
            self.emit(2, f"l{ins.dst} = choice;")
            self.emit(2, "gcp = 0; nlocal = 0;")
            self.finish(2, "continue;")
            self.blocks(2, "continue;")
            self.emit(1, "}")
            self.emit(1, "return 0;")
        else:
            self.emit(1, load)
            if self.buffered:
                self.event_buffered(ins, 1)
            else:
                self.event(ins, 1)
            self.finish(1, "return 0;")
            self.blocks(1, "return 0;")
        self.emit(0, "}")
        return "\n".join(self.lines)

    def event(self, ins, d: int) -> None:
        op = ins.op
        if op == "load":
            self.address(ins.loc, d, "return 0;")
            self.emit(d, f"l{ins.dst} = s[a];")
        elif op == "store":
            self.address(ins.loc, d, "return 0;")
            v = self.expr(ins.value.run_src, d, "return 0;")
            self.emit(d, f"wv = {v}; wrote = 1;")
        elif op == "rmw":
            self.address(ins.loc, d, "return 0;")
            self.emit(d, "uint64_t old = s[a];")
            args = [self.expr(e.run_src, d, "return 0;") for e in ins.args]
            kind = ins.kind
            new, result = {
                "add": (f"(old + {args[0] if args else 0}) & 0xFFFFFFFFull", "old"),
                "sub": (f"(old - {args[0] if args else 0}) & 0xFFFFFFFFull", "old"),
                "or": (f"old | {args[0] if args else 0}", "old"),
                "and": (f"old & {args[0] if args else 0}", "old"),
                "xchg": (f"{args[0] if args else 0}", "old"),
                "cas": (f"(old == {args[0]} ? {args[1]} : old)" if len(args) == 2 else "", "(old == "
                        f"{args[0] if args else 0} ? 1 : 0)"),
                "read_mb": ("old", "old"),
            }[kind]
            self.emit(d, f"uint64_t nw = {new};")
            self.emit(d, f"l{ins.dst} = {result};")
            if ins.expected_local is not None:
                self.emit(d, f"l{ins.expected_local} = old;")
            self.emit(d, "if (nw != old) { wv = nw; wrote = 1; }")
        elif op == "acquire":
            self.address(ins.loc, d, "return 0;")
            self.emit(d, "if (s[a] == 0) return 0;" if ins.wait_nonzero else "if (s[a] != 0) return 0;")
            self.emit(d, f"wv = {ins.taken}; wrote = 1;")
        elif op == "release":
            self.address(ins.loc, d, "return 0;")
            self.emit(d, "wv = 0; wrote = 1;")
        elif op == "fence":
            pass
        else:  # pragma: no cover - halt has no function
            raise _Fallback(op)

    @property
    def name(self) -> str:
        return f"{'bst' if self.buffered else 'st'}_{self.tid}_{self.pc}"

    def event_buffered(self, ins, d: int) -> None:
        b = self.gen.layout.buf_off[self.tid]
        if ins.op == "load":
            self.address(ins.loc, d, "return 0;")
            self.emit(d, f"l{ins.dst} = s[a];")
            # The newest buffered store to the address wins.
            self.emit(d, f"for (uint32_t k = 0; k < s[{b}]; k++) "
                         f"if (s[{b + 1} + 2 * k] == a) l{ins.dst} = s[{b + 2} + 2 * k];")
        elif ins.op == "store":
            # A full buffer waits for a flush (before the address: an index out of range then waits too).
            self.emit(d, f"if (s[{b}] >= {self.gen.layout.capacity}) {{ buffer_refused = 1; return 0; }}")
            self.address(ins.loc, d, "return 0;")
            v = self.expr(ins.value.run_src, d, "return 0;")
            self.emit(d, f"wv = {v};")
        else:  # pragma: no cover - the generator writes buffered functions for these two only
            raise _Fallback(ins.op)

    def finish(self, d: int, exit_: str) -> None:
        mm, pc = self.mm, self.pc
        if mm.bounded[self.tid] and self.prog.in_op[pc]:
            if not mm.step_bound:
                self.emit(d, "l1 = 1;")
            else:
                self.emit(d, "l1 += 1;")
                self.emit(d, f"if (l1 > {mm.step_bound}) {{")
                self.emit(d + 1, f"if (push_violation({self.gen.prop(WAIT_FREEDOM)})) return NOMEM;")
                self.emit(d + 1, exit_)
                self.emit(d, "}")
        self.local(pc + 1, d, exit_, frozenset(), False)

    def blocks(self, d: int, exit_: str) -> None:
        """In jumps mode, one labelled block per local pc a goto names, each up to its branch, jump or event."""
        while self.pending:
            pc = self.pending.pop()
            self.emit(d, f"P{pc}: {{")
            self.straight(pc, d + 1, exit_)
            self.emit(d, "}")

    def goto(self, pc: int, d: int) -> None:
        if pc not in self.placed:
            self.placed.add(pc)
            self.pending.append(pc)
        self.emit(d, f"goto P{pc};")

    def straight(self, pc: int, d: int, exit_: str) -> None:
        """Jumps mode: the local code from pc; as run_local, more than LOCAL_LOOP_LIMIT instructions is Python's error."""
        from checker.memory.base import LOCAL_LOOP_LIMIT

        instrs = self.prog.instrs
        while True:
            ins = instrs[pc]
            if ins.is_event:
                self.leaf(pc, d, exit_, None)
                return
            self.emit(d, f"if (++nlocal > {LOCAL_LOOP_LIMIT}) return FB;")
            op = ins.op
            if op == "assign":
                v = self.expr(ins.expr.run_src, d, exit_)
                self.emit(d, f"l{ins.dst} = {v};")
                pc += 1
            elif op == "branch":
                c = self.expr(ins.cond.run_src, d, exit_)
                self.emit(d, f"if ({c})")
                self.goto(pc + 1, d + 1)
                self.emit(d, "else")
                self.goto(ins.target, d + 1)
                return
            elif op == "jump":
                self.goto(ins.target, d)
                return
            elif op == "ghost":
                lay = self.gen.layout
                if lay.ghost_len:
                    self.emit(d, "if (!gcp) { "
                              + " ".join(f"G[{k}] = s[{lay.ghost_off + k}];" for k in range(lay.ghost_len)) + " }")
                self.emit(d, "gcp = 1;")
                self.ghost(ins, d, exit_)
                pc += 1
            else:  # operation markers
                pc += 1

    def local(self, pc: int, d: int, exit_: str, on_path: frozenset, ghost_copied: bool) -> None:
        if self.jumps:
            self.goto(pc, d)
            return
        instrs = self.prog.instrs
        while True:
            if pc in on_path:
                raise _Fallback("a local loop without an event")
            on_path = on_path | {pc}
            ins = instrs[pc]
            if ins.is_event:
                self.leaf(pc, d, exit_, ghost_copied)
                return
            op = ins.op
            if op == "assign":
                v = self.expr(ins.expr.run_src, d, exit_)
                self.emit(d, f"l{ins.dst} = {v};")
                pc += 1
            elif op == "branch":
                c = self.expr(ins.cond.run_src, d, exit_)
                self.emit(d, f"if ({c}) {{")
                self.local(pc + 1, d + 1, exit_, on_path, ghost_copied)
                self.emit(d, "} else {")
                self.local(ins.target, d + 1, exit_, on_path, ghost_copied)
                self.emit(d, "}")
                return
            elif op == "jump":
                pc = ins.target
            elif op == "ghost":
                if not ghost_copied:
                    lay = self.gen.layout
                    for k in range(lay.ghost_len):
                        self.emit(d, f"G[{k}] = s[{lay.ghost_off + k}];")
                    ghost_copied = True
                self.ghost(ins, d, exit_)
                pc += 1
            else:  # operation markers
                pc += 1

    def ghost(self, ins, d: int, exit_: str) -> None:
        if ins.code is None:
            raise Unsupported("--engine c: ghost code without its source")
        fn = ast.parse(ins.code).body[0]
        assert isinstance(fn, ast.FunctionDef)
        if "Lv[" in ast.unparse(fn) or any(isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name)
                                           and n.value.id == "L" and not isinstance(n.slice, ast.Constant)
                                           for n in ast.walk(fn)):
            n = self.nloc
            self.emit(d, "{")
            self.emit(d + 1, f"uint64_t Lv[{n}] = {{{', '.join(f'l{i}' for i in range(n))}}};")
            self.ghost_stmts(fn.body, d + 1, exit_, set())
            self.emit(d, "}")
        else:
            self.ghost_stmts(fn.body, d, exit_, set())

    def ghost_expr(self, node, d: int, loopvars: set[str]) -> str:
        x = _ExprC(ghost=True)
        x.loopvars = loopvars
        code = x.c(node)
        tmp = f"g{self.gen.counter()}"
        self.emit(d, f"uint64_t {tmp} = {code};")
        if x.risky:
            self.emit(d, "if (ub) return FB;")
        return tmp

    def ghost_stmts(self, stmts, d: int, exit_: str, loopvars: set[str]) -> None:
        for s in stmts:
            if isinstance(s, ast.Pass):
                continue
            if isinstance(s, ast.If):
                c = self.ghost_expr(s.test, d, loopvars)
                if len(s.body) == 1 and isinstance(s.body[0], ast.Raise):
                    self.emit(d, f"if ({c}) {{")
                    self.violation(s.body[0], d + 1, exit_)
                    self.emit(d, "}")
                    if s.orelse:
                        self.ghost_stmts(s.orelse, d, exit_, loopvars)
                    continue
                self.emit(d, f"if ({c}) {{")
                self.ghost_stmts(s.body, d + 1, exit_, loopvars)
                if s.orelse:
                    self.emit(d, "} else {")
                    self.ghost_stmts(s.orelse, d + 1, exit_, loopvars)
                self.emit(d, "}")
            elif isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Subscript) \
                    and isinstance(s.targets[0].value, ast.Name) and s.targets[0].value.id == "G":
                v = self.ghost_expr(s.value, d, loopvars)
                i = self.ghost_expr(s.targets[0].slice, d, loopvars)
                self.emit(d, f"G[{i}] = {v};")
            elif isinstance(s, ast.For) and isinstance(s.target, ast.Name) and isinstance(s.iter, ast.Call) \
                    and isinstance(s.iter.func, ast.Name) and s.iter.func.id == "range" \
                    and 1 <= len(s.iter.args) <= 2 and not s.orelse:
                args = [self.ghost_expr(a, d, loopvars) for a in s.iter.args]
                lo, hi = (("UINT64_C(0)", args[0]) if len(args) == 1 else (args[0], args[1]))
                var = s.target.id
                self.emit(d, f"for (uint64_t {var} = {lo}; {var} < {hi}; {var}++) {{")
                self.ghost_stmts(s.body, d + 1, exit_, loopvars | {var})
                self.emit(d, "}")
            elif isinstance(s, ast.Raise):
                self.violation(s, d, exit_)
            else:
                raise Unsupported(f"--engine c: cannot translate ghost code {ast.unparse(s)!r}")

    def violation(self, node, d: int, exit_: str) -> None:
        exc = node.exc
        if not (isinstance(exc, ast.Call) and isinstance(exc.func, ast.Name) and exc.func.id == "_Violation"
                and exc.args and isinstance(exc.args[0], ast.Constant)):
            raise Unsupported(f"--engine c: cannot translate ghost code {ast.unparse(node)!r}")
        self.emit(d, f"if (push_violation({self.gen.prop(exc.args[0].value)})) return NOMEM;")
        self.emit(d, exit_)

    def leaf(self, npc: int, d: int, exit_: str, ghost_copied: bool | None) -> None:
        """The successor; ghost_copied None: known at run time (gcp)."""
        lay = self.gen.layout
        toff = lay.thr_off[self.tid]
        dead = set(self.prog.dead_at[npc])
        self.emit(d, "{")
        copied = "gcp" if ghost_copied is None else str(int(ghost_copied))
        self.emit(d + 1, f"uint32_t *m = push_move(-1, wrote, {copied});")
        self.emit(d + 1, "if (!m) return NOMEM;")
        self.emit(d + 1, f"memcpy(m, s, {lay.words} * sizeof(uint32_t));")
        self.emit(d + 1, "if (wrote) m[a] = (uint32_t) wv;")
        if ghost_copied is None and lay.ghost_len:
            self.emit(d + 1, "if (gcp) { " + " ".join(f"m[{lay.ghost_off + k}] = (uint32_t) G[{k}];"
                                                  for k in range(lay.ghost_len)) + " }")
        elif ghost_copied:
            for k in range(lay.ghost_len):
                self.emit(d + 1, f"m[{lay.ghost_off + k}] = (uint32_t) G[{k}];")
        if self.buffered and self.prog.instrs[self.pc].op == "store":
            b = lay.buf_off[self.tid]
            self.emit(d + 1, f"{{ uint32_t n = m[{b}]; m[{b + 1} + 2 * n] = (uint32_t) a; "
                             f"m[{b + 2} + 2 * n] = (uint32_t) wv; m[{b}] = n + 1; }}")
        fields = [str(npc)] + ["0" if i in dead else f"(uint32_t) l{i}" for i in range(1, self.nloc)]
        self.emit(d + 1, " ".join(f"m[{toff + i}] = {f};" for i, f in enumerate(fields)))
        self.emit(d, "}")
        self.emit(d, exit_)


# tso's flush move: the oldest of the count at s[b] buffered (address, value)
# pairs goes to memory; the rest move down and the freed pair is zeroed.
_FLUSH = """static int
flush(const uint32_t *s, uint32_t b)
{
	uint32_t	n = s[b];
	uint32_t   *m = push_move(-1, 1, 0);

	if (!m)
		return 1;
	memcpy(m, s, W * sizeof(uint32_t));
	m[MEM_OFF + s[b + 1]] = s[b + 2];
	memmove(m + b + 1, s + b + 3, 2 * (n - 1) * sizeof(uint32_t));
	m[b + 2 * n - 1] = 0;
	m[b + 2 * n] = 0;
	m[b] = n - 1;
	return 0;
}"""


class _Generator:
    def __init__(self, engine) -> None:
        self.engine = engine
        self.system = engine.system
        self.mm = engine.mm
        self.layout = _Layout(self.system, self.mm)
        props = set(PROPERTIES) | set(self.system.checkable) | {DEADLOCK, MEMORY_SAFETY, PM_SAFETY, WAIT_FREEDOM}
        self.props = sorted(props)
        if len(self.props) > 64:
            raise Unsupported("--engine c: more than 64 properties")
        self._n = 0
        self.jump_events = 0  # events whose local code is written with gotos

    def prop(self, name: str) -> int:
        if name not in self.props:
            raise Unsupported(f"--engine c: unknown property {name!r}")
        return self.props.index(name)

    def counter(self) -> int:
        self._n += 1
        return self._n

    def source(self) -> str:
        lay = self.layout
        sys_ = self.system
        head = [
            "#include <stdint.h>",
            "#include <stdlib.h>",
            "#include <string.h>",
            f"#define W {lay.words}",
            f"#define NT {lay.nthreads}",
            "#define MEM_OFF 0",
            f"#define MEM_LEN {lay.mem_len}",
            f"#define GHOST_OFF {lay.ghost_off}",
            f"#define GHOST_LEN {lay.ghost_len}",
            f"#define DEADLOCK_PROP {self.prop(DEADLOCK)}",
            f"static const uint32_t thr_off[NT] = {{{', '.join(map(str, lay.thr_off))}}};",
            f"static const uint32_t thr_len[NT] = {{{', '.join(map(str, lay.thr_len))}}};",
            "static const int postmaster[NT] = {"
            + ", ".join("1" if t.role == "postmaster" else "0" for t in sys_.threads) + "};",
        ] + self.rogue_head()
        runtime = RUNTIME.replace('#include <stdint.h>\n#include <stdlib.h>\n#include <string.h>\n', "")
        before, after = runtime.split("STEP_FUNCTIONS")
        # The declarations the runtime needs from the generated part come after move_t.
        decls = [
            "static int slotcheck_c_fallback(int tid, const uint32_t *s, move_t *out, int cap);",
            "static int slotcheck_c_check(uint32_t idx, const uint32_t *s);",
        ]
        return "\n".join(head) + before + "\n".join(decls) + "\n" + self.steps() + after

    def rogue_head(self) -> list[str]:
        """The rogue's constants (Engine.rogue_successors); ROGUE_TID -1 without one."""
        sys_ = self.system
        rt = sys_.rogue_tid
        if rt is None:
            return ["#define ROGUE_TID (-1)"]
        for v in sys_.rogue_values:
            if not 0 <= v <= MASK:
                raise Unsupported(f"--engine c: the rogue value {v} does not fit a 32-bit word")
        kernel = [0] * self.layout.mem_len
        for a in self.engine.kernel_addresses:
            kernel[a] = 1
        return [
            f"#define ROGUE_TID {rt}",
            f"#define POSTMASTER_STUCK ({_POSTMASTER_STUCK})",
            f"#define ROGUE_OFF {self.layout.thr_off[rt]}",
            f"#define ROGUE_UNLIMITED {ROGUE_UNLIMITED}u",
            f"#define ROGUE_ANYWHERE {int(bool(sys_.params.rogue_anywhere))}",
            f"#define ROGUE_NVALUES {len(sys_.rogue_values)}",
            f"static const uint32_t rogue_values[ROGUE_NVALUES] = {{{', '.join(map(str, sys_.rogue_values))}}};",
            f"static const uint8_t kernel_word[MEM_LEN] = {{{', '.join(map(str, kernel))}}};",
        ]

    def postmaster_read(self) -> str:
        """``pm_read_address``: MemoryModel.upcoming_reads(state, 0) under sc, the word the rogue may write.

        The address of the postmaster's load, rmw or acquire at its pc; none
        (0) at any other event, or when the address does not compute (an
        index out of range, an operation C leaves undefined).
        """
        lay = self.layout
        prog = self.system.threads[0].program
        toff = lay.thr_off[0]
        out = ["static int", "pm_read_address(const uint32_t *s, uint64_t *a)", "{",
               "\tint ub = 0;", "\t(void) ub;"]
        out += [f"\tuint64_t l{i} = s[{toff + i}]; (void) l{i};" for i in range(prog.nlocals)]
        out.append(f"\tswitch (s[{toff}]) {{")
        for pc, ins in enumerate(prog.instrs):
            if ins.op not in ("load", "rmw", "acquire"):
                continue
            region = ins.loc.region
            if ins.loc.index is None:
                out.append(f"\tcase {pc}: *a = {region.base}; return 1;")
                continue
            index = _ExprC(ghost=False).of_src(ins.loc.index.run_src)
            out.append(f"\tcase {pc}: {{ uint64_t i = {index}; if (ub || i >= {region.length}) return 0; "
                       f"*a = {region.base} + i; return 1; }}")
        out += ["\tdefault: return 0;", "\t}", "}"]
        return "\n".join(out)

    def event_function(self, tid: int, pc: int, buffered: bool) -> str:
        try:
            return _EventC(self, tid, pc, buffered=buffered).build()
        except _Fallback:
            # A local loop without an event (or code too large to unroll):
            # labelled blocks and gotos instead.
            self.jump_events += 1
            return _EventC(self, tid, pc, jumps=True, buffered=buffered).build()

    def steps(self) -> str:
        lay = self.layout
        parts: list[str] = []
        dispatch = ["static int", "step_thread(int t, const uint32_t *s)", "{", "\tswitch (t) {"]
        busy = ["static int", "busy(const uint32_t *w)", "{"]
        halted = ["static int", "all_halted(const uint32_t *w)", "{"]
        pm_halted = ["static int", "pm_halted(const uint32_t *w)", "{"]
        for tid, t in enumerate(self.system.threads):
            prog = t.program
            if prog is None:
                continue  # the rogue: its moves are the runtime's (rogue_step)
            toff = lay.thr_off[tid]
            b = lay.buf_off[tid]
            cases = []
            # Under tso, with a non-empty buffer: loads and plain stores have
            # buffered functions, choose and non-draining fences their sc
            # ones, the rest wait (compile_sc.CompiledEngine's buffered table).
            bcases = []
            for pc, ins in enumerate(prog.instrs):
                if not ins.is_event or ins.op == "halt":
                    continue
                plain_store = b is not None and ins.op == "store" and ins.prim not in self.mm.profile.full_stores
                if not plain_store:
                    parts.append(self.event_function(tid, pc, False))
                    cases.append(f"\t\tcase {pc}: return st_{tid}_{pc}(s);")
                if b is None:
                    continue
                if plain_store or ins.op == "load":
                    parts.append(self.event_function(tid, pc, True))
                    bcases.append(f"\t\tcase {pc}: return bst_{tid}_{pc}(s);")
                    if plain_store:
                        # With an empty buffer a plain store still goes into the buffer.
                        cases.append(bcases[-1])
                elif ins.op == "choose" or ins.op == "fence" and ins.prim not in self.mm.draining_fences:
                    bcases.append(f"\t\tcase {pc}: return st_{tid}_{pc}(s);")
            dispatch.append(f"\tcase {tid}:")
            if b is not None:
                # The flush of the oldest buffered store comes before the thread's own step (tso.py).
                dispatch.append(f"\t\tif (s[{b}]) {{")
                dispatch.append(f"\t\t\tif (flush(s, {b})) return NOMEM;")
                dispatch.append(f"\t\t\tswitch (s[{toff}]) {{")
                dispatch.extend("\t" + c for c in bcases)
                dispatch.append("\t\t\tdefault: return 0;")
                dispatch.append("\t\t\t}")
                dispatch.append("\t\t}")
                busy.append(f"\tif (w[{b}]) return 1;")  # a buffered store is not yet visible to all
            dispatch.append(f"\t\tswitch (s[{toff}]) {{")
            dispatch.extend(cases)
            dispatch.append("\t\tdefault: return 0;")
            dispatch.append("\t\t}")
            busy_pcs = [pc for pc in range(len(prog.instrs)) if prog.in_op[pc] and not prog.op_start[pc]]
            if busy_pcs:
                busy.append(f"\tswitch (w[{toff}]) {{ "
                            + " ".join(f"case {pc}:" for pc in busy_pcs) + " return 1; default: break; }")
            halts = [pc for pc, ins in enumerate(prog.instrs) if ins.op == "halt"]
            cond = " || ".join(f"w[{toff}] == {pc}" for pc in halts) or "0"
            if prog.idle_pc is not None and prog.fork_address is not None:
                cond += f" || (w[{toff}] == {prog.idle_pc} && w[{prog.fork_address}] == 0)"
            halted.append(f"\tif (!({cond})) return 0;")
            if tid == 0:
                pm_halted.append(f"\treturn {cond};")
        dispatch += ["\t}", "\treturn 0;", "}"]
        busy += ["\treturn 0;", "}"]
        halted += ["\treturn 1;", "}"]
        pm_halted.append("}")
        if lay.tso:
            parts.insert(0, _FLUSH)
        parts += ["\n".join(dispatch), "\n".join(busy), "\n".join(halted)]
        if self.system.rogue_tid is not None:
            parts += ["\n".join(pm_halted), self.postmaster_read()]
        return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------
# Building and loading


_modules: dict[str, object] = {}
# The search the callbacks serve (one at a time per process).
_active: "_Search | None" = None


def _load(source: str, words: int):
    from refimpl import build

    cdef = CDEF % {"W": words}
    key = build._key("engine_c", cdef, source)
    modname = f"_slotcheck_sc_{key}"
    if modname in _modules:
        return _modules[modname]
    import sysconfig

    out_dir = build.cache_dir()
    target = out_dir / f"{modname}{sysconfig.get_config_var('EXT_SUFFIX') or '.so'}"
    try:
        with build._locked(out_dir / f".{modname}.lock"):
            if not target.exists():
                build._compile(modname, cdef, source, [], [], ["-O2", "-std=gnu11", "-w"], target)
    except build.RefimplError as exc:
        raise ModelError(f"--engine c: {exc}") from None
    module = build._import(modname, target)
    _install_callbacks(module)
    _modules[modname] = module
    return module


def _install_callbacks(module) -> None:
    ffi = module.ffi

    def stash(exc_type, exc, tb) -> None:
        # Whatever a callback raised -- also a KeyboardInterrupt delivered as it
        # is entered, before any try of its own -- is raised again in Python
        # once C has returned; C sees the error value and stops.
        if _active is not None:
            _active.error = exc if exc is not None else exc_type()

    @ffi.def_extern(name="slotcheck_c_fallback", error=-1, onerror=stash)
    def _fallback(tid, s, out, cap):
        assert _active is not None  # C calls back only inside a search
        return _active.fallback(tid, s, out, cap)

    @ffi.def_extern(name="slotcheck_c_check", error=-2, onerror=stash)
    def _check(idx, s):
        assert _active is not None
        return _active.check(idx, s)


class CEngine(CompiledEngine):
    """The compiled engine, whose search (``explore``) runs in generated C."""

    kind = "c"

    def __init__(self, system, mm) -> None:
        if mm.name not in C_MODELS:
            raise Unsupported(f"--engine c supports the sc and tso memory models only, not {mm.name} "
                              "(the Python engines run it)")
        super().__init__(system, mm)
        # Steps the last C search left to Python (an operation C leaves undefined met on the way).
        self.python_steps = 0
        self.generator = _Generator(self)
        self.layout = self.generator.layout
        self.c_source = self.generator.source()
        # Also checks that the initial state fits the C words.
        self.layout.encode(self.initial())

    def module(self):
        return _load(self.c_source, self.layout.words)


class _Search:
    """The Python side of one C search: the callbacks, and reading the results back."""

    def __init__(self, engine: CEngine, module) -> None:
        self.engine, self.module = engine, module
        self.ffi, self.lib = module.ffi, module.lib
        self.layout = engine.layout
        self.props = engine.generator.props
        self.error: BaseException | None = None
        self.messages: dict[int, tuple[str, str]] = {}  # state -> its check_state violation
        self.spill: _Spill | None = None

    def spill_failed(self) -> ModelError:
        """A write to, or a read from, a --spill file failed: no verdict, one line (exit 2)."""
        assert self.spill is not None
        return ModelError(f"--spill {self.spill.directory}: a file there could not be written or read back "
                          f"({os.strerror(self.lib.sc_info(14))})")

    def words(self, ptr) -> list[int]:
        return self.ffi.unpack(ptr, self.layout.words)

    def fallback(self, tid, s, out, cap) -> int:
        self.engine.python_steps += 1
        state = self.layout.decode(self.words(s))
        moves: list = []
        self.engine.thread_successors(state, tid, moves)
        if len(moves) > cap:
            raise ModelError(f"--engine c: a step with more than {cap} moves")
        for k, (_label, nxt, viol) in enumerate(moves):
            m = out[k]
            if viol is not None:
                m.kind = self.props.index(viol[0]) if viol[0] in self.props else -1
                if m.kind < 0:
                    raise ModelError(f"--engine c: unknown property {viol[0]!r}")
                continue
            if nxt is None:
                raise ModelError(f"--engine c: a discarded move under {self.engine.mm.name}")
            m.kind = -1
            m.mem_changed = m.ghost_changed = 1
            m.w[0:self.layout.words] = self.layout.encode(nxt)
        return len(moves)

    def check(self, idx, s) -> int:
        state = self.layout.decode(self.words(s))
        v = self.engine.check_state(state)
        if v is None:
            return -1
        self.messages[idx] = v
        return self.props.index(v[0])

    def state(self, idx: int):
        buf = self.ffi.new(f"uint32_t[{self.layout.words}]")
        if self.lib.sc_state(idx, buf) < 0:
            raise self.spill_failed()
        return self.layout.decode(list(buf))


class _CParents:
    """``parent[i]`` (-1 for the initial state), read from C: only counterexamples walk it."""

    def __init__(self, search: _Search) -> None:
        self.search = search

    def __getitem__(self, i: int) -> int:
        p = self.search.lib.sc_parent(i)
        if p == -4:
            raise self.search.spill_failed()
        return p


class _CStates:
    """``states[i]`` for counterexamples and the cycle analysis: read from C and decoded on demand."""

    def __init__(self, search: _Search, n: int) -> None:
        self.search, self.n = search, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.search.state(i)

    def __iter__(self):
        for i in range(self.n):
            yield self.search.state(i)

    def place(self, tid: int, in_op) -> tuple[bytearray, bytearray]:
        """Per state: thread ``tid`` inside an operation (``in_op[pc]``), and inside one with its step count
        restarted (0), as bytes; computed in C from each state's packed ids."""
        ffi, lib = self.search.ffi, self.search.lib
        inside, restarted = bytearray(self.n), bytearray(self.n)
        if self.n:
            table = bytes(1 if x else 0 for x in in_op)
            r = lib.sc_thread_place(tid, ffi.from_buffer("uint8_t[]", table), len(table),
                                    ffi.from_buffer("uint8_t[]", inside), ffi.from_buffer("uint8_t[]", restarted))
            if r == -1:
                raise MemoryError("out of memory reading the postmaster's place")
            if r < 0:
                raise self.search.spill_failed()
        return inside, restarted


@dataclass
class Reached:
    """What ``reach`` found: how many states, those with no move, the first violation met."""

    states: int
    stuck: list = field(default_factory=list)
    violation: tuple[str, str] | None = None


def reach(engine: CEngine) -> Reached:
    """Every state reachable from the initial one, in C, without bounds (litmus tests' final states).

    The search stops at the first violation (a deadlock is left to the caller,
    which sees the states with no move).
    """
    global _active
    module = engine.module()
    search = _Search(engine, module)
    lib, ffi = search.lib, search.ffi
    init = ffi.new(f"uint32_t[{search.layout.words}]", search.layout.encode(engine.initial()))
    checked = sum(1 << k for k, p in enumerate(search.props) if p != DEADLOCK)
    if _active is not None:
        raise ModelError("--engine c: one C search at a time in a process")
    _active = search
    try:
        r = lib.sc_start(init, 0xFFFFFFFE, 0xFFFFFFFF, checked, 1, 0, 1, _FIRST_ID_BYTES)
        while r == 0:
            r = lib.sc_run(_CHUNK, _NO_LIMIT)
        if r == -2:
            assert search.error is not None
            raise search.error
        if r != 1:
            raise ModelError("--engine c: out of memory" if r == -1 else "--engine c: past 2^28 states or 2^32 edges")
        n = lib.sc_info(0)
        if lib.sc_info(16):
            engine.mm.note_full_buffer()  # the litmus run reads it back through reordering_bound
        if lib.sc_info(7):
            p_, s_, o_ = ffi.new("int32_t *"), ffi.new("uint32_t *"), ffi.new("int32_t *")
            lib.sc_record(0, p_, s_, o_)
            moves: list = []
            engine.successors(search.state(s_[0]), moves)
            viol = moves[o_[0]][2]
            assert viol is not None and viol[0] == search.props[p_[0]]
            return Reached(n, violation=viol)
        # r == 1 with no violation is a finished search: the bounds given to
        # sc_start lie past the 2^28 states (or 2^32 edges) at which the edge arrays stop it (-3).
        graph = _take_graph(search, n)
        return Reached(n, [search.state(i) for i in range(n) if graph.off[i + 1] == graph.off[i]])
    finally:
        _active = None
        lib.sc_free()


_TAIL = 1 << 24  # elements of the graph taken out of C per call (64 MiB)


def _take_graph(search: _Search, expanded: int, room=None):
    """The successor lists of the ``expanded`` states C expanded, as a Graph.

    C first gives back its hash slots, then hands the offsets and the edges
    over from their ends, freeing each piece it has handed over, so the run
    holds the graph once (and a piece) rather than twice: ``room`` (a
    checker.explore.Room) is asked for a piece of each array and their spare
    room.  Spilled, the states go to their file first and the graph is read
    from its files, whole: ``room`` is asked for all of it once the search's
    tables are gone."""
    from checker.graph import Graph

    lib = search.lib
    if lib.sc_release_tables() < 0:
        raise search.spill_failed()
    graph = Graph()
    if search.spill is not None:
        if room is not None:
            room(4 * (expanded + 1 + lib.sc_info(10)), "the graph read back from --spill")
        graph.off = search.spill.read(search.spill.offsets, expanded + 1)
        graph.dst = search.spill.read(search.spill.edges, lib.sc_info(10))
        return graph
    if room is not None:
        room(2 * 4 * _TAIL, "the graph handed over")
    graph.off = _take_array(search, 0, expanded + 1, "I")
    graph.dst = _take_array(search, 1, lib.sc_info(10), "I")
    return graph


class _Spill:
    """--spill DIR: the unlinked files the C search writes its parents, graph and (once searched) states to.

    They live as long as the search (closed after sc_free), and take no name
    in DIR: an interrupted run leaves nothing behind.
    """

    def __init__(self, directory: str) -> None:
        import tempfile

        try:
            self.parents, self.offsets, self.edges, self.states = (
                tempfile.TemporaryFile(dir=directory, prefix="slotcheck-spill-") for _ in range(4))
        except OSError as exc:
            raise ModelError(f"--spill {directory}: cannot create a file there ({exc.strerror or exc})") from None
        self.directory = directory

    def read(self, f, count: int) -> array:
        """The ``count`` 32-bit values of ``f`` (written whole by C), read straight into the array they fill;
        the file is emptied once read (its disk space is not needed again)."""
        out = array("I", [0]) * count
        view = memoryview(out).cast("B")
        done = 0
        f.seek(0)
        while done < len(view):
            got = f.readinto(view[done:done + (1 << 30)])
            if not got:
                raise ModelError(f"--spill {self.directory}: a spill file is shorter than written "
                                 f"({done} of {len(view)} bytes)")
            done += got
        f.truncate(0)
        return out

    def close(self) -> None:
        for f in (self.parents, self.offsets, self.edges, self.states):
            f.close()


def _take_array(search: _Search, which: int, count: int, typecode: str) -> array:
    lib, ffi = search.lib, search.ffi
    itemsize = array(typecode).itemsize
    pieces = []
    while count:
        keep = max(count - _TAIL, 0)
        piece = bytearray((count - keep) * itemsize)
        lib.sc_take_tail(which, keep, count, ffi.from_buffer(piece))
        pieces.append(piece)
        count = keep
    out = array(typecode)
    while pieces:
        out.frombytes(pieces.pop())  # each piece is freed once it is appended
    return out


def explore_c(engine: CEngine, opts, res) -> None:
    """The search of checker.explore.explore, in C; fills ``res`` (same counts, same counterexamples)."""
    global _active
    from checker import memlimit
    from checker.explore import interruption, out_of_memory

    if opts.symmetry:
        raise Unsupported("--engine c does not run --symmetry (use --engine compiled)")
    if opts.storage != "compact":
        raise Unsupported(f"--engine c stores states its own way (not --{opts.storage}); "
                          "use --engine compiled for that storage")
    system = engine.system
    t0 = time.perf_counter()
    module = engine.module()
    search = _Search(engine, module)
    engine.python_steps = 0
    lib, ffi = search.lib, search.ffi
    checked = system.checked
    checked_mask = sum(1 << k for k, p in enumerate(search.props) if p in checked)
    max_states = opts.max_states if opts.max_states is not None else 0xFFFFFFFE
    max_d = opts.max_depth if opts.max_depth is not None else 0xFFFFFFFF
    init = engine.initial()
    init_words = ffi.new(f"uint32_t[{search.layout.words}]", search.layout.encode(init))
    stop_reason = ""
    if _active is not None:
        raise ModelError("--engine c: one C search at a time in a process")
    _active = search
    out_of_mem = False
    try:
        r = lib.sc_start(init_words, min(max_states, 0xFFFFFFFE), min(max_d, 0xFFFFFFFF), checked_mask,
                         int(opts.stop_on_first), int(engine.check_conservation), int(opts.liveness),
                         _FIRST_ID_BYTES)
        if r == 0 and opts.spill_dir is not None:
            spill = search.spill = _Spill(opts.spill_dir)
            if lib.sc_spill(spill.parents.fileno(), spill.offsets.fileno(), spill.edges.fileno(),
                            spill.states.fileno()) < 0:
                r = -1
        next_report = t0 + opts.progress_interval
        try:
            while r == 0:
                room = memlimit.room_left(opts.memory_limit, 0)
                r = lib.sc_run(_CHUNK, _NO_LIMIT if room is None else room)
                if r == 0 and opts.progress is not None:
                    now = time.perf_counter()
                    if now >= next_report:
                        next_report = now + opts.progress_interval
                        n = lib.sc_info(0)
                        opts.progress({"states": n, "transitions": lib.sc_info(1),
                                       "queue": n - lib.sc_info(3), "depth": lib.sc_info(2), "elapsed": now - t0})
        except KeyboardInterrupt as exc:
            stop_reason = interruption(exc)
        except MemoryError as exc:
            stop_reason = out_of_memory(exc)
            out_of_mem = True
        if r == -2:
            # A callback failed; Ctrl-C, SIGTERM or --max-memory met inside one
            # end the search as they do between chunks, with the coverage report.
            err = search.error
            assert err is not None
            if isinstance(err, KeyboardInterrupt):
                stop_reason = interruption(err)
            elif isinstance(err, MemoryError):
                stop_reason = out_of_memory(err)
                out_of_mem = True
            else:
                raise err
        if r == -3:
            raise Unsupported("--engine c: the cycle analysis past 2^28 states or 2^32 edges (use --no-liveness)")
        if r == -4 or (search.spill is not None and lib.sc_spill_done() < 0):
            raise search.spill_failed()
        if r == -1:
            stop_reason = "out of memory"
            if lib.sc_info(13):
                # With the cycle analysis, the graph and the parents are what --spill takes out of memory.
                hint = ", or keep the graph on disk with --spill DIR" if opts.liveness and not opts.spill_dir else ""
                stop_reason = out_of_memory(memlimit.MemoryLimitReached(
                    f"memory limit {memlimit.format_size(opts.memory_limit or 0)} reached: the visited set would "
                    f"grow past it (raise it with --max-memory{hint})"))
            out_of_mem = True
        _finish(engine, search, opts, res, stop_reason, out_of_mem, t0)
    finally:
        _active = None
        lib.sc_free()
        if search.spill is not None:
            search.spill.close()


def _finish(engine, search, opts, res, stop_reason, out_of_mem, t0) -> None:
    from checker.explore import (
        Counterexample, Room, _path, _stuck_message, analyse_cycles, cycle_analysis_stops, first_violation_stop,
        partial_lasso,
    )
    from checker.search import _RebuiltLabels

    lib, ffi = search.lib, search.ffi
    system = engine.system
    n = lib.sc_info(0)
    if lib.sc_info(16):
        engine.mm.note_full_buffer()  # explore() reads it back through reordering_bound
    res.states = n
    res.transitions = lib.sc_info(1)
    res.max_depth = lib.sc_info(2)
    expanded = lib.sc_info(3)
    cut = bool(lib.sc_info(4)) or bool(lib.sc_info(5)) or bool(stop_reason)
    if lib.sc_info(5):
        stop_reason = stop_reason or f"state limit {opts.max_states} reached"
    cut_mask = lib.sc_info(6)
    res.cut_by = {p for k, p in enumerate(search.props) if cut_mask >> k & 1}
    parent = _CParents(search)
    states = _CStates(search, n)
    labels = _RebuiltLabels(engine, states, parent)
    p_ = ffi.new("int32_t *")
    s_ = ffi.new("uint32_t *")
    o_ = ffi.new("int32_t *")
    for k in range(lib.sc_info(7)):
        lib.sc_record(k, p_, s_, o_)
        prop, idx, ordinal = search.props[p_[0]], s_[0], o_[0]
        lab, path = _path(states, parent, labels, idx)
        if ordinal >= 0:
            out: list = []
            engine.successors(states[idx], out)
            label, _nxt, viol = out[ordinal]
            assert viol is not None and viol[0] == prop, (viol, prop)
            res.violations[prop] = Counterexample(prop, viol[1], lab, path, label)
        elif prop == DEADLOCK and ordinal == _POSTMASTER_STUCK:
            # Others (the rogue, say) could move; with a rogue only the postmaster must.
            res.violations[prop] = Counterexample(prop, "the postmaster cannot take its next step", lab, path)
        elif prop == DEADLOCK and idx not in search.messages:
            res.violations[prop] = Counterexample(prop, _stuck_message(engine, states[idx]), lab, path)
        else:
            res.violations[prop] = Counterexample(prop, search.messages[idx][1], lab, path)
    stop_reason = stop_reason or first_violation_stop(opts, res.violations)
    res.complete = expanded >= n and not cut and not stop_reason
    if not res.complete and not stop_reason:
        stop_reason = f"depth limit {opts.max_depth} reached" if cut else "stopped"
    res.stop_reason = stop_reason
    res.max_postmaster_steps = lib.sc_info(11)
    res.storage = "compact"
    res.bytes_per_state = (lib.sc_info(8) + lib.sc_info(9)) / n if n else 0.0
    edges = None
    if opts.liveness and not out_of_mem:
        # Handing over a graph of hundreds of millions of edges takes a while
        # and much memory: a stop there is a stop in the analysis.
        with cycle_analysis_stops(res, "before"):
            edges = _take_graph(search, expanded, Room(opts.memory_limit))
    if res.complete and edges is not None:
        analyse_cycles(engine, states, edges, parent, labels, res, {}, opts.memory_limit)
    elif (edges is not None and engine.lasso_only and WAIT_FREEDOM in system.checked
          and WAIT_FREEDOM not in res.violations):
        edges.pad(n)
        partial_lasso(engine, states, edges, parent, labels, res, opts.memory_limit)
    if search.spill is not None:
        res.spilled_bytes = lib.sc_info(15)
    res.elapsed = time.perf_counter() - t0
