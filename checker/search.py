"""Breadth-first search over compactly stored states (issue 13).

The reference search in :mod:`checker.explore` keeps every state as the nested
tuple the memory model produced, a label per state and a dict from state to
index.  That costs ~700 bytes per state and a rehash of the whole nested tuple
per lookup.  This search explores exactly the same graph (same states, same
transitions, same order, hence the same shortest counterexamples) but stores:

* each state as **one int**: the ids of its components (shared memory, ghost
  state, the memory model's pending tuple, and one thread tuple per thread),
  32 bits each.  Components are interned (hash-consed) once in tables shared by
  all states, as SPIN's collapse compression does; a component a step did not
  change is the very object of the parent's, so its id is reused without
  hashing it again;
* parent pointers as an ``array`` of indices; no labels at all: a
  counterexample's labels are rebuilt by expanding each parent again and
  picking the first move that reaches the child (the move the search used);
* with ``fingerprint=True`` (``--fingerprint``), only a 64-bit fingerprint of
  each state in an open-addressing table of machine words, the frontier in a
  queue of full keys that is dropped as the search passes it, as TLC does.

The garbage collector is frozen and disabled for the search: states are
acyclic tuples and ints, so it could only ever waste time walking them.
"""

from __future__ import annotations

import gc
import time
from array import array
from checker.graph import _NARROW_LIMIT, Graph
from checker.model import DEADLOCK, WAIT_FREEDOM, ModelError

_M = 0xFFFFFFFF  # component ids are 32 bits wide


class _Interner:
    """Component <-> small int id, shared by every state."""

    __slots__ = ("ids", "items")

    def __init__(self) -> None:
        self.ids: dict = {}
        self.items: list = []

    def id(self, x) -> int:
        i = self.ids.get(x)
        if i is None:
            i = len(self.items)
            if i > _M:
                raise MemoryError("more than 2^32 distinct state components")
            self.ids[x] = i
            self.items.append(x)
        return i


class _FlaggedInterner(_Interner):
    """An interner that also keeps ``flags[id]``: ``flag(component)`` computed once, when it is interned."""

    __slots__ = ("flag", "flags")

    def __init__(self, flag) -> None:
        super().__init__()
        self.flag = flag
        self.flags = bytearray()

    def id(self, x) -> int:
        n = len(self.items)
        i = super().id(x)
        if i == n:  # new: one lookup, as the base class makes it
            self.flags.append(1 if self.flag(x) else 0)
        return i


class PackedStates:
    """Packs a state ``(memory, threads, pending, ghost)`` into one int and back.

    Layout (32 bits each, low to high): memory id, ghost id, pending id, then
    one thread-tuple id per thread.  Thread tuples of all threads share one
    table (identical backends in identical states share an id).

    ``split_pending``: the pending tuple is not interned whole; its per-thread
    entries (weak's windows) are, in a table of their own shared by all
    threads, one field per thread after the threads' fields (the pending
    field is then always 0).  A thread's step changes its own entry only, so
    the step's change to the key no longer depends on the other threads'
    entries (see _ThreadMoveCache).  ``pending_flag(entry)``: a bit kept per
    interned entry (``pending.flags``), read by the move cache.
    """

    def __init__(self, nthreads: int, split_pending: bool = False, pending_flag=None) -> None:
        self.nthreads = nthreads
        self.split_pending = split_pending
        self.mem = _Interner()
        self.ghost = _Interner()
        self.pending = _FlaggedInterner(pending_flag) if pending_flag is not None else _Interner()
        self.thread = _Interner()
        # pack(state, parent=None, parent_key=0) -> int: components identical
        # (``is``) to the parent's reuse its ids without being hashed again.
        # unpack(key) -> state.
        self._generate()

    def _generate(self) -> None:
        """Unrolled pack/unpack for this many threads (generated once; see pack)."""
        n = self.nthreads
        split = self.split_pending
        ts = [f"t{k}" for k in range(n)]
        ps = [f"q{k}" for k in range(n)]
        ws = [f"w{k}" for k in range(n)]
        vs = [f"v{k}" for k in range(n)]
        shifts = [96 + 32 * k for k in range(n)]
        wshifts = self.pending_shifts()
        lines = [
            "def pack(s, parent=None, pk=0):",
            "    mem, threads, pending, ghost = s",
            f"    {''.join(t + ', ' for t in ts)}= threads",
        ]
        if split:
            lines.append(f"    {''.join(w + ', ' for w in ws)}= pending")
        lines += [
            "    if parent is None:",
            "        k = mem_id(mem) | ghost_id(ghost) << 32" + ("" if split else " | pend_id(pending) << 64"),
        ]
        lines += [f"        k |= thr_id({t}) << {sh}" for t, sh in zip(ts, shifts)]
        lines += [f"        k |= pend_id({w}) << {sh}" for w, sh in zip(ws, wshifts)]
        # From the parent's key, replace only the fields of components the
        # step changed (k is a wide int: each operation on it allocates, so
        # the untouched fields are not rebuilt).
        lines += [
            "        return k",
            "    pm, pt, pp, pg = parent",
            "    k = pk",
            "    if mem is not pm:",
            "        i = mem_get(mem)",
            "        if i is None:",
            "            i = mem_id(mem)",
            "        k ^= i ^ (pk & M)",
            "    if ghost is not pg:",
            "        k ^= (ghost_id(ghost) ^ ((pk >> 32) & M)) << 32",
        ]
        if split:
            # Only the entries that changed (a step changes its own thread's).
            lines += ["    if pending is not pp:", f"        {''.join(v + ', ' for v in vs)}= pp"]
            for w, v, sh in zip(ws, vs, wshifts):
                lines += _replace_field(w, v, "pend", sh, "        ")
        else:
            lines += [
                "    if pending is not pp:",
                "        k ^= (pend_id(pending) ^ ((pk >> 64) & M)) << 64",
            ]
        lines += [
            "    if threads is pt:",
            "        return k",
            f"    {''.join(q + ', ' for q in ps)}= pt",
        ]
        for t, q, sh in zip(ts, ps, shifts):
            lines += _replace_field(t, q, "thr", sh, "    ")
        lines += ["    return k", "", "def unpack(k):"]
        pend = ("(" + "".join(f"pends[(k >> {sh}) & M], " for sh in wshifts) + ")" if split
                else "pends[(k >> 64) & M]")
        lines.append("    return (mems[k & M], ("
                     + "".join(f"thrs[(k >> {sh}) & M], " for sh in shifts)
                     + f"), {pend}, ghosts[(k >> 32) & M])")
        env = {
            "M": _M, "M64": _M << 32, "M96": _M << 64,
            "mem_id": self.mem.id, "ghost_id": self.ghost.id, "pend_id": self.pending.id, "thr_id": self.thread.id,
            "mem_get": self.mem.ids.get, "thr_get": self.thread.ids.get, "pend_get": self.pending.ids.get,
            "mems": self.mem.items, "thrs": self.thread.items, "pends": self.pending.items,
            "ghosts": self.ghost.items,
        }
        exec(compile("\n".join(lines) + "\n", "<packed states>", "exec"), env)  # noqa: S102
        self.pack = env["pack"]
        self.unpack = env["unpack"]

    def pending_shifts(self) -> list[int]:
        """Where each thread's pending entry's id sits in a key (split_pending), else []."""
        n = self.nthreads
        return [96 + 32 * (n + k) for k in range(n)] if self.split_pending else []

    def component_bytes(self) -> int:
        """Bytes held by the component tables (for bytes/state figures)."""
        import sys

        total = 0
        seen: set[int] = set()
        for t in (self.mem, self.ghost, self.pending, self.thread):
            total += sys.getsizeof(t.ids) + sys.getsizeof(t.items)
            for x in t.items:
                total += _deep_size(x, seen)
        return total


def _replace_field(new: str, old: str, table: str, shift: int, indent: str) -> list[str]:
    """Generated lines of ``pack``: if component ``new`` is not the parent's ``old``, put its id (looked up
    in ``{table}_get``, interned by ``{table}_id`` if new) in place of the parent's at ``shift``."""
    return [
        f"{indent}if {new} is not {old}:",
        f"{indent}    i = {table}_get({new})",
        f"{indent}    if i is None:",
        f"{indent}        i = {table}_id({new})",
        f"{indent}    k ^= (i ^ ((pk >> {shift}) & M)) << {shift}",
    ]


def _deep_size(x, seen: set[int]) -> int:
    """Bytes of ``x`` and the tuples inside it, each object counted once.

    Components share sub-tuples (weak's identical windows are one object), so
    a walk that counted every path would both overstate the memory and take
    time exponential in the nesting: ``seen`` holds the ids already counted.
    """
    import sys

    total = 0
    stack = [x]
    while stack:
        y = stack.pop()
        if id(y) in seen:
            continue
        seen.add(id(y))
        total += sys.getsizeof(y)
        if isinstance(y, tuple):
            stack.extend(e for e in y if e is not None and not (isinstance(e, int) and -5 <= e <= 256))
    return total


def _sampled_size(objects, seen: set[int]) -> int:
    """Bytes of ``objects`` (any sized collection, a dict's keys included; see _deep_size),
    from about a thousand of them spread evenly, without copying the collection."""
    from itertools import islice

    n = len(objects)
    if not n:
        return 0
    sample = list(islice(objects, 0, None, max(1, n // 1000)))
    return int(n * sum(_deep_size(x, seen) for x in sample) / len(sample))


class _ThreadMoveCache:
    """Each thread's moves, computed once per (thread state, memory, pending, ghost).

    Under a model whose steps are thread-local (``MemoryModel.thread_local_steps``)
    the moves of thread ``tid`` depend on the ids of its own thread tuple and of
    the memory, ghost and pending components only, and change nothing else; a
    successor's key is then the parent's key XOR a delta that depends on those
    ids alone.  ``threads`` lists ``(tid, mask, memo)``; a memo is keyed by the
    packed key with every other thread's field masked out (``key & mask``:
    memory, ghost, pending and this thread's id), and holds either a tuple of deltas (every move an ordinary step) or,
    when a move is a violation or pruned, a list of ``(delta or None, label,
    violation)`` in the moves' order.  Successor generation, unpacking and
    packing then run once per distinct combination instead of once per state:
    states differ mostly in the *other* threads.
    """

    def __init__(self, engine, packer: PackedStates) -> None:
        if packer.split_pending:
            # memory, ghost, this thread's tuple and its own pending entry (MemoryModel.pending_local_steps)
            self.threads = [(tid, (1 << 64) - 1 | _M << (96 + 32 * tid) | _M << wsh, {})
                            for tid, wsh in zip(engine.program_tids, packer.pending_shifts())]
        else:
            low = (1 << 96) - 1  # memory, ghost, pending
            self.threads = [(tid, low | _M << (96 + 32 * tid), {}) for tid in engine.program_tids]
        self._masks = {tid: mask for tid, mask, _memo in self.threads}
        self._moves: list = []
        self._shared: dict = {}
        self._thread_successors = engine.thread_successors
        self._pack = packer.pack
        # busy(key): some thread is inside an operation, so the state is not
        # quiescent and check_state has nothing to check (Engine.quiescent's
        # first half, read from the key without unpacking the state).
        env = {"M": _M, "thrs": packer.thread.items}
        terms = []
        for tid, busy in engine.busy_pcs:
            env[f"busy{tid}"] = busy
            terms.append(f"busy{tid}[thrs[(k >> {96 + 32 * tid}) & M][0]]")
        src = "def busy(k):\n    return " + (" or ".join(terms) or "False") + "\n"
        # reaches(key): some thread's pending entry may change what another
        # thread's moves are (MemoryModel.pending_reaches_others), so no
        # thread's moves in this state are memoised: the memo's key leaves the
        # other entries out.
        self.reaches = None
        flagged = isinstance(packer.pending, _FlaggedInterner)
        if flagged:
            env["flags"] = packer.pending.flags
            src += ("def reaches(k):\n    return "
                    + " or ".join(f"flags[(k >> {sh}) & M]" for sh in packer.pending_shifts()) + "\n")
        exec(compile(src, "<busy threads>", "exec"), env)  # noqa: S102 - generated from the engine's tables
        self.busy = env["busy"]
        if flagged:
            self.reaches = env["reaches"]

    def entry(self, state, key: int, tid: int):
        moves = self._moves
        moves.clear()
        self._thread_successors(state, tid, moves)
        pack = self._pack
        if all(nxt is not None and viol is None for _label, nxt, viol in moves):
            deltas = tuple(pack(nxt, state, key) ^ key for _label, nxt, _viol in moves)
            self._local(deltas, tid)
            # Loads change only the thread's own field: the same deltas recur
            # under many memories; share one tuple.
            return self._shared.setdefault(deltas, deltas)
        entry = [(None if nxt is None else pack(nxt, state, key) ^ key, label, viol) for label, nxt, viol in moves]
        self._local([d for d, _label, _viol in entry if d is not None], tid)
        return entry

    def _local(self, deltas, tid: int) -> None:
        """A move that changed a field outside the memo's key would be replayed wrongly in every other state:
        refuse a memory model that does (its thread_local_steps or pending_local_steps is wrong)."""
        outside = ~self._masks[tid]
        if any(d & outside for d in deltas):
            raise ModelError(f"the memory model's step of thread {tid} changed another thread's state, "
                             "which its thread_local_steps or pending_local_steps says it never does")

    def bytes(self) -> int:
        """Bytes held by the memos (for bytes/state figures): dict slots, keys, the shared delta tuples.

        Keys, delta tuples and move lists are sized on a sample of about a
        thousand of each: walking all of them took 1.4 CPU s at the end of a
        55 s search (ring, 3 threads, 3 ops, weak) for a figure printed to
        three digits.
        """
        import sys

        seen: set[int] = set()
        total = sys.getsizeof(self._shared) + _sampled_size(self._shared, seen)
        for _tid, _mask, memo in self.threads:
            n = len(memo)
            if not n:
                continue
            total += int(n * ((8 + 24) * 3 / 2)) + _sampled_size(memo, seen)
            total += _sampled_size([v for v in memo.values() if v.__class__ is list], seen)
        return total


class _LazyStates:
    """``states[i]`` for the liveness analysis and counterexamples: unpacked on demand."""

    def __init__(self, keys, packer: PackedStates) -> None:
        self.keys, self.packer = keys, packer

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i):
        return self.packer.unpack(self.keys[i])

    def __iter__(self):
        unpack = self.packer.unpack
        for k in self.keys:
            yield unpack(k)

    def threads_of(self, tid: int):
        """Thread ``tid``'s tuple in every state, in order, without unpacking the states."""
        items = self.packer.thread.items
        shift = 96 + 32 * tid
        return (items[(k >> shift) & _M] for k in self.keys)

    def place_ahead(self, tid: int, in_op, ahead_of_entry, ahead_mark: int):
        """Thread ``tid``'s place in every state, for ``checker.explore._postmaster_lasso``, without unpacking them.

        (inside, restarted) as that function computes them by unpacking: per
        state ``ahead_mark`` if ``ahead_of_entry`` says the thread's own
        pending entry puts it ahead of its operations, else 1 inside an
        operation (0 outside), and restarted 1 where its step count is 0
        inside one.  ``ahead_of_entry`` is asked once per distinct entry.
        None when the key does not hold the thread's entry on its own (no
        split pending) or the model cannot tell from the entry.
        """
        packer = self.packer
        if not packer.split_pending:
            return None
        threads, entries = packer.thread.items, packer.pending.items
        thread_shift, entry_shift = 96 + 32 * tid, packer.pending_shifts()[tid]
        ahead: dict[int, bool | None] = {}
        inside, restarted = bytearray(len(self.keys)), bytearray(len(self.keys))
        for v, k in enumerate(self.keys):
            e = (k >> entry_shift) & _M
            a = ahead.get(e)
            if a is None:
                a = ahead[e] = ahead_of_entry(entries[e])
                if a is None:
                    return None
            if a:
                inside[v] = ahead_mark
                continue
            t = threads[(k >> thread_shift) & _M]
            if in_op[t[0]]:
                inside[v] = 1
                if t[1] == 0:
                    restarted[v] = 1
        return inside, restarted


class _RebuiltLabels:
    """``plabel[i]``: the move that first reached state ``i``, found by expanding its parent again."""

    def __init__(self, engine, states, parent) -> None:
        self.engine, self.states, self.parent = engine, states, parent

    def __getitem__(self, i):
        p = self.parent[i]
        if p < 0:
            return None
        target = self.states[i]
        out: list = []
        self.engine.successors(self.states[p], out)
        for label, nxt, _viol in out:
            if nxt is not None and nxt == target:
                return label
        raise AssertionError("a parent no longer reaches its child")  # pragma: no cover


def packer_for(engine, memoise: bool = True) -> tuple[PackedStates, bool]:
    """The key layout for ``engine``'s states, and whether each thread's moves can be memoised in it.

    A model whose steps read and change only their own pending entry
    (``MemoryModel.pending_local_steps``) gets one field per entry
    (``split_pending``), so that the memo's key can leave the other entries
    out.  Every process of one search must use the same layout: the parallel
    search calls this in each shard and in the coordinator.
    """
    mm = engine.mm
    memoised = memoise and (mm.thread_local_steps or mm.pending_local_steps) and engine.moves_are_per_thread()
    split = memoised and mm.pending_local_steps
    return PackedStates(engine.nthreads, split_pending=split,
                        pending_flag=mm.pending_reaches_others
                        if split and mm.pending_entries_may_reach_others else None), memoised


def pause_collector() -> bool:
    """Stop the cyclic collector for a search; returns whether it was enabled (for resume_collector).

    A search makes millions of acyclic tuples (keys, memo entries, the weak
    model's plans): the collector could only walk them in vain.  What the
    process held before is frozen first, after a collection of the young
    generations only (a full one walks every object the process holds: 35 ms
    per search in a test process, a tenth of a run of small searches).
    """
    was_enabled = gc.isenabled()
    gc.collect(1)
    gc.freeze()
    gc.disable()
    return was_enabled


def resume_collector(was_enabled: bool) -> None:
    """After a search: its objects are frozen too, then the collector runs again if it did before.

    Re-enabled with the search's objects young, the collector's next
    collection walked all of them: 3.4 CPU s of a 64 s search (ring, 3
    threads, 3 ops, weak; the collector's own time, from gc.callbacks, now
    0.01 s), spent after the last state was found.  Frozen objects are still
    freed when their last reference goes; only cyclic garbage among them
    would stay, and a search makes none.
    """
    gc.freeze()
    if was_enabled:
        gc.enable()


def explore_compact(engine, opts, res, canon=None) -> None:
    """The search of :func:`checker.explore.explore` over packed states; fills ``res``.

    ``canon``: a state's orbit representative (``checker.symmetry``), or None.
    """
    from checker.explore import (
        Counterexample, analyse_cycles, _path, _stuck_message, _Stop, first_violation_stop, interruption,
        out_of_memory, partial_lasso,
    )

    system = engine.system
    t0 = time.perf_counter()
    # Each thread's moves memoised as key deltas (_ThreadMoveCache); not
    # under symmetry, whose representatives are no deltas.
    packer, memoised = packer_for(engine, memoise=canon is None)
    pack, unpack = packer.pack, packer.unpack
    init = engine.initial()
    if canon is not None:
        init = canon(init)
    k0 = pack(init)
    seen: dict = {k0: 0}
    keys: list = [k0]
    parent = array("l", [-1])
    # 32-bit: a rogue writing anywhere, without a limit, takes a search past 65,535 levels.
    depth = array("I", [0])
    lazy_states = _LazyStates(keys, packer)
    labels = _RebuiltLabels(engine, lazy_states, parent)
    # The cycle analysis does not run on orbit representatives (see checker.symmetry).
    edges: Graph | None = Graph() if opts.liveness and canon is None else None
    edge_append = edges.dst.append if edges is not None else None
    pruned: dict[int, int] = {}
    violations = res.violations
    checked = system.checked
    rogue = system.rogue_tid is not None
    pm_tid = 0
    transitions = 0
    max_depth = 0
    max_states = opts.max_states
    max_d = opts.max_depth
    next_report = t0 + opts.progress_interval
    stop_reason = ""
    cut = False

    def record(prop, message, idx, final_label=None):
        if prop in violations or prop not in checked:
            return
        if canon is not None:
            lab, path, message, final_label = _concrete(engine, canon, lazy_states, parent, idx, prop, message,
                                                        final_label)
        else:
            lab, path = _path(lazy_states, parent, labels, idx)
        violations[prop] = Counterexample(prop, message, lab, path, final_label)

    v0 = (engine.check_state if canon is None else canon.check_state)(init)
    if v0:
        record(v0[0], v0[1], 0)

    successors = engine.successors
    # Under symmetry the invariants hold of an orbit only if they hold of every member.
    check_state = engine.check_state if canon is None else canon.check_state
    out: list = []
    i = 0
    gc_was_enabled = pause_collector()
    # Each thread's moves as key deltas, computed once per combination of the
    # thread's state with the memory, pending (or its own pending entry) and
    # ghost components (see _ThreadMoveCache).
    cache = _ThreadMoveCache(engine, packer) if memoised else None

    def violating_move(viol, label):
        """A move of state ``i`` that violates a property (it leads nowhere)."""
        res.cut_by.add(viol[0])
        if viol[0] in checked and viol[0] not in violations:
            record(viol[0], viol[1], i, final_label=label)

    def visit(nk, tid, d, state=None):
        """A successor key met off the cached fast path: index it (new states are checked), record the edge.

        ``state``: the successor itself when the caller has it (else it is unpacked to be checked).
        """
        nonlocal edge_append, max_depth, cut, stop_reason
        j = seen.get(nk)
        if j is None:
            if max_states is not None and len(keys) >= max_states:
                cut = True
                stop_reason = f"state limit {max_states} reached"
                raise _Stop
            j = len(keys)
            if j == _NARROW_LIMIT and edges is not None:
                edges.widen()
                edge_append = edges.dst.append
            seen[nk] = j
            keys.append(nk)
            parent.append(i)
            depth.append(d + 1)
            if d + 1 > max_depth:
                max_depth = d + 1
            v = check_state(unpack(nk) if state is None else state)
            if v is not None:
                record(v[0], v[1], j)
        if edge_append is not None:
            edge_append(j * 16 + tid)

    # Loop invariants, as locals.
    tinfo = cache.threads if cache is not None else ()
    checking = engine.check_conservation  # check_state does something only with a quiescence check
    busy = cache.busy if cache is not None else None
    reaches = cache.reaches if cache is not None else None
    limit = max_states if max_states is not None else 1 << 62
    stop_on_first = opts.stop_on_first
    progress = opts.progress
    tuple_ = tuple
    try:
        while i < len(keys):
            if stop_on_first and violations:
                stop_reason = "stopped at the first violation"
                break
            key = keys[i]
            d = depth[i]
            if max_d is not None and d >= max_d:
                cut = True
                if edges is not None:
                    edges.close()
                i += 1
                continue
            d1 = d + 1
            s = None
            moved = False
            pm_moves = False
            pruned_mask = 0
            # A state where a pending entry reaches other threads is expanded without the memo.
            use_memo = cache is not None and (reaches is None or not reaches(key))
            for tid, mask, memo in (tinfo if use_memo else ()):
                ck = key & mask
                entry = memo.get(ck)
                if entry is None:
                    if s is None:
                        s = unpack(key)
                    entry = memo[ck] = cache.entry(s, key, tid)
                if not entry:
                    continue
                moved = True
                if tid == pm_tid:
                    pm_moves = True
                if entry.__class__ is tuple_:
                    # visit(), inlined: a call per move would cost the hot loop ~10%.
                    for delta in entry:
                        transitions += 1
                        nk = key ^ delta
                        j = seen.get(nk)
                        if j is None:
                            j = len(keys)
                            if j >= limit:
                                cut = True
                                stop_reason = f"state limit {max_states} reached"
                                raise _Stop
                            if j == _NARROW_LIMIT and edges is not None:
                                edges.widen()
                                edge_append = edges.dst.append
                            seen[nk] = j
                            keys.append(nk)
                            parent.append(i)
                            depth.append(d1)
                            if checking and not busy(nk):
                                v = check_state(unpack(nk))
                                if v is not None:
                                    record(v[0], v[1], j)
                        if edge_append is not None:
                            edge_append(j * 16 + tid)
                    continue
                # A violation or a pruned move among them: in order, as the uncached moves below.
                for delta, label, viol in entry:
                    if delta is None and viol is None:
                        pruned_mask |= 1 << tid
                        continue
                    transitions += 1
                    if viol is not None:
                        violating_move(viol, label)
                        continue
                    visit(key ^ delta, tid, d)
            if not use_memo or rogue:
                # Every move (not memoised), or the rogue's (which depend on the postmaster's next read).
                if s is None:
                    s = unpack(key)
                out.clear()
                if not use_memo:
                    successors(s, out)
                else:
                    engine.rogue_successors(s, out)
                for label, nxt, viol in out:
                    moved = True
                    tid = label[0]
                    if tid == pm_tid:
                        pm_moves = True
                    if nxt is None and viol is None:
                        pruned_mask |= 1 << tid
                        continue
                    transitions += 1
                    if viol is not None:
                        violating_move(viol, label)
                        continue
                    if canon is not None:
                        nxt = canon(nxt)
                    visit(pack(nxt, s, key), tid, d, nxt)
            if edges is not None:
                edges.close()
                if pruned_mask:
                    pruned[i] = pruned_mask
            if not moved:
                if s is None:
                    s = unpack(key)
                if not all(engine.halted(s, t) for t in engine.program_tids):
                    record(DEADLOCK, _stuck_message(engine, s), i)
            elif rogue and not pm_moves:
                if s is None:
                    s = unpack(key)
                if not engine.halted(s, pm_tid):
                    record(DEADLOCK, "the postmaster cannot take its next step", i)
            i += 1
            if progress is not None and i % 512 == 0:
                now = time.perf_counter()
                if now >= next_report:
                    next_report = now + opts.progress_interval
                    progress({"states": len(keys), "transitions": transitions, "queue": len(keys) - i,
                              "depth": d, "elapsed": now - t0})
    except _Stop:
        pass
    except KeyboardInterrupt as exc:
        stop_reason = interruption(exc)
        cut = True
    except MemoryError as exc:
        # Drop the index and the graph, the largest structures, so that the
        # coverage report can be made.
        seen.clear()
        edges = None
        out.clear()
        stop_reason = out_of_memory(exc)
        cut = True
    finally:
        resume_collector(gc_was_enabled)
    # The cached loop leaves it: breadth-first, the last state found is the deepest
    # (depth[-1]: a signal between a key's append and its depth's leaves one key more).
    max_depth = max(max_depth, depth[-1])
    seen.clear()  # the liveness analysis needs indices only
    res.states = len(keys)
    res.transitions = transitions
    res.max_depth = max_depth
    stop_reason = stop_reason or first_violation_stop(opts, violations)
    explored_all = i >= len(keys) and not cut
    res.complete = explored_all and not stop_reason
    if not res.complete and not stop_reason:
        stop_reason = f"depth limit {max_d} reached" if cut else "stopped"
    res.stop_reason = stop_reason
    res.max_postmaster_steps = _max_steps(engine, packer, keys)
    res.storage = "compact"
    if canon is not None:
        res.reductions = "symmetry-reduced: states are orbits of interchangeable backends"
    res.bytes_per_state = _bytes_per_state(packer, keys, parent, depth)
    if cache is not None and keys:
        res.bytes_per_state += cache.bytes() / len(keys)
    if res.complete and edges is not None:
        analyse_cycles(engine, lazy_states, edges, parent, labels, res, pruned, opts.memory_limit)
    elif (edges is not None and engine.lasso_only and WAIT_FREEDOM in checked
          and WAIT_FREEDOM not in violations):
        edges.pad(len(keys))
        partial_lasso(engine, lazy_states, edges, parent, labels, res, opts.memory_limit)
    res.elapsed = time.perf_counter() - t0


def _concrete(engine, canon, representatives, parent, idx, prop, message, final_label):
    """A violation found on a representative, told on a concrete trace from the initial state."""
    from checker.explore import _stuck_message
    from checker.symmetry import concrete_path, permuted_path

    chain = []
    i = idx
    while i >= 0:
        chain.append(i)
        i = parent[i]
    chain.reverse()
    labels, path = concrete_path(engine, canon, representatives, chain)
    last = path[-1]
    if final_label is not None:
        # The violating move of the representative is some backend's; find the
        # same violation among the concrete state's moves (its message may name
        # the backend, so the property decides when the text differs).
        out: list = []
        engine.successors(last, out)
        moves = [(label, viol) for label, nxt, viol in out if nxt is None and viol is not None]
        final_label, viol = next((m for m in moves if m[1] == (prop, message)),
                                 next(m for m in moves if m[1][0] == prop))
        message = viol[1]
    elif prop == DEADLOCK and message.startswith("no thread can move"):
        message = _stuck_message(engine, last)
    elif prop != DEADLOCK:
        # An invariant of the orbit that fails in a member other than this one:
        # the same trace, permuted, ends in a member where it fails.
        v = engine.check_state(last)
        if v is None or v[0] != prop:
            member, message = canon.violating_member(last, prop)
            labels, path = permuted_path(engine, canon, path, member)
        else:
            message = v[1]
    return labels, path, message, final_label


def _max_steps(engine, packer: PackedStates, keys) -> int:
    tids = [t.tid for t in engine.system.threads if t.role == "postmaster"]
    items = packer.thread.items
    best = 0
    for tid in tids:
        shift = 96 + 32 * tid
        for i in {(k >> shift) & _M for k in keys}:
            v = items[i][1]
            if v > best:
                best = v
    return best


def _bytes_per_state(packer: PackedStates, keys, parent, depth) -> float:
    """Storage of the visited set, queue and parent pointers, per state (no edges).

    Keys are counted at their own size, the dict that indexed them at CPython's
    layout (an 8-byte index slot and a 24-byte entry per usable slot, 2/3
    full), plus the interned components they share.
    """
    n = len(keys)
    if not n:
        return 0.0
    key_bytes = _sampled_size(keys, set()) / n
    index_value = 28  # the dict's value: an int index (most are > 256, not cached)
    dict_bytes = (8 + 24) * 3 / 2
    per_state = key_bytes + index_value + dict_bytes + 8 + parent.itemsize + depth.itemsize
    return per_state + packer.component_bytes() / n
