"""dsmhandle: DSM handles with slot index + generation, in both directions.

Bounds: --threads 3 (the postmaster, which does nothing, and two backends),
--slots 2, --ops 2 (the checker's defaults): each backend creates two
segments, attaches once per operation with a handle from any board cell, and
detaches.  Under sc 28,255 states, tso 77,687, weak 76,667.
"""

from __future__ import annotations

import ast
import copy
import os
import shutil
from pathlib import Path

import pytest

from checker.trace import TraceError

from checker.compare import compare, postmaster_reads
from checker.model import (
    CONSERVATION,
    EXCLUSIVE,
    PROPERTIES,
    ROGUE_PROPERTIES,
    ModelError,
    Params,
    load_protocols,
)
from checker.run import check, make_engine
from models.dsmhandle import REFCOUNT, SEGMENT, STALE, VALID

MODEL_FILE = Path(__file__).resolve().parent.parent / "models" / "dsmhandle.py"
PROTO = load_protocols()["dsmhandle"]
has_cc = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc").split()[0]) is None, reason="no C compiler")


# weak takes 7-10 s: slow, beside docs/dsmhandle.md's memory-model table (slow too), which makes the same runs.
@pytest.mark.parametrize("mm", ["sc", "tso", pytest.param("weak", marks=pytest.mark.slow)])
def test_holds_at_three_threads(mm):
    _, res = check("dsmhandle", threads=3, slots=2, ops=2, memory_model=mm)
    assert res.complete and res.liveness_checked
    assert res.violations == {}, res.violations
    assert res.reordering_bound is None  # weak's default leaves no reordering out
    for prop in (EXCLUSIVE, CONSERVATION, STALE, VALID, REFCOUNT, SEGMENT):
        assert res.verdict(prop) == "holds (exhaustive)", prop


def test_every_asserted_property_is_declared():
    """Each assert_(..., "name") in the model names a known or declared property."""
    tree = ast.parse(MODEL_FILE.read_text())
    asserted = {node.args[1].value for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "assert_"}
    assert {STALE, VALID, REFCOUNT, SEGMENT, EXCLUSIVE} <= asserted
    assert asserted <= set(PROPERTIES) | set(PROTO.properties)
    for m in PROTO.mutations.values():
        assert m.breaks in PROTO.properties


# -- the mutation matrix, both directions ------------------------------------


@pytest.mark.parametrize("mm", ["sc", "tso", "weak"])
@pytest.mark.parametrize("mutation", list(PROTO.mutations))
def test_mutation_matrix(mutation, mm):
    m = PROTO.mutations[mutation]
    _, res = check("dsmhandle", threads=3, slots=2, ops=2, mutation=mutation, memory_model=mm)
    if mm in m.bug_under:
        assert set(res.violations) == {m.breaks}
    else:
        assert res.complete and res.violations == {}, res.violations


def test_mutations_are_where_expected():
    assert PROTO.mutations["no-generation"].breaks == STALE
    assert set(PROTO.mutations["no-generation"].bug_under) == {"sc", "tso", "weak"}
    assert PROTO.mutations["publish-no-write-barrier"].bug_under == ("weak",)


def test_no_generation_attaches_a_stale_handle_to_the_next_occupant():
    _, res = check("dsmhandle", threads=3, mutation="no-generation", memory_model="sc")
    cx = res.violations[STALE]
    assert "another segment" in cx.message


# -- the generation field -----------------------------------------------------


def test_one_generation_bit_wraps_at_once():
    # gen_bits=1 leaves one usable generation (0 is skipped): every reuse of
    # an item gives the same handle again.
    _, res = check("dsmhandle", threads=3, memory_model="sc", extra={"gen_bits": 1})
    assert set(res.violations) == {STALE}


def test_two_generation_bits_wrap_after_three_reuses():
    # Three generations: the fourth occupant of one item has the first one's
    # handle.  At the default bounds no item is used four times ...
    _, res = check("dsmhandle", threads=3, memory_model="sc", extra={"gen_bits": 2})
    assert res.complete and res.violations == {}
    # ... with one item and three segments per backend it is.
    _, res = check("dsmhandle", threads=3, slots=1, ops=3, memory_model="sc", extra={"gen_bits": 2})
    assert set(res.violations) == {STALE}


@pytest.mark.parametrize("extra, message", [
    ({"gen_bits": 0}, "gen_bits must be between 1 and 29"),
    ({"gen_bits": 30}, "gen_bits must be between 1 and 29"),
    ({"linear": 2}, "linear must be 0 or 1"),
])
def test_bad_parameters_are_refused(extra, message):
    with pytest.raises(ModelError, match=message):
        make_engine("dsmhandle", Params(threads=3, slots=2, ops=1, extra=dict(extra)), None, "sc")


# -- today's dsm.c, the baseline ------------------------------------------------


def test_linear_baseline_holds_except_for_a_redrawn_random_handle():
    """Random handles drawn from SLOTS + 1 values: a destroyed segment's handle
    is drawn again, and a backend holding the old one attaches to the new
    segment.  Every other property holds."""
    from checker.explore import Options

    _, res = check("dsmhandle", threads=3, slots=1, ops=2, memory_model="sc", extra={"linear": 1},
                   options=Options(stop_on_first=False))
    assert res.complete
    assert set(res.violations) == {STALE}


@pytest.mark.parametrize("mm", ["tso", "weak"])
def test_linear_baseline_redraw_is_found_on_every_memory_model(mm):
    _, res = check("dsmhandle", threads=3, slots=1, ops=2, memory_model=mm, extra={"linear": 1})
    assert set(res.violations) == {STALE}


@pytest.mark.parametrize("mm", ["sc", "tso", "weak"])
def test_linear_baseline_holds_with_one_backend(mm):
    # One backend never attaches with a handle it holds itself ("can't
    # attach the same segment more than once"), so a redrawn handle of its
    # own earlier segment names the one it holds: nothing stale can attach.
    _, res = check("dsmhandle", threads=2, slots=2, ops=2, memory_model=mm, extra={"linear": 1})
    assert res.complete and res.violations == {}, res.violations


def test_linear_baseline_attach_moribund_is_caught():
    _, res = check("dsmhandle", threads=3, slots=1, ops=1, memory_model="sc", extra={"linear": 1},
                   mutation="attach-moribund")
    assert set(res.violations) == {REFCOUNT}


# -- the postmaster -----------------------------------------------------------


def test_postmaster_reads_nothing_and_survives_a_rogue():
    engine = make_engine("dsmhandle", Params(threads=3), None, "sc")
    assert postmaster_reads(engine.system) == ([], 0)
    _, res = check("dsmhandle", threads=2, ops=1, rogue=True, memory_model="sc")
    assert res.complete and res.violations == {}
    assert set(res.system.checked) == set(ROGUE_PROPERTIES)


def test_prove_robustness_has_nothing_to_prove(checker_cli):
    from checker.prove.robustness import prove_robustness

    res = prove_robustness(PROTO, Params(threads=2, slots=2, ops=1), None)
    assert res.ops == [] and res.proved
    r = checker_cli("prove", "dsmhandle", "--robustness")
    assert r.returncode == 0, r.stderr
    assert "never reads shared memory" in r.stdout


def test_compare_has_a_dsmhandle_row():
    rows = compare(3, 2, 1, "sc", "documented", protocols=["dsmhandle"])
    (row,) = rows
    assert row.protocol == "dsmhandle"
    assert row.verdicts[STALE] == "holds (exhaustive)"
    assert row.postmaster_read_words == 0
    assert row.max_backend_obtain_steps is not None and row.max_backend_obtain_steps > 0


# -- replay against the C twin ---------------------------------------------------


def _trace(mutation=None, **params):
    from checker.trace import build_trace

    extra = params.pop("extra", {})
    engine, res = check("dsmhandle", memory_model="sc", mutation=mutation, extra=extra, **params)
    cx = next(iter(res.violations.values()))
    return build_trace(engine, cx, res)


@has_cc
@pytest.mark.parametrize("mutation, params", [
    ("no-generation", {"threads": 3, "slots": 2, "ops": 2}),
    ("attach-moribund", {"threads": 3, "slots": 2, "ops": 2}),
    ("attach-moribund", {"threads": 3, "slots": 1, "ops": 1, "extra": {"linear": 1}}),
])
def test_counterexamples_conform_to_mutated_c_and_diverge_from_correct_c(mutation, params):
    from checker.replay import replay_trace

    doc = _trace(mutation, **params)
    ok = replay_trace(doc)
    assert ok.ok and ok.reached_end, ok.summary()
    bad = replay_trace(doc, c_mutation=None)
    assert not bad.ok
    assert "refimpl/c/slot_dsmhandle.c" in bad.divergence.actual_where


@has_cc
def test_a_wrapped_generation_replays_only_with_the_same_field_width():
    from checker.replay import replay_trace

    doc = _trace(None, threads=3, slots=2, ops=2, extra={"gen_bits": 1})
    assert doc["params"]["gen_bits"] == 1
    report = replay_trace(doc)
    assert report.ok, report.summary()
    # With a wider generation field the handle stored at step 42 differs:
    # the model re-check refuses the edited trace before the C is asked.
    wide = copy.deepcopy(doc)
    wide["params"]["gen_bits"] = 10
    with pytest.raises(TraceError, match="item_handle.*is not a move the model can make"):
        replay_trace(wide)


@has_cc
def test_the_baseline_redraw_replays():
    from checker.replay import replay_trace

    doc = _trace(None, threads=3, slots=1, ops=2, extra={"linear": 1})
    assert doc["property"] == STALE
    assert replay_trace(doc).ok
    # The proposal's model, given the same trace, refuses it (its shared
    # memory starts differently) before its C is asked.
    ring = copy.deepcopy(doc)
    ring["params"]["linear"] = 0
    with pytest.raises(TraceError, match="the initial shared memory is not the model's"):
        replay_trace(ring)


@has_cc
@pytest.mark.parametrize("extra", [{}, {"linear": 1}])
def test_sampled_executions_replay_and_diverge_from_every_mutated_build(extra):
    from checker.replay import replay_trace, sample_executions

    docs = sample_executions("dsmhandle", count=6, seed=5, threads=3, slots=2, ops=2, extra=dict(extra))
    # A walk never takes a violating step, so under the baseline one that
    # meets only the redraw stops there, short of complete.
    assert all(d["complete"] for d in docs) if not extra else any(d["complete"] for d in docs)
    for doc in docs:
        report = replay_trace(doc)
        assert report.ok, report.summary()
        # publish-no-write-barrier removes an event every execution has.
        assert not replay_trace(doc, c_mutation="publish-no-write-barrier").ok


# -- the native C with real threads (refimpl/c/stress_dsmhandle_main.c) ---------


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    import subprocess

    from refimpl.build import C_DIR, compiler

    out = tmp_path_factory.mktemp("dsm")
    programs = {}
    for mutation in (None, "no-generation"):
        exe = out / f"stress-dsmhandle-{mutation or 'correct'}"
        flags = [f"-DSLOT_MUTATION_{mutation.upper().replace('-', '_')}", "-DNDEBUG"] if mutation else []
        subprocess.run([*compiler(), "-std=gnu11", "-O2", "-Wall", "-Werror", "-pthread", f"-I{C_DIR}", *flags,
                        str(C_DIR / "slot_dsmhandle.c"), str(C_DIR / "stress_dsmhandle_main.c"), "-o", str(exe)],
                       check=True, capture_output=True)
        programs[mutation] = exe
    return programs


def _run_native(exe, maxitems=2, gen_bits=24, linear=0, threads=3, iterations=200_000, lockstep=False):
    import subprocess

    return subprocess.run([str(exe), str(threads), str(iterations), str(maxitems), str(gen_bits), str(linear),
                           str(int(lockstep))],
                          check=False, capture_output=True, text=True, timeout=300)


@has_cc
@pytest.mark.parametrize("maxitems", [1, 2, 5])
def test_native_threads_keep_every_property(native, maxitems):
    # 24 generation bits: no item is reused 2^24 times in 600,000 iterations,
    # so no handle can come round again; every check must pass.
    r = _run_native(native[None], maxitems=maxitems)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok:")


# Threads taking turns (LOCKSTEP) run one interleaving, the same on every
# run, in which each thread holds its segment while the others attach: a
# reused handle is met within a few dozen segments, whatever the scheduler.
LOCKSTEP_ITERATIONS = 2000


@has_cc
@pytest.mark.parametrize("maxitems", [1, 2, 5])
def test_native_threads_in_lockstep_keep_every_property(native, maxitems):
    # The other direction of the test below: the same interleaving with the
    # correct handle finds nothing.
    r = _run_native(native[None], maxitems=maxitems, iterations=LOCKSTEP_ITERATIONS, lockstep=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok:")


@has_cc
@pytest.mark.parametrize("mutation, gen_bits, linear", [
    ("no-generation", 24, 0),  # handles carry only the item
    (None, 1, 0),  # one usable generation: every reuse repeats the handle
    (None, 24, 1),  # today's random handles, drawn from maxitems + 1 values
])
def test_native_threads_meet_the_stale_handle(native, mutation, gen_bits, linear):
    # Threads attach with handles from a history of 64 published ones, most
    # of them stale; taking turns, every thread holds its segment while the
    # others attach, so a reused handle is met on every run.
    r = _run_native(native[mutation], gen_bits=gen_bits, linear=linear, iterations=LOCKSTEP_ITERATIONS,
                    lockstep=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "stale handle refused" in r.stdout


# -- each property can fail ------------------------------------------------------


@pytest.mark.parametrize("old, new, prop", [
    # The last detacher never gives the item back to the ring: a leak.
    ("    if not LINEAR:\n        head = pg_atomic_read_u32(free_head)",
     "    if LINEAR:\n        head = pg_atomic_read_u32(free_head)", CONSERVATION),
    # dsm_create leaves the item in the ring: the next create takes it again.
    ("pg_atomic_write_u32(free_tail, tail + 1)", "pg_atomic_write_u32(free_tail, tail)", EXCLUSIVE),
    # Attach refuses a segment that only its creator holds (refcnt 2).
    ("(refcnt <= 1 and not mutation(\"attach-moribund\"))", "(refcnt <= 2)", VALID),
])
def test_each_property_can_fail(tmp_path, old, new, prop):
    """A scratch copy of the model with one mistake planted, loaded by path."""
    from checker.explore import Options

    text = MODEL_FILE.read_text()
    assert old in text
    variant = tmp_path / "dsmhandle_variant.py"
    variant.write_text(text.replace(old, new))
    _, res = check(str(variant), threads=3, slots=2, ops=2, memory_model="sc", options=Options(stop_on_first=False))
    assert prop in res.violations, res.violations
    _, res = check(str(MODEL_FILE), threads=3, slots=2, ops=1, memory_model="sc")
    assert res.complete and res.violations == {}
