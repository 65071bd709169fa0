"""checker fences: each barrier removed in the compiled program, under each memory model and profile."""

import json
from pathlib import Path

import pytest

from checker.fence_analysis import Bounds, Check, analyse, run_check
from checker.fences import FenceEdit, Site, apply_edit, barriers, candidates
from checker.model import INTEGRITY, NOTIFY, Params, build_system, resolve_protocol
from checker.run import check

MODELS = Path(__file__).resolve().parent / "models"
REDUNDANT = str(MODELS / "fence_redundant.py")
MISSING = str(MODELS / "fence_missing.py")
RMW_PUBLISH = str(MODELS / "fence_rmw_publish.py")
STORE_BUFFER = str(MODELS / "fence_store_buffer.py")
MESSAGE = "message integrity"
# The ring: one backend, three workers through two slots (both rings wrap).
RING = Bounds(2, 2, 3)
# bgworker: the notify bug needs a second backend to take the slot over.
BGWORKER = Bounds(3, 2, 1)


def _barriers(protocol, bounds):
    system = build_system(resolve_protocol(protocol), Params(threads=bounds.threads, slots=bounds.slots,
                                                              ops=bounds.ops))
    return system, barriers(system)


def _removed(protocol, bounds, site, mm, profile="documented", trace_dir=None):
    return run_check(Check(protocol, bounds, mm, profile, FenceEdit(remove=(site,)), trace_dir))


def _site_of(found, file_end, kind, orders_part):
    hits = [b.site for b in found if b.site.file.endswith(file_end) and b.kind == kind and orders_part in b.orders]
    assert len(hits) == 1, (found, hits)
    return hits[0]


# ---------------------------------------------------------------------------
# The edit is a transformation of the compiled program


@pytest.mark.parametrize("mm", ["sc", "weak"])
def test_removing_a_barrier_is_the_same_program_as_the_mutation_that_leaves_it_out(mm):
    # Same states, same verdict, same counterexample length: the edit turns
    # the fence into a local jump, as the compiler does for the mutation.
    _, found = _barriers("ring", RING)
    site = _site_of(found, "ring.py", "pg_write_barrier", "free_head")
    edited = _removed("ring", RING, site, mm)
    _, res = check("ring", mutation="free-no-write-barrier", memory_model=mm, threads=2, slots=2, ops=3)
    assert edited.states == res.states
    assert edited.violated == bool(res.violations)
    if mm == "weak":
        assert edited.property == INTEGRITY and edited.steps == res.violations[INTEGRITY].length
    else:
        assert edited.holds


def test_every_instruction_keeps_its_source_after_an_insertion():
    system = build_system(resolve_protocol(MISSING), Params(threads=2))
    flag_store = Site("tests/models/fence_missing.py", 21)
    assert flag_store in candidates(system)
    edited = apply_edit(system, FenceEdit(insert=((flag_store, "pg_write_barrier"),)))
    before = [(i.op, i.src.line) for i in system.threads[0].program.instrs]
    after = [(i.op, i.src.line) for i in edited.threads[0].program.instrs]
    k = after.index(("fence", 21))
    assert after[:k] + after[k + 1:] == before and after[k + 1] == ("store", 21)
    assert all(i.pc == n for n, i in enumerate(edited.threads[0].program.instrs))


def test_an_edit_naming_a_site_without_a_barrier_is_refused():
    from checker.model import ModelError

    system = build_system(resolve_protocol(MISSING), Params(threads=2))
    with pytest.raises(ModelError, match="no barrier at"):
        apply_edit(system, FenceEdit(remove=(Site("tests/models/fence_missing.py", 21),)))


# ---------------------------------------------------------------------------
# The ring and bgworker, in both directions


@pytest.mark.slow  # the ring's fence table, which `checker ci` makes and .ci/run checks against docs/fences.md, says it too
def test_ring_message_passing_barriers_are_needed_under_weak_only():
    _, found = _barriers("ring", RING)
    passing = [b for b in found if b.kind in ("pg_read_barrier", "pg_write_barrier")]
    assert len(passing) == 4  # a write and a read barrier for each of the two rings
    for b in passing:
        weak = _removed("ring", RING, b.site, "weak")
        assert weak.violated and weak.property == INTEGRITY and weak.steps > 0, b
        for mm in ("sc", "tso"):
            assert _removed("ring", RING, b.site, mm).holds, (b, mm)


@pytest.mark.slow  # the ring's fence table (checker ci, docs/fences.md) says it too
def test_ring_barrier_kept_for_documentation_is_not_needed_and_says_why():
    _, found = _barriers("ring", RING)
    documented = [b for b in found if b.reason]
    assert len(documented) == 1
    b = documented[0]
    assert b.kind == "pg_memory_barrier" and b.site.file == "models/ring.py"
    assert "RING" in b.reason or "SLOTS" in b.reason
    for mm in ("sc", "tso", "weak"):
        assert _removed("ring", RING, b.site, mm).holds, mm


def test_bgworker_barrier_of_commit_30d8bad494_is_needed_under_weak_only(tmp_path):
    # The full barrier in reap_worker() between reading notify_pid and
    # clearing in_use (the release-no-barrier mutation leaves it out).
    _, found = _barriers("bgworker", BGWORKER)
    site = _site_of(found, "bgworker.py", "pg_memory_barrier", "store in_use")
    weak = _removed("bgworker", BGWORKER, site, "weak", trace_dir=str(tmp_path))
    assert weak.violated and weak.property == NOTIFY
    assert Path(weak.trace).is_file()
    for mm in ("sc", "tso"):
        assert _removed("bgworker", BGWORKER, site, mm).holds, mm


def test_process_events_are_not_barriers_of_the_program():
    # fork(), exit() and kill() order memory as system calls whatever the code
    # does: bgworker's barriers are its three pg_*_barrier()s, the C twin's.
    _, found = _barriers("bgworker", BGWORKER)
    assert sorted(b.kind for b in found) == ["pg_memory_barrier", "pg_read_barrier", "pg_write_barrier"]
    from checker.fence_twin import compare_twin

    twin = compare_twin("bgworker", found)
    assert twin.available and twin.agrees, twin.summary()


# ---------------------------------------------------------------------------
# Test models: a redundant barrier, a missing one


def test_redundant_barrier_is_reported_redundant():
    t = analyse(REDUNDANT, Bounds(2, 1, 1), ["sc", "weak"], ["documented"], twin=False)
    write = Site("tests/models/fence_redundant.py", 25)
    fetch_add = Site("tests/models/fence_redundant.py", 26)  # the fetch-add's implied ordering
    read = Site("tests/models/fence_redundant.py", 34)
    assert [(b.site, b.rmw) for b in t.barriers] == [(write, False), (fetch_add, True), (read, False)]
    # The write barrier and the fetch-add's ordering each make the other
    # redundant; the minimum keeps the fetch-add (deletion tries the write
    # barrier first) and the read barrier.
    assert t.redundant["weak/documented"] == [write, fetch_add]
    assert t.minimal["weak/documented"].barriers == (fetch_add, read) and t.minimal["weak/documented"].minimum
    assert t.results[read]["weak/documented"].needed and not t.results[write]["weak/documented"].needed
    # Under sc nothing is needed: all are redundant and the minimal set is empty.
    assert t.redundant["sc/documented"] == [write, fetch_add, read] and t.minimal["sc/documented"].barriers == ()
    assert t.exit_code == 0


def test_missing_barrier_gets_a_placement():
    t = analyse(MISSING, Bounds(2, 1, 1), ["sc", "weak"], ["documented"], twin=False)
    assert t.baseline_violated == ["weak/documented"] and t.exit_code == 1
    p = t.placement["weak/documented"]
    # Before the flag store (the missing write barrier) and before the data
    # load (the read barrier, removed like every other when placing from scratch).
    assert p.needed and p.minimum and not p.bound_hit
    assert p.fences == (Site("tests/models/fence_missing.py", 21), Site("tests/models/fence_missing.py", 30))
    # Each placed barrier is the weakest kind that does: a write barrier
    # between the producer's stores, a read barrier between the consumer's loads.
    assert [b.prim for b in p.placed] == ["pg_write_barrier", "pg_read_barrier"] and p.weakened
    assert not t.placement["sc/documented"].needed and t.placement["sc/documented"].fences == ()
    assert t.minimal["weak/documented"].barriers is None  # nothing of the model's own keeps every property


def test_full_barrier_in_place_of_a_write_barrier_then_which_weaker_one_suffices(tmp_path):
    # A model whose needed full barrier can be a read barrier: the consumer
    # side of the missing-barrier model with pg_memory_barrier() instead.
    src = Path(MISSING).read_text()
    src = src.replace("pg_read_barrier", "pg_memory_barrier").replace('"test-fence-missing"', '"test-fence-full"')
    src = src.replace("    pg_atomic_write_u32(flag, 1)", "    pg_write_barrier()\n    pg_atomic_write_u32(flag, 1)")
    src = src.replace("import assert_,", "import assert_, pg_write_barrier,")
    model = tmp_path / "fence_full.py"
    model.write_text(src)
    t = analyse(str(model), Bounds(2, 1, 1), ["weak"], ["documented"], twin=False)
    full = [b for b in t.barriers if b.kind == "pg_memory_barrier"]
    assert len(full) == 1
    r = t.results[full[0].site]["weak/documented"]
    assert r.needed and r.weaker == {"pg_read_barrier": True, "pg_write_barrier": False}


# ---------------------------------------------------------------------------
# The command: JSON shape, traces, bounds, workers, bad input


def test_json_has_the_issue_shape_and_traces_that_view_and_recheck_read(checker_cli, tmp_path):
    p = checker_cli("fences", REDUNDANT, "--threads", "2", "-m", "sc,tso,weak", "--profile", "documented,arm64",
                    "--json", "--trace-dir", str(tmp_path / "traces"))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["protocol"] == "test-fence-redundant"
    keys = {"sc/documented", "sc/arm64", "tso/documented", "tso/arm64", "weak/documented", "weak/arm64"}
    for b in doc["barriers"]:
        assert {"file", "line", "kind", "results"} <= set(b)
        assert set(b["results"]) == keys
        for r in b["results"].values():
            assert {"needed", "property", "steps", "trace"} <= set(r)
    assert set(doc["minimal"]) == keys
    read = next(b for b in doc["barriers"] if b["kind"] == "pg_read_barrier")
    r = read["results"]["weak/documented"]
    assert r["needed"] and r["property"] == MESSAGE and r["steps"] > 0
    from checker.recheck import recheck
    from checker.trace import load_trace

    trace = load_trace(r["trace"])
    assert trace["fence_edit"]["remove"] == [f"{read['file']}:{read['line']}"]
    assert "re-checked" in recheck(trace)
    # Without the edit the model cannot take the trace's steps: the record matters.
    del trace["fence_edit"]
    from checker.trace import TraceError

    with pytest.raises(TraceError):
        recheck(trace)
    v = checker_cli("view", r["trace"], "--width", "120")
    assert v.returncode == 0 and MESSAGE in v.stdout


def test_markdown_and_terminal_table(checker_cli):
    p = checker_cli("fences", REDUNDANT, "--threads", "2", "-m", "weak", "--profile", "documented", "--markdown",
                    "--no-twin")
    assert p.returncode == 0, p.stderr
    assert "| barrier | file:line | orders | weak/documented |" in p.stdout
    assert "NEEDED: message integrity" in p.stdout and "redundant given the others" in p.stdout
    p = checker_cli("fences", REDUNDANT, "--threads", "2", "-m", "weak", "--profile", "documented", "--no-twin",
                    "--trace-dir", "tr")
    assert p.returncode == 0 and "barriers of test-fence-redundant" in p.stdout


def test_placement_bound_hit_is_incomplete_never_success(checker_cli):
    p = checker_cli("fences", REDUNDANT, "--threads", "2", "-m", "weak", "--profile", "documented",
                    "--max-placements", "2", "--no-twin", "--trace-dir", "tr")
    assert p.returncode == 3, p.stdout + p.stderr
    assert "INCOMPLETE" in p.stdout and "--max-placements 2" in p.stdout


def test_max_states_cut_is_incomplete(checker_cli):
    p = checker_cli("fences", REDUNDANT, "--threads", "2", "-m", "sc", "--profile", "documented",
                    "--max-states", "3", "--no-twin", "--trace-dir", "tr")
    assert p.returncode == 3, p.stdout + p.stderr
    # The reason given is the one that holds: no placement bound was reached.
    assert "--max-states" in p.stdout and "--max-placements" not in p.stdout, p.stdout


def test_a_model_file_edited_between_two_tables_is_compiled_again(tmp_path):
    # Each process compiles a protocol once for all of a table's checks; a file is known by its text too.
    model = tmp_path / "edited.py"
    model.write_text(Path(REDUNDANT).read_text())
    assert not analyse(str(model), Bounds(2, 1, 1), ["weak"], ["documented"], twin=False).baseline_violated
    model.write_text(Path(MISSING).read_text())
    assert analyse(str(model), Bounds(2, 1, 1), ["weak"], ["documented"], twin=False).baseline_violated


@pytest.mark.slow  # 8-15 s; `checker ci --workers 2` makes every fence table with two workers
def test_workers_give_the_same_table():
    one = analyse(REDUNDANT, Bounds(2, 1, 1), ["sc", "weak"], ["documented"], twin=False, workers=1).as_json()
    two = analyse(REDUNDANT, Bounds(2, 1, 1), ["sc", "weak"], ["documented"], twin=False, workers=2).as_json()
    for d in (one, two):
        for k in ("cpu_seconds", "wall_seconds", "workers"):
            d.pop(k)
    assert one == two


@pytest.mark.parametrize("args, message", [
    (("nosuch",), "unknown protocol"),
    (("ring", "-m", "psO"), "unknown memory model"),
    (("ring", "--profile", "power"), "unknown profile"),
    (("ring", "--workers", "0"), "--workers must be at least 1"),
    (("ring", "-m", "weak", "--profile", "x86-64"), "x86-64 is a TSO machine"),
])
def test_bad_input_is_one_line_exit_2(checker_cli, args, message):
    p = checker_cli("fences", *args)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], p.stderr


# ---------------------------------------------------------------------------
# The C twin


def test_ring_c_twin_barriers_correspond_one_to_one():
    from checker.fence_twin import compare_twin

    _, found = _barriers("ring", RING)
    report = compare_twin("ring", found)
    if not report.available:
        pytest.skip(report.note)
    assert report.agrees, report.summary()
    assert len(report.pairs) == len(found) == len(report.c_barriers)


def test_a_barrier_on_one_side_only_is_reported(tmp_path):
    from checker.fence_twin import compare_twin

    # The ring's model with its free-queue read barrier deleted: C still has it.
    src = (Path(__file__).resolve().parent.parent / "models" / "ring.py").read_text()
    assert src.count("        pg_read_barrier()\n") == 1
    model = tmp_path / "ring.py"
    model.write_text(src.replace("        pg_read_barrier()\n", "        pass\n"))
    system = build_system(resolve_protocol(str(model)), Params(threads=2, slots=2, ops=3))
    report = compare_twin(str(model), barriers(system))
    if not report.available:
        pytest.skip(report.note)
    assert not report.agrees
    assert "a different event" in report.divergence and "C pg_read_barrier()" in report.divergence


@pytest.mark.slow
@pytest.mark.ci_job_computes  # .ci/run checks the docs from checker ci's tables (fence_docs --check-from)
def test_docs_fence_tables_are_not_stale():
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, "-m", "checker.fence_docs", "--check", "--workers", "2"], cwd=root,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.slow  # every protocol's table: over 20 CPU s
def test_ci_writes_each_protocols_fence_table_as_an_artifact(tmp_path):
    from checker.ci_cmd import run_ci

    rows, _notes = run_ci([REDUNDANT, MISSING], {"explore", "mutations", "proofs", "litmus"},
                          fences_dir=tmp_path / "fences")
    by_name = {r.name: r for r in rows}
    assert by_name["test-fence-redundant fence table"].ok
    # The missing barrier breaks the protocol as written: the row fails.
    missing = by_name["test-fence-missing fence table"]
    assert not missing.ok and missing.outcome.startswith("violated as written")
    doc = json.loads((tmp_path / "fences" / "test-fence-redundant.json").read_text())
    assert doc["protocol"] == "test-fence-redundant" and doc["complete"]
    assert "| barrier | file:line |" in (tmp_path / "fences" / "test-fence-redundant.md").read_text()
    # What fence_docs --check-from reads: the docs' section (no timings) and the README's row.
    from checker.fence_docs import DOC_SECTION, README_ROW

    section = (tmp_path / "fences" / f"test-fence-redundant{DOC_SECTION}").read_text()
    assert section.startswith("### test-fence-redundant\n") and "CPU seconds" not in section
    assert (tmp_path / "fences" / f"test-fence-redundant{README_ROW}").read_text().startswith("| test-fence-redundant |")


@pytest.mark.parametrize("edit", ["remove", "replace"])
def test_replay_runs_a_trace_of_an_edited_program_against_the_unedited_c(tmp_path, edit):
    # C still has the barrier the trace's program lost (or has a stronger
    # one): replay steps over it, says so, and checks every other event.
    from checker.replay import replay_file

    _, found = _barriers("bgworker", BGWORKER)
    site = _site_of(found, "bgworker.py", "pg_memory_barrier", "store in_use")
    fence_edit = FenceEdit(remove=(site,)) if edit == "remove" else FenceEdit(replace=((site, "pg_write_barrier"),))
    o = run_check(Check("bgworker", BGWORKER, "weak", "documented", fence_edit, str(tmp_path)))
    assert o.violated and o.property == NOTIFY
    try:
        report = replay_file(o.trace)
    except Exception as exc:  # no C compiler here
        pytest.skip(f"the C replay build is not available: {exc}")
    assert report.ok, report.lines()
    if edit == "remove":
        assert any("the trace's program had removed (pg_memory_barrier()" in n for n in report.notes), report.notes
        # Only the removed barrier is stepped over: C without another barrier still diverges.
        assert not replay_file(o.trace, c_mutation="register-no-write-barrier").ok


@pytest.mark.slow  # 10-14 s; the default run keeps a needed and a redundant barrier
def test_a_barrier_store_is_needed_under_tso_and_weak_not_sc():
    # pg_atomic_write_membarrier_u32 removed becomes a plain store: store
    # buffering lets both sides read the other's flag as 0.
    model = str(MODELS / "fence_store_buffer.py")
    t = analyse(model, Bounds(2, 1, 1), ["sc", "tso", "weak"], ["documented"], twin=False)
    assert [b.kind for b in t.barriers] == ["pg_atomic_write_membarrier_u32"] * 2
    assert t.barriers[0].orders == "store flag_a -> load flag_b"
    for b in t.barriers:
        assert not t.results[b.site]["sc/documented"].needed
        for k in ("tso/documented", "weak/documented"):
            r = t.results[b.site][k]
            assert r.needed and r.property == "mutual exclusion", (b, k)
    assert t.exit_code == 0


# ---------------------------------------------------------------------------
# An atomic's implied ordering, taken away at one site


def test_an_rmws_implied_ordering_is_needed_under_weak_only_and_another_is_not(checker_cli, tmp_path):
    # The exchange that raises the flag is the producer's only ordering; the
    # consumer's fetch-add on a private statistic orders nothing it needs.
    p = checker_cli("fences", RMW_PUBLISH, "--threads", "2", "-m", "sc,tso,weak", "--profile", "documented,arm64",
                    "--json", "--no-twin", "--trace-dir", str(tmp_path / "traces"))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rows = {b["kind"]: b for b in doc["barriers"]}
    exchange, fetch_add = rows["pg_atomic_exchange_u32"], rows["pg_atomic_fetch_add_u32"]
    assert exchange["implied_by_atomic"] and "not expressible in C" in exchange["c_replay"]
    for key in ("weak/documented", "weak/arm64"):  # arm64: the exchange's release half is what is lost
        r = exchange["results"][key]
        assert r["needed"] and r["property"] == MESSAGE and r["steps"] > 0, key
        assert not fetch_add["results"][key]["needed"], key
    for key in ("sc/documented", "sc/arm64", "tso/documented", "tso/arm64"):
        assert not exchange["results"][key]["needed"] and not fetch_add["results"][key]["needed"], key
    site = f"{exchange['file']}:{exchange['line']}"
    assert site in doc["minimal"]["weak/documented"]
    assert f"{fetch_add['file']}:{fetch_add['line']}" in doc["redundant"]["weak/documented"]
    # The trace records the relaxed atomic: view and the re-check rebuild that program.
    from checker.recheck import recheck
    from checker.trace import TraceError, load_trace

    trace = load_trace(exchange["results"]["weak/documented"]["trace"])
    assert trace["fence_edit"]["relax"] == [site] and trace["fence_edit"]["remove"] == []
    assert "re-checked" in recheck(trace)
    del trace["fence_edit"]
    with pytest.raises(TraceError):
        recheck(trace)
    v = checker_cli("view", exchange["results"]["weak/documented"]["trace"], "--width", "120")
    assert v.returncode == 0 and MESSAGE in v.stdout


def test_relaxing_is_only_for_atomics_of_the_program():
    from checker.fences import rmw_orderings
    from checker.model import ModelError

    system = build_system(resolve_protocol(RMW_PUBLISH), Params(threads=2))
    assert [b.kind for b in rmw_orderings(system)] == ["pg_atomic_exchange_u32", "pg_atomic_fetch_add_u32"]
    with pytest.raises(ModelError, match="no atomic read-modify-write at"):
        apply_edit(system, FenceEdit(relax=(Site("tests/models/fence_rmw_publish.py", 40),)))
    # A system call the model treats as an RMW (waitpid's read-and-clear) is not an atomic to relax.
    bg = build_system(resolve_protocol("bgworker"), Params(threads=3, slots=2, ops=1))
    assert rmw_orderings(bg) == []


SAME_WORD = """
from checker.lang import assert_, ghost, pg_atomic_exchange_u32, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Protocol

data = 0
flag = 0


def produce():
    pg_atomic_write_u32(data, 42)
    pg_atomic_write_u32(flag, 7)
    old = pg_atomic_exchange_u32(flag, 1)
    with ghost:
        assert_(old == 7, "own word", "the exchange passed the store to its own word")


def consume():
    pg_atomic_read_u32(flag)


class SameWord(Protocol):
    name = "test-fence-rmw-same-word"
    summary = "a relaxed exchange after a store to its own word"
    roles = {"postmaster": produce, "backend": consume}
    properties = ("own word",)

    def declare(self, p, d):
        d.word("data", 0)
        d.word("flag", 0)
"""


def test_a_relaxed_rmw_still_orders_its_own_word(tmp_path):
    # Relaxed, the exchange may pass a store to another word (the test
    # above), never one to its own word: coherence.  A producer that stores
    # the flag and then exchanges it always gets its own store back.
    model = tmp_path / "fence_rmw_same_word.py"
    model.write_text(SAME_WORD)
    site = next(b.site for b in rmw_orderings_of(str(model)) if b.kind == "pg_atomic_exchange_u32")
    relaxed = run_check(Check(str(model), Bounds(2, 1, 1), "weak", "documented", FenceEdit(relax=(site,))))
    assert relaxed.holds, relaxed


def rmw_orderings_of(model):
    from checker.fences import rmw_orderings

    return rmw_orderings(build_system(resolve_protocol(model), Params(threads=2)))


def test_replay_of_a_trace_with_relaxed_atomics_says_c_cannot_relax_them(tmp_path):
    # caslist's compare-exchanges relaxed (with a start-queue barrier removed,
    # so that there is a counterexample to replay): C's atomics are full.
    from checker.replay import replay_file

    edit = FenceEdit(remove=(Site("models/_startqueue.py", 92),),
                     relax=(Site("models/caslist.py", 48), Site("models/caslist.py", 76)))
    o = run_check(Check("caslist", Bounds(3, 2, 1, window=2), "weak", "documented", edit, str(tmp_path)))
    assert o.violated and load_json(o.trace)["fence_edit"]["relax"] == ["models/caslist.py:48", "models/caslist.py:76"]
    try:
        report = replay_file(o.trace)
    except Exception as exc:  # no C compiler here
        pytest.skip(f"the C replay build is not available: {exc}")
    assert report.ok, report.lines()
    assert any("relaxed; C's are full atomics" in n for n in report.notes), report.notes


def load_json(path):
    return json.loads(Path(path).read_text())


# ---------------------------------------------------------------------------
# Placement from scratch: the weakest kind that suffices


@pytest.mark.slow  # 10-14 s; the default run keeps test_missing_barrier_gets_a_placement
def test_placement_needing_full_barriers_reports_full_ones():
    # Store buffering: only a full barrier orders a store before a later
    # load, under tso and weak alike; a read or write barrier never does.
    t = analyse(STORE_BUFFER, Bounds(2, 1, 1), ["sc", "tso", "weak"], ["documented"], twin=False)
    assert not t.placement["sc/documented"].needed
    for key in ("tso/documented", "weak/documented"):
        p = t.placement[key]
        assert p.needed and p.minimum and p.weakened and not p.bound_hit, key
        assert p.fences == (Site("tests/models/fence_store_buffer.py", 22), Site("tests/models/fence_store_buffer.py", 31))
        assert [b.prim for b in p.placed] == ["pg_memory_barrier"] * 2, key
    doc = t.as_json()["placement"]["weak/documented"]
    assert doc["barriers"] == [{"before": "tests/models/fence_store_buffer.py:22", "prim": "pg_memory_barrier"},
                               {"before": "tests/models/fence_store_buffer.py:31", "prim": "pg_memory_barrier"}]


def test_placement_markdown_names_the_kind(checker_cli):
    p = checker_cli("fences", MISSING, "--threads", "2", "-m", "weak", "--profile", "documented", "--markdown",
                    "--no-twin", "--trace-dir", "tr")
    assert p.returncode == 1, p.stdout + p.stderr  # broken as written
    assert ("placement from scratch, weak/documented: 2 barriers (minimum): pg_write_barrier() before "
            "tests/models/fence_missing.py:21, pg_read_barrier() before tests/models/fence_missing.py:30") in p.stdout


def test_placement_weakening_counts_against_the_bound():
    # 7 checks place and weaken both barriers; with 5 the places are found
    # (and shown minimum) but not every weaker kind was tried: incomplete.
    full = analyse(MISSING, Bounds(2, 1, 1), ["weak"], ["documented"], twin=False, max_placements=7)
    assert full.placement["weak/documented"].checks == 7 and not full.incomplete
    cut = analyse(MISSING, Bounds(2, 1, 1), ["weak"], ["documented"], twin=False, max_placements=5)
    p = cut.placement["weak/documented"]
    assert p.bound_hit and not p.weakened and p.fences == full.placement["weak/documented"].fences
    assert "weaker kinds were not all checked within --max-placements 5" in p.note
    assert cut.incomplete == ["placement search stopped at --max-placements 5 (weak/documented)"]
