"""Hash-partitioned, level-synchronous breadth-first search (``--workers``, ``--ray``; issue 14).

Every state has one owner, a *shard*, chosen by a hash of its canonical
encoding, and only its owner stores it.  The search runs level by level:

1. **expand**: every shard expands the states of its frontier (one BFS level)
   and sorts the successors into one outgoing batch per owner;
2. **receive**: every shard looks the successors sent to it up in its visited
   set and keeps, for each new one, the *first* move that reached it in the
   order a one-process search would have used (see ranks below); it checks the
   invariants of the new states;
3. **rank**: the coordinator merges the new states' sort keys into global
   ranks, and every shard commits its new states (they become the next
   frontier).

Ranks make the search *the* one-process search, not merely an equivalent one:
the rank of a state is its index in the single-process discovery order.  A new
state's sort key is ``(rank of the parent that reached it first, index of the
move in that parent's successor list)``; within a BFS level that is exactly
the order in which one process discovers states.  So every state gets the same
index, the same parent and the same counterexample (not only one of the same
length), and a search that stops at the first violation stops where one
process would: the coordinator finds the first state (by rank) whose
expansion violated something, and counts only what one process had explored
by then.

Canonical encoding across processes: interned component ids differ per
process, so a batch carries a table of the distinct components it uses
(marshalled tuples, format version 2, which has no object references and is
therefore byte-for-byte canonical) and, per successor, one 32-bit index into
that table per component plus a 64-bit sort key.  The owner of a state is a
hash of the CRC-32 of its shared memory's canonical bytes, so every process
and every machine agrees on it; a shard expands through the one-process
search's memo of each thread's moves (checker.search._ThreadMoveCache), whose
entries are keyed by the memory among others, so no entry is computed twice.

Liveness (the cycle analysis: deadlock cycles and the postmaster's wait-
freedom lasso) needs the whole graph.  The owner of an edge's *target* records
the edge once it knows the target's rank; after an exhaustive search the
coordinator gathers every parent and edge, and of each state its postmaster's
thread tuple (all the analysis reads of every state; whole states only under
a model with its own ``between_operations``, or without numpy), and runs the
one-process cycle analysis (:func:`checker.explore.analyse_cycles`) on them.  That
step is sequential and needs the coordinator to hold the graph (docs/parallel.md).

The transports: :class:`LocalShards` (one shard in this process: ``--checkpoint``
without ``--workers``), :class:`ProcessShards` (``--workers N``: one process
per shard, batches sent from worker to worker over a pipe per pair) and
:class:`checker.ray_search.RayShards` (``--ray``: shards are Ray actors, and
batches go from actor to actor through Ray's object store).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import marshal
import operator
import os
import signal
import time
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from checker.model import DEADLOCK, WAIT_FREEDOM, ModelError, Params
from checker.search import pause_collector

MOVE_BITS = 12  # a state has fewer than 4096 moves
TID_BITS = 4  # edges keep a thread id in 4 bits, as checker.explore does
_M32 = 0xFFFFFFFF
_AFTER_EVERY_MOVE = (1 << MOVE_BITS) - 1  # where a state's deadlock check comes in its expansion
# States expanded between two trades of outcomes with the other workers
# (Shard.exchange): often enough that a thread state new in a level is
# mostly worked out by one worker (caslist, 3 threads, 3 slots, weak, 4
# workers: 17% less CPU in all), rarely enough that the pickling and the
# adopting cost little where there is less to save (ring, 3 threads: 4%
# more; trading every 4,096 states, or only 256 outcomes or more, was no
# better on either).
_EXCHANGE_EVERY = 1024
OWNER_POSITIONS = (0,)  # the packed-key components the owner hashes: shared memory
# Mixes a CRC-32 before it is reduced modulo N (ring, 4 threads, 16 shards:
# 62,841 to 66,029 states each; the high word of the product: 56,988 to 70,549).
_OWNER_MULT = 0x9E3779B97F4A7C15
_OWNER_MASK = sum(_M32 << (32 * c) for c in OWNER_POSITIONS)  # their bits in a packed key


class SearchAborted(Exception):
    """The search cannot go on and has no verdict (a worker died, Ray failed): exit 3."""


@dataclass(frozen=True)
class EngineSpec:
    """Everything needed to build the same engine in another process or on another machine."""

    protocol: str
    params: Params
    mutation: str | None
    memory_model: str
    profile: str
    engine_kind: str = "compiled"
    mm_options: tuple = ()

    def build(self):
        from checker.run import make_engine

        return make_engine(self.protocol, self.params, self.mutation, self.memory_model, self.profile,
                           self.engine_kind, **dict(self.mm_options))


@dataclass
class ParallelOptions:
    workers: int = 1
    ray_address: str | None = None  # "local" or host:port
    checkpoint_dir: str | None = None
    resume_dir: str | None = None
    checkpoint_every: float = 120.0  # seconds between checkpoints at level boundaries
    spec: EngineSpec | None = None
    memory_limit: int | None = None  # bytes for the whole search; each worker gets its share


@dataclass
class Event:
    """A violation seen while expanding the state of rank ``rank`` (at move ``move``)."""

    rank: int
    move: int
    prop: str
    message: str
    final_label: Any = None  # a violating step's label
    state_code: int | None = None  # an invariant violation: the sort key of the new state


@dataclass
class ExpandReport:
    transitions: int
    events: list = field(default_factory=list)
    cut: bool = False
    sent_bytes: int = 0
    sent_states: int = 0
    rss: int = 0
    cpu: float = 0.0  # CPU seconds this step took in the shard's process
    # A bound the memory model hit in this shard so far (weak's safety cap):
    # the coordinator's own copy of the model never sees it.
    reordering_bound: int | None = None


class _ReceivedEdges(NamedTuple):
    """The edges a level's batches brought (see Shard.receive), in the form of Shard.e_at and e_dst."""

    at_known: array  # into states this shard had: source rank << MOVE_BITS | move
    dst_known: array  # their target rank << TID_BITS | thread
    new_keys: list  # into states new in this level: the target's key, its rank not yet known
    new_codes: array  # and the sort code of the move


@dataclass
class ReceiveReport:
    codes: bytes  # the new states' sort keys, ascending (array 'q')
    events: list = field(default_factory=list)
    cpu: float = 0.0


def _one_entry(convert):
    """A pending tuple's conversion (MemoryModel.pending_to_wire/from_wire) applied to one thread's entry."""
    return lambda entry: convert((entry,))[0]


class Wire:
    """The canonical encoding of packed states between processes, for one process's interners.

    A packed key (checker.search.PackedStates) is a row of component ids that
    mean something only in the process that interned them.  A batch therefore
    carries, besides the keys as this process packed them, every component
    this process interned since its previous batch (each shard sends one to
    every other shard per level, so all receivers see every component once),
    and the receiver keeps, per sender, a table from the sender's ids to its
    own.  Per successor on the wire: the key (one int, 32 bits per component)
    and its 64-bit sort code; the components themselves are amortised over all
    the states that share them.  Values inside components that name
    something private to one process (the weak model's expressions) travel
    under names every build of the model agrees on
    (MemoryModel.values_to_wire): a Ray actor, or a process resuming a
    checkpoint, built the model itself.
    """

    def __init__(self, packer, nthreads: int, nshards: int, mm=None) -> None:
        self.interners = [packer.mem, packer.ghost, packer.pending, packer.thread]
        # Pending components may hold a model's own tuple types (weak's window
        # entries), which marshal refuses: they travel as plain tuples.  With
        # split_pending the table holds one thread's entry each.
        ident = lambda x: x  # noqa: E731
        to_wire, from_wire = (mm.pending_to_wire, mm.pending_from_wire) if mm is not None else (ident, ident)
        if packer.split_pending:
            to_wire, from_wire = _one_entry(to_wire), _one_entry(from_wire)
        out, into = (mm.values_to_wire, mm.values_from_wire) if mm is not None else (ident, ident)
        self._to_wire = [ident, out, to_wire, out]
        self._from_wire = [ident, into, from_wire, into]
        self.nshards = nshards
        self.sent = [0, 0, 0, 0]  # components already sent, per kind
        self.tables: dict = {}  # sender -> per kind: sender's id -> this process's id
        # The kind of each 32-bit field (search.PackedStates); None: always 0
        # (the whole pending tuple's field when its entries have fields of their own).
        kinds: list[int | None] = [0, 1, None if packer.split_pending else 2] + [3] * nthreads
        if packer.split_pending:
            kinds += [2] * nthreads
        shifts = [32 * c for c in range(len(kinds))]
        names = ["tm", "tg", "tp", "tt"]
        trans = " | ".join(f"{names[k]}[(k >> {sh}) & M] << {sh}" for k, sh in zip(kinds, shifts) if k is not None)
        # The owner is the CRC-32 of the canonical bytes of the shared memory,
        # times _OWNER_MULT modulo N, kept per memory id.  Memory alone spreads
        # states as evenly as memory and the postmaster did (ring, 4 threads:
        # 13,980 memories; 513,490 and 514,426 states at 2 shards), and it
        # makes every step that keeps the memory, the postmaster's local steps
        # included, stay in its shard.  It also makes the memory the one shard
        # knows each thread's memoised moves for (search._ThreadMoveCache
        # keys them by memory, ghost, pending and the thread): no entry is
        # computed by two shards.
        src = (f"def translate(k, tm, tg, tp, tt):\n    return {trans}\n"
               "def owner(k):\n    try:\n        return own[k & M]\n"
               "    except IndexError:\n        fill()\n        return owner(k)\n")
        self._owners: list = []
        env = {"M": _M32, "own": self._owners, "fill": self._fill}
        exec(compile(src, "<wire>", "exec"), env)  # noqa: S102
        self.translate = env["translate"]
        self.owner = env["owner"] if nshards > 1 else (lambda _k: 0)

    def _fill(self) -> None:
        owners, n = self._owners, self.nshards
        for x in self.interners[0].items[len(owners):]:
            try:
                crc = zlib.crc32(marshal.dumps(x, 2))
            except ValueError:
                raise ModelError("a state holds a value that cannot be sent between processes "
                                 f"({type(x).__name__})") from None
            owners.append((crc * _OWNER_MULT) % n)

    def new_components(self):
        """(first id, components) per kind interned since the last call."""
        start = list(self.sent)
        new = [[self._to_wire[k](x) for x in self.interners[k].items[start[k]:]] for k in range(4)]
        self.sent = [len(i.items) for i in self.interners]
        return start, new

    def encode(self, components, keys, codes) -> bytes:
        try:
            return marshal.dumps((components, keys, array("q", codes).tobytes()))
        except ValueError:
            raise ModelError("a state holds a value that cannot be sent between processes") from None

    def decode(self, sender, blob: bytes):
        """A batch -> (keys in this process's ids, sort codes)."""
        (start, new), keys, codes_b = marshal.loads(blob)
        table = self.tables.setdefault(sender, [[], [], [], []])
        for k in range(4):
            if start[k] != len(table[k]):
                raise RuntimeError(f"a batch from shard {sender} skipped components")  # pragma: no cover
            intern = self.interners[k].id
            typed = self._from_wire[k]
            table[k].extend([intern(typed(x)) for x in new[k]])
        tm, tg, tp, tt = table
        tr = self.translate
        codes = array("q")
        codes.frombytes(codes_b)
        return [tr(k, tm, tg, tp, tt) for k in keys], codes

    def tables_out(self, tables: list) -> list:
        """Whole component lists (per kind, as Shard._tables gives them) as ``adopt`` reads them in another process."""
        return [[self._to_wire[k](x) for x in tables[k]] for k in range(4)]

    def adopt(self, tables, keys) -> list:
        """Keys written against ``tables`` (whole component lists) -> keys in this process's ids."""
        tm, tg, tp, tt = ([self.interners[k].id(self._from_wire[k](x)) for x in tables[k]] for k in range(4))
        tr = self.translate
        return [tr(k, tm, tg, tp, tt) for k in keys]


def state_to_wire(mm, state):
    """A whole state as another process that built the same model reads it (see Wire)."""
    mem, threads, pending, ghost = state
    out = mm.values_to_wire
    return mem, tuple(map(out, threads)), mm.pending_to_wire(pending), out(ghost)


def state_from_wire(mm, state):
    """The inverse of ``state_to_wire``, in this process's names."""
    mem, threads, pending, ghost = state
    into = mm.values_from_wire
    return mem, tuple(map(into, threads)), mm.pending_from_wire(pending), into(ghost)


# ---------------------------------------------------------------------------
# A shard: the states one owner stores, and its three steps per level


class Shard:
    def __init__(self, spec: EngineSpec, index: int, nshards: int, liveness: bool, max_depth: int | None,
                 memory_limit: int | None, engine=None, share_outcomes: bool = False,
                 portable_outcomes: bool = False) -> None:
        from checker.search import packer_for

        # A forked worker shares the coordinator's engine: no second build, and
        # the weak model's outcome trades between forked workers name
        # expressions by the registry ids they inherited alike (a Ray actor
        # builds its own, and trades under wire names: portable_outcomes).
        self.engine = engine if engine is not None else spec.build()
        self.index, self.nshards = index, nshards
        self.liveness = not _lasso_free(self.engine, liveness)
        self.max_depth = max_depth
        self.memory_limit = memory_limit
        self.packer, memoised = packer_for(self.engine)
        self.wire = Wire(self.packer, self.engine.nthreads, nshards, self.engine.mm)
        self.seen: dict = {}
        self.keys: list = []
        self.rank = array("q")
        self.parent = array("q")
        self.frontier: Sequence[int] = []  # local indices of the level being expanded, in rank order
        self.depth = 0
        # Edges, recorded by the target's owner: where (source rank << 12 | move index)
        # and target rank * 16 + thread, as checker.explore keeps them.
        self.e_at, self.e_dst = array("q"), array("q")
        self.pruned: dict[int, int] = {}
        self._transitions_by_frontier = array("q")
        self._known_edges = (array("q"), array("q"))
        self._sent_before: set = set()
        self._pending = None
        self._local_of_rank: dict | None = None  # built when a counterexample's states are asked for
        from checker.search import _ThreadMoveCache

        self._move_cache = _ThreadMoveCache(self.engine, self.packer) if memoised else None
        # share_outcomes: the memory model's outcomes go to the other shards
        # (MemoryModel.outcomes_to_share): the workers' through _level's
        # pipes, within and at the end of each level; Ray's actors' at the
        # end of each level (offer_outcomes, adopt_outcomes), and portably
        # (portable_outcomes), since each actor built the model itself.
        self.shares_outcomes = (share_outcomes and nshards > 1
                                and self.engine.mm.share_outcomes(portable=portable_outcomes))
        # Called between states while a level is expanded (every
        # _EXCHANGE_EVERY states) when set: _level trades the outcomes there.
        self.exchange: Callable[[], None] | None = None

    def owner(self, key: int) -> int:
        return self.wire.owner(key)

    # -- the three steps of a level --------------------------------------

    def expand(self):
        """Expand the frontier; returns (ExpandReport, batch for shard 0, ..., batch for shard N-1)."""
        from checker import memlimit
        from checker.explore import _stuck_message

        engine = self.engine
        checked = engine.system.checked
        rogue = engine.system.rogue_tid is not None
        unpack, pack = self.packer.unpack, self.packer.pack
        owner = self.wire.owner
        me, seen, rank = self.index, self.seen, self.rank
        # Successors this shard owns and already has need no batch: only
        # their edge, kept until commit() (an interrupted level leaves no trace).
        known_at, known_dst = array("q"), array("q")
        keep_edges = self.liveness
        # Without edges to record, a state sent to its owner once is never sent
        # again: the owner has it from then on (visited, or new with an
        # earlier, smaller sort code).  Trades a set of keys for the batches.
        sent = None if keep_edges else self._sent_before
        # Likewise, new successors this shard owns are deduplicated here and
        # handed to receive() as they are: the first sort code seen is the
        # smallest, since the frontier is expanded by rank and moves in order.
        own_first: dict | None = None if keep_edges else {}
        out_keys: list[list] = [[] for _ in range(self.nshards)]
        out_codes: list[list] = [[] for _ in range(self.nshards)]
        cpu0 = time.process_time()
        report = ExpandReport(0)
        per_state = array("q")
        out: list = []
        cut = self.max_depth is not None and self.depth >= self.max_depth
        # Each thread's moves as key deltas, memoised per (thread, memory,
        # pending, ghost) as the one-process search does (search._ThreadMoveCache):
        # most states are expanded without unpacking, calling the successor
        # function or packing.  Moves keep the index engine.successors gives
        # them (threads in order, then the rogue's), which the sort codes carry.
        cache = self._move_cache
        tinfo = cache.threads if cache is not None else ()
        reaches = cache.reaches if cache is not None else None
        tuple_ = tuple
        owner_mask = _OWNER_MASK

        def route(nk: int, delta: int, code: int) -> None:
            """A successor off the fast path below (the same decisions)."""
            j = me if not delta & owner_mask else owner(nk)
            if j == me:
                known = seen.get(nk)
                if known is not None:
                    if keep_edges:
                        known_at.append(code >> TID_BITS)
                        known_dst.append(rank[known] << TID_BITS | (code & 15))
                    return
                if own_first is not None:
                    if nk not in own_first:
                        own_first[nk] = code
                    return
            elif sent is not None:
                if nk in sent:
                    return
                sent.add(nk)
            out_keys[j].append(nk)
            out_codes[j].append(code)

        exchange, every = self.exchange, _EXCHANGE_EVERY
        for n, li in enumerate(self.frontier):
            if n % 4096 == 4095:
                memlimit.check(self.memory_limit)
            if exchange is not None and n % every == every - 1:
                exchange()
            if cut:
                report.cut = True
                per_state.append(0)
                continue
            r = rank[li]
            key = self.keys[li]
            s = None
            base = r << MOVE_BITS
            m = 0  # the move's index in engine.successors' list
            moved = 0
            any_move = pm_moves = False
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
                any_move = True
                if tid == 0:
                    pm_moves = True
                if entry.__class__ is tuple_:
                    # route(), inlined: a call per successor would cost the hot loop ~10%.
                    moved += len(entry)
                    # The sort code is made only for a successor that needs
                    # one (sent, or new here): most are already known.
                    for move, delta in enumerate(entry, m):
                        nk = key ^ delta
                        # The owner hashes shared memory only (OWNER_POSITIONS):
                        # a step that keeps it stays here.
                        if delta & owner_mask:
                            j = owner(nk)
                            if j != me:
                                if sent is not None:
                                    if nk in sent:
                                        continue
                                    sent.add(nk)
                                out_keys[j].append(nk)
                                out_codes[j].append(((base | move) << TID_BITS) | tid)
                                continue
                        known = seen.get(nk)
                        if known is not None:
                            if keep_edges:
                                known_at.append(base | move)
                                known_dst.append(rank[known] << TID_BITS | tid)
                            continue
                        if own_first is not None:
                            if nk not in own_first:
                                own_first[nk] = ((base | move) << TID_BITS) | tid
                            continue
                        out_keys[me].append(nk)
                        out_codes[me].append(((base | move) << TID_BITS) | tid)
                    m += len(entry)
                    continue
                # A violation or a pruned move among them: in order, one by one.
                for delta, label, viol in entry:
                    m += 1
                    if delta is None and viol is None:
                        pruned_mask |= 1 << tid
                        continue
                    moved += 1
                    if viol is not None:
                        report.events.append(Event(r, m - 1, viol[0], viol[1], final_label=label))
                        continue
                    route(key ^ delta, delta, ((base | (m - 1)) << TID_BITS) | tid)
            if not use_memo or rogue:
                # Every move (not memoised), or the rogue's (which depend on the postmaster's next read).
                if s is None:
                    s = unpack(key)
                out.clear()
                if not use_memo:
                    engine.successors(s, out)
                else:
                    engine.rogue_successors(s, out)
                for label, nxt, viol in out:
                    tid = label[0]
                    any_move = True
                    if tid == 0:
                        pm_moves = True
                    m += 1
                    if nxt is None and viol is None:
                        pruned_mask |= 1 << tid
                        continue
                    moved += 1
                    if viol is not None:
                        report.events.append(Event(r, m - 1, viol[0], viol[1], final_label=label))
                        continue
                    nk = pack(nxt, s, key)
                    route(nk, nk ^ key, ((base | (m - 1)) << TID_BITS) | tid)
            if m > _AFTER_EVERY_MOVE:
                raise ModelError(f"a state has {m} moves; the partitioned search handles fewer than "
                                 f"{_AFTER_EVERY_MOVE}")
            per_state.append(moved)
            report.transitions += moved
            if pruned_mask and self.liveness:
                self.pruned[r] = pruned_mask
            if not any_move:
                if s is None:
                    s = unpack(key)
                if not all(engine.halted(s, t) for t in engine.program_tids) and DEADLOCK in checked:
                    report.events.append(Event(r, _AFTER_EVERY_MOVE, DEADLOCK, _stuck_message(engine, s)))
            elif rogue and not pm_moves and DEADLOCK in checked:
                if s is None:
                    s = unpack(key)
                if not engine.halted(s, 0):
                    report.events.append(Event(r, _AFTER_EVERY_MOVE, DEADLOCK,
                                               "the postmaster cannot take its next step"))
        self._transitions_by_frontier = per_state
        self._known_edges = (known_at, known_dst)
        batches: list = []
        components = self.wire.new_components()
        for j in range(self.nshards):
            if j == self.index:  # stays in this process: no encoding
                batches.append(own_first if own_first is not None else (out_keys[j], out_codes[j]))
            else:
                blob = self.wire.encode(components, out_keys[j], out_codes[j])
                report.sent_bytes += len(blob)
                report.sent_states += len(out_keys[j])
                batches.append(blob)
        report.rss = _rss()
        report.reordering_bound = engine.mm.reordering_bound()
        report.cpu = time.process_time() - cpu0
        return (report, *batches)

    def receive(self, *batches) -> ReceiveReport:
        """Successors sent to this shard: the new ones, each with the first move that reached it."""
        from checker import memlimit

        cpu0 = time.process_time()
        seen = self.seen
        # This shard's own successors come deduplicated (a dict: key -> first
        # code) when no edges are kept; the others' are merged into them.
        own = next((b for b in batches if isinstance(b, dict)), None)
        first: dict = own if own is not None else {}
        # With edges: one into a state this shard has is complete here, from
        # the one lookup; one into a new state waits for its rank (commit).
        edges = _ReceivedEdges(array("q"), array("q"), [], array("q")) if self.liveness else None
        rank = self.rank
        n = 0
        for sender, batch in enumerate(batches):
            if batch is own:
                n += len(own)
                continue
            bkeys, bcodes = batch if isinstance(batch, tuple) else self.wire.decode(sender, batch)
            n += len(bkeys)
            memlimit.check(self.memory_limit)
            if edges is None:
                for key, code in zip(bkeys, bcodes):
                    if key not in seen:
                        c = first.get(key)
                        if c is None or code < c:
                            first[key] = code
                continue
            at_known, dst_known = edges.at_known, edges.dst_known
            new_keys, new_codes = edges.new_keys, edges.new_codes
            for key, code in zip(bkeys, bcodes):
                li = seen.get(key)
                if li is None:
                    c = first.get(key)
                    if c is None or code < c:
                        first[key] = code
                    new_keys.append(key)
                    new_codes.append(code)
                else:
                    at_known.append(code >> TID_BITS)
                    dst_known.append(rank[li] << TID_BITS | (code & 15))
        # The new states in sort-code order, and their codes: built by C-level
        # sorted/map rather than a Python loop over (key, code) pairs, since
        # this runs once per new state (as does commit's bookkeeping).
        new_keys = sorted(first, key=first.__getitem__)
        codes = array("q", map(first.__getitem__, new_keys))
        report = ReceiveReport(codes.tobytes())
        check_state, unpack = self.engine.check_state, self.packer.unpack
        cache = self._move_cache
        checking = self.engine.check_conservation
        if checking:
            # A state some thread is inside an operation in is not quiescent:
            # check_state has nothing to check there, and the key says so unpacked.
            quiet = itertools.filterfalse(cache.busy, new_keys) if cache is not None else new_keys
            for key in quiet:
                v = check_state(unpack(key))
                if v is not None:
                    code = first[key]
                    move = (code >> TID_BITS) & _AFTER_EVERY_MOVE
                    report.events.append(Event(code >> (TID_BITS + MOVE_BITS), move, v[0], v[1], state_code=code))
        self._pending = (new_keys, codes, edges)
        report.cpu = time.process_time() - cpu0
        return report

    def commit(self, ranks_b: bytes) -> float:
        """The new states' global ranks (in the order receive() returned them): they become the frontier.

        Returns the CPU seconds it took (part of the level's critical path)."""
        cpu0 = time.process_time()
        ranks = array("q")
        ranks.frombytes(ranks_b)
        new_keys, codes, edges = self._pending
        self._pending = None
        seen, keys = self.seen, self.keys
        start = len(keys)
        frontier = range(start, start + len(new_keys))
        seen.update(zip(new_keys, frontier))
        keys.extend(new_keys)
        self.rank.extend(ranks)
        self.parent.extend(map(operator.rshift, codes, itertools.repeat(TID_BITS + MOVE_BITS)))
        if edges is not None:
            rank = self.rank
            e_at, e_dst = self.e_at, self.e_dst
            e_at.extend(self._known_edges[0])
            e_dst.extend(self._known_edges[1])
            e_at.extend(edges.at_known)
            e_dst.extend(edges.dst_known)
            e_at.extend([code >> TID_BITS for code in edges.new_codes])
            e_dst.extend([rank[seen[key]] << TID_BITS | (code & 15)
                          for key, code in zip(edges.new_keys, edges.new_codes)])
        self.frontier = frontier
        self.depth += 1
        return time.process_time() - cpu0

    def discard_pending(self) -> None:
        self._pending = None

    # -- outcomes traded at level ends (Ray's actors; _level trades the workers') --

    def trades_outcomes(self) -> bool:
        return self.shares_outcomes

    def offer_outcomes(self) -> tuple[bytes | None, int]:
        """(what the model learnt since the last offer, its size in bytes).

        Two values, which Ray returns as two objects (``num_returns=2``): the
        coordinator fetches the size for the message count and passes the
        offer on to the other actors without fetching it.
        """
        blob = self.engine.mm.outcomes_to_share() if self.shares_outcomes else None
        return blob, len(blob) if blob else 0

    def adopt_outcomes(self, sender: int, blob: bytes | None) -> None:
        """Another shard's offer, before this shard's next level (each sender's offers in order)."""
        if blob:
            self.engine.mm.adopt_outcomes(sender, blob)

    def cpu(self) -> float:
        """This process's CPU seconds so far."""
        return time.process_time()

    # -- questions after a level -----------------------------------------

    def transitions_up_to(self, last_rank: int) -> int:
        """Transitions of the frontier states of rank <= last_rank (a search stopped inside a level)."""
        total = 0
        for li, t in zip(self.frontier, self._transitions_by_frontier):
            if self.rank[li] <= last_rank:
                total += t
        return total

    def owner_of(self, state) -> int:
        """``state``: as state_to_wire gives it."""
        return self.owner(self.packer.pack(state_from_wire(self.engine.mm, state)))

    def add_initial(self, state) -> None:
        """``state``: as state_to_wire gives it."""
        key = self.packer.pack(state_from_wire(self.engine.mm, state))
        self.seen[key] = 0
        self.keys.append(key)
        self.rank.append(0)
        self.parent.append(-1)
        self.frontier = [0]

    def stats(self, below_rank: int) -> dict:
        """This shard's figures; the postmaster's most steps over its states of rank < below_rank only
        (where one process stopped, at a first violation)."""
        from checker.search import _bytes_per_state, _max_steps

        counted = self.keys
        # A level committed in full may hold states past where one process stopped.
        if self.rank and max(self.rank) >= below_rank:
            counted = [k for k, r in zip(self.keys, self.rank) if r < below_rank]
        return {"states": len(self.keys), "rss": _rss(), "cpu": time.process_time(),
                # A shard keeps each state's global rank where one process keeps its depth;
                # its move memo counts as one process's does (checker.search.explore_compact).
                "bytes": _bytes_per_state(self.packer, self.keys, self.parent, self.rank) * len(self.keys)
                + (self._move_cache.bytes() if self._move_cache is not None else 0),
                "max_steps": _max_steps(self.engine, self.packer, counted)}

    def _tables(self) -> list:
        p = self.packer
        return [p.mem.items, p.ghost.items, p.pending.items, p.thread.items]

    def states_at(self, ranks) -> dict:
        """rank -> (state as state_to_wire gives it, parent rank) for those of ``ranks`` this shard owns."""
        if self._local_of_rank is None or len(self._local_of_rank) != len(self.rank):
            self._local_of_rank = dict(zip(self.rank, range(len(self.rank))))
        found = {}
        for r in ranks:
            li = self._local_of_rank.get(r)
            if li is not None:
                found[r] = (state_to_wire(self.engine.mm, self.packer.unpack(self.keys[li])), self.parent[li])
        return found

    def gather(self, below_rank: int, edges_up_to: int, whole: bool = True):
        """Every state of rank < below_rank, with parents; the edges from sources <= edges_up_to; pruned.

        ``whole=False``: of each state, only its postmaster's thread tuple (an
        id into this shard's thread table, sent along), which is all the cycle
        analysis reads of every state (see _ShardStates).
        """
        rank, keys, parent = self.rank, self.keys, self.parent
        sel = [li for li in range(len(keys)) if rank[li] < below_rank]
        if whole:
            doc = {"tables": self.wire.tables_out(self._tables()), "keys": [keys[li] for li in sel]}
        else:
            shift = 96  # thread 0's field (search.PackedStates)
            doc = {"pm_table": [self.engine.mm.values_to_wire(t) for t in self.packer.thread.items],
                   "pm": array("I", [(keys[li] >> shift) & _M32 for li in sel]).tobytes()}
        doc.update({
               "ranks": array("q", (rank[li] for li in sel)).tobytes(),
               "parents": array("q", (parent[li] for li in sel)).tobytes(),
               "pruned": {r: m for r, m in self.pruned.items() if r <= edges_up_to}})
        limit = (edges_up_to + 1) << MOVE_BITS
        if not self.e_at or max(self.e_at) < limit:
            doc["e_at"], doc["e_dst"] = self.e_at.tobytes(), self.e_dst.tobytes()
        else:
            sel_e = [i for i, a in enumerate(self.e_at) if a < limit]
            doc["e_at"] = array("q", (self.e_at[i] for i in sel_e)).tobytes()
            doc["e_dst"] = array("q", (self.e_dst[i] for i in sel_e)).tobytes()
        return doc

    # -- checkpoints ---------------------------------------------------------

    def save(self, path: str) -> None:
        import pickle

        doc = {"tables": self.wire.tables_out(self._tables()), "keys": self.keys, "rank": self.rank,
               "parent": self.parent, "e_at": self.e_at, "e_dst": self.e_dst, "pruned": self.pruned, "index": self.index}
        _write_atomic(path, lambda f: pickle.dump(doc, f, protocol=pickle.HIGHEST_PROTOCOL))

    def load(self, paths: list[str], level_start: int, depth: int) -> None:
        """Take the states this shard owns from every shard file of a checkpoint (any number of shards)."""
        import pickle

        for old_index, path in enumerate(paths):
            with open(path, "rb") as f:
                doc = pickle.load(f)
            adopted = self.wire.adopt(doc["tables"], doc["keys"])
            owner = self.wire.owner
            for nk, r, par in zip(adopted, doc["rank"], doc["parent"]):
                if owner(nk) != self.index:
                    continue
                li = len(self.keys)
                self.seen[nk] = li
                self.keys.append(nk)
                self.rank.append(r)
                self.parent.append(par)
            if old_index % self.nshards == self.index:
                self.e_at.extend(doc["e_at"])
                self.e_dst.extend(doc["e_dst"])
                self.pruned.update(doc["pruned"])
        order = sorted((li for li in range(len(self.keys)) if self.rank[li] >= level_start),
                       key=lambda li: self.rank[li])
        self.frontier = order
        self.depth = depth


def _lasso_free(engine, liveness: bool) -> bool:
    """True when no cycle analysis can run, so edges need not be kept."""
    checked = engine.system.checked
    return not liveness or (DEADLOCK not in checked and WAIT_FREEDOM not in checked)


def _rss() -> int:
    from checker.memlimit import resident_bytes

    return resident_bytes() or 0


def _write_atomic(path: str, write) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # A write cut short (a full disk, a second Ctrl-C) leaves no stray file behind.
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------
# Transports


class LocalShards:
    """One shard in this process (``--checkpoint`` without ``--workers``)."""

    def __init__(self, spec, n, liveness, max_depth, memory_limit, engine=None) -> None:
        self.n = n
        self.shards = [Shard(spec, i, n, liveness, max_depth, memory_limit, engine) for i in range(n)]
        self.description = "1 shard in this process"

    def call(self, i: int, method: str, *args):
        return getattr(self.shards[i], method)(*args)

    def call_all(self, method: str, args_per_shard=None):
        return [self.call(i, method, *(args_per_shard[i] if args_per_shard else ())) for i in range(self.n)]

    def expand_and_receive(self):
        expanded = self.call_all("expand")
        reports = [e[0] for e in expanded]
        received = self.call_all("receive", [[e[1 + j] for e in expanded] for j in range(self.n)])
        return reports, received

    def close(self) -> None:
        self.shards = []


def _worker_main(conn, peers, spec, index, n, liveness, max_depth, memory_limit, engine) -> None:  # pragma: no cover
    # The coordinator alone answers Ctrl-C and SIGTERM: it lets the current
    # step finish, writes the checkpoint and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A shard holds acyclic tuples and ints only, as the one-process search
    # (checker.search) does: the collector could only walk them in vain
    # (≈ 10 % of a worker's CPU on ring, 4 threads).  For the worker's
    # life: it is never resumed.
    pause_collector()
    try:
        shard = Shard(spec, index, n, liveness, max_depth, memory_limit, engine, share_outcomes=True)
        conn.send(("ok", None))
    except Exception as exc:  # noqa: BLE001 - reported to the coordinator as one line
        conn.send(("error", _one_line(exc)))
        return
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        method, args = msg
        try:
            if method == "level":
                reply = ("ok", _level(shard, peers))
            else:
                reply = ("ok", getattr(shard, method)(*args))
        except PeerLost as exc:
            reply = ("peer", str(exc))
        except MemoryError as exc:
            reply = ("memory", str(exc) or "out of memory")
        except ModelError as exc:
            reply = ("model", str(exc))
        except Exception as exc:  # noqa: BLE001
            reply = ("error", _one_line(exc))
        conn.send(reply)


class PeerLost(Exception):
    """Another worker's pipe closed mid-level: it died (the coordinator says which and how)."""


# The first byte of every message between two workers in a level: the
# memory model's outcomes (at each trade, and the rest before the batch), or
# the batch.
# An empty message says the sender could not expand its states.
_OUTCOMES, _BATCH = b"O", b"B"


def _level(shard, peers: dict):
    """One BFS level in a worker: expand, trade batches with the other workers directly, receive.

    The batches never pass through the coordinator: each goes down the pipe
    between its sender and its owner.  Each pipe is written by a thread of
    its own, fed by a queue, so that two workers sending each other more than
    a pipe holds cannot wait on each other; the main thread meanwhile reads
    what is sent here.  When the memory model shares outcomes, the expansion
    also sends what it learnt every _EXCHANGE_EVERY states and takes what the
    others sent so far: a thread state new in this level then costs one
    worker its outcomes, not every worker that meets it.  The rest of the
    level's outcomes go just ahead of the batch, so every worker has them
    all before its next level.
    Returns what the coordinator needs: (ExpandReport, ReceiveReport).
    """
    import queue
    import threading

    failed: list = []
    outbox = {j: queue.SimpleQueue() for j in peers}

    def pump(j):
        """Writes what is queued for worker j into its pipe, in order, until None; after a failure, drops it."""
        box, broken = outbox[j], False
        while (msg := box.get()) is not None:
            if broken:
                continue
            try:
                peers[j].send_bytes(msg)
            except OSError as exc:
                failed.append(f"worker {j}'s pipe closed ({exc.strerror or exc})")
                broken = True

    senders = [threading.Thread(target=pump, args=(j,), daemon=True) for j in sorted(peers)]
    for t in senders:
        t.start()
    incoming: dict = {}  # sender -> its batch (a memoryview past the tag)
    # Senders that will send nothing more this level: their pipe closed, or
    # they could not expand.  Waiting for their batch would wait for ever.
    ended: set = set()
    mm = shard.engine.mm
    traded = 0  # bytes of outcomes sent this level

    def take(j) -> None:
        """One message from worker j: outcomes are adopted, the batch kept."""
        try:
            data = peers[j].recv_bytes()
        except (EOFError, OSError):
            ended.add(j)
            raise PeerLost(f"worker {j}'s pipe closed") from None
        if not data:
            ended.add(j)
            raise PeerLost(f"worker {j} could not expand its states")
        if data[:1] == _OUTCOMES:
            mm.adopt_outcomes(j, memoryview(data)[1:])
        else:
            incoming[j] = memoryview(data)[1:]

    def waiting(j) -> bool:
        return j not in incoming and j not in ended

    def offer() -> None:
        """What the model learnt since the last offer, to every other worker."""
        nonlocal traded
        blob = mm.outcomes_to_share()
        if blob is not None:
            msg = _OUTCOMES + blob
            traded += len(msg) * len(outbox)
            for box in outbox.values():
                box.put(msg)

    def exchange() -> None:
        offer()
        for j, conn in peers.items():
            while waiting(j) and conn.poll():
                take(j)

    def finish() -> None:
        for box in outbox.values():
            box.put(None)
        for t in senders:
            t.join()

    try:
        shard.exchange = exchange if shard.shares_outcomes else None
        try:
            report, *batches = shard.expand()
        finally:
            shard.exchange = None
    except BaseException:
        # The others wait for a batch from here, and send theirs here: an
        # empty message tells them there is none this level, and theirs are
        # read and dropped, so that no worker is left blocked on this one.
        for box in outbox.values():
            box.put(b"")
        finish()
        for j in peers:
            with contextlib.suppress(PeerLost):
                while waiting(j):
                    take(j)
        raise
    if shard.shares_outcomes:
        offer()  # the rest of this level's, ahead of the batch: adopted before the receiver's next level
    for j, box in outbox.items():
        box.put(_BATCH + batches[j])
    report.sent_bytes += traded
    try:
        for j in sorted(peers):
            try:
                while waiting(j):
                    take(j)
            except PeerLost as exc:
                failed.append(str(exc))
    finally:
        finish()
    if failed:
        raise PeerLost(failed[0])
    return report, shard.receive(*(incoming.get(j, b) for j, b in enumerate(batches)))


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


class WorkerMemoryError(MemoryError):
    pass


class WorkerDied(SearchAborted):
    pass


class PeerFailed(SearchAborted):
    """A worker stopped because another one died or failed in the same level (see _level)."""


def _mesh_worker(conn, mesh, spec, index, n, *rest) -> None:  # pragma: no cover - child
    # A forked worker inherits every pipe of the mesh; it keeps its own ends
    # only, so that each pipe is held by exactly its two workers.
    for i, ends in enumerate(mesh):
        if i != index:
            for c in ends.values():
                c.close()
    peers = mesh[index]
    _worker_main(conn, peers, spec, index, n, *rest)


class ProcessShards:
    """One worker process per shard; batches go from worker to worker, the coordinator only steps the levels."""

    def __init__(self, spec, n, liveness, max_depth, memory_limit, engine) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        self.n = n
        self.conns, self.procs = [], []
        self.description = f"{n} worker processes"
        self._busy = [False] * n
        # One pipe between every two workers, for the batches (see _level).
        mesh: list[dict] = [{} for _ in range(n)]
        for i, j in itertools.combinations(range(n), 2):
            mesh[i][j], mesh[j][i] = ctx.Pipe()
        for i in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=_mesh_worker, args=(child, mesh, spec, i, n, liveness, max_depth, memory_limit,
                                                       engine), daemon=True, name=f"slotcheck-shard-{i}")
            p.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(p)
        # The workers hold their ends: a worker that dies then closes its
        # pipes for good, and the others see end-of-file instead of waiting.
        for ends in mesh:
            for c in ends.values():
                c.close()
        for i in range(n):
            self._busy[i] = True
            self._reply(i)

    def _lost(self, i: int) -> SearchAborted:
        p = self.procs[i]
        p.join(timeout=2)
        code = p.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return WorkerDied(f"worker {i} (pid {p.pid}) died ({how}); the search cannot go on without its states")

    def _reply(self, i: int):
        try:
            status, value = self.conns[i].recv()
        except (EOFError, OSError):
            self._busy[i] = False
            raise self._lost(i) from None
        self._busy[i] = False
        if status == "ok":
            return value
        if status == "memory":
            raise WorkerMemoryError(f"worker {i}: {value}")
        if status == "model":
            raise ModelError(value)
        if status == "peer":
            raise PeerFailed(f"worker {i}: {value}; the search cannot go on")
        raise SearchAborted(f"worker {i} failed: {value}")

    def _send(self, i: int, method: str, args) -> None:
        try:
            self.conns[i].send((method, args))
        except (BrokenPipeError, OSError):
            raise self._lost(i) from None
        self._busy[i] = True

    # Ctrl-C and SIGTERM are held while a step is under way: a message cut
    # in half would leave the pipe unreadable.  They take effect (as
    # KeyboardInterrupt) as soon as the step's replies are in.

    def call(self, i: int, method: str, *args):
        with deferred_signals():
            self._send(i, method, args)
            return self._reply(i)

    def call_all(self, method: str, args_per_shard=None):
        with deferred_signals():
            for i in range(self.n):
                self._send(i, method, tuple(args_per_shard[i]) if args_per_shard else ())
            replies = []
            failures: list = []
            for i in range(self.n):
                # Every reply is read, even after a failure, so that no
                # worker is left owing one.
                try:
                    replies.append(self._reply(i))
                except (SearchAborted, MemoryError, ModelError) as exc:
                    failures.append(exc)
            if failures:
                # A worker that died or failed is the cause; the others only
                # saw its pipes close or its batches missing.
                failures.sort(key=lambda f: 0 if isinstance(f, WorkerDied) else 2 if isinstance(f, PeerFailed) else 1)
                raise failures[0]
            return replies

    def expand_and_receive(self):
        # One round trip: the batches go from worker to worker (_level).
        done = self.call_all("level")
        return [d[0] for d in done], [d[1] for d in done]

    def drain(self) -> None:
        """Wait for the replies still owed (after an interrupt), so that the shards are idle."""
        for i in range(self.n):
            if self._busy[i]:
                try:
                    self._reply(i)
                except (SearchAborted, MemoryError, ModelError):
                    pass

    def close(self) -> None:
        for c in self.conns:
            try:
                c.send(None)
            except OSError:
                pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        for c in self.conns:
            c.close()
        self.conns, self.procs = [], []


# ---------------------------------------------------------------------------
# The coordinator


@dataclass
class _Progress:
    """What the coordinator knows between levels (and writes into a checkpoint)."""

    states: int = 1
    transitions: int = 0
    level_start: int = 0  # rank of the first state of the frontier
    depth: int = 0  # depth of the frontier
    max_depth: int = 0
    events: list = field(default_factory=list)  # violations by rank (keep-going), in one-process order
    cut_by: set = field(default_factory=set)
    cut: bool = False
    elapsed: float = 0.0
    sent_bytes: int = 0
    sent_states: int = 0
    finished: bool = False
    critical_cpu: float = 0.0  # sum over levels of the slowest shard's CPU seconds
    stop_rank: int | None = None  # stop-at-first: the state whose expansion violated
    stop_states: int | None = None
    # Weak's safety cap, hit by some shard in a committed level.  Kept here,
    # in the checkpoint, because the processes that hit it are gone after
    # --resume and the levels they cut are not expanded again.
    reordering_bound: int | None = None


def explore_partitioned(engine, opts, res) -> None:
    """The search of :func:`checker.explore.explore`, partitioned over shards; fills ``res``."""
    from checker import checkpoint as ckpt

    par: ParallelOptions = opts.parallel
    if opts.symmetry or opts.storage == "fingerprint":
        raise ModelError("--workers, --ray and --checkpoint work with the default compact storage only "
                         "(not with --symmetry or --fingerprint)")
    if opts.max_states is not None:
        raise ModelError("--max-states stops inside a BFS level; the partitioned search stops at level "
                         "boundaries (use --max-depth)")
    if par.spec is None:
        raise ModelError("the partitioned search needs an engine description (EngineSpec)")
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    n = par.workers
    liveness = opts.liveness
    identity = ckpt.identity(par.spec, opts)
    resume = ckpt.open_resume(par.resume_dir, identity) if par.resume_dir else None
    checkpoint_dir = par.checkpoint_dir or par.resume_dir
    if checkpoint_dir:
        ckpt.prepare_dir(checkpoint_dir, identity, resuming=resume is not None)
    # Worker processes share the limit with the coordinator; one shard runs in this process.
    in_process = n == 1 and not par.ray_address
    share = par.memory_limit
    if share is not None and not in_process:
        share = max(share // (n + 1), 1 << 20)
    if par.ray_address:
        from checker.ray_search import RayShards

        shards = RayShards(par.ray_address, par.spec, n, liveness, opts.max_depth, share)
    elif not in_process:
        shards = ProcessShards(par.spec, n, liveness, opts.max_depth, share, engine)
    else:
        shards = LocalShards(par.spec, 1, liveness, opts.max_depth, share, engine)
    res.workers = shards.n
    try:
        _coordinate(engine, opts, res, shards, identity, resume, checkpoint_dir, t0)
    finally:
        shards.close()
    res.coordinator_cpu = time.process_time() - cpu0


def _coordinate(engine, opts, res, shards, identity, resume, checkpoint_dir, t0) -> None:
    from checker import checkpoint as ckpt
    from checker.explore import interruption, out_of_memory

    system = engine.system
    checked = system.checked
    n = shards.n
    if resume is not None:
        prog = resume.progress
        paths = resume.shard_paths
        shards.call_all("load", [(paths, prog.level_start, prog.depth)] * n)
        t0 -= prog.elapsed
    else:
        prog = _Progress()
        init = engine.initial()
        sent = state_to_wire(engine.mm, init)
        shards.call(shards.call(0, "owner_of", sent), "add_initial", sent)
        v0 = engine.check_state(init)
        if v0 is not None and v0[0] in checked:
            prog.events.append(Event(-1, 0, v0[0], v0[1]))
            if opts.stop_on_first:
                prog.stop_rank, prog.stop_states = -1, 1
                prog.finished = True
    last_checkpoint = time.perf_counter()
    pause_after = _test_pause_level()
    stepped = [0.0] * n  # each shard's CPU seconds in the levels' steps (counted in the critical path)
    stop_reason = ""
    aborted = False  # interrupted or out of memory: no analysis of the partial graph
    frontier = prog.states - prog.level_start
    if not frontier:
        prog.finished = True
    try:
        while not prog.finished:
            reports, received = shards.expand_and_receive()
            codes = [array("q") for _ in range(n)]
            for i, r in enumerate(received):
                codes[i].frombytes(r.codes)
            ranks, merged = _rank(codes, prog.states)
            # One process records a property's first violation in discovery
            # order: by the expanded state's rank, then by move.
            level_events = sorted([e for r in reports for e in r.events] + [e for r in received for e in r.events],
                                  key=lambda e: (e.rank, e.move))
            for e in level_events:
                if e.state_code is not None:
                    e.state_code = prog.states + _index_of(merged, e.state_code)
            stop_at = None
            if opts.stop_on_first:
                stop_at = next((e.rank for e in level_events if e.prop in checked), None)
            stop_transitions = 0
            if stop_at is not None:
                # Count what one process had explored when it stopped: the
                # expansions up to that state, and the states they found.
                stop_transitions = sum(shards.call_all("transitions_up_to", [(stop_at,)] * n))
            with deferred_signals():
                committed = shards.call_all("commit", [(ranks[i].tobytes(),) for i in range(n)])
                new = len(merged)
                if stop_at is not None:
                    kept = _count_up_to(merged, stop_at)
                    prog.transitions += stop_transitions
                    prog.cut_by |= {e.prop for e in level_events if e.final_label is not None and e.rank <= stop_at}
                    prog.events += [e for e in level_events if e.rank == stop_at]
                    prog.stop_rank, prog.stop_states = stop_at, prog.states + kept
                    if kept:
                        prog.max_depth = prog.depth + 1
                    prog.states += new
                    prog.finished = True
                else:
                    prog.transitions += sum(r.transitions for r in reports)
                    prog.cut_by |= {e.prop for e in level_events if e.final_label is not None}
                    prog.events += level_events
                    prog.level_start = prog.states
                    prog.states += new
                    if new:
                        prog.max_depth = prog.depth + 1
                    prog.depth += 1
                    prog.finished = new == 0
                prog.cut = prog.cut or any(r.cut for r in reports)
                hit = [b for b in [prog.reordering_bound] + [r.reordering_bound for r in reports] if b is not None]
                prog.reordering_bound = max(hit, default=None)
                prog.sent_bytes += sum(r.sent_bytes for r in reports)
                prog.sent_states += sum(r.sent_states for r in reports)
                # A level lasts as long as its slowest shard's expansion, then its slowest receiver.
                prog.critical_cpu += max(r.cpu for r in reports) + max(r.cpu for r in received) + max(committed)
                for i in range(n):
                    stepped[i] += reports[i].cpu + received[i].cpu + committed[i]
                frontier = new
            now = time.perf_counter()
            prog.elapsed = now - t0
            if opts.progress is not None:
                opts.progress({"states": prog.states, "transitions": prog.transitions, "queue": frontier,
                               "depth": prog.depth, "elapsed": now - t0, "workers": n,
                               "worker_rss": max((r.rss for r in reports), default=0)})
            if checkpoint_dir and not prog.finished and now - last_checkpoint >= opts.parallel.checkpoint_every:
                ckpt.write(checkpoint_dir, identity, shards, prog)
                last_checkpoint = time.perf_counter()
            if pause_after == prog.depth and not prog.finished:
                _pause_for_test(shards, prog.depth)
    except KeyboardInterrupt as exc:
        stop_reason, aborted = interruption(exc), True
    except MemoryError as exc:
        stop_reason, aborted = out_of_memory(exc), True
    if aborted:
        if hasattr(shards, "drain"):
            shards.drain()
        shards.call_all("discard_pending")
        prog.elapsed = time.perf_counter() - t0
        if checkpoint_dir:
            ckpt.write(checkpoint_dir, identity, shards, prog)
            stop_reason += f"; checkpoint written to {checkpoint_dir} (continue with --resume {checkpoint_dir})"
    _finish(engine, opts, res, shards, prog, stop_reason, aborted, t0, stepped)
    if checkpoint_dir and not aborted:
        ckpt.write(checkpoint_dir, identity, shards, prog)


PAUSE_ENV = "SLOTCHECK_TEST_PAUSE_AFTER_LEVEL"


def _test_pause_level() -> int | None:
    """The level after which a test wants the search held (``SLOTCHECK_TEST_PAUSE_AFTER_LEVEL``), or None."""
    value = os.environ.get(PAUSE_ENV)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ModelError(f"{PAUSE_ENV} takes a BFS level (a number), not {value!r}") from None


def _pause_for_test(shards, depth: int) -> None:
    """Hold the search at a level boundary until a signal comes: SIGUSR1 goes on, SIGINT/SIGTERM act as usual.

    A test hook: a test that interrupts a search, or kills a worker, needs the
    search to be somewhere definite when it does so, however fast the machine
    is; a search that could finish first would make the test depend on
    timing.  The line on stderr says where the search is held and gives the
    worker processes' pids (none listed: the shards run in this process).
    """
    # Not sigwait: the mask it needs is per thread, and a thread this process
    # did not start (numpy's BLAS pool) leaves the signals unblocked, so the
    # kernel may hand a process-directed SIGTERM to that thread and sigwait in
    # the main thread waits for ever.  A Python handler sees the signal
    # whichever thread the kernel picks: the main thread runs it at its next
    # poll.  SIGUSR1 (go on) gets one for the pause, installed before the line
    # is written, so a signal sent as soon as the test reads it is not missed;
    # SIGINT and SIGTERM keep the program's handlers, which raise
    # KeyboardInterrupt or Terminated from here, at the level boundary.
    go_on: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: go_on.append(signum))
    try:
        pids = " ".join(str(p.pid) for p in getattr(shards, "procs", []))
        os.write(2, f"checker: test hook: held after level {depth}; workers: {pids}\n".encode())
        while not go_on:
            time.sleep(0.02)  # a poll interval, not a deadline: the hold lasts until a signal
    finally:
        signal.signal(signal.SIGUSR1, previous)


def _finish(engine, opts, res, shards, prog, stop_reason, aborted, t0, stepped) -> None:
    from checker.explore import Counterexample, _path, analyse_cycles, first_violation_stop, partial_lasso
    from checker.search import _LazyStates, _RebuiltLabels

    system = engine.system
    checked = system.checked
    violations = res.violations
    res.cut_by = set(prog.cut_by)
    stopped_early = prog.stop_rank is not None
    nstates = prog.stop_states if stopped_early else prog.states
    res.states = nstates
    res.transitions = prog.transitions
    res.max_depth = prog.max_depth
    events = [e for e in prog.events if e.prop in checked]
    stop_reason = stop_reason or first_violation_stop(opts, events)
    res.complete = prog.finished and not prog.cut and not stop_reason
    if not res.complete and not stop_reason:
        stop_reason = f"depth limit {opts.max_depth} reached" if prog.cut else "stopped"
    res.stop_reason = stop_reason
    stats = shards.call_all("stats", [(nstates,)] * shards.n)
    res.max_postmaster_steps = max(s["max_steps"] for s in stats)
    if prog.reordering_bound is not None and res.reordering_bound is None:
        res.reordering_bound = prog.reordering_bound
    res.storage = "compact"
    res.bytes_per_state = sum(s["bytes"] for s in stats) / max(1, sum(s["states"] for s in stats))
    res.worker_rss = [s["rss"] for s in stats]
    res.worker_states = [s["states"] for s in stats]
    res.worker_cpu = [s["cpu"] for s in stats]
    res.critical_path_cpu = prog.critical_cpu
    res.message_bytes = prog.sent_bytes
    res.message_bytes_per_successor = prog.sent_bytes / max(1, prog.sent_states)
    keep_edges = not _lasso_free(engine, opts.liveness)
    lasso_partial = (keep_edges and engine.lasso_only and WAIT_FREEDOM in checked and not aborted
                     and not any(e.prop == WAIT_FREEDOM for e in events))
    needs_graph = keep_edges and (res.complete or lasso_partial)
    if events and not needs_graph:
        # The counterexamples only: their states are fetched from their
        # owners along the parent ranks, a few per step, not the whole graph.
        states, parent = _ShardPaths(shards, engine.mm), {}
        states.parent = parent
        labels = _RebuiltLabels(engine, states, parent)
        for e in events:
            if e.prop not in violations:
                idx = e.state_code if e.state_code is not None else max(e.rank, 0)
                lab, path = _path(states, parent, labels, states.fetch(idx))
                violations[e.prop] = Counterexample(e.prop, e.message, lab, path, e.final_label)
    elif needs_graph:
        if stopped_early:
            expanded_up_to = prog.stop_rank
        elif prog.finished:
            expanded_up_to = nstates - 1
        else:
            expanded_up_to = prog.level_start - 1
        light = _gather_light(shards, engine, nstates, expanded_up_to)
        if light is not None:
            states, parent, edges, pruned = light
        else:
            packer, keys, parent, edges, pruned = _gather(shards, engine, nstates, expanded_up_to, keep_edges)
            states = _LazyStates(keys, packer)
        labels = _RebuiltLabels(engine, states, parent)
        for e in events:
            if e.prop in violations:
                continue
            idx = e.state_code if e.state_code is not None else max(e.rank, 0)
            lab, path = _path(states, parent, labels, idx)
            violations[e.prop] = Counterexample(e.prop, e.message, lab, path, e.final_label)
        if res.complete and edges is not None:
            analyse_cycles(engine, states, edges, parent, labels, res, pruned, opts.memory_limit)
        elif lasso_partial and edges is not None and WAIT_FREEDOM not in violations:
            partial_lasso(engine, states, edges, parent, labels, res, opts.memory_limit)
    if not isinstance(shards, LocalShards):
        # What the workers did besides the levels' steps (starting, these
        # figures, the gathering): the slowest worker's share is on the path too.
        res.worker_cpu = shards.call_all("cpu")
        res.critical_path_cpu += max(c - s for c, s in zip(res.worker_cpu, stepped))
    res.elapsed = time.perf_counter() - t0


class _ShardPaths(dict):
    """The states of counterexample paths by rank, each asked of the shard that owns it.

    ``fetch(rank)`` brings the state and its ancestors to the initial state
    (one question to every shard per step: a shard knows its ranks, not the
    others') and fills ``parent`` for them; it returns ``rank``.
    """

    parent: dict

    def __init__(self, shards, mm) -> None:
        super().__init__()
        self.shards, self.mm = shards, mm

    def fetch(self, rank: int) -> int:
        r = rank
        while r >= 0 and r not in self:
            found: dict = {}
            for part in self.shards.call_all("states_at", [([r],)] * self.shards.n):
                found.update(part)
            if r not in found:
                raise RuntimeError(f"no shard holds the state of rank {r}")  # pragma: no cover
            state, self.parent[r] = found[r]
            self[r] = state_from_wire(self.mm, state)
            r = self.parent[r]
        return rank


def _gather(shards, engine, nstates: int, expanded_up_to: int, keep_edges: bool):
    """Every state below rank ``nstates`` into this process, indexed by rank, with the graph."""
    from checker.search import packer_for

    packer, _memoised = packer_for(engine)  # the shards' layout
    wire = Wire(packer, engine.nthreads, 1, engine.mm)
    keys: list = [0] * nstates
    parent = array("l", [-1]) * nstates
    at, dst = array("q"), array("q")
    pruned: dict = {}
    for doc in shards.call_all("gather", [(nstates, expanded_up_to)] * shards.n):
        ranks, parents = array("q"), array("q")
        ranks.frombytes(doc["ranks"])
        parents.frombytes(doc["parents"])
        for key, r, p in zip(wire.adopt(doc["tables"], doc["keys"]), ranks, parents):
            keys[r] = key
            parent[r] = p
        at.frombytes(doc["e_at"])
        dst.frombytes(doc["e_dst"])
        pruned.update(doc["pruned"])
    edges = _edge_graph(at, dst, nstates) if keep_edges else None
    return packer, keys, parent, edges, pruned


class _ShardStates:
    """``states[rank]`` for the cycle analysis, with the states left in their shards.

    Of every state the analysis reads only the postmaster's thread tuple
    (``threads_of(0)``: which states are inside an operation, and where one
    restarts), gathered as one id per state; a whole state (a counterexample's,
    a bottom component's first) is asked of its owner when it is read, and kept.
    """

    def __init__(self, shards, mm, nstates: int, pm_items: list, pm_index) -> None:
        self.shards, self.mm, self.n = shards, mm, nstates
        self.pm_items, self.pm_index = pm_items, pm_index
        self.fetched: dict = {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, rank: int):
        if rank not in self.fetched:
            for part in self.shards.call_all("states_at", [([rank],)] * self.shards.n):
                for r, (state, _parent) in part.items():
                    self.fetched[r] = state_from_wire(self.mm, state)
        return self.fetched[rank]

    def threads_of(self, tid: int):
        if tid != 0:
            raise ValueError("only the postmaster's thread tuples are gathered")  # pragma: no cover
        items = self.pm_items
        return (items[j] for j in self.pm_index.tolist())


def _gather_light(shards, engine, nstates: int, expanded_up_to: int):
    """(states, parent, edges, pruned) for the cycle analysis without gathering the states, or None.

    Needs numpy, and a memory model whose ``between_operations`` is the
    default: the postmaster's thread tuple then says all that the lasso search
    reads of a state (checker.explore._postmaster_lasso); otherwise it reads
    every whole state, and _gather brings them.
    """
    from checker.memory.base import MemoryModel

    if type(engine.mm).between_operations is not MemoryModel.between_operations:
        return None
    try:
        import numpy as np
    except ImportError:
        return None
    parent_np = np.full(nstates, -1, dtype=np.int64)
    pm_index = np.zeros(nstates, dtype=np.int64)
    pm_items: list = []
    at, dst = array("q"), array("q")
    pruned: dict = {}
    for doc in shards.call_all("gather", [(nstates, expanded_up_to, False)] * shards.n):
        ranks = np.frombuffer(doc["ranks"], dtype=np.int64)
        parent_np[ranks] = np.frombuffer(doc["parents"], dtype=np.int64)
        # Each shard's thread ids, moved past the tables of the shards before it.
        pm_index[ranks] = np.frombuffer(doc["pm"], dtype=np.uint32).astype(np.int64) + len(pm_items)
        pm_items.extend(map(engine.mm.values_from_wire, doc["pm_table"]))
        at.frombytes(doc["e_at"])
        dst.frombytes(doc["e_dst"])
        pruned.update(doc["pruned"])
    parent = array("l")
    parent.frombytes(parent_np.astype(f"i{parent.itemsize}").tobytes())
    return _ShardStates(shards, engine.mm, nstates, pm_items, pm_index), parent, _edge_graph(at, dst, nstates), pruned


def _edge_graph(at, dst, nstates: int):
    """The gathered edges as one process keeps them (checker.graph.Graph): per state, in the order of its moves.

    ``at`` holds each edge's source rank and move index (``rank << MOVE_BITS | move``), ``dst``
    its target rank and thread; states not expanded have no edges.
    """
    from checker.graph import _NARROW_LIMIT, Graph

    graph = Graph()
    if nstates >= _NARROW_LIMIT:
        graph.widen()
    if len(dst) > 0xFFFFFFFF:
        graph.widen_offsets()
    try:
        import numpy as np
    except ImportError:  # the same, in pure Python (numpy comes with the [ray] and [test] extras)
        order = sorted(range(len(at)), key=at.__getitem__)
        graph.dst.extend(dst[i] for i in order)
        per_state = [0] * nstates
        for a in at:
            per_state[a >> MOVE_BITS] += 1
        graph.off.extend(itertools.accumulate(per_state))
        return graph
    at_np = np.frombuffer(at, dtype=np.int64)
    order = np.argsort(at_np)
    graph.dst.frombytes(np.frombuffer(dst, dtype=np.int64)[order].astype(f"u{graph.dst.itemsize}").tobytes())
    per_state = np.bincount(at_np >> MOVE_BITS, minlength=nstates)
    graph.off.frombytes(np.cumsum(per_state, dtype=np.uint64).astype(f"u{graph.off.itemsize}").tobytes())
    return graph


def _rank(codes: list, offset: int):
    """Sorted sort-keys per shard -> global ranks per shard, and all keys merged."""
    try:
        import numpy as np
    except ImportError:  # the same, a heap merge in Python (numpy comes with the [ray] and [test] extras)
        return _rank_merge(codes, offset)
    # The coordinator's one per-state task: done in C, it stays a small share
    # of the level (the heap merge took ~1 s of CPU for a million states).
    every = np.concatenate([np.frombuffer(c, dtype=np.int64) for c in codes])
    order = np.argsort(every, kind="stable")
    at = np.empty(len(every), dtype=np.int64)
    at[order] = np.arange(offset, offset + len(every), dtype=np.int64)
    ranks, start = [], 0
    for c in codes:
        ranks.append(array("q", at[start:start + len(c)].tobytes()))
        start += len(c)
    merged = array("q", every[order].tobytes())
    return ranks, merged


def _rank_merge(codes: list, offset: int):
    ranks = [array("q") for _ in codes]
    merged = array("q")
    tagged = [zip(cs, itertools.repeat(i)) for i, cs in enumerate(codes)]
    pos = offset
    for c, i in heapq.merge(*tagged):
        ranks[i].append(pos)
        merged.append(c)
        pos += 1
    return ranks, merged


def _index_of(merged, code: int) -> int:
    import bisect

    return bisect.bisect_left(merged, code)


def _count_up_to(merged, last_rank: int) -> int:
    import bisect

    return bisect.bisect_left(merged, (last_rank + 1) << (MOVE_BITS + TID_BITS))


@contextlib.contextmanager
def deferred_signals():
    """SIGINT/SIGTERM wait until the block is done, then act as they would have.

    Used where an exception would leave things half done: a message half read
    from a worker's pipe, a level committed by some shards and not counted.
    """
    held: list = []

    def hold(signum, _frame):
        held.append(signum)

    try:
        old = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: nothing to defer to
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if held:
            handler = old[held[0]]
            if callable(handler):
                handler(held[0], None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(held[0])


def parse_workers(value: str) -> int:
    """``--workers N|auto`` -> N (ValueError with the reason otherwise)."""
    if value.strip().lower() == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"--workers takes a number or 'auto', not {value!r}") from None
    if n < 1:
        raise ValueError("--workers must be at least 1")
    if n > 255:
        raise ValueError("--workers must be at most 255")
    return n


def parallel_options(workers, ray_address, checkpoint_dir, checkpoint_every, resume_dir, engine, protocol, params,
                     mutation, memory_model, profile, engine_kind, memory_limit, max_states):
    """The explore command's --workers/--ray/--checkpoint/--resume, or None for the one-process search."""
    if workers is None and ray_address is None and checkpoint_dir is None and resume_dir is None:
        return None
    n = parse_workers(workers) if workers is not None else None
    if ray_address is not None:
        from checker.ray_search import check_ray

        check_ray(ray_address)
    if max_states is not None:
        raise ValueError("--max-states stops inside a BFS level; it does not combine with --workers, --ray, "
                         "--checkpoint or --resume (use --max-depth)")
    if checkpoint_every <= 0:
        raise ValueError("--checkpoint-every must be more than 0 seconds")
    if n is None:
        n = 2 if ray_address is not None else 1
    spec = EngineSpec(protocol, params, mutation, memory_model, profile, engine_kind,
                      tuple(sorted(getattr(engine, "mm_options", {}).items())))
    return ParallelOptions(workers=n, ray_address=ray_address, checkpoint_dir=checkpoint_dir, resume_dir=resume_dir,
                           checkpoint_every=checkpoint_every, spec=spec, memory_limit=memory_limit)
