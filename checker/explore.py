"""Breadth-first explicit-state search.

The engine knows no protocol and no memory model: it asks the memory model for
each thread's steps, adds the rogue's writes, checks invariants on every new
state and assertions on every step, and keeps a parent pointer per state so
that every counterexample is a shortest path from the initial state.

States are stored once, in discovery order; the BFS queue is simply an index
into that list.  When liveness checking is on, the successor graph is kept too,
and after an exhaustive search its strongly connected components answer
deadlock freedom (a bottom component in which a live thread never moves again)
and postmaster wait-freedom (a cycle inside one postmaster operation).
"""

from __future__ import annotations

import time
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, NoReturn, Sequence

from checker.ir import Violation
from checker.memory.base import MemoryModel
from checker.model import (
    DEADLOCK, WAIT_FREEDOM, ModelError, StateView, System, exception_text, model_line,
)
from checker.search import pause_collector, resume_collector
from checker.state import State, Successor, ViolationPair


@dataclass
class Counterexample:
    prop: str
    message: str
    labels: list  # one label per step, from the initial state
    states: list  # states[0] is initial; len(states) == len(labels) + 1 (or +0 for a cut step)
    final_label: Any = None  # the violating step, when the violation is a step
    cycle_start: int | None = None  # index into labels where a repeating cycle starts

    @property
    def length(self) -> int:
        return len(self.labels) + (1 if self.final_label is not None else 0)


@dataclass
class Result:
    system: System
    memory_model: str
    profile: str
    states: int = 0
    transitions: int = 0
    max_depth: int = 0
    elapsed: float = 0.0
    complete: bool = False
    stop_reason: str = ""
    violations: dict[str, Counterexample] = field(default_factory=dict)
    max_postmaster_steps: int = 0
    liveness_checked: bool = False
    # Properties whose violating steps ended an execution (it was not
    # followed further): what the others were not checked past.
    cut_by: set[str] = field(default_factory=set)
    storage: str = "full"  # "full" (reference), "compact" or "fingerprint" (checker.search)
    bytes_per_state: float | None = None  # visited set + queue + parents, when the search measures it
    spilled_bytes: int | None = None  # --spill: what went to its files rather than memory
    # "compiled": generated sc/tso successors (checker.compile_sc); "c": the search in C (checker.engine_c)
    engine: str = "interpreted"
    # A reduction the search used, said in every verdict ("fingerprinted: ..."); "" for none.
    reductions: str = ""
    collision_probability: float | None = None  # --fingerprint only
    # The bound on reordering that limited the search (weak's events in
    # flight per thread, tso's buffered stores per thread), or None when
    # nothing the memory model allows was left out; the phrases that name it
    # in verdicts come from the model (MemoryModel.bound_phrase, cap_phrase).
    reordering_bound: int | None = None
    reordering_bound_requested: bool = False
    bound_phrase: str = MemoryModel.bound_phrase
    cap_phrase: str = MemoryModel.cap_phrase
    # The partitioned search (checker.parallel): shards, each one's resident
    # memory at the end, the states each holds (the owner is chosen by the
    # shared memory alone, so a protocol whose memory takes few values
    # spreads unevenly), and the bytes of the batches sent between them.
    workers: int = 0
    worker_rss: list = field(default_factory=list)
    worker_states: list = field(default_factory=list)
    message_bytes: int = 0
    message_bytes_per_successor: float | None = None
    # CPU seconds: each worker's, the coordinator's, and the levels' slowest
    # shards summed (what the search would take on idle cores).
    worker_cpu: list = field(default_factory=list)
    coordinator_cpu: float = 0.0
    critical_path_cpu: float = 0.0

    @property
    def states_per_second(self) -> float:
        return self.states / self.elapsed if self.elapsed > 0 else 0.0

    def verdict(self, prop: str) -> str:
        if prop not in self.system.checked:
            if prop not in self.system.checkable:
                return "not checked by this model"
            if self.system.params.rogue:
                return "not checked (with a rogue only the postmaster's properties are required)"
            return "not checked"
        if prop in self.violations:
            return "VIOLATED"
        if prop == WAIT_FREEDOM and self.system.params.step_bound == 0 and not self.liveness_checked:
            return "not checked (--step-bound 0 leaves it to the cycle analysis, which did not run)"
        # Whatever limited or reduced the search is said in every "holds".
        reduced = (f", {self.reductions}" if self.reductions else "") + (
            "" if self.reordering_bound is None else f", {self.bound_words()}")
        if self.reordering_bound is not None and not self.reordering_bound_requested:
            # A safety cap refused a step nobody asked it to refuse.
            return f"not violated so far (search incomplete: {self.cap_words()} was hit)"
        if self.cut_by and self.complete:
            # --keep-going: a violating step is never followed, so this
            # property was checked only up to the other violations.
            return f"not violated before the other violations (executions past {', '.join(sorted(self.cut_by))} " \
                   "were not followed)"
        if (prop == WAIT_FREEDOM and not self.liveness_checked and self.complete
                and postmaster_steps_outside_operations(self.system)):
            return "not checked (the postmaster steps outside any operation: only the cycle analysis, " \
                   "which did not run, bounds that code)"
        if prop in (DEADLOCK, WAIT_FREEDOM) and not self.liveness_checked and self.complete:
            return f"holds (exhaustive{reduced}; step bound / no stuck state, cycles not analysed)"
        if self.complete:
            return f"holds (exhaustive{reduced})"
        return "not violated so far (search incomplete)"

    def bound_words(self) -> str:
        """The requested bound as verdicts state it: "reordering bounded to 4", "store buffers bounded to 4"."""
        return self.bound_phrase.format(n=self.reordering_bound)

    def cap_words(self) -> str:
        """The safety cap as an incomplete verdict names it."""
        return self.cap_phrase.format(n=self.reordering_bound)

    @property
    def exit_code(self) -> int:
        if self.violations:
            return 1
        if self.reordering_bound is not None and not self.reordering_bound_requested:
            return 3  # a bound nobody asked for cut the search
        return 0 if self.complete else 3


@dataclass
class Options:
    max_states: int | None = None
    max_depth: int | None = None
    stop_on_first: bool = True
    liveness: bool = True
    progress: Callable[[dict], None] | None = None
    progress_interval: float = 0.5
    # "compact": packed states, no stored labels (checker.search, the default);
    # "fingerprint": 64-bit fingerprints only (checker.fingerprint);
    # "full": the reference search below, nested tuples and a label per state.
    storage: str = "compact"
    # One state per orbit of interchangeable backends (checker.symmetry; compact storage only).
    symmetry: bool = False
    # --workers / --ray / --checkpoint: a checker.parallel.ParallelOptions.
    parallel: Any = None
    # --max-memory in bytes: the cycle analysis checks it before each table it
    # allocates (the search checks it in ``progress``, which the caller writes).
    memory_limit: int | None = None
    # --spill DIR (--engine c): the parents and the cycle analysis's graph go
    # to unlinked files there during the search, the states once it is over.
    spill_dir: str | None = None


class Engine:
    kind = "interpreted"  # checker.compile_sc.CompiledEngine: "compiled"

    def __init__(self, system: System, mm: MemoryModel) -> None:
        self.system = system
        self.mm = mm
        self.nthreads = len(system.threads)
        self.program_tids = [t.tid for t in system.threads if t.program is not None]
        self.rogue_tid = system.rogue_tid
        self.rogue_values = system.rogue_values
        self.rogue_budget = system.params.rogue_writes  # None: unlimited
        self.rogue_anywhere = system.params.rogue_anywhere
        self.kernel_addresses = frozenset(a for r in system.shared.values() if r.kernel
                                          for a in range(r.base, r.base + (r.length or 1)))
        # check_quiescent runs only when it can report something this run checks.
        self.check_conservation = bool(system.quiescent_properties & system.checked)
        self.protocol = system.protocol
        # --step-bound 0: the memory model keeps the postmaster's step counter
        # at 0/1 (see MemoryModel.count_step), leaving wait-freedom to lassos.
        self.lasso_only = system.params.step_bound == 0
        # For quiescence: each program's "inside an operation, past its first
        # event" table, looked up once instead of per state.
        self.busy_pcs = [(t.tid, [a and not b for a, b in zip(t.program.in_op, t.program.op_start)])
                      for t in system.threads if t.program is not None]

    def initial(self) -> State:
        sys_ = self.system
        threads = []
        pending = []
        for t in sys_.threads:
            if t.program is None:
                budget = -1 if self.rogue_budget is None else self.rogue_budget
                threads.append((budget,))
            else:
                from checker.memory.base import run_local, settle

                prog = t.program
                L = [0] * prog.nlocals
                for idx, v in prog.initial_locals.items():
                    L[idx] = v
                pc, G = run_local(prog.instrs, 0, L, sys_.ghost_init, self.rogue_tid is not None)
                if G is not None:
                    raise ModelError(f"{t.name}: ghost code before the first event of a program "
                                     "(ghost code runs with the event before it)")
                threads.append(settle(prog, L, pc))
            pending.append(self.mm.initial_pending(t.tid))
        return (sys_.shared_init, tuple(threads), tuple(pending), sys_.ghost_init)

    def successors(self, state: State, out: list[Successor]) -> None:
        mm = self.mm
        for tid in self.program_tids:
            mm.successors(state, tid, out)
        if self.rogue_tid is not None:
            self.rogue_successors(state, out)

    def thread_successors(self, state: State, tid: int, out: list[Successor]) -> None:
        """The moves of thread ``tid`` alone, as ``successors`` lists them."""
        self.mm.successors(state, tid, out)

    # The functions whose successors are exactly each thread's thread_successors
    # (then the rogue's moves): a subclass that computes them differently adds its own.
    successors_by_thread: frozenset = frozenset({successors})

    def moves_are_per_thread(self) -> bool:
        """May a search ask ``thread_successors`` thread by thread instead of calling ``successors``?

        Not when ``successors`` was replaced (an instrumenting subclass, a
        wrapper set on the instance): asking per thread would skip its work.
        """
        return getattr(self.successors, "__func__", None) in self.successors_by_thread

    def rogue_successors(self, state: State, out: list[Successor]) -> None:
        """The rogue writes a representative value into a shared word.

        By default (``rogue_anywhere`` off) it writes only a word the
        postmaster is about to read: with a rogue only the postmaster's
        properties are checked, and the postmaster's behaviour depends only
        on the values it reads, so a write anywhere else, or earlier, shows
        the postmaster nothing new that a write just before its read does
        not.  ``--rogue-anywhere`` lifts this reduction.
        """
        mem, threads, pending, ghost = state
        rt = self.rogue_tid
        assert rt is not None  # called only when the run has a rogue
        left = threads[rt][0]
        if left == 0:
            return
        nthreads = threads if left < 0 else threads[:rt] + ((left - 1,),) + threads[rt + 1:]
        targets: Sequence[int]
        if self.rogue_anywhere:
            targets = range(len(mem))
        else:
            targets = self.mm.upcoming_reads(state, 0)
        kernel = self.kernel_addresses
        for a in targets:
            if a in kernel:
                continue  # a worker's fork and exit are the kernel's, not shared memory
            cur = mem[a]
            for v in self.rogue_values:
                if v != cur:
                    out.append(((rt, "rogue", None, (a, v)),
                                (mem[:a] + (v,) + mem[a + 1:], nthreads, pending, ghost), None))

    def halted(self, state: State, tid: int) -> bool:
        prog = self.system.threads[tid].program
        if prog is None:
            return True
        pc = state[1][tid][0]
        if pc == prog.idle_pc and prog.fork_address is not None:
            # A worker slot with no process (never forked, or exited) has
            # finished; one the postmaster has just forked has not.
            return state[0][prog.fork_address] == 0
        return prog.instrs[pc].op == "halt"

    def quiescent(self, state: State) -> bool:
        threads = state[1]
        for tid, busy in self.busy_pcs:
            if busy[threads[tid][0]]:
                return False
        return self.mm.quiescent(state[2])

    def check_state(self, state: State) -> ViolationPair | None:
        """Invariants of a state: conservation when quiescent."""
        if self.check_conservation and self.quiescent(state):
            try:
                self.protocol.check_quiescent(StateView(self.system, state))
            except Violation as exc:
                if exc.prop not in self.system.quiescent_properties:
                    # Either a misspelling or a Violation the reading of its
                    # source missed: either way its verdict would be wrong.
                    raise ModelError(f"{self.protocol.name}.check_quiescent() reported {exc.prop!r}, which is "
                                     "not a property it names in its source") from None
                return (exc.prop, exc.message)
            except ModelError:
                raise
            except Exception as exc:
                # A bug in the model's own check is no verdict on the protocol.
                raise ModelError(f"{model_line(exc)}: {self.protocol.name}.check_quiescent() raised "
                                 f"{exception_text(exc)}") from None
        return None


def explore(engine: Engine, options: Options | None = None, memory_model: str = "", profile: str = "") -> Result:
    opts = options or Options()
    mm = engine.mm
    res = Result(engine.system, memory_model or mm.name, profile)
    res.engine = engine.kind
    res.reordering_bound_requested = mm.reordering_bound_requested()
    res.bound_phrase = mm.bound_phrase
    res.cap_phrase = mm.cap_phrase
    _search(engine, opts, res)
    # Whichever search ran, the model knows by now whether its bound left
    # anything out (weak's window, tso's buffers; a partitioned search's
    # workers have reported theirs already).
    if res.reordering_bound is None:
        res.reordering_bound = mm.reordering_bound()
    if res.reordering_bound is not None and not res.reordering_bound_requested:
        # A safety cap refused a step nobody asked it to refuse: the search
        # is incomplete for every reader of the result (the summary, --json,
        # bench), not only for the verdicts.
        res.complete = False
        res.stop_reason = res.stop_reason or f"{res.cap_words()} was hit"
    return res


def _search(engine: Engine, opts: Options, res: Result) -> Result:
    system = engine.system
    if engine.kind == "c":
        from checker.engine_c import Unsupported, explore_c

        if opts.parallel is not None:
            raise Unsupported("--engine c runs in one process (not with --workers, --ray or --checkpoint)")
        explore_c(engine, opts, res)  # type: ignore[arg-type]
        return res
    if opts.parallel is not None:
        from checker.parallel import explore_partitioned

        explore_partitioned(engine, opts, res)
        return res
    if opts.symmetry:
        from checker.search import explore_compact
        from checker.symmetry import make_canonicaliser

        if opts.storage != "compact":
            raise ModelError("--symmetry works with the compact storage only (not with --fingerprint)")
        explore_compact(engine, opts, res, make_canonicaliser(engine))
        return res
    if opts.storage == "fingerprint":
        from checker.fingerprint import explore_fingerprinted

        explore_fingerprinted(engine, opts, res)
        return res
    if opts.storage != "full":
        from checker.search import explore_compact

        explore_compact(engine, opts, res)
        return res
    t0 = time.perf_counter()
    init = engine.initial()
    seen: dict = {init: 0}
    states: list = [init]
    parent = array("l", [-1])
    plabel: list = [None]
    # 32-bit: a rogue writing anywhere, without a limit, takes a search past 65,535 levels.
    depth = array("I", [0])
    edges: list | None = [] if opts.liveness else None
    pruned: dict[int, int] = {}  # state -> threads with a discarded (speculative) move
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
    cut = False  # some state was left unexpanded because of a bound

    def record(prop, message, idx, final_label=None):
        if prop in violations or prop not in checked:
            return
        labels, path = _path(states, parent, plabel, idx)
        violations[prop] = Counterexample(prop, message, labels, path, final_label)

    v0 = engine.check_state(init)
    if v0:
        record(v0[0], v0[1], 0)

    successors = engine.successors
    check_state = engine.check_state
    out: list = []
    i = 0
    # The collector off, as in the compact search: walking the nested state
    # tuples took 6.6 of this search's 17.9 CPU s on ring, 4 threads, sc.
    gc_was_enabled = pause_collector()
    try:
        while i < len(states):
            if opts.stop_on_first and violations:
                stop_reason = "stopped at the first violation"
                break
            s = states[i]
            d = depth[i]
            if max_d is not None and d >= max_d:
                cut = True
                if edges is not None:
                    edges.append(None)
                i += 1
                continue
            out.clear()
            successors(s, out)
            succ_ids = array("l") if edges is not None else None
            pm_moves = False
            pruned_mask = 0
            for label, nxt, viol in out:
                tid = label[0]
                if tid == pm_tid:
                    pm_moves = True
                if nxt is None and viol is None:
                    pruned_mask |= 1 << tid
                    # A move on a speculative path the memory model has just
                    # discarded (a wrong branch guess): not a deadlock, no state.
                    continue
                transitions += 1
                if viol is not None:
                    res.cut_by.add(viol[0])
                    if viol[0] in checked and viol[0] not in violations:
                        record(viol[0], viol[1], i, final_label=label)
                    continue
                j = seen.get(nxt)
                if j is None:
                    if max_states is not None and len(states) >= max_states:
                        cut = True
                        stop_reason = f"state limit {max_states} reached"
                        raise _Stop
                    j = len(states)
                    seen[nxt] = j
                    states.append(nxt)
                    parent.append(i)
                    plabel.append(label)
                    depth.append(d + 1)
                    if d + 1 > max_depth:
                        max_depth = d + 1
                    v = check_state(nxt)
                    if v is not None:
                        record(v[0], v[1], j)
                if succ_ids is not None:
                    succ_ids.append(j * 16 + tid)
            if edges is not None:
                edges.append(succ_ids)
                if pruned_mask:
                    pruned[i] = pruned_mask
            if not out:
                # No thread can move: fine only if every program has finished.
                if not all(engine.halted(s, t) for t in engine.program_tids):
                    record(DEADLOCK, _stuck_message(engine, s), i)
            elif rogue and not pm_moves and not engine.halted(s, pm_tid):
                record(DEADLOCK, "the postmaster cannot take its next step", i)
            i += 1
            if opts.progress is not None and i % 512 == 0:
                now = time.perf_counter()
                if now >= next_report:
                    next_report = now + opts.progress_interval
                    opts.progress({"states": len(states), "transitions": transitions, "queue": len(states) - i,
                                   "depth": d, "elapsed": now - t0})
    except _Stop:
        pass
    except KeyboardInterrupt as exc:
        stop_reason = interruption(exc)
        cut = True
    except MemoryError as exc:
        # Out of memory (or past --max-memory): drop the index and the graph,
        # the largest structures, so that the coverage report can be made.
        # The state list may be a state ahead of the parent arrays; only its
        # length and contents are read from here on.
        seen.clear()
        edges = None
        out.clear()
        stop_reason = out_of_memory(exc)
        cut = True
    finally:
        resume_collector(gc_was_enabled)
    res.states = len(states)
    res.transitions = transitions
    res.max_depth = max_depth
    stop_reason = stop_reason or first_violation_stop(opts, violations)
    explored_all = i >= len(states) and not cut
    res.complete = explored_all and not stop_reason
    if not res.complete and not stop_reason:
        stop_reason = f"depth limit {max_d} reached" if cut else "stopped"
    res.stop_reason = stop_reason
    res.max_postmaster_steps = _max_steps(engine, states)
    if res.complete and edges is not None:
        analyse_cycles(engine, states, edges, parent, plabel, res, pruned, opts.memory_limit)
    elif (edges is not None and engine.lasso_only and WAIT_FREEDOM in checked
          and WAIT_FREEDOM not in violations):
        # A cycle among the states explored so far is a real lasso even when
        # the search stopped early: only its absence needs every state.
        edges.extend([None] * (len(states) - len(edges)))
        partial_lasso(engine, states, edges, parent, plabel, res, opts.memory_limit)
    res.elapsed = time.perf_counter() - t0
    return res


class _Stop(Exception):
    pass


# The ways a search loop ends early, worded once for every search strategy
# (this reference loop, checker.search and checker.fingerprint).


def interruption(exc: KeyboardInterrupt) -> str:
    from checker.signals import Terminated

    return "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"


def out_of_memory(exc: MemoryError) -> str:
    return str(exc) if str(exc) else "out of memory"


def first_violation_stop(opts: Options, violations) -> str:
    """Every violation ends a stop-at-first search, even one found while the last
    states were expanded (or from the initial state, when every first move
    violates): the moves past it were never explored, so it is never complete."""
    return "stopped at the first violation" if opts.stop_on_first and violations else ""


def _path(states, parent, plabel, idx):
    labels = []
    path = []
    while idx >= 0:
        path.append(states[idx])
        if plabel[idx] is not None:
            labels.append(plabel[idx])
        idx = parent[idx]
    labels.reverse()
    path.reverse()
    return labels, path


def _stuck_message(engine: Engine, state) -> str:
    waiting = []
    for tid in engine.program_tids:
        if not engine.halted(state, tid):
            t = engine.system.threads[tid]
            assert t.program is not None  # program_tids leaves the rogue out
            ins = t.program.instrs[state[1][tid][0]]
            waiting.append(f"{t.name} at {ins.src.file.rsplit('/', 1)[-1]}:{ins.src.line} ({ins.describe()})")
    return "no thread can move: " + "; ".join(waiting)


def _max_steps(engine: Engine, states) -> int:
    tids = [t.tid for t in engine.system.threads if t.role == "postmaster"]
    best = 0
    for s in states:
        for tid in tids:
            v = s[1][tid][1]
            if v > best:
                best = v
    return best


# ---------------------------------------------------------------------------
# Liveness over the explored graph


def _sccs(n: int, edges, room: "Room"):
    """The components (checker.graph.Components) of ``edges``: a Graph, or one successor array per state."""
    from checker.graph import components
    from checker.graph_c import StacksPastBudget, scc_bytes

    graph = _as_graph(edges, n)
    need = scc_bytes(graph)
    room(need, "the component search")
    try:
        return components(graph, room.left(need))
    except StacksPastBudget:
        room.refuse("the component search's stacks")


def _as_graph(edges, n: int):
    from checker.graph import Graph

    return edges if isinstance(edges, Graph) else Graph.from_lists(edges, n)


class Room:
    """``room(nbytes, what)``: may the cycle analysis allocate ``nbytes`` more under ``--max-memory``?

    A MemoryLimitReached when not, which stops the analysis as running out of
    memory does (``cycle_analysis_stops``).
    """

    def __init__(self, memory_limit: int | None) -> None:
        self.memory_limit = memory_limit

    def __call__(self, nbytes: int, what: str) -> None:
        from checker import memlimit

        memlimit.ensure_room(self.memory_limit, nbytes, f"the cycle analysis ({what})")

    def left(self, nbytes: int) -> int | None:
        """Bytes the analysis may still allocate once ``nbytes`` more are taken (None: no limit)."""
        from checker import memlimit

        return memlimit.room_left(self.memory_limit, nbytes)

    def refuse(self, what: str) -> NoReturn:
        from checker import memlimit

        raise memlimit.MemoryLimitReached(f"memory limit {memlimit.format_size(self.memory_limit or 0)} reached: "
                                          f"the cycle analysis ({what}) would pass it (raise it with --max-memory)")


@contextmanager
def cycle_analysis_stops(res: Result, when: str):
    """Ctrl-C, SIGTERM or running out of memory ``when`` ("during", "before") the cycle analysis.

    They leave a run that had covered every state incomplete (exit 3) with its
    coverage report, as they do during the search: half an analysis is no
    verdict on deadlock or wait-freedom.
    """
    try:
        yield
    except KeyboardInterrupt as exc:
        stopped = interruption(exc)
    except MemoryError as exc:
        stopped = out_of_memory(exc)
    else:
        return
    if res.complete:
        res.complete = False
        res.stop_reason = f"{stopped} {when} the cycle analysis (the search had covered every state)"


def analyse_cycles(engine: Engine, states, edges, parent, plabel, res: Result, pruned=None,
                   memory_limit: int | None = None) -> None:
    """The cycle analysis after an exhaustive search, as every search strategy runs it.

    A stop in it is no verdict (``cycle_analysis_stops``); a lasso it had
    already found is real and stays reported.  It takes ``edges``: a Graph is
    emptied once the analysis no longer needs it, and ``memory_limit``
    (``--max-memory``) is checked before each table it allocates.
    """
    with cycle_analysis_stops(res, "during"):
        _liveness(engine, states, edges, parent, plabel, res, pruned, Room(memory_limit))
        res.liveness_checked = True


def _liveness(engine: Engine, states, edges, parent, plabel, res: Result, pruned, room: Room) -> None:
    checked = engine.system.checked
    graph = _as_graph(edges, len(states))
    if DEADLOCK in checked and DEADLOCK not in res.violations:
        _bottom_component_deadlock(engine, states, graph, parent, plabel, res, pruned, room)
    # Wait-freedom: a cycle in which the postmaster stays inside one operation
    # and keeps stepping.  Restrict the graph to postmaster-in-operation states
    # and postmaster moves that stay inside the operation, then look for a
    # cycle containing a postmaster move.  (The deadlock analysis's tables are
    # gone by now: the two never hold memory at once.)
    if WAIT_FREEDOM in checked and WAIT_FREEDOM not in res.violations:
        _wait_freedom_lasso(engine, states, graph, parent, plabel, res, room)
    graph.release()


def _bottom_component_deadlock(engine: Engine, states, graph, parent, plabel, res: Result, pruned,
                               room: Room) -> None:
    """Deadlock freedom: in a bottom component, every live thread moves again."""
    system = engine.system
    n = len(states)
    sccs = _sccs(n, graph, room)
    comp, ncomp = sccs.ids, sccs.count
    # Per component, two bytes (most components are single states): whether
    # it is a bottom one (no edge leaves it) and whether it has an edge inside.
    # Only the bottom ones with an edge inside are candidates; for those, the
    # mask of the threads that move inside and the first state.
    room(2 * ncomp, "the components' summaries")
    from checker.graph_c import bottom_cycles_c, candidate_details_c, component_summary_c

    summary = component_summary_c(graph, comp, ncomp)
    if summary is not None:
        leaves, has_internal = summary
    else:
        leaves = bytearray(b"\x01") * ncomp
        has_internal = bytearray(ncomp)
        off, dst = graph.off, graph.dst
        for v in range(n):
            cv = comp[v]
            for k in range(off[v], off[v + 1]):
                if comp[dst[k] >> 4] != cv:
                    leaves[cv] = 0
                else:
                    has_internal[cv] = 1
    found = bottom_cycles_c(leaves, has_internal)  # leaves becomes the candidates' mark
    candidates = found if found is not None else [c for c in range(ncomp) if leaves[c] and has_internal[c]]
    del has_internal
    room(24 * len(candidates), "the deadlock candidates")
    details = candidate_details_c(graph, comp, leaves, found) if found is not None else None
    if details is not None:
        movers, first = details
    else:
        place = {c: k for k, c in enumerate(candidates)}
        movers, first = [0] * len(candidates), [-1] * len(candidates)
        off, dst = graph.off, graph.dst
        for v in range(n):
            at = place.get(comp[v])
            if at is None:
                continue
            if first[at] == -1:
                first[at] = v
            for i in range(off[v], off[v + 1]):
                if comp[dst[i] >> 4] == comp[v]:
                    movers[at] |= 1 << (dst[i] & 15)
    # Threads with a move the memory model discards (a wrong speculative
    # guess that dies when its load is performed): a fair run takes that move,
    # so a component where such a thread "never moves" is no real execution.
    discarding: dict[int, int] = {}
    for v, mask in (pruned or {}).items():
        discarding[comp[v]] = discarding.get(comp[v], 0) | mask
    rogue = system.rogue_tid is not None
    for k, c in enumerate(candidates):
        v = first[k]
        s = states[v]
        who = [0] if rogue else engine.program_tids
        if any(discarding.get(c, 0) >> t & 1 and not movers[k] >> t & 1 for t in engine.program_tids):
            continue  # a fair run leaves it through the discarded move: not a real execution
        starved = [t for t in who if not movers[k] >> t & 1 and not engine.halted(s, t)]
        if starved:
            names = ", ".join(system.threads[t].name for t in starved)
            labels, path = _path(states, parent, plabel, v)
            res.violations[DEADLOCK] = Counterexample(
                DEADLOCK, f"from here on {names} never moves again, though it has not finished", labels, path)
            break


def _wait_freedom_lasso(engine, states, edges, parent, plabel, res, room: Room) -> None:
    """Record a lasso: the path to a cycle, then the cycle (from cycle_start on).

    It takes ``edges`` as analyse_cycles does: a Graph is emptied once the
    postmaster's subgraph is built.
    """
    pm_prog = engine.system.threads[0].program
    cyc = _postmaster_lasso(engine, states, edges, pm_prog, room)
    if cyc is None:
        return
    start, loop = cyc
    labels, path = _path(states, parent, plabel, start)
    cycle_start = len(labels)
    for (lab, st) in loop:
        labels.append(lab)
        path.append(st)
    if pm_prog.in_op[states[start][1][0][0]]:
        message = "the postmaster can loop forever inside one operation without finishing it"
    else:
        message = "the postmaster can loop forever outside any operation, never reaching the next one"
    res.violations[WAIT_FREEDOM] = Counterexample(WAIT_FREEDOM, message, labels, path, cycle_start=cycle_start)


def postmaster_steps_outside_operations(system: System) -> bool:
    """Whether the postmaster has events outside every @operation (the step bound does not see them)."""
    prog = system.threads[0].program
    assert prog is not None  # thread 0 is the postmaster
    return any(ins.is_event and ins.op != "halt" and not prog.in_op[ins.pc] for ins in prog.instrs)


def partial_lasso(engine, states, edges, parent, plabel, res, memory_limit: int | None) -> None:
    """The wait-freedom lasso search on a graph a stopped search left (step bound 0).

    A lasso found is real; a stop in the search for one only leaves it out
    (the run is already incomplete and says so).
    """
    with cycle_analysis_stops(res, "during"):
        _wait_freedom_lasso(engine, states, edges, parent, plabel, res, Room(memory_limit))


def _postmaster_lasso(engine, states, edges, pm_prog, room: Room):
    """Find a reachable cycle that contains at least one postmaster step and
    no operation boundary: either inside one operation, or outside every
    operation (code between operations must be bounded too, or the postmaster
    never reaches its next operation).  Returns (index of the cycle's first
    state, [(label, state)...])."""
    in_op = pm_prog.in_op
    n = len(states)
    # A postmaster that has run ahead into later operations (weak memory: on
    # a guessed path, with the earlier operation's events still in flight) is
    # in neither region (AHEAD): its fetch point may go round a loop that
    # starts and finishes an operation each turn while a marker says it is
    # "between".  Such states are left out of both searches.  A fair run
    # drains what is in flight, so a postmaster really stuck in (or outside)
    # an operation reaches a cycle of unmarked states there too.
    between = engine.mm.between_operations
    AHEAD = 2
    room(2 * n, "the postmaster's place in every state")  # inside and restarted, a byte each
    from checker.graph_c import lasso_subgraph_c, pm_cycle_c

    no_ahead = type(engine.mm).between_operations is MemoryModel.between_operations
    if no_ahead and hasattr(states, "place"):
        inside, restarted = states.place(0, in_op)  # the C search's states, read in C
    elif no_ahead and hasattr(states, "threads_of"):
        # No state is AHEAD under this model: the postmaster's thread tuples
        # alone decide, read without unpacking every state.
        inside = bytearray(1 if in_op[t[0]] else 0 for t in states.threads_of(0))
        restarted = bytearray(1 if in_op[t[0]] and t[1] == 0 else 0 for t in states.threads_of(0))
    else:
        # A model whose answer is in the postmaster's own pending entry (weak)
        # is asked once per distinct entry, not once per unpacked state.
        place = (states.place_ahead(0, in_op, engine.mm.between_operations_of_entry, AHEAD)
                 if hasattr(states, "place_ahead") else None)
        if place is not None:
            inside, restarted = place
        else:
            inside = bytearray(AHEAD if between(s, 0) else (1 if in_op[s[1][0][0]] else 0) for s in states)
            # Only states inside an operation can tell where its step count restarts.
            restarted = bytearray(1 if inside[v] == 1 and s[1][0][1] == 0 else 0 for v, s in enumerate(states))

    def keep(v, e):
        if inside[v] == AHEAD:
            return False
        w = e >> 4
        if inside[w] != inside[v]:
            return False  # the postmaster entered or left an operation (or ran ahead of one)
        # A postmaster move that ends its operation and starts the next
        # (which resets its step count to 0) crosses a boundary too.
        return not ((e & 15) == 0 and restarted[w])

    graph = _as_graph(edges, n)
    sub = lasso_subgraph_c(graph, inside, restarted)  # in place: the whole graph is not needed again
    if sub is None:
        sub = graph.filtered(keep)
        graph.release()  # its memory goes to the subgraph's components
    sub_sccs = _sccs(n, sub, room)
    comp, ncomp = sub_sccs.ids, sub_sccs.count
    # Per component with a postmaster move inside it: the last state (in
    # discovery order) with such a move, and that move's target.  The lasso
    # goes through the component whose last such state comes first.
    best = pm_cycle_c(sub, comp, ncomp)
    if best is NotImplemented:
        pm_cycle: dict[int, tuple[int, int]] = {}
        off, dst = sub.off, sub.dst
        for v in range(n):
            for k in range(off[v], off[v + 1]):
                e = dst[k]
                if (e & 15) == 0 and comp[e >> 4] == comp[v]:
                    pm_cycle[comp[v]] = (v, e >> 4)
                    break
        best = min(pm_cycle.values()) if pm_cycle else None
    if best is None:
        return None
    v, w = best
    # Build the cycle: v -> w (postmaster step), then a path w -> v inside the component.
    c = comp[v]
    from collections import deque

    prev: dict[int, tuple[int, int] | None] = {w: None}
    q = deque([w])
    while q and v not in prev:
        x = q.popleft()
        for e in sub[x]:
            y = e >> 4
            if comp[y] == c and y not in prev:
                prev[y] = (x, e)
                q.append(y)
    chain = []
    y = v
    while (step := prev[y]) is not None:
        x, e = step
        chain.append((x, y, e))
        y = x
    chain.reverse()
    loop = [(_edge_label(engine, states, v, w), states[w])]
    for x, y, e in chain:
        loop.append((_edge_label(engine, states, x, y), states[y]))
    return v, loop


def _edge_label(engine, states, x, y):
    """Edges do not store labels; recover one by expanding ``x`` again."""
    out: list = []
    engine.successors(states[x], out)
    for label, nxt, _viol in out:
        if nxt == states[y]:
            return label
    raise AssertionError("edge not found again")  # pragma: no cover
