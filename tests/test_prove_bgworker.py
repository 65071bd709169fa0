"""checker prove bgworker: the postmaster's robustness, with its private list of workers.

bgworker's postmaster keeps the workers it started in a private array and
forks, reaps and takes a signal (models/bgworker.py).  The robustness prover
executes its program with every element of that array a private local, its
kernel and signal reads unconstrained, and the crash sites the compiler puts
in (a second fork of a slot, an index past the array) as failures.  The
shipped proof covers 1 <= slots <= 8, each separately (about two CPU
minutes: docs/proofs.md); these tests use a scratch copy limited to
1 <= slots <= 2 and check both directions.
"""

from pathlib import Path

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
