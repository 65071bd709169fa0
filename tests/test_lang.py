"""The modelling language on small models whose state spaces are counted by hand."""

from pathlib import Path

import pytest

from checker.explore import Options
from checker.ir import CompileError
from checker.model import ModelError, Params, build_system, resolve_protocol
from checker.run import check
from conftest import MODELS

COUNTER = str(MODELS / "counter.py")


def test_lost_update_found_with_exact_state_count():
    # Load/store increments, by hand: each thread is before its load (A0),
    # holding r (A1(r)) or done (A2); x is the counter.  Reachable:
    # A0B0x0, A1(0)B0x0, A0B1(0)x0, A1(0)B1(0)x0, A2B0x1, A0B2x1, A2B1(1)x1,
    # A2B1(0)x1, A1(0)B2x1, A1(1)B2x1, A2B2x2, A2B2x1  -> 12 states.
    _, res = check(COUNTER, threads=2, memory_model="sc", options=Options(stop_on_first=False))
    assert res.complete
    assert res.states == 12
    assert "lost update" in res.violations
    cx = res.violations["lost update"]
    # Shortest: both load 0, both store 1.
    assert len(cx.labels) == 4


def test_rmw_increment_holds_with_exact_state_count():
    _, res = check(COUNTER, threads=2, mutation="fetch-add", memory_model="sc")
    assert res.complete and not res.violations
    assert res.states == 4


def test_three_threads_fetch_add():
    # 3 threads, one RMW each: 2^3 subsets of done threads.
    _, res = check(COUNTER, threads=3, mutation="fetch-add", memory_model="sc")
    assert res.states == 8 and not res.violations


def test_unsupported_construct_is_rejected_with_file_and_line():
    with pytest.raises(CompileError) as e:
        build_system(resolve_protocol(str(MODELS / "bad_construct.py")), Params(threads=2))
    msg = str(e.value)
    assert "bad_construct.py:10:" in msg and "Try statements are not part of the modelling language" in msg


def test_dead_locals_are_reset_so_states_are_canonical():
    system = build_system(resolve_protocol(COUNTER), Params(threads=2))
    prog = system.threads[0].program
    # After the store, r is dead at the halt: it must be reset there.
    halt_pc = len(prog.instrs) - 1
    r_index = prog.local_names.index("increment.r")
    assert r_index in prog.dead_at[halt_pc]


def test_wraparound_arithmetic():
    # ring's counters start at 2^32 - RING, so every exploration crosses the wrap.
    system = build_system(resolve_protocol("ring"), Params())
    ring = system.constants["RING"]
    assert system.shared_init[system.shared["free_tail"].base] == 2**32 - ring
    assert system.shared_init[system.shared["free_head"].base] == (2**32 - ring + 2) % 2**32


def test_unknown_mutation():
    with pytest.raises(ModelError, match="unknown mutation 'nope'"):
        check("ring", mutation="nope")


@pytest.mark.parametrize("threads", [0, 1])
def test_too_few_threads(threads):
    with pytest.raises(ModelError, match="--threads must be at least 2"):
        check("ring", threads=threads)


def test_a_model_file_never_replaces_a_registered_protocol(tmp_path):
    # A scratch copy of a built-in keeps its name; using it must not change
    # what the name means for everything else (later tests, `checker ci`).
    builtin = resolve_protocol("ring")
    src = (Path(__file__).resolve().parent.parent / "models" / "ring.py").read_text()
    (tmp_path / "ring_copy.py").write_text(src.replace("max_slots = 32", "max_slots = 4"))
    copy = resolve_protocol(str(tmp_path / "ring_copy.py"))
    assert copy is not builtin and copy.name == "ring" and copy.max_slots == 4
    assert resolve_protocol("ring") is builtin and builtin.max_slots == 32
    with pytest.raises(ModelError, match="no model file"):
        resolve_protocol(str(tmp_path / "missing.py"))
