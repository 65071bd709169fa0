"""weak: the PostgreSQL contract on a multi-copy-atomic machine (ARMv8-like).

Each thread *fetches* its instructions in program order into a bounded window
and *performs* them out of order against one shared memory (so every store
becomes visible to all other threads at once: multi-copy atomic).  Two entries
of a window are performed in program order only when something orders them:

- the same address (coherence): a later access waits for an earlier one to the
  same address, except that a load may take its value from its thread's own
  latest earlier store to that address before that store is performed;
- a dependency: a load's result is a *pending value* until the load performs;
  an address or a stored value computed from it is not known before then
  (an access waits for its own address; a store also waits until every
  earlier address is known, but a later load does not, see below);
- a fence entry of the right kind in between (the profile says which pairs of
  load/store each fence orders; ``pg_read_barrier`` is load->load only under the
  documented profile, ``pg_write_barrier`` store->store only);
- full barriers (``pg_memory_barrier``, every RMW, LWLock acquire and release,
  ``pg_atomic_write_membarrier_u32``): they are fetched only when the window is
  empty and take effect at once, so nothing passes them either way;
- acquire loads keep later entries behind them, release stores wait for every
  earlier entry;
- an RMW that ``checker fences`` relaxed (``fences.RelaxedRmw``) is one entry
  that reads and writes its word at one point, ordered only as a load and a
  store to that word are: coherence, dependencies, fences (it counts as both a
  load and a store for them), no store before an earlier branch is resolved
  or an earlier address known.  A later load of another word may pass it, and
  so may a later store (ARMv8's ldxr/stxr without acquire or release).

A store is never performed while an earlier branch is unresolved.  A thread
that reaches a branch on a pending value may *guess* its direction, fetch down
the guessed path and perform a load there early (speculation); when the
branch's value becomes known a wrong guess discards the whole state (the
machine would squash and refetch, which the other guess covers).  A guess is
only made together with the early load it enables: guessing and fetching are
invisible, so a guess that performs nothing early would only duplicate states.  Load buffering (a later store
performed before an earlier load) is therefore possible unless a dependency,
a control dependency (stores wait for branches) or a fence orders them.

Fetching is invisible to other threads, so a thread fetches *eagerly*
after each of its steps, as far as its window allows, within the current
operation (a sound partial-order reduction: it only removes interleavings of
steps that commute).  Fetching the first event of an operation is a step of
its own, so that a thread can rest between operations with an empty window,
where conservation is checked; that step is allowed with earlier events
still in flight, so nothing orders one operation's accesses before the
next's.  Fetching a full barrier is a step of its own too.  A *guessed*
path, by contrast, runs on into later operations as the hardware's
speculation does (a load of the next operation may be satisfied before the
branch that ends this one is resolved).  A postmaster that crosses an
operation boundary with events in flight, guessing or not, leaves an
("O", pc) mark, gone once everything before it is performed (two marks with
nothing between them are one: a polling loop run ahead would pile them up),
so the cycle analysis counts it as between operations, neither inside one
nor outside all (a fair run drains the window, so no real lasso is hidden).
Marks order nothing.  Marking every crossing, not only guessed ones, also
merges the states that reached the same point both ways.

An earlier load or store whose address is still unknown does not hold a later
load back (ARMv8 satisfies it early and replays it only if the addresses turn
out the same): the load is performed on the guess that they do not alias, and
the entry it passed records (address, value read) (``_note_passed``).  When
that address becomes known (``_check_passed``): a different word, the guess
was right; a store to the same word, the load read something older than its
own thread's store (CoWR): the state is discarded; a load of the same word
must read the same write (CoRR), so it may only be performed reading that
value (a different write of the same value is accepted: an over-approximation).
Nothing becomes visible on such a guess: stores and split RMWs wait for every
earlier address and for a load still bound to a passed value, and ghost code
and the out-of-range check wait for such entries as for an unresolved branch
(``_guessed_no_alias``).  A load bound to a value that memory no longer holds
(and that no store of its own thread can forward) can never be performed: the
state is discarded at once (``_doomed``), not left as a dead end.

Ghost code runs as soon as every value it reads is known, every earlier
branch is resolved (and every earlier no-alias guess confirmed) and every
earlier ghost block touching the same ghost variables has run: a record of what a thread produces is made no later than the store it
describes can become visible (the store cannot be performed before its
address and value are known), a check of what a thread read runs when the
load is performed, and no bookkeeping ever observes a path the machine would
discard.  Ghost code never orders memory accesses.

The window is unbounded by default: the model is then a sound
over-approximation of PostgreSQL's documented contract and of arm64 (within
the limitations below); docs/memory-models.md gives the argument, including
why cutting a guessed path at a stutter turn of a loop loses nothing (only
the loads that can begin a turn, ``turn_starts``, remember the thread state
they were fetched in: no rule reads it elsewhere).  What a thread can do
next depends only on its locals and window (and the ghost state for
settling), so those outcomes are computed once per thread state and cached
(``speculate``, ``successors``, ``_advance``): the same states and
transitions, for less time.  No-alias records are part of the window, so they
are part of every cache key; the two judgements that read memory (the value a
bound load reads, ``_doomed``) are made outside the caches.
``--window N`` (at most N loads, stores and split RMWs in flight per thread)
is an explicit under-approximation, and every verdict under it says so.

Limitations, stated here and tested: the model is multi-copy atomic, so it
cannot show the IRIW-style behaviours of POWER (non-MCA).  (A later load no
longer waits for an earlier unknown address: that gap is closed, see above and
docs/memory-models.md, 9.)
"""

from __future__ import annotations

import io
import pickle
from typing import Any, NamedTuple

from checker.ir import Expr, GhostIndexError, OutOfRange, Violation, program_expressions, rmw_apply
from checker.memory.base import MemoryModel, settle
from checker.memory.profiles import ALL
from checker.model import MEMORY_SAFETY, ModelError

# With no --window the window is unbounded: a thread fetches as far as its
# program lets it (up to a pending branch, a full barrier or the end), and
# speculation unrolls loops until it can perform nothing new (see _extend).
# SAFETY_CAP only stops a program that would fetch without end (a loop that
# never drains and never waits for a value); if it ever refuses a fetch the
# run says so (reordering_bound) instead of claiming an exhaustive result.
SAFETY_CAP = 64

# Entries kept by the caches of thread-local outcomes (speculate, _advance)
# before they are dropped and rebuilt: a bound on their memory.
ADVANCE_CACHE_ENTRIES = 300_000
# False: compute every outcome afresh (the tests compare the two).
CACHE_OUTCOMES = True
# False: a later load waits for every earlier access whose address is unknown
# (the model before no-alias guesses: it misses ARMv8 behaviours; the tests
# use it to show the litmus tests of the family can fail).
PASS_UNKNOWN_ADDRESSES = True


class _Forgetful(dict):
    """A cache that keeps nothing."""

    def __setitem__(self, key, value):
        pass

# Window entries: one NamedTuple per kind.  They are tuples, so states stay
# hashable and pack and fingerprint as before, and the kind tag is the first
# field, so entries of different kinds never compare equal.  Marshal (the
# parallel search's wire) takes only plain tuples: ``pending_to_wire`` and
# ``pending_from_wire`` convert at that boundary.


class Load(NamedTuple):
    """A load in flight; its result is the pending value ("r", position)."""
    kind: str  # "L"
    pc: int
    index: Any  # an int, or a pending value until the address is known
    acquire: bool
    # The thread's canonical state when it fetched this load behind an
    # unresolved guess (else None): stutter turns (only for turn_starts).
    at: tuple | None
    # Sorted (address, value) pairs of the later loads performed while this
    # entry's address was unknown (a guess that they do not alias; see
    # _check_passed).
    passed: tuple


class Store(NamedTuple):
    kind: str  # "S"
    pc: int
    index: Any
    value: Any  # an int, or a pending value
    release: bool
    passed: tuple  # as Load.passed


class Fence(NamedTuple):
    kind: str  # "F"
    pc: int
    pairs: frozenset  # the (earlier, later) kinds it orders


class Branch(NamedTuple):
    """A branch taken on a guess."""
    kind: str  # "B"
    pc: int
    cond: Any  # a pending value until known
    guess: bool


class Ghost(NamedTuple):
    """Ghost code waiting for the values it reads."""
    kind: str  # "G"
    pc: int
    attach: int
    snapshot: tuple  # the values of the locals it reads (pending values too)


class Rmw(NamedTuple):
    """A split RMW ("X", arm64's ldaxr/stlxr) or a relaxed one ("R", checker
    fences: ordered as a load and a store to its word are, nothing more); its
    result ("r", position) is the value it found."""
    kind: str  # "X" or "R"
    pc: int
    index: Any
    args: tuple


class OpMark(NamedTuple):
    """The postmaster crossed an operation boundary on a guessed path; gone
    once everything before it is performed (until then it is between
    operations)."""
    kind: str  # "O"
    pc: int


_ENTRY_CLASS = {"L": Load, "S": Store, "F": Fence, "B": Branch, "G": Ghost, "X": Rmw, "R": Rmw, "O": OpMark}

# Pending values: ("r", position) or ("e", expr_id, args).


def _expressions_of(programs, *more: Expr) -> list[Expr]:
    """Every expression the programs hold, then ``more``, each once, in the order met."""
    found: dict[int, Expr] = {}
    for prog in programs:
        if prog is not None:
            for e in program_expressions(prog):
                found.setdefault(e.ident, e)
    for e in more:
        found.setdefault(e.ident, e)
    return list(found.values())


def _wire_number(numbers: dict[int, int], eid: int) -> int:
    try:
        return numbers[eid]
    except KeyError:
        raise ModelError(f"a pending value names expression {eid}, which no program of the model "
                         "holds: it cannot be sent to another process") from None


class _WirePickler(pickle.Pickler):
    """Pickles outcomes with each pending value's expression named as on the wire (values_to_wire).

    Pending values sit anywhere in an offer (windows, locals, plans), so
    they are caught as the pickler meets them: each is written as a
    persistent id, its arguments pickled (and renamed) in turn.
    """

    def __init__(self, file, numbers: dict[int, int]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.numbers = numbers

    def persistent_id(self, obj):
        if type(obj) is tuple and len(obj) == 3 and obj[0] == "e":
            return ("e", _wire_number(self.numbers, obj[1]), obj[2])
        return None


class _WireUnpickler(pickle.Unpickler):
    """Reads what _WirePickler wrote, each expression under this process's registry id."""

    def __init__(self, file, numbers: dict[int, int]) -> None:
        super().__init__(file)
        self.numbers = numbers

    def persistent_load(self, pid):
        _tag, number, args = pid
        return ("e", _wire_number(self.numbers, number), args)


def _renumber(x, numbers: dict[int, int]):
    """``x`` (nested plain tuples) with each pending value's expression id looked up in ``numbers``."""
    if type(x) is not tuple:
        return x
    if len(x) == 3 and x[0] == "e":
        return ("e", _wire_number(numbers, x[1]), tuple(_renumber(a, numbers) for a in x[2]))
    for v in x:
        if type(v) is tuple:
            return tuple(_renumber(v, numbers) for v in x)
    return x


_PRUNED = object()
# Window entries that read or write memory when performed.
_ACCESSES = ("L", "S", "X", "R")


def _fenced(entry, kind: str) -> bool:
    """Does a fence ordering ``kind`` ("L" or "S") against later accesses order ``entry``?

    A relaxed RMW is both a load and a store.  (A split RMW is not counted:
    it waits for every earlier fence itself, and later loads pass it, as
    before relaxed RMWs existed.)
    """
    k = entry.kind
    return k == kind or k == "R"


def _guessed_no_alias(entry) -> bool:
    """Has a later load been performed past this entry, whose address is still
    unknown, on the guess that they do not alias?  Until it is known, what
    follows is as speculative as a path behind an unresolved branch."""
    # A load whose address is known keeps its record until it is performed:
    # until then it may still fail to read the write the passing load read.
    return entry.kind in ("L", "S") and bool(entry.passed)


def _turn_starts(prog) -> frozenset[int]:
    """The first loads of every turn of every loop of ``prog``.

    From each target of a backward jump or branch, follow the program (local
    code and events alike, both ways of every branch) up to the first load
    on each path.  Every turn of a loop passes a backward edge, so a turn
    that fetches any load fetches one of these first.
    """
    instrs = prog.instrs
    starts = set()
    seen = set()
    work = [ins.target for ins in instrs if ins.op in ("branch", "jump") and ins.target <= ins.pc]
    while work:
        pc = work.pop()
        if pc in seen or pc >= len(instrs):
            continue
        seen.add(pc)
        ins = instrs[pc]
        if ins.op == "load":
            starts.add(pc)
        elif ins.op == "jump":
            work.append(ins.target)
        elif ins.op == "branch":
            work += [pc + 1, ins.target]
        elif ins.op != "halt":
            work.append(pc + 1)
    return frozenset(starts)


class WeakMemory(MemoryModel):
    name = "weak"
    cap_phrase = "the weak model's safety cap of {n} events in flight per thread"
    summary = "PostgreSQL's documented contract on a multi-copy-atomic machine: out-of-order window, speculation"
    # A thread's moves read its thread tuple and window, the memory and the
    # ghost state, and change only those; another thread's window matters
    # only through a load bound to a passed value (_emit discards a move
    # whose store dooms it), which pending_reaches_others reports.
    pending_local_steps = True

    def __init__(self, system, profile, window: int | None = None, **options):
        super().__init__(system, profile, **options)
        if window is not None and window < 1:
            raise ModelError("--window must be at least 1")
        # An explicit window is an under-approximation the user asked for;
        # without one the model is meant to lose nothing (SAFETY_CAP above).
        self.window_requested = window is not None
        self.window = window if window is not None else SAFETY_CAP
        self.window_refused = False  # some fetch was refused only because the window was full
        self.fence_pairs = dict(profile.fences)
        self.scratch = [0] * max((p.nlocals for p in self.programs if p), default=1)
        self.split_rmw = {p for p, kind in profile.rmw.items() if kind == "split"}
        # When describing a trace, the events each step fetched (eagerly
        # fetched ones included), keyed by the state the step led to.
        self._fetch_log: dict | None = None
        # The pc of the ghost code whose assertion failed last (read only while describing a trace).
        self._ghost_pc: int | None = None
        cache = dict if CACHE_OUTCOMES else _Forgetful
        self._advance_cache: dict = cache()  # see _plan()
        self._thread_cache: dict = cache()  # see successors()
        # Outcomes this process worked out, to offer the other workers of a
        # partitioned search (share_outcomes), and outcomes they offered for
        # thread states this process has not met yet.
        self._journal: list | None = None
        self._portable_trades = False  # see share_outcomes
        self._adopted: dict = {}
        # The windows this process offered, in order, and id -> their number;
        # per other worker, the windows it offered, as this process's objects.
        self._windows_offered: list = []
        self._window_numbers: dict[int, int] = {}
        self._windows_of: dict[int, list] = {}
        self._windows: dict = {}  # see _advance_plan()
        # (tid, id(window)) -> _bindings(tid, window), for the windows in
        # self._windows only: they are never freed, so their ids stay theirs.
        self._window_bindings: dict = {}
        # ok = (found == expected), for a split compare-exchange
        self.cas_ok = Expr(lambda S: 1 if S[0] == S[1] else 0, (0, 1), "found == expected")
        self._wire_numbers: tuple[dict[int, int], dict[int, int]] | None = None  # see values_to_wire
        # Loads that can begin a turn of a loop: the stutter check across
        # steps (_stutter) looks only at these, so only these remember the
        # thread state they were fetched in (a remembered state is part of
        # the window, and remembering it elsewhere would split states that
        # differ in nothing else).
        self.turn_starts = [frozenset() if p is None else _turn_starts(p) for p in self.programs]
        # Per program, per pc: may that event be fetched early (None: the rogue, which has no program).
        self.eager_ok: list[list[bool] | None] = []
        for prog in self.programs:
            if prog is None:
                self.eager_ok.append(None)
                continue
            if not any(prog.in_op):
                # A program without operations (a litmus test) is one operation.
                self.eager_ok.append([True] * len(prog.instrs))
                continue
            self.eager_ok.append([prog.in_op[pc] and not prog.op_start[pc] for pc in range(len(prog.instrs))])

    # -- helpers ----------------------------------------------------------

    def initial_pending(self, tid):
        return ()

    def pending_reaches_others(self, entry) -> bool:
        # A superset of what _bindings keeps for any thread: a load that another load passed.
        return any(e.kind == "L" and e.passed for e in entry)

    def pending_to_wire(self, pending):
        return self.values_to_wire(tuple(tuple(tuple(e) for e in w) for w in pending))

    def pending_from_wire(self, pending):
        kinds = _ENTRY_CLASS
        return tuple(tuple(kinds[e[0]]._make(e) for e in w) for w in self.values_from_wire(pending))

    # A pending value ("e", expr_id, args) names its expression by its index
    # in this process's registry (checker.ir.Expr), which depends on all that
    # the process built before this model.  On the wire it is named by its
    # place among the expressions of this model's programs instead, which
    # every build of the same model agrees on.

    def values_to_wire(self, component):
        return _renumber(component, self._expression_numbers()[0])

    def values_from_wire(self, component):
        return _renumber(component, self._expression_numbers()[1])

    def _expression_numbers(self) -> tuple[dict[int, int], dict[int, int]]:
        """(registry id -> wire number, wire number -> registry id), made on first use."""
        if self._wire_numbers is None:
            ids = [e.ident for e in _expressions_of(self.programs, self.cas_ok)]
            self._wire_numbers = ({eid: n for n, eid in enumerate(ids)}, dict(enumerate(ids)))
        return self._wire_numbers

    # -- outcomes shared between the workers of a partitioned search ----------
    #
    # The per-thread outcomes (successors' ``plans``) depend on one thread's
    # locals and window and the ghost state, never on memory, so one process
    # works each out once for all memories.  The shards of a partitioned
    # search own states by their memory, so every worker would meet nearly
    # every thread state and work out nearly every outcome again (ring,
    # 3 threads: each of 2 workers 98% of them, at different levels in all
    # but 2%).  Each worker offers what it learnt as it expands
    # (checker.parallel._level), and the others take it at their next trade
    # or, at the latest, before their next level.

    def _learnt(self, plans: dict, tkey, pkey, value):
        """``plans[pkey] = value`` for thread state ``tkey``, remembered for the other workers if sharing."""
        plans[pkey] = value
        if self._journal is not None and self._fetch_log is None:
            self._journal.append((tkey, pkey, value))
        return value

    def share_outcomes(self, portable: bool = False) -> bool:
        if self._journal is None:
            self._journal = []
        self._portable_trades = portable
        return True

    def outcomes_to_share(self) -> bytes | None:
        if not self._journal:
            return None
        journal, self._journal = self._journal, []
        # A run meets few windows (3,273 on ring at 3 threads, for 189,310
        # outcomes), and each outcome names several: each goes to the other
        # workers once, the first time an outcome names it, and by its number
        # after that (a window pickled with every trade was half of the bytes
        # and most of the time to dump, load and intern them).
        first_new = len(self._windows_offered)
        number = self._window_number
        on_wire: dict = {}  # id(plan) -> plan with numbered windows: a plan several outcomes share stays one
        entries = []
        for (tid, thread, window), pkey, value in journal:
            if pkey == "speculate":
                sent = value
            elif pkey[0] == "fetch":
                sent = [(label, self._plan_to_wire(plan, on_wire), nmem) for label, plan, nmem in value]
            else:
                sent = self._plan_to_wire(value, on_wire)
            entries.append((tid, thread, number(window), pkey, sent))
        # pickle, not marshal: window entries are NamedTuples.
        offer = (first_new, self._windows_offered[first_new:], entries)
        if self._portable_trades:
            out = io.BytesIO()
            _WirePickler(out, self._expression_numbers()[0]).dump(offer)
            return out.getvalue()
        return pickle.dumps(offer, protocol=pickle.HIGHEST_PROTOCOL)

    def _window_number(self, window) -> int:
        """The number the other workers know ``window`` by (a new one: it goes with this offer)."""
        n = self._window_numbers.get(id(window))
        if n is None:
            # Kept in _windows_offered, so the id stays this window's.
            n = self._window_numbers[id(window)] = len(self._windows_offered)
            self._windows_offered.append(window)
        return n

    def _plan_to_wire(self, plan: list, on_wire: dict) -> list:
        done = on_wire.get(id(plan))
        if done is None:
            number = self._window_number
            done = on_wire[id(plan)] = [("state", r[1], number(r[2]), r[3], r[4], r[5]) if r[0] == "state" else r
                                        for r in plan]
        return done

    def adopt_outcomes(self, sender: int, blob: bytes) -> None:
        # The blob comes from a worker this process forked beside it, or a
        # Ray actor of the same search.
        if self._portable_trades:
            first_new, new_windows, received = _WireUnpickler(io.BytesIO(blob), self._expression_numbers()[1]).load()
        else:
            first_new, new_windows, received = pickle.loads(blob)  # noqa: S301
        windows = self._windows_of.setdefault(sender, [])
        if first_new != len(windows):
            raise RuntimeError(f"outcomes from worker {sender} skipped {first_new - len(windows)} windows")
        own = self._windows
        windows.extend([own.setdefault(w, w) for w in new_windows])
        if len(self._adopted) >= ADVANCE_CACHE_ENTRIES:
            self._adopted.clear()  # the same bound as the caches themselves
        interned: dict = {}
        for tid, thread, window_number, pkey, value in received:
            tkey = (tid, thread, windows[window_number])
            tc = self._thread_cache.get(tkey)
            plans = tc[2] if tc is not None else self._adopted.setdefault(tkey, {})
            if pkey in plans:
                continue  # worked out here too (in the same level), or met before: keep this one
            if pkey == "speculate":
                plans[pkey] = value
            elif pkey[0] == "fetch":
                plans[pkey] = [(label, self._plan_from_wire(tid, plan, windows, interned), nmem)
                               for label, plan, nmem in value]
            else:
                plans[pkey] = self._plan_from_wire(tid, value, windows, interned)

    def _plan_from_wire(self, tid: int, plan: list, windows: list, interned: dict) -> list:
        """``plan`` with each window number the one object this process keeps for it (see _advance_plan), bindings noted."""
        done = interned.get(id(plan))
        if done is not None:
            return done
        bindings = self._window_bindings
        out = []
        for r in plan:
            if r[0] == "state":
                w = windows[r[2]]
                bindings.setdefault((tid, id(w)), r[5])
                r = ("state", r[1], w, r[3], r[4], r[5])
            out.append(r)
        interned[id(plan)] = out
        return out

    def is_full(self, ins) -> bool:
        op = ins.op
        if op == "rmw":
            return ins.prim not in self.split_rmw and not ins.relaxed
        if op in ("acquire", "release"):
            return True
        if op == "store":
            return ins.prim in self.profile.full_stores
        if op == "fence":
            return self.fence_pairs.get(ins.prim, ALL) == ALL
        return False

    def value(self, expr, L):
        """Evaluate ``expr``; a pending value if it reads one."""
        for r in expr.reads:
            if type(L[r]) is tuple:
                return ("e", expr.ident, tuple(L[x] for x in expr.reads))
        return expr.fn(L)

    def evaluate(self, eid, args):
        e = Expr.by_id(eid)
        S = self.scratch
        for r, a in zip(e.reads, args):
            S[r] = a
        return e.fn(S)

    def index_of(self, loc, L):
        return 0 if loc.index is None else self.value(loc.index, L)

    def substitute(self, v, pos, value):
        """Remove window position ``pos`` from pending value ``v`` (resolving its load to ``value``)."""
        if type(v) is not tuple:
            return v
        if v[0] == "r":
            k = v[1]
            if k == pos:
                return value
            return ("r", k - 1) if k > pos else v
        args = tuple(self.substitute(a, pos, value) for a in v[2])
        for a in args:
            if type(a) is tuple:
                return ("e", v[1], args)
        return self.evaluate(v[1], args)

    def remove(self, win, L, pos, value=None):
        """Drop window entry ``pos``; markers to it become ``value``; later positions shift."""
        sub = self.substitute
        for i, v in enumerate(L):
            if type(v) is tuple:
                L[i] = sub(v, pos, value)
        new = []
        for j, e in enumerate(win):
            if j == pos:
                continue
            k = e.kind
            if k == "L":
                at = e.at
                if type(e.index) is tuple or at is not None:
                    at = at if at is None else tuple(sub(x, pos, value) for x in at)
                    e = Load("L", e.pc, sub(e.index, pos, value), e.acquire, at, e.passed)
            elif k == "S":
                if type(e.index) is tuple or type(e.value) is tuple:
                    e = Store("S", e.pc, sub(e.index, pos, value), sub(e.value, pos, value), e.release, e.passed)
            # An entry with no pending value in it and nothing pointing past
            # ``pos`` is kept as it is (substitute returns a known value as it is).
            elif k == "B":
                if type(e.cond) is tuple:
                    e = Branch("B", e.pc, sub(e.cond, pos, value), e.guess)
            elif k == "X" or k == "R":
                if type(e.index) is tuple or any(type(a) is tuple for a in e.args):
                    e = Rmw(k, e.pc, sub(e.index, pos, value), tuple(sub(a, pos, value) for a in e.args))
            elif k == "G":
                att = e.attach
                moved = -1 if att == pos else (att - 1 if att > pos else att)
                snapshot = e.snapshot
                if any(type(x) is tuple for x in snapshot):
                    e = Ghost("G", e.pc, moved, tuple(sub(x, pos, value) for x in snapshot))
                elif moved != att:
                    e = Ghost("G", e.pc, moved, snapshot)
            new.append(e)
        if 0 < pos < len(new) and new[pos - 1].kind == "O" and new[pos].kind == "O":
            # Two boundary marks with nothing between them say no more than
            # one (the thread is between operations until what precedes the
            # first is performed): keep one, or a polling loop run ahead
            # would pile up marks without end.
            return self.remove(new, L, pos)
        return new

    def address(self, tid, entry):
        """(address, region) of a load/store entry, or None if its index is pending or out of range."""
        idx = entry.index
        if type(idx) is tuple:
            return None
        region = self.programs[tid].instrs[entry.pc].loc.region
        n = region.length
        if n is None:
            return region.base
        if idx >= n:
            return None
        return region.base + idx

    # -- performing ----------------------------------------------------------

    def _note_passed(self, win, i, addr, value):
        """Record on every earlier load/store of ``win`` whose address is still
        unknown that the load at ``i`` was performed past it, reading ``value``
        at ``addr`` (a guess that they do not alias).  Returns the new window.

        Only loads pass such entries (performable), never an acquire load or
        a split RMW, which keep later loads behind them anyway.
        """
        w = list(win)
        for j in range(i):
            x = w[j]
            if x.kind in ("L", "S") and type(x.index) is tuple:
                passed = x.passed
                if (addr, value) not in passed:
                    w[j] = x._replace(passed=tuple(sorted(passed + ((addr, value),))))
        return w

    def _bindings(self, tid, win) -> tuple:
        """The (address, value) each load of ``win`` is bound to by a load that
        passed it, where no earlier store of its own thread can forward to it.

        If memory holds another value at such an address, the load can no
        longer read the write the passing load read (another write came
        after it, and CoRR forbids every way on): the state is doomed and
        discarded at once, as a wrong branch guess is, instead of lingering
        as a dead end.  (A load that may be forwarded a value instead is
        judged when performed.)
        """
        out = []
        for j, e in enumerate(win):
            if e.kind != "L" or not e.passed or type(e.index) is tuple:
                continue
            addr, v = e.passed[0]
            if any(x.kind in ("S", "X", "R") and self.address(tid, x) in (None, addr) for x in win[:j]):
                continue
            out.append((addr, v))
        return tuple(out)

    def _doomed(self, tid, win, mem) -> bool:
        """Can some load of ``win`` no longer read the write a load that passed it read?  (See _bindings.)"""
        if not win:
            return False
        b = self._window_bindings.get((tid, id(win)))
        if b is None:
            b = self._bindings(tid, win)
        for addr, v in b:
            if mem[addr] != v:
                return True
        return False

    def _check_passed(self, tid, win):
        """Judge the no-alias guesses of entries whose address became known.

        Returns the window with those guesses settled, or _PRUNED.  A store
        that turns out to alias a load performed past it: the load read a
        value older than this store, which coherence forbids a later load of
        the same thread (the machine replays it): discard.  A load that
        turns out to alias: allowed only if both read the same write (CoRR
        forbids the later load an older one); this entry keeps the value the
        passing load read and may only be performed reading that value (two
        passing loads that read different values: discard at once).
        """
        out = None
        for j, e in enumerate(win):
            if e.kind not in ("L", "S") or not e.passed or type(e.index) is tuple:
                continue
            addr = self.address(tid, e)
            same = {v for a, v in e.passed if a == addr}
            if same and (e.kind == "S" or len(same) > 1):
                return _PRUNED
            keep = tuple((addr, v) for v in same)
            if keep != e.passed:
                if out is None:
                    out = list(win)
                out[j] = e._replace(passed=keep)
        return win if out is None else out

    def performable(self, tid, win, i, mem):
        """Can entry ``i`` be performed now?  Returns (ok, forwarded value or None)."""
        e = win[i]
        kind = e.kind
        addr = self.address(tid, e)
        if addr is None:
            return False, None
        if kind == "S" and type(e.value) is tuple:
            return False, None
        if kind == "X":
            # The store half is a release (everything earlier first) and the
            # pair acts at one point; later loads may still pass it, as they
            # may pass arm64's stlxr.  (They may also pass the load half here,
            # which arm64 forbids: an over-approximation, never a blind spot.)
            if any(type(a) is tuple for a in e.args):
                return False, None
            return (not any(x.kind in ("L", "S", "X", "R", "F", "B") for x in win[:i])), None
        if kind == "R":
            return self._relaxed_rmw_performable(tid, win, i, addr), None
        release = kind == "S" and e.release
        last_same = None
        for j in range(i):
            x = win[j]
            xk = x.kind
            if xk == "B":
                if kind == "S":
                    return False, None  # stores are never speculated
                continue
            if xk == "F":
                for a, b in x.pairs:
                    if b == kind and any(_fenced(win[d], a) for d in range(j)):
                        return False, None
                continue
            if xk == "G" or xk == "O":
                continue
            if xk == "R":
                # A relaxed RMW orders a later access only as a load and a
                # store of its word would: same word (no forwarding from an
                # RMW), an unknown address, a release store after it.
                if release or self.address(tid, x) in (None, addr):
                    return False, None
                continue
            if kind == "S" and xk in ("L", "S") and x.passed:
                return False, None  # a no-alias guess not yet confirmed: nothing visible on it
            if xk == "X":
                # Later stores wait for a split RMW (acquire, and stores are not
                # speculated); a later load of the same word must see it.
                if kind == "S" or self.address(tid, x) in (None, addr):
                    return False, None
                continue
            # an earlier load or store
            if release:
                return False, None
            if xk == "L" and x.acquire:
                return False, None  # acquire
            xa = self.address(tid, x)
            if xa is None:
                if kind == "S" or type(x.index) is not tuple or not PASS_UNKNOWN_ADDRESSES:
                    # A store is never performed before every earlier address
                    # is known (stores are not speculated); an index known
                    # but out of range is a fault, not something to pass.
                    return False, None
                # A load passes it on the guess that they do not alias; the
                # caller records the guess (_note_passed) and _check_passed
                # discards the state if the address turns out to be the same.
                continue
            if xa == addr:
                if kind == "S":
                    return False, None
                last_same = x
        if kind == "L" and last_same is not None:
            if last_same.kind == "L" or type(last_same.value) is tuple:
                return False, None
            return True, last_same.value  # forwarded from our own pending store
        return True, None

    def _relaxed_rmw_performable(self, tid, win, i, addr) -> bool:
        """Can the relaxed RMW at ``i`` (address ``addr``) be performed now?

        Its store half is a store: never behind an unresolved branch, an
        unknown earlier address or an unconfirmed no-alias guess; its load
        half a load: behind an acquire load.  Same word: in order.  Fences:
        it is both a load and a store.  Nothing else holds it back.
        """
        e = win[i]
        if any(type(a) is tuple for a in e.args):
            return False
        for j in range(i):
            x = win[j]
            xk = x.kind
            if xk == "B":
                return False
            if xk == "F":
                for a, b in x.pairs:
                    if any(_fenced(win[d], a) for d in range(j)):
                        return False  # b is "L" or "S": the RMW is both
                continue
            if xk == "G" or xk == "O":
                continue
            if xk in ("L", "S") and x.passed:
                return False
            if xk == "X":
                return False  # later stores wait for a split RMW
            if xk == "L" and x.acquire:
                return False  # acquire
            if self.address(tid, x) in (None, addr):
                return False
        return True

    def settle(self, tid, L, win, ghost):
        """Resolve branches, run ready ghost code, drop vacuous fences.

        Returns (L, win, ghost), _PRUNED for a wrong guess, or a violation pair.
        """
        prog = self.programs[tid]
        # First, before any ghost code can run on a path a wrong no-alias
        # guess dooms (only a load performed by this step resolves addresses).
        win = self._check_passed(tid, win)
        if win is _PRUNED:
            return _PRUNED
        G = None
        changed = True
        while changed:
            changed = False
            for j, e in enumerate(win):
                k = e.kind
                if k == "B":
                    c = e.cond
                    if type(c) is not tuple:
                        if (c != 0) != e.guess:
                            return _PRUNED
                        win = self.remove(win, L, j)
                        changed = True
                        break
                elif k == "G":
                    if any(type(v) is tuple for v in e.snapshot):
                        continue
                    ins = prog.instrs[e.pc]
                    if any(x.kind == "B" or _guessed_no_alias(x) or (x.kind == "G" and prog.instrs[x.pc].conflicts(ins))
                           for x in win[:j]):
                        continue
                    S = self.scratch
                    for r, v in zip(ins.reads, e.snapshot):
                        S[r] = v
                    if G is None:
                        G = list(ghost)
                    try:
                        ins.fn(G, S)
                    except Violation as exc:
                        self._ghost_pc = e.pc
                        return (exc.prop, exc.message)
                    except GhostIndexError as exc:
                        if not self.rogue:
                            self._ghost_pc = e.pc
                            return (MEMORY_SAFETY, f"ghost bookkeeping: {exc}")
                    win = self.remove(win, L, j)
                    changed = True
                    break
                elif k == "F":
                    befores = {a for a, _b in e.pairs}
                    if not any(x.kind in befores or x.kind == "R" for x in win[:j]):
                        win = self.remove(win, L, j)
                        changed = True
                        break
                elif k == "O":
                    if all(x.kind == "O" for x in win[:j]):
                        win = self.remove(win, L, j)
                        changed = True
                        break
        # An index that became known and is out of range, on a path no longer
        # speculative, is a real out-of-range access.
        for e in win:
            k = e.kind
            if k == "B" or _guessed_no_alias(e):
                break
            if k in _ACCESSES and type(e.index) is not tuple:
                region = prog.instrs[e.pc].loc.region
                if region.length is not None and e.index >= region.length:
                    v = self.violation_for_range(tid, OutOfRange(region, e.index))
                    return v if v is not None else ("__crash__", "")
        return L, win, (tuple(G) if G is not None else ghost)

    # -- fetching ---------------------------------------------------------------

    def can_fetch(self, tid, ins, win) -> bool:
        if ins.op == "halt":
            return False
        if self.is_full(ins):
            return not win
        if ins.op == "choose":
            return True
        if sum(1 for e in win if e.kind in _ACCESSES) < self.window:
            return True
        self.window_refused = True
        return False

    def reordering_bound(self):
        if self.window_requested or self.window_refused:
            return self.window
        return None

    def reordering_bound_requested(self) -> bool:
        return self.window_requested

    def between_operations(self, state, tid) -> bool:
        return self.between_operations_of_entry(state[2][tid])

    def between_operations_of_entry(self, entry) -> bool:
        return any(e.kind == "O" for e in entry)

    def fetch(self, tid, L, win, mem, ghost, mark_ops=False):
        """Fetch the event at L[0] and the local code after it.

        Returns a list of outcomes: (L, win, mem, info) or ("viol", pair) or
        ("crash",); an empty list means the event cannot be taken (a lock is
        held).
        """
        prog = self.programs[tid]
        pc = L[0]
        ins = prog.instrs[pc]
        op = ins.op
        info = None
        last_mem = -1
        try:
            if self.is_full(ins):
                a = ins.loc.address(L) if op != "fence" else None
                if op == "rmw":
                    old = mem[a]
                    args = tuple(x.fn(L) for x in ins.args)
                    new, result = rmw_apply(ins.kind, old, args)
                    if new != old:
                        mem = mem[:a] + (new,) + mem[a + 1:]
                    L[ins.dst] = result
                    if ins.expected_local is not None:
                        L[ins.expected_local] = old
                    info = (a, new, old)
                elif op == "acquire":
                    if (mem[a] != 0) != ins.wait_nonzero:
                        return []  # a lock held, or a flag clear (ir.AwaitFlag)
                    mem = mem[:a] + (ins.taken,) + mem[a + 1:]
                    info = (a, ins.taken)
                elif op == "release":
                    mem = mem[:a] + (0,) + mem[a + 1:]
                    info = (a, 0)
                elif op == "store":
                    v = ins.value.fn(L)
                    mem = mem[:a] + (v,) + mem[a + 1:]
                    info = (a, v)
                starts = [(L, win)]
            elif op == "rmw":  # split (ldaxr/stlxr) or relaxed: into the window
                args = tuple(self.value(x, L) for x in ins.args)
                win = win + [Rmw("R" if ins.relaxed else "X", pc, self.index_of(ins.loc, L), args)]
                last_mem = len(win) - 1
                found = ("r", last_mem)
                if ins.kind == "cas":
                    L[ins.dst] = self.value(self.cas_ok, [found, args[0]])
                    L[ins.expected_local] = found
                else:
                    L[ins.dst] = found
                starts = [(L, win)]
            elif op == "load":
                at = settle(prog, list(L), pc) \
                    if pc in self.turn_starts[tid] and any(e.kind == "B" for e in win) else None
                win = win + [Load("L", pc, self.index_of(ins.loc, L), ins.prim in self.profile.acquire_loads, at, ())]
                last_mem = len(win) - 1
                L[ins.dst] = ("r", last_mem)
                starts = [(L, win)]
            elif op == "store":
                win = win + [Store("S", pc, self.index_of(ins.loc, L), self.value(ins.value, L),
                                   ins.prim in self.profile.release_stores, ())]
                last_mem = len(win) - 1
                starts = [(L, win)]
            elif op == "fence":
                pairs = self.fence_pairs.get(ins.prim, ALL)
                if pairs:
                    win = win + [Fence("F", pc, pairs)]
                starts = [(L, win)]
            elif op == "choose":
                starts = []
                for c in range(ins.n):
                    L2 = list(L)
                    L2[ins.dst] = c
                    starts.append((L2, list(win)))
                info = "choose"
            else:  # pragma: no cover
                raise AssertionError(op)
        except OutOfRange as exc:
            v = self.violation_for_range(tid, exc)
            return [("viol", v)] if v is not None else [("crash",)]
        viol = self.count_step(tid, L, pc)
        if viol is not None:
            return [("viol", viol)]
        results = []
        for L1, w1 in starts:
            inf = (None, L1[ins.dst]) if info == "choose" else info
            L2, w2 = self.run_local(prog, pc + 1, L1, w1, mark_ops)
            results.append((L2, w2, mem, inf))
        return results

    def run_local(self, prog, pc, L, win, mark_ops=False):
        """Local code up to the next event, or up to a branch on a pending value.

        Returns (L, win) with L[0] the pc where the thread rests.  Guessing a
        branch is left to ``successors``: a thread only guesses when it uses
        the guess, to perform a load early (see ``speculate``).  With
        ``mark_ops`` (the postmaster down a guessed path) passing an operation
        boundary with events still in flight leaves an ("O", pc) entry: the
        cycle analysis must not take a postmaster that has started its next
        operation ahead of time for one that never left the first.
        """
        steps = 0
        while True:
            ins = prog.instrs[pc]
            if ins.is_event:
                break
            op = ins.op
            if op == "assign":
                L[ins.dst] = self.value(ins.expr, L)
                pc += 1
            elif op == "branch":
                c = self.value(ins.cond, L)
                if type(c) is tuple:
                    break
                pc = pc + 1 if c else ins.target
            elif op == "jump":
                pc = ins.target
            elif op == "ghost":
                win = win + [Ghost("G", ins.pc, -1, tuple(L[r] for r in ins.reads))]
                pc += 1
            else:
                if mark_ops and win and win[-1].kind != "O" and op in ("op_begin", "op_end"):
                    win = win + [OpMark("O", ins.pc)]
                pc += 1
            steps += 1
            if steps > 100_000:
                raise ModelError(f"{ins.src}: the program loops without any shared-memory event")
        L[0] = pc
        return L, win

    # -- successors -------------------------------------------------------------

    def successors(self, state, tid, out):
        mem, threads, pending, ghost = state
        T = threads[tid]
        win = pending[tid]
        prog = self.programs[tid]
        # Which entries may be performed, whether the next event may be
        # fetched, and the locals, window and outcomes (_advance_plan) once
        # an entry is performed with a given value under a given ghost state
        # depend on this thread alone: computed once per (T, window), then
        # once per value and ghost state, then looked up.  Memory is read
        # here, for the values loads read and for _doomed.
        key = (tid, T, win)
        logging = self._fetch_log is not None
        tc = None if logging else self._thread_cache.get(key)
        if tc is None:
            tc = self._thread_entry(tid, T, win, mem)
            if not logging:
                if len(self._thread_cache) >= ADVANCE_CACHE_ENTRIES:
                    self._thread_cache.clear()
                self._thread_cache[key] = tc
                adopted = self._adopted.pop(key, None)
                if adopted:
                    tc[2].update(adopted)
        performs, fetchable, plans = tc
        emit = self._emit
        for i, kind, epc, addr, fwd, nth, passed in performs:
            if kind == "L":
                v = fwd if fwd is not None else mem[addr]
                if passed and any(a == addr and pv != v for a, pv in passed):
                    # A later load passed this one while its address was
                    # unknown and read the same location: this one must read
                    # the same write (CoRR); any other value is discarded.
                    out.append(((tid, "perform", epc, (addr, v, nth, fwd is not None)), None, None))
                    continue
                result = v
                nmem = mem
                info = (addr, v, nth, fwd is not None)
            elif kind == "X" or kind == "R":
                old = mem[addr]
                v, _result = rmw_apply(prog.instrs[epc].kind, old, win[i].args)
                result = old
                nmem = mem[:addr] + (v,) + mem[addr + 1:]
                info = (addr, v, nth, False, old)
            else:
                v = win[i].value
                result = None
                nmem = mem[:addr] + (v,) + mem[addr + 1:]
                info = (addr, v, nth, False)
            label = (tid, "perform", epc, info)
            pkey = ("perform", i, result, ghost)
            plan = plans.get(pkey)
            if plan is None:
                L = list(T)
                w = self._note_passed(win, i, addr, result) if kind == "L" else list(win)
                w = self.remove(w, L, i, result)
                plan = self._learnt(plans, key, pkey, self._plan(tid, label, L, w, mem, ghost))
            emit(state, tid, label, plan, nmem, out)
        pc = T[0]
        ins = prog.instrs[pc]
        if ins.op == "branch":
            self.speculate(state, tid, out, plans)
            return
        if not fetchable:
            return
        action = "step" if self.is_full(ins) else "fetch"
        if action == "step":
            # A full barrier acts on memory when fetched: nothing to cache.
            moves = self._fetch_moves(tid, T, win, mem, ghost, action)
        else:
            moves = plans.get(("fetch", ghost))
            if moves is None:
                moves = self._learnt(plans, key, ("fetch", ghost), self._fetch_moves(tid, T, win, mem, ghost, action))
        for label, plan, nmem in moves:
            emit(state, tid, label, plan, mem if nmem is None else nmem, out)

    def _thread_entry(self, tid, T, win, mem):
        """(performs, fetchable, {}) for thread ``tid`` in state ``T`` with window ``win``: see successors."""
        performs = []
        for i, e in enumerate(win):
            if e.kind not in _ACCESSES:
                continue
            ok, fwd = self.performable(tid, win, i, mem)
            if ok:
                nth = sum(1 for x in win[:i] if x.pc == e.pc)
                passed = e.passed if e.kind == "L" else ()
                performs.append((i, e.kind, e.pc, self.address(tid, e), fwd, nth, passed))
        prog = self.programs[tid]
        pc = T[0]
        ins = prog.instrs[pc]
        fetchable = ins.op != "branch" and not self._stutter(prog, pc, T, win) and self.can_fetch(tid, ins, win)
        return tuple(performs), fetchable, {}

    def _fetch_moves(self, tid, T, win, mem, ghost, action):
        """[(label, plan, memory after or None)] for fetching the next event."""
        pc = T[0]
        moves = []
        for r in self.fetch(tid, list(T), list(win), mem, ghost, self.bounded[tid]):
            if r[0] == "viol":
                moves.append(((tid, action, pc, None), (("violation", r[1]),), None))
                continue
            if r[0] == "crash":
                moves.append(((tid, action, pc, None), (("crash",),), None))
                continue
            L2, w2, nmem, info = r
            label = (tid, action, pc, info)
            moves.append((label, self._plan(tid, label, L2, w2, nmem, ghost), None if nmem is mem else nmem))
        return moves

    def _plan(self, tid, label, L, win, mem, ghost, prefetched=()):
        """Settle, fetch eagerly as far as the window allows: the outcomes (see _advance_plan).

        What follows depends only on this thread's locals and window and on
        the ghost state (settling runs ghost code; eager fetching never
        fetches a full barrier, the one kind of fetch that touches memory),
        so the outcomes are computed once per such triple and reused by every
        state that differs only in shared memory or in the other threads.
        """
        if self._fetch_log is not None:
            plan = []
            self._advance_plan(tid, label, list(L), list(win), mem, ghost, plan, prefetched)
            return plan
        key = (tid, tuple(L), tuple(win), ghost)
        plan = self._advance_cache.get(key)
        if plan is None:
            plan = []
            self._advance_plan(tid, label, list(L), list(win), mem, ghost, plan, prefetched)
            if len(self._advance_cache) >= ADVANCE_CACHE_ENTRIES:
                self._advance_cache.clear()
            self._advance_cache[key] = plan
        return plan

    def _emit(self, state, tid, label, plan, mem, out):
        """The moves of ``plan`` from ``state``, with memory ``mem`` after the step."""
        old_mem, threads, pending, _g = state
        # A write can doom a load of any thread bound to a passed value; this
        # thread's step can also bind one of its own (see _bindings).
        others_doomed = mem is not old_mem and any(self._doomed(t, w, mem) for t, w in enumerate(pending) if t != tid)
        for r in plan:
            kind = r[0]
            if kind == "state":
                if others_doomed or (r[5] and self._doomed(tid, r[2], mem)):  # r[5]: its _bindings
                    out.append((label, None, None))
                    continue
                nstate = (mem, threads[:tid] + (r[1],) + threads[tid + 1:],
                          pending[:tid] + (r[2],) + pending[tid + 1:], r[3])
                if self._fetch_log is not None:
                    self._fetch_log[(label, nstate)] = r[4]
                out.append((label, nstate, None))
            elif kind == "pruned":
                out.append((label, None, None))  # the engine must not mistake this for a deadlock
            elif kind == "violation":
                out.append((label, None, r[1]))
                if self._fetch_log is not None and len(r) > 2:
                    self._fetch_log[(label, "violation")] = r[2]
            else:
                self._crash(state, tid, label[2], out)

    def _advance_plan(self, tid, label, L, win, mem, ghost, plan, prefetched):
        """The outcomes of ``_advance``, independent of memory and of the other threads."""
        prog = self.programs[tid]
        eager = self.eager_ok[tid]
        logging = self._fetch_log is not None
        first = ((label[2], label[3]),) if logging and label[1] in ("fetch", "step") else prefetched
        work = [(L, win, ghost, first)]
        windows = self._windows
        while work:
            L, win, ghost, fetched = work.pop()
            s = self.settle(tid, L, win, ghost)
            if s is _PRUNED:
                plan.append(("pruned",))
                continue
            if len(s) == 2 and type(s[0]) is str:
                if s[0] == "__crash__":
                    plan.append(("crash",))
                else:
                    # Which ghost check failed, for a trace naming the event (see violation_site).
                    plan.append(("violation", s, self._ghost_pc))
                    self._ghost_pc = None
                continue
            L, win, ghost = s
            pc = L[0]
            ins = prog.instrs[pc]
            if ins.op == "branch":
                if type(self.value(ins.cond, L)) is not tuple:
                    # The value it waited for is known: go on down the right path.
                    L, win = self.run_local(prog, pc, L, win, self.bounded[tid])
                    work.append((L, win, ghost, fetched))
                    continue
            # Fetch eagerly inside an operation.  Crossing an operation
            # boundary is a step of its own: threads rest there (quiescent
            # points for conservation), and a step never spans two operations
            # (the postmaster's per-operation step count and lassos rely on it).
            elif eager[pc] and not self.is_full(ins) and not self._stutter(prog, pc, L, win) \
                    and self.can_fetch(tid, ins, win):
                for r in self.fetch(tid, L, list(win), mem, ghost, self.bounded[tid]):
                    if r[0] == "viol":
                        plan.append(("violation", r[1]))
                    elif r[0] == "crash":
                        plan.append(("crash",))
                    else:
                        work.append((r[0], r[1], ghost, fetched + ((pc, r[3]),) if logging else ()))
                continue
            w = tuple(win)
            # One object per distinct window, shared by every state that has it.
            w = windows.setdefault(w, w)
            b = self._window_bindings.get((tid, id(w)))
            if b is None:
                b = self._window_bindings[(tid, id(w))] = self._bindings(tid, w)
            plan.append(("state", settle(prog, L, pc), w, ghost, fetched, b))

    def speculate(self, state, tid, out, plans):
        """A thread resting at a branch on a pending value guesses a direction,
        fetches down it, and performs one of the loads it fetched there before
        the branch is resolved.  Guesses that perform nothing early are not
        states of their own: fetching is invisible, and once the value is known
        the thread goes down the right path anyway.  The guessed path may run
        into later operations, as the hardware's speculation does.

        ``plans``: successors' cache for this thread state and window.
        """
        mem, threads, pending, ghost = state
        T = threads[tid]
        win = pending[tid]
        logging = self._fetch_log is not None
        # What the guesses fetch and which of those loads may be performed
        # early depends on this thread's state and window only (memory is
        # read when the load is performed, below): computed once per
        # (thread, state, window), then once per value read and ghost state.
        tkey = (tid, T, win)
        candidates = plans.get("speculate")
        if candidates is None:
            candidates = self._learnt(plans, tkey, "speculate",
                                      self._speculation_candidates(tid, T, win, mem, ghost, logging))
        for n, (L2, w2, i, fwd, addr, label_pc, nth, fetched) in enumerate(candidates):
            v = fwd if fwd is not None else mem[addr]
            label = (tid, "speculate", label_pc, (addr, v, nth, fwd is not None))
            skey = ("speculate", n, v, ghost)
            plan = plans.get(skey)
            if plan is None:
                L3 = list(L2)
                w3 = self.remove(self._note_passed(w2, i, addr, v), L3, i, v)
                plan = self._learnt(plans, tkey, skey, self._plan(tid, label, L3, w3, mem, ghost, prefetched=fetched))
            self._emit(state, tid, label, plan, mem, out)

    def _speculation_candidates(self, tid, T, win, mem, ghost, logging):
        """Every (guessed path, load on it that may be performed early), both guesses."""
        prog = self.programs[tid]
        pc = T[0]
        ins = prog.instrs[pc]
        c = self.value(ins.cond, T)
        mark = self.bounded[tid]
        candidates = []
        for guess in (True, False):
            L = list(T)
            w = list(win) + [Branch("B", pc, c, guess)]
            L, w = self.run_local(prog, pc + 1 if guess else ins.target, L, w, mark)
            for L2, w2, i, fetched in self._extend(tid, L, w, mem, ghost, logging):
                ok, fwd = self.performable(tid, w2, i, mem)
                if not ok:
                    continue
                e = w2[i]
                nth = sum(1 for x in w2[:i] if x.pc == e.pc)
                candidates.append((tuple(L2), tuple(w2), i, fwd, self.address(tid, e), e.pc, nth, fetched))
        return candidates

    def _extend(self, tid, L, win, mem, ghost, logging):
        """Fetch down a guessed path (no performing); yield (L, win, i, fetched)
        each time a load is fetched, at window position i, with the thread
        resting just after it.

        Cutting the path right after the load that is performed early loses
        nothing: what lies beyond is fetched later, by the ordinary steps or
        by another guess, and fetching is invisible.  A path is not followed
        further when nothing down it could be performed early:
        - an entry in the window keeps every later load waiting (a split RMW
          whose address is still unknown, an index known to be out of range,
          an acquire load, a fence ordering earlier accesses before later
          loads; a load or store whose address is merely unknown does not:
          later loads pass it on a no-alias guess);
        - the thread is back at a point of this path with the same live
          locals, and everything fetched since is loads, fences and guesses
          (a *stutter* iteration, e.g. another turn of a wait loop that read
          nothing new).  Any execution that goes round it once more and then
          performs a later load early has a twin without that turn: the turn
          wrote nothing (no store, RMW or ghost code), its loads only added
          waits for the accesses after them (and no-alias guesses on earlier
          entries, which can only discard), and its fences and guesses only
          constraints, so the twin's events can be performed in the same
          order, read the same values and reach the same state.
        """
        prog = self.programs[tid]
        mark = self.bounded[tid]
        work = [(L, win, (), ())]
        while work:
            L, win, fetched, history = work.pop()
            pc = L[0]
            ins = prog.instrs[pc]
            if ins.op == "branch":
                # A further branch on a pending value down the guessed path:
                # guess again (nothing is emitted unless a load is performed).
                c = self.value(ins.cond, L)
                for guess in (True, False):
                    L2, w2 = self.run_local(prog, pc + 1 if guess else ins.target, list(L),
                                            win + [Branch("B", pc, c, guess)], mark)
                    work.append((L2, w2, fetched, history))
                continue
            if not ins.is_event or self.is_full(ins) or self._blocks_later_loads(tid, win):
                continue
            key = settle(prog, list(L), pc)
            if any(k == key and all(e.kind in ("L", "F", "B", "O") for e in win[n:]) for k, n in history):
                continue  # a stutter turn: see above
            if self._stutter(prog, pc, L, win):
                continue
            if not self.can_fetch(tid, ins, win):
                continue
            history = history + ((key, len(win)),)
            at = len(win)
            for r in self.fetch(tid, list(L), list(win), mem, ghost, mark):
                if r[0] in ("viol", "crash"):
                    continue  # on a guessed path: real only once the guess is confirmed
                f2 = fetched + ((pc, r[3]),) if logging else ()
                if ins.op == "load":
                    yield r[0], r[1], at, f2
                work.append((r[0], r[1], f2, history))

    @staticmethod
    def _stutter(prog, pc, L, win) -> bool:
        """Would fetching the load at ``pc`` start another stutter turn?

        The turn of ``_extend``, seen across steps: the window still holds a
        load fetched at this pc in this same thread state, behind a guess
        that is still unresolved, with only loads, fences, guesses and
        boundary marks after it.  Nothing that writes (a store, an RMW,
        ghost code) can be performed behind an unresolved guess, so the
        window shows everything the turn fetched: it wrote nothing, and the
        state without the turn (this thread resting where it fetched that
        load, the others having done what they did) is reachable and has the
        same futures.  The thread fetches on once those entries drain.
        """
        if prog.instrs[pc].op != "load":
            return False
        key = None
        for j in range(len(win) - 1, -1, -1):
            e = win[j]
            k = e.kind
            if k == "L":
                if e.pc == pc and e.at is not None:
                    if key is None:
                        key = settle(prog, list(L), pc)
                    if e.at == key and any(x.kind == "B" for x in win[:j]):
                        return True
            elif k not in ("F", "B", "O"):
                return False
        return False

    def _blocks_later_loads(self, tid, win) -> bool:
        """Does some entry keep every load fetched after it from being performed?"""
        for j, x in enumerate(win):
            k = x.kind
            if k == "X" or k == "R":
                if self.address(tid, x) is None:
                    return True
            elif k in ("L", "S"):
                # An unknown address no longer blocks (loads pass it on a
                # no-alias guess) unless the index is known and out of range.
                if (k == "L" and x.acquire) or (self.address(tid, x) is None
                                               and (type(x.index) is not tuple or not PASS_UNKNOWN_ADDRESSES)):
                    return True
            elif k == "F":
                for a, b in x.pairs:
                    if b == "L" and any(_fenced(win[d], a) for d in range(j)):
                        return True
        return False

    def _crash(self, state, tid, pc, out):
        mem, threads, pending, ghost = state
        prog = self.programs[tid]
        T2 = settle(prog, [0] * prog.nlocals, len(prog.instrs) - 1)
        out.append(((tid, "crash", pc, None),
                    (mem, threads[:tid] + (T2,) + threads[tid + 1:], pending[:tid] + ((),) + pending[tid + 1:],
                     ghost), None))

    # -- reporting --------------------------------------------------------------

    def upcoming_reads(self, state, tid):
        addrs = []
        win = state[2][tid]
        mem = state[0]
        for i, e in enumerate(win):
            if e.kind == "L" and self.performable(tid, win, i, mem)[0]:
                addrs.append(self.address(tid, e))
        T = state[1][tid]
        ins = self.programs[tid].instrs[T[0]]
        if ins.op in ("rmw", "acquire") and not win:
            try:
                addrs.append(ins.loc.address(T))
            except Exception:
                pass
        return tuple(sorted(set(addrs)))

    def pending_events(self, state, tid):
        prog = self.programs[tid]
        if prog is None:
            return []
        out = []
        for e in state[2][tid]:
            ins = prog.instrs[e.pc]
            line = f"{ins.src.file.rsplit('/', 1)[-1]}:{ins.src.line}"
            k = e.kind
            if k == "L":
                out.append(f"load {ins.loc.text} not yet performed ({line})")
            elif k == "S":
                val = e.value if type(e.value) is not tuple else "?"
                out.append(f"store {ins.loc.text} = {val} not yet performed ({line})")
            elif k == "F":
                out.append(f"{ins.prim}() still ordering earlier accesses ({line})")
            elif k == "B":
                out.append(f"branch guessed {'taken' if e.guess else 'not taken'}, not yet resolved ({line})")
            elif k == "G":
                out.append(f"ghost code waiting ({line})")
            elif k == "X":
                out.append(f"{ins.prim}({ins.loc.text}) not yet performed, ldaxr/stlxr ({line})")
            elif k == "R":
                out.append(f"{ins.prim}({ins.loc.text}) not yet performed, relaxed ({line})")
            elif k == "O":
                out.append(f"operation boundary crossed ahead of time ({line})")
        return out

    def violation_site(self, label, before) -> int | None:
        """The pc of the ghost code whose check the violating step ``label`` from ``before`` failed.

        Ghost code runs once every value it reads is known, which may be at a
        later step than the event that read the offending value; a trace uses
        this pc to name that event.  None when the violation was not raised by
        ghost code.
        """
        self._fetch_log = {}
        self._ghost_pc = None
        try:
            self.successors(before, label[0], [])
            return self._fetch_log.get((label, "violation"))
        finally:
            self._fetch_log = None

    def fetched_by(self, label, before, after):
        """The events the step ``label`` from ``before`` to ``after`` fetched, in order."""
        tid = label[0]
        self._fetch_log = {}
        try:
            self.successors(before, tid, [])
            fetched = self._fetch_log.get((label, after), ())
        finally:
            self._fetch_log = None
        prog = self.programs[tid]
        events = []
        for pc, info in fetched:
            ins = prog.instrs[pc]
            ev = {"pc": pc, "event": ins.op, "prim": getattr(ins, "prim", ins.op),
                  "source": ins.src.as_dict()}
            if info is not None and info[0] is not None:
                ev.update(location=self.system.cell_names[info[0]], address=info[0], value=info[1])
                if len(info) > 2:
                    ev["old"] = info[2]
            elif info is not None:
                ev["value"] = info[1]  # a choice
            elif ins.op not in ("fence",):
                ev["performed"] = False
            events.append(ev)
        return events

    def describe(self, label, before, after):
        tid, action, pc, info = label
        d = super().describe(label, before, after)
        if action == "crash" or action == "rogue":
            return d
        if after is not None and self.programs[tid] is not None:
            d["fetched"] = self.fetched_by(label, before, after)
        if action in ("fetch", "step"):
            d["program_order"] = True
            if info is not None and action == "step" and info[0] is not None:
                a = info[0]
                d["location"] = self.system.cell_names[a]
                d["address"] = a
                d["value"] = info[1]
                if len(info) > 2:
                    d["old"] = info[2]
                d["performed"] = True
            elif info is not None and info[0] is None:
                d["value"] = info[1]
                d["performed"] = True
            elif d.get("event") == "fence":
                d["performed"] = True
            else:
                d["performed"] = False
            return d
        # perform (or perform early, down a guessed path)
        if action == "speculate":
            d["speculative"] = True
        a, v, nth, fwd = info[:4]
        if len(info) > 4:
            d["old"] = info[4]
        d["location"] = self.system.cell_names[a]
        d["address"] = a
        d["value"] = v
        d["nth"] = nth
        if fwd:
            d["forwarded"] = True
        d["text"] = ("perform " + d.get("text", "")) if d.get("text") else "perform"
        return d

    def program_events(self, steps, tid):
        """Program-order events of ``tid``: in fetch order, values filled in when performed."""
        events = []
        waiting: dict[int, list] = {}
        for s in steps:
            if s.get("thread") != tid:
                continue
            fetched = s.get("fetched", ())
            if s.get("action") == "speculate":
                # the load it performs early was fetched in this same step
                for f in fetched:
                    ev = dict(f, step=s["index"])
                    if ev.get("performed") is False:
                        waiting.setdefault(ev["pc"], []).append(ev)
                    events.append(ev)
                fetched = ()
            if s.get("action") in ("perform", "speculate"):
                queue = waiting.get(s["pc"], [])
                nth = s.get("nth", 0)
                if nth < len(queue):
                    ev = queue.pop(nth)
                    ev["performed"] = True
                    ev["performed_at"] = s["index"]
                    for k in ("location", "address", "value", "old"):
                        if k in s:
                            ev[k] = s[k]
            for f in fetched:
                ev = dict(f, step=s["index"])
                if ev.get("performed") is False:
                    waiting.setdefault(ev["pc"], []).append(ev)
                events.append(ev)
        return events

    # -- symmetry (checker.symmetry) -----------------------------------------

    def rename_pending(self, tid, locals_, entries, rename_value, rename_expr):
        """Thread ``tid``'s locals and window with every value that may be a
        backend's number renamed; returns (locals, entries).  Of the locals
        only the pending values are renamed here: the numbers they already
        hold are the caller's, as under sc.

        The one place outside this module that needs the window layout:
        ``rename_value(v, source)`` renames an int by where it comes from or
        goes to -- ``("local", i)`` (a value of local i of this thread),
        ``("expr", ident)`` (the value of that expression of its program),
        ``("cell", address)`` (a value read at that shared address) -- and
        ``rename_expr(ident)`` names the expression a pending value computes
        in the program of the thread the window moves to (a backend's
        program is compiled with its own ME).  Pending values are renamed
        argument by argument (argument j is the value of local
        ``reads[j]``); window positions ("r", p) are no values.
        """
        prog = self.programs[tid]
        pending_locals = [i for i, x in enumerate(locals_) if type(x) is tuple]
        if prog is None or not (entries or pending_locals):
            return locals_, entries
        instrs = prog.instrs
        cas_ok = self.cas_ok.ident

        def pv(v, source):
            if type(v) is not tuple:
                return v if source is None else rename_value(v, source)
            if v[0] == "r":
                return v
            eid, args = v[1], v[2]
            if eid == cas_ok:
                # (found, expected): found is the RMW's result marker while
                # the RMW at that window position is not performed (and once
                # it is, expected is known too and the value is 0 or 1).
                found, expected = args
                rmw = entries[found[1]] if type(found) is tuple and found[0] == "r" else None
                if rmw is None or rmw[0] not in ("X", "R"):
                    raise ModelError("--symmetry refused: a pending compare-exchange result whose "
                                     "expected value cannot be typed")
                return ("e", eid, (found, pv(expected, ("expr", instrs[rmw[1]].args[0].ident))))
            reads = Expr.by_id(eid).reads
            return ("e", rename_expr(eid), tuple(pv(a, ("local", r)) for r, a in zip(reads, args)))

        def thread(T):
            return tuple(pv(x, ("local", i)) for i, x in enumerate(T))

        def passed(p):
            return tuple(sorted((a, rename_value(v, ("cell", a))) for a, v in p)) if p else p

        def index(e):
            loc = instrs[e[1]].loc
            return pv(e[2], None if loc.index is None else ("expr", loc.index.ident))

        def rebuild(e, fields):
            return tuple(fields) if type(e) is tuple else type(e)(*fields)

        out = []
        for e in entries:
            k = e[0]
            if k == "L":  # (kind, pc, index, acquire, at, passed)
                e = rebuild(e, (k, e[1], index(e), e[3], None if e[4] is None else thread(e[4]), passed(e[5])))
            elif k == "S":  # (kind, pc, index, value, release, passed)
                e = rebuild(e, (k, e[1], index(e), pv(e[3], ("expr", instrs[e[1]].value.ident)), e[4],
                                passed(e[5])))
            elif k == "B":  # (kind, pc, cond, guess)
                e = rebuild(e, (k, e[1], pv(e[2], ("expr", instrs[e[1]].cond.ident)), e[3]))
            elif k == "G":  # (kind, pc, attach, snapshot of the locals the ghost code reads)
                e = rebuild(e, (k, e[1], e[2], tuple(pv(x, ("local", r))
                                                     for r, x in zip(instrs[e[1]].reads, e[3]))))
            elif k == "X" or k == "R":  # (kind, pc, index, args)
                e = rebuild(e, (k, e[1], index(e), tuple(pv(x, ("expr", a.ident))
                                                         for a, x in zip(instrs[e[1]].args, e[3]))))
            elif k not in ("F", "O"):  # F (kind, pc, pairs), O (kind, pc): no values
                raise ModelError(f"--symmetry refused: a window entry {k!r} whose values cannot be typed")
            out.append(e)
        if pending_locals:
            L = list(locals_)
            for i in pending_locals:
                L[i] = pv(L[i], ("local", i))
            locals_ = tuple(L)
        w = tuple(out)
        # pv is recursive: its closure cell refers to itself, a cycle the
        # search (which runs with the garbage collector off) would never free.
        pv = None  # noqa: F841
        # One object per distinct window, as the states the model makes share them.
        return locals_, self._windows.setdefault(w, w)
