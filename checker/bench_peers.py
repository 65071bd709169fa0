"""SPIN and Rumur beside the checker on the producer/consumer example (issue 13).

``models/examples/pcring.py`` has two twins written transition for
transition: ``pcring.pml`` (Promela, for SPIN) and ``pcring.m`` (Murphi, for
Rumur, the consumers a scalarset).  Unreduced, all three count the same
states; with symmetry, Rumur's exhaustive reduction counts true orbits, the
yardstick of ``--symmetry``.  This module builds and runs each tool at a
size and reads its figures:

* SPIN: ``spin -a``, ``gcc -O2 -DSAFETY -DNOREDUCE`` (no partial-order
  reduction, no cycle search: the checker runs with ``--no-liveness``),
  ``./pan -m100000 -w21``;
* Rumur: ``rumur`` to C, ``gcc -O2``, the verifier on one thread, with
  symmetry off, heuristic (its default) and exhaustive;
* the checker: ``checker explore ... --no-liveness``, compact (the
  compiled Python engine), with ``--engine c`` (the search in generated C;
  its build is cached, so the figure is a warm run's, after a first run that
  built it), with ``--fingerprint`` and with ``--symmetry``.

CPU seconds are the verifier process's own (user+sys from the rusage of the
reaped child): for SPIN and Rumur not the code generation and compilation,
for the checker the whole process (interpreter start-up and the model's
compilation included, which favours the peers by a fraction of a second).

``python -m checker.bench_peers`` prints the rows, with a one-line notice
for a tool that is not installed; ``python -m checker.docs_tables --only
peers`` makes the table of docs/performance.md (and refuses, in one line,
without both tools).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import click

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "models" / "examples"
SLOTS = 4
SPIN_DEPTH = 100_000  # pan's -m: the search depth is ~350 at 4 consumers and 16 pushes
# pan's -w: 2^21 hash slots.  pan's default (-w24, 128 MB cleared at start) costs it ~0.3 CPU s more
# at every size here, and -w20 is slower again at 4 consumers (733,852 states in 1 M slots).
SPIN_HASH_BITS = 21


class ToolMissing(Exception):
    """A peer tool is not installed: its message is the one-line notice."""


class ToolFailed(Exception):
    """A peer tool ran and did not give a complete, error-free search."""


@dataclass(frozen=True)
class Size:
    consumers: int
    pushes: int

    @property
    def label(self) -> str:
        return f"{self.consumers} consumers, {self.pushes} pushes"


SIZES = (Size(3, 16), Size(4, 16))


@dataclass(frozen=True)
class Figures:
    """One tool's run at one size."""

    size: Size
    tool: str  # as the table shows it: the tool and its reduction
    states: int
    transitions: int  # each tool's own count (SPIN's includes the initial state: stored + matched)
    cpu_seconds: float
    peak_rss_mib: float
    reduced: bool  # symmetry: states are orbits


class Measured(NamedTuple):
    stdout: str
    stderr: str
    returncode: int
    cpu_seconds: float  # user + sys of the child
    peak_rss_mib: float


def measure(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Measured:
    """Run ``argv`` to its end; its output and its own rusage (reaped here, not by Popen)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True, cwd=cwd, env=env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(out.read(), err.read(), proc.returncode, usage.ru_utime + usage.ru_stime,
                        usage.ru_maxrss / 1024)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["no output"])[-1]


# ---------------------------------------------------------------------------
# reading the tools' output


class SpinOutput(NamedTuple):
    states: int
    transitions: int  # stored + matched: one more than the moves made
    errors: int
    depth_too_small: bool


def parse_spin(text: str) -> SpinOutput:
    """The figures of pan's final report."""
    found = {}
    for key, pattern in (("states", r"^\s*(\d+) states, stored"), ("transitions", r"^\s*(\d+) transitions"),
                         ("errors", r"errors: (\d+)")):
        m = re.search(pattern, text, re.M)
        if m is None:
            raise ToolFailed(f"pan's output has no '{key}' figure: {_first_line(text)}")
        found[key] = int(m.group(1))
    return SpinOutput(found["states"], found["transitions"], found["errors"], "max search depth too small" in text)


class RumurOutput(NamedTuple):
    states: int
    rules_fired: int
    error_free: bool


def parse_rumur(text: str) -> RumurOutput:
    """The figures of a Rumur verifier's final report (human-readable format)."""
    m = re.search(r"^\s*(\d+) states, (\d+) rules fired", text, re.M)
    if m is None:
        raise ToolFailed(f"the Rumur verifier's output has no state count: {_first_line(text)}")
    return RumurOutput(int(m.group(1)), int(m.group(2)), "No error found." in text)


# ---------------------------------------------------------------------------
# running each tool


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"{tool} is not installed (Debian: apt-get install {tool}); its rows are left out")
    return path


def _checked(m: Measured, what: str) -> Measured:
    if m.returncode != 0:
        raise ToolFailed(f"{what} exited {m.returncode}: {_first_line(m.stderr or m.stdout)}")
    return m


def run_spin(size: Size, work: Path) -> Figures:
    spin, gcc = require("spin"), require("gcc")
    defines = [f"-DSLOTS={SLOTS}", f"-DPUSHES={size.pushes}", f"-DCONSUMERS={size.consumers}"]
    _checked(measure([spin, *defines, "-a", str(EXAMPLES / "pcring.pml")], cwd=work), "spin -a")
    _checked(measure([gcc, "-O2", "-DSAFETY", "-DNOREDUCE", "-o", "pan", "pan.c"], cwd=work), "gcc pan.c")
    run = _checked(measure(["./pan", f"-m{SPIN_DEPTH}", f"-w{SPIN_HASH_BITS}"], cwd=work), "pan")
    out = parse_spin(run.stdout)
    if out.errors or out.depth_too_small:
        raise ToolFailed(f"pan: {out.errors} errors{', search depth too small' if out.depth_too_small else ''}")
    return Figures(size, "SPIN", out.states, out.transitions, run.cpu_seconds, run.peak_rss_mib, False)


def murphi_source(size: Size) -> str:
    """pcring.m with its constants set to the size (Murphi has no preprocessor)."""
    text = (EXAMPLES / "pcring.m").read_text()
    for name, value in (("SLOTS", SLOTS), ("PUSHES", size.pushes), ("CONSUMERS", size.consumers)):
        text, n = re.subn(rf"^(\s*{name}:\s*)\d+;", rf"\g<1>{value};", text, count=1, flags=re.M)
        if n != 1:
            raise ToolFailed(f"models/examples/pcring.m declares no constant {name}")
    return text


RUMUR_SYMMETRY = {"off": "Rumur", "heuristic": "Rumur, symmetry (heuristic)",
                  "exhaustive": "Rumur, symmetry (exhaustive)"}


def run_rumur(size: Size, symmetry: str, work: Path) -> Figures:
    rumur, gcc = require("rumur"), require("gcc")
    (work / "pcring.m").write_text(murphi_source(size))
    _checked(measure([rumur, "--quiet", "--threads", "1", "--deadlock-detection", "off",
                      "--symmetry-reduction", symmetry, "--output", "verifier.c", "pcring.m"], cwd=work), "rumur")
    _checked(measure([gcc, "-O2", "-o", "verifier", "verifier.c", "-lpthread"], cwd=work), "gcc verifier.c")
    run = _checked(measure(["./verifier"], cwd=work), "the Rumur verifier")
    out = parse_rumur(run.stdout)
    if not out.error_free:
        raise ToolFailed("the Rumur verifier found an error")
    return Figures(size, RUMUR_SYMMETRY[symmetry], out.states, out.rules_fired, run.cpu_seconds, run.peak_rss_mib,
                   symmetry != "off")


CHECKER_VARIANTS = {"": "checker", "--engine=c": "checker --engine c", "--fingerprint": "checker --fingerprint",
                    "--symmetry": "checker --symmetry"}


def checker_command(size: Size, flag: str) -> list[str]:
    return ["explore", str(EXAMPLES / "pcring.py"), "-m", "sc", "--threads", str(size.consumers + 1),
            "--slots", str(SLOTS), "--param", f"pushes={size.pushes}", "--no-liveness", "--json", "--no-trace",
            *([flag] if flag else [])]


def run_checker(size: Size, flag: str) -> Figures:
    import json

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if flag == "--engine=c":
        # The first run may build the C module (seconds of gcc); SPIN's and
        # Rumur's compilations are not counted either.
        _checked(measure([sys.executable, "-m", "checker", *checker_command(size, flag)], env=env), "checker")
    run = _checked(measure([sys.executable, "-m", "checker", *checker_command(size, flag)], env=env), "checker")
    doc = json.loads(run.stdout)
    if not doc["complete"]:
        raise ToolFailed(f"checker {' '.join(checker_command(size, flag))}: incomplete")
    return Figures(size, CHECKER_VARIANTS[flag], doc["states"], doc["transitions"], run.cpu_seconds,
                   run.peak_rss_mib, flag == "--symmetry")


def runs(size: Size) -> list[tuple[str, Callable[[Path], Figures]]]:
    """The runs at one size, in the table's order: unreduced, then reduced."""
    return [
        ("spin", lambda w: run_spin(size, w)),
        ("rumur", lambda w: run_rumur(size, "off", w)),
        ("checker", lambda _w: run_checker(size, "")),
        ("checker", lambda _w: run_checker(size, "--engine=c")),
        ("checker", lambda _w: run_checker(size, "--fingerprint")),
        ("rumur", lambda w: run_rumur(size, "heuristic", w)),
        ("rumur", lambda w: run_rumur(size, "exhaustive", w)),
        ("checker", lambda _w: run_checker(size, "--symmetry")),
    ]


def run_all(sizes: tuple[Size, ...], notice: Callable[[str], None] | None) -> Iterator[Figures]:
    """Every run at every size.  A missing tool raises ToolMissing, or with ``notice`` is reported once
    (one line) and its rows are left out."""
    missing: set[str] = set()
    for size in sizes:
        for tool, run in runs(size):
            if tool in missing:
                continue
            with tempfile.TemporaryDirectory(prefix="slotcheck-peers-") as work:
                try:
                    yield run(Path(work))
                except ToolMissing as exc:
                    if notice is None:
                        raise
                    missing.add(tool)
                    notice(str(exc))


# ---------------------------------------------------------------------------
# the table


HEADER = ["size", "tool", "states", "transitions", "CPU s", "peak RSS MiB", "CPU s / SPIN's",
          "states / Rumur's orbits"]
MEASURED = ("CPU s", "peak RSS MiB", "CPU s / SPIN's")


def table_rows(figures: list[Figures]) -> list[list[str]]:
    """The rows, with each unreduced run's CPU time over SPIN's and each reduced run's states over the
    orbits of Rumur's exhaustive (canonical) reduction, at the same size."""
    spin = {f.size: f for f in figures if f.tool == "SPIN"}
    orbits = {f.size: f for f in figures if f.tool == RUMUR_SYMMETRY["exhaustive"]}
    body = []
    for f in figures:
        base = spin.get(f.size)
        cpu_ratio = f"{f.cpu_seconds / base.cpu_seconds:.1f}x" if base and not f.reduced and base.cpu_seconds else "-"
        ref = orbits.get(f.size)
        state_ratio = f"{f.states / ref.states:.2f}x" if ref and f.reduced else "-"
        body.append([f.size.label, f.tool, f"{f.states:,}", f"{f.transitions:,}", f"{f.cpu_seconds:.2f}",
                     f"{f.peak_rss_mib:.0f}", cpu_ratio, state_ratio])
    return body


def versions() -> str:
    """The peers' versions, for a caption (empty when a tool is missing)."""
    parts = []
    for tool, flag in (("spin", "-V"), ("rumur", "--version"), ("gcc", "--version")):
        path = shutil.which(tool)
        if path is not None:
            text = subprocess.run([path, flag], capture_output=True, text=True).stdout.strip()
            parts.append(text.splitlines()[0] if text else tool)
    return "; ".join(parts)


@click.command()
@click.option("--consumers", type=int, multiple=True, help="consumers (repeatable; default 3 and 4)")
@click.option("--pushes", type=int, default=16, show_default=True)
def main(consumers: tuple[int, ...], pushes: int) -> None:
    """Run SPIN, Rumur and the checker on the producer/consumer example and print the figures."""
    from checker.markdown import markdown_table

    if any(c < 1 for c in consumers) or pushes < 1 or pushes > 255:
        click.echo("bench_peers: error: --consumers must be >= 1 and --pushes 1..255", err=True)
        sys.exit(2)
    sizes = tuple(Size(c, pushes) for c in consumers) or SIZES
    try:
        figures = list(run_all(sizes, lambda line: click.echo(f"bench_peers: {line}", err=True)))
    except ToolFailed as exc:
        click.echo(f"bench_peers: error: {exc}", err=True)
        sys.exit(1)
    click.echo(markdown_table(HEADER, table_rows(figures)))


if __name__ == "__main__":
    main()
