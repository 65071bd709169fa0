"""A search deeper than 65,535 levels: every strategy reports its depth instead of overflowing a 16-bit array."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.explore import Options, explore
from checker.model import Params
from checker.run import make_engine

MODEL = str(Path(__file__).parent / "models" / "long_chain.py")
STEPS = 70_000  # one state per store, and the initial one


@pytest.mark.parametrize(("engine", "storage"), [("compiled", "compact"), ("compiled", "full"), ("c", "compact")])
def test_a_search_deeper_than_sixteen_bits(engine, storage):
    eng = make_engine(MODEL, Params(threads=2, extra={"steps": STEPS}), None, "sc", "documented", engine)
    res = explore(eng, Options(storage=storage, liveness=False), "sc", "documented")
    assert res.complete and not res.violations
    assert res.states == STEPS + 1 and res.max_depth == STEPS
