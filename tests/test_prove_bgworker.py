"""checker prove bgworker: the postmaster's robustness, with its private list of workers.

bgworker's postmaster keeps the workers it started in a private array and
forks, reaps and takes a signal (models/bgworker.py).  The robustness prover
executes its program with every element of that array a private local, its
kernel and signal reads unconstrained, and the crash sites the compiler puts
in (a second fork of a slot, an index past the array) as failures.  The
shipped proof covers 1 <= slots <= 8, each separately (seconds, with the
paths merged at the reaper's loop head: docs/proofs.md); most tests use a
scratch copy limited to 1 <= slots <= 2 and check both directions.
"""

from pathlib import Path

import checker.prove.robustness as robustness
from checker.model import EXCLUSIVE, PM_SAFETY, Params, resolve_protocol
from checker.prove.robustness import prove_robustness
from checker.run import check

MODELS = Path(__file__).resolve().parent.parent / "models"
PROOF = (MODELS / "bgworker_proof.py").read_text()
CHECKS_RUNNING = "if pg_atomic_read_u32(in_use[slot]) != 0 and running == 0:"


def _scratch(tmp_path, name, model_edit=None, proof=None):
    src = (MODELS / "bgworker.py").read_text().replace('name = "bgworker"', f'name = "{name}"')
    if model_edit:
        assert model_edit[0] in src
        src = src.replace(*model_edit)
    (tmp_path / f"{name.replace('-', '_')}.py").write_text(src)
    text = PROOF.replace("SLOT_RANGE = (1, 8)", "SLOT_RANGE = (1, 2)") if proof is None else proof
    (tmp_path / f"{name.replace('-', '_')}_proof.py").write_text(text)
    path = str(tmp_path / f"{name.replace('-', '_')}.py")
    return path, resolve_protocol(path)


def test_the_shipped_proof_states_its_range():
    assert "SLOT_RANGE = (1, 8)" in PROOF


def test_robustness_is_proved_slot_count_by_slot_count(tmp_path):
    _path, proto = _scratch(tmp_path, "bgw-proved")
    res = prove_robustness(proto, Params(threads=2, slots=2, ops=1), None, witness=False)
    assert res.proved and res.failure is None and res.private_invariant
    assert not res.space.symbolic and res.space.concrete == [1, 2]
    # Why each slot count is proved separately: the private array sized by SLOTS (not a compile error).
    assert res.space.reason == ("its private arrays (pm_running) have one local per slot, so the program's shape "
                                "depends on the slot count")
    assert {o.name for o in res.ops} >= {"reap_children", "handle_signals"}


def test_a_second_fork_fails_the_proof_and_the_search(tmp_path):
    """The scan forks a slot whose worker it already started: the postmaster
    would have two processes for one slot.  Both the prover and the search
    report it as postmaster safety."""
    path, proto = _scratch(tmp_path, "bgw-refork",
                           (CHECKS_RUNNING, "if pg_atomic_read_u32(in_use[slot]) != 0:"))
    res = prove_robustness(proto, Params(threads=2, slots=2, ops=1), None, witness=False)
    assert res.failure is not None and res.failure.prop == PM_SAFETY
    assert "two processes for one slot" in res.failure.message and "start_worker" in res.failure.source
    # A second backend's signal while the first worker runs: the scan forks it
    # again.  (The ghost ownership check sees the rescan first; the search
    # with a rogue checks the postmaster's properties only, the crash among
    # them.)
    _engine, found = check(path, memory_model="sc", threads=3, slots=2, ops=1)
    assert set(found.violations) == {EXCLUSIVE}
    _engine, found = check(path, memory_model="sc", threads=3, slots=2, ops=1, rogue=True, rogue_writes=0)
    assert set(found.violations) == {PM_SAFETY}
    assert "two processes for one slot" in found.violations[PM_SAFETY].message


def test_without_the_stated_relation_a_second_fork_looks_possible(tmp_path):
    """The fork's crash site is checked: with the engine's record of forked
    slots unconstrained, the prover finds a start it cannot rule out."""
    proof = PROOF.replace("SLOT_RANGE = (1, 8)", "SLOT_RANGE = (1, 2)").replace("def postmaster_invariant",
                                                                                "def unused_invariant")
    _path, proto = _scratch(tmp_path, "bgw-unrelated", proof=proof)
    res = prove_robustness(proto, Params(threads=2, slots=2, ops=1), None, witness=False)
    assert res.failure is not None and "two processes for one slot" in res.failure.message
    assert not res.private_invariant


def test_a_wrong_relation_is_refused(tmp_path):
    proof = PROOF.replace("SLOT_RANGE = (1, 8)", "SLOT_RANGE = (1, 2)").replace(
        'v.private(f"$forked[{k}]") == v.private(f"pm_running[{k}]")',
        'v.private(f"$forked[{k}]") == v.private(f"pm_running[{k}]") + 1')
    _path, proto = _scratch(tmp_path, "bgw-wrong", proof=proof)
    res = prove_robustness(proto, Params(threads=2, slots=2, ops=1), None, witness=False)
    assert res.failure is not None and "fails initially" in res.failure.message, res.failure


def _path_by_path(monkeypatch):
    """Robustness proofs without merging: no loop heads to meet at."""
    monkeypatch.setattr(robustness, "_loop_heads", lambda prog: frozenset())


def test_merged_paths_prove_what_path_by_path_proves(tmp_path, monkeypatch):
    """The reaper's loop forks three ways per slot (not running; running and
    exited; running and not exited): 3**slots paths one by one, one path per
    iteration merged.  The verdicts, the path counts it stands for and the
    step bounds are those of the path-by-path search."""
    proof = PROOF.replace("SLOT_RANGE = (1, 8)", "SLOT_RANGE = (1, 4)")
    _path, proto = _scratch(tmp_path, "bgw-merge", proof=proof)
    params = Params(threads=2, slots=2, ops=1)
    merged = {o.name: o for o in prove_robustness(proto, params, None, witness=False).ops}
    _path_by_path(monkeypatch)
    single = {o.name: o for o in prove_robustness(proto, params, None, witness=False).ops}
    assert merged.keys() == single.keys()
    reap, reap1 = merged["reap_children"], single["reap_children"]
    assert reap.proved and reap1.proved
    # For each slot count: 3**slots paths from each of the two resting points
    # that lead into the reaper with unconstrained locals, and one from the
    # program's start (no slot running yet).
    assert reap1.paths == reap1.paths_unmerged_at_most == sum(2 * 3 ** s + 1 for s in range(1, 5))
    assert reap.paths < 20 < reap1.paths
    for name, o in merged.items():
        o1 = single[name]
        assert o.proved == o1.proved and o.max_steps == o1.max_steps, name
        # Here every branch after a merge is feasible for every merged path, so the bound is exact.
        assert o.paths_unmerged_at_most == o1.paths, name


def test_a_failure_found_while_merging_is_the_path_by_path_failure(monkeypatch):
    """Too small a step bound for three slots: the merged search finds the
    reaper's loop too long, and the proof is run again path by path for the
    failure it reports (its values, its slot count)."""
    bgworker = resolve_protocol("bgworker")
    params = Params(threads=2, slots=2, ops=1, step_bound=12)
    found = prove_robustness(bgworker, params, None, witness=False).failure
    _path_by_path(monkeypatch)
    single = prove_robustness(bgworker, params, None, witness=False).failure
    assert found is not None and single is not None
    assert (found.op, found.kind, found.prop, found.message, found.slots) == \
        (single.op, single.kind, single.prop, single.message, single.slots)
    assert found.kind == "steps" and "more than 12 steps" in found.message and found.slots == 3
    assert [r["value"] for r in found.values] == [r["value"] for r in single.values]


def test_a_proof_past_its_path_limit_is_not_a_proof(monkeypatch):
    monkeypatch.setattr(robustness, "MAX_PATHS", 3)
    res = prove_robustness(resolve_protocol("bgworker"), Params(threads=2, slots=2, ops=1), None, witness=False)
    assert not res.proved and res.failure is None and res.exit_code == 3
    assert any(o.incomplete == "more than 3 paths explored" for o in res.ops)
