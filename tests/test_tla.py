"""The TLA+ specs in models/tla: they parse, the manifest covers them, and they
say the same thing as the Python models (same distinct-state counts, same
failing properties)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tla  # the TLA+ parser, in the test extra: a missing one must fail, not skip

from checker.run import check
from checker.tla import Config, TlaError, explore_tla
from checker.tla.manifest import checker_params

TLA_DIR = Path(__file__).resolve().parent.parent / "models" / "tla"
MANIFEST = json.loads((TLA_DIR / "manifest.json").read_text())
ENTRIES = MANIFEST["configs"]
ids = [e["config"] for e in ENTRIES]


# -- syntax and bookkeeping ---------------------------------------------------


@pytest.mark.parametrize("path", sorted(TLA_DIR.glob("*.tla")), ids=lambda p: p.name)
def test_every_module_parses(path, capsys):
    tree = tla.parse(path.read_text())
    assert tree is not None and tree.name == path.stem


def test_the_parser_rejects_a_broken_module(capsys):
    text = (TLA_DIR / "Ring.tla").read_text().replace("Sub(a, b) == (a - b) % WordModulus",
                                                       "Sub(a, b) == (a - b % WordModulus")
    with pytest.raises(ValueError):
        tla.parse(text)


def test_manifest_lists_every_cfg_and_nothing_else():
    on_disk = {p.name for p in TLA_DIR.glob("*.cfg")}
    assert on_disk == set(ids)
    assert len(ids) == len(set(ids))
    assert MANIFEST["tlc_run"] is False  # README says so too; flip both when TLC runs
    for e in ENTRIES:
        assert (TLA_DIR / e["module"]).is_file()


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_cfg_binds_the_constants_the_manifest_records(entry):
    cfg = Config(TLA_DIR / entry["config"])
    bound = {k: v for k, (kind, v) in cfg.constants.items() if kind == "value"}
    assert bound == entry["constants"]
    assert cfg.specification == "Spec"
    expected = entry["expected"]
    if expected == "holds":
        assert "PostmasterProgress" in cfg.properties
    else:
        assert expected["fails"] in cfg.invariants


def test_every_sc_bug_of_a_specified_protocol_has_a_failing_config():
    from checker.model import resolve_protocol

    for proto in {e["protocol"] for e in ENTRIES}:
        cls = resolve_protocol(proto)
        sc_bugs = {m for m, spec in cls.mutations.items() if "sc" in spec.bug_under and not spec.needs_rogue}
        specified = {e["constants"].get("Mutation", "none") for e in ENTRIES if e["protocol"] == proto}
        assert sc_bugs <= specified, f"{proto}: no failing config for {sorted(sc_bugs - specified)}"


# -- the checker agrees with the manifest ---------------------------------------


@pytest.mark.parametrize("entry", ENTRIES, ids=ids)
def test_checker_counts_and_verdicts_match_the_manifest(entry):
    _, result = check(entry["protocol"], memory_model="sc", **checker_params(entry))
    assert result.states == entry["distinct_states"]
    if entry["expected"] == "holds":
        assert result.complete and not result.violations
    else:
        prop = entry["expected"]["checker_property"]
        assert list(result.violations) == [prop]
        # How the checker found it decides how the spec's count compares.
        found_by = "assertion" if result.violations[prop].final_label is not None else "quiescent check"
        assert entry["expected"]["found_by"] == found_by


# -- the spec itself has the same state space -----------------------------------


# Specs whose state space takes more than ~2 s to enumerate (run by .ci/run's slow step).
SLOW_SPECS = {"MCDlistRefillKeepsFlag.cfg", "MCCaslistNoTag.cfg", "MCChangequeueTwoSlots.cfg",
              "MCChangequeueNoGenerationCheck.cfg", "MCChangequeueFixedTwoBackends.cfg",
              "MCDsmhandleOneGenerationBit.cfg", "MCDsmhandleNoGeneration.cfg",
              "MCChangequeueFixedNoQueuedFlag.cfg", "MCChangequeueOverflow.cfg",
              "MCChangequeueOverflowProduction.cfg", "MCCaslistTwoBackends.cfg", "MCBgworkerTwoBackends.cfg",
              "MCDsmhandleAttachMoribund.cfg", "MCDlistTwoBackends.cfg"}


@pytest.mark.parametrize("entry", [pytest.param(e, id=e["config"],
                                                marks=[pytest.mark.slow] if e["config"] in SLOW_SPECS else [])
                                   for e in ENTRIES if e["tla_states_in_tests"]])
def test_spec_state_space_matches(entry):
    out = explore_tla(TLA_DIR / entry["module"], TLA_DIR / entry["config"])
    assert out.states == entry["tla_states"]
    assert out.depth == entry["tla_depth"]  # docs/tla.md's table shows it (checker.docs_tables.tla_configs)
    if entry["expected"] == "holds":
        assert out.complete and out.violated is None
        assert out.states == entry["distinct_states"]
        assert out.properties_checked == ["PostmasterProgress"]
    else:
        assert out.violated == entry["expected"]["fails"]
        # Both stop once the state whose successor fails is expanded.  The
        # spec keeps the state a failed assertion leads to, the checker does
        # not; a failed quiescent check is a state in both.
        kept = 1 if entry["expected"]["found_by"] == "assertion" else 0
        assert out.states == entry["distinct_states"] + kept


def _variant_cfg(invariants, slots=2, backends=1, ops=2) -> str:
    return (f"CONSTANTS\n    SLOTS = {slots}\n    BACKENDS = {backends}\n    OPS = {ops}\n    StepBound = 64\n"
            f"    Mutation = \"none\"\n    WordModulus <- MCWordModulus\n"
            f"SPECIFICATION Spec\nINVARIANTS\n    " + "\n    ".join(invariants) + "\n")


def _explore_variant(tmp_path, ring_text, cfg_text):
    shutil.copy(TLA_DIR / "MCRing.tla", tmp_path / "MCRing.tla")
    (tmp_path / "Ring.tla").write_text(ring_text)
    (tmp_path / "Variant.cfg").write_text(cfg_text)
    return explore_tla(tmp_path / "MCRing.tla", tmp_path / "Variant.cfg")


def test_the_count_comparison_can_fail(tmp_path):
    """Keeping a dead local (the slot the postmaster last started) splits
    states that the checker merges: the counts must then differ."""
    spec = (TLA_DIR / "Ring.tla").read_text()
    old = """EndStart ==\n    /\\ PmGoto("choose_exit")\n    /\\ pm_slot' = 0 /\\ pm_steps' = 0"""
    assert old in spec
    kept = spec.replace(old, """EndStart ==\n    /\\ PmGoto("choose_exit")\n    /\\ pm_steps' = 0\n"""
                             """    /\\ UNCHANGED pm_slot""")
    cfg = _variant_cfg(["TypeOK"])
    _, result = check("ring", memory_model="sc", threads=2, slots=2, ops=2)
    assert _explore_variant(tmp_path, spec, cfg).states == result.states
    out = _explore_variant(tmp_path, kept, cfg)
    assert out.complete and out.states > result.states


@pytest.mark.parametrize("invariant, old, new", [
    # Slot 0 twice in the free queue, slot 1 nowhere.
    ("Conservation", "/\\ free_ring = [i \\in RingIdx |-> IF i < SLOTS THEN i ELSE 0]",
     "/\\ free_ring = [i \\in RingIdx |-> 0]"),
    # Backends queue slot numbers past the last slot, and the postmaster
    # does not range-check what it reads.
    ("PostmasterSafety", "/\\ IF pm_slot >= SLOTS \\/ pm_slot \\in pm_running\n         THEN /\\ EndStart",
     "/\\ IF FALSE\n         THEN /\\ EndStart"),
])
def test_other_invariants_can_fail(tmp_path, invariant, old, new):
    spec = (TLA_DIR / "Ring.tla").read_text()
    assert old in spec
    variant = spec.replace(old, new)
    if invariant == "PostmasterSafety":
        bad_entry = "/\\ start_ring' = [start_ring EXCEPT ![i] = slot[b]]"
        assert bad_entry in variant
        variant = variant.replace(bad_entry, "/\\ start_ring' = [start_ring EXCEPT ![i] = slot[b] + SLOTS]")
    assert _explore_variant(tmp_path, spec, _variant_cfg([invariant])).violated is None
    assert _explore_variant(tmp_path, variant, _variant_cfg([invariant])).violated == invariant


def test_postmaster_progress_can_fail(tmp_path):
    """A postmaster that, finding the start queue empty, goes round inside
    start_queued_worker() instead of returning never finishes it."""
    spec = (TLA_DIR / "Ring.tla").read_text()
    empty = """       IF queued = 0 \\/ queued > RING
         THEN EndStart"""
    barrier = """    /\\ pc[Postmaster] = "start_read_barrier"
    /\\ PmGoto("read_start_entry")
    /\\ Step"""
    assert empty in spec and barrier in spec
    spinning = spec.replace(empty, """       IF queued = 0 \\/ queued > RING
         THEN /\\ PmGoto("start_read_barrier")
              /\\ Step
              /\\ UNCHANGED pm_slot""").replace(barrier, """    /\\ pc[Postmaster] = "start_read_barrier"
    /\\ IF Sub(start_head, pm_start_tail) = 0
         THEN PmGoto("read_start_head") /\\ pm_steps' = 0
         ELSE PmGoto("read_start_entry") /\\ Step""")
    cfg = _variant_cfg([], slots=1, backends=1, ops=1).replace("INVARIANTS\n    \n", "") + "PROPERTY PostmasterProgress\n"
    held = _explore_variant(tmp_path, spec, cfg)
    assert held.complete and held.properties_checked == ["PostmasterProgress"]
    out = _explore_variant(tmp_path, spinning, cfg)
    assert out.violated == "PostmasterProgress" and out.properties_failed == ["PostmasterProgress"]


def test_notify_integrity_can_fail(tmp_path):
    """Signal the pid found in the slot after in_use was cleared, not the one
    read before: a backend that reuses the slot in between gets the signal."""
    spec = (TLA_DIR / "Bgworker.tla").read_text()
    old = """    /\\ signalled' = pm_pid
    /\\ failed' = failed \\cup Check(pm_pid = run_by[pm_slot], "NotifyIntegrity")"""
    assert old in spec
    late = spec.replace(old, """    /\\ signalled' = notify_pid[pm_slot]
    /\\ failed' = failed \\cup Check(notify_pid[pm_slot] = run_by[pm_slot], "NotifyIntegrity")""")
    shutil.copy(TLA_DIR / "MCBgworker.tla", tmp_path / "MCBgworker.tla")
    (tmp_path / "Variant.cfg").write_text(
        "CONSTANTS\n    SLOTS = 1\n    BACKENDS = 2\n    OPS = 1\n    StepBound = 64\n"
        "    WordModulus <- MCWordModulus\nSPECIFICATION Spec\nINVARIANT NotifyIntegrity\n")
    for text, verdict in ((spec, None), (late, "NotifyIntegrity")):
        (tmp_path / "Bgworker.tla").write_text(text)
        assert explore_tla(tmp_path / "MCBgworker.tla", tmp_path / "Variant.cfg").violated == verdict


@pytest.mark.parametrize("invariant, old, new", [
    # The reaped worker's slot is given back to nobody: in_use stays set.
    ("Conservation", "Forget(s) ==\n    /\\ in_use' = [in_use EXCEPT ![s] = 0]\n",
     "Forget(s) ==\n    /\\ in_use' = in_use\n"),
    # The worker description is not copied into the slot.
    ("QueueIntegrity", "/\\ worker' = [worker EXCEPT ![slot[b]] = b]",
     "/\\ worker' = [worker EXCEPT ![slot[b]] = 0]"),
    # The postmaster ignores its RegisteredBgWorker list: the terminate
    # entry of a registered worker reads as a registration to free.
    ("ExclusiveOwnership", "PmGoto(IF pm_slot \\in pm_registered THEN",
     "PmGoto(IF FALSE THEN"),
    # TerminateBackgroundWorker sets terminate but asks for no entry.
    ("TerminateDelivered", "/\\ Goto(b, StartChange(TermCopy))", "/\\ Goto(b, \"term_unlock\")"),
])
def test_changequeue_invariants_can_fail(tmp_path, invariant, old, new):
    """Each invariant of Changequeue.tla that no manifest config breaks
    fails on a spec with a plausible mistake (test_spec_state_space_matches
    shows it holds on MCChangequeueFixedSmall.cfg, with the same constants)."""
    spec = (TLA_DIR / "Changequeue.tla").read_text()
    assert old in spec
    (tmp_path / "Changequeue.tla").write_text(spec.replace(old, new))
    shutil.copy(TLA_DIR / "MCChangequeue.tla", tmp_path / "MCChangequeue.tla")
    cfg = (TLA_DIR / "MCChangequeueFixedSmall.cfg").read_text()
    head, _invariants = cfg.split("INVARIANTS")
    (tmp_path / "Variant.cfg").write_text(f"{head}INVARIANT {invariant}\n")
    assert explore_tla(tmp_path / "MCChangequeue.tla", tmp_path / "Variant.cfg").violated == invariant


# -- the command -------------------------------------------------------------------


def test_cli_reports_the_count_and_a_violation(checker_cli):
    ok = checker_cli("tla-states", TLA_DIR / "MCRing.tla", "--config", TLA_DIR / "MCRingSmall.cfg")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "58 distinct states" in ok.stdout
    bad = checker_cli("tla-states", TLA_DIR / "MCRing.tla", "--config", TLA_DIR / "MCRingNoLock.cfg")
    assert bad.returncode == 1
    assert "ExclusiveOwnership is violated" in bad.stdout
    cut = checker_cli("tla-states", TLA_DIR / "MCRing.tla", "--config", TLA_DIR / "MCRingSmall.cfg",
                      "--max-states", "10")
    assert cut.returncode == 3


@pytest.mark.parametrize("setup, message", [
    ("missing", "cannot read"),
    ("syntax", "syntax error"),
    ("unbound", "is not bound"),
    ("empty", "syntax error"),
    ("binary", "not a text file"),
    ("cfg", "incomplete constant binding"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, checker_cli, setup, message):
    for name in ("Ring.tla", "MCRing.tla", "MCRingSmall.cfg"):
        shutil.copy(TLA_DIR / name, tmp_path / name)
    module, cfg = tmp_path / "MCRing.tla", tmp_path / "MCRingSmall.cfg"
    if setup == "missing":
        module = tmp_path / "Nope.tla"
    elif setup == "syntax":
        (tmp_path / "Ring.tla").write_text((TLA_DIR / "Ring.tla").read_text().replace("Init ==", "Init == ("))
    elif setup == "unbound":
        cfg.write_text(cfg.read_text().replace("    OPS = 1\n", ""))
    elif setup == "empty":
        module.write_text("")
    elif setup == "binary":
        module.write_bytes(bytes(range(256)))
    else:
        cfg.write_text("CONSTANTS\n    SLOTS =\n")
    result = checker_cli("tla-states", module, "--config", cfg)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_name_that_a_standard_module_defines_is_refused(tmp_path):
    """MC modules extend TLC, which defines Assert: SANY would reject a spec
    that defines it again, and so does tla-states."""
    spec = (TLA_DIR / "Ring.tla").read_text()
    assert "Check(cond, prop) ==" in spec
    (tmp_path / "Ring.tla").write_text(spec.replace("Check(", "Assert("))
    for name in ("MCRing.tla", "MCRingSmall.cfg"):
        shutil.copy(TLA_DIR / name, tmp_path / name)
    with pytest.raises(TlaError, match="Assert is also defined by the standard module TLC"):
        explore_tla(tmp_path / "MCRing.tla", tmp_path / "MCRingSmall.cfg")


@pytest.mark.parametrize("change, message", [
    # Registered moved below its first use.
    ("move", "Registered is used before its definition"),
    # A parameter named like a variable.
    ("shadow", "tail is bound here but already defined"),
])
def test_scoping_errors_sany_would_report_are_refused(tmp_path, change, message):
    spec = (TLA_DIR / "Ring.tla").read_text()
    if change == "move":
        start = spec.index("\\* register_worker() returned `result`")
        end = spec.index("\\* LWLockAcquire(FreeQueueLock): waits")
        rest = spec[:start] + spec[end:]
        at = rest.index("Backend(b) ==")
        variant = rest[:at] + spec[start:end] + rest[at:]
    else:
        old = "Count(ring, h, t, s) ==\n    Cardinality({k \\in 0..(Length(h, t) - 1) : ring[Add(t, k) % RING] = s})"
        assert old in spec
        variant = spec.replace(old, "Count(ring, h, tail, s) ==\n"
                                    "    Cardinality({k \\in 0..(Length(h, tail) - 1) : ring[Add(tail, k) % RING] = s})")
    (tmp_path / "Ring.tla").write_text(variant)
    for name in ("MCRing.tla", "MCRingSmall.cfg"):
        shutil.copy(TLA_DIR / name, tmp_path / name)
    with pytest.raises(TlaError, match=message):
        explore_tla(tmp_path / "MCRing.tla", tmp_path / "MCRingSmall.cfg")


def test_unsupported_constructs_are_refused(tmp_path):
    (tmp_path / "M.tla").write_text("---- MODULE M ----\nEXTENDS Naturals\nVARIABLE x\n"
                                    "Init == x \\in Nat\nNext == x' = x + 1\nSpec == Init /\\ [][Next]_x\n====\n")
    (tmp_path / "M.cfg").write_text("SPECIFICATION Spec\n")
    with pytest.raises(TlaError):
        explore_tla(tmp_path / "M.tla")
