"""weak by default loses no reordering; --window N is an under-approximation that says so."""

import json

import pytest

from checker.litmus import parse_litmus, run_litmus, suite_files
from checker.memory import weak
from checker.model import INTEGRITY, WAIT_FREEDOM
from checker.run import check
from conftest import MODELS

SUITE = {f.stem: f for f in suite_files()}
MP_OPS = str(MODELS / "mp_ops.py")
SMALL = dict(threads=2, ops=3, slots=2)  # as in test_weak.py


@pytest.mark.parametrize("name", ["3W+rmbs", "LB3", "MP+wmb+ctrl-join"])
def test_the_default_finds_what_armv8_allows(name):
    test = parse_litmus(SUITE[name])
    for profile in ("documented", "arm64"):
        assert run_litmus(test, "weak", profile).result == "allowed", profile


@pytest.mark.parametrize("name", ["3W+wmbs+rmbs", "LB3+ctrls", "MP+wmb+ctrl-join+rmb"])
def test_the_fenced_variants_stay_forbidden(name):
    test = parse_litmus(SUITE[name])
    for profile in ("documented", "arm64"):
        assert run_litmus(test, "weak", profile).result == "forbidden", profile


def test_three_stores_last_first_need_three_in_flight():
    # Each reordering the default finds, a window of 3 finds too; 2 cannot
    # keep the first two stores in flight while the third is performed.
    test = parse_litmus(SUITE["3W+rmbs"])
    assert run_litmus(test, "weak", window=3).result == "allowed"
    assert run_litmus(test, "weak", window=2).result == "forbidden"


def test_mp_across_an_operation_boundary_is_found():
    # The reader's first operation ends on the branch over its flag load;
    # the data load of the next operation is satisfied early on a guess.
    engine, res = check(MP_OPS, threads=2, mutation="no-read-barrier")
    assert INTEGRITY in res.violations
    labels = res.violations[INTEGRITY].labels
    assert any(label[1] == "speculate" and label[0] == 0 for label in labels)
    # A window of 2 is enough for this one, and the bounded run still finds it.
    _, bounded = check(MP_OPS, threads=2, mutation="no-read-barrier", mm_options={"window": 2})
    assert INTEGRITY in bounded.violations


def test_mp_across_an_operation_boundary_holds_with_the_read_barrier():
    _, res = check(MP_OPS, threads=2)
    assert res.complete and not res.violations and res.liveness_checked
    assert res.reordering_bound is None and res.exit_code == 0
    assert res.verdict(INTEGRITY) == "holds (exhaustive)"


def test_speculating_into_the_next_operation_is_not_a_wait_freedom_lasso():
    # With --step-bound 0 wait-freedom is left to the cycle analysis; a
    # postmaster that runs ahead into its next operation has left the first.
    _, res = check(MP_OPS, threads=2, step_bound=0)
    assert WAIT_FREEDOM not in res.violations and res.complete


@pytest.mark.parametrize("mutation", ["start-no-write-barrier", "free-no-read-barrier"])
def test_window_two_still_finds_what_it_found(mutation):
    _, res = check("ring", mutation=mutation, mm_options={"window": 2}, **SMALL)
    assert INTEGRITY in res.violations


def test_window_two_verdicts_say_they_are_bounded(checker_cli):
    p = checker_cli("explore", "ring", "--threads", "2", "--ops", "1", "--window", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "holds (exhaustive, reordering bounded to 2)" in p.stdout
    j = checker_cli("explore", "ring", "--threads", "2", "--ops", "1", "--window", "2", "--json")
    doc = json.loads(j.stdout)
    assert doc["reordering_bound"] == 2
    assert doc["properties"][INTEGRITY] == "holds (exhaustive, reordering bounded to 2)"
    d = checker_cli("explore", "ring", "--threads", "2", "--ops", "1", "--json")
    doc = json.loads(d.stdout)
    assert d.returncode == 0 and doc["reordering_bound"] is None
    assert doc["properties"][INTEGRITY] == "holds (exhaustive)"


def test_the_safety_cap_is_never_a_silent_bound(monkeypatch):
    # If the cap that stops endless fetching ever refuses a fetch, the run
    # is not exhaustive: the verdict names the bound and the exit code is 3.
    monkeypatch.setattr(weak, "SAFETY_CAP", 1)
    _, res = check("ring", threads=2, ops=1)
    assert res.reordering_bound == 1 and res.exit_code == 3
    assert not res.complete and res.stop_reason == "the weak model's safety cap of 1 events in flight per thread was hit"
    assert res.verdict(INTEGRITY).startswith("not violated so far (search incomplete: the weak model's safety cap")


def test_a_polling_loop_fetched_ahead_is_not_a_wait_freedom_lasso():
    # The ring's postmaster ends start_queued_worker() on a branch over a
    # pending load and speculates on into its polling loop, where every turn
    # starts and finishes an operation again: while the marker says it ran
    # ahead, the cycle analysis counts it neither inside nor outside an
    # operation.  (Without that, a false lasso "outside any operation".)
    _, res = check("ring", threads=2, ops=2)
    assert res.complete and res.liveness_checked
    assert WAIT_FREEDOM not in res.violations, res.violations[WAIT_FREEDOM].message



def test_a_litmus_run_that_hits_the_safety_cap_is_refused(monkeypatch):
    # 3W+rmbs keeps three stores in flight: a cap of 2 cuts it, and the
    # outcome count must not be reported as if it were complete.
    from checker.litmus import LitmusError

    test = parse_litmus(SUITE["3W+rmbs"])
    monkeypatch.setattr(weak, "SAFETY_CAP", 2)
    with pytest.raises(LitmusError, match="safety cap"):
        run_litmus(test, "weak")
    monkeypatch.undo()
    assert run_litmus(test, "weak").result == "allowed"


@pytest.mark.parametrize("protocol, mutation", [
    ("ring", None), pytest.param("ring", "start-no-read-barrier", marks=pytest.mark.slow), ("caslist", None),
    ("bgworker", None),
    pytest.param("bgworker", "release-no-barrier", marks=pytest.mark.slow), ("dsmhandle", None),
])
def test_cached_outcomes_change_nothing(monkeypatch, protocol, mutation):
    # The thread-local outcomes weak caches must be exactly what computing
    # them afresh gives: same states, transitions and verdicts.
    def run():
        _, res = check(protocol, mutation=mutation, threads=2, ops=2)
        return res.states, res.transitions, {p: res.verdict(p) for p in res.system.checked}

    cached = run()
    monkeypatch.setattr(weak, "CACHE_OUTCOMES", False)
    assert run() == cached


def test_the_safety_cap_hit_in_a_worker_process_is_not_lost(monkeypatch):
    # With --workers the cap is hit in a shard's copy of the model, not the
    # coordinator's: the shard must report it, or the run would say "holds".
    from checker.explore import Options, explore
    from checker.model import Params
    from checker.parallel import EngineSpec, ParallelOptions

    monkeypatch.setattr(weak, "SAFETY_CAP", 1)
    spec = EngineSpec("ring", Params(threads=2, ops=1), None, "weak", "documented")
    engine = spec.build()
    res = explore(engine, Options(parallel=ParallelOptions(workers=2, spec=spec)), "weak", "documented")
    assert res.reordering_bound == 1 and res.exit_code == 3
    assert res.verdict(INTEGRITY).startswith("not violated so far (search incomplete: the weak model's safety cap")


def test_a_bounded_litmus_verdict_states_its_bound_in_json(checker_cli):
    # 3W+rmbs is forbidden only under the window of 2: the JSON must say so,
    # as the text header does, or the bounded "forbidden" reads as exhaustive.
    path = str(SUITE["3W+rmbs"])
    bounded = checker_cli("litmus", path, "-m", "weak", "--window", "2", "--json")
    [doc] = json.loads(bounded.stdout).values()
    assert doc["result"] == "forbidden" and doc["reordering_bound"] == 2
    sound = checker_cli("litmus", path, "-m", "weak", "--json")
    [doc] = json.loads(sound.stdout).values()
    assert doc["result"] == "allowed" and "reordering_bound" not in doc
