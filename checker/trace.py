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
    ghost_pc = None
    if cx.final_label is not None:
        before = states[len(labels)]
        step = _step(engine, len(steps) + 1, cx.final_label, before, None, cells, gcells)
        step["violates"] = cx.prop
        steps.append(step)
        violation_step = len(steps)
        if hasattr(mm, "violation_site"):
            ghost_pc = mm.violation_site(cx.final_label, before)
    init = states[0]
    doc = {
        "schema": SCHEMA,
        "version": VERSION,
        "protocol": system.protocol.name,
        **({"model_file": type(system.protocol).model_file} if type(system.protocol).model_file else {}),
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
    if ghost_pc is not None:
        _name_the_violating_event(doc, system, ghost_pc)
    mm_options = getattr(engine, "mm_options", None)
    if mm_options:
        doc["memory_model_options"] = dict(mm_options)
    fence_edit = getattr(engine, "fence_edit", None)
    if fence_edit:
        # Barriers removed/weakened/inserted by `checker fences`: the trace is
        # of the edited program, and readers rebuild that one.
        doc["fence_edit"] = fence_edit.as_json()
    return doc


def _name_the_violating_event(doc: dict[str, Any], system, ghost_pc: int) -> None:
    """Record which step performed the event whose value the failing check read.

    Under weak a check (ghost code) runs only once every value it reads is
    known, which can be many steps after the event that read the offending
    value was performed (a load performed early, before the barrier it should
    have waited for).  The check follows that event in program order: it is
    the last event of the thread, among those fetched by the violation, that
    comes before the check's pc.  ``violation_event_step`` is the step that
    performed it, when that is not the violating step itself.
    """
    vs = doc["violation_step"]
    step = doc["steps"][vs - 1]
    tid = step["thread"]
    prog = system.threads[tid].program
    step["checked_by"] = prog.instrs[ghost_pc].src.as_dict()
    events = [e for e in doc["threads"][tid]["events"] if e["step"] <= vs]
    for e in reversed(events):
        if e.get("pc", ghost_pc) < ghost_pc:
            at = e.get("performed_at", e["step"])
            if at != vs:
                doc["violation_event_step"] = at
            return


def fence_edit_of(doc: dict[str, Any]):
    """The trace's ``fence_edit`` as a ``checker.fences.FenceEdit`` (None if it has none)."""
    if "fence_edit" not in doc:
        return None
    from checker.fences import FenceEdit
    from checker.ir import ModelError

    try:
        return FenceEdit.from_json(doc["fence_edit"])
    except ModelError as exc:
        raise TraceError(str(exc)) from None


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
    out: dict[str, Any] = {}
    T = state[1][tid]
    # A local no later code reads is reset to 0 in the state (so that states
    # differing only there are one); it has no value: null, which a viewer
    # shows as dead.  Only with nothing pending: under weak an unperformed
    # event in the window may still read or write a local the code after the
    # fetch position no longer mentions.
    pending = state[2][tid] if state[2] is not None else None
    dead = set(prog.dead_at[T[0]]) if not pending and T[0] < len(prog.dead_at) else set()
    for i, name in enumerate(prog.local_names):
        if i < 2 or "$" in name.split(".")[-1]:
            continue
        out[name] = None if i in dead else _jsonable(T[i])
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


def cannot_write(path, exc: OSError) -> str:
    """One line for a failed write (the file is then absent: writes are atomic)."""
    what = exc.strerror or str(exc)
    culprit = exc.filename
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and culprit and not Path(culprit).is_dir():
        return f"cannot write {path}: {culprit} is not a directory"
    # Name the culprit only when it is not the file itself or its temporary twin.
    if culprit and str(culprit) != str(path) and not Path(culprit).name.startswith(f".{Path(path).name}."):
        what = f"{culprit}: {what}"
    return f"cannot write {path}: {what}"


def read_json(path) -> Any:
    """A trace file's JSON, or TraceError with a one-line reason."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TraceError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(f"{path}: not a text file (byte {exc.start} is not UTF-8); "
                         f"a trace is JSON written by `checker explore`") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise TraceError(f"{path}: not valid JSON: nested too deeply") from None


def load_trace(path) -> dict[str, Any]:
    """Read and validate a trace file; raise TraceError with a one-line reason."""
    doc = read_json(path)
    check_trace(doc, str(path))
    return doc


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_word(v) -> bool:
    return _is_int(v) and 0 <= v <= 0xFFFFFFFF


def check_trace(doc: Any, where: str = "trace") -> None:
    """Everything a reader (view, replay) relies on, checked once: TraceError for a trace that cannot exist.

    The version is checked first, so that a trace from an older or newer
    checker gets a message that says so rather than a complaint about some
    missing key.  Whether the steps are moves the model can really make is a
    question for the model (``checker.recheck``), not for the file format.
    """
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise TraceError(f"{where}: not a slotcheck trace (no \"schema\": \"{SCHEMA}\")")
    v = doc.get("version")
    if v != VERSION:
        if _is_int(v) and v < VERSION:
            age = f"an older checker (schema version {v})"
        elif _is_int(v):
            age = f"a newer checker (schema version {v})"
        else:
            age = f"an unknown schema version ({v!r})"
        raise TraceError(f"{where}: written by {age}; this checker reads version {VERSION}: "
                         f"regenerate it with `checker explore`")
    for key in ("protocol", "memory_model", "params", "threads", "steps", "layout", "initial"):
        if key not in doc:
            raise TraceError(f"{where}: trace has no {key!r}")
    if not isinstance(doc["protocol"], str) or not doc["protocol"]:
        raise TraceError(f"{where}: \"protocol\" must be a name")
    if "model_file" in doc and (not isinstance(doc["model_file"], str) or not doc["model_file"].endswith(".py")):
        raise TraceError(f"{where}: \"model_file\" must be the path of a .py model file")
    from checker.memory import PROFILES, memory_models

    models = memory_models()
    if doc["memory_model"] not in models:
        raise TraceError(f"{where}: unknown memory model {doc['memory_model']!r} (known: {', '.join(models)})")
    if doc.get("profile") is not None and doc["profile"] not in PROFILES:
        raise TraceError(f"{where}: unknown profile {doc['profile']!r} (known: {', '.join(PROFILES)})")
    fence_edit_of(doc)
    mm_options = doc.get("memory_model_options", {})
    if not isinstance(mm_options, dict) or not all(_is_int(x) for x in mm_options.values()):
        raise TraceError(f"{where}: \"memory_model_options\" must map option names to integers")

    params = doc["params"]
    if not isinstance(params, dict):
        raise TraceError(f"{where}: \"params\" must be an object")
    for k in ("threads", "slots", "ops"):
        if not _is_int(params.get(k)) or params[k] < 1:
            raise TraceError(f"{where}: params has no integer {k!r} of at least 1")

    threads = doc["threads"]
    if not isinstance(threads, list) or not threads:
        raise TraceError(f"{where}: \"threads\" must be a non-empty list")
    # A model with a worker role has one worker process slot per --slots.
    workers = sum(isinstance(t, dict) and t.get("role") == "worker" for t in threads)
    if workers not in (0, params["slots"]):
        raise TraceError(f"{where}: {workers} worker threads listed, but a model with workers has one per slot "
                         f"and params say {params['slots']} slots")
    expected_threads = params["threads"] + (1 if params.get("rogue") else 0) + workers
    if len(threads) != expected_threads:
        raise TraceError(f"{where}: {len(threads)} threads listed, but params say {expected_threads}")
    for tid, t in enumerate(threads):
        if not isinstance(t, dict) or "role" not in t or "name" not in t:
            raise TraceError(f"{where}: every thread needs a \"name\" and a \"role\"")
        if "tid" in t and t["tid"] != tid:
            raise TraceError(f"{where}: thread {t['name']} is listed as number {tid} but has tid {t['tid']!r}")
        if t["role"] == "rogue":
            continue
        evs = t.get("events")
        if not isinstance(evs, list):
            raise TraceError(f"{where}: thread {t['name']} has no \"events\" list (a trace from an older checker?)")
        for e in evs:
            if not isinstance(e, dict) or not isinstance(e.get("event"), str) or not _is_int(e.get("step")):
                raise TraceError(f"{where}: thread {t['name']} has an event without \"event\" and \"step\"")
            for k in ("value", "old"):
                val = e.get(k)
                if val is not None and not _is_word(val):
                    raise TraceError(f"{where}: thread {t['name']} step {e['step']}: {k} {val!r} "
                                     f"is not a 32-bit value")

    layout = doc["layout"]
    cells = layout.get("cells") if isinstance(layout, dict) else None
    init = doc["initial"]
    mem = init.get("memory") if isinstance(init, dict) else None
    if not isinstance(cells, list) or not isinstance(mem, list) or len(cells) != len(mem):
        raise TraceError(f"{where}: layout.cells and initial.memory must be lists of the same length "
                         f"(\"initial\" memory does not match the layout)")
    if not all(_is_word(x) for x in mem):
        raise TraceError(f"{where}: initial memory holds a value that is not a 32-bit word")

    steps = doc["steps"]
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise TraceError(f"{where}: \"steps\" must be a list of objects")
    for k, s in enumerate(steps, 1):
        if s.get("index", k) != k:
            raise TraceError(f"{where}: step {k} is numbered {s.get('index')!r}")
        t = s.get("thread")
        if not _is_int(t) or not 0 <= t < len(threads):
            raise TraceError(f"{where}: step {k} is taken by thread {t!r}, but the trace has threads "
                             f"0-{len(threads) - 1}")
        if "name" not in s:
            raise TraceError(f"{where}: step {k} has no \"name\"")
        m = s.get("memory")
        if m is not None and (not isinstance(m, list) or len(m) != len(cells) or not all(_is_word(x) for x in m)):
            raise TraceError(f"{where}: step {k}: \"memory\" must be {len(cells)} 32-bit words")

    prop = doc.get("property")
    if prop is not None and not isinstance(prop, str):
        raise TraceError(f"{where}: \"property\" must be a name or null")
    vs = doc.get("violation_step")
    if prop is not None and vs is None:
        raise TraceError(f"{where}: the trace names a violated property but no \"violation_step\"")
    if vs is not None and (not _is_int(vs) or not 0 <= vs <= len(steps)):
        raise TraceError(f"{where}: violation_step {vs!r} is not a step of this trace (it has {len(steps)})")
    ves = doc.get("violation_event_step")
    if ves is not None and (vs is None or not _is_int(ves) or not 1 <= ves <= vs):
        raise TraceError(f"{where}: violation_event_step {ves!r} is not a step up to the violation")
    cyc = doc.get("cycle_start")
    if cyc is not None and (not _is_int(cyc) or not 1 <= cyc <= len(steps)):
        raise TraceError(f"{where}: cycle_start {cyc!r} is not a step of this trace (it has {len(steps)})")


def default_trace_name(protocol: str, prop: str, mutation: str | None) -> str:
    slug = prop.replace(" ", "-")
    mut = f"-{mutation.replace(',', '+')}" if mutation else ""  # a,b -> a+b: no comma in file names
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


def model_reference(doc: dict[str, Any]) -> str:
    """What ``resolve_protocol`` needs for a trace: the model file it came from, else the protocol's name."""
    return doc.get("model_file") or doc["protocol"]


def params_of(doc: dict[str, Any]):
    """The run's ``Params`` as the trace recorded them (TypeError/ValueError if they cannot be)."""
    from checker.model import Params

    p = dict(doc["params"])
    known = {k: p.pop(k) for k in ("threads", "slots", "ops", "rogue", "step_bound", "rogue_anywhere") if k in p}
    writes = p.pop("rogue_writes", 2)
    return Params(**known, rogue_writes=None if writes == "unlimited" else writes, extra=p)
