"""The parallel search's test hold (``checker.parallel._pause_for_test``) obeys a signal whichever thread gets it.

The kernel hands a process-directed signal to any thread that does not block
it, and a process has threads it did not start (numpy's BLAS pool).  Here the
signal is aimed at such a thread on purpose (``pthread_kill``), which is what
the kernel does now and then: a hold that waited for it in the main thread
alone would wait for ever.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import os, signal, sys, threading
from checker import signals
from checker.parallel import _pause_for_test

signals.install()
which = getattr(signal, sys.argv[1])

def other_thread():
    sys.stdin.readline()  # the test read the hold's line
    signal.pthread_kill(threading.get_ident(), which)  # to this thread, not the main one

threading.Thread(target=other_thread, daemon=True).start()
try:
    _pause_for_test(None, 7)
except KeyboardInterrupt:
    print("stopped:", signals.how(), flush=True)
    sys.exit(3)
print("went on", flush=True)
"""


@pytest.mark.parametrize(("signame", "said", "code"), [
    ("SIGUSR1", "went on", 0),
    ("SIGTERM", "stopped: terminated", 3),
    ("SIGINT", "stopped: interrupted", 3),
])
def test_a_signal_another_thread_receives_still_ends_the_hold(signame, said, code):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, signame], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None and proc.stdin is not None
    line = proc.stderr.readline()
    assert "held after level 7" in line, line
    proc.stdin.write("go\n")
    proc.stdin.flush()
    try:
        # Not a measure of speed: a guard, so that a hold that never ends
        # fails this test instead of hanging the run.
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, out + err
    assert said in out
