"""Concrete, replayable traces for failed robustness proofs.

A symbolic counterexample starts from an unconstrained postmaster state.  To
make it a run of the explicit-state engine we (1) search the postmaster's own
moves (backends idle) from the initial state for the states where it is about
to start the failing operation, (2) execute the operation symbolically again
from each such concrete state, preferring read values from the rogue's
representative set, and (3) drive the engine along the path found: just
before each postmaster read whose value differs from memory, the rogue writes
the value z3 chose.  The result is an ordinary trace (same schema as
``checker explore`` writes); :func:`verify_trace` re-runs a trace step by
step through the engine, so a test can check that it really reproduces the
failure.
"""

from __future__ import annotations

from collections import deque

import z3

from checker.explore import Counterexample, Engine, Result
from checker.ir import STEPS_LOCAL
from checker.memory import PROFILES, memory_models
from checker.model import Params, build_system, resolve_protocol
from checker.prove.symbolic import bv

SOLO_STATES = 20000
PREFIX_WRITES = 2  # rogue writes allowed before the operation starts
CANDIDATES = 40


def _engine(proto_cls, params: Params, mutation, rogue_writes) -> Engine:
    p = Params(threads=params.threads, slots=params.slots, ops=params.ops, rogue=True, rogue_writes=rogue_writes,
               step_bound=params.step_bound, extra=dict(params.extra))
    system = build_system(proto_cls, p, mutation)
    mm = memory_models()["sc"](system, PROFILES["documented"])
    return Engine(system, mm)


def _solo_search(engine: Engine, op: str):
    """BFS over the postmaster's moves and up to PREFIX_WRITES rogue writes (backends idle).

    Returns the indexes of states where the postmaster is about to start
    ``op``, with the search's states, parents and labels.
    """
    prog = engine.system.threads[0].program
    init = engine.initial()
    states, parent, labels, used = [init], [-1], [None], [0]
    seen = {init: 0}
    found = []
    q = deque([0])
    out: list = []
    while q and len(states) < SOLO_STATES and len(found) < CANDIDATES:
        i = q.popleft()
        s = states[i]
        T = s[1][0]
        if prog.in_op[T[0]] and prog.op_name[T[0]] == op and T[STEPS_LOCAL] == 0:
            found.append(i)
            continue
        out.clear()
        engine.mm.successors(s, 0, out)
        if used[i] < PREFIX_WRITES:
            engine.rogue_successors(s, out)
        for label, nxt, viol in out:
            if viol is not None or nxt in seen:
                continue
            seen[nxt] = len(states)
            states.append(nxt)
            parent.append(i)
            labels.append(label)
            used.append(used[i] + (label[1] == "rogue"))
            q.append(len(states) - 1)
    return found, states, parent, labels


def _prefix(states, parent, labels, i):
    path, labs = [], []
    while i >= 0:
        path.append(states[i])
        if labels[i] is not None:
            labs.append(labels[i])
        i = parent[i]
    return labs[::-1], path[::-1]


def _concrete_failure(engine: Engine, state, failure, executor_cls):
    """Re-run the failing operation symbolically from a concrete postmaster state."""
    system = engine.system
    prog = system.threads[0].program
    lengths = {n: bv(r.length or 1) for n, r in system.shared.items()}
    ex = executor_cls(prog, lengths, {}, [], system.params.step_bound, constrain_choose=True)
    rogue = system.rogue_values
    ex.extra_for_model = [lambda p: z3.And(*[z3.Or(*[r.var == v for v in rogue]) for r in p.reads])]
    T = state[1][0]
    L = [bv(v) for v in T]
    L[STEPS_LOCAL] = bv(0)
    res = ex.run_op(failure.op, T[0], L)
    f = res.failure
    if f is None or f.prop != failure.prop:
        return None
    return f


def _drive(engine: Engine, labels, path, f):
    """Follow the failing path in the engine, with rogue writes before reads."""
    mm = engine.mm
    system = engine.system
    rt = system.rogue_tid
    prog = system.threads[0].program
    reads = deque(r["value"] for r in f.values)
    choices = deque(f.choices)
    labels, path = list(labels), list(path)
    writes = 0
    out: list = []
    for _ in range(10000):
        s = path[-1]
        mem, threads, pending, ghost = s
        T = threads[0]
        ins = prog.instrs[T[0]]
        if ins.op in ("load", "rmw") and reads:
            want = reads.popleft()
            try:
                a = ins.loc.address(list(T))
            except Exception:
                a = None
            if a is not None and mem[a] != want:
                nxt = (mem[:a] + (want,) + mem[a + 1:], threads, pending, ghost)
                labels.append((rt, "rogue", None, (a, want)))
                path.append(nxt)
                writes += 1
                s = nxt
        out.clear()
        mm.successors(s, 0, out)
        if not out:
            return None
        pick = out[0]
        if ins.op == "choose":
            c = choices.popleft() if choices else 0
            pick = next((o for o in out if o[0][3][1] == c), out[0])
        label, nxt, viol = pick
        if viol is not None:
            return labels, path, label, viol, writes
        labels.append(label)
        path.append(nxt)
    return None


def _with_budget(path, labels, rt, total):
    """Rewrite the rogue's remaining-writes counter along a path found with an unlimited rogue."""
    out = []
    left = total
    for k, st in enumerate(path):
        if k > 0 and labels[k - 1][1] == "rogue":
            left -= 1
        mem, threads, pending, ghost = st
        out.append((mem, threads[:rt] + ((left,),) + threads[rt + 1:], pending, ghost))
    return out


def witness_trace(proto_cls, params: Params, mutation, failures, executor_cls):
    """Return (trace document or None, a note saying how it was made or why not).

    ``failures`` are tried in turn (one per failed operation) until one can be
    reached by a run of the engine.  ``executor_cls`` is the symbolic executor
    that found them, passed in rather than imported, so that the prover
    depends on this module and not the other way round.
    """
    from checker.trace import build_trace

    if not isinstance(failures, (list, tuple)):
        failures = [failures]
    engine = _engine(proto_cls, params, mutation, None)
    rt = engine.system.rogue_tid
    notes = []
    for failure in failures:
        found, states, parent, labs = _solo_search(engine, failure.op)
        if not found:
            notes.append(f"the postmaster never starts {failure.op} within {SOLO_STATES} states "
                         f"of its own moves and {PREFIX_WRITES} rogue writes")
            continue
        for i in found:
            f = _concrete_failure(engine, states[i], failure, executor_cls)
            if f is None:
                continue
            labels, path = _prefix(states, parent, labs, i)
            run = _drive(engine, labels, path, f)
            if run is None:
                continue
            labels, path, final, viol, _w = run
            total = sum(1 for lab in labels if lab[1] == "rogue")
            engine2 = _engine(proto_cls, params, mutation, total)
            path = _with_budget(path, labels, rt, total)
            cx = Counterexample(viol[0], viol[1], labels, path, final)
            result = Result(engine2.system, "sc", "documented")
            doc = build_trace(engine2, cx, result)
            doc["found_by"] = {
                "command": "checker prove --robustness",
                "operation": failure.op,
                "reads": [{"location": r["location"], "value": r["value"]} for r in f.values],
                "rogue_values": sorted({lab[3][1] for lab in labels if lab[1] == "rogue"}),
            }
            return doc, (f"the postmaster runs to the start of {failure.op}; a rogue writes each value "
                         f"just before it is read ({total} writes)")
        notes.append(f"no state reached before {failure.op} leads to this failure with slots = {params.slots}")
    return None, "; ".join(notes) + " (the values above come from an unconstrained postmaster state)"


def verify_trace(doc) -> tuple[bool, str]:
    """Re-run a trace through the engine; (True, message) if every step is a step of the engine
    and the last one violates the trace's property."""
    p = doc["params"]
    params = Params(threads=p["threads"], slots=p["slots"], ops=p["ops"], rogue=p["rogue"],
                    rogue_writes=None if p["rogue_writes"] == "unlimited" else p["rogue_writes"],
                    step_bound=p["step_bound"], rogue_anywhere=p.get("rogue_anywhere", False),
                    extra={k: v for k, v in p.items() if k not in Params().as_dict()})
    proto = resolve_protocol(doc["protocol"])
    system = build_system(proto, params, doc["mutation"])
    mm = memory_models()[doc["memory_model"]](system, PROFILES[doc.get("profile", "documented")])
    engine = Engine(system, mm)
    extra = {s["value"] for s in doc["steps"] if s.get("action") == "rogue"}
    engine.rogue_values = tuple(sorted(set(engine.rogue_values) | extra))
    state = engine.initial()
    out: list = []
    for k, step in enumerate(doc["steps"]):
        out.clear()
        engine.successors(state, out)
        match = None
        for label, nxt, viol in out:
            tid, action, pc, info = label
            if tid != step.get("thread") or action != step.get("action") or pc != step.get("pc"):
                continue
            if action == "rogue" and info != (step["address"], step["value"]):
                continue
            if action == "step" and "value" in step and info is not None and info[1] != step["value"]:
                continue
            match = (nxt, viol)
            break
        if match is None:
            return False, f"step {k + 1} is not a step the engine can take"
        nxt, viol = match
        if viol is not None:
            if k != len(doc["steps"]) - 1:
                return False, f"step {k + 1} violates {viol[0]} before the end of the trace"
            if viol[0] != doc["property"]:
                return False, f"the last step violates {viol[0]}, not {doc['property']}"
            return True, f"reproduced: {viol[0]}: {viol[1]}"
        state = nxt
    return False, "the trace ends without a violation"
