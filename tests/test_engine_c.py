"""``--engine c`` against ``--engine compiled``: the same search, to the state.

Exact state and transition counts, depths, verdicts and counterexample
lengths (and the counterexamples' labels) must equal the compiled Python
engine's on every shipped protocol, on the mutation matrix under sc, and on
the test models the C engine accepts; what it does not translate is refused
in one line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from checker.engine_c import Unsupported
from checker.explore import Options
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


def _both(protocol, options_kw=None, mutation=None, **params):
    out = []
    for engine in ("compiled", "c"):
        _eng, res = check(protocol, mutation=mutation, memory_model="sc", engine=engine,
                          options=Options(**(options_kw or {})), **params)
        out.append(res)
    compiled, c = out
    assert c.engine == "c"
    assert _summary(c) == _summary(compiled)
    return compiled, c


@pytest.mark.parametrize("protocol", sorted(load_protocols()))
def test_shipped_protocols_threads_3(protocol):
    _compiled, c = _both(protocol, threads=3)
    assert c.states > 1000 and (c.liveness_checked or c.violations)


def _mutations():
    return [(name, m) for name, cls in sorted(load_protocols().items())
            for m, mut in sorted(cls.mutations.items()) if not mut.needs_rogue]


@pytest.mark.parametrize("protocol,mutation", _mutations(), ids=[f"{p}-{m}" for p, m in _mutations()])
def test_mutation_matrix_under_sc(protocol, mutation):
    _compiled, c = _both(protocol, {"liveness": False}, mutation=mutation, threads=3)
    assert c.states > 1


def test_keep_going_and_limits():
    _both("ring", {"liveness": False, "stop_on_first": False}, mutation="no-lock", threads=3)
    _, c = _both("ring", {"liveness": False, "max_states": 5000}, threads=3)
    assert c.states == 5000 and not c.complete
    _, c = _both("ring", {"liveness": False, "max_depth": 20}, threads=3)
    assert not c.complete and c.max_depth == 20


def _test_models():
    return sorted(p for p in (ROOT / "tests" / "models").glob("*.py"))


@pytest.mark.parametrize("path", _test_models(), ids=[p.stem for p in _test_models()])
def test_models(path):
    try:
        make_engine(str(path), Params(threads=3), None, "sc", engine="compiled")
    except (ModelError, Exception) as exc:  # a model built to be refused by the compiler
        pytest.skip(f"not a runnable model: {exc}")
    try:
        _both(str(path), threads=3)
    except Unsupported as exc:
        pytest.skip(str(exc))


def test_step_fallback_to_python_is_exercised():
    # bgworker's postmaster scans its private array in local loops without an
    # event: those steps run in Python, called back from the C search.
    engine = make_engine("bgworker", Params(threads=3), None, "sc", engine="c")
    assert engine.generator.fallback_events > 0
    assert "return FB;" in engine.c_source


@pytest.mark.parametrize("args,why", [
    (["-m", "tso"], "sc memory model only"),
    (["-m", "weak"], "sc memory model only"),
    (["--rogue"], "rogue"),
    (["--symmetry"], "--symmetry"),
    (["--fingerprint"], "--fingerprint"),
    (["--workers", "2"], "one process"),
])
def test_refused_in_one_line(args, why, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "checker", "explore", "ring", "--threads", "2", "--engine", "c",
                           "--no-trace", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and why in lines[0] and "Traceback" not in proc.stderr
