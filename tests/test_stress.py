"""The native stress test of the C implementation, plain and under ThreadSanitizer.

Each run is short (about a second); the figures (ops/s) go to the README,
never into assertions.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from checker.stress_cmd import run_native, run_tsan

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc").split()[0]) is None,
                                reason="no C compiler")


def _ops(stdout: str) -> int:
    m = re.search(r"([\d,]+) operations, ([\d,]+) ops/s", stdout)
    assert m, stdout
    return int(m.group(1).replace(",", ""))


def test_stress_ring_native_passes(checker_cli):
    res = checker_cli("stress", "ring", "--threads", "4", "--seconds", "1")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 postmaster + 3 backend threads" in res.stdout
    assert "conservation: ok" in res.stdout
    assert _ops(res.stdout) > 0


@pytest.mark.parametrize("protocol", ["caslist", "bitmap"])
def test_stress_other_protocols(checker_cli, protocol):
    res = checker_cli("stress", protocol, "--threads", "3", "--seconds", "0.5", "--slots", "4")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "conservation: ok" in res.stdout and _ops(res.stdout) > 0


def test_stress_caslist_under_thread_sanitizer(checker_cli):
    res = checker_cli("stress", "caslist", "--threads", "3", "--seconds", "0.5", "--tsan")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no data race reported" in res.stdout


def test_stress_finds_a_mutation():
    """Backends that take from an empty free queue take a slot someone holds: the owner words see it.

    Which symptom comes first depends on the interleaving the hardware gives:
    the taken slot's owner word (exclusive ownership), or the postmaster:
    a backend that takes from an empty queue moves the free tail past the
    head, so when the postmaster next frees a slot, head - tail wraps to more
    entries than the ring has, and it reports corrupt shared memory."""
    res = run_native("ring", 3, 0.5, 4, mutation="empty-off-by-one")
    assert not res["ok"]
    assert res["failure"].startswith(("exclusive ownership", "postmaster safety: the postmaster saw corrupt")), \
        res["failure"]


def test_stress_ring_under_thread_sanitizer(checker_cli):
    res = checker_cli("stress", "ring", "--threads", "4", "--seconds", "1", "--tsan")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ThreadSanitizer build" in res.stdout and "no data race reported" in res.stdout
    assert _ops(res.stdout) > 0


def test_thread_sanitizer_run_reports_a_planted_race():
    """The same run with a deliberate data race must fail: the sanitizer is really there."""
    res = run_tsan("ring", 2, 0.3, 4, inject_race=True)
    assert not res["ok"]
    assert "WARNING: ThreadSanitizer: data race" in res["races"]


@pytest.mark.parametrize("args, message", [
    (["ring", "--threads", "1"], "--threads must be between 2"),
    (["ring", "--seconds", "0"], "--seconds must be more than 0"),
    (["ring", "--slots", "33"], "--slots must be between 1 and 32"),
    (["nosuch"], "no C implementation of protocol 'nosuch'"),
    (["bgworker"], "no native stress test for bgworker"),
    (["caslist", "--slots", "32"], "caslist: slots must be between 1 and 31"),
    (["ring", "--mutation", "no-such"], "no mutation 'no-such'"),
])
def test_stress_bad_arguments(checker_cli, args, message):
    res = checker_cli("stress", *args)
    assert res.returncode == 2
    assert message in res.stderr and res.stderr.strip().count("\n") == 0


def test_stress_missing_compiler(checker_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("CC", "/nonexistent/bin/cc")
    monkeypatch.setenv("SLOTCHECK_CACHE", str(tmp_path / "cache"))
    res = checker_cli("stress", "ring", "--seconds", "0.1")
    assert res.returncode == 2
    assert res.stderr.startswith("checker: error: no C compiler found")
