"""checker prove --robustness: the symbolic executor on programs with known answers, and the ring."""

import json

import z3

from conftest import MODELS
from checker.model import PM_SAFETY, WAIT_FREEDOM, Params, resolve_protocol
from checker.prove.robustness import prove_robustness
from checker.prove.symbolic import Translator
from checker.prove.witness import verify_trace

SMALL = str(MODELS / "prove_small.py")


def _small(mutation=None, **kw):
    return prove_robustness(resolve_protocol(SMALL), Params(threads=2, slots=2, ops=1, **kw), mutation)


def test_translation_is_unsigned_and_wraps():
    x, y = z3.BitVec("x", 32), z3.BitVec("y", 32)
    t = Translator([x, y])
    s = z3.Solver()
    # `(x - y) & MASK` wraps, `<` is unsigned, `%` is URem with a side condition.
    s.add(x == 1, y == 2)
    assert s.check() == z3.sat
    m = s.model()
    assert m.eval(t.expr("((L[0] - L[1]) & 4294967295)")).as_long() == 0xFFFFFFFF
    assert z3.is_true(m.eval(t.cond("(1 if L[1] < ((L[0] - L[1]) & 4294967295) else 0)")))
    t.expr("(L[0] % L[1])")
    assert len(t.side) == 1


def test_correct_range_check_proves():
    res = _small()
    assert res.proved and res.exit_code == 0
    (op,) = res.ops
    assert op.name == "look" and op.failure is None
    assert op.max_steps == 5  # read count, read the entry, at most three polls
    assert res.space.symbolic


def test_off_by_one_found_at_the_top_value():
    res = _small("off-by-one")
    f = res.failure
    assert f is not None and res.exit_code == 1
    assert f.prop == PM_SAFETY and f.kind == "index" and "table" in f.message
    # n + 1 <= LEN lets through exactly one bad value: 2^32-1 (n + 1 wraps to 0).
    assert [r["value"] for r in f.values] == [0xFFFFFFFF]
    # ... and the witness is a real run of the engine with a rogue.
    assert res.trace is not None
    ok, msg = verify_trace(res.trace)
    assert ok, msg
    assert res.trace["property"] == PM_SAFETY


def test_unbounded_loop_fails_the_step_bound_and_bounded_one_proves():
    res = _small("spin", step_bound=10)
    assert res.failure is not None and res.failure.prop == WAIT_FREEDOM and res.failure.kind == "steps"
    assert "more than 10 steps" in res.failure.message
    # The bounded poll fits a bound of 5 exactly, and not 4.
    assert _small(step_bound=5).proved
    tight = _small(step_bound=4)
    assert tight.failure is not None and tight.failure.prop == WAIT_FREEDOM


def test_ring_robustness_for_every_slot_count():
    res = prove_robustness(resolve_protocol("ring"), Params(threads=2, slots=2, ops=1))
    assert res.proved, [o.failure and o.failure.lines() for o in res.ops]
    # Not beyond the model's max_slots: the C twin shifts (uint32) 1 << slot.
    assert res.space.symbolic and res.space.slot_range == (1, 32)
    assert {o.name for o in res.ops} >= {"start_queued_worker", "reap_worker"}


def test_ring_no_range_check_fails_with_a_replayable_trace(checker_cli, tmp_path):
    p = checker_cli("prove", "ring", "--robustness", "--mutation", "no-range-check", "--trace-out", "w.json")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "postmaster safety" in p.stdout and "read start_ring" in p.stdout
    doc = json.loads((tmp_path / "w.json").read_text())
    assert doc["schema"] == "slotcheck-trace" and doc["mutation"] == "no-range-check"
    assert doc["params"]["rogue"] is True and doc["memory_model"] == "sc"
    rogue_steps = [s for s in doc["steps"] if s.get("action") == "rogue"]
    assert rogue_steps and doc["steps"][-1].get("violates") == "postmaster safety"
    ok, msg = verify_trace(doc)
    assert ok, msg
    # The explicit engine with a rogue finds the same failure on its own.
    e = checker_cli("explore", "ring", "--memory-model", "sc", "--rogue", "--threads", "2", "--slots", "2",
                    "--ops", "1", "--mutation", "no-range-check", "--no-trace")
    assert e.returncode == 1 and "postmaster safety" in e.stdout and "VIOLATED" in e.stdout


def test_a_tampered_trace_does_not_verify(tmp_path):
    res = _small("off-by-one")
    doc = json.loads(json.dumps(res.trace))
    rogue = next(s for s in doc["steps"] if s.get("action") == "rogue")
    rogue["value"] = 3  # an in-range count: the postmaster reads a good entry
    ok, _msg = verify_trace(doc)
    assert not ok


def test_prove_usage_errors(checker_cli):
    for args in (("ring",), ("ring", "--robustness", "--invariants"), ("nosuch", "--robustness"),
                 ("ring", "--robustness", "--mutation", "nope"), ("ring", "--bmc", "0"),
                 ("ring", "--robustness", "--step", "free_tail"), ("ring", "--invariants", "--step", "no such line")):
        p = checker_cli("prove", *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        lines = [line for line in p.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("checker: error:") and "Traceback" not in p.stderr


def test_protocol_without_invariant_says_so(checker_cli):
    p = checker_cli("prove", "dlist", "--invariants")
    assert p.returncode == 2 and "bounded search only" in p.stderr


GUARD = str(MODELS / "slots_guard.py")


def test_a_range_check_decided_at_compile_time_is_not_proved_for_every_slot_count():
    # `if SLOTS >= 3:` keeps the range check only from three slots up: the
    # programs at 3 and 5 slots agree, yet with 1 or 2 there is no check.
    res = prove_robustness(resolve_protocol(GUARD), Params(threads=2, slots=2, ops=1))
    assert not res.space.symbolic
    assert {1, 2} <= set(res.space.concrete) and "1, 2" in res.space.reason
    f = res.failure
    assert f is not None and res.exit_code == 1
    assert f.prop == PM_SAFETY and f.slots in (1, 2) and "entries" in f.message


def test_the_guarded_range_check_is_a_real_bug(checker_cli):
    # (sc: what the prover reasons about, and a small state space.)
    p = checker_cli("explore", GUARD, "--slots", "1", "--rogue", "--threads", "2", "--no-trace", "-m", "sc")
    assert p.returncode == 1 and "postmaster safety" in p.stdout
    ok = checker_cli("explore", GUARD, "--slots", "3", "--rogue", "--threads", "2", "--no-trace", "-m", "sc")
    assert ok.returncode == 0, ok.stdout


def test_the_unguarded_programs_of_every_slot_count_agree():
    # Both directions: the check does not give up on a model whose program
    # really is the same for every slot count (prove_small has none at all).
    from checker.prove.robustness import supported_slots
    from checker.prove.setup import _system, slot_space

    proto = resolve_protocol("ring")
    params = Params(threads=2, slots=2, ops=1)
    space, _ = slot_space(proto, params, None)
    space = supported_slots(proto, space, params, None, lambda n: _system(proto, params, None, n, True))
    assert space.symbolic and space.slot_range == (1, 32)
