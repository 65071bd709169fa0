"""The policy of ``checker ci``, the proof-of-invariant job users put in their CI.

For every protocol (or the ones named with ``--protocol``, a name or a model
file) it runs, and expects:

* the correct model, explored exhaustively at CI-sized parameters under every
  registered memory model: every property holds;
* every mutation under every memory model: *caught* (a violation) where the
  mutation says it is a bug (``Mutation.bug_under``), *harmless* (an
  exhaustive search with no violation) elsewhere; mutations that need a rogue
  run with one;
* the z3 proofs: postmaster robustness of the correct model (and a failed
  proof for each mutation that breaks postmaster safety or wait-freedom with
  a rogue), and the inductive invariant where the protocol states one;
* the litmus suite (``checker/litmus.py``) under every memory model, each
  test against the outcome stored in its file;
* the fence table of every protocol (``checker fences``), written to
  ``--fences-dir`` as an artifact: the row fails if it is incomplete, if the
  protocol as written breaks a property, or if the C twin's barriers differ.

A state bound is used only where a violation is expected (finding one early
is the verdict); a bounded search never counts as "holds".  ``run_ci``
returns the rows; ``checker.ci_report`` writes them as JUnit XML and
Markdown, and ``checker/ci_cmd.py`` prints them.
"""

from __future__ import annotations

import json
import signal
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from checker.progress import ProgressFn, report

# Told the name of each row as it starts (for progress).
RowStart = Callable[[str], None]

# CI-sized parameters: a postmaster and two backends (two are needed for the
# races between backends).  Two workers each over two slots recycle every
# slot through both queues (the barrier mutations need that); one slot and
# one worker each empties the free queue (the off-by-one needs that).
PARAM_SETS = ({"threads": 3, "slots": 2, "ops": 2}, {"threads": 3, "slots": 1, "ops": 1})
# Mutations that need a rogue: the postmaster alone with one backend is enough;
# two garbage writes break postmaster safety.  A postmaster that may loop
# forever needs a rogue that never stops, and a small step bound turns the
# loop into a violation quickly.
ROGUE_PARAMS = ({"threads": 2, "slots": 2, "ops": 1, "rogue_writes": 2},)
ROGUE_LOOP_PARAMS = ({"threads": 2, "slots": 1, "ops": 1, "rogue_writes": None, "step_bound": 8},)
CAUGHT_STATE_LIMIT = 1_000_000  # only where a violation is expected


@dataclass
class Row:
    suite: str
    name: str
    expected: str
    outcome: str = ""
    ok: bool = False
    seconds: float = 0.0
    detail: str = ""


def _explore(protocol, mutation, memory_model, params, rogue, max_states, window=None):
    from checker.explore import Options
    from checker.run import check

    p = dict(params)
    if rogue:
        p["rogue"] = True
    else:
        p.pop("rogue_writes", None)
    opts = Options(max_states=max_states, stop_on_first=True)
    # --window bounds weak's reordering (an under-approximation each row's detail states).
    mm_options = {"window": window} if window and memory_model == "weak" else None
    _engine, res = check(protocol, mutation=mutation, memory_model=memory_model, options=opts,
                         mm_options=mm_options, **p)
    return res


def _stop_if_interrupted() -> None:
    """A search turns Ctrl-C into an incomplete result; ci stops at the first one instead of going on."""
    from checker import signals

    if signals.interrupted():
        raise KeyboardInterrupt


def _describe(p) -> str:
    extra = "".join(f" {k}={v}" for k, v in p.get("extra", {}).items())
    return f"threads {p['threads']} slots {p['slots']} ops {p['ops']}{extra}"


def _param_sets(proto_cls):
    return proto_cls.ci_params or PARAM_SETS


def _run_sets(protocol, mutation, mm, sets, rogue, expect_bug, window=None):
    """Explore at each parameter set; returns (outcome, violated?, complete everywhere?, detail)."""
    states = 0
    for params in sets:
        res = _explore(protocol, mutation, mm, params, rogue, CAUGHT_STATE_LIMIT if expect_bug else None, window)
        _stop_if_interrupted()
        states += res.states
        if res.violations:
            prop, cx = next(iter(res.violations.items()))
            return prop, True, False, f"{cx.length} steps at {_describe(params)}: {cx.message}"
        if not res.complete:
            # Bounded (a state limit, or a memory model's safety cap) and
            # nothing found: neither "harmless" nor "caught".
            return None, False, False, f"{res.stop_reason} at {_describe(params)}, nothing found"
    sets_text = "; ".join(_describe(p) for p in sets)
    # A bounded memory model (weak's window, tso's buffers) is part of what was checked: say it.
    bound = "" if res.reordering_bound is None else f", {res.bound_words()}"
    return None, False, True, f"{states:,} states, exhaustive{bound} ({sets_text})"


def _starting(on_row: RowStart | None, row: Row) -> None:
    if on_row is not None:
        on_row(row.name)


def exploration_rows(protocol: str, proto_cls, models, on_row: RowStart | None = None,
                     window: int | None = None) -> list[Row]:
    rows = []
    for mm in models:
        # A model of code as written (Protocol.broken_under) must fail where it says.
        broken = mm in proto_cls.broken_under
        row = Row("explore", f"{proto_cls.name} {mm} {'as written' if broken else 'correct'}",
                  "violated" if broken else "holds")
        _starting(on_row, row)
        t0 = time.perf_counter()
        prop, violated, complete, row.detail = _run_sets(protocol, None, mm, _param_sets(proto_cls), False, broken,
                                                         window)
        row.seconds = time.perf_counter() - t0
        row.outcome = f"VIOLATED {prop}" if violated else ("holds" if complete else "incomplete")
        row.ok = violated == broken and (violated or row.outcome == "holds")
        rows.append(row)
    for f in proto_cls.findings:
        if f.memory_model not in models:
            continue
        row = Row("explore", f"{proto_cls.name} {f.memory_model} finding {f.name}", "caught: " + " or ".join(f.breaks))
        _starting(on_row, row)
        t0 = time.perf_counter()
        prop, violated, _complete, row.detail = _run_sets(protocol, None, f.memory_model, (f.kwargs(),), False,
                                                          True, window)
        row.seconds = time.perf_counter() - t0
        row.outcome = f"caught: {prop}" if violated else "not caught"
        row.ok = violated and prop in f.breaks
        rows.append(row)
    return rows


def mutation_rows(protocol: str, proto_cls, models, on_row: RowStart | None = None,
                  window: int | None = None) -> list[Row]:
    rows = []
    for name, mut in proto_cls.mutations.items():
        from checker.model import WAIT_FREEDOM

        sets = _param_sets(proto_cls)
        if mut.needs_rogue:
            sets = ROGUE_LOOP_PARAMS if mut.breaks == WAIT_FREEDOM else ROGUE_PARAMS
        for mm in models:
            bug = mm in mut.bug_under
            row = Row("mutations", f"{proto_cls.name} {mm} {name}", "caught" if bug else "harmless")
            _starting(on_row, row)
            t0 = time.perf_counter()
            prop, violated, complete, row.detail = _run_sets(protocol, name, mm, sets, mut.needs_rogue, bug, window)
            row.seconds = time.perf_counter() - t0
            if violated:
                row.outcome = f"caught: {prop}"
                row.ok = bug
                if bug and mut.breaks and prop != mut.breaks:
                    row.detail += f" (the mutation is said to break {mut.breaks})"
            elif complete:
                row.outcome, row.ok = "harmless", not bug
            else:
                row.outcome = "not caught" if bug else "incomplete"
            rows.append(row)
    return rows


def proof_rows(proto_cls, on_row: RowStart | None = None, docs_rows_dir: Path | None = None) -> list[Row]:
    """The z3 proofs of one protocol; with ``docs_rows_dir``, also its row of docs/proofs.md's robustness table.

    The robustness proofs are the table's (same parameters, same mutations),
    so `checker.docs_tables --from-ci` checks the docs from this row instead
    of proving everything a second time.
    """
    from checker.docs_tables import ROBUSTNESS_PARAMS, ROBUSTNESS_ROW, robustness_cells, robustness_targets
    from checker.model import PM_SAFETY, Params
    from checker.prove.budget import Undecided
    from checker.prove.robustness import prove_robustness
    from checker.prove.setup import proof_module

    rows = []
    p = Params(**ROBUSTNESS_PARAMS)
    from checker.model import ModelError, build_system
    from checker.prove.setup import refuse_processes

    try:
        refuse_processes(build_system(proto_cls, Params(threads=2, slots=proto_cls.min_slots, ops=1)),
                         postmaster_only=True)
    except ModelError as exc:
        if "checker prove does not handle" not in str(exc):
            raise
        # Stated, not hidden: the row says the proof was not run and why.
        return [Row("proofs", f"{proto_cls.name} robustness", "not run", "not run", True, 0.0,
                    "the prover does not read worker processes, signals or private arrays; "
                    "explorations and the mutation matrix cover this model")]
    # A model of code as written may fail robustness itself (a Finding that breaks postmaster safety).
    targets = [(None, "fails" if any(PM_SAFETY in f.breaks for f in proto_cls.findings) else "proved")]
    targets += [(m, "fails") for m in robustness_targets(proto_cls)]
    proved: dict[str | None, Any] = {}
    for mutation, expected in targets:
        row = Row("proofs", f"{proto_cls.name} robustness {mutation or 'correct'}", expected)
        _starting(on_row, row)
        t0 = time.perf_counter()
        try:
            res = prove_robustness(proto_cls, p, mutation, witness=False)
        except Undecided as exc:
            row.seconds = time.perf_counter() - t0
            row.outcome, row.detail = "unknown", str(exc)
            rows.append(row)
            continue
        row.seconds = time.perf_counter() - t0
        proved[mutation] = res
        if res.failure:
            f = res.failure
            row.outcome = "fails"
            row.detail = f"{f.prop} in {f.op}: {f.message}"
        elif res.proved:
            row.outcome = "proved"
            row.detail = f"{res.space.describe()}, step bound {res.step_bound}"
        else:
            row.outcome = "unknown"
        row.ok = row.outcome == expected
        rows.append(row)
    if docs_rows_dir is not None and len(proved) == len(targets):  # nothing undecided
        cells = robustness_cells(proto_cls.name, proved[None], [(m, proved[m]) for m, _ in targets[1:]])
        docs_rows_dir.mkdir(parents=True, exist_ok=True)
        (docs_rows_dir / f"{proto_cls.name}{ROBUSTNESS_ROW}").write_text(json.dumps(cells) + "\n", encoding="utf-8")
    spec = proof_module(proto_cls)
    if spec is not None and hasattr(spec, "invariant"):
        from checker.prove.invariants import prove_invariants

        row = Row("proofs", f"{proto_cls.name} invariants correct", "proved")
        _starting(on_row, row)
        t0 = time.perf_counter()
        res = prove_invariants(proto_cls, Params(threads=3, slots=2, ops=1), None)
        row.seconds = time.perf_counter() - t0
        if res.failures:
            f = res.failures[0]
            row.outcome = "fails"
            row.detail = f"{f.what}: {f.conjunct} ({f.instr})"
        elif res.unknown:
            row.outcome = "unknown"
            row.detail = res.unknown[0]
        else:
            row.outcome, row.ok = "proved", True
            row.detail = f"{len(res.conjuncts)} conjuncts, {res.slot_range}"
        rows.append(row)
    return rows


def litmus_rows(models, on_row: RowStart | None = None) -> tuple[list[Row], str]:
    try:
        from checker import litmus
    except ModuleNotFoundError as exc:
        if exc.name == "checker.litmus":
            return [], "litmus suite skipped: checker/litmus.py is not there"
        raise
    rows = []
    for path in litmus.suite_files():
        test = litmus.parse_litmus(path)
        for mm in models:
            if on_row is not None:
                on_row(f"{test.name} {mm}")
            t0 = time.perf_counter()
            res = litmus.run_litmus(test, mm)
            _stop_if_interrupted()
            if res.expected is None:
                continue
            want = res.expected[0]
            row = Row("litmus", f"{test.name} {mm}", want, res.result, res.ok, time.perf_counter() - t0,
                      f"{res.outcomes} outcomes, {res.states} states")
            rows.append(row)
    return rows, ""


def fence_rows(protocol: str, fences_dir: Path, on_row: RowStart | None = None, window: int | None = None,
               workers: int = 2) -> list[Row]:
    """The fence table (checker fences) of one protocol, written to ``fences_dir`` as Markdown and JSON."""
    import json

    from checker.fence_analysis import Bounds, analyse, default_bounds
    from checker.fence_docs import DOC_SECTION, README_ROW
    from checker.fence_report import markdown, summary_row
    from checker.model import resolve_protocol

    name = resolve_protocol(protocol).name
    row = Row("fences", f"{name} fence table", "complete, C twin agrees")
    _starting(on_row, row)
    t0 = time.perf_counter()
    # Two workers by default: the checks are independent, and CI machines have
    # two cores (one when ci itself runs its parts in parallel).
    table = analyse(protocol, Bounds(*default_bounds(name), window=window), ["sc", "tso", "weak"],
                    ["documented", "arm64", "x86-64"], workers=workers, trace_dir=str(fences_dir / "traces"))
    fences_dir.mkdir(parents=True, exist_ok=True)
    (fences_dir / f"{name}.md").write_text(markdown(table))
    (fences_dir / f"{name}.json").write_text(json.dumps(table.as_json(), indent=1) + "\n")
    # docs/fences.md's section and the README's row, made as checker.fence_docs
    # makes them: `fence_docs --check-from` compares them with the committed
    # docs, so CI need not compute every table a second time.
    (fences_dir / f"{name}{DOC_SECTION}").write_text(markdown(table, timings=False))
    (fences_dir / f"{name}{README_ROW}").write_text(summary_row(table) + "\n")
    twin_ok = table.twin is None or table.twin.agrees or not table.twin.available
    row.ok = table.exit_code == 0 and twin_ok
    row.outcome = ("complete" if table.exit_code == 0 else "violated as written" if table.exit_code == 1
                   else "incomplete") + ("" if twin_ok else ", C twin differs")
    row.seconds = time.perf_counter() - t0
    row.detail = f"{fences_dir / (name + '.md')}; " + (table.twin.summary() if table.twin is not None else "")
    return [row]


@dataclass(frozen=True)
class Part:
    """One independent piece of the job: a suite of one protocol, or the litmus suite (``protocol`` None)."""

    what: str
    suite: str
    protocol: str | None


def _run_part(part: Part, window: int | None, fences_dir: Path, fence_workers: int,
              on_row: RowStart | None = None) -> tuple[list[Row], str]:
    """The rows of one part (and a note); runs in the ci process or in a worker process."""
    from checker.memory import memory_models
    from checker.model import resolve_protocol

    models = list(memory_models())
    if part.protocol is None:
        return litmus_rows(models, on_row)
    proto_cls = resolve_protocol(part.protocol)
    if part.suite == "explore":
        return exploration_rows(part.protocol, proto_cls, models, on_row, window), ""
    if part.suite == "mutations":
        return mutation_rows(part.protocol, proto_cls, models, on_row, window), ""
    if part.suite == "proofs":
        return proof_rows(proto_cls, on_row, fences_dir), ""
    return fence_rows(part.protocol, fences_dir, on_row, window, fence_workers), ""


def _crash_row(part: Part, exc: BaseException) -> Row:
    """A crash is a failed row, not a traceback."""
    last = traceback.format_exception(exc, limit=3)[-1].strip()
    return Row(part.suite, part.what, "runs", f"error: {exc}", False, 0.0, last)


def run_ci(protocols: list[str], skip: set[str], progress: ProgressFn | None = None,
           fences_dir: Path = Path("fence-tables"), window: int | None = None,
           workers: int = 1) -> tuple[list[Row], list[str]]:
    """Every row of the job; ``progress`` is told each part (done of total) and each row as it starts.

    ``window`` bounds weak's reordering in every weak run (``--window``): an
    under-approximation that finds real bugs and whose "holds" rows say so.
    ``workers`` > 1 runs that many parts at once in worker processes (the
    parts are independent); the rows come out in the same order either way.
    """
    from checker import signals
    from checker.model import load_protocols, resolve_protocol

    names = protocols or list(load_protocols())
    parts = [Part(f"{resolve_protocol(name).name} {suite}", suite, name)
             for name in names for suite in ("explore", "mutations", "proofs", "fences") if suite not in skip]
    if "litmus" not in skip and not protocols:
        parts.append(Part("litmus suite", "litmus", None))
    notes: list[str] = []
    if workers == 1:
        done = _run_parts_here(parts, progress, fences_dir, window, 2, notes)
    else:
        # A fence table is itself hundreds of independent checks, spread over
        # its own workers, and the longest part of the job: the tables run one
        # after another, each on every worker; the other parts share a pool.
        tables = [k for k, part in enumerate(parts) if part.suite == "fences"]
        pooled = [k for k in range(len(parts)) if k not in tables]
        done = dict(zip(pooled, _run_parts_in_pool([parts[k] for k in pooled], progress, fences_dir, window,
                                                   workers, notes)))
        if not signals.interrupted():
            done.update(zip(tables, _run_parts_here([parts[k] for k in tables], progress, fences_dir, window,
                                                    workers, notes)))
        done = [done.get(k) for k in range(len(parts))]
    # In part order; a part that did not finish has no rows (an interrupted job reports what it covered).
    return [row for part_rows in done if part_rows is not None for row in part_rows], notes


PartRows = list[Row] | None  # None: the part did not run to its end


def _run_parts_here(parts: list[Part], progress: ProgressFn | None, fences_dir: Path, window: int | None,
                    fence_workers: int, notes: list[str]) -> list[PartRows]:
    from checker import signals

    done: list[PartRows] = [None] * len(parts)
    for k, part in enumerate(parts):
        report(progress, part.what, k, len(parts))

        def on_row(name: str, _what: str = part.what, _k: int = k) -> None:
            report(progress, f"{_what}: {name}", _k, len(parts))

        try:
            done[k], note = _run_part(part, window, fences_dir, fence_workers, on_row)
        except KeyboardInterrupt:
            if not signals.interrupted():
                raise
            # Stop at the first Ctrl-C or SIGTERM: the part under way is
            # dropped (its rows would be partial), and the report says so.
            left = [p.what for p in parts[k:]]
            notes.append(f"{signals.how()} during {part.what}; not run: {', '.join(left)}")
            break
        except Exception as exc:
            done[k], note = [_crash_row(part, exc)], ""
        if note:
            notes.append(note)
    else:
        report(progress, "done", len(parts), len(parts))
    return done


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _worker_signals() -> None:
    """In a worker: Ctrl-C is the ci process's to handle (it stops the pool); SIGTERM ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Forked while the ci process held these signals back (below): take them again.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _part_in_worker(part: Part, window: int | None, fences_dir: Path, conn) -> None:
    """A worker process's whole life: one part, its rows sent back on ``conn``."""
    _worker_signals()
    try:
        # A worker cannot usefully start processes of its own: a fence table here runs in one process.
        rows, note = _run_part(part, window, fences_dir, 1)
    except Exception as exc:
        rows, note = [_crash_row(part, exc)], ""
    conn.send((rows, note))
    conn.close()


def _died_row(part: Part, exitcode: int | None) -> Row:
    """A worker that ended without sending its rows (killed by the kernel's OOM killer, say) fails its part."""
    how = f"signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit code {exitcode}"
    return Row(part.suite, part.what, "runs", f"error: its worker process died ({how})", False, 0.0,
               "the part's rows were lost with the process")


def _run_parts_in_pool(parts: list[Part], progress: ProgressFn | None, fences_dir: Path, window: int | None,
                       workers: int, notes: list[str]) -> list[PartRows]:
    """Run the parts ``workers`` at a time, one process per part.

    One process per part, watched through its pipe, rather than a pool:
    a pool replaces a worker that the kernel killed and waits for ever for the
    result it took with it; here the part fails with the reason, and the rest
    of the job goes on.  Parts take seconds to minutes, so a fork per part
    costs nothing that shows.
    """
    import multiprocessing
    from multiprocessing.connection import wait

    from checker import signals

    context = multiprocessing.get_context("fork")
    done: list[PartRows] = [None] * len(parts)
    finished: list[str] = []
    # Longest first: the proofs parts hold the job's longest rows (z3's
    # invariant and robustness proofs, minutes each), and one of them started
    # last would run on while the other workers sit idle.  The rows still come
    # out in part order (``done`` is indexed by part).
    waiting = sorted(range(len(parts)), key=lambda k: parts[k].suite != "proofs")
    # receiving end -> (part index, process): a worker's rows may be more than a
    # pipe holds, so the ci process waits on the pipes (a dead worker's pipe
    # reads as closed), not on the processes' ends.
    running: dict = {}
    report(progress, f"{len(parts)} parts on {workers} workers", 0, len(parts))
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                k = waiting.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                # A signal between fork and bookkeeping would leave a worker
                # nobody stops: hold SIGINT and SIGTERM back until it is
                # recorded (the worker takes them again, _worker_signals); one
                # that arrived meanwhile is delivered at the unblock.
                signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
                try:
                    process = context.Process(target=_part_in_worker, args=(parts[k], window, fences_dir, sender),
                                              daemon=True)
                    process.start()
                    running[receiver] = (k, process)
                finally:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
                sender.close()
            for ready in wait(list(running)):
                k, process = running.pop(ready)
                receiver = ready
                try:
                    rows, note = receiver.recv()
                except (EOFError, OSError):
                    process.join()
                    rows, note = [_died_row(parts[k], process.exitcode)], ""
                receiver.close()
                process.join()
                done[k] = rows
                finished.append(note)
                report(progress, f"{parts[k].what} done", len(finished), len(parts))
    except KeyboardInterrupt:
        if not signals.interrupted():
            raise
        left = [p.what for k, p in enumerate(parts) if done[k] is None]
        notes.append(f"{signals.how()}; not run or not finished: {', '.join(left)}")
    finally:
        for receiver, (_k, process) in running.items():
            process.terminate()
            process.join()
            receiver.close()
    notes += [n for n in finished if n]
    return done
