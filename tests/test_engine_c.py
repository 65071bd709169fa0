"""``--engine c`` against ``--engine compiled``: the same search, to the state.

Exact state and transition counts, depths, verdicts and counterexample
lengths (and the counterexamples' labels) must equal the compiled Python
engine's on every shipped protocol, on the mutation matrix, under sc and
tso, and on the test models the C engine accepts; what it does not translate
is refused in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from checker.engine_c import Unsupported
from checker.explore import Options, explore
from checker.litmus import parse_litmus, run_litmus
from checker.model import ModelError, Params, load_protocols
from checker.run import check, make_engine

ROOT = Path(__file__).resolve().parent.parent


def _summary(result):
    return {
        "states": result.states, "transitions": result.transitions, "max_depth": result.max_depth,
        "complete": result.complete, "stop_reason": result.stop_reason,
        "max_postmaster_steps": result.max_postmaster_steps, "cut_by": sorted(result.cut_by),
        "verdicts": {p: result.verdict(p) for p in sorted(result.system.checkable)},
        "violations": {p: (cx.message, cx.length, cx.labels, cx.final_label, cx.cycle_start, cx.states[-1])
                       for p, cx in result.violations.items()},
    }


def _both(protocol, options_kw=None, mutation=None, memory_model="sc", mm_options=None, **params):
    out = []
    for engine in ("compiled", "c"):
        _eng, res = check(protocol, mutation=mutation, memory_model=memory_model, engine=engine,
                          options=Options(**(options_kw or {})), mm_options=mm_options, **params)
        out.append(res)
    compiled, c = out
    assert c.engine == "c"
    assert _summary(c) == _summary(compiled)
    return compiled, c


# changequeue-fixed has ~10 million states at three threads (the C engine
# covers them in about a minute; the compiled one would take an hour).
_TOO_BIG_AT_3 = {"changequeue-fixed"}


def _protocol_cases():
    # Every protocol at two threads in the default run; at three (the
    # figures tests/test_engine_counts.py pins) in the slow run, but ring.
    cases = []
    for name in sorted(load_protocols()):
        cases.append(pytest.param(name, 2, id=f"{name}-t2"))
        if name not in _TOO_BIG_AT_3:
            marks = [] if name == "ring" else [pytest.mark.slow]
            cases.append(pytest.param(name, 3, id=f"{name}-t3", marks=marks))
    return cases


@pytest.mark.parametrize("protocol,threads", _protocol_cases())
def test_shipped_protocols(protocol, threads):
    _compiled, c = _both(protocol, threads=threads)
    assert c.states > 50 and (c.liveness_checked or c.violations)


# changequeue under tso at three threads takes the compiled engine 30-60 s;
# it runs at two.
_TOO_BIG_AT_3_UNDER_TSO = {"changequeue"}


def _tso_protocol_cases():
    # Every case is a C build of its own, which a fresh build cache (as in
    # CI) pays for each time: the default run keeps ring, the slow run has
    # every protocol, as under sc.
    too_big = {f"{p}-t3" for p in _TOO_BIG_AT_3_UNDER_TSO}
    return [case if case.id.startswith("ring-") else pytest.param(*case.values, id=case.id, marks=[pytest.mark.slow])
            for case in _protocol_cases() if case.id not in too_big]


@pytest.mark.parametrize("protocol,threads", _tso_protocol_cases())
def test_shipped_protocols_under_tso(protocol, threads):
    _compiled, c = _both(protocol, memory_model="tso", threads=threads)
    assert c.states > 50 and (c.liveness_checked or c.violations)


def _mutations(model="sc"):
    cases = []
    for name, cls in sorted(load_protocols().items()):
        for m, mut in sorted(cls.mutations.items()):
            if mut.needs_rogue:
                continue  # test_mutations_caught_only_with_a_rogue
            if model not in mut.bug_under:
                # Not a bug under this model: the search is exhaustive, as the protocol's own.
                continue
            slow = name.startswith("changequeue")  # hundreds of thousands of states before the violation
            cases.append(pytest.param(name, m, id=f"{name}-{m}", marks=[pytest.mark.slow] if slow else []))
    return cases


@pytest.mark.parametrize("protocol,mutation", _mutations())
def test_mutation_matrix_under_sc(protocol, mutation):
    _compiled, c = _both(protocol, {"liveness": False}, mutation=mutation, threads=3)
    assert c.violations


# Under tso the default run keeps one mutation of a ring and one of a CAS
# loop (a C build each); the slow run has the rest of the matrix but
# changequeue-fixed's no-queued-flag, which takes the compiled engine 20-40 s
# under tso and is the same bug under sc, where it is compared.
_TSO_DEFAULT_MUTATIONS = {"ring-no-lock", "caslist-no-tag"}
_TSO_LEFT_TO_SC = {"changequeue-fixed-no-queued-flag"}


@pytest.mark.parametrize("protocol,mutation", [
    case if case.id in _TSO_DEFAULT_MUTATIONS else pytest.param(*case.values, id=case.id, marks=[pytest.mark.slow])
    for case in _mutations("tso") if case.id not in _TSO_LEFT_TO_SC])
def test_mutation_matrix_under_tso(protocol, mutation):
    _compiled, c = _both(protocol, {"liveness": False}, mutation=mutation, memory_model="tso", threads=3)
    assert c.violations


def test_store_buffer_bound():
    # --window bounds each thread's buffer: fewer pending stores, fewer states.
    states = []
    for window in (1, 2):
        _compiled, c = _both("ring", mm_options={"window": window}, memory_model="tso", threads=2)
        assert c.complete
        states.append(c.states)
    assert states[0] < states[1]


def test_lasso_only_under_tso():
    # --step-bound 0: wait-freedom from lassos over the graph C hands over.
    _compiled, c = _both("ring", memory_model="tso", threads=2, step_bound=0)
    assert c.liveness_checked and c.max_postmaster_steps == 1


@pytest.mark.parametrize("mutation, params, options", [
    (None, {"threads": 2}, {}),
    # A wait-freedom lasso found in the part of the graph a state cap leaves.
    ("unbounded-retry", {"threads": 2, "slots": 1, "ops": 1, "rogue": True, "rogue_writes": None, "step_bound": 0,
                         "extra": {"cas_retries": 1}}, {"max_states": 20000}),
])
def test_the_graph_handed_over_in_small_pieces_is_the_whole_graph(monkeypatch, mutation, params, options):
    # The graph leaves C from its end, a piece at a time (checker.engine_c._take_graph):
    # small pieces, so that every array takes several, give what one piece does.
    from checker import engine_c
    from checker.model import WAIT_FREEDOM

    protocol = "caslist" if mutation else "ring"
    _compiled, whole = _both(protocol, options, mutation=mutation, **params)
    monkeypatch.setattr(engine_c, "_TAIL", 100)
    _eng, pieces = check(protocol, mutation=mutation, memory_model="sc", engine="c", options=Options(**options),
                         **params)
    assert pieces.transitions > 100 * 3 and pieces.liveness_checked == (not mutation)
    assert _summary(pieces) == _summary(whole)
    assert (WAIT_FREEDOM in pieces.violations) == bool(mutation)


def _packed_both_ways(monkeypatch, protocol, options, mutation=None, **params):
    """The C search with each id of a packed state starting at one byte (widened as its table grows) and at
    four (never widened: the layout before ids were narrowed): the results, and the bytes of a packed state."""
    from checker import engine_c

    out = []
    for first in (1, 4):
        monkeypatch.setattr(engine_c, "_FIRST_ID_BYTES", first)
        eng, res = check(protocol, mutation=mutation, memory_model="sc", engine="c", options=Options(**options),
                         **params)
        lib = eng.module().lib
        out.append((res, lib.sc_info(12), [lib.sc_id_bytes(c) for c in range(2 + eng.layout.nthreads)]))
    (narrow, narrow_bytes, id_bytes), (words, words_bytes, word_ids) = out
    assert word_ids == [4] * len(word_ids) and words_bytes == 4 * len(word_ids)
    assert narrow_bytes == sum(id_bytes)
    assert _summary(narrow) == _summary(words)
    assert narrow.bytes_per_state < words.bytes_per_state
    return narrow, narrow_bytes, id_bytes


@pytest.mark.parametrize("protocol, mutation, params, options", [
    ("ring", None, {"threads": 3}, {}),
    ("caslist", "unbounded-retry", {"threads": 2, "slots": 1, "ops": 1, "rogue": True, "rogue_writes": None,
                                    "step_bound": 0, "extra": {"cas_retries": 1}}, {"max_states": 20000}),
])
def test_narrow_ids_widen_without_changing_the_search(monkeypatch, protocol, mutation, params, options):
    # Ids start at one byte and widen when their tables pass 2^8 items: every
    # packed state is rewritten and hashed again mid-search, and the search
    # (its numbering, parents, edges, cycle analysis and counterexamples) is the same.
    res, packed, id_bytes = _packed_both_ways(monkeypatch, protocol, options, mutation, **params)
    assert 2 in id_bytes and max(id_bytes) == 2 and res.states > 1000 and res.liveness_checked == (not mutation)


@pytest.mark.slow  # two C searches of 1.5 million states: ~5 s
def test_ids_widen_to_three_bytes(monkeypatch):
    # bgworker's shared memory passes 2^16 distinct values before 1.5 million
    # states with a rogue: its id widens to three bytes.  The largest
    # postmaster step count reads every state's packed id back.
    res, packed, id_bytes = _packed_both_ways(monkeypatch, "bgworker", {"max_states": 1_500_000, "liveness": False},
                                              threads=3, rogue=True)
    assert id_bytes[0] == 3 and res.states == 1_500_000


def _check_the_place_read_in_c(monkeypatch) -> list:
    """Each time the C states are asked where a thread is, check the answer against every state decoded one by
    one; the list returned gets (states, states with the thread inside an operation) for each."""
    from checker import engine_c

    asked: list = []
    place = engine_c._CStates.place

    def checked_place(self, tid, in_op):
        inside, restarted = place(self, tid, in_op)
        threads = [self[i][1][tid] for i in range(len(self))]
        assert inside == bytearray(1 if in_op[t[0]] else 0 for t in threads)
        assert restarted == bytearray(1 if in_op[t[0]] and t[1] == 0 else 0 for t in threads)
        asked.append((len(inside), sum(inside)))
        return inside, restarted

    monkeypatch.setattr(engine_c._CStates, "place", checked_place)
    return asked


def test_the_postmasters_place_read_in_c(monkeypatch):
    # The wait-freedom analysis asks the C states where the postmaster is in
    # each (checker.explore._postmaster_lasso): C reads it from the packed
    # ids; here it is checked against the decoded states, on a run whose
    # lasso it decides.
    asked = _check_the_place_read_in_c(monkeypatch)
    _compiled, c = _both("caslist", {"max_states": 20000}, mutation="unbounded-retry", threads=2, slots=1, ops=1,
                         rogue=True, rogue_writes=None, step_bound=0, extra={"cas_retries": 1})
    assert asked and 0 < asked[0][1] < c.states


def test_a_table_growth_past_the_memory_limit_stops_the_search(monkeypatch):
    # A table's slots grow, and packed states widen, all at once: C is told
    # before each chunk how much room --max-memory leaves, and refuses a
    # growth past it (the run stops with exit 3 and its coverage), rather than
    # passing the limit by up to gigabytes before the next check.
    from checker import memlimit

    limit = 1 << 40
    monkeypatch.setattr(memlimit, "resident_bytes", lambda: limit - 200_000)
    _eng, res = check("ring", memory_model="sc", engine="c", options=Options(memory_limit=limit), threads=3)
    assert not res.complete and res.exit_code == 3 and not res.liveness_checked
    assert "memory limit 1.0 TiB reached: the visited set would grow past it" in res.stop_reason
    assert "(raise it with --max-memory, or keep the graph on disk with --spill DIR)" in res.stop_reason
    assert 1000 < res.states < 39_052
    monkeypatch.setattr(memlimit, "resident_bytes", lambda: limit - (1 << 30))
    _eng, res = check("ring", memory_model="sc", engine="c", options=Options(memory_limit=limit), threads=3)
    assert res.complete and res.states == 39_052


@pytest.mark.slow  # two C builds and a rogue search compared with the compiled engine: ~10 s
def test_rogue_under_tso():
    # The rogue writes memory, not buffers, into the word the postmaster's
    # next event reads (its address whatever the postmaster has buffered).
    _compiled, c = _both("ring", memory_model="tso", **_ROGUE_SMALL)
    assert c.states > 1000 and c.liveness_checked
    _compiled, c = _both("changequeue-fixed", {"liveness": False}, mutation="no-range-check", memory_model="tso",
                         rogue=True, threads=2, slots=2, ops=1, rogue_writes=2)
    assert "postmaster safety" in c.violations


# --rogue: the rogue's writes come after every program thread's moves, backends
# crash on the indices it corrupts, and only the postmaster's properties are
# checked.  Small bounds keep each pair of runs to seconds.
_ROGUE_SMALL = {"threads": 2, "slots": 2, "ops": 1, "rogue": True}
# At two slots changequeue-fixed has 1.6 million states with a rogue.
_ROGUE_SLOTS = {"changequeue-fixed": 1}


# changequeue-fixed's takes 5-8 s: in the slow run.
@pytest.mark.parametrize("protocol", [pytest.param(p, marks=[pytest.mark.slow] if p == "changequeue-fixed" else [])
                                      for p in sorted(load_protocols())])
def test_shipped_protocols_with_a_rogue(protocol):
    params = {**_ROGUE_SMALL, "slots": _ROGUE_SLOTS.get(protocol, 2)}
    _compiled, c = _both(protocol, **params)
    assert c.states > 20 and c.system.rogue_tid is not None


def test_rogue_anywhere_crashes_backends():
    # Written anywhere, the rogue corrupts indices the backends read: they
    # crash (C writes that move itself); --keep-going follows every execution
    # past the violations.
    options = {"liveness": False, "stop_on_first": False}
    params = {**_ROGUE_SMALL, "rogue_anywhere": True}
    engine = make_engine("dsmhandle", Params(**params), None, "sc", engine="compiled")
    crashes = 0
    crash = engine.mm._crash

    def counted(state, tid, prog, pc, viol, out):
        nonlocal crashes
        crashes += viol is None
        crash(state, tid, prog, pc, viol, out)

    engine.mm._crash = counted
    compiled = explore(engine, Options(**options), "sc")
    assert crashes > 0, "the comparison met no crashed backend"
    _engine, c = check("dsmhandle", memory_model="sc", engine="c", options=Options(**options), **params)
    assert c.engine == "c" and _summary(c) == _summary(compiled)


def _rogue_mutations():
    from checker.ci_policy import ROGUE_LOOP_PARAMS, ROGUE_PARAMS
    from checker.model import WAIT_FREEDOM

    cases = []
    for name, cls in sorted(load_protocols().items()):
        for m, mut in sorted(cls.mutations.items()):
            if mut.needs_rogue and "sc" in mut.bug_under:
                # The parameters checker ci catches it with (unlimited writes for a livelock).
                params = (ROGUE_LOOP_PARAMS if mut.breaks == WAIT_FREEDOM else ROGUE_PARAMS)[0]
                cases.append(pytest.param(name, m, mut.breaks, params, id=f"{name}-{m}"))
    return cases


@pytest.mark.parametrize("protocol,mutation,breaks,params", _rogue_mutations())
def test_mutations_caught_only_with_a_rogue(protocol, mutation, breaks, params):
    _compiled, c = _both(protocol, {"liveness": False}, mutation=mutation, rogue=True, **params)
    assert breaks in c.violations


@pytest.mark.slow  # 4-6 s; test_shipped_protocols_with_a_rogue keeps the C engine's rogue in the default run
def test_unlimited_rogue_writes():
    # The rogue's word stays "unlimited" (-1 in Python, a sentinel in C) in
    # every state; exhaustive, with the cycle analysis over the rogue's edges.
    _compiled, c = _both("dlist", threads=2, slots=1, ops=1, rogue=True, rogue_writes=None)
    assert c.complete and c.liveness_checked and c.states > 1000


_PM_LOCK = '''
from checker.lang import LWLockAcquire, LWLockRelease, pg_atomic_write_u32
from checker.model import Protocol

word = 0


def pm():
    LWLockAcquire(TheLock)
    pg_atomic_write_u32(word, 1)
    LWLockRelease(TheLock)


def backend():
    LWLockAcquire(TheLock)
    pg_atomic_write_u32(word, 2)
    pg_atomic_write_u32(word, 3)
    LWLockRelease(TheLock)


class PmLock(Protocol):
    name = "test-c-pm-lock"
    summary = "the postmaster waits for a lock a backend holds"
    roles = {"postmaster": pm, "backend": backend}

    def declare(self, p, d):
        d.word("word", 0)
        d.lock("TheLock")
'''


@pytest.mark.parametrize("model", ["sc", "tso"])
def test_postmaster_waiting_on_a_backend_with_a_rogue(tmp_path, model):
    # With a rogue a backend may crash holding the lock: a postmaster that
    # cannot move while others can is a deadlock, said as such.
    path = tmp_path / "pmlock.py"
    path.write_text(_PM_LOCK)
    _compiled, c = _both(str(path), threads=2, rogue=True, memory_model=model)
    assert c.violations["deadlock freedom"].message == "the postmaster cannot take its next step"
    _compiled, c = _both(str(path), threads=2, memory_model=model)
    assert not c.violations


def test_keep_going_and_limits():
    _both("ring", {"liveness": False, "stop_on_first": False}, mutation="no-lock", threads=3)
    _, c = _both("ring", {"liveness": False, "max_states": 5000}, threads=3)
    assert c.states == 5000 and not c.complete
    _, c = _both("ring", {"liveness": False, "max_depth": 20}, threads=3)
    assert not c.complete and c.max_depth == 20


def _test_models():
    # Each is a C build of its own: the default run takes two, the slow run the rest.
    return [pytest.param(p, id=p.stem, marks=[] if p.stem in ("counter", "pmsignal") else [pytest.mark.slow])
            for p in sorted((ROOT / "tests" / "models").glob("*.py"))]


@pytest.mark.parametrize("model", ["sc", "tso"])
@pytest.mark.parametrize("path", _test_models())
def test_models(path, model):
    try:
        make_engine(str(path), Params(threads=3), None, model, engine="compiled")
    except (ModelError, Exception) as exc:  # a model built to be refused by the compiler
        pytest.skip(f"not a runnable model: {exc}")
    try:
        _both(str(path), memory_model=model, threads=3)
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("model", ["sc", "tso"])
def test_local_loops_are_written_with_gotos(model):
    # bgworker's postmaster scans its private array in local loops without an
    # event: those events' local code is labelled blocks, not unrolled (under
    # tso in the buffered loads' and stores' functions too).
    engine = make_engine("bgworker", Params(threads=3), None, model, engine="c")
    assert engine.generator.jump_events > 0 and "goto P" in engine.c_source
    functions = engine.c_source.split("\nstatic int\n")
    assert any(f.startswith("bst_") and "goto P" in f for f in functions) == (model == "tso")


_DIV_ZERO = '''
from checker.lang import pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Protocol

divisor = 0


def start():
    pg_atomic_write_u32(divisor, 2)


def divide():
    d = pg_atomic_read_u32(divisor)
    q = 10 // d
    pg_atomic_write_u32(divisor, q + 1)


class DivZero(Protocol):
    name = "test-c-div-zero"
    summary = "a backend divides by a word the postmaster may not have written yet"
    roles = {"postmaster": start, "backend": divide}

    def declare(self, p, d):
        d.word("divisor", 0)
'''


@pytest.mark.parametrize("keep_going", [False, True])
def test_undefined_operations_are_left_to_python(tmp_path, keep_going):
    # A division by zero is undefined in C: C hands that step to the compiled
    # Python engine, whose verdict and counterexample must come out unchanged.
    path = tmp_path / "divzero.py"
    path.write_text(_DIV_ZERO)
    compiled, c = _both(str(path), {"stop_on_first": not keep_going}, threads=3)
    assert "memory safety" in c.violations and "division by zero" in c.violations["memory safety"].message
    engine, _ = check(str(path), memory_model="sc", engine="c", threads=3)
    assert engine.python_steps > 0


def test_undefined_operations_with_a_buffered_store(tmp_path):
    # Under tso the backend divides with its first store still buffered: C
    # hands Python the whole thread's moves, the flush first, in place of its own.
    path = tmp_path / "divzero_tso.py"
    path.write_text(_DIV_ZERO.replace("def divide():\n", "def divide():\n    pg_atomic_write_u32(other, 1)\n")
                    .replace('d.word("divisor", 0)', 'd.word("divisor", 0)\n        d.word("other", 0)'))
    _compiled, c = _both(str(path), {"stop_on_first": False}, memory_model="tso", threads=3)
    assert "division by zero" in c.violations["memory safety"].message
    engine = make_engine(str(path), Params(threads=3), None, "tso", engine="c")
    buffered = 0
    successors = engine.thread_successors

    def counted(state, tid, out):
        nonlocal buffered
        buffered += bool(state[2][tid])
        successors(state, tid, out)

    engine.thread_successors = counted
    explore(engine, Options(stop_on_first=False), "tso")
    assert engine.python_steps > 0 and buffered > 0


_INTERRUPTED_CHECK = '''
from checker.lang import pg_atomic_write_u32
from checker.model import Protocol, Violation

word = 0


def write():
    pg_atomic_write_u32(word, 1)


class Interrupted(Protocol):
    name = "test-c-interrupted-check"
    summary = "its quiescence check is where Ctrl-C arrives (or where it fails)"
    roles = {"postmaster": write, "backend": write}
    properties = ("word in range",)

    def declare(self, p, d):
        d.word("word", 0)

    def check_quiescent(self, view):
        if view.word("word") > 1:
            raise Violation("word in range", "the word is past 1")
        raise KILL()
'''


@pytest.mark.parametrize("kill", ["KeyboardInterrupt", "ZeroDivisionError"])
def test_exception_in_a_callback(tmp_path, kill):
    # C calls Python back for the quiescence check: Ctrl-C arriving there ends
    # the search as an interruption (not a verdict), a failing check is a
    # model error, as in the Python search.
    path = tmp_path / "interrupted.py"
    path.write_text(_INTERRUPTED_CHECK.replace("KILL", kill))
    if kill == "KeyboardInterrupt":
        _engine, res = check(str(path), memory_model="sc", engine="c", threads=2)
        assert res.stop_reason == "interrupted" and not res.complete and not res.violations
    else:
        with pytest.raises(ModelError, match="check_quiescent"):
            check(str(path), memory_model="sc", engine="c", threads=2)


@pytest.mark.parametrize("name,tso", [("SB", "allowed"), ("MP", "forbidden"), ("SB+mbs", "forbidden")])
def test_litmus_under_tso(name, tso):
    # Store buffering is tso's one relaxation: SB's outcome shows, MP's and
    # SB's with full barriers do not; the outcome sets and state counts are
    # the interpreted model's.
    test = parse_litmus(ROOT / "models" / "litmus" / f"{name}.litmus")
    for model, verdict in (("sc", "forbidden"), ("tso", tso)):
        c = run_litmus(test, model, engine="c")
        ref = run_litmus(test, model)
        assert c.result == verdict
        assert (c.outcome_set, c.states, c.judgement) == (ref.outcome_set, ref.states, ref.judgement)


def test_litmus_command_with_the_c_engine(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "checker", "litmus", "-m", "tso", "--engine", "c", "--json",
                           str(ROOT / "models" / "litmus" / "SB.litmus")], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["SB"]["result"] == "allowed"


def test_litmus_c_engine_refuses_weak():
    with pytest.raises(Unsupported, match="sc and tso memory models only"):
        run_litmus(parse_litmus(ROOT / "models" / "litmus" / "SB.litmus"), "weak", engine="c")


@pytest.mark.parametrize("args,why", [
    (["-m", "weak"], "sc and tso memory models only"),
    ([], "sc and tso memory models only"),  # the default model is weak
    (["-m", "tso", "--symmetry"], "--symmetry"),
    (["-m", "sc", "--rogue", "--rogue-writes", str(2**32 - 1)], "rogue writes do not fit"),
    (["-m", "sc", "--symmetry"], "--symmetry"),
    (["-m", "sc", "--fingerprint"], "--fingerprint"),
    (["-m", "sc", "--workers", "2"], "one process"),
])
def test_refused_in_one_line(args, why, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "checker", "explore", "ring", "--threads", "2", "--engine", "c",
                           "--no-trace", *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and why in lines[0] and "Traceback" not in proc.stderr


def _spilled_both_ways(tmp_path, protocol, options, mutation=None, **params):
    """The C search with and without --spill: the spilled run's result and C module, after checking that
    the two summaries are the same and that the spill directory is left empty."""
    out = []
    for spill in (None, str(tmp_path)):
        eng, res = check(protocol, mutation=mutation, memory_model="sc", engine="c",
                         options=Options(spill_dir=spill, **options), **params)
        out.append((eng, res))
    (_eng, kept), (eng, spilled) = out
    assert _summary(spilled) == _summary(kept)
    assert kept.spilled_bytes is None and spilled.spilled_bytes
    assert list(tmp_path.iterdir()) == []  # the files were unlinked from the start
    return spilled, eng.module().lib


@pytest.mark.parametrize("protocol, mutation, params, options", [
    # Counterexamples to safety read their paths from the spilled parents.
    ("ring", "no-lock", {"threads": 3}, {"stop_on_first": False}),
    # A wait-freedom lasso in the graph a state cap leaves.
    ("caslist", "unbounded-retry", {"threads": 2, "slots": 1, "ops": 1, "rogue": True, "rogue_writes": None,
                                    "step_bound": 0, "extra": {"cas_retries": 1}}, {"max_states": 20000}),
])
def test_a_spilled_search_finds_the_same_counterexamples(tmp_path, protocol, mutation, params, options):
    spilled, _lib = _spilled_both_ways(tmp_path, protocol, options, mutation, **params)
    assert spilled.violations


def test_a_spilled_search_writes_out_every_part_it_names(tmp_path):
    # Every parent (4 bytes a state), every edge offset (one more) and every
    # edge (a passing run: one a transition) went to the files during the
    # search, and every packed state once it was over; the cycle analysis ran
    # on the graph read back, and the postmaster's place was read from the
    # spilled states.
    spilled, lib = _spilled_both_ways(tmp_path, "ring", {}, threads=3)
    n, packed = spilled.states, lib.sc_info(12)
    assert spilled.complete and spilled.liveness_checked and not spilled.violations
    assert spilled.spilled_bytes == 4 * n + 4 * (n + 1) + 4 * spilled.transitions + packed * n


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_spill_write_that_fails_is_one_line_and_no_verdict(tmp_path, monkeypatch):
    # A full disk under --spill ends the run with its reason (the CLI prints
    # it on one line, exit 2): a graph missing its tail is no graph to decide
    # deadlock or wait-freedom on.
    from checker import engine_c

    make = engine_c._Spill.__init__

    def full_disk(self, directory):
        make(self, directory)
        self.edges.close()
        self.edges = open("/dev/full", "w+b")

    monkeypatch.setattr(engine_c._Spill, "__init__", full_disk)
    with pytest.raises(ModelError, match=r"^--spill .*: a file there could not be written or read back \(No space left on device\)$"):
        check("ring", memory_model="sc", engine="c", options=Options(spill_dir=str(tmp_path)), threads=3)


def test_the_graph_read_back_from_spill_asks_max_memory_first(tmp_path, monkeypatch):
    # Spilled, the graph comes back whole (not in pieces): --max-memory is
    # asked for all of it once the search's tables are freed, and a refusal
    # stops the run before the cycle analysis (exit 3, the search complete).
    from checker import explore as explore_module, memlimit

    asked = []

    def refuse_the_graph(self, nbytes, what):
        asked.append((nbytes, what))
        if "--spill" in what:
            raise memlimit.MemoryLimitReached("memory limit 1 B reached: the graph would pass it")

    monkeypatch.setattr(explore_module.Room, "__call__", refuse_the_graph)
    _eng, res = check("ring", memory_model="sc", engine="c", options=Options(spill_dir=str(tmp_path)), threads=3)
    assert asked == [(4 * (res.states + 1 + res.transitions), "the graph read back from --spill")]
    assert not res.complete and res.exit_code == 3 and not res.liveness_checked and res.states == 39_052
    assert "before the cycle analysis (the search had covered every state)" in res.stop_reason


def test_spilled_states_are_scanned_block_by_block(tmp_path, monkeypatch):
    # The postmaster's place is read from the spilled states 65,536 at a
    # time (scan_thread_ids): on 200,000 states, four blocks, the last one
    # short.  Checked against the states decoded one by one from the same
    # file, and the lasso it decides against the search held in memory.
    from checker.model import WAIT_FREEDOM

    asked = _check_the_place_read_in_c(monkeypatch)
    spilled, _lib = _spilled_both_ways(tmp_path, "caslist", {"max_states": 200_000}, "unbounded-retry", threads=2,
                                       slots=1, ops=1, rogue=True, rogue_writes=None, step_bound=0,
                                       extra={"cas_retries": 1})
    assert [n for n, _inside in asked] == [200_000, 200_000] and WAIT_FREEDOM in spilled.violations


def test_a_spill_file_cut_short_is_one_line_and_no_verdict(tmp_path, monkeypatch):
    # A file that reads back shorter than C wrote it (another process cut it)
    # is no graph to analyse either.
    from checker import engine_c

    read = engine_c._Spill.read

    def cut_short(self, f, count):
        f.truncate(2 * count)  # half of its 4-byte values
        return read(self, f, count)

    monkeypatch.setattr(engine_c._Spill, "read", cut_short)
    with pytest.raises(ModelError, match=r"^--spill .*: a spill file is shorter than written \(\d+ of \d+ bytes\)$"):
        check("ring", memory_model="sc", engine="c", options=Options(spill_dir=str(tmp_path)), threads=3)
