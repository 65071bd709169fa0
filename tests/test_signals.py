"""Ctrl-C and SIGTERM: exit 3 with what was covered, never a traceback, never "holds".

A signal is sent once the command shows it is under way (the explore status
line on a terminal, the compare/ci progress), so no test depends on how fast
the machine is: each only waits for output, with generous safety timeouts.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT

# A search far too big to finish while the test runs (minutes of states):
# the signal always arrives mid-search.
BIG = ["explore", "ring", "--threads", "4", "--slots", "3", "--ops", "2", "-m", "weak", "--no-trace"]


def _env():
    return dict(os.environ, COLUMNS="200", TERM="xterm", PYTHONPATH=str(ROOT))


def _start_on_a_terminal(args):
    """The CLI with stderr on a pseudo-terminal (so the status line shows), stdout on a pipe."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "checker", *args], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env=_env(), cwd=ROOT)
    os.close(slave)
    return proc, master


def _read_until(fd, marker: bytes, limit: float = 300.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + limit
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} in {seen[-500:]!r}"
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def _drain(fd) -> bytes:
    data = b""
    while True:
        try:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                return data
            chunk = os.read(fd, 4096)
        except OSError:
            return data
        if not chunk:
            return data
        data += chunk


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_search_reports_coverage_and_exits_3(sig):
    proc, master = _start_on_a_terminal(BIG)
    try:
        _read_until(master, b"states/s")  # the status line: the search is under way
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=300)
        tail = _drain(master)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = out.decode()
    assert proc.returncode == 3, text + tail.decode(errors="replace")
    assert b"Traceback" not in tail
    why = "interrupted" if sig == signal.SIGINT else "terminated (SIGTERM)"
    assert f"search incomplete: {why}; covered" in text, text
    assert "holds" not in text  # nothing is claimed of a search that stopped
    assert "not violated so far (search incomplete)" in text


def test_sigint_while_starting_is_one_line_not_a_traceback():
    """Deterministic: the handler the entry point installs first, with a signal during the imports."""
    code = ("import os, signal\n"
            "from checker.signals import install_early\n"
            "install_early()\n"
            "os.kill(os.getpid(), signal.SIGINT)\n"
            "import checker.cli\n"
            "print('not reached')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 3
    assert r.stdout == ""
    assert r.stderr == "checker: interrupted while starting; nothing was checked\n"


def test_the_entry_points_install_the_handler_before_importing_the_cli():
    """Both ways of starting the program (``python -m checker``, the ``checker`` script) go through it."""
    import tomllib

    main_src = (ROOT / "checker" / "__main__.py").read_text()
    assert main_src.index("run_entry_point") < main_src.index("run_entry_point()")
    assert "checker.cli" not in main_src.split("run_entry_point()")[0]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["checker"] == "checker.signals:run_entry_point"


def test_sigint_during_the_real_programs_imports():
    """``python -m checker`` itself, with Ctrl-C arriving while click (imported by checker.cli) loads."""
    code = ("import os, runpy, signal, sys\n"
            "class Trip:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'click':\n"
            "            os.kill(os.getpid(), signal.SIGINT)\n"
            "        return None\n"
            "sys.meta_path.insert(0, Trip())\n"
            "sys.argv = ['checker', 'list']\n"
            "runpy.run_module('checker', run_name='__main__', alter_sys=True)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert r.returncode == 3, r.stderr
    assert r.stderr == "checker: interrupted while starting; nothing was checked\n"
    assert r.stdout == ""


def _start_piped(args):
    return subprocess.Popen([sys.executable, "-m", "checker", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), cwd=ROOT)


def test_compare_stops_at_the_first_sigint():
    # Big enough that the first protocol's search is still running when the signal comes.
    proc, master = _start_on_a_terminal(["compare", "--threads", "4", "--slots", "3", "--ops", "2"])
    try:
        _read_until(master, b"exploring")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)
        tail = _drain(master).decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out.decode() + tail
    assert "Traceback" not in tail
    assert "interrupted: compared 0 protocol(s); not run: bgworker" in tail, tail


def _interrupt_ci(args, under_way):
    """Run ``checker ci ARGS``, send SIGINT once ``under_way(proc)`` returns; (exit code, stdout, terminal, what it returned)."""
    proc, master = _start_on_a_terminal(["ci", *args])
    try:
        seen = under_way(proc)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=300)
        tail = _drain(master).decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = out.decode()
    assert "Traceback" not in tail + text
    return proc.returncode, text, tail, seen


def test_ci_stops_at_the_first_sigint(tmp_path):
    def first_search_started(proc):
        # ci prints nothing until the end: wait for its first search to have started.
        time.sleep(0.1)
        _wait_for_cpu_work(proc)

    code, text, tail, _ = _interrupt_ci(["--protocol", "ring", "--skip", "proofs", "--markdown",
                                         str(tmp_path / "ci.md")], first_search_started)
    assert code == 3, text + tail
    assert "interrupted during ring" in text and "not run:" in text, text
    assert "incomplete:" in text and "before the job was interrupted" in text
    assert "interrupted during ring" in (tmp_path / "ci.md").read_text()


def test_ci_with_workers_stops_at_the_first_sigint(tmp_path):
    # The parts run in a pool: Ctrl-C reaches the ci process, which stops the
    # workers, reports the parts that did not finish, and exits 3.
    code, text, tail, workers = _interrupt_ci(["--protocol", "ring", "--skip", "proofs", "--skip", "fences",
                                               "--workers", "2", "--markdown", str(tmp_path / "ci.md")],
                                              lambda proc: _wait_for_children(proc, 2))
    assert code == 3, text + tail
    assert "interrupted; not run or not finished: ring explore" in text, text
    assert "before the job was interrupted" in text
    assert not [w for w in workers if os.path.exists(f"/proc/{w}")], "a worker outlived the job"


def _wait_for_children(proc, n: int, limit: float = 300.0) -> list[int]:
    """Until the child has ``n`` processes of its own (Linux /proc); their pids."""
    deadline = time.monotonic() + limit
    path = f"/proc/{proc.pid}/task/{proc.pid}/children"
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with open(path) as f:
            pids = [int(x) for x in f.read().split()]
        if len(pids) >= n:
            return pids
        time.sleep(0.1)
    raise AssertionError("the workers never started")


def _wait_for_cpu_work(proc, limit: float = 300.0) -> None:
    """Until the child has used some CPU time past its imports (Linux /proc)."""
    deadline = time.monotonic() + limit
    ticks = os.sysconf("SC_CLK_TCK")
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        if (int(fields[11]) + int(fields[12])) / ticks > 1.0:
            return
        time.sleep(0.1)
    raise AssertionError("the child never got going")


def _first_file(directory, proc, limit: float = 300.0) -> None:
    """Until ``directory`` has a file in it (or the process ended)."""
    deadline = time.monotonic() + limit
    while not (directory.is_dir() and any(directory.iterdir())):
        assert proc.poll() is None, "the command ended before writing anything"
        assert time.monotonic() < deadline, f"nothing in {directory}"
        time.sleep(0.1)


@pytest.mark.parametrize("sig,workers", [(signal.SIGTERM, "1"), (signal.SIGINT, "2")], ids=["sigterm", "sigint-2-workers"])
def test_fences_stops_at_the_first_signal(tmp_path, sig, workers):
    """A fence table is hundreds of checks, each its own search: a signal ends the analysis, not only the
    check under way (each check used to turn it into an incomplete result and the next one started)."""
    traces = tmp_path / "traces"
    # The sound weak model: minutes of checks after the first counterexample
    # trace, which shows that the checks are under way.
    proc = subprocess.Popen([sys.executable, "-m", "checker", "fences", "bitmap", "--workers", workers,
                             "--trace-dir", str(traces)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=_env(), cwd=ROOT, start_new_session=True)
    try:
        _first_file(traces, proc)
        # Ctrl-C on a terminal reaches every process of the group; SIGTERM, as `timeout` sends it, the command only.
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        out, errs = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = errs.decode()
    assert proc.returncode == 3, text
    assert "Traceback" not in text
    how = "terminated" if sig == signal.SIGTERM else "interrupted"
    assert f"checker: {how}: the fence analysis of bitmap stopped before its table was complete" in text, text
    assert b"barriers of bitmap" not in out  # no table made of checks that did not finish


def test_stress_honours_sigint(tmp_path):
    import shutil

    if shutil.which(os.environ.get("CC", "cc").split()[0]) is None:
        pytest.skip("no C compiler")
    proc = _start_piped(["stress", "ring", "--seconds", "3600", "--threads", "2"])
    _wait_for_threads(proc, 3)  # the postmaster and backend threads are running
    proc.send_signal(signal.SIGINT)
    out, errb = proc.communicate(timeout=120)
    assert proc.returncode == 3, (out + errb).decode()
    assert b"Traceback" not in errb
    assert b"stress run stopped after" in errb and b"nothing was checked to the end" in errb
    assert b": ok" not in out


def _wait_for_threads(proc, n: int, limit: float = 300.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if len(os.listdir(f"/proc/{proc.pid}/task")) >= n + 1:
            return
        time.sleep(0.1)
    raise AssertionError("the stress threads never started")


# ---------------------------------------------------------------------------
# Out of memory: the same report, exit 3


def test_memory_limit_stops_the_search_with_its_coverage(tmp_path):
    """A limit below what Python itself needs is reached at the first check, however fast the machine."""
    from conftest import run_checker

    r = run_checker("explore", *BIG[1:], "--max-memory", "2M", cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert "search incomplete: memory limit 2.0 MiB reached" in r.stdout
    assert "holds" not in r.stdout


def test_a_memory_error_inside_the_loop_is_an_incomplete_search():
    """A real MemoryError (raised by the successor function here) stops the search with its coverage."""
    from checker.model import Params
    from checker.explore import explore
    from checker.run import make_engine

    engine = make_engine("ring", Params(threads=3, slots=2, ops=2), None, "sc")
    expand = engine.successors
    calls = []

    def successors(state, out):
        calls.append(1)
        if len(calls) == 200:
            raise MemoryError()
        expand(state, out)

    engine.successors = successors
    res = explore(engine)
    assert not res.complete and res.exit_code == 3
    assert res.stop_reason == "out of memory"
    assert res.states >= 199
    assert all(res.verdict(p) == "not violated so far (search incomplete)" for p in engine.system.checked)


@pytest.mark.parametrize("text, expect", [("4G", 4 << 30), ("512m", 512 << 20), ("none", None), ("1.5G", 3 << 29)])
def test_max_memory_sizes(text, expect):
    from checker.memlimit import parse_size

    assert parse_size(text) == expect


@pytest.mark.parametrize("text", ["5x", "-1G", "10K", "150%"])
def test_bad_max_memory_is_one_line(tmp_path, text):
    from conftest import run_checker

    r = run_checker("explore", "ring", "-m", "sc", "--max-memory", text, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("checker: error: --max-memory") and r.stderr.count("\n") == 1


def test_an_idle_pool_worker_lets_a_signal_pass_and_a_busy_one_stops():
    # A fence analysis's pool workers get Ctrl-C with the command: the check
    # under way stops, but a worker waiting for its next task must not raise
    # (multiprocessing would print its traceback); the command shuts the pool down.
    from checker import signals

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    busy = [False]
    try:
        signals.install()
        signals.install_in_pool_worker(lambda: busy[0])
        os.kill(os.getpid(), signal.SIGINT)  # idle: nothing raised
        busy[0] = True
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs at the next bytecode; never reached
        with pytest.raises(signals.Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        signals._received.clear()


@pytest.mark.parametrize("code, status, stderr", [(None, 0, ""), (0, 0, ""), (3, 3, ""), ("no verdict", 1, "no verdict\n")])
def test_the_program_exits_without_freeing_yet_runs_exit_handlers_and_flushes(code, status, stderr):
    # checker.signals._exit_now skips the interpreter's freeing of every object
    # (seconds after a big search); what sys.exit would do otherwise must stay.
    script = ("import atexit, sys\n"
              "from checker.signals import _exit_now\n"
              "atexit.register(lambda: print(' handler ran', end=''))\n"
              "print('buffered', end='')\n"
              f"_exit_now({code!r})\n"
              "print('never')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (status, "buffered handler ran", stderr)
