"""Workers, postmaster-private arrays and signals (issue 15, part 1), in both directions.

The models are tests/models/workers.py (the postmaster forks and restarts a
worker process per slot, keeping its per-slot state in private arrays) and
tests/models/pmsignal.py (backends signal a sleeping postmaster).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from checker.compile_sc import CompiledEngine
from checker.explore import Engine, Options
from checker.memory import PROFILES, memory_models
from checker.model import DEADLOCK, EXCLUSIVE, PM_SAFETY, Params
from checker.run import check, make_engine

from conftest import MODELS

WORKERS = str(MODELS / "workers.py")
PMSIGNAL = str(MODELS / "pmsignal.py")
ALL_MODELS = ("sc", "tso", "weak")


def run(model, mm, mutation=None, **params):
    params.setdefault("threads", 3)
    params.setdefault("slots", 1)
    _engine, result = check(model, mutation=mutation, memory_model=mm, **params)
    return result


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_worker_restart_after_reap_holds(mm):
    result = run(WORKERS, mm)
    assert result.exit_code == 0, result.violations
    assert EXCLUSIVE in result.system.checked and PM_SAFETY in result.system.checked


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_worker_exit_racing_its_restart_is_caught(mm):
    """The postmaster takes the worker's 'done' word for its exit and forks it again."""
    result = run(WORKERS, mm, "restart-on-done")
    assert result.exit_code == 1
    cex = result.violations[PM_SAFETY]
    assert "two processes for one slot" in cex.message


def test_worker_race_trace_names_the_worker_thread(checker_cli, tmp_path):
    proc = checker_cli("explore", WORKERS, "-m", "sc", "--threads", "3", "--slots", "1",
                       "--mutation", "restart-on-done")
    assert proc.returncode == 1, proc.stderr
    [path] = tmp_path.glob("*.trace.json")
    trace = json.loads(path.read_text())
    assert {"tid": 3, "name": "worker0", "role": "worker"}.items() <= trace["threads"][3].items()
    # The race as it happens: the worker says it is done, the postmaster forks
    # again before the kernel reported the exit.
    steps = [(s.get("name"), s.get("text", "")) for s in trace["steps"]]
    assert ("worker0", "fork(worker.started[0])") in steps
    assert steps[-1] == ("postmaster", "start_worker(slot)")
    assert ("worker0", "exit()") not in steps  # the first worker has not even exited
    assert "worker0" in proc.stdout
    view = checker_cli("view", str(path), "--width", "160")
    assert view.returncode == 0, view.stderr
    assert "worker0" in view.stdout and "fork worker.started[0] = 0" in view.stdout
    assert "start_worker" in view.stdout and "take_signal worker_change" in view.stdout
    state = checker_cli("view", str(path), "--step", "8", "--width", "160")
    assert state.returncode == 0, state.stderr
    assert "worker0" in state.stdout and "pm_running[0]" in state.stdout
    html = checker_cli("view", str(path), "--html", str(tmp_path / "t.html"))
    assert html.returncode == 0, html.stderr
    assert "worker0" in (tmp_path / "t.html").read_text()


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_private_array_out_of_range_in_the_postmaster_is_a_violation(mm):
    result = run(WORKERS, mm, "scan-past-end")
    assert result.exit_code == 1
    assert "out of range for pm_owed[1]" in result.violations[PM_SAFETY].message


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_signalled_postmaster_holds(mm):
    assert run(PMSIGNAL, mm).exit_code == 0


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_signal_lost_when_the_work_is_not_rechecked_is_caught(mm):
    """Signals coalesce: a postmaster that handles one request per wakeup sleeps forever."""
    result = run(PMSIGNAL, mm, "one-request-per-wakeup")
    assert result.exit_code == 1
    assert "wait_signal(pm_wakeup)" in result.violations[DEADLOCK].message


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_a_signal_is_a_full_barrier_on_the_sender(mm):
    """A flag set by a plain store (no kill()) may become visible before the request it announces."""
    result = run(PMSIGNAL, mm, "signal-by-plain-store")
    assert result.exit_code == (1 if mm == "weak" else 0)


@pytest.mark.parametrize("mm", ["sc", "tso"])
@pytest.mark.parametrize("model,mutation", [(WORKERS, None), (WORKERS, "restart-on-done"),
                                            (WORKERS, "scan-past-end"), (PMSIGNAL, None),
                                            (PMSIGNAL, "one-request-per-wakeup")])
def test_compiled_successors_agree_with_the_interpreter(model, mutation, mm):
    engine = make_engine(model, Params(threads=3, slots=2), mutation, mm, engine="interpreted")
    system = engine.system
    cls = memory_models()[mm]
    ref = Engine(system, cls(system, PROFILES["documented"]))
    comp = CompiledEngine(system, cls(system, PROFILES["documented"]))
    init = ref.initial()
    assert comp.initial() == init
    seen, queue = {init}, [init]
    while queue:
        s = queue.pop()
        a: list = []
        b: list = []
        ref.successors(s, a)
        comp.successors(s, b)
        assert b == a
        for _label, nxt, _viol in a:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    assert len(seen) > 10


def test_worker_threads_are_named_and_idle_slots_are_finished():
    engine = make_engine(WORKERS, Params(threads=3, slots=2), None, "sc")
    workers = [t for t in engine.system.threads if t.role == "worker"]
    assert [t.name for t in workers] == ["worker0", "worker1"]
    assert [t.tid for t in workers] == [3, 4]
    init = engine.initial()
    # Not forked yet: finished, not stuck (deadlock freedom must not blame them).
    assert all(engine.halted(init, t.tid) for t in workers)
    out: list = []
    engine.mm.successors(init, workers[0].tid, out)
    assert out == []  # and it cannot move until the postmaster forks it
    # Forked (the flag set) and not yet running: no longer finished.
    started = engine.system.shared["worker.started"]
    mem = list(init[0])
    mem[started.base] = 1
    forked = (tuple(mem),) + init[1:]
    assert not engine.halted(forked, workers[0].tid) and engine.halted(forked, workers[1].tid)


def test_the_rogue_never_writes_kernel_state():
    engine = make_engine(WORKERS, Params(threads=3, slots=1, rogue=True, rogue_writes=1, rogue_anywhere=True),
                         None, "sc")
    kernel = {r.name for r in engine.system.shared.values() if r.kernel}
    assert kernel == {"worker.started", "worker.exited"}
    out: list = []
    engine.rogue_successors(engine.initial(), out)
    written = {engine.system.cell_names[label[3][0]] for label, _s, _v in out}
    assert written and not any(name.startswith("worker.") for name in written)
    assert "worker_change" in written  # PMSignalState is shared memory: a rogue may corrupt it


def test_list_shows_the_roles(checker_cli):
    proc = checker_cli("list", WORKERS)
    assert proc.returncode == 0, proc.stderr
    assert "roles: postmaster, backend, worker" in proc.stdout
    proc = checker_cli("list", "bgworker")
    assert proc.returncode == 0, proc.stderr
    assert "roles: postmaster, backend, worker" in proc.stdout
    proc = checker_cli("list", "ring")
    assert proc.returncode == 0, proc.stderr
    assert "roles: postmaster, backend\n" in proc.stdout


BAD = '''
from checker.lang import (child_exited, operation, pg_atomic_read_u32, pg_atomic_write_u32, signal_postmaster,
                          start_worker, take_signal)
from checker.model import Protocol


def worker():
    pg_atomic_write_u32(flag, 1)


def backend():
{backend}


def postmaster():
{postmaster}


class Bad(Protocol):
    name = "bad-workers"
    roles = {roles}

    def declare(self, p, d):
        d.word("flag", 0)
        d.signal("wake")
{declare}
'''

GOOD = dict(backend="    signal_postmaster(wake)",
            postmaster="    if take_signal(wake):\n        start_worker(0)",
            roles='{"postmaster": postmaster, "backend": backend, "worker": worker}',
            declare="        d.private_array('postmaster', 'pm_list', 2, 0)")


def write_bad(tmp_path, **changes):
    path = tmp_path / "badworkers.py"
    path.write_text(BAD.format(**{**GOOD, **changes}))
    return path


def test_bad_template_itself_loads(checker_cli, tmp_path):
    proc = checker_cli("explore", write_bad(tmp_path), "-m", "sc", "--threads", "2", "--slots", "1",
                       "--no-trace")
    # It loads, and it holds: the bad variants below differ from a model that works.
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("changes,expected", [
    (dict(roles='{"postmaster": postmaster, "backend": backend, "worker": 3}'), "the worker role is 3, not a function"),
    (dict(roles='{"postmaster": postmaster, "backend": backend, "helper": worker}'), "unknown role 'helper'"),
    (dict(backend="    start_worker(0)"), "start_worker() is the postmaster's: a backend cannot call it"),
    (dict(backend="    x = take_signal(wake)"), "take_signal() is the postmaster's"),
    (dict(postmaster="    signal_postmaster(wake)"), "the postmaster does not signal itself"),
    (dict(backend="    signal_postmaster(flag)"), "a signal flag declared with d.signal(name)"),
    (dict(roles='{"postmaster": postmaster, "backend": backend}'), "this model has no worker role"),
    (dict(postmaster="    x = pm_list"), "pm_list is a private array: index it"),
    (dict(declare="        d.private_array('checkpointer', 'pm_list', 2, 0)"), "there is no role 'checkpointer'"),
    (dict(declare="        d.private_var('checkpointer', 'x', 0)"), "there is no role 'checkpointer'"),
    (dict(declare="        d.private_array('postmaster', 'pm_list', 0, 0)"), "length must be a positive integer"),
    (dict(declare="        d.private_array('postmaster', 'flag', 2, 0)"), "flag is declared twice"),
])
def test_bad_worker_model_is_one_line(checker_cli, tmp_path, changes, expected):
    proc = checker_cli("explore", write_bad(tmp_path, **changes), "-m", "sc", "--threads", "2", "--slots", "1",
                       "--no-trace")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert expected in lines[0]


def test_options_do_not_change_worker_verdicts():
    """Full storage and the compact search agree on the worker model's state count."""
    counts = set()
    for storage in ("compact", "full"):
        _e, res = check(WORKERS, memory_model="sc", threads=3, slots=2, options=Options(storage=storage))
        assert res.exit_code == 0
        counts.add(res.states)
    assert len(counts) == 1


@pytest.mark.parametrize("mode", [["--bmc", "3"]])
@pytest.mark.parametrize("model", [WORKERS, PMSIGNAL])
def test_the_prover_refuses_what_it_cannot_read(checker_cli, model, mode):
    """The bounded model checker executes every thread, and worker processes, their
    process events and private arrays are not in its symbolic state: no proof of
    code it would misread."""
    proc = checker_cli("prove", model, *mode, "--threads", "3", "--slots", "1")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "does not handle worker processes, signals or private arrays" in lines[0]



@pytest.mark.parametrize("mutation, message", [
    (None, None),
    ("scan-past-end", "index slot out of range for pm_owed[1] (a private array)"),
    ("restart-on-done", "started a worker for slot slot, whose previous worker has not exited and been reaped"),
])
def test_the_robustness_proof_reads_the_postmasters_processes(mutation, message):
    """The robustness proof executes the postmaster alone: its private array
    elements are locals, its waitpid and signal reads unconstrained, and the
    crash sites compiled into it (an index past a private array, a second fork)
    are failures where reached.  tests/models/workers_proof.py states the one
    relation between passes that the engine keeps ($forked = pm_running)."""
    from checker.model import resolve_protocol
    from checker.prove.robustness import prove_robustness

    res = prove_robustness(resolve_protocol(WORKERS), Params(threads=3, slots=1, ops=1), mutation, witness=False)
    if message is None:
        assert res.proved and res.private_invariant and res.space.concrete == [1, 2]
    else:
        assert res.failure is not None and res.failure.prop == PM_SAFETY
        assert message in res.failure.message, res.failure.message


@pytest.mark.slow  # the whole ci matrix of two test models, 5-8 s
def test_ci_policy_on_the_worker_models(checker_cli, tmp_path):
    """The whole matrix, in both directions; the robustness proof runs on the worker models."""
    proc = checker_cli("ci", "--protocol", WORKERS, "--protocol", PMSIGNAL, "--markdown", str(tmp_path / "ci.md"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = (tmp_path / "ci.md").read_text()
    assert "| proofs | test-workers robustness correct | proved | proved | yes |" in text
    assert "| mutations | test-pmsignal weak signal-by-plain-store | caught |" in text
    assert "| mutations | test-pmsignal tso signal-by-plain-store | harmless | harmless |" in text


def test_with_a_rogue_the_postmasters_sleep_times_out():
    """A rogue may clear the flag or never signal: the postmaster sleeping then is no deadlock
    (ServerLoop's sleep has a timeout), while its own safety is still checked."""
    from checker.ir import AwaitFlag, ProcessRmw

    plain = make_engine(PMSIGNAL, Params(threads=3), None, "sc").system
    rogue = make_engine(PMSIGNAL, Params(threads=3, rogue=True), None, "sc").system
    assert any(isinstance(i, AwaitFlag) for i in plain.threads[0].program.instrs)
    assert not any(isinstance(i, AwaitFlag) for i in rogue.threads[0].program.instrs)
    assert any(isinstance(i, ProcessRmw) and i.shown == "wait_signal" for i in rogue.threads[0].program.instrs)
    result = run(PMSIGNAL, "sc", rogue=True)
    assert result.exit_code == 0, result.violations
    assert DEADLOCK in result.system.checked


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_a_forked_worker_starts_with_fresh_private_arrays(tmp_path, mm):
    """A worker's private array is a static of its process, like w_jobs: a
    restart is a new process and must not see the last one's values."""
    text = (MODELS / "workers.py").read_text()
    edits = [("    w_jobs += 1\n", "    w_jobs += 1\n    w_seen[0] += 1\n    seen = w_seen[0]\n"),
             ("        assert_(w_jobs == 1,",
              "        assert_(seen == 1, \"exclusive ownership\", \"private array kept across forks\")\n"
              "        assert_(w_jobs == 1,"),
             ('        d.private_var("worker", "w_jobs", 0)\n',
              '        d.private_var("worker", "w_jobs", 0)\n        d.private_array("worker", "w_seen", 1, 0)\n'),
             ('name = "test-workers"', 'name = "test-workers-array"')]
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "workers_array.py"
    path.write_text(text)
    # Two backends ask for slot 0's worker: it is forked, reaped and forked again.
    result = run(str(path), mm, threads=3, slots=1)
    assert result.exit_code == 0, {k: v.message for k, v in result.violations.items()}
    # The assertion above ran in a re-forked process: a second fork of slot 0 is reachable.
    path.write_text(text.replace("        active[MY_SLOT] = 1\n",
                                 "        active[MY_SLOT] = 1\n        forks[0] = forks[0] + 1\n"
                                 "        assert_(forks[0] < 2, \"exclusive ownership\", \"forked again\")\n")
                    .replace('d.private_array("worker", "w_seen", 1, 0)\n',
                             'd.private_array("worker", "w_seen", 1, 0)\n        d.ghost_array("forks", 1, 0)\n'))
    result = run(str(path), mm, threads=3, slots=1)
    assert result.exit_code == 1 and result.violations[EXCLUSIVE].message == "forked again"


BACKEND_ARRAY = '''
from checker.lang import pg_atomic_write_u32
from checker.model import Protocol


def backend():
    mine[ME] = ME
    pg_atomic_write_u32(flag, mine[ME])


def postmaster():
    pg_atomic_write_u32(flag, 0)


class BackendArray(Protocol):
    name = "backend-array"
    roles = {"postmaster": postmaster, "backend": backend}

    def declare(self, p, d):
        d.word("flag", 0)
        d.private_array("backend", "mine", 2, 0)
'''


@pytest.mark.parametrize("mm", ALL_MODELS)
def test_a_backends_private_array_out_of_range_is_memory_safety(tmp_path, mm):
    from checker.model import MEMORY_SAFETY

    path = tmp_path / "backend_array.py"
    path.write_text(BACKEND_ARRAY)
    assert run(str(path), mm, threads=2).exit_code == 0  # ME = 1 fits mine[2]
    result = run(str(path), mm, threads=3)  # ME = 2 does not
    assert result.exit_code == 1
    assert "backend index 2 out of range for mine[2]" in result.violations[MEMORY_SAFETY].message


def test_symmetry_is_refused_for_a_worker_model_that_renaming_cannot_reach():
    # The backend-identity analysis reads worker code too; this model's
    # postmaster computes with backend numbers, so renaming is refused.
    r = subprocess.run([sys.executable, "-m", "checker", "explore", WORKERS, "--threads", "3",
                        "-m", "sc", "--symmetry"], capture_output=True, text=True)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "--symmetry refused" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_quiescence_check_reads_each_private_array_whole():
    from checker.model import StateView

    engine = make_engine(WORKERS, Params(threads=3, slots=2), None, "sc")
    prog = engine.system.threads[0].program
    init = engine.initial()
    locals_ = list(init[1][0])
    # Distinct values in every element of both arrays, so a slice off by one shows.
    for name, values in (("pm_owed", (7, 8)), ("pm_running", (5, 6))):
        for k, v in enumerate(values):
            locals_[prog.local_names.index(f"{name}[{k}]")] = v
    state = (init[0], (tuple(locals_), *init[1][1:]), *init[2:])
    view = StateView(engine.system, state)
    assert view.private_array(0, "pm_owed") == (7, 8)
    assert view.private_array(0, "pm_running") == (5, 6)
    with pytest.raises(KeyError):
        view.private_array(0, "pm_missing")
