"""`checker explore --workers/--ray/--checkpoint/--resume` as a user runs it: bad input,
interruption and resumption, a worker that dies, traces that replay in C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

SMALL = ["explore", "ring", "--threads", "2", "-m", "sc", "--json", "--no-trace"]


def _env():
    return dict(os.environ, COLUMNS="200", PYTHONPATH=str(ROOT))


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "checker", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=_env())


def _counts(doc):
    return {k: doc[k] for k in ("states", "transitions", "max_depth", "complete", "properties", "exit_code")}


def _one_line_exit_2(r):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_workers_give_the_one_process_summary():
    one = json.loads(_run(*SMALL).stdout)
    two = _run(*SMALL, "--workers", "2")
    assert two.returncode == 0, two.stderr
    doc = json.loads(two.stdout)
    assert _counts(doc) == _counts(one)
    assert doc["workers"] == 2 and doc["message_bytes_per_successor"] > 0
    # Every state has one owner: the shards' states add up to the run's.
    held = doc["worker_states"]
    assert len(held) == 2 and min(held) > 0 and sum(held) == doc["states"]
    text = _run(*[a for a in SMALL if a != "--json"], "--workers", "2").stdout
    assert f"most states in one shard {max(held):,} ({max(held) / sum(held):.0%})" in text, text


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_bad_worker_counts_are_one_line(value):
    err = _one_line_exit_2(_run(*SMALL, "--workers", value))
    assert "--workers" in err


def test_unreachable_ray_address_is_one_line():
    err = _one_line_exit_2(_run(*SMALL, "--ray", "127.0.0.1:1"))
    try:
        import ray  # noqa: F401
    except ImportError:
        assert "pip install -e '.[ray]'" in err
    else:
        assert "--ray 127.0.0.1:1: cannot reach a Ray cluster there" in err


def test_max_states_does_not_combine_with_workers():
    assert "--max-states" in _one_line_exit_2(_run(*SMALL, "--workers", "2", "--max-states", "10"))


def test_a_violation_found_by_workers_replays_in_c(tmp_path):
    r = _run("explore", "ring", "--threads", "3", "-m", "sc", "--mutation", "no-lock", "--workers", "2",
             "--trace-out", tmp_path / "cx.trace.json", cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "exclusive ownership      VIOLATED" in r.stdout
    rep = _run("replay", tmp_path / "cx.trace.json", cwd=tmp_path)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert "conforms" in rep.stdout and "violates exclusive ownership" in rep.stdout


def test_memory_limit_stops_with_a_checkpoint_and_resume_finishes_the_same_search(tmp_path):
    full = json.loads(_run(*SMALL, "--workers", "2").stdout)
    ck = tmp_path / "ck"
    # 2M is less than any Python process holds: the limit is passed after the
    # first level, deterministically.
    stopped = _run(*SMALL, "--workers", "2", "--checkpoint", ck, "--max-memory", "2M")
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    doc = json.loads(stopped.stdout)
    assert not doc["complete"] and "memory limit" in doc["stop_reason"] and "--resume" in doc["stop_reason"]
    assert "holds" not in json.dumps(doc["properties"])
    manifest = json.loads((ck / "manifest.json").read_text())
    assert 0 < manifest["states"] < full["states"] and not manifest["finished"]
    # Resumed with another number of workers: the shards take the states they own.
    for workers in ("1", "2"):
        done = _run(*SMALL, "--workers", workers, "--resume", ck)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _counts(json.loads(done.stdout)) == _counts(full)


def test_a_checkpoint_of_another_model_is_refused(tmp_path):
    ck = tmp_path / "ck"
    r = _run(*SMALL, "--checkpoint", ck, "--max-memory", "2M")
    assert r.returncode == 3, r.stderr
    err = _one_line_exit_2(_run("explore", "ring", "--threads", "3", "-m", "sc", "--json", "--resume", ck))
    assert "not of this run" in err and "threads" in err
    err = _one_line_exit_2(_run("explore", "bitmap", "--threads", "2", "-m", "sc", "--resume", ck))
    assert "not of this run" in err
    # A checkpoint written by another slotcheck version.
    manifest = json.loads((ck / "manifest.json").read_text())
    manifest["identity"]["slotcheck"] = "0.0.0-other"
    (ck / "manifest.json").write_text(json.dumps(manifest))
    err = _one_line_exit_2(_run(*SMALL, "--resume", ck))
    assert "slotcheck" in err
    # Not a checkpoint at all.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "manifest.json").write_text("{}")
    assert "not a slotcheck checkpoint" in _one_line_exit_2(_run(*SMALL, "--resume", junk))
    assert "no checkpoint there" in _one_line_exit_2(_run(*SMALL, "--resume", tmp_path))
    # Writing over a checkpoint is refused too.
    ck2 = tmp_path / "ck2"
    assert _run(*SMALL, "--checkpoint", ck2, "--max-memory", "2M").returncode == 3
    assert "already holds a checkpoint" in _one_line_exit_2(_run(*SMALL, "--checkpoint", ck2))


@contextlib.contextmanager
def _held_search(args, level: int):
    """A search started with the test hook: it stops after BFS level ``level`` until it gets a signal.

    Yields the process and its workers' pids, read from the hook's line.  No
    deadline: the read blocks until the search is held, however slow the
    machine, and returns at once with nothing if the search ended first.  A
    search still held or running when the block ends (a failed assertion) is
    killed: held, it would wait for ever.
    """
    proc = subprocess.Popen([sys.executable, "-m", "checker", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=dict(_env(), SLOTCHECK_TEST_PAUSE_AFTER_LEVEL=str(level)))
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert f"held after level {level}; workers: " in line, f"the search was not held after level {level}: {line}"
        yield proc, [int(x) for x in line.split("workers: ")[1].split()]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _is_dead(pid: int) -> bool:
    """The process has exited (a zombie until its parent reaps it) or is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="sees the worker die through /proc")
def test_a_killed_worker_ends_the_search_without_a_verdict(tmp_path):
    with _held_search([*SMALL, "--workers", "2", "--checkpoint", tmp_path / "ck"], level=3) as (proc, workers):
        assert len(workers) == 2, workers
        os.kill(workers[1], signal.SIGKILL)
        while not _is_dead(workers[1]):  # no deadline: SIGKILL cannot be ignored
            time.sleep(0.01)
        proc.send_signal(signal.SIGUSR1)  # go on: the next level needs the dead worker's states
        out, err = proc.communicate()
    assert proc.returncode == 3, out + err  # no verdict: incomplete, not bad input
    assert "Traceback" not in err
    assert "died (killed by signal 9)" in err and "no verdict" in err, err
    assert "holds" not in out and "VIOLATED" not in out


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_writes_a_checkpoint_and_resume_gives_the_uninterrupted_counts(tmp_path, workers):
    full = json.loads(_run(*SMALL).stdout)
    ck = tmp_path / "ck"
    with _held_search([*SMALL, "--workers", workers, "--checkpoint", ck], level=5) as (proc, _pids):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate()
    assert proc.returncode == 3, out + err
    doc = json.loads(out)
    assert doc["stop_reason"].startswith("terminated (SIGTERM); checkpoint written"), doc["stop_reason"]
    assert "holds" not in json.dumps(doc["properties"])
    manifest = json.loads((ck / "manifest.json").read_text())
    assert 0 < manifest["states"] < full["states"] and not manifest["finished"]
    done = _run(*SMALL, "--workers", "2", "--resume", ck)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _counts(json.loads(done.stdout)) == _counts(full)


def test_ray_without_the_extra_is_one_line_naming_it():
    # The same program with `import ray` failing, as where the extra is not installed.
    code = ("import runpy, sys\n"
            "class NoRay:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'ray' or name.startswith('ray.'):\n"
            "            raise ImportError('No module named ray')\n"
            "sys.meta_path.insert(0, NoRay())\n"
            "sys.argv = ['checker', *sys.argv[1:]]\n"
            "runpy.run_module('checker', run_name='__main__', alter_sys=True)\n")
    r = subprocess.run([sys.executable, "-c", code, *SMALL, "--ray", "local"], capture_output=True, text=True,
                       env=_env(), cwd=ROOT)
    err = _one_line_exit_2(r)
    assert "pip install -e '.[ray]'" in err


def test_progress_shows_states_rate_frontier_depth_and_workers():
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "checker", "explore", "ring", "--threads", "3", "-m", "sc",
                             "--workers", "2", "--no-trace"], stdout=subprocess.PIPE, stderr=slave,
                            stdin=subprocess.DEVNULL, env=dict(_env(), TERM="xterm"), cwd=ROOT)
    os.close(slave)
    seen = b""
    try:
        while proc.poll() is None or select.select([master], [], [], 0.2)[0]:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                seen += chunk
        proc.communicate()
    finally:
        os.close(master)
    assert proc.returncode == 0
    text = seen.decode(errors="replace")
    assert "states/s" in text and "frontier" in text and "depth" in text and "workers 2" in text, text[-500:]
