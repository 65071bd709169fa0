"""The trace format: one JSON document per counterexample (or sampled execution).

A trace carries everything needed to reproduce the run (protocol, mutation,
memory model, profile, parameters), the memory layout, and every step: which
thread moved, the event that took effect, its source line, the location and
value, the shared words it changed, the thread's locals, and what each thread
still had pending (store-buffer entries, unperformed window entries).  Tools
downstream (viewer, replay) read only this file.

Files are written atomically: a temporary file in the same directory, then a
rename, so a trace is either whole or absent.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = "slotcheck-trace"
VERSION = 1


class TraceError(Exception):
    """A trace file that cannot be used (one-line message)."""


def build_trace(engine, cx, result) -> dict[str, Any]:
    system = engine.system
    mm = engine.mm
    cells = system.cell_names
    gcells = system.ghost_cell_names()
    steps = []
    states = cx.states
    labels = cx.labels
    for k, label in enumerate(labels):
        before, after = states[k], states[k + 1]
        steps.append(_step(engine, k + 1, label, before, after, cells, gcells))
    violation_step = len(steps)
    if cx.final_label is not None:
        before = states[len(labels)]
        step = _step(engine, len(steps) + 1, cx.final_label, before, None, cells, gcells)
        step["violates"] = cx.prop
        steps.append(step)
        violation_step = len(steps)
    init = states[0]
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "protocol": system.protocol.name,
        "mutation": system.mutation,
        "memory_model": result.memory_model,
        "profile": result.profile,
        "params": system.params.as_dict(),
        "property": cx.prop,
        "message": cx.message,
        "violation_step": violation_step,
        "cycle_start": None if cx.cycle_start is None else cx.cycle_start + 1,
        "threads": [{"tid": t.tid, "name": t.name, "role": t.role,
                     "events": (mm.program_events(steps, t.tid) if hasattr(mm, "program_events")
                                else program_events(steps, t.tid))} for t in system.threads],
        "layout": {
            "shared": [{"name": r.name, "base": r.base, "length": r.length, "lock": r.lock}
                       for r in system.shared.values()],
            "ghost": [{"name": r.name, "base": r.base, "length": r.length} for r in system.ghost.values()],
            "cells": cells,
        },
        "initial": {"memory": list(init[0]), "ghost": list(init[3]),
                    "locals": [_locals(system, tid, init) for tid in range(len(system.threads))]},
        "steps": steps,
    }


# Keys a program-order event carries (what replay compares with the C code).
EVENT_KEYS = ("pc", "event", "prim", "location", "address", "value", "old", "source")


def program_events(steps: list[dict[str, Any]], tid: int) -> list[dict[str, Any]]:
    """The events thread ``tid`` executed, in its program order.

    A step that executes one IR event of a thread in program order carries
    ``"program_order": true`` (under sc every step of a program does; under
    tso a store enters the buffer in program order and is flushed later; under
    weak an instruction is fetched in order and performed later, and the
    memory model marks the step at which its value became known).  Each entry
    gives the step index, the pc, the event kind, the primitive, the location
    and the value stored or read (for an RMW the new value and ``old``).
    """
    events = []
    for s in steps:
        if s.get("thread") != tid or not s.get("program_order"):
            continue
        ev = {"step": s["index"]}
        for k in EVENT_KEYS:
            if k in s:
                ev[k] = s[k]
        events.append(ev)
    return events


def _locals(system, tid, state) -> dict[str, Any]:
    prog = system.threads[tid].program
    if prog is None:
        left = state[1][tid][0]
        return {"writes_left": "unlimited" if left < 0 else left}
    out = {}
    T = state[1][tid]
    for i, name in enumerate(prog.local_names):
        if i < 2 or "$" in name.split(".")[-1]:
            continue
        out[name] = _jsonable(T[i])
    return out


def _jsonable(v):
    if isinstance(v, int):
        return v
    return repr(v)


def _step(engine, index, label, before, after, cells, gcells) -> dict[str, Any]:
    mm = engine.mm
    d = mm.describe(label, before, after)
    d["index"] = index
    tid = label[0]
    if after is not None:
        changes = {cells[a]: v for a, (u, v) in enumerate(zip(before[0], after[0])) if u != v}
        d["memory_changes"] = changes
        d["memory"] = list(after[0])
        gchanges = {gcells[a]: v for a, (u, v) in enumerate(zip(before[3], after[3])) if u != v}
        if gchanges:
            d["ghost_changes"] = gchanges
        d["ghost"] = list(after[3])
        d["locals"] = _locals(engine.system, tid, after)
        d["pending"] = {str(t): mm.pending_events(after, t) for t in range(len(engine.system.threads))}
    return d


def write_json_atomic(path: Path, doc: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_json(path) -> Any:
    """A trace file's JSON, or TraceError with a one-line reason."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def load_trace(path) -> dict[str, Any]:
    """Read and validate a trace file; raise TraceError with a one-line reason."""
    doc = read_json(path)
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise TraceError(f"{path}: not a slotcheck trace (no \"schema\": \"{SCHEMA}\")")
    v = doc.get("version")
    if v != VERSION:
        raise TraceError(f"{path}: trace schema version {v!r}, this checker reads version {VERSION}")
    for key in ("protocol", "memory_model", "params", "threads", "steps", "layout", "initial"):
        if key not in doc:
            raise TraceError(f"{path}: trace has no {key!r}")
    if not isinstance(doc["steps"], list) or not all(isinstance(s, dict) for s in doc["steps"]):
        raise TraceError(f"{path}: \"steps\" must be a list of objects")
    return doc


def default_trace_name(protocol: str, prop: str, mutation: str | None) -> str:
    slug = prop.replace(" ", "-")
    mut = f"-{mutation}" if mutation else ""
    return f"{protocol}{mut}-{slug}.trace.json"


def format_steps(trace: dict[str, Any], limit: int | None = None) -> list[str]:
    """A numbered step list (thread, role, source line, event, location, value)."""
    lines = []
    steps = trace["steps"]
    cyc = trace.get("cycle_start")
    for s in steps[:limit] if limit else steps:
        where = ""
        src = s.get("source")
        if src:
            where = f"{Path(src['file']).name}:{src['line']}"
        what = s.get("text", s.get("action", ""))
        loc = s.get("location")
        val = s.get("value")
        extra = ""
        if loc is not None:
            extra = f"  {loc} = {val}" if s.get("event") in ("store", "rmw", "acquire", "release", None) \
                else f"  {loc} -> {val}"
        elif val is not None:
            extra = f"  -> {val}"
        mark = "  <-- cycle starts" if cyc and s["index"] == cyc else ""
        viol = f"  !! {s['violates']}" if s.get("violates") else ""
        lines.append(f"{s['index']:4}. {s['name']:<11} {where:<14} {what}{extra}{viol}{mark}")
    if cyc and steps and not limit:
        lines.append(f"      ... steps {cyc} to {steps[-1]['index']} repeat forever")
    return lines
