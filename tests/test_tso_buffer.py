"""tso's store buffers: a bound is either asked for and stated, or never hit unannounced.

Until this was tested, every tso run had a four-entry buffer and said "holds
(exhaustive)" although ring and dlist at --threads 3 buffer five stores: a
store that waited for room left out behaviours x86-TSO allows.  Now the
default buffer is a safety cap (checker.memory.tso.SAFETY_CAP) that no
shipped protocol fills, hitting it makes the run incomplete (exit 3), and
--window N is an explicit under-approximation every verdict names.  Each of
the three engines reports the cap its own way (the model, the compiled
successors, the C search's flag), so each is tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.explore import Options, explore
from checker.litmus import LitmusError, parse_litmus, run_litmus
from checker.memory import tso
from checker.model import INTEGRITY, Params, load_protocols
from checker.run import check, make_engine

ENGINES = ["interpreted", "compiled", "c"]
BUFFERED = Path(__file__).parent / "litmus" / "constructs" / "SB+2W-buffered.litmus"


@pytest.mark.parametrize("protocol", sorted(load_protocols()))
def test_no_shipped_protocol_fills_the_default_buffer(protocol):
    _, res = check(protocol, memory_model="tso", threads=2)
    assert res.complete and res.reordering_bound is None and res.exit_code == 0
    assert res.verdict(INTEGRITY) in ("holds (exhaustive)", "not checked by this model")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_full_buffer_nobody_asked_for_makes_the_run_incomplete(monkeypatch, engine):
    monkeypatch.setattr(tso, "SAFETY_CAP", 2)
    eng, res = check("ring", memory_model="tso", threads=2, engine=engine)
    assert res.reordering_bound == 2 and not res.reordering_bound_requested and res.exit_code == 3
    # Incomplete for every reader of the result (summary, --json, bench), not only for the verdicts.
    assert not res.complete and res.stop_reason == "the tso model's safety cap of 2 buffered stores per thread was hit"
    assert res.verdict(INTEGRITY) == ("not violated so far (search incomplete: the tso model's safety cap of 2 "
                                      "buffered stores per thread was hit)")
    if engine == "c":
        assert eng.python_steps == 0  # the C search's own flag said so, not a step Python took for it


@pytest.mark.parametrize("engine", ENGINES)
def test_a_requested_buffer_bound_is_stated_in_every_verdict(engine):
    _, bounded = check("ring", memory_model="tso", threads=3, engine=engine, mm_options={"window": 4})
    _, full = check("ring", memory_model="tso", threads=3, engine=engine)
    assert bounded.exit_code == 0 and bounded.reordering_bound == 4
    assert bounded.verdict(INTEGRITY) == "holds (exhaustive, store buffers bounded to 4)"
    # The bound cut something: the default explores more, and says nothing of a bound.
    assert (bounded.states, full.states) == (117030, 118142)
    assert full.verdict(INTEGRITY) == "holds (exhaustive)"


def test_the_cap_hit_in_a_worker_process_is_not_lost(monkeypatch):
    # The worker's copy of the model hits the cap, not the coordinator's.
    from checker.parallel import EngineSpec, ParallelOptions

    monkeypatch.setattr(tso, "SAFETY_CAP", 2)
    spec = EngineSpec("ring", Params(threads=2), None, "tso", "documented")
    engine = spec.build()
    res = explore(engine, Options(parallel=ParallelOptions(workers=2, spec=spec)), "tso", "documented")
    assert res.reordering_bound == 2 and res.exit_code == 3
    assert engine.mm.reordering_bound() is None


@pytest.mark.parametrize("engine", ["interpreted", "c"])
def test_a_behaviour_that_needs_two_buffered_stores(engine):
    # Both directions: allowed with the default buffer, forbidden by a buffer
    # of one, and that bound is reported with the result.
    test = parse_litmus(BUFFERED)
    assert run_litmus(test, "tso", engine=engine).result == "allowed"
    one = run_litmus(test, "tso", window=1, engine=engine)
    assert one.result == "forbidden" and one.reordering_bound == 1


@pytest.mark.parametrize("engine", ["interpreted", "c"])
def test_a_litmus_run_that_fills_the_default_buffer_is_refused(monkeypatch, engine):
    monkeypatch.setattr(tso, "SAFETY_CAP", 1)
    with pytest.raises(LitmusError, match="tso model's safety cap of 1 buffered stores per thread"):
        run_litmus(parse_litmus(BUFFERED), "tso", engine=engine)


def test_sc_refuses_a_window_rather_than_ignore_it(checker_cli):
    from checker.model import ModelError

    with pytest.raises(ModelError, match="sc memory model takes no --window"):
        make_engine("ring", Params(threads=2), None, "sc", "documented", window=2)
    p = checker_cli("litmus", str(BUFFERED), "-m", "sc", "--window", "1")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == ("checker: error: the sc memory model takes no --window (--window bounds weak's "
                                "events in flight and tso's store buffers)")


def test_the_cli_states_a_requested_buffer(checker_cli):
    p = checker_cli("explore", "ring", "--threads", "2", "-m", "tso", "--window", "2", "--no-trace")
    assert p.returncode == 0
    assert f"{INTEGRITY:<24} holds (exhaustive, store buffers bounded to 2)" in p.stdout
