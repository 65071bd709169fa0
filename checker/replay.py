"""Replay a trace against the C reference implementation (refimpl/c), event by event.

The trace build of the C code (``refimpl.build.load(protocol, "trace",
mutation)``) calls one hook for every load, store, read-modify-write, barrier,
lock operation and workload choice.  Replay runs the model's threads in C one
at a time, each from its own program-order event list
(``trace["threads"][i]["events"]``): at every hook call it checks that the C
event is the one the model's thread performs next — same kind, same
primitive (so the same barrier), same location as region and index, same
value stored — and answers a load with the value the model's load read.
Given those values each C thread is deterministic, so running the threads one
after another replays any interleaving, and any memory model's execution,
since only per-thread program order and the values read matter.

A thread stops when its recorded events run out (a counterexample ends at the
violation; the C thread would go on): the hook tells the C shim to abandon the
thread, which is not a divergence.  Before that, the C thread's first event
past the end is checked against the model's: the harness runs the model's own
IR for the thread on the same read values (``_ModelThread``), so a divergence
decided by local code after the last recorded event (a range check) still
shows, and a C thread must return exactly when the model's thread halted.
Without the model (it cannot be rebuilt) a trace marked ``"complete": true``
still requires every C thread to return at its end.

At the end the C side's shared memory (its initialisation, then its writes
and the rogue's in the order the trace made them visible: sc steps, tso
flushes, weak performs) is compared with the trace's final memory.

``sample_executions`` produces traces of complete executions of a model (a
seeded random walk over the engine), for conformance tests of correct
protocols.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.ir import rmw_apply
from checker.trace import TraceError, build_trace, check_trace, fence_edit_of, load_trace

# Codes of refimpl/c/pg_shim.h (enum SlotTraceEvent, enum SlotTracePrim).
EVENT_NAMES = {1: "load", 2: "store", 3: "rmw", 4: "fence", 5: "acquire", 6: "release", 7: "choose"}
PRIM_NAMES = {
    1: "pg_atomic_read_u32", 2: "pg_atomic_write_u32", 3: "pg_atomic_compare_exchange_u32",
    4: "pg_atomic_fetch_add_u32", 5: "pg_atomic_fetch_sub_u32", 6: "pg_atomic_fetch_or_u32",
    7: "pg_atomic_fetch_and_u32", 8: "pg_atomic_exchange_u32", 9: "pg_atomic_read_membarrier_u32",
    10: "pg_atomic_write_membarrier_u32", 11: "pg_memory_barrier", 12: "pg_read_barrier",
    13: "pg_write_barrier", 14: "LWLockAcquire", 15: "LWLockRelease", 16: "choose", 17: "fork",
}
RMW_KIND = {
    "pg_atomic_compare_exchange_u32": "cas", "pg_atomic_fetch_add_u32": "add",
    "pg_atomic_fetch_sub_u32": "sub", "pg_atomic_fetch_or_u32": "or", "pg_atomic_fetch_and_u32": "and",
    "pg_atomic_exchange_u32": "xchg", "pg_atomic_read_membarrier_u32": "read_mb",
}
WRITES = ("store", "rmw", "acquire", "release")
ROLE_CODE = {"postmaster": 0, "backend": 1, "worker": 2}  # SLOT_ROLE_* in refimpl/c/slot_replay.h
DEFAULT = object()  # "the trace's own mutation"

_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# Reports


@dataclass
class CEvent:
    """What the C code did at one hook call."""

    event: str
    prim: str
    location: str | None
    value: int | None
    file: str
    line: int
    choices: int | None = None  # n of choose(n)
    in_range: bool = True  # the address is a cell of the shared layout
    args: tuple[int, ...] = ()  # operands of a read-modify-write

    def describe(self) -> str:
        if self.event == "choose" and self.value is None:
            return f"choose({self.choices})"
        if self.event == "rmw" and self.value is None:
            return f"{self.prim}({self.location}, {', '.join(_num(a) for a in self.args)})"
        return _describe(self.event, self.prim, self.location, self.value)

    def where(self) -> str:
        return f"{_display(self.file)}:{self.line}  {_source_line(self.file, self.line)}"


@dataclass(frozen=True)
class FencePair:
    """A barrier both sides executed at the same point: the model's source and C's file:line."""

    model_source: dict
    c_file: str
    c_line: int


@dataclass
class Divergence:
    step: int | None
    thread: str
    index: int | None  # which of the thread's events (0-based), if any
    expected: str
    expected_where: str
    actual: str
    actual_where: str
    why: str

    def lines(self) -> list[str]:
        at = f"at step {self.step}" if self.step is not None else "past the end of the trace"
        nth = f" (its event {self.index + 1})" if self.index is not None else ""
        return [
            f"first divergence {at}, thread {self.thread}{nth}: {self.why}",
            f"  model: {self.expected}",
            f"         at {self.expected_where}",
            f"  C:     {self.actual}",
            f"         at {self.actual_where}",
        ]


@dataclass
class ReplayReport:
    trace: str
    protocol: str
    model_mutation: str | None
    c_mutation: str | None
    divergence: Divergence | None = None
    events: int = 0  # events replayed and found equal
    threads: list[str] = field(default_factory=list)  # one line per thread
    notes: list[str] = field(default_factory=list)
    reached_end: bool = False
    # Each barrier event both sides performed: (the model's source, C's file:line), for `checker fences`.
    fence_pairs: list[FencePair] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def _build_name(self) -> str:
        return f"C build {'mutation ' + self.c_mutation if self.c_mutation else 'without mutation'}"

    def summary(self) -> str:
        if self.divergence is not None:
            d = self.divergence
            at = f"at step {d.step}" if d.step is not None else "past the end of the trace"
            return (f"C ({self._build_name()}) diverges {at}, thread {d.thread}: {d.why}; "
                    f"model {d.expected}, C {d.actual}")
        extra = "; ".join(self.notes)
        return (f"C ({self._build_name()}) conforms: {self.events} events of {len(self.threads)} threads "
                f"replayed{'; ' + extra if extra else ''}")

    def lines(self) -> list[str]:
        out = [f"replay of {self.trace}: protocol {self.protocol}, model mutation "
               f"{self.model_mutation or 'none'}, {self._build_name()}"]
        out += [f"  {t}" for t in self.threads]
        if self.divergence is not None:
            out += self.divergence.lines()
        else:
            out.append(self.summary())
        return out


def _describe(event, prim, location, value) -> str:
    if event == "fence":
        return f"{prim}()"
    if event == "choose":
        return f"choose() -> {value}"
    loc = location if location is not None else "<out of range>"
    if event == "load":
        return f"{prim}({loc})" + (f" -> {_num(value)}" if value is not None else "")
    if event in WRITES:
        return f"{prim}({loc}) = {_num(value)}"
    return f"{prim}({loc})"


def _num(v) -> str:
    if v is None:
        return "?"
    return f"{v:#x}" if v >= 0x10000 else str(v)


def _display(file: str) -> str:
    p = Path(file)
    try:
        return str(p.resolve().relative_to(_ROOT))
    except ValueError:
        return file


_lines_cache: dict[str, list[str]] = {}


def _source_line(file: str, line: int) -> str:
    if file not in _lines_cache:
        try:
            _lines_cache[file] = Path(file).read_text().splitlines()
        except OSError:
            _lines_cache[file] = []
    lines = _lines_cache[file]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _site_of(ev: dict):
    """The event's model source position, as ``checker fences`` names barriers."""
    from checker.fences import Site

    src = ev.get("source") or {}
    return Site(src.get("file"), src.get("line"))


def _model_where(ev: dict) -> str:
    src = ev.get("source") or {}
    if not src:
        return "?"
    return f"{src.get('file')}:{src.get('line')}  {str(src.get('text', '')).strip()}"


def _model_describe(ev: dict) -> str:
    return _describe(ev.get("event"), ev.get("prim"), ev.get("location"), ev.get("value"))


# ---------------------------------------------------------------------------
# Trace checks


def _validate(doc: dict, path: str) -> None:
    """A document handed in directly (not read by ``load_trace``) gets the same checks."""
    check_trace(doc, path)


def _rmw_args(prim: str, arg0: int, arg1: int) -> tuple[int, ...]:
    if prim == "pg_atomic_compare_exchange_u32":
        return (arg0, arg1)  # expected, new
    if prim == "pg_atomic_read_membarrier_u32":
        return ()
    return (arg0,)


# ---------------------------------------------------------------------------
# The model's side: each thread's program, run on the trace's read values


class _ModelThread:
    """A model thread's IR, driven by its recorded events, to know its next event.

    A counterexample ends where the model found the violation, and a thread
    may have its next move decided only by local code (a range check, say)
    after its last event.  Running the program on the recorded values tells
    what the model's thread does next, so the C thread's first event past the
    end of the trace is checked too, and a thread that halted must return.
    """

    def __init__(self, system, tid: int) -> None:
        self.system = system
        self.prog = system.threads[tid].program
        L = [0] * self.prog.nlocals
        for idx, v in self.prog.initial_locals.items():
            L[idx] = v
        self.L = L
        self.in_sync = True
        # Barriers a fence edit removed (checker fences), passed since the
        # last event: the C code still executes them.
        self.removed_barriers: list[str] = []
        self.pc = self._run(0)

    def _run(self, pc: int) -> int:
        instrs = self.prog.instrs
        L = self.L
        for _ in range(100_000):
            ins = instrs[pc]
            if ins.is_event:
                return pc
            if ins.op == "assign":
                L[ins.dst] = ins.expr.fn(L)
                pc += 1
            elif ins.op == "branch":
                pc = pc + 1 if ins.cond.fn(L) else ins.target
            elif ins.op == "jump":
                if getattr(ins, "prim", None):
                    self.removed_barriers.append(ins.prim)
                pc = ins.target
            else:  # ghost code (never replayed) and operation markers
                pc += 1
        raise RuntimeError("the model's program loops without an event")

    def apply(self, ev: dict) -> None:
        """Take the recorded event ``ev``; a mismatch of pc puts the thread out of sync."""
        if not self.in_sync:
            return
        ins = self.prog.instrs[self.pc]
        if ev.get("pc") != self.pc or ev.get("event") != ins.op:
            self.in_sync = False
            return
        L = self.L
        op = ins.op
        self.removed_barriers = []
        if op in ("load", "choose"):
            if not isinstance(ev.get("value"), int):
                self.in_sync = False  # not performed yet (weak): the value is unknown
                return
            L[ins.dst] = ev["value"]
        elif op == "rmw":
            old = ev.get("old")
            if not isinstance(old, int):
                self.in_sync = False
                return
            _new, result = rmw_apply(ins.kind, old, tuple(a.fn(L) for a in ins.args))
            L[ins.dst] = result
            if ins.expected_local is not None:
                L[ins.expected_local] = old
        self.pc = self._run(self.pc + 1)

    def next_event(self) -> dict | None:
        """The event the model's thread performs next, as a trace event; None if it halted."""
        from checker.ir import OutOfRange

        ins = self.prog.instrs[self.pc]
        if ins.op == "halt":
            return None
        ev = {"pc": self.pc, "event": ins.op, "prim": getattr(ins, "prim", ins.op),
              "source": ins.src.as_dict()}
        loc = getattr(ins, "loc", None)
        if loc is not None:
            try:
                ev["location"] = self.system.cell_names[loc.address(self.L)]
            except OutOfRange:
                pass
        if ins.op == "store":
            ev["value"] = ins.value.fn(self.L)
        elif ins.op in ("acquire", "release"):
            ev["value"] = ins.taken if ins.op == "acquire" else 0  # ir.AwaitFlag leaves 0
        return ev


def _model_threads(doc: dict) -> tuple[dict[int, _ModelThread], str | None]:
    """The model's threads for the trace's protocol, parameters and mutation, if they can be built."""
    from checker.ir import CompileError
    from checker.model import ModelError, build_system, resolve_protocol
    from checker.fences import apply_edit
    from checker.trace import fence_edit_of, model_reference, params_of

    try:
        system = apply_edit(build_system(resolve_protocol(model_reference(doc)), params_of(doc), doc.get("mutation")),
                            fence_edit_of(doc))
    except (ModelError, CompileError, TypeError, ValueError, SyntaxError, ImportError) as exc:
        # Replay itself needs only the trace; without the model it checks
        # every recorded event but cannot look past the end of a thread.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return {}, f"the model could not be rebuilt ({reason}); threads are not checked past the trace's end"
    return {t.tid: _ModelThread(system, t.tid) for t in system.threads if t.program is not None}, None


# ---------------------------------------------------------------------------
# One thread's replay: the hook


class _ThreadReplay:
    def __init__(self, name: str, events: list[dict], cell_of, complete: bool,
                 model: _ModelThread | None, last_step: int) -> None:
        self.name = name
        self.events = events
        self.cell_of = cell_of
        self.complete = complete
        self.model = model
        self.last_step = last_step
        self.checked_past_end = False
        self.index = 0
        self.divergence: Divergence | None = None
        self.ran_past_end = False
        self.writes: list[tuple[dict, str, int]] = []  # (the trace event, cell, value C wrote)
        self.fences: list[FencePair] = []
        self.skipped_barriers: list[str] = []  # C barriers the trace's fence edit removed
        self.weakened_sites: frozenset = frozenset()  # model barriers (fences.Site) the fence edit replaced
        self.exc: BaseException | None = None

    def error(self, exc: BaseException) -> None:
        self.exc = exc

    def _diverge(self, ev: dict | None, actual: CEvent | None, why: str) -> tuple[bool, int]:
        self.divergence = Divergence(
            step=ev.get("step") if ev else None, thread=self.name, index=self.index if ev else None,
            expected=_model_describe(ev) if ev else "the thread ends here (it halted)",
            expected_where=_model_where(ev) if ev else "end of the model's program",
            actual=actual.describe() if actual else "the C thread returned",
            actual_where=actual.where() if actual else "end of the C thread", why=why)
        return True, 0

    def __call__(self, event, prim, addr, arg0, arg1, file, line):
        kind = EVENT_NAMES.get(event, f"event#{event}")
        pname = PRIM_NAMES.get(prim, f"prim#{prim}")
        location, in_range = self.cell_of(addr) if kind not in ("fence", "choose") else (None, True)
        value = arg0 if kind in ("store", "acquire", "release") else None
        actual = CEvent(kind, pname, location, value, file, line, arg0 if kind == "choose" else None, in_range,
                        _rmw_args(pname, arg0, arg1) if kind == "rmw" else ())
        if kind == "fence" and self.model is not None and self.model.in_sync \
                and pname in self.model.removed_barriers \
                and (self.index >= len(self.events) or self.events[self.index].get("event") != "fence"):
            # The trace is of a program with this barrier removed (checker
            # fences); C still has it: step over it, and say so.
            self.model.removed_barriers.remove(pname)
            self.skipped_barriers.append(f"{pname}() at {_display(file)}:{line}")
            return False, 0
        if self.index >= len(self.events):
            return self._past_end(actual)
        ev = self.events[self.index]
        weakened = kind == "fence" and ev.get("event") == "fence" and self.weakened_sites and \
            _site_of(ev) in self.weakened_sites
        if ev.get("event") != kind or (ev.get("prim") != pname and not weakened):
            return self._diverge(ev, actual, "a different event")
        result = 0
        if kind in ("fence",):
            self.fences.append(FencePair(ev.get("source") or {}, _display(file), line))
        elif kind == "choose":
            chosen = ev.get("value")
            if not isinstance(chosen, int) or chosen >= arg0:
                return self._diverge(ev, actual, f"the model chose {chosen} of {arg0}")
            result = chosen
            actual.value = chosen
        else:
            expected_loc = ev.get("location")
            if expected_loc is None and ev.get("performed") is False:
                # Fetched but not performed when the trace ended (weak): its
                # address and value are not known yet.  A thread goes past an
                # unperformed load only if later events of it were performed
                # (then none of them waited for the value: see below).
                self._consume(ev)
                later = any(e.get("performed", True) is not False and e.get("event") != "fence"
                            for e in self.events[self.index:])
                return kind == "load" and not later, 0
            if expected_loc is None:
                # The model's access was out of range (its thread stops here,
                # at a safety violation or a crash): the C access must be out
                # of range of every region too, and is never performed.
                if in_range:
                    return self._diverge(ev, actual, "the model's access is out of range, C's is not")
                self._consume(ev)
                return True, 0
            if location != expected_loc:
                return self._diverge(ev, actual, "a different location")
            if kind == "load":
                if not isinstance(ev.get("value"), int):
                    # Fetched but not performed when the trace ended (weak).
                    # If later events of this thread were performed, nothing
                    # they did waited for this value (a dependency would have
                    # held them back): go on with a placeholder, so that a
                    # store that overtook this load is still checked.
                    self._consume(ev)
                    later = any(e.get("performed", True) is not False and e.get("event") != "fence"
                                for e in self.events[self.index:])
                    return (not later), 0
                result = ev["value"]
                actual.value = result
            elif kind in ("store", "acquire", "release"):
                if value != ev.get("value"):
                    return self._diverge(ev, actual, "a different value stored")
                self.writes.append((ev, location, value))
            elif kind == "rmw":
                old = ev.get("old")
                if old is None:
                    return self._diverge(ev, actual, "the trace's RMW has no old value")
                new, _ = rmw_apply(RMW_KIND[pname], old, actual.args)
                actual.value = new
                if new != ev.get("value"):
                    return self._diverge(ev, actual, "a different value stored by the read-modify-write")
                self.writes.append((ev, location, new))
                result = old  # C computes its own result (CAS: compares with expected)
        self._consume(ev)
        return False, result

    def _consume(self, ev: dict) -> None:
        self.index += 1
        if self.model is not None:
            self.model.apply(ev)

    def _model_next(self) -> tuple[bool, dict | None]:
        """(known, the model thread's next event) once the recorded events ran out."""
        if self.model is not None and self.model.in_sync:
            return True, self.model.next_event()
        if self.complete:
            return True, None  # every thread of a complete execution halted
        return False, None

    def _past_end(self, actual: CEvent) -> tuple[bool, int]:
        """The C thread wants an event beyond the recorded ones."""
        known, nxt = self._model_next()
        if not known:
            self.ran_past_end = True
            return True, 0
        if nxt is None:
            return self._diverge(None, actual, "the C thread goes on after the model's thread halted")
        why = self._differs(nxt, actual)
        if why:
            d = self._diverge(nxt, actual, f"past the end of the trace (step {self.last_step}), {why}")
            self.divergence.index = None
            self.divergence.step = None
            return d
        self.ran_past_end = True
        self.checked_past_end = True
        return True, 0

    @staticmethod
    def _differs(nxt: dict, actual: CEvent) -> str:
        if nxt["event"] != actual.event or nxt["prim"] != actual.prim:
            return "the model's thread would do a different next event"
        if nxt["event"] in ("fence", "choose"):
            return ""
        if nxt.get("location") is None:
            return "" if actual.location is None or not actual.in_range else \
                "the model's next access is out of range, C's is not"
        if nxt["location"] != actual.location:
            return "the model's thread would access a different location next"
        if nxt["event"] in ("store", "acquire", "release") and nxt.get("value") != actual.value:
            return "the model's thread would store a different value next"
        return ""

    def returned(self) -> None:
        """The C thread returned: the model's thread must have halted too."""
        if self.index < len(self.events):
            self._diverge(self.events[self.index], None, "the C thread returned before the model's thread ended")
            return
        known, nxt = self._model_next()
        if known and nxt is not None:
            self._diverge(nxt, None, f"past the end of the trace (step {self.last_step}), the C thread returned "
                                     f"but the model's thread goes on")
            self.divergence.index = None
            self.divergence.step = None


# ---------------------------------------------------------------------------
# The replay


def replay_file(path, c_mutation=DEFAULT, c_protocol: str | None = None) -> ReplayReport:
    """Replay a trace file against the C trace build; TraceError for a bad file."""
    doc = load_trace(path)
    return replay_trace(doc, c_mutation=c_mutation, name=str(path), c_protocol=c_protocol)


def replay_trace(doc: dict[str, Any], c_mutation=DEFAULT, name: str = "<trace>",
                 c_protocol: str | None = None) -> ReplayReport:
    """``c_protocol``: replay against another protocol's C twin that runs the
    same workload (a trace of a patch as written against its fixed C); its
    default C mutation is then none."""
    from refimpl import build

    from checker.recheck import recheck

    _validate(doc, name)
    # The trace's claim is confirmed by the model before the C code is asked.
    claim = recheck(doc, name)
    proto = doc["protocol"]
    if doc.get("model_file"):
        # The model file registers the protocol (and its C twin) by name.
        from checker.model import resolve_protocol

        resolve_protocol(doc["model_file"])
    model_mut = doc.get("mutation")
    if c_protocol is not None and c_protocol != proto:
        proto = c_protocol
        cmut = None if c_mutation is DEFAULT else c_mutation
    else:
        cmut = model_mut if c_mutation is DEFAULT else c_mutation
    module = build.load(proto, "trace", cmut)
    ffi, lib = module.ffi, module.lib
    spec = build.protocol(proto)
    prefix = spec.prefix
    params = doc["params"]
    nslots = params["slots"]
    report = ReplayReport(name, proto, model_mut, cmut)

    shm_size = getattr(lib, f"{prefix}_shmem_size")(nslots)
    shm = ffi.new("char[]", shm_size)
    getattr(lib, f"{prefix}_shmem_init")(shm, nslots)
    regions = ffi.new("SlotRegion[64]")
    n = getattr(lib, f"{prefix}_regions")(shm, nslots, regions, 64)
    base = int(ffi.cast("uintptr_t", shm))
    spans = []  # (start address, name, length or None)
    for i in range(min(n, 64)):
        r = regions[i]
        spans.append((base + r.offset, ffi.string(r.name).decode(), r.length or None))
    words = ffi.cast("uint32_t *", shm)

    def cell_of(addr: int) -> tuple[str | None, bool]:
        for start, rname, length in spans:
            count = length or 1
            if start <= addr < start + 4 * count and (addr - start) % 4 == 0:
                k = (addr - start) // 4
                return (rname if length is None else f"{rname}[{k}]"), True
        owner = max((s for s in spans if s[0] <= addr and s[2] is not None), default=None, key=lambda s: s[0])
        if owner is not None:
            return f"{owner[1]}[{(addr - owner[0]) // 4}]", False
        return f"<address {addr - base:+#x}>", False

    # Initial shared memory: the C initialisation must produce the model's.
    cells = doc["layout"]["cells"]
    c_cells = {}
    for start, rname, length in spans:
        for k in range(length or 1):
            c_cells[rname if length is None else f"{rname}[{k}]"] = words[(start - base) // 4 + k]
    for cell, v in zip(cells, doc["initial"]["memory"]):
        if cell not in c_cells:
            report.divergence = Divergence(0, "-", None, f"{cell} = {_num(v)}", "the model's layout",
                                           f"no {cell}", f"{prefix}_regions()", "C has no such shared word")
            return report
        if c_cells[cell] != v:
            report.divergence = Divergence(0, "-", None, f"{cell} = {_num(v)}", "the model's initial state",
                                           f"{cell} = {_num(c_cells[cell])}", f"{prefix}_shmem_init()",
                                           "different initial shared memory")
            return report

    complete = bool(doc.get("complete"))
    models, why_not = _model_threads(doc)
    if why_not:
        report.notes.append(why_not)
    last_step = max((s.get("index", 0) for s in doc["steps"] if isinstance(s.get("index"), int)), default=0)
    backends = [t for t in doc["threads"] if t["role"] == "backend"]
    # One worker process slot per bgworker slot, in slot order (checker.model.system).
    workers = [t for t in doc["threads"] if t["role"] == "worker"]
    total = len(backends) * params["ops"]
    try:
        extra = spec.extra_value(params)
    except ValueError as exc:
        raise TraceError(f"{name}: {exc}") from None
    writes: dict[int, list[tuple[dict, str, int]]] = {}
    fence_edit = fence_edit_of(doc)
    weakened_sites = frozenset(site for site, _prim in fence_edit.replace) if fence_edit else frozenset()
    if fence_edit and fence_edit.relax:
        # C has no relaxed atomic: its RMW is the same event with the same
        # values, so replay agrees event by event, but that says nothing about
        # whether C could reorder around it as the trace did.
        report.notes.append(f"the trace's program had the atomic(s) at {', '.join(map(str, fence_edit.relax))} "
                            "relaxed; C's are full atomics, so replay checks the events and values only, "
                            "not that C could reorder around them")
    for t in doc["threads"]:
        role = t["role"]
        if role == "rogue":
            continue
        if role not in ROLE_CODE:
            raise TraceError(f"{name}: thread {t['name']} has role {role!r}, which has no C counterpart")
        events = t["events"]
        me = backends.index(t) + 1 if role == "backend" else workers.index(t) if role == "worker" else 0
        tr = _ThreadReplay(t["name"], events, cell_of, complete, models.get(t.get("tid")), last_step)
        tr.weakened_sites = weakened_sites
        build.set_hook(tr)
        try:
            stopped = getattr(lib, f"{prefix}_replay_thread")(shm, nslots, ROLE_CODE[role], me, params["ops"], total,
                                                              extra)
        finally:
            build.set_hook(None)
        if tr.exc is not None:
            raise tr.exc
        if tr.divergence is None and not stopped:
            tr.returned()
        if tr.divergence is not None:
            report.divergence = tr.divergence
            report.threads.append(f"{t['name']}: diverged after {tr.index} of {len(events)} events")
            return report
        report.events += tr.index
        report.fence_pairs += tr.fences
        if tr.skipped_barriers:
            report.notes.append(f"{t['name']}: C executed {len(tr.skipped_barriers)} barrier(s) the trace's program "
                                f"had removed ({', '.join(dict.fromkeys(tr.skipped_barriers))})")
        if tr.checked_past_end:
            how = "stopped where its events end (its next event is the model's next)"
        elif tr.ran_past_end or stopped:
            how = "stopped where its events end"
        else:
            how = "returned, as the model's thread halted"
        report.threads.append(f"{t['name']}: {tr.index} of {len(events)} events equal, {how}")
        writes[t.get("tid")] = tr.writes

    _check_final_memory(doc, report, writes)
    if report.ok:
        prop = doc.get("property")
        if prop:
            report.notes.append(f"reached step {doc.get('violation_step')}, where the trace claims {prop} is "
                                f"violated; {claim}")
        elif complete:
            report.notes.append("every thread ran to its end")
        report.reached_end = True
    return report


def _visible_steps(doc, writes) -> list[tuple[int, str, int]] | None:
    """Each C write with the step at which the trace made it visible (None: not visible yet).

    Returns None when the memory model's visibility is not known here.
    """
    mm = doc.get("memory_model")
    steps = doc["steps"]
    out = []
    if mm == "sc":
        # A write is visible at its own step.
        for ws in writes.values():
            out += [(ev["step"], cell, value) for ev, cell, value in ws]
        return out
    if mm == "tso":
        # Plain stores enter the thread's FIFO buffer and become visible at
        # that thread's flushes, in order; locked instructions write at once.
        by_index = {s.get("index"): s for s in steps}
        for tid, ws in writes.items():
            flushes = [s["index"] for s in steps if s.get("action") == "flush" and s.get("thread") == tid]
            k = 0
            for ev, cell, value in ws:
                if by_index.get(ev["step"], {}).get("buffered"):
                    if k < len(flushes):
                        out.append((flushes[k], cell, value))
                    k += 1
                else:
                    out.append((ev["step"], cell, value))
        return out
    if mm == "weak":
        # An event records the step at which it was performed.
        for ws in writes.values():
            for ev, cell, value in ws:
                if ev.get("performed") is False:
                    continue
                out.append((ev.get("performed_at", ev["step"]), cell, value))
        return out
    return None


def _check_final_memory(doc, report: ReplayReport, writes) -> None:
    """Compare the C side's final shared memory with the trace's.

    The C writes (and the rogue's) are applied in the order the trace made
    them visible; the result must be the trace's final memory exactly.
    """
    steps = doc["steps"]
    cells = doc["layout"]["cells"]
    index = {c: i for i, c in enumerate(cells)}
    final = None
    final_step = 0
    for s in steps:
        if isinstance(s.get("memory"), list):
            final, final_step = s["memory"], s.get("index", 0)
    if final is None:
        return
    rogue = [(s["index"], s["location"], s["value"]) for s in steps
             if s.get("action") == "rogue" and s.get("location") in index]
    mem = list(doc["initial"]["memory"])
    visible = _visible_steps(doc, writes)
    if visible is not None:
        for step, cell, value in sorted(visible + rogue, key=lambda w: w[0]):
            if step <= final_step:
                mem[index[cell]] = value
        for i, cell in enumerate(cells):
            if mem[i] != final[i]:
                report.divergence = Divergence(
                    final_step, "-", None, f"{cell} = {_num(final[i])}", "the trace's final shared memory",
                    f"{cell} = {_num(mem[i])}", "the C threads' writes in the order the trace made them visible",
                    "different final shared memory")
                return
        report.notes.append("final shared memory equal")
        return
    # A memory model this replay does not know: the final value of each word
    # must be its initial value or one that C (or the rogue) wrote there.
    written: dict[str, set[int]] = {}
    for _step, cell, value in [(0, c, v) for ws in writes.values() for _e, c, v in ws] + rogue:
        written.setdefault(cell, set()).add(value)
    for i, cell in enumerate(cells):
        if final[i] != mem[i] and final[i] not in written.get(cell, set()):
            report.divergence = Divergence(
                final_step, "-", None, f"{cell} = {_num(final[i])}", "the trace's final shared memory",
                f"no C write of {_num(final[i])} to {cell}", "the C threads' writes",
                "a final value C never wrote")
            return
    report.notes.append(f"every final shared value was written by C (memory model {doc.get('memory_model')!r})")


# ---------------------------------------------------------------------------
# Sampled complete executions


@dataclass
class _RunInfo:
    memory_model: str
    profile: str


def sample_executions(protocol: str, *, count: int = 20, seed: int = 0, mutation: str | None = None,
                      memory_model: str = "sc", profile: str = "documented", max_steps: int = 10_000,
                      **params) -> list[dict[str, Any]]:
    """Traces of ``count`` executions chosen by a seeded random walk over the engine.

    Each walk starts at the initial state and takes a uniformly random
    enabled step (never a violating one) until no thread can move or
    ``max_steps`` is reached.  A trace whose every thread halted is marked
    ``"complete": true``.
    """
    from checker.explore import Counterexample
    from checker.model import Params
    from checker.run import make_engine

    extra = params.pop("extra", {})
    engine = make_engine(protocol, Params(**params, extra=dict(extra)), mutation, memory_model, profile)
    rng = random.Random(seed)
    docs = []
    succ: list = []
    for k in range(count):
        state = engine.initial()
        labels, states = [], [state]
        for _ in range(max_steps):
            succ.clear()
            engine.successors(state, succ)
            # A step with neither a state nor a violation is one the memory
            # model pruned (weak: a speculation that cannot be kept).
            moves = [(label, nxt) for label, nxt, viol in succ if viol is None and nxt is not None]
            if not moves:
                break
            label, state = moves[rng.randrange(len(moves))]
            labels.append(label)
            states.append(state)
        cx = Counterexample(None, f"sampled execution {k} (seed {seed})", labels, states)
        doc = build_trace(engine, cx, _RunInfo(memory_model, profile))
        doc["complete"] = all(engine.halted(state, t) for t in engine.program_tids)
        docs.append(doc)
    return docs
