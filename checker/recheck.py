"""Re-check a trace's claimed violation against the model, instead of believing the file.

A trace says "property P is violated at step N".  ``recheck`` rebuilds the
model the trace names (protocol, mutation, parameters, memory model, profile,
memory-model options), walks the trace's steps from the initial state taking,
at each step, only the model's own moves whose description (the record
``checker.trace`` writes, reduced to thread, event, primitive, location,
value and the shared memory after it) equals the recorded step, and then confirms the claim with the
model's own checks:

- a violating step: one of the model's moves from the reached state is that
  step and violates P;
- a state invariant: ``Engine.check_state`` reports P at the reached state;
- deadlock: no thread can move there (or, with a rogue, the postmaster
  cannot), or the reached state lies in a bottom strongly connected component
  of the state graph in which a live thread never moves;
- a wait-freedom lasso: the steps from ``cycle_start`` lead back to the very
  state they started from, the postmaster moves among them, and it stays
  inside one operation throughout.

Several model states may fit one recorded step (locals and pending
entries are not compared), so the walk keeps every fitting state.  A trace whose steps
the model cannot take, or whose claim the model does not confirm, is a
TraceError: it cannot have come from this checker and this model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from checker.trace import TraceError, _step

# Bounds that keep a damaged or hostile trace from running away; a real
# counterexample fits each by orders of magnitude.
MAX_FITTING_STATES = 20_000
MAX_COMPONENT_STATES = 500_000


@dataclass(frozen=True)
class _Walk:
    """What is known about one fitting state on the way through the trace's cycle."""

    cycle_origin: Any = None  # the state where the claimed cycle starts, once reached
    postmaster_moved: bool = False
    postmaster_inside: bool = True  # the postmaster stayed inside one operation along the cycle


def _rebuild(doc: dict[str, Any]):
    """The engine the trace came from, or (None, reason)."""
    from checker.ir import CompileError
    from checker.model import ModelError
    from checker.run import make_engine
    from checker.trace import fence_edit_of, model_reference, params_of

    try:
        engine = make_engine(model_reference(doc), params_of(doc), doc.get("mutation"), doc["memory_model"],
                             doc.get("profile") or "documented", fence_edit=fence_edit_of(doc),
                             **doc.get("memory_model_options", {}))
    except (ModelError, CompileError, TypeError, ValueError, SyntaxError, ImportError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, reason
    return engine, None


# What a step did, as far as the claim depends on it: who moved, which
# event, where, what value, and the shared memory after it.  Source lines,
# pcs and the memory model's bookkeeping (pending entries, speculative
# locals) are left out, so a trace written before a model file was edited
# above the code it runs, or by an older memory-model implementation, is
# still judged by what it did.
_SEMANTIC_KEYS = ("thread", "action", "event", "prim", "location", "value", "old", "memory", "ghost")


def _normal(d: dict) -> dict:
    """A step record as it reads back from JSON, reduced to what it did."""
    d = json.loads(json.dumps(d))
    return {k: d.get(k) for k in _SEMANTIC_KEYS}


def recheck(doc: dict[str, Any], where: str = "trace") -> str:
    """Confirm ``doc``'s claimed violation with the model; a note saying what was confirmed.

    TraceError when the model cannot take the trace's steps or does not
    violate the claimed property where the trace says.  When the model
    cannot be rebuilt (a model file that moved, say), the note says the
    claim was not re-checked.
    """
    prop = doc.get("property")
    if prop is None:
        return ""
    engine, why_not = _rebuild(doc)
    if engine is None:
        return f"the model could not be rebuilt ({why_not}); the claimed {prop} violation was not re-checked"
    system = engine.system
    if prop not in system.checked:
        raise TraceError(f"{where}: claims a {prop!r} violation, a property this model does not check "
                         f"with these parameters")
    cells = system.cell_names
    gcells = system.ghost_cell_names()
    steps = doc["steps"]
    vstep = doc["violation_step"]
    cycle_start = doc.get("cycle_start")
    pm_program = system.threads[0].program
    init = engine.initial()
    if list(init[0]) != doc["initial"]["memory"]:
        raise TraceError(f"{where}: the initial shared memory is not the model's")
    start = _Walk(cycle_origin=init if cycle_start == 1 else None)
    fitting: dict[Any, _Walk] = {init: start}
    out: list = []
    for k, recorded in enumerate(steps, 1):
        want = _normal(recorded)
        if k == vstep and recorded.get("violates") is not None:
            if recorded["violates"] != prop:
                raise TraceError(f"{where}: step {k} is marked as violating {recorded['violates']!r}, "
                                 f"not the trace's property {prop!r}")
            for s in fitting:
                out.clear()
                engine.successors(s, out)
                for label, nxt, viol in out:
                    if viol is not None and viol[0] == prop \
                            and _normal(_step(engine, k, label, s, None, cells, gcells)) == want:
                        return f"re-checked against the model: step {k} violates {prop} ({viol[1]})"
            raise TraceError(f"{where}: step {k} ({_what(recorded)}) does not violate {prop} in the model")
        nxt_fitting: dict[Any, _Walk] = {}
        for s, walk in fitting.items():
            out.clear()
            engine.successors(s, out)
            for label, nxt, viol in out:
                if nxt is None or viol is not None or nxt in nxt_fitting:
                    continue
                if _normal(_step(engine, k, label, s, nxt, cells, gcells)) != want:
                    continue
                if cycle_start is not None and k >= cycle_start:
                    walk_next = _Walk(walk.cycle_origin, walk.postmaster_moved or label[0] == 0,
                                      walk.postmaster_inside and bool(pm_program.in_op[nxt[1][0][0]]))
                elif cycle_start is not None and k == cycle_start - 1:
                    walk_next = _Walk(cycle_origin=nxt)
                else:
                    walk_next = walk
                nxt_fitting[nxt] = walk_next
        if not nxt_fitting:
            raise TraceError(f"{where}: step {k} ({_what(recorded)}) is not a move the model can make there; "
                             f"the trace does not come from this model")
        if len(nxt_fitting) > MAX_FITTING_STATES:
            raise TraceError(f"{where}: step {k} fits more than {MAX_FITTING_STATES} model states")
        fitting = nxt_fitting
    if vstep != len(steps):
        raise TraceError(f"{where}: violation_step {vstep} is not the last step ({len(steps)}) and "
                         f"step {vstep} is not marked as violating")
    from checker.model import DEADLOCK, WAIT_FREEDOM

    if cycle_start is not None:
        if prop != WAIT_FREEDOM:
            raise TraceError(f"{where}: a cycle is claimed for {prop!r}; only wait-freedom lassos have one")
        for s, walk in fitting.items():
            if walk.cycle_origin == s and walk.postmaster_moved and walk.postmaster_inside:
                return (f"re-checked against the model: steps {cycle_start}-{len(steps)} return to the state "
                        f"they start from, the postmaster inside one operation")
        raise TraceError(f"{where}: steps {cycle_start}-{len(steps)} are not a cycle in which the postmaster "
                         f"keeps moving inside one operation")
    if prop == DEADLOCK:
        for s in fitting:
            found = _deadlock(engine, s)
            if found:
                return f"re-checked against the model: {found}"
        raise TraceError(f"{where}: the model is not deadlocked at the end of the trace")
    for s in fitting:
        v = engine.check_state(s)
        if v is not None and v[0] == prop:
            return f"re-checked against the model: the state after step {len(steps)} violates {prop} ({v[1]})"
    raise TraceError(f"{where}: the state after step {len(steps)} does not violate {prop} in the model")


def _what(step: dict) -> str:
    return f"{step.get('name')}: {step.get('text', step.get('action', '?'))}"


def _deadlock(engine, state) -> str:
    """Why ``state`` is a deadlock in the model ('' if it is not)."""
    out: list = []
    engine.successors(state, out)
    live = [t for t in engine.program_tids if not engine.halted(state, t)]
    if not out:
        return "no thread can move, and not every thread has finished" if live else ""
    rogue = engine.rogue_tid is not None
    if rogue and not engine.halted(state, 0) and not any(label[0] == 0 for label, _, _ in out):
        return "the postmaster cannot take its next step"
    # A bottom component: every state reachable from here leads back here,
    # and some live thread never moves in it.
    reach = {state: 0}
    order = [state]
    preds: list[list[int]] = [[]]
    movers: set[int] = set()
    i = 0
    while i < len(order):
        out.clear()
        engine.successors(order[i], out)
        for label, nxt, viol in out:
            if viol is not None:
                continue  # a violating move leads nowhere (the search records it and goes on)
            # A discarded speculative move counts as moving: a fair run takes
            # it, so the search does not call such a component a deadlock either.
            movers.add(label[0])
            if nxt is None:
                continue
            j = reach.get(nxt)
            if j is None:
                if len(order) >= MAX_COMPONENT_STATES:
                    return ""
                j = reach[nxt] = len(order)
                order.append(nxt)
                preds.append([])
            preds[j].append(i)
        i += 1
    back = {0}
    todo = [0]
    while todo:
        for p in preds[todo.pop()]:
            if p not in back:
                back.add(p)
                todo.append(p)
    if len(back) != len(order):
        return ""
    who = [0] if rogue else engine.program_tids
    starved = [t for t in who if t not in movers and not engine.halted(state, t)]
    if not starved:
        return ""
    names = ", ".join(engine.system.threads[t].name for t in starved)
    return f"from here on {names} never moves again ({len(order)} states reachable, all leading back)"
