"""`python -m checker.fence_docs --check-from DIR`: docs/fences.md and the README block checked against the
fence tables `checker ci --window 2` wrote, so that CI computes each table once.

The tables here are cut out of the committed docs (computing them takes minutes:
the slow `test_docs_fence_tables_are_not_stale` and `checker ci` do that);
what is tested is that the pieces make the committed files again, and that a
changed cell or a missing table is caught.
"""

from __future__ import annotations

import re

from click.testing import CliRunner

from checker import fence_docs
from checker.fence_docs import BEGIN, DOC, DOC_SECTION, END, INTRO, README, README_ROW
from checker.model import load_protocols


def _tables_as_ci_writes_them(directory):
    committed = DOC.read_text()
    assert committed.startswith(INTRO + "\n")
    body = committed[len(INTRO) + 1:committed.index("## Time per protocol")]
    sections = re.split(r"\n(?=### )", body)
    sections[-1] = sections[-1][:-1]  # the newline that joined the last section to the timings
    for section in sections:
        name = section.split("\n", 1)[0].removeprefix("### ")
        (directory / f"{name}{DOC_SECTION}").write_text(section)
    block = README.read_text().split(BEGIN, 1)[1].split(END, 1)[0].strip().splitlines()[2:]
    for row in block:
        _, names, rest = row.split("|", 2)
        for name in names.split(","):
            (directory / f"{name.strip()}{README_ROW}").write_text(f"| {name.strip()} |{rest}\n")
    assert {p.name.removesuffix(DOC_SECTION) for p in directory.glob(f"*{DOC_SECTION}")} == set(load_protocols())


def test_the_ci_tables_make_the_committed_docs_again(tmp_path):
    _tables_as_ci_writes_them(tmp_path)
    r = CliRunner().invoke(fence_docs.main, ["--check-from", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "up to date" in r.output


def test_a_changed_cell_is_stale(tmp_path):
    _tables_as_ci_writes_them(tmp_path)
    ring = tmp_path / f"ring{DOC_SECTION}"
    ring.write_text(ring.read_text().replace("NEEDED", "not needed", 1))
    r = CliRunner().invoke(fence_docs.main, ["--check-from", str(tmp_path)])
    assert r.exit_code == 1 and "stale: docs/fences.md" in r.output


def test_a_changed_readme_row_is_stale(tmp_path):
    _tables_as_ci_writes_them(tmp_path)
    (tmp_path / f"ring{README_ROW}").write_text("| ring | 6 | 0 of 6 | 0 of 6 | 5 of 6 | agrees |\n")
    r = CliRunner().invoke(fence_docs.main, ["--check-from", str(tmp_path)])
    assert r.exit_code == 1 and "README.md (fence summary)" in r.output


def test_a_missing_table_is_one_line_exit_2(tmp_path):
    _tables_as_ci_writes_them(tmp_path)
    (tmp_path / f"bitmap{DOC_SECTION}").unlink()
    r = CliRunner().invoke(fence_docs.main, ["--check-from", str(tmp_path)])
    assert r.exit_code == 2 and "no fence table of bitmap" in r.output


def test_the_module_runs_as_ci_runs_it(tmp_path):
    # `.ci/run` runs `python -m checker.fence_docs`: a module that did nothing
    # there would pass CI without checking anything.
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "checker.fence_docs", "--check-from", str(tmp_path)], cwd=root,
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no fence table of" in r.stderr, r.stdout + r.stderr
    _tables_as_ci_writes_them(tmp_path)
    r = subprocess.run([sys.executable, "-m", "checker.fence_docs", "--check-from", str(tmp_path)], cwd=root,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "up to date" in r.stdout, r.stdout + r.stderr
