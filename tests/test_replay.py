"""Replay of traces against the C reference implementation (refimpl/c, trace build).

Every SC-detectable mutation's counterexample must replay against the C build
with the same mutation and diverge from the correct build; sampled complete
executions of the correct model must replay cleanly (and diverge from mutated
builds that change every execution); edited traces must diverge where they
were edited; bad inputs are one-line errors with exit 2.
"""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest

from checker.model import load_protocols
from checker.replay import replay_file, replay_trace, sample_executions
from checker.run import check
from checker.trace import build_trace, write_json_atomic
from refimpl.build import PROTOCOLS, RefimplError, c_mutations, load

pytestmark = [pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc").split()[0]) is None,
                                 reason="no C compiler"),
              # One test process for the module: its fixtures (every sc mutation's
              # counterexample, each mutated C build) are made once, not per process.
              pytest.mark.xdist_group("replay")]

MODELS = load_protocols()
C_PROTOCOLS = [p for p in PROTOCOLS if p in MODELS]
SC_MUTATIONS = [(p, m) for p in C_PROTOCOLS for m, mut in MODELS[p].mutations.items() if "sc" in mut.bug_under]

# Parameters that keep each counterexample search small (a wait-freedom
# lasso against an unlimited rogue needs the smallest system).
PARAMS = {"default": dict(threads=3, slots=2, ops=2),
          ("caslist", "unbounded-retry"): dict(threads=2, slots=1, ops=1, rogue_writes=None, step_bound=8)}


def _counterexample(protocol: str, mutation: str) -> dict:
    mut = MODELS[protocol].mutations[mutation]
    params = PARAMS.get((protocol, mutation), PARAMS["default"])
    engine, result = check(protocol, mutation=mutation, memory_model="sc", rogue=mut.needs_rogue, **params)
    assert result.violations, f"{protocol} {mutation} has no counterexample under sc"
    cx = next(iter(result.violations.values()))
    return build_trace(engine, cx, result)


@pytest.fixture(scope="module")
def counterexamples() -> dict[tuple[str, str], dict]:
    return {pm: _counterexample(*pm) for pm in SC_MUTATIONS}


@pytest.fixture(scope="module")
def samples() -> list[dict]:
    docs = sample_executions("ring", count=12, seed=7, threads=3, slots=2, ops=2)
    docs += sample_executions("ring", count=6, seed=8, threads=4, slots=3, ops=1)
    return docs


@pytest.fixture(scope="module")
def other_samples() -> dict[str, list[dict]]:
    return {p: sample_executions(p, count=8, seed=11, threads=3, slots=2, ops=2)
            for p in C_PROTOCOLS if p != "ring"}


def _write(tmp_path, doc, name="t.trace.json"):
    path = tmp_path / name
    write_json_atomic(path, doc)
    return path


# ---------------------------------------------------------------------------
# Mutations


@pytest.mark.parametrize("protocol", C_PROTOCOLS)
def test_every_model_mutation_exists_in_c(protocol):
    assert set(MODELS[protocol].mutations) == c_mutations(protocol)


def test_the_sc_mutations_are_the_expected_ones():
    # Guards the parametrisation below against an empty list.
    assert {("ring", "no-lock"), ("ring", "no-range-check"), ("ring", "empty-off-by-one")} <= set(SC_MUTATIONS)
    assert "ring" in C_PROTOCOLS


@pytest.mark.parametrize("protocol, mutation", SC_MUTATIONS)
def test_counterexample_conforms_to_its_mutated_c(counterexamples, protocol, mutation):
    doc = counterexamples[protocol, mutation]
    report = replay_trace(doc)
    assert report.ok, report.summary()
    assert report.c_mutation == mutation
    assert report.reached_end
    assert report.events == sum(len(t["events"]) for t in doc["threads"] if t["role"] != "rogue")
    assert any("violates" in n for n in report.notes)


@pytest.mark.parametrize("protocol, mutation", SC_MUTATIONS)
def test_counterexample_diverges_from_correct_c(counterexamples, protocol, mutation):
    doc = counterexamples[protocol, mutation]
    report = replay_trace(doc, c_mutation=None)
    assert not report.ok
    d = report.divergence
    # The divergence is within the counterexample, or at the thread's very
    # next event when local code alone (a range check) decides it.
    assert d.step is None or d.step <= doc["violation_step"]
    assert "refimpl/c/" in d.actual_where or d.actual_where == "end of the C thread"
    assert "models/" in d.expected_where


def test_no_lock_diverges_at_the_first_backend_event(counterexamples):
    report = replay_trace(counterexamples["ring", "no-lock"], c_mutation=None)
    d = report.divergence
    assert d.index == 0
    assert d.expected.startswith("pg_atomic_read_u32(free_tail)")
    assert d.actual.startswith("LWLockAcquire(FreeQueueLock)")
    assert "slot_ring.c" in d.actual_where


def test_no_range_check_diverges_past_the_end_of_the_trace(counterexamples):
    """The violation is decided by local code after the last event: replay looks one event ahead."""
    report = replay_trace(counterexamples["ring", "no-range-check"], c_mutation=None)
    d = report.divergence
    assert d.thread == "postmaster"
    assert d.step is None and "past the end" in d.why
    assert "slot_worker" in d.expected_where
    assert d.actual.startswith("choose(")


# ---------------------------------------------------------------------------
# Sampled complete executions


def test_samples_are_complete_executions(samples):
    assert all(d["complete"] for d in samples)
    assert all(d["property"] is None for d in samples)
    # Distinct walks, not one execution repeated.
    assert len({len(d["steps"]) for d in samples}) > 3


def test_correct_samples_replay_cleanly(samples):
    for doc in samples:
        report = replay_trace(doc)
        assert report.ok, report.summary()
        assert "every thread ran to its end" in report.notes
        assert "final shared memory equal" in report.notes


@pytest.mark.parametrize("mutation", ["no-lock", "free-no-read-barrier", "start-no-write-barrier",
                                      "free-no-consume-barrier", "free-no-write-barrier", "start-no-read-barrier"])
def test_correct_samples_diverge_from_mutated_c(samples, mutation):
    """Mutations that change every execution's events: no sample may pass."""
    for doc in samples[:4]:
        assert not replay_trace(doc, c_mutation=mutation).ok


def test_other_protocols_samples_replay_cleanly(other_samples):
    for protocol, docs in other_samples.items():
        assert all(d["complete"] for d in docs)
        for doc in docs:
            report = replay_trace(doc)
            assert report.ok, f"{protocol}: {report.summary()}"


# Mutations with no sc counterexample (weak-only barriers, which replay
# cannot get a counterexample for here) must still change the C: each one
# changes the events of every complete execution (a barrier left out).
WEAK_ONLY = [(p, m) for p in C_PROTOCOLS if p != "ring" for m, mut in MODELS[p].mutations.items()
             if "sc" not in mut.bug_under]


@pytest.mark.parametrize("protocol, mutation", [("caslist", "no-tag"), ("bitmap", "plain-rmw"), *WEAK_ONLY])
def test_other_protocols_samples_diverge_from_mutated_c(other_samples, protocol, mutation):
    """A value stored, an RMW or a barrier differs in every execution."""
    for doc in other_samples[protocol][:3]:
        assert not replay_trace(doc, c_mutation=mutation).ok


def test_samples_are_deterministic():
    a = sample_executions("ring", count=2, seed=3, threads=3, slots=2, ops=1)
    b = sample_executions("ring", count=2, seed=3, threads=3, slots=2, ops=1)
    assert [len(d["steps"]) for d in a] == [len(d["steps"]) for d in b]
    assert a[0]["threads"][0]["events"] == b[0]["threads"][0]["events"]


# ---------------------------------------------------------------------------
# The harness is not blind: edited traces diverge where they were edited


def _first_event(doc, pred):
    for t in doc["threads"]:
        for e in t.get("events", []):
            if pred(e):
                return t, e
    raise AssertionError("no such event")


def test_edited_stored_value_diverges_at_that_step(samples, tmp_path, checker_cli):
    doc = copy.deepcopy(samples[0])
    t, ev = _first_event(doc, lambda e: e["event"] == "store" and e["location"].startswith("slot_worker"))
    ev["value"] ^= 0x40
    res = checker_cli("replay", _write(tmp_path, doc))
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"first divergence at step {ev['step']}, thread {t['name']}" in res.stdout
    assert "a different value stored" in res.stdout
    assert "slot_ring.c" in res.stdout and "models/_startqueue.py" in res.stdout  # register_worker


def test_edited_loaded_value_diverges_where_it_is_used(samples):
    """A backend reads another slot number from the free queue: it fills in that slot instead."""
    doc = copy.deepcopy(samples[0])
    t, ev = _first_event(doc, lambda e: e["event"] == "load" and e["location"].startswith("free_ring"))
    slots = doc["params"]["slots"]
    ev["value"] = (ev["value"] + 1) % slots
    report = replay_trace(doc)
    d = report.divergence
    assert d is not None and d.thread == t["name"]
    later = t["events"][t["events"].index(ev) + 1:]
    fill = next(e for e in later if e["event"] == "store" and e["location"].startswith("slot_worker"))
    assert d.step == fill["step"]
    assert d.why == "a different location"


def test_edited_location_diverges(samples):
    doc = copy.deepcopy(samples[1])
    t, ev = _first_event(doc, lambda e: e["event"] == "load" and e["location"] == "free_head")
    ev["location"] = "free_tail"
    d = replay_trace(doc).divergence
    assert d is not None and d.step == ev["step"] and d.why == "a different location"


def test_edited_final_memory_diverges(samples):
    doc = copy.deepcopy(samples[2])
    last = doc["steps"][-1]
    cells = doc["layout"]["cells"]
    i = cells.index("slot_worker[0]")
    last["memory"][i] ^= 0x1000
    report = replay_trace(doc)
    assert not report.ok
    assert report.divergence.why == "different final shared memory"
    assert "slot_worker[0]" in report.divergence.expected


def test_edited_initial_memory_diverges(samples):
    doc = copy.deepcopy(samples[2])
    i = doc["layout"]["cells"].index("free_tail")
    doc["initial"]["memory"][i] = 7
    report = replay_trace(doc)
    assert not report.ok and report.divergence.step == 0
    assert report.divergence.why == "different initial shared memory"


def test_an_extra_event_at_the_end_diverges(samples):
    """The C thread returns where the model's thread still has an event."""
    doc = copy.deepcopy(samples[0])
    t = doc["threads"][1]
    t["events"].append(dict(t["events"][-1], step=len(doc["steps"]) + 1))
    d = replay_trace(doc).divergence
    assert d is not None and d.thread == t["name"]
    assert "returned" in d.why


def test_a_truncated_thread_is_checked_one_event_past_its_end(samples):
    """Cut a backend's events short: the C thread's next event must still be the model's next."""
    doc = copy.deepcopy(samples[0])
    doc["complete"] = False
    t = doc["threads"][1]
    del t["events"][5:]
    report = replay_trace(doc)
    # The C thread stops after event 5 (its next event is the model's), so
    # its later writes are missing from the final memory.
    assert not report.ok and report.divergence.why == "different final shared memory"
    assert any("its next event is the model's next" in line for line in report.threads)


# ---------------------------------------------------------------------------
# The command line, and bad input


def test_cli_replay_uses_the_traces_mutation(counterexamples, tmp_path, checker_cli):
    path = _write(tmp_path, counterexamples["ring", "no-lock"])
    ok = checker_cli("replay", path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "C build mutation no-lock" in ok.stdout and "conforms" in ok.stdout
    bad = checker_cli("replay", path, "--c-mutation", "none")
    assert bad.returncode == 1
    assert "first divergence at step 1" in bad.stdout


def test_cli_unknown_c_mutation(counterexamples, tmp_path, checker_cli):
    res = checker_cli("replay", _write(tmp_path, counterexamples["ring", "no-lock"]), "--c-mutation", "no-such")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "no mutation 'no-such'" in res.stderr


@pytest.mark.parametrize("content, message", [
    ("{\"schema\": \"slotcheck-trace\", \"vers", "not valid JSON"),
    ("[1, 2, 3]", "not a slotcheck trace"),
    (json.dumps({"schema": "slotcheck-trace", "version": 2}), "schema version 2"),
])
def test_bad_trace_files(tmp_path, checker_cli, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    res = checker_cli("replay", path)
    assert res.returncode == 2
    assert res.stderr.startswith("checker: error:") and message in res.stderr
    assert res.stderr.strip().count("\n") == 0 and "Traceback" not in res.stderr


@pytest.mark.parametrize("damage, message", [
    (lambda d: d["threads"][1].pop("events"), "no \"events\" list"),
    (lambda d: d["threads"][1]["events"][0].update(value="seven"), "not a 32-bit value"),
    (lambda d: d["params"].pop("slots"), "no integer 'slots'"),
    (lambda d: d.update(protocol="nosuch"), "no C implementation of protocol 'nosuch'"),
    (lambda d: d["initial"]["memory"].pop(), "does not match the layout"),
])
def test_damaged_traces(samples, tmp_path, checker_cli, damage, message):
    doc = copy.deepcopy(samples[0])
    damage(doc)
    res = checker_cli("replay", _write(tmp_path, doc))
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and res.stderr.strip().count("\n") == 0


def test_missing_trace_file(tmp_path, checker_cli):
    res = checker_cli("replay", tmp_path / "nope.json")
    assert res.returncode == 2 and "cannot read" in res.stderr


def test_missing_compiler_is_a_one_line_error(counterexamples, tmp_path, checker_cli, monkeypatch):
    path = _write(tmp_path, counterexamples["ring", "no-lock"])
    env_cache = tmp_path / "cache"
    monkeypatch.setenv("CC", "/nonexistent/bin/cc")
    monkeypatch.setenv("SLOTCHECK_CACHE", str(env_cache))
    res = checker_cli("replay", path)
    assert res.returncode == 2
    assert res.stderr.startswith("checker: error: no C compiler found")
    assert res.stderr.strip().count("\n") == 0
    # And the library call says the same.
    import refimpl.build as b
    monkeypatch.setattr(b, "_loaded", {})
    with pytest.raises(RefimplError, match="no C compiler found"):
        load("ring", "trace")


def test_explore_replay_c_replays_the_trace_it_writes(tmp_path, checker_cli):
    res = checker_cli("explore", "ring", "--memory-model", "sc", "--mutation", "no-lock", "--replay-c")
    assert res.returncode == 1 and "diverged" not in res.stderr
    written = list(tmp_path.glob("*.trace.json"))
    assert written
    assert replay_file(written[0]).ok


# ---------------------------------------------------------------------------
# Other memory models and rogues


def test_tso_executions_replay_with_exact_final_memory():
    """Walks cut short leave stores in the buffers: only flushed stores may be in the final memory."""
    for protocol in C_PROTOCOLS:
        docs = sample_executions(protocol, count=4, seed=5, threads=3, slots=2, ops=2, memory_model="tso",
                                 max_steps=60)
        assert any(s.get("action") == "flush" for d in docs for s in d["steps"])
        for doc in docs:
            report = replay_trace(doc)
            assert report.ok, f"{protocol}: {report.summary()}"
            assert "final shared memory equal" in report.notes


def test_tso_counterexample_replays(tmp_path):
    engine, result = check("ring", mutation="no-lock", memory_model="tso", threads=3, slots=2, ops=1)
    doc = build_trace(engine, next(iter(result.violations.values())), result)
    assert replay_trace(doc).ok
    assert not replay_trace(doc, c_mutation=None).ok


def test_rogue_executions_replay(tmp_path):
    """A rogue's writes reach C only through the values loads return; crashed backends stop where the model's did."""
    crashed = 0
    for protocol in ("ring", "caslist"):
        docs = sample_executions(protocol, count=10, seed=5, threads=3, slots=2, ops=2, rogue=True, rogue_writes=3,
                                 rogue_anywhere=True, max_steps=400)
        crashed += sum(any(s.get("action") == "crash" for s in d["steps"]) for d in docs)
        for doc in docs:
            report = replay_trace(doc)
            assert report.ok, f"{protocol}: {report.summary()}"
    assert crashed > 0  # the out-of-range case was exercised


# ---------------------------------------------------------------------------
# Worker processes: bgworker's workers are forked, exit and are reaped; its C
# twin replays those events too (a thread per worker process slot).


def _worker_events(doc) -> list[dict]:
    return [e for t in doc["threads"] if t["role"] == "worker" for e in t["events"]]


def test_bgworker_samples_replay_with_their_workers(other_samples):
    for doc in other_samples["bgworker"]:
        assert {e["prim"] for e in _worker_events(doc)} == {"fork", "pg_atomic_write_membarrier_u32"}
        report = replay_trace(doc)
        assert report.ok, report.summary()
        assert any(line.startswith("worker0:") for line in report.threads), report.threads


@pytest.mark.parametrize("mutation", ["release-no-barrier", "register-no-write-barrier", "scan-no-read-barrier"])
def test_bgworker_weak_counterexamples_replay_against_their_mutation_only(mutation):
    """Each barrier mutation's weak counterexample is what the mutated C does, and
    not what the correct C does; the notify bug needs a worker forked, exiting
    and reaped before the slot is reused."""
    engine, result = check("bgworker", mutation=mutation, memory_model="weak", threads=3, slots=2, ops=1)
    assert list(result.violations) == [MODELS["bgworker"].mutations[mutation].breaks]
    doc = build_trace(engine, next(iter(result.violations.values())), result)
    if mutation == "release-no-barrier":
        assert any(e["prim"] == "fork" for e in _worker_events(doc))
    same = replay_trace(doc)
    assert same.ok and same.reached_end, same.summary()
    correct = replay_trace(doc, c_mutation=None)
    assert not correct.ok and correct.divergence is not None


def test_an_edited_worker_exit_diverges_in_that_worker():
    doc = copy.deepcopy(sample_executions("bgworker", count=1, seed=5, threads=2, slots=1, ops=1)[0])
    t, ev = _first_event(doc, lambda e: e.get("location") == "worker.exited[0]" and e["event"] == "store")
    ev["value"] = 2
    d = replay_trace(doc).divergence
    assert d is not None and (d.thread, d.step) == ("worker0", ev["step"])
    assert d.why == "a different value stored" and "slot_process.h" in d.actual_where
