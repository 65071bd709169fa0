"""Symmetry reduction over interchangeable backends (``--symmetry``, issue 13).

Backends are interchangeable when their compiled programs are identical:
same instructions, same expressions, same ghost code, same locals and initial
values.  Then nothing in the system can tell one backend from another, and
permuting the backends' thread states (with their memory-model pending state)
maps every execution onto an execution, violations onto the same violations.
The search keeps one representative per orbit: the state whose backends are
sorted.  A breadth-first search over representatives reaches each orbit at the
depth of its nearest member, so counterexamples keep their length; they are
rebuilt as concrete traces from the initial state (each step: the first move
whose representative is the next one on the path), so they replay as usual.

What this does *not* do yet is rename values derived from a backend's identity
(its number ``ME``, ghost owner values such as ``OWN_BACKEND + ME``,
per-backend arrays).  A protocol whose backends' code mentions their identity
-- every shipped protocol without a rogue, through its ownership ghost code --
is refused with one line (exit 2) rather than reduced unsoundly.  So is a
protocol with a quiescence check (it might look at backends one by one), the
weak memory model (its pending state is not ordered here), and a run whose
wait-freedom rests on the cycle analysis (``--step-bound 0``), which does not
run on representatives.
"""

from __future__ import annotations

from checker.model import CONSERVATION, ModelError, Protocol, System

SYMMETRIC_MODELS = ("sc", "tso")


def _instr_signature(ins) -> tuple:
    parts: list = [ins.op]
    for name in ("dst", "target", "kind", "prim", "expected_local", "n", "begin", "name"):
        if hasattr(ins, name):
            parts.append((name, getattr(ins, name)))
    for name in ("expr", "cond", "value"):
        if hasattr(ins, name):
            parts.append((name, getattr(ins, name).src))
    if hasattr(ins, "args"):
        parts.append(tuple(a.src for a in ins.args))
    if hasattr(ins, "loc"):
        loc = ins.loc
        parts.append((loc.region, loc.index.src if loc.index is not None else None))
    if hasattr(ins, "code"):
        parts.append(ins.code)
    return tuple(parts)


def _first_difference(a, b) -> str:
    for x, y in zip(a.instrs, b.instrs):
        if _instr_signature(x) != _instr_signature(y):
            return f"{x.src.file}:{x.src.line} ({x.src.text})"
    return "their locals or layout"


def backend_tids(system: System, memory_model: str) -> list[int]:
    """The interchangeable backends' thread ids; ModelError (one line) when there are none to reduce."""
    if memory_model not in SYMMETRIC_MODELS:
        raise ModelError(f"--symmetry supports the {' and '.join(SYMMETRIC_MODELS)} memory models, "
                         f"not {memory_model}")
    if system.params.step_bound == 0:
        raise ModelError("--symmetry cannot check wait-freedom by lasso search (--step-bound 0)")
    if CONSERVATION in system.checked and type(system.protocol).check_quiescent is not Protocol.check_quiescent:
        raise ModelError(f"--symmetry: {system.protocol.name}'s quiescence check may tell backends apart; "
                         "run without --symmetry (or with --rogue, where conservation is not checked)")
    tids = [t.tid for t in system.threads if t.role == "backend"]
    if len(tids) < 2:
        raise ModelError("--symmetry needs at least two backends (--threads 3 or more)")
    if tids != list(range(tids[0], tids[0] + len(tids))):  # pragma: no cover - build_system numbers them so
        raise ModelError("--symmetry needs the backends numbered consecutively")
    first = system.threads[tids[0]].program
    sig = [_instr_signature(i) for i in first.instrs]
    for tid in tids[1:]:
        prog = system.threads[tid].program
        same = (prog.local_names == first.local_names and prog.initial_locals == first.initial_locals
                and prog.dead_at == first.dead_at and [_instr_signature(i) for i in prog.instrs] == sig)
        if not same:
            raise ModelError(f"--symmetry: the backends are not interchangeable: their code differs at "
                             f"{_first_difference(first, prog)}, which depends on the backend's identity")
    return tids


def make_canonicaliser(system: System, memory_model: str):
    """``canon(state) -> state``: the representative of the state's orbit (backends sorted)."""
    tids = backend_tids(system, memory_model)
    lo, hi = tids[0], tids[-1] + 1

    def order(pair):
        thread, pend = pair
        return (thread, pend or ())

    def canon(s):
        mem, threads, pending, ghost = s
        prev = threads[lo]
        for b in range(lo + 1, hi):
            cur = threads[b]
            if cur < prev or (cur == prev and (pending[b] or ()) < (pending[b - 1] or ())):
                break
            prev = cur
        else:
            return s  # already sorted: the state is its own representative
        pairs = sorted(zip(threads[lo:hi], pending[lo:hi]), key=order)
        return (mem, threads[:lo] + tuple(p[0] for p in pairs) + threads[hi:],
                pending[:lo] + tuple(p[1] for p in pairs) + pending[hi:], ghost)

    return canon


def concrete_path(engine, canon, representatives, chain):
    """A concrete trace through the orbits ``representatives[j]`` for ``j`` in ``chain``."""
    state = engine.initial()
    labels, path = [], [state]
    for j in chain[1:]:
        target = representatives[j]
        out: list = []
        engine.successors(state, out)
        for label, nxt, _viol in out:
            if nxt is not None and canon(nxt) == target:
                labels.append(label)
                path.append(nxt)
                state = nxt
                break
        else:  # pragma: no cover - would mean the system is not symmetric after all
            raise AssertionError("no move of the concrete state reaches the next orbit")
    return labels, path
