"""Compiled successors for sc and tso (issue 13, ``--engine compiled``).

The interpreted memory models (``checker.memory.sc``/``tso``) look up each
instruction's kind, copy a thread's locals into a list, evaluate expressions
through lambdas and run the local code after an event in a small interpreter
(``run_local``).  Here each event of each thread is turned, once, when the
engine is built, into a Python function of its own (generated source, passed
to ``compile()``): the thread's locals are plain variables, expressions are
inlined, the local code that follows the event is unrolled into nested
``if``/``else`` up to every next event, and the next thread tuple is built in
one expression with dead locals already zeroed.

The generated code produces exactly the moves of the interpreted model, in the
same order, with the same labels and states (tests/test_engine_compiled.py
checks it state for state); the interpreted models stay the reference.  What
the generator does not handle it leaves to them, per event:

* local code with a loop that has no event in it, or that would unroll past a
  size limit (none in the shipped protocols);
* nothing else: under tso, a thread with an empty buffer runs the sc code
  (every event but a plain store behaves as under sc, as the interpreted tso
  model itself says); a plain store, and every step of a thread whose buffer
  is not empty, run generated tso code (loads look in the buffer first, stores
  go into it, locked instructions and draining fences wait), and the flush of
  the oldest buffered store is one move of its own.

The weak model is always interpreted.
"""

from __future__ import annotations

import re

from checker.explore import Engine
from checker.ir import MASK, UNDEFINED_GUARDS, GhostIndexError, OutOfRange, UndefinedBehaviour, Violation
from checker.model import MEMORY_SAFETY, WAIT_FREEDOM, ModelError

COMPILED_MODELS = ("sc", "tso")
_MAX_LINES = 4000  # an unrolled local segment larger than this is left to the interpreter
_LOCAL = re.compile(r"\bL\[(\d+)\]")


class _Fallback(Exception):
    """This event is left to the interpreted model."""


class _NoMove(Exception):
    """This event cannot happen in this situation (a tso locked instruction with a non-empty buffer)."""


def _inline(src: str) -> str:
    return _LOCAL.sub(lambda m: f"l{m.group(1)}", src)


_RMW_NEW = {  # (new memory value, result) as Python source over `old`, `x0`, `x1`
    "add": (f"(old + x0) & {MASK}", "old"),
    "sub": (f"(old - x0) & {MASK}", "old"),
    "or": ("old | x0", "old"),
    "and": ("old & x0", "old"),
    "xchg": ("x0", "old"),
    "cas": ("(x1 if old == x0 else old)", "(1 if old == x0 else 0)"),
    "read_mb": ("old", "old"),
}


class _EventCompiler:
    """Generates the function of one event (thread ``tid`` at ``pc``) under sc."""

    def __init__(self, mm, tid: int, pc: int, buffered: bool = False) -> None:
        # buffered: the tso step of a thread whose store buffer may be non-empty
        # (loads look in it, plain stores go into it); see TotalStoreOrder.successors.
        self.mm, self.tid, self.pc, self.buffered = mm, tid, pc, buffered
        self.prog = mm.programs[tid]
        self.nloc = self.prog.nlocals
        self.lines: list[str] = []
        self.env: dict = {"_Violation": Violation, "_GhostIndexError": GhostIndexError, **UNDEFINED_GUARDS}

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)
        if len(self.lines) > _MAX_LINES:
            raise _Fallback("too large")

    def const(self, value, hint: str) -> str:
        name = f"_{hint}{len(self.env)}"
        self.env[name] = value
        return name

    def address(self, loc, depth: int, exit_: str) -> None:
        """Set `a` to the location's address; an out-of-range index crashes the thread as the model says."""
        region = loc.region
        if loc.index is None:
            self.emit(depth, f"a = {region.base}")
            return
        self.emit(depth, f"i = {_inline(loc.index.run_src)}")
        crash = self.const(self._crash_fn(region), "crash")
        self.emit(depth, f"if i >= {region.length}:")
        self.emit(depth + 1, f"{crash}(state, out, i)")
        self.emit(depth + 1, exit_)
        self.emit(depth, f"a = {region.base} + i")

    def _crash_fn(self, region):
        mm, tid, pc, prog = self.mm, self.tid, self.pc, self.prog

        def crash(state, out, i):
            mm._crash(state, tid, prog, pc, mm.violation_for_range(tid, OutOfRange(region, i)), out)
        return crash

    def build(self):
        ins = self.prog.instrs[self.pc]
        op = ins.op
        tid, pc = self.tid, self.pc
        locals_ = ", ".join(f"l{i}" for i in range(self.nloc))
        self.emit(0, "def step(state, out):")
        self.emit(1, "mem, threads, pending, ghost = state")
        if op == "choose":
            # Each choice starts again from the thread's locals.
            self.emit(1, f"for choice in range({ins.n}):")
            self.emit(2, f"{locals_}, = threads[{tid}]")
            self.emit(2, f"l{ins.dst} = choice")
            self.emit(2, "nmem = mem")
            self.emit(2, "info = (None, choice)")
            self.finish(2, "continue")
        else:
            self.emit(1, f"{locals_}, = threads[{tid}]")
            if self.buffered:
                self.event_buffered(ins, 1)
            else:
                self.event(ins, 1)
            self.finish(1, "return")
        src = "\n".join(self.lines) + "\n"
        code = compile(src, f"<compiled {self.prog.role} thread {tid} pc {pc}>", "exec")
        exec(code, self.env)  # noqa: S102 - generated from the checked IR
        return self.env["step"], src

    def event(self, ins, d: int) -> None:
        op = ins.op
        if op == "load":
            self.address(ins.loc, d, "return")
            self.emit(d, "v = mem[a]")
            self.emit(d, f"l{ins.dst} = v")
            self.emit(d, "nmem = mem")
            self.emit(d, "info = (a, v)")
        elif op == "store":
            self.address(ins.loc, d, "return")
            self.emit(d, f"v = {_inline(ins.value.run_src)}")
            self.emit(d, "nmem = mem[:a] + (v,) + mem[a + 1:]")
            self.emit(d, "info = (a, v)")
        elif op == "rmw":
            self.address(ins.loc, d, "return")
            self.emit(d, "old = mem[a]")
            for k, e in enumerate(ins.args):
                self.emit(d, f"x{k} = {_inline(e.run_src)}")
            new, result = _RMW_NEW[ins.kind]
            self.emit(d, f"new = {new}")
            self.emit(d, "nmem = mem if new == old else mem[:a] + (new,) + mem[a + 1:]")
            self.emit(d, f"l{ins.dst} = {result}")
            if ins.expected_local is not None:
                self.emit(d, f"l{ins.expected_local} = old")
            self.emit(d, "info = (a, new, old)")
        elif op == "acquire":
            self.address(ins.loc, d, "return")
            # Blocked while the lock is held (ir.AwaitFlag: while the flag is clear).
            self.emit(d, "if mem[a] == 0:" if ins.wait_nonzero else "if mem[a] != 0:")
            self.emit(d + 1, "return")
            self.emit(d, f"nmem = mem[:a] + ({ins.taken},) + mem[a + 1:]")
            self.emit(d, f"info = (a, {ins.taken})")
        elif op == "release":
            self.address(ins.loc, d, "return")
            self.emit(d, "nmem = mem[:a] + (0,) + mem[a + 1:]")
            self.emit(d, "info = (a, 0)")
        elif op == "fence":
            self.emit(d, "nmem = mem")
            self.emit(d, "info = None")
        else:  # pragma: no cover - halt has no function
            raise _Fallback(op)

    def event_buffered(self, ins, d: int) -> None:
        """A tso event that does not need an empty buffer (the others have no function here)."""
        op = ins.op
        mm, tid = self.mm, self.tid
        self.emit(d, f"buf = pending[{tid}]")
        if op == "load":
            self.address(ins.loc, d, "return")
            self.emit(d, "v = mem[a]")
            self.emit(d, "for ba, bv in buf:")  # the newest buffered store to a wins
            self.emit(d + 1, "if ba == a:")
            self.emit(d + 2, "v = bv")
            self.emit(d, f"l{ins.dst} = v")
            self.emit(d, "nmem = mem")
            self.emit(d, "info = (a, v)")
        elif op == "store" and ins.prim not in mm.profile.full_stores:
            self.emit(d, f"if len(buf) >= {mm.capacity}:")
            # A full buffer waits for a flush; the model is told, since that
            # leaves out what a larger buffer allows.
            self.emit(d + 1, f"{self.const(mm.note_full_buffer, 'full')}()")
            self.emit(d + 1, "return")
            self.address(ins.loc, d, "return")
            self.emit(d, f"v = {_inline(ins.value.run_src)}")
            self.emit(d, f"pending = pending[:{tid}] + (buf + ((a, v),),) + pending[{tid + 1}:]")
            self.emit(d, "nmem = mem")
            self.emit(d, "info = (a, v)")
        elif op == "fence" and ins.prim not in mm.draining_fences:
            self.emit(d, "nmem = mem")
            self.emit(d, "info = None")
        else:
            raise _NoMove(op)

    def finish(self, d: int, exit_: str) -> None:
        """The step's label, the step count, then the local code up to every next event."""
        mm, tid, pc = self.mm, self.tid, self.pc
        self.emit(d, f"label = ({tid}, 'step', {pc}, info)")
        if mm.bounded[tid] and self.prog.in_op[pc]:
            if not mm.step_bound:
                self.emit(d, "l1 = 1")
            else:
                msg = f"{self.prog.op_name[pc]} took more than {mm.step_bound} steps"
                self.emit(d, "l1 += 1")
                self.emit(d, f"if l1 > {mm.step_bound}:")
                self.emit(d + 1, f"out.append((label, None, ({WAIT_FREEDOM!r}, {msg!r})))")
                self.emit(d + 1, exit_)
        self.local(pc + 1, d, exit_, frozenset(), False)

    def local(self, pc: int, d: int, exit_: str, on_path: frozenset, ghost_copied: bool) -> None:
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
                self.emit(d, f"l{ins.dst} = {_inline(ins.expr.run_src)}")
                pc += 1
            elif op == "branch":
                self.emit(d, f"if {_inline(ins.cond.run_src)}:")
                self.local(pc + 1, d + 1, exit_, on_path, ghost_copied)
                self.emit(d, "else:")
                self.local(ins.target, d + 1, exit_, on_path, ghost_copied)
                return
            elif op == "jump":
                pc = ins.target
            elif op == "ghost":
                if not ghost_copied:
                    self.emit(d, "G = list(ghost)")
                    ghost_copied = True
                fn = self.const(ins.fn, "ghost")
                args = ", ".join(f"l{i}" for i in range(self.nloc))
                self.emit(d, "try:")
                self.emit(d + 1, f"{fn}(G, [{args}])")
                self.emit(d, "except _Violation as exc:")
                self.emit(d + 1, "out.append((label, None, (exc.prop, exc.message)))")
                self.emit(d + 1, exit_)
                self.emit(d, "except ArithmeticError as exc:")
                self.emit(d + 1, f"{self.const(_ghost_failure(ins), 'ghostfail')}(exc)")
                self.emit(d, "except _GhostIndexError as exc:")
                if self.mm.rogue:
                    # Ghost state means nothing once shared memory is corrupted.
                    self.emit(d + 1, "pass")
                else:
                    self.emit(d + 1, f"out.append((label, None, ({MEMORY_SAFETY!r}, "
                                     "'ghost bookkeeping: ' + str(exc))))")
                    self.emit(d + 1, exit_)
                pc += 1
            else:  # operation markers
                pc += 1

    def leaf(self, npc: int, d: int, exit_: str, ghost_copied: bool) -> None:
        dead = set(self.prog.dead_at[npc])
        fields = [str(npc)] + ["0" if i in dead else f"l{i}" for i in range(1, self.nloc)]
        tid = self.tid
        g = "tuple(G)" if ghost_copied else "ghost"
        self.emit(d, f"out.append((label, (nmem, threads[:{tid}] + (({', '.join(fields)},),) + "
                     f"threads[{tid + 1}:], pending, {g}), None))")
        self.emit(d, exit_)


def compile_thread_steps(mm, tid: int, buffered: bool = False) -> tuple[list, int]:
    """One step function per pc of thread ``tid`` (None where it has no move).

    ``buffered``: the tso steps that do not need an empty store buffer.
    """
    prog = mm.programs[tid]
    steps: list = []
    fallbacks = 0
    for pc, ins in enumerate(prog.instrs):
        if not ins.is_event or ins.op == "halt":
            steps.append(None)
            continue
        try:
            fn, src = _EventCompiler(mm, tid, pc, buffered).build()
        except _NoMove:
            fn = None
        except _Fallback:
            fallbacks += 1
            fn = _interpreted(mm, tid, buffered)
        else:
            if "_ub_" in src:
                fn = _guarded(fn, _interpreted(mm, tid, buffered))
        steps.append(fn)
    return steps, fallbacks


def _ghost_failure(ins):
    """Ghost code that fails is a bug in the model, as in checker.memory.base.run_local."""
    def fail(exc):
        raise ModelError(f"{ins.src}: ghost code failed: {exc}") from None
    return fail


def _guarded(fn, interpreted):
    """A step whose code may meet an operation C leaves undefined.

    What follows depends on where it happens (before the event: the thread
    crashes without it; after: the event took effect first) and on the role
    and the rogue; the interpreter knows all of that, so the rare step that
    raises is simply taken again by it.
    """
    def step(state, out):
        n = len(out)
        try:
            fn(state, out)
        except UndefinedBehaviour:
            del out[n:]
            interpreted(state, out)
    return step


def _interpreted(mm, tid, buffered):
    from checker.memory.sc import SequentialConsistency

    if buffered:  # the interpreted tso step, without its flush (the engine adds that)
        def step(state, out):
            moves: list = []
            mm.successors(state, tid, moves)
            out.extend(m for m in moves if m[0][1] != "flush")
    else:
        def step(state, out):
            SequentialConsistency.successors(mm, state, tid, out)
    return step


class CompiledEngine(Engine):
    """An Engine whose sc/tso successors run generated code (see the module docstring)."""

    kind = "compiled"

    def __init__(self, system, mm) -> None:
        super().__init__(system, mm)
        if mm.name not in COMPILED_MODELS:
            raise ValueError(f"no compiled successors for the {mm.name} memory model")
        # Event steps that run the interpreter (local code that loops without
        # an event, say), of all the event steps made.
        self.fallbacks = self.event_steps = 0
        table = []
        for tid in self.program_tids:
            steps, n = compile_thread_steps(mm, tid)
            self.fallbacks += n
            self.event_steps += sum(f is not None for f in steps)
            if mm.name == "tso":
                buffered, n = compile_thread_steps(mm, tid, buffered=True)
                self.fallbacks += n
                self.event_steps += sum(f is not None for f in buffered)
                prog = mm.programs[tid]
                # With an empty buffer a plain store still goes into the buffer.
                empty = [b if ins.op == "store" and ins.prim not in mm.profile.full_stores else s_
                         for ins, s_, b in zip(prog.instrs, steps, buffered)]
                table.append((tid, empty, buffered))
            else:
                table.append((tid, steps))
        self._steps = table
        self._steps_of = {entry[0]: entry for entry in table}
        if mm.name == "tso":
            self.successors = self._tso_successors
            self.thread_successors = self._tso_thread_successors
        else:
            self.successors = self._sc_successors
            self.thread_successors = self._sc_thread_successors

    def _sc_successors(self, state, out) -> None:
        threads = state[1]
        for tid, steps in self._steps:
            step = steps[threads[tid][0]]
            if step is not None:
                step(state, out)
        if self.rogue_tid is not None:
            self.rogue_successors(state, out)

    def _sc_thread_successors(self, state, tid, out) -> None:
        step = self._steps_of[tid][1][state[1][tid][0]]
        if step is not None:
            step(state, out)

    def _tso_successors(self, state, out) -> None:
        for tid, empty, buffered in self._steps:
            self._tso_thread_moves(state, tid, empty, buffered, out)
        if self.rogue_tid is not None:
            self.rogue_successors(state, out)

    def _tso_thread_successors(self, state, tid, out) -> None:
        _, empty, buffered = self._steps_of[tid]
        self._tso_thread_moves(state, tid, empty, buffered, out)

    # Their successors are each thread's thread_successors, then the rogue's.
    successors_by_thread = Engine.successors_by_thread | {_sc_successors, _tso_successors}

    @staticmethod
    def _tso_thread_moves(state, tid, empty, buffered, out) -> None:
        mem, threads, pending, ghost = state
        buf = pending[tid]
        if buf:
            # Flush the oldest buffered store to memory (before the thread's own step, as tso.py does).
            a, v = buf[0]
            out.append(((tid, "flush", None, (a, v)),
                        (mem[:a] + (v,) + mem[a + 1:], threads, pending[:tid] + (buf[1:],) + pending[tid + 1:],
                         ghost), None))
            step = buffered[threads[tid][0]]
        else:
            step = empty[threads[tid][0]]
        if step is not None:
            step(state, out)
