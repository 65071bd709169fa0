"""Fingerprinted breadth-first search (``--fingerprint``, issue 13).

As TLC does, the visited set holds a 64-bit fingerprint of each state instead
of the state: two distinct states with the same fingerprint are taken for one,
and the search would then miss whatever only the second one leads to.  The
summary reports the probability of that, and every verdict of a fingerprinted
run says it is fingerprinted.

Storage per state: its fingerprint (8 bytes, in discovery order), a slot of an
open-addressing table of indices into those (4 bytes, at most 3/4 full), its
parent's index (4 bytes), plus its share of the interned components
(:class:`checker.search.PackedStates`).  Only the frontier keeps whole states
(packed keys in a queue), and only until they are expanded.  Depth is tracked
per BFS level, not per state.

A counterexample is rebuilt from its chain of parent indices: starting from the
initial state, each step expands the current state again and takes the first
move whose next state has the recorded fingerprint -- the move the search took.

The fingerprint is CPython's hash of the packed key's bytes: SipHash, a keyed
64-bit pseudo-random function, so the usual birthday bound applies.  The key
is randomised per process (PYTHONHASHSEED), so two runs fingerprint
differently; a collision in one is independent of another.

The cycle analysis (deadlock cycles, wait-freedom lassos) needs every state
again after the search and is not run: the verdicts say so.
"""

from __future__ import annotations

import gc
import time
from array import array
from collections import deque

from checker.model import DEADLOCK, ModelError
from checker.search import PackedStates

_FP_MASK = (1 << 64) - 1


def collision_probability(n: int) -> float:
    """An upper bound on the chance that two of ``n`` distinct states share a fingerprint.

    The union bound over the n(n-1)/2 pairs of a uniformly distributed 64-bit
    fingerprint: n(n-1)/2^65 (TLC's "optimistic" estimate).
    """
    return min(1.0, n * (n - 1) / 2.0 ** 65)


def explore_fingerprinted(engine, opts, res) -> None:
    from checker.explore import Counterexample, _stuck_message, _Stop, first_violation_stop, interruption, out_of_memory

    if engine.lasso_only:
        raise ModelError("--fingerprint cannot check wait-freedom by lasso search (--step-bound 0): "
                         "the cycle analysis needs the full states")
    system = engine.system
    t0 = time.perf_counter()
    packer = PackedStates(engine.nthreads)
    pack, unpack = packer.pack, packer.unpack
    nbytes = 4 * (3 + engine.nthreads)

    def fingerprint(k: int) -> int:
        fp = hash(k.to_bytes(nbytes, "little")) & _FP_MASK
        return fp or 1

    init = engine.initial()
    k0 = pack(init)
    fps = array("Q", [fingerprint(k0)])
    parent = array("i", [-1])
    cap = 1 << 16
    mask = cap - 1
    slots = array("i", [-1]) * cap
    slots[fps[0] & mask] = 0
    frontier: deque = deque([k0])

    violations = res.violations
    checked = system.checked
    rogue = system.rogue_tid is not None
    pm_tid = 0
    transitions = 0
    max_states = opts.max_states
    max_d = opts.max_depth
    next_report = t0 + opts.progress_interval
    stop_reason = ""
    cut = False
    depth = 0
    level_end = 1  # the first index of the next BFS level
    pm_tids = [t.tid for t in system.threads if t.role == "postmaster"]
    max_pm_steps = max([init[1][t][1] for t in pm_tids], default=0)

    def rebuild(idx):
        chain = []
        while idx >= 0:
            chain.append(idx)
            idx = parent[idx]
        chain.reverse()
        state = init
        labels, path = [], [init]
        for j in chain[1:]:
            out2: list = []
            engine.successors(state, out2)
            for label, nxt, _viol in out2:
                if nxt is not None and fingerprint(pack(nxt)) == fps[j]:
                    labels.append(label)
                    path.append(nxt)
                    state = nxt
                    break
            else:  # pragma: no cover - would mean the successors are not deterministic
                raise AssertionError("a fingerprinted state is no longer reached from its parent")
        return labels, path

    def record(prop, message, idx, final_label=None):
        if prop in violations or prop not in checked:
            return
        labels, path = rebuild(idx)
        violations[prop] = Counterexample(prop, message, labels, path, final_label)

    v0 = engine.check_state(init)
    if v0:
        record(v0[0], v0[1], 0)

    successors = engine.successors
    check_state = engine.check_state
    out: list = []
    i = 0
    max_depth = 0
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        while frontier:
            if opts.stop_on_first and violations:
                stop_reason = "stopped at the first violation"
                break
            if i == level_end:
                depth += 1
                level_end = len(fps)
            key = frontier.popleft()
            if max_d is not None and depth >= max_d:
                cut = True
                i += 1
                continue
            s = unpack(key)
            out.clear()
            successors(s, out)
            pm_moves = False
            for label, nxt, viol in out:
                tid = label[0]
                if tid == pm_tid:
                    pm_moves = True
                if nxt is None and viol is None:
                    continue  # a discarded speculative move: no state
                transitions += 1
                if viol is not None:
                    res.cut_by.add(viol[0])
                    if viol[0] in checked and viol[0] not in violations:
                        record(viol[0], viol[1], i, final_label=label)
                    continue
                nk = pack(nxt, s, key)
                fp = hash(nk.to_bytes(nbytes, "little")) & _FP_MASK or 1
                h = fp & mask
                while True:
                    j = slots[h]
                    if j < 0 or fps[j] == fp:
                        break
                    h = (h + 1) & mask
                if j >= 0:
                    continue
                n = len(fps)
                if max_states is not None and n >= max_states:
                    cut = True
                    stop_reason = f"state limit {max_states} reached"
                    raise _Stop
                slots[h] = n
                fps.append(fp)
                parent.append(i)
                frontier.append(nk)
                if depth + 1 > max_depth:
                    max_depth = depth + 1
                for t in pm_tids:
                    if nxt[1][t][1] > max_pm_steps:
                        max_pm_steps = nxt[1][t][1]
                v = check_state(nxt)
                if v is not None:
                    record(v[0], v[1], n)
                if 4 * (n + 1) > 3 * cap:
                    cap *= 2
                    mask = cap - 1
                    slots = array("i", [-1]) * cap
                    for j, f in enumerate(fps):
                        h = f & mask
                        while slots[h] >= 0:
                            h = (h + 1) & mask
                        slots[h] = j
            if not out:
                if not all(engine.halted(s, t) for t in engine.program_tids):
                    record(DEADLOCK, _stuck_message(engine, s), i)
            elif rogue and not pm_moves and not engine.halted(s, pm_tid):
                record(DEADLOCK, "the postmaster cannot take its next step", i)
            i += 1
            if opts.progress is not None and i % 512 == 0:
                now = time.perf_counter()
                if now >= next_report:
                    next_report = now + opts.progress_interval
                    opts.progress({"states": len(fps), "transitions": transitions, "queue": len(frontier),
                                   "depth": depth, "elapsed": now - t0})
    except _Stop:
        pass
    except KeyboardInterrupt as exc:
        stop_reason = interruption(exc)
        cut = True
    except MemoryError as exc:
        # The frontier is the largest structure here; drop it for the report.
        frontier.clear()
        out.clear()
        stop_reason = out_of_memory(exc)
        cut = True
    finally:
        gc.unfreeze()
        if gc_was_enabled:
            gc.enable()
    n = len(fps)
    res.states = n
    res.transitions = transitions
    res.max_depth = max_depth
    stop_reason = stop_reason or first_violation_stop(opts, violations)
    res.complete = not frontier and not cut and not stop_reason
    res.reordering_bound = engine.mm.reordering_bound()  # weak's safety cap may have been hit
    if not res.complete and not stop_reason:
        stop_reason = f"depth limit {max_d} reached" if cut else "stopped"
    res.stop_reason = stop_reason
    res.max_postmaster_steps = max_pm_steps
    res.storage = "fingerprint"
    res.collision_probability = collision_probability(n)
    res.reductions = f"fingerprinted: collision probability ≤ {res.collision_probability:.1e}"
    res.bytes_per_state = (fps.itemsize * n + slots.itemsize * cap + parent.itemsize * n
                           + packer.component_bytes()) / max(n, 1)
    res.liveness_checked = False
    res.elapsed = time.perf_counter() - t0
