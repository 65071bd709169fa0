"""The counterexample viewer: terminal swimlanes and a self-contained HTML page.

Everything here reads the trace document alone (``checker.trace``), never a
protocol or a memory model, so a trace from any protocol, any memory model,
or another machine renders the same way.  The work that needs the whole
trace at once (the memory at every step, each thread's locals as they evolve,
which store each load read from) is done once in :func:`analyse`; the
terminal and HTML renderers only lay that out.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.trace import TraceError, check_trace, read_json

# Steps a memory model takes on its own behalf: an instruction entering the
# window (weak) or a store leaving the buffer (tso).  They matter for the
# reordering story but crowd out the program's own steps.
INTERNAL_ACTIONS = ("fetch", "flush")

# Events whose value lands in shared memory when the step takes effect.
_WRITING_EVENTS = ("store", "rmw", "acquire", "release", "flush")


# ---------------------------------------------------------------------------
# loading


def load(path) -> dict[str, Any]:
    """Read a trace file; a TraceError (one line) for anything unusable (see ``checker.trace.check_trace``)."""
    doc = read_json(path)
    check(doc, str(path))
    return doc


def check(doc: Any, where: str = "trace") -> None:
    check_trace(doc, where)


# ---------------------------------------------------------------------------
# analysis


@dataclass
class Frame:
    """The state after a step (frame 0: the initial state)."""

    memory: list[int]
    changed: set[int]
    ghost: list[int]
    ghost_changed: set[int]
    locals: list[dict[str, Any]]
    pending: dict[int, list[str]]
    # The violating step of a run stopped by a failed check has no state
    # after it: the frame is then the state the step started from.
    completed: bool = True


@dataclass
class ReadsFrom:
    step: int  # 0: the initial value
    thread: int | None
    forwarded: bool = False  # read from the thread's own not-yet-visible store


@dataclass
class Analysis:
    doc: dict[str, Any]
    cells: list[str]
    ghost_cells: list[str]
    frames: list[Frame]
    reads_from: dict[int, ReadsFrom] = field(default_factory=dict)  # step index -> writer
    internal: set[int] = field(default_factory=set)  # step indexes of memory-model bookkeeping

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.doc["steps"]

    @property
    def threads(self) -> list[dict[str, Any]]:
        return self.doc["threads"]

    @property
    def violation_step(self) -> int | None:
        return self.doc.get("violation_step")

    @property
    def cycle_start(self) -> int | None:
        return self.doc.get("cycle_start")

    @property
    def violation_event_step(self) -> int | None:
        """The step that performed the event the failed check is about, when that is an earlier step."""
        return self.doc.get("violation_event_step")


def ghost_cell_names(doc) -> list[str]:
    regions = doc["layout"].get("ghost") or []
    size = len(doc["initial"].get("ghost") or [])
    names = [f"ghost[{i}]" for i in range(size)]
    for r in regions:
        n = r.get("length")
        for i in range(n or 1):
            if r["base"] + i < size:
                names[r["base"] + i] = f"{r['name']}[{i}]" if n is not None else r["name"]
    return names


def is_internal(step: dict[str, Any]) -> bool:
    if step.get("violates"):
        return False
    # A fetch that already took effect (a choice, a fence) is a real step of the program.
    return step.get("action") in INTERNAL_ACTIONS and step.get("performed") is not True


def _thread_index(doc) -> dict[int, int]:
    return {t["tid"]: i for i, t in enumerate(doc["threads"])}


def analyse(doc: dict[str, Any]) -> Analysis:
    check(doc)
    cells = list(doc["layout"]["cells"])
    addr_of = {c: i for i, c in enumerate(cells)}
    gcells = ghost_cell_names(doc)
    gaddr_of = {c: i for i, c in enumerate(gcells)}
    nthreads = len(doc["threads"])
    tindex = _thread_index(doc)
    init = doc["initial"]
    locals_ = [dict(x) for x in (init.get("locals") or [])]
    locals_ += [{} for _ in range(nthreads - len(locals_))]
    mem = list(init["memory"])
    ghost = list(init.get("ghost") or [])
    frames = [Frame(mem, set(), ghost, set(), locals_, {})]
    an = Analysis(doc, cells, gcells, frames)

    # Where each store of a thread went, known only once performed (weak:
    # the fetch step has no address; the thread's event list has it).
    store_target: dict[tuple[int, int], tuple[int, int, int | None]] = {}
    for t in doc["threads"]:
        for ev in t.get("events") or []:
            if ev.get("event") == "store" and "address" in ev and "step" in ev:
                store_target[(t["tid"], ev["step"])] = (ev["address"], ev.get("value"), ev.get("performed_at"))

    last_write: dict[int, list[tuple[int, int, int | None]]] = {}  # addr -> [(step, value, tid)]
    own_pending: list[tuple[int, int, int, int, int | None]] = []  # (step, tid, addr, value, visible_at)

    for s in doc["steps"]:
        k = s.get("index", len(frames))
        tid = s.get("thread")
        prev = frames[-1]
        if isinstance(s.get("memory"), list) and len(s["memory"]) == len(cells):
            new_mem = list(s["memory"])
        else:
            new_mem = list(prev.memory)
            for name, v in (s.get("memory_changes") or {}).items():
                if name in addr_of:
                    new_mem[addr_of[name]] = v
        changed = {i for i, (a, b) in enumerate(zip(prev.memory, new_mem)) if a != b}
        changed |= {addr_of[n] for n in (s.get("memory_changes") or {}) if n in addr_of}
        if isinstance(s.get("ghost"), list) and len(s["ghost"]) == len(prev.ghost):
            new_ghost = list(s["ghost"])
        else:
            new_ghost = list(prev.ghost)
            for name, v in (s.get("ghost_changes") or {}).items():
                if name in gaddr_of:
                    new_ghost[gaddr_of[name]] = v
        gchanged = {i for i, (a, b) in enumerate(zip(prev.ghost, new_ghost)) if a != b}
        new_locals = [dict(x) for x in prev.locals]
        if tid in tindex and isinstance(s.get("locals"), dict):
            new_locals[tindex[tid]] = dict(s["locals"])
        pending = prev.pending
        if isinstance(s.get("pending"), dict):
            pending = {int(t): list(v) for t, v in s["pending"].items() if str(t).lstrip("-").isdigit()}
        completed = not (s.get("violates") and s.get("memory") is None and s.get("locals") is None)
        frames.append(Frame(new_mem, changed, new_ghost, gchanged, new_locals, pending, completed))
        if is_internal(s):
            an.internal.add(k)

        # reads-from: which earlier write this load returned
        read = _read_of(s)
        if read is not None:
            a, v = read
            an.reads_from[k] = _writer(a, v, tid, k, s, last_write, own_pending, mem_init=init["memory"])

        # record this step's writes for later loads
        wrote = set()
        if s.get("event") in _WRITING_EVENTS and "address" in s and not s.get("buffered") \
                and s.get("performed") is not False and s.get("value") is not None:
            last_write.setdefault(s["address"], []).append((k, s["value"], tid))
            wrote.add(s["address"])
        for name, v in (s.get("memory_changes") or {}).items():
            a = addr_of.get(name)
            if a is not None and a not in wrote:
                last_write.setdefault(a, []).append((k, v, tid))
        if s.get("event") == "store" and tid is not None:
            if s.get("buffered") and "address" in s:
                own_pending.append((k, tid, s["address"], s.get("value"), None))
            elif s.get("performed") is False and (tid, k) in store_target:
                a, v, at = store_target[(tid, k)]
                own_pending.append((k, tid, a, v, at))
    return an


def _read_of(s) -> tuple[int, int] | None:
    """(address, value read) if this step read shared memory, else None."""
    if "address" not in s or s.get("performed") is False:
        return None
    ev = s.get("event")
    if ev == "load" and s.get("value") is not None:
        return s["address"], s["value"]
    if ev == "rmw" and s.get("old") is not None:
        return s["address"], s["old"]
    return None


def _writer(a, v, tid, k, s, last_write, own_pending, mem_init) -> ReadsFrom | None:
    # The thread's own store that is still buffered/unperformed when it reads
    # (store forwarding); tso does not flag it, weak does ("forwarded").
    own = [p for p in own_pending if p[1] == tid and p[2] == a and p[3] == v and p[0] < k
           and (p[4] is None or p[4] >= k)]
    writes = last_write.get(a, [])
    if s.get("forwarded") and own:
        return ReadsFrom(own[-1][0], tid, forwarded=True)
    # Shared memory is single-copy here (every model in checker/memory is
    # multi-copy atomic), so a load that is not forwarded reads the latest write.
    if writes and writes[-1][1] == v:
        return ReadsFrom(writes[-1][0], writes[-1][2])
    if own:
        return ReadsFrom(own[-1][0], tid, forwarded=True)
    for step, val, who in reversed(writes):
        if val == v:
            return ReadsFrom(step, who)
    if a < len(mem_init) and mem_init[a] == v:
        return ReadsFrom(0, None)
    return None


# ---------------------------------------------------------------------------
# formatting shared by both views


def fmt_value(v: Any) -> str:
    """32-bit words as a person reads them: counters near the wrap as 2^32-n."""
    if isinstance(v, bool) or not isinstance(v, int):
        return str(v)
    if 0 <= v < 2**32 and 2**32 - v <= 0xFFFF:
        return f"2^32-{2**32 - v}"
    if v > 0xFFFF:
        return f"{v:#x}"
    return str(v)


def source_ref(s) -> str:
    """Where the step's code is: ``function() file:line`` (helpers are inlined: the line alone does not say which)."""
    return _where(s.get("source"))


def _where(src) -> str:
    if not isinstance(src, dict) or "line" not in src:
        return ""
    fn = f"{src['function']}() " if src.get("function") else ""
    return f"{fn}{Path(str(src.get('file', '?'))).name}:{src['line']}"


def fmt_local(v: Any) -> str:
    """A local's value; null is a local no later code reads (the state holds no value for it)."""
    return "dead" if v is None else fmt_value(v)


def violation_notes(doc, k: int) -> list[str]:
    """What a step's row says about the violation: where it was found, and which event it is about."""
    prop = doc.get("property")
    vs, ves = doc.get("violation_step"), doc.get("violation_event_step")
    if not prop:
        return []
    if k == vs:
        s = doc["steps"][k - 1]
        notes = [f"!! {s.get('violates') or prop}"]
        if ves:
            checked = _where(s.get("checked_by"))
            notes.append(f"found by the check at {checked}, about the value step {ves} read" if checked
                         else f"about the value step {ves} read")
        return notes
    if k == ves:
        return [f"!! {prop}: this event's value fails the check (found at step {vs})"]
    return []


def changes_text(an: Analysis, memory: dict[int, Any], ghost: dict[int, Any]) -> str:
    """The words a row changed; ghost cells (the properties' bookkeeping) after a 'ghost:' mark."""
    text = ", ".join(f"{an.cells[a]}={fmt_value(v)}" for a, v in sorted(memory.items()))
    if ghost:
        gtext = ", ".join(f"{an.ghost_cells[a]}={fmt_value(v)}" for a, v in sorted(ghost.items()))
        text = f"{text}; ghost: {gtext}" if text else f"ghost: {gtext}"
    return text


def event_detail(s) -> str:
    """What the step did to shared memory: `loc -> v` for a read, `loc = v` for a write."""
    loc, val = s.get("location"), s.get("value")
    ev = s.get("event")
    if loc is None:
        if val is not None and ev == "choose":
            return f"chose {fmt_value(val)}"
        if s.get("performed") is False:
            return "(in flight)"
        return ""
    if ev == "load":
        return f"{loc} -> {fmt_value(val)}" + (" (own store)" if s.get("forwarded") else "")
    if ev == "rmw" and "old" in s:
        return f"{loc}: {fmt_value(s['old'])} -> {fmt_value(val)}"
    if s.get("buffered"):
        return f"{loc} = {fmt_value(val)} (buffered)"
    return f"{loc} = {fmt_value(val)}"


_VERBS = {"load": "read", "store": "write", "flush": "flush", "acquire": "LWLockAcquire",
          "release": "LWLockRelease"}


def short_text(s) -> str:
    """One line for a swimlane cell: the access and its value, or the instruction."""
    ev = s.get("event")
    detail = event_detail(s)
    if s.get("action") == "rogue":
        return f"rogue write {detail}"
    if s.get("location") is not None:
        verb = (s.get("process") or _VERBS.get(ev)
                or str(s.get("prim") or ev or "").replace("pg_atomic_", "").replace("_u32", ""))
        pre = "perform " if s.get("action") == "perform" else ""
        return f"{pre}{verb} {detail}"
    text = step_text(s)
    if s.get("action") == "fetch" and not text.startswith("fetch"):
        text = "fetch " + text
    return f"{text} {detail}".rstrip() if detail and detail != "(in flight)" else text


def step_text(s) -> str:
    return str(s.get("text") or s.get("action") or "")


def thread_label(doc, tid) -> str:
    for t in doc["threads"]:
        if t["tid"] == tid:
            return t.get("name", str(tid))
    return str(tid)


def header_line(doc) -> str:
    p = doc.get("params") or {}
    mut = f", mutation {doc['mutation']}" if doc.get("mutation") else ""
    params = ", ".join(f"{k} {v}" for k, v in p.items() if k in ("threads", "slots", "ops"))
    rogue = ", rogue" if p.get("rogue") else ""
    return (f"{doc.get('protocol', '?')}{mut}: memory model {doc.get('memory_model', '?')} "
            f"(profile {doc.get('profile', '?')}), {params}{rogue}")


def verdict_line(doc) -> str:
    prop = doc.get("property")
    if not prop:
        return f"no property violated ({len(doc['steps'])} steps)"
    vs = doc.get("violation_step")
    where = ""
    if vs and 1 <= vs <= len(doc["steps"]):
        s = doc["steps"][vs - 1]
        ref = source_ref(s)
        where = f" at step {vs} ({s.get('name', thread_label(doc, s.get('thread')))}{', ' + ref if ref else ''})"
        ves = doc.get("violation_event_step")
        if ves and 1 <= ves <= len(doc["steps"]):
            e = doc["steps"][ves - 1]
            eref = source_ref(e)
            where += f", about the event of step {ves} ({short_text(e)}{', ' + eref if eref else ''})"
    return f"VIOLATED {prop}{where}: {doc.get('message', '')}"


def cycle_line(doc) -> str | None:
    cs = doc.get("cycle_start")
    if not cs:
        return None
    return f"steps {cs}-{len(doc['steps'])} repeat forever (a lasso: the run loops back to step {cs})"


# ---------------------------------------------------------------------------
# terminal view


def render_terminal(doc, console, *, hide_internal: bool = False) -> None:
    """Swimlanes: one column per thread, one row per step, changed words at the side."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    an = analyse(doc)
    plain = console.no_color or console.color_system is None
    console.print(header_line(doc), markup=False, highlight=False)
    table = Table(box=box.ASCII if plain else box.SIMPLE_HEAD, show_lines=False, expand=False,
                  pad_edge=False, header_style="" if plain else "bold")
    table.add_column("#", justify="right", no_wrap=True)
    tcols = {}
    for i, t in enumerate(an.threads):
        table.add_column(f"{t.get('name', t['tid'])}", overflow="fold", ratio=3)
        tcols[t["tid"]] = i
    any_pending = any(any(v for v in (s.get("pending") or {}).values()) for s in an.steps)
    table.add_column("changed", overflow="fold", ratio=2)
    if any_pending:
        table.add_column("in flight", overflow="fold", ratio=1)
    vs, cs, ves = an.violation_step, an.cycle_start, an.violation_event_step
    carried: dict[int, int] = {}
    gcarried: dict[int, int] = {}
    hidden = 0
    for s in an.steps:
        k = s.get("index")
        frame = an.frames[k] if isinstance(k, int) and k < len(an.frames) else None
        if frame is not None:
            for a in sorted(frame.changed):
                carried[a] = frame.memory[a]
            for a in sorted(frame.ghost_changed):
                gcarried[a] = frame.ghost[a]
        if hide_internal and k in an.internal:
            hidden += 1
            continue
        if cs and k == cs:
            table.add_section()
            marker = [Text(""), Text(f"-- cycle: steps {cs}-{len(an.steps)} repeat forever --",
                                     style="" if plain else "bold magenta")]
            table.add_row(*marker, *[""] * (len(an.threads) - 1 + (2 if any_pending else 1)))
        cells = [""] * len(an.threads)
        lines = [short_text(s)]
        rf = an.reads_from.get(k)
        ref = source_ref(s)
        tail = ref
        if rf is not None:
            tail += (" " if tail else "") + (f"<-#{rf.step}" if rf.step else "<-init")
        if tail:
            lines.append(tail)
        lines += violation_notes(doc, k)
        cell = Text("\n".join(lines))
        col = tcols.get(s.get("thread"))
        if col is not None:
            cells[col] = cell
        changes = changes_text(an, carried, gcarried)
        carried, gcarried = {}, {}
        num = str(k) + ("*" if cs and k >= cs else "")
        if k == vs or k == ves:
            num = "!! " + num  # the highlight that survives without colour
        row = [num, *cells, changes]
        if any_pending:
            pend = (frame.pending if frame else {}) or {}
            row.append(" ".join(f"{_short(doc, t)}:{len(v)}" for t, v in sorted(pend.items()) if v))
        table.add_row(*row, style="bold white on red" if k in (vs, ves) and not plain else None)
    console.print(table)
    if hidden:
        what = "step" if hidden == 1 else "steps"
        console.print(f"({hidden} memory-model {what} ({'/'.join(INTERNAL_ACTIONS)}) hidden; "
                      f"their memory changes are shown on the next row)", markup=False, highlight=False)
    cl = cycle_line(doc)
    if cl:
        console.print(("* " if plain else "") + cl, markup=False, highlight=False,
                      style=None if plain else "magenta")
    console.print(verdict_line(doc), markup=False, highlight=False, style=None if plain else "bold red")


def _short(doc, tid) -> str:
    name = thread_label(doc, tid)
    if name.startswith("postmaster"):
        return "pm"
    if name.startswith("backend"):
        return "b" + name[len("backend"):]
    return name


def render_step(doc, n: int, console) -> None:
    """The whole state after step ``n`` (0: the initial state)."""
    from rich import box
    from rich.table import Table

    an = analyse(doc)
    if not 0 <= n < len(an.frames):
        raise TraceError(f"--step {n}: the trace has steps 1-{len(an.steps)} (0 is the initial state)")
    plain = console.no_color or console.color_system is None
    bx = box.ASCII if plain else box.SIMPLE_HEAD
    fr = an.frames[n]
    console.print(header_line(doc), markup=False, highlight=False)
    if n == 0:
        console.print("state before step 1 (initial)", markup=False, highlight=False)
    else:
        s = an.steps[n - 1]
        what = (f"after step {n}" if fr.completed
                else f"step {n} fails a check and does not complete; the state it started from")
        console.print(f"{what}: {s.get('name', thread_label(doc, s.get('thread')))}  {step_text(s)}  "
                      f"{event_detail(s)}  {source_ref(s)}".rstrip(), markup=False, highlight=False)
        src = s.get("source") or {}
        if src.get("text"):
            console.print(f"    {src['text']}", markup=False, highlight=False)
        for note in violation_notes(doc, n):
            console.print(note, markup=False, highlight=False, style=None if plain else "bold red")
    t = Table(title="shared memory", box=bx, title_justify="left")
    t.add_column("word")
    t.add_column("value", justify="right")
    t.add_column("")
    for a, name in enumerate(an.cells):
        mark = "changed" if a in fr.changed else ""
        t.add_row(name, fmt_value(fr.memory[a]), mark, style=("bold yellow" if mark and not plain else None))
    console.print(t)
    if fr.ghost:
        g = Table(title="ghost state", box=bx, title_justify="left")
        g.add_column("cell")
        g.add_column("value", justify="right")
        g.add_column("")
        for a, name in enumerate(an.ghost_cells):
            mark = "changed" if a in fr.ghost_changed else ""
            g.add_row(name, fmt_value(fr.ghost[a]), mark)
        console.print(g)
    for i, th in enumerate(an.threads):
        loc = fr.locals[i] if i < len(fr.locals) else {}
        pend = fr.pending.get(th["tid"], [])
        console.print(f"{th.get('name', th['tid'])} ({th.get('role', '?')})", markup=False, highlight=False,
                      style=None if plain else "bold")
        if loc:
            console.print("  locals: " + ", ".join(f"{k}={fmt_local(v)}" for k, v in loc.items()),
                          markup=False, highlight=False)
        for p in pend:
            console.print(f"  pending: {p}", markup=False, highlight=False)
    console.print(verdict_line(doc), markup=False, highlight=False, style=None if plain else "bold red")


def render_text(doc, *, width: int = 120, hide_internal: bool = False, step: int | None = None) -> str:
    """The terminal view as plain text (no colour), for tests and pipes."""
    import io

    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, no_color=True,
                      highlight=False, emoji=False)
    if step is None:
        render_terminal(doc, console, hide_internal=hide_internal)
    else:
        render_step(doc, step, console)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


# ---------------------------------------------------------------------------
# HTML view


def view_model(doc) -> dict[str, Any]:
    """Everything the page's script needs, precomputed (the page does no analysis)."""
    an = analyse(doc)
    tindex = _thread_index(doc)
    steps = []
    for s in an.steps:
        k = s.get("index")
        rf = an.reads_from.get(k)
        src = s.get("source") if isinstance(s.get("source"), dict) else None
        steps.append({
            "index": k,
            "col": tindex.get(s.get("thread")),
            "name": s.get("name", thread_label(doc, s.get("thread"))),
            "action": s.get("action"),
            "text": step_text(s),
            "short": short_text(s),
            "detail": event_detail(s),
            "ref": source_ref(s),
            "src": (src or {}).get("text", ""),
            "addr": s.get("address"),
            "internal": k in an.internal,
            "violates": s.get("violates"),
            # the violation's notes: on the violating step, and on the event it is about
            "notes": violation_notes(doc, k),
            "changes": changes_text(an, {a: an.frames[k].memory[a] for a in an.frames[k].changed},
                                    {a: an.frames[k].ghost[a] for a in an.frames[k].ghost_changed}),
            "rf": None if rf is None else {"step": rf.step, "forwarded": rf.forwarded,
                                           "who": "" if rf.thread is None else thread_label(doc, rf.thread)},
        })
    frames = []
    for fr in an.frames:
        frames.append({
            "mem": [fmt_value(v) for v in fr.memory],
            "changed": sorted(fr.changed),
            "ghost": [fmt_value(v) for v in fr.ghost],
            "gchanged": sorted(fr.ghost_changed),
            "locals": [{k: fmt_local(v) for k, v in loc.items()} for loc in fr.locals],
            "completed": fr.completed,
            "pending": [fr.pending.get(t["tid"], []) for t in an.threads],
        })
    return {
        "header": header_line(doc),
        "verdict": verdict_line(doc),
        "property": doc.get("property"),
        "message": doc.get("message"),
        "cycle": cycle_line(doc),
        "cycle_start": an.cycle_start,
        "violation_step": an.violation_step,
        "threads": [{"name": t.get("name", str(t["tid"])), "role": t.get("role", "")} for t in an.threads],
        "cells": an.cells,
        "ghost_cells": an.ghost_cells,
        "steps": steps,
        "frames": frames,
    }


def _embed_json(data) -> str:
    text = json.dumps(data, separators=(",", ":"))
    # Inside <script>: no "</" may close the element, and no URL scheme may
    # appear anywhere in the page (a model's source line could quote one).
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("://", "\\u003a//"))


def html_page(doc) -> str:
    model = view_model(doc)
    title = html.escape(f"{doc.get('protocol', 'trace')}: {doc.get('property') or 'trace'}")
    page = (_PAGE.replace("__TITLE__", title)
            .replace("__CSS__", _CSS)
            .replace("__JS__", _JS)
            .replace("__DATA__", _embed_json(model)))
    return page


def write_html(doc: dict[str, Any], path) -> Path:
    """Write the self-contained HTML view of ``doc`` to ``path`` (atomically)."""
    import os
    import tempfile

    path = Path(path)
    text = html_page(doc)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        # mkstemp makes the file private; a report page is meant to be shared.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>__CSS__</style>
</head>
<body>
<header>
  <div id="title"></div>
  <div id="verdict" role="alert"></div>
  <div id="cycle"></div>
  <div id="controls">
    <button id="prev" title="previous step (left arrow)">&larr;</button>
    <input id="slider" type="range" min="0" value="0" aria-label="step">
    <button id="next" title="next step (right arrow)">&rarr;</button>
    <span id="steplabel"></span>
    <label><input id="hide" type="checkbox"> hide memory-model steps (fetch/flush)</label>
    <label><input id="arrows" type="checkbox" checked> reads-from arrows</label>
  </div>
</header>
<main>
  <section id="lanes-wrap">
    <div id="lanes-inner">
      <table id="lanes"></table>
      <svg id="rf"></svg>
    </div>
  </section>
  <aside id="panel">
    <div id="stepinfo"></div>
    <h3>Shared memory</h3>
    <table id="memory"></table>
    <h3 id="ghost-h">Ghost state</h3>
    <table id="ghost"></table>
    <h3>Threads</h3>
    <div id="threads"></div>
  </aside>
</main>
<script id="trace-data" type="application/json">__DATA__</script>
<script>__JS__</script>
</body>
</html>
"""

_CSS = """
:root { --bg:#fbfbf8; --fg:#1d1d1b; --dim:#8a8a85; --line:#deded8; --cur:#fff3b0; --chg:#ffd54a;
        --bad:#c62828; --badbg:#fde4e4; --cyc:#7b3fa0; --cycbg:#f3eafa; --rf:#1f6fb2; }
* { box-sizing: border-box; }
html, body { height:100%; }
body { margin:0; background:var(--bg); color:var(--fg); display:flex; flex-direction:column;
       font: 13px/1.35 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
header { flex:none; background:var(--bg); border-bottom:1px solid var(--line); padding:8px 12px; }
#title { font-weight:bold; }
#verdict { margin-top:4px; color:var(--bad); font-weight:bold; }
#cycle { color:var(--cyc); font-weight:bold; }
#controls { margin-top:6px; display:flex; gap:10px; align-items:center; flex-wrap:wrap; }
#slider { width:min(40vw, 480px); }
button { font:inherit; padding:1px 10px; }
main { flex:1 1 auto; min-height:0; display:flex; }
#lanes-wrap { flex:1 1 auto; min-width:0; overflow:auto; padding:0 12px 8px 12px; }
#lanes-inner { position:relative; }
#rf { position:absolute; left:0; top:0; pointer-events:none; overflow:visible; }
#lanes { border-collapse:collapse; }
#lanes th { position:sticky; top:0; z-index:2; background:#efefe9; text-align:left; padding:3px 8px;
            border-bottom:1px solid var(--line); }
#lanes td { vertical-align:top; padding:3px 8px; border-bottom:1px solid var(--line); min-width:12em;
            max-width:24em; }
#lanes td.num { min-width:3em; text-align:right; color:var(--dim); cursor:pointer; }
#lanes td.chg { min-width:10em; color:#6b5600; }
#lanes tr.future td { opacity:.38; }
#lanes tr.current td { background:var(--cur); }
#lanes tr.viol td { box-shadow: inset 0 -2px 0 var(--bad); }
#lanes tr.viol td.ev { background:var(--badbg); }
#lanes tr.viol.current td.ev { background:#f8b4b4; }
#lanes tr.cyc td.num { border-left:4px solid var(--cyc); background:var(--cycbg); }
#lanes tr.cycmark td { color:var(--cyc); font-weight:bold; background:var(--cycbg); }
#lanes tr.internal td.ev { color:var(--dim); font-style:italic; }
#lanes tr.hidden { display:none; }
.ev .txt { font-weight:600; }
.ev .det { color:#333; }
.ev .src { color:var(--dim); }
.ev .rfl { color:var(--rf); cursor:pointer; text-decoration:underline dotted; }
.ev .bad { color:var(--bad); font-weight:bold; }
#panel { flex:0 0 430px; overflow:auto; padding:8px 12px; border-left:1px solid var(--line); }
#panel h3 { margin:10px 0 4px; font-size:13px; }
#stepinfo .srcline { background:#f1f1ec; padding:4px 6px; margin-top:4px; white-space:pre-wrap; }
#stepinfo .bad { color:var(--bad); font-weight:bold; margin-top:4px; }
#memory, #ghost { border-collapse:collapse; }
#memory td, #ghost td { padding:1px 8px; border-bottom:1px solid var(--line); }
#memory td.v, #ghost td.v { text-align:right; }
tr.changed td { background:var(--chg); font-weight:bold; }
tr.accessed td:first-child { outline:2px solid var(--rf); }
.thr { margin-bottom:8px; }
.thr .nm { font-weight:bold; }
.thr .moved { color:var(--rf); }
.thr ul { margin:2px 0 0 0; padding-left:18px; }
.thr .pend li { color:#7a3c00; }
.thr .loc { color:#333; }
.none { color:var(--dim); }
"""

_JS = r"""
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("trace-data").textContent);
  const N = D.steps.length;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
  let cur = 0;

  $("title").textContent = D.header;
  $("verdict").textContent = D.verdict;
  $("cycle").textContent = D.cycle || "";
  const slider = $("slider");
  slider.max = String(N);

  // swimlanes
  const lanes = $("lanes");
  let h = "<thead><tr><th>#</th>";
  D.threads.forEach((t) => { h += "<th>" + esc(t.name) + " <span class=none>" + esc(t.role) + "</span></th>"; });
  h += "<th>changed</th></tr></thead><tbody>";
  h += "<tr data-step='0' class='row'><td class=num>0</td><td class=ev colspan='" + D.threads.length +
       "'><span class=none>initial state</span></td><td class=chg></td></tr>";
  D.steps.forEach((s, i) => {
    const k = i + 1;
    if (D.cycle_start && k === D.cycle_start) {
      h += "<tr class='cycmark'><td class=num></td><td colspan='" + (D.threads.length + 1) +
           "'>&#8635; cycle: steps " + k + "&ndash;" + N + " repeat forever</td></tr>";
    }
    const cls = ["row"];
    if (s.internal) cls.push("internal");
    if (s.notes.length) cls.push("viol");
    if (D.cycle_start && k >= D.cycle_start) cls.push("cyc");
    h += "<tr data-step='" + k + "' class='" + cls.join(" ") + "'><td class=num>" + k + "</td>";
    D.threads.forEach((t, c) => {
      if (c !== s.col) { h += "<td class=ev></td>"; return; }
      let cell = "<div class=txt>" + esc(s.short) + "</div>";
      if (s.rf) {
        const what = s.rf.step ? ("read from step " + s.rf.step + " (" + s.rf.who + (s.rf.forwarded ? ", own store" : "") + ")")
                               : "read the initial value";
        cell += "<div class=rfl data-goto='" + s.rf.step + "'>&#8592; " + esc(what) + "</div>";
      }
      if (s.ref || s.src) cell += "<div class=src>" + esc(s.ref) + "&nbsp; " + esc(s.src) + "</div>";
      s.notes.forEach((n, i) => {
        cell += "<div class=bad>" + (i ? "" : "&#9888; ") + (s.violates && !i ? "violates " : "") + esc(n.replace(/^!! /, "")) + "</div>";
      });
      h += "<td class=ev id='cell-" + k + "'>" + cell + "</td>";
    });
    h += "<td class=chg>" + esc(s.changes) + "</td></tr>";
  });
  h += "</tbody>";
  lanes.innerHTML = h;
  const rows = Array.from(lanes.querySelectorAll("tr.row"));

  lanes.addEventListener("click", (e) => {
    const g = e.target.closest("[data-goto]");
    if (g) { go(Number(g.dataset.goto)); return; }
    const tr = e.target.closest("tr.row");
    if (tr) go(Number(tr.dataset.step));
  });

  // reads-from arrows: drawn as SVG markup (the HTML parser puts it in the
  // SVG namespace, so the page never has to name that namespace itself)
  function drawArrows() {
    const svg = $("rf");
    const inner = $("lanes-inner");
    svg.setAttribute("width", inner.scrollWidth);
    svg.setAttribute("height", inner.scrollHeight);
    if (!$("arrows").checked) { svg.innerHTML = ""; return; }
    const base = inner.getBoundingClientRect();
    let out = "<defs><marker id='ah' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' orient='auto-start-reverse'>" +
              "<path d='M0,0 L10,5 L0,10 z' fill='#1f6fb2'/></marker></defs>";
    D.steps.forEach((s, i) => {
      const k = i + 1;
      if (!s.rf || !s.rf.step || k > cur) return;
      const to = $("cell-" + k), from = $("cell-" + s.rf.step);
      if (!to || !from || to.offsetParent === null || from.offsetParent === null) return;
      const a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
      let x1, x2;
      if (Math.abs(a.left - b.left) < 2) { x1 = a.left + 6 - base.left; x2 = b.left + 6 - base.left; }
      else if (a.left < b.left) { x1 = a.right - 4 - base.left; x2 = b.left + 4 - base.left; }
      else { x1 = a.left + 4 - base.left; x2 = b.right - 4 - base.left; }
      const y1 = a.top + 9 - base.top, y2 = b.top + 9 - base.top;
      const bend = Math.abs(a.left - b.left) < 2 ? -40 : 0;
      const mx = (x1 + x2) / 2 + bend;
      const now = k === cur;
      out += "<path d='M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2 +
             "' fill='none' stroke='#1f6fb2' stroke-width='" + (now ? 2.5 : 1) + "' stroke-opacity='" + (now ? 1 : 0.35) +
             "' marker-end='url(#ah)'/>";
    });
    svg.innerHTML = out;
  }

  function visible(k) {
    return k === 0 || !$("hide").checked || !D.steps[k - 1].internal;
  }

  function renderPanel() {
    const fr = D.frames[cur];
    const s = cur ? D.steps[cur - 1] : null;
    let info = "<b>" + (!cur ? "initial state" : fr.completed ? "after step " + cur + " of " + N
                        : "step " + cur + " of " + N + " fails a check and does not complete: the state it started from") + "</b>";
    if (s) {
      info += "<div>" + esc(s.name) + ": " + esc(s.text) + (s.detail ? " &nbsp; " + esc(s.detail) : "") + "</div>";
      if (s.ref || s.src) info += "<div class=srcline>" + esc(s.ref) + (s.src ? "   " + esc(s.src) : "") + "</div>";
      if (s.violates) info += "<div class=bad>&#9888; " + esc(s.violates) + " violated here: " + esc(D.message || "") + "</div>";
      s.notes.slice(s.violates ? 1 : 0).forEach((n) => { info += "<div class=bad>&#9888; " + esc(n.replace(/^!! /, "")) + "</div>"; });
    }
    if (D.cycle_start && cur >= D.cycle_start) info += "<div style='color:#7b3fa0'>&#8635; inside the repeating cycle</div>";
    $("stepinfo").innerHTML = info;
    const chg = new Set(fr.changed);
    let m = "";
    D.cells.forEach((name, a) => {
      const cls = (chg.has(a) ? "changed " : "") + (s && s.addr === a ? "accessed" : "");
      m += "<tr class='" + cls + "'><td>" + esc(name) + "</td><td class=v>" + esc(fr.mem[a]) + "</td></tr>";
    });
    $("memory").innerHTML = m;
    const gchg = new Set(fr.gchanged);
    let g = "";
    D.ghost_cells.forEach((name, a) => {
      g += "<tr class='" + (gchg.has(a) ? "changed" : "") + "'><td>" + esc(name) + "</td><td class=v>" + esc(fr.ghost[a]) + "</td></tr>";
    });
    $("ghost").innerHTML = g;
    $("ghost-h").style.display = D.ghost_cells.length ? "" : "none";
    let t = "";
    D.threads.forEach((th, c) => {
      const moved = s && s.col === c;
      t += "<div class=thr><span class=nm>" + esc(th.name) + "</span> <span class=none>" + esc(th.role) + "</span>" +
           (moved ? " <span class=moved>&#9664; moved</span>" : "");
      const pend = fr.pending[c] || [];
      t += pend.length ? "<ul class=pend>" + pend.map((p) => "<li>" + esc(p) + "</li>").join("") + "</ul>"
                       : "<div class=none>&nbsp; nothing pending</div>";
      const loc = fr.locals[c] || {};
      const keys = Object.keys(loc);
      // a dead local (no later code reads it) has no value: shown greyed as "dead", never as 0
      if (keys.length) t += "<ul class=loc>" + keys.map((k) => (loc[k] === "dead" ? "<li class=none>" : "<li>") +
                                                          esc(k) + " = " + esc(loc[k]) + "</li>").join("") + "</ul>";
      t += "</div>";
    });
    $("threads").innerHTML = t;
  }

  function go(k) {
    cur = Math.max(0, Math.min(N, k));
    slider.value = String(cur);
    $("steplabel").textContent = "step " + cur + " / " + N;
    rows.forEach((tr) => {
      const n = Number(tr.dataset.step);
      tr.classList.toggle("current", n === cur);
      tr.classList.toggle("future", n > cur);
      tr.classList.toggle("hidden", !visible(n));
    });
    renderPanel();
    drawArrows();
    const row = rows[cur];
    if (row && row.scrollIntoView) row.scrollIntoView({block: "nearest"});
  }

  function stepBy(d) {
    let k = cur + d;
    while (k > 0 && k < N && !visible(k)) k += d;
    // at the end of a lasso the run goes round again
    if (d > 0 && cur === N && D.cycle_start) k = D.cycle_start;
    go(k);
  }

  $("prev").addEventListener("click", () => stepBy(-1));
  $("next").addEventListener("click", () => stepBy(1));
  slider.addEventListener("input", () => go(Number(slider.value)));
  $("hide").addEventListener("change", () => go(visible(cur) ? cur : cur + 1));
  $("arrows").addEventListener("change", drawArrows);
  window.addEventListener("resize", drawArrows);
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowRight") { stepBy(1); e.preventDefault(); }
    else if (e.key === "ArrowLeft") { stepBy(-1); e.preventDefault(); }
    else if (e.key === "Home") { go(0); e.preventDefault(); }
    else if (e.key === "End") { go(N); e.preventDefault(); }
  });
  go(0);
})();
"""
