"""SPIN and Rumur beside the checker (checker/bench_peers.py): reading their output, a missing tool's
notice, and (slow, with both installed) the three tools counting the same states."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker import bench_peers, docs_tables
from checker.bench_peers import Figures, Size, ToolFailed, ToolMissing

# Recorded from `spin -DCONSUMERS=2 -DPUSHES=4 -a pcring.pml`, gcc -O2 -DSAFETY -DNOREDUCE, ./pan -m100000 -w21
# (SPIN 6.5.2), shortened.
SPIN_SAMPLE = """
(Spin Version 6.5.2 -- 6 December 2019)

Full statespace search for:
\tnever claim         \t- (none specified)
\tassertion violations\t+
\tcycle checks       \t- (disabled by -DSAFETY)
\tinvalid end states\t+

State-vector 40 byte, depth reached 89, errors: 0
      714 states, stored
     1223 states, matched
     1937 transitions (= stored+matched)
        0 atomic steps
hash conflicts:         0 (resolved)

Stats on memory usage (in Megabytes):
   20.773\ttotal actual memory usage

pan: elapsed time 0.02 seconds
"""

# Recorded from the Rumur v2022.08.20 verifier of pcring.m at 2 consumers, 4 pushes, exhaustive symmetry.
RUMUR_SAMPLE = """Memory usage:

\t* The size of each state is 48 bits (rounded up to 6 bytes).
\t* The size of the hash table is 65536 slots.

Progress Report:


==========================================================================

Status:

\tNo error found.

State Space Explored:

\t368 states, 998 rules fired in 0s.
"""


def test_spin_output_is_read():
    out = bench_peers.parse_spin(SPIN_SAMPLE)
    assert out == bench_peers.SpinOutput(states=714, transitions=1937, errors=0, depth_too_small=False)
    cut = bench_peers.parse_spin(SPIN_SAMPLE.replace("errors: 0", "errors: 1")
                                 + "error: max search depth too small\n")
    assert cut.errors == 1 and cut.depth_too_small


def test_rumur_output_is_read():
    assert bench_peers.parse_rumur(RUMUR_SAMPLE) == bench_peers.RumurOutput(368, 998, True)
    assert not bench_peers.parse_rumur(RUMUR_SAMPLE.replace("No error found.", "Invariant violated")).error_free


@pytest.mark.parametrize("parse", [bench_peers.parse_spin, bench_peers.parse_rumur])
def test_output_without_figures_is_one_line_of_failure(parse):
    with pytest.raises(ToolFailed, match="no .*(state count|'states' figure)"):
        parse("Segmentation fault\n")


def test_the_murphi_constants_are_set_to_the_size():
    text = bench_peers.murphi_source(Size(3, 8))
    assert "  SLOTS: 4;" in text and "  PUSHES: 8;" in text and "  CONSUMERS: 3;" in text
    assert "scalarset(CONSUMERS)" in text


def _no_peers(monkeypatch):
    """Neither SPIN nor Rumur installed; the checker's runs replaced by a canned figure (no child process)."""
    real_which = shutil.which
    monkeypatch.setattr(bench_peers.shutil, "which", lambda tool: None if tool in ("spin", "rumur") else real_which(tool))
    monkeypatch.setattr(bench_peers, "run_checker", lambda size, flag: Figures(
        size, bench_peers.CHECKER_VARIANTS[flag], 714, 1936, 0.5, 27.0, flag == "--symmetry"))


def test_a_missing_tool_is_one_notice_and_its_rows_are_left_out(monkeypatch):
    _no_peers(monkeypatch)
    notices: list[str] = []
    figures = list(bench_peers.run_all((Size(2, 4), Size(3, 4)), notices.append))
    assert [f.tool for f in figures] == ["checker", "checker --engine c", "checker --fingerprint", "checker --symmetry"] * 2
    # One line per tool, though Rumur has three runs per size and there are two sizes.
    assert notices == ["spin is not installed (Debian: apt-get install spin); its rows are left out",
                       "rumur is not installed (Debian: apt-get install rumur); its rows are left out"]
    with pytest.raises(ToolMissing):
        list(bench_peers.run_all((Size(2, 4),), None))


def test_the_command_prints_notices_and_the_rest(monkeypatch):
    _no_peers(monkeypatch)
    r = CliRunner().invoke(bench_peers.main, ["--consumers", "2", "--pushes", "4"])
    assert r.exit_code == 0 and r.exception is None
    assert "bench_peers: spin is not installed" in r.output and "Traceback" not in r.output
    assert "| 2 consumers, 4 pushes | checker --symmetry | 714 |" in r.output
    assert CliRunner().invoke(bench_peers.main, ["--pushes", "0"]).exit_code == 2


def test_the_docs_table_refuses_without_the_tools_in_one_line(monkeypatch):
    _no_peers(monkeypatch)
    with pytest.raises(docs_tables.DocsTableError, match=r"^peers: spin is not installed"):
        docs_tables.peers({})


def test_ratios_are_against_spin_and_rumurs_orbits_at_the_same_size():
    s3, s4 = Size(3, 16), Size(4, 16)
    figures = [Figures(s3, "SPIN", 100, 101, 0.5, 20, False), Figures(s3, "checker", 100, 100, 2.0, 40, False),
               Figures(s3, bench_peers.RUMUR_SYMMETRY["exhaustive"], 20, 50, 0.1, 10, True),
               Figures(s3, "checker --symmetry", 30, 60, 1.0, 30, True),
               Figures(s4, "checker", 900, 900, 9.0, 90, False)]
    rows = bench_peers.table_rows(figures)
    assert [r[6:] for r in rows] == [["1.0x", "-"], ["4.0x", "-"], ["-", "1.00x"], ["-", "1.50x"], ["-", "-"]]


def _peers_table() -> dict[str, dict[str, list[str]]]:
    """docs/performance.md's peers table: per size, per tool, the row's cells."""
    spec = next(t for t in docs_tables.TABLES if t.name == "peers")
    found = docs_tables.find_table(spec.path.read_text(), "peers", spec.shown)
    rows: dict[str, dict[str, list[str]]] = {}
    for line in found.text.splitlines():
        cells = docs_tables.split_row(line) if line.startswith("| ") else []
        if cells and cells[0] != "size":
            rows.setdefault(cells[0], {})[cells[1]] = cells
    return rows


def test_the_table_has_every_tool_agreeing_on_the_unreduced_and_the_reduced_states():
    table = _peers_table()
    assert set(table) == {s.label for s in bench_peers.SIZES}
    for rows in table.values():
        unreduced = {rows[t][2] for t in ("SPIN", "Rumur", "checker", "checker --engine c", "checker --fingerprint")}
        reduced = {rows[t][2] for t in (*bench_peers.RUMUR_SYMMETRY.values(), "checker --symmetry") if t != "Rumur"}
        assert len(unreduced) == 1 and len(reduced) == 1, rows


def _installed() -> bool:
    return all(shutil.which(t) for t in ("spin", "rumur", "gcc"))


@pytest.mark.slow
@pytest.mark.skipif(not _installed(), reason="needs Debian's spin and rumur and gcc (.ci/run installs them)")
def test_spin_rumur_and_the_checker_count_the_same_states(tmp_path: Path):
    size = Size(2, 4)
    (tmp_path / "spin").mkdir()
    (tmp_path / "rumur").mkdir()
    spin = bench_peers.run_spin(size, tmp_path / "spin")
    rumur = bench_peers.run_rumur(size, "off", tmp_path / "rumur")
    checker = bench_peers.run_checker(size, "")
    assert spin.states == rumur.states == checker.states == 714
    # SPIN's "transitions" are stored + matched: the initial state and one per move.
    assert spin.transitions - 1 == rumur.transitions == checker.transitions


@pytest.mark.slow
@pytest.mark.skipif(not _installed(), reason="needs Debian's spin and rumur and gcc (.ci/run installs them)")
def test_rumurs_symmetric_count_is_the_tables(tmp_path: Path):
    size = bench_peers.SIZES[0]
    orbits = bench_peers.run_rumur(size, "exhaustive", tmp_path)
    row = _peers_table()[size.label][bench_peers.RUMUR_SYMMETRY["exhaustive"]]
    assert f"{orbits.states:,}" == row[2] and f"{orbits.transitions:,}" == row[3]
