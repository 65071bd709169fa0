"""The result tables in docs/ are the tool's output: each is regenerated and compared with the file."""

import os
import re
import shutil

import pytest
from click.testing import CliRunner

from checker import docs_tables
from checker.docs_tables import TABLES, DocsTableError, find_table, is_stale, regenerate

DOCS = docs_tables.DOCS


def test_every_marker_has_a_table_and_every_table_its_marker():
    marked = set()
    for path in [*DOCS.glob("*.md"), docs_tables.ROOT / "README.md"]:
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"<!-- generated: ([\w-]+)", text):
            marked.add((name, path.name))
        assert text.count("<!-- generated:") == text.count(docs_tables.END), path.name
    assert marked == {(t.name, t.doc) for t in TABLES}
    for t in TABLES:
        find_table(t.path.read_text(encoding="utf-8"), t.name, t.doc)


@pytest.mark.parametrize("spec", [t for t in TABLES if not t.slow], ids=lambda t: t.name)
def test_cheap_tables_are_current(spec):
    old, new = regenerate(spec)
    assert not is_stale(spec, old, new), f"{spec.shown}: run python -m checker.docs_tables --only {spec.name}"


@pytest.mark.slow
@pytest.mark.parametrize("spec", [
    # .ci/run checks the tables checker ci computes from its rows instead (docs_tables --from-ci).
    pytest.param(t, marks=[pytest.mark.ci_job_computes] if t.from_ci else []) for t in TABLES if t.slow and t.tested],
    ids=lambda t: t.name)
def test_expensive_tables_are_current(spec):
    old, new = regenerate(spec)
    assert not is_stale(spec, old, new), f"{spec.shown}: run python -m checker.docs_tables --only {spec.name}"


def test_a_changed_cell_is_stale_and_a_changed_measurement_is_not():
    spec = next(t for t in TABLES if t.name == "compare-sc")
    table = ("| protocol | states | time |\n|---|---|---|\n"
             "| ring | 39,052 | 0.9s |\n")
    assert not is_stale(spec, table, table.replace("0.9s", "1.4s"))
    assert is_stale(spec, table, table.replace("39,052", "39,053"))
    assert is_stale(spec, table, table + "| bitmap | 16,950 | 0.3s |\n")


def test_check_fails_on_a_stale_table_and_regenerating_fixes_it(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    shutil.copytree(DOCS, docs)
    monkeypatch.setattr(docs_tables, "DOCS", docs)
    monkeypatch.setattr(docs_tables, "ROOT", tmp_path)
    path = docs / "protocols.md"
    text = path.read_text(encoding="utf-8")
    assert "| `no-lock` | backends skip FreeQueueLock" in text
    path.write_text(text.replace("| `no-lock` | backends skip FreeQueueLock", "| `no-lock` | backends skip a lock"),
                    encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(docs_tables.main, ["--check", "--only", "ring-mutations"])
    assert res.exit_code == 1 and "ring-mutations: STALE" in res.output
    res = runner.invoke(docs_tables.main, ["--only", "ring-mutations"])
    assert res.exit_code == 0 and "rewritten" in res.output
    assert path.read_text(encoding="utf-8") == text
    res = runner.invoke(docs_tables.main, ["--check", "--only", "ring-mutations"])
    assert res.exit_code == 0 and "ring-mutations: current" in res.output


def test_a_missing_marker_is_one_line(tmp_path, monkeypatch):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "protocols.md").write_text("# nothing generated here\n", encoding="utf-8")
    monkeypatch.setattr(docs_tables, "DOCS", docs)
    monkeypatch.setattr(docs_tables, "ROOT", tmp_path)
    with pytest.raises(DocsTableError, match="no '<!-- generated: ring-mutations"):
        regenerate(next(t for t in TABLES if t.name == "ring-mutations"))
    res = CliRunner().invoke(docs_tables.main, ["--check", "--only", "ring-mutations"])
    assert res.exit_code == 2


@pytest.mark.parametrize("name", ["bad-input-models", "bad-input-files"])
def test_every_bad_input_row_is_one_error_line_and_exit_2(name):
    """The generated rows hold the project's rule, so a regeneration that breaks it is seen here."""
    found = find_table((DOCS / "bad-input.md").read_text(encoding="utf-8"), name, "bad-input.md")
    assert len(found.rows) >= 15
    for what, cells in found.rows.items():
        message, code = cells[-2].strip("` "), cells[-1]
        assert message.startswith("checker: error:"), (what, message)
        # An unwritable --trace-out still reports the verdict (1): the search itself ran.
        assert code == ("1" if "--trace-out" in what else "2"), (what, code)


def test_a_caption_is_not_a_row_but_a_changed_count_under_it_is_stale():
    spec = next(t for t in TABLES if t.name == "bench-quick")
    table = ("`checker bench ...`, on a CPU, 2 cores, load average 5.0:\n\n"
             "| instance | states | CPU s |\n|---|---|---|\n| ring-t3-sc | 39,052 | 0.26 |\n")
    assert not is_stale(spec, table, table.replace("load average 5.0", "load average 9.1").replace("0.26", "0.4"))
    assert is_stale(spec, table, table.replace("39,052", "39,053"))
    assert find_table("<!-- generated: bench-quick -->\n" + table + docs_tables.END, "bench-quick",
                      "x").rows["ring-t3-sc"][1] == "39,052"


def test_the_tables_no_test_runs_are_few_and_say_so():
    """Only measurements of minutes (and the kernel's tests, not in this repository; SPIN and Rumur,
    which tests/test_bench_peers.py runs at a small size) stay out of the default and slow runs; the command still regenerates them, and --list says so."""
    untested = {t.name for t in TABLES if not t.tested}
    assert untested == {"bench", "tla-default-configs", "weak-default-cost", "z3-budget", "bench-c",
                        "bench-c-versus-linear", "bench-c-single", "kernel-litmus", "peers"}
    assert all(t.slow and "in no test" in t.about for t in TABLES if not t.tested)


@pytest.mark.skipif(not os.environ.get(docs_tables.KERNEL_LITMUS_ENV),
                    reason=f"{docs_tables.KERNEL_LITMUS_ENV} names no kernel litmus-tests directory")
def test_kernel_litmus_table_is_current():
    spec = next(t for t in TABLES if t.name == "kernel-litmus")
    old, new = regenerate(spec)
    assert not is_stale(spec, old, new), f"{spec.shown}: run python -m checker.docs_tables --only {spec.name}"


def test_kernel_litmus_table_without_its_directory_is_one_clear_error(monkeypatch):
    monkeypatch.delenv(docs_tables.KERNEL_LITMUS_ENV, raising=False)
    spec = next(t for t in TABLES if t.name == "kernel-litmus")
    with pytest.raises(DocsTableError, match=docs_tables.KERNEL_LITMUS_ENV):
        regenerate(spec)


def _robustness_rows_as_ci_writes_them(directory):
    import json

    spec = next(t for t in TABLES if t.name == "robustness")
    found = docs_tables.find_table(spec.path.read_text(encoding="utf-8"), spec.name, spec.shown)
    for name, cells in found.rows.items():
        (directory / f"{name}{docs_tables.ROBUSTNESS_ROW}").write_text(json.dumps(cells[:4]) + "\n")
    return spec


def test_robustness_from_checker_cis_rows(tmp_path):
    # The rows are cut out of the committed table (checker ci proves them in
    # minutes; tests/test_ci.py and .ci/run do that): they must make it again,
    # a changed verdict must be stale, and a missing row an error.
    from click.testing import CliRunner

    _robustness_rows_as_ci_writes_them(tmp_path)
    args = ["--check", "--only", "robustness", "--from-ci", str(tmp_path)]
    r = CliRunner().invoke(docs_tables.main, args)
    assert r.exit_code == 0 and "robustness: current" in r.output, r.output
    ring = tmp_path / f"ring{docs_tables.ROBUSTNESS_ROW}"
    ring.write_text(ring.read_text().replace("proved", "unknown", 1))
    r = CliRunner().invoke(docs_tables.main, args)
    assert r.exit_code == 1 and "robustness: STALE" in r.output, r.output
    ring.unlink()
    r = CliRunner().invoke(docs_tables.main, args)
    assert r.exit_code == 2 and "is missing" in r.output, r.output
    r = CliRunner().invoke(docs_tables.main, ["--check", "--only", "compare-sc", "--from-ci", str(tmp_path)])
    assert r.exit_code == 2 and "none of these tables" in r.output
