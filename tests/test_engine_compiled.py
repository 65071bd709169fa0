"""The compiled sc/tso successors agree with the interpreted reference, move for move.

For every reachable state (up to a bound) both engines must return the same
list of moves: same labels, same next states, same violations, in the same
order.  That is stronger than equal state counts: the search, its
counterexamples and their traces are then identical.
"""

from __future__ import annotations

import pytest

from checker.compile_sc import CompiledEngine
from checker.explore import Engine, Options
from checker.litmus import build_litmus_system, parse_litmus, suite_files
from checker.memory import PROFILES, memory_models
from checker.model import Params, load_protocols
from checker.run import check, make_engine

STATE_LIMIT = 6000


def assert_same_moves(reference: Engine, compiled: Engine, limit: int = STATE_LIMIT) -> int:
    init = reference.initial()
    assert compiled.initial() == init
    seen = {init}
    queue = [init]
    while queue and len(seen) < limit:
        s = queue.pop(0)
        a: list = []
        b: list = []
        reference.successors(s, a)
        compiled.successors(s, b)
        assert b == a, s
        for _label, nxt, _viol in a:
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return len(seen)


def _pair(system, mm_name, profile="documented"):
    cls = memory_models()[mm_name]
    return Engine(system, cls(system, PROFILES[profile])), CompiledEngine(system, cls(system, PROFILES[profile]))


@pytest.mark.parametrize("mm", ["sc", "tso"])
@pytest.mark.parametrize("path", suite_files(), ids=[p.stem for p in suite_files()])
def test_litmus_suite(path, mm):
    system = build_litmus_system(parse_litmus(path))
    ref, comp = _pair(system, mm)
    assert assert_same_moves(ref, comp) > 1


@pytest.mark.parametrize("mm", ["sc", "tso"])
@pytest.mark.parametrize("protocol", sorted(load_protocols()))
@pytest.mark.parametrize("rogue", [False, True], ids=["plain", "rogue"])
def test_shipped_protocols(protocol, mm, rogue):
    # The rogue writes anywhere: a postmaster that reads no shared memory
    # (dsmhandle's) would otherwise leave it nothing to write.
    engine = make_engine(protocol, Params(threads=2 if rogue else 3, rogue=rogue, rogue_writes=1,
                                          rogue_anywhere=rogue), None, mm, engine="interpreted")
    ref, comp = _pair(engine.system, mm)
    # Most event steps run generated code (a postmaster scanning its private
    # array loops without an event: those steps run the interpreter).
    assert comp.event_steps > 0 and comp.fallbacks * 4 < comp.event_steps
    assert assert_same_moves(ref, comp) >= min(STATE_LIMIT, 100)


def _mutations():
    return [(name, m, mut.needs_rogue) for name, cls in load_protocols().items() for m, mut in cls.mutations.items()]


@pytest.mark.parametrize("protocol,mutation,rogue", _mutations(), ids=[f"{p}-{m}" for p, m, _ in _mutations()])
def test_mutation_matrix_under_sc(protocol, mutation, rogue):
    p = Params(threads=2 if rogue else 3, ops=2, rogue=rogue)
    engine = make_engine(protocol, p, mutation, "sc", engine="interpreted")
    ref, comp = _pair(engine.system, "sc")
    assert_same_moves(ref, comp, limit=3000)


@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_same_search_and_verdicts_end_to_end(mm):
    kw = dict(threads=3, slots=1, ops=1, memory_model=mm, options=Options(liveness=True))
    _, a = check("ring", mutation="empty-off-by-one", engine="interpreted", **kw)
    _, b = check("ring", mutation="empty-off-by-one", engine="compiled", **kw)
    assert (a.engine, b.engine) == ("interpreted", "compiled")
    assert a.violations and set(a.violations) == set(b.violations)
    assert (a.states, a.transitions) == (b.states, b.transitions)
    for prop, cx in a.violations.items():
        assert b.violations[prop].labels == cx.labels and b.violations[prop].states == cx.states


def test_weak_stays_interpreted():
    engine = make_engine("ring", Params(threads=2), None, "weak", engine="compiled")
    assert engine.kind == "interpreted"


def test_cli_reports_the_engine(checker_cli):
    import json

    rows = {}
    for args in (["-m", "sc"], ["-m", "sc", "--engine", "interpreted"], ["-m", "weak", "--window", "2"]):
        r = checker_cli("explore", "ring", "--threads", "2", "--json", "--no-trace", *args)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        rows[tuple(args)] = (doc["engine"], doc["storage"], doc["states"])
    assert rows[("-m", "sc")][0] == "compiled"
    assert rows[("-m", "sc", "--engine", "interpreted")][0] == "interpreted"
    assert rows[("-m", "sc")][2] == rows[("-m", "sc", "--engine", "interpreted")][2]
    assert rows[("-m", "weak", "--window", "2")][:2] == ("interpreted", "compact")
