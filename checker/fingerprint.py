"""Fingerprinted breadth-first search (``--fingerprint``, issue 13).

As TLC does, the visited set holds a 64-bit fingerprint of each state instead
of the state: two distinct states with the same fingerprint are taken for one,
and the search would then miss whatever only the second one leads to.  The
summary reports the probability of that, and every verdict of a fingerprinted
run says it is fingerprinted.

What stays in memory is the visited set alone: fingerprints in an
open-addressing table of machine words (linear probing, kept between 72% and
90% full by growing it by a quarter: ~9-11 bytes per state), plus the
interned state components the packed states share
(:class:`checker.search.PackedStates`).  The rest goes to temporary files, as
TLC's does: the breadth-first queue (packed states of fixed width, written
at the tail, read at the head) and the trace file (per state, in discovery
order, its parent's number and its fingerprint: 12 bytes).  Depth is tracked
per BFS level, not per state.

A counterexample is rebuilt from the trace file: the chain of parent numbers,
then, from the initial state, each step expands the current state again and
takes the first move whose next state has the recorded fingerprint -- the
move the search took.

The fingerprint is BLAKE2b (64-bit digest) of the packed state's bytes: a
fixed function, so runs are repeatable, and one whose outputs behave as
uniformly random, so the birthday bound applies.

The cycle analysis (deadlock cycles, wait-freedom lassos) needs every state
again after the search and is not run: the verdicts say so.
"""

from __future__ import annotations

import struct
import tempfile
import time
from array import array
from hashlib import blake2b

from checker.model import DEADLOCK, ModelError
from checker.search import PackedStates, pause_collector, resume_collector

_MAX_LOAD = 0.9
_GROWTH = 1.25
_CHUNK = 1 << 20  # bytes buffered per temporary file
_TRACE = struct.Struct("<iQ")  # parent number, fingerprint


def collision_probability(n: int) -> float:
    """An upper bound on the chance that two of ``n`` distinct states share a fingerprint.

    The union bound over the n(n-1)/2 pairs of a uniformly distributed 64-bit
    fingerprint: n(n-1)/2^65 (TLC's "optimistic" estimate).
    """
    return min(1.0, n * (n - 1) / 2.0 ** 65)


def fingerprint_of(key: int, nbytes: int) -> int:
    """The 64-bit fingerprint of a packed state ``nbytes`` wide (never 0: 0 marks an empty slot).

    The search inlines this expression in its loop.
    """
    return int.from_bytes(blake2b(key.to_bytes(nbytes, "little"), digest_size=8).digest(), "little") or 1


class _DiskQueue:
    """A FIFO of non-negative ints of a fixed byte width, in a temporary file."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.file = tempfile.TemporaryFile(prefix="slotcheck-queue-")
        self.wbuf = bytearray()
        self.woff = 0  # bytes written to the file
        self.roff = 0  # bytes read back from it
        self.rbuf = b""
        self.rpos = 0
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def append(self, k: int) -> None:
        self.wbuf += k.to_bytes(self.width, "little")
        self.count += 1
        if len(self.wbuf) >= _CHUNK:
            self.file.seek(self.woff)
            self.file.write(self.wbuf)
            self.woff += len(self.wbuf)
            self.wbuf.clear()

    def popleft(self) -> int:
        w = self.width
        if self.rpos >= len(self.rbuf):
            if self.roff < self.woff:
                self.file.seek(self.roff)
                self.rbuf = self.file.read(min(_CHUNK, self.woff - self.roff))
                self.roff += len(self.rbuf)
            else:  # everything older has been read: the tail is still in memory
                self.rbuf = bytes(self.wbuf)
                self.wbuf.clear()
            self.rpos = 0
        k = int.from_bytes(self.rbuf[self.rpos:self.rpos + w], "little")
        self.rpos += w
        self.count -= 1
        return k

    def clear(self) -> None:
        self.wbuf.clear()
        self.rbuf = b""
        self.rpos = self.count = 0
        self.roff = self.woff


class _TraceFile:
    """Per state, in discovery order: its parent's number and its fingerprint."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile(prefix="slotcheck-trace-")
        self.buf = bytearray()
        self.flushed = 0  # records in the file

    def append(self, parent: int, fp: int) -> None:
        self.buf += _TRACE.pack(parent, fp)
        if len(self.buf) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        self.file.seek(self.flushed * _TRACE.size)
        self.file.write(self.buf)
        self.flushed += len(self.buf) // _TRACE.size
        self.buf.clear()

    def __getitem__(self, j: int) -> tuple[int, int]:
        self.flush()
        self.file.seek(j * _TRACE.size)
        return _TRACE.unpack(self.file.read(_TRACE.size))


def _grown(table, cap: int):
    """The table rehashed into ``cap`` slots."""
    new = array("Q", [0]) * cap
    for f in table:
        if f:
            h = f % cap
            while new[h]:
                h += 1
                if h == cap:
                    h = 0
            new[h] = f
    return new, cap


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
        return fingerprint_of(k, nbytes)

    init = engine.initial()
    k0 = pack(init)
    fp0 = fingerprint(k0)
    trace = _TraceFile()
    trace.append(-1, fp0)
    cap = 1 << 16
    limit = int(cap * _MAX_LOAD)
    table = array("Q", [0]) * cap
    table[fp0 % cap] = fp0
    n = 1  # states found
    frontier = _DiskQueue(nbytes)
    frontier.append(k0)

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
            p, fp = trace[idx]
            chain.append(fp)
            idx = p
        chain.reverse()
        state = init
        labels, path = [], [init]
        for fp in chain[1:]:
            out2: list = []
            engine.successors(state, out2)
            for label, nxt, _viol in out2:
                if nxt is not None and fingerprint(pack(nxt)) == fp:
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
    gc_was_enabled = pause_collector()
    try:
        while frontier:
            if opts.stop_on_first and violations:
                stop_reason = "stopped at the first violation"
                break
            if i == level_end:
                depth += 1
                level_end = n
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
                fp = int.from_bytes(blake2b(nk.to_bytes(nbytes, "little"), digest_size=8).digest(), "little") or 1
                h = fp % cap
                while True:
                    f = table[h]
                    if f == fp or not f:
                        break
                    h += 1
                    if h == cap:
                        h = 0
                if f:
                    continue
                if max_states is not None and n >= max_states:
                    cut = True
                    stop_reason = f"state limit {max_states} reached"
                    raise _Stop
                table[h] = fp
                trace.append(i, fp)
                frontier.append(nk)
                n += 1
                if depth + 1 > max_depth:
                    max_depth = depth + 1
                for t in pm_tids:
                    if nxt[1][t][1] > max_pm_steps:
                        max_pm_steps = nxt[1][t][1]
                v = check_state(nxt)
                if v is not None:
                    record(v[0], v[1], n - 1)
                if n > limit:
                    table, cap = _grown(table, int(cap * _GROWTH))
                    limit = int(cap * _MAX_LOAD)
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
                    opts.progress({"states": n, "transitions": transitions, "queue": len(frontier),
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
        resume_collector(gc_was_enabled)
    res.states = n
    res.transitions = transitions
    res.max_depth = max_depth
    stop_reason = stop_reason or first_violation_stop(opts, violations)
    res.complete = not frontier and not cut and not stop_reason
    if not res.complete and not stop_reason:
        stop_reason = f"depth limit {max_d} reached" if cut else "stopped"
    res.stop_reason = stop_reason
    res.max_postmaster_steps = max_pm_steps
    res.storage = "fingerprint"
    res.collision_probability = collision_probability(n)
    res.reductions = f"fingerprinted: collision probability ≤ {res.collision_probability:.1e}"
    # In memory: the table and the interned components (the queue and the
    # trace are in temporary files, and closed with them).
    res.bytes_per_state = (table.itemsize * cap + packer.component_bytes()) / max(n, 1)
    frontier.file.close()
    trace.file.close()
    res.liveness_checked = False
    res.elapsed = time.perf_counter() - t0
