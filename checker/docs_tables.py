"""The result tables in docs/*.md, produced by the tool.

A generated table sits between two markers in its Markdown file::

    <!-- generated: NAME; python -m checker.docs_tables -->
    | ... |
    <!-- end generated -->

``python -m checker.docs_tables`` rewrites every such table from a fresh run;
``--check`` rewrites nothing and exits 1 naming each table that is stale;
``--only NAME`` limits either to some tables, ``--fast`` to the cheap ones.
A table may keep prose columns (a "why" written by a person) from the file,
matched by the row's first cell, and may have measured columns (CPU time)
that a check ignores: a measurement differs from run to run, a verdict or a
state count must not.  The tests check the cheap tables in the default run
and the expensive ones in the slow run.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from checker.markdown import markdown_table

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

Rows = tuple[list[str], list[list[str]]]


@dataclass(frozen=True)
class TableSpec:
    name: str
    doc: str  # file under docs/
    make: Callable[[dict[str, list[str]]], Rows]  # given the rows in the file (by first cell), the new table
    slow: bool = False  # regenerating takes more than a few seconds
    measured: tuple[str, ...] = ()  # columns a check ignores (timings)
    about: str = ""


# ---------------------------------------------------------------------------
# the tables


def _bug_under(mut) -> str:
    where = ", ".join(mut.bug_under) or "nowhere (harmless)"
    return where + (" (with a rogue)" if mut.needs_rogue and mut.bug_under else "")


def _mutation_rows(protocols: list[str], with_protocol: bool) -> Rows:
    from checker.model import load_protocols

    registry = load_protocols()
    header = (["protocol"] if with_protocol else []) + ["mutation", "the mistake", "a bug under", "breaks"]
    body = []
    for name in protocols:
        for mname, mut in registry[name].mutations.items():
            body.append(([name] if with_protocol else []) + [f"`{mname}`", mut.description, _bug_under(mut),
                                                             mut.breaks or "-"])
    return header, body


def ring_mutations(_kept: dict[str, list[str]]) -> Rows:
    return _mutation_rows(["ring"], with_protocol=False)


DESIGNS = ["caslist", "bitmap", "dlist", "bgworker"]


def design_mutations(_kept: dict[str, list[str]]) -> Rows:
    return _mutation_rows(DESIGNS, with_protocol=True)


def _verdict(res) -> str:
    """One cell: "holds", "<property> violated", or "incomplete"."""
    if res.violations:
        return f"{next(iter(res.violations))} violated"
    verdicts = [res.verdict(p) for p in res.system.checked]
    if all(v.startswith("holds") for v in verdicts) and res.complete:
        return "holds"
    return "incomplete"


# The ring's barrier mutations, each under every memory model: where each barrier is needed.
RING_BARRIER_RUN = {"threads": 2, "slots": 2, "ops": 3}


def ring_barriers(kept: dict[str, list[str]]) -> Rows:
    from checker.explore import Options
    from checker.model import load_protocols
    from checker.run import check

    ring = load_protocols()["ring"]
    models = ("sc", "tso", "weak")
    body = []
    for mname in ring.mutations:
        if "barrier" not in mname:
            continue
        cells = [f"`{mname}`"]
        for mm in models:
            _engine, res = check("ring", mutation=mname, memory_model=mm, options=Options(stop_on_first=True),
                                 **RING_BARRIER_RUN)
            cells.append(_verdict(res))
        cells.append(kept.get(cells[0], ["", "", "", "", ""])[-1])
        body.append(cells)
    return ["mutation", *models, "why"], body


# The slot free-list designs (dsmhandle, a different problem, has its own page).
FREE_LIST_DESIGNS = ["bgworker", "bitmap", "caslist", "dlist", "ring"]


def _compare_table(memory_model: str) -> Rows:
    from checker.compare import compare, table_rows

    rows = compare(3, 2, 2, memory_model, "documented", protocols=FREE_LIST_DESIGNS)
    return table_rows(rows)


def compare_weak(_kept: dict[str, list[str]]) -> Rows:
    return _compare_table("weak")


def compare_sc(_kept: dict[str, list[str]]) -> Rows:
    return _compare_table("sc")


DSMHANDLE_RUNS = (("sc", "sc", {}, {}), ("tso", "tso", {}, {}), ("weak", "weak", {}, {}),
                  ("weak, `--window 4`", "weak", {"window": 4}, {}),
                  ("weak, `--profile arm64`", "weak", {}, {"profile": "arm64"}))


def dsmhandle_models(_kept: dict[str, list[str]]) -> Rows:
    from checker.explore import Options
    from checker.run import check

    body = []
    for label, mm, mm_options, other in DSMHANDLE_RUNS:
        t0 = time.process_time()
        _engine, res = check("dsmhandle", memory_model=mm, mm_options=mm_options,
                             options=Options(stop_on_first=False), threads=3, **other)
        cpu = time.process_time() - t0
        verdict = _verdict(res)
        body.append([label, f"{res.states:,}", f"{cpu:.1f} s",
                     "every property holds" if verdict == "holds" else verdict])
    return ["memory model", "distinct states", "CPU", "verdict"], body


# dsmhandle's mutations and parameters, each under every memory model
# (``checker explore dsmhandle --threads 3 ...``): run label -> (mutation, --param values, other parameters).
DSMHANDLE_VARIANTS = (
    ("`--mutation no-generation`", "no-generation", {}, {}),
    ("`--param gen_bits=1`", None, {"gen_bits": 1}, {}),
    ("`--param gen_bits=2`", None, {"gen_bits": 2}, {}),
    ("`--mutation attach-moribund`", "attach-moribund", {}, {}),
    ("`--mutation publish-no-write-barrier`", "publish-no-write-barrier", {}, {}),
    ("`--param linear=1 --slots 1` (today)", None, {"linear": 1}, {"slots": 1}),
)


def dsmhandle_variants(kept: dict[str, list[str]]) -> Rows:
    from checker.explore import Options
    from checker.run import check

    body = []
    for label, mutation, extra, other in DSMHANDLE_VARIANTS:
        cells = []
        for mm in ("sc", "tso", "weak"):
            _engine, res = check("dsmhandle", mutation=mutation, memory_model=mm, options=Options(stop_on_first=True),
                                 threads=3, extra=extra, **other)
            verdict = _verdict(res)
            verdict = verdict.removesuffix(" violated")
            # "same": the same violation as under sc (a violation found under a stronger model stays one).
            cells.append("same" if cells and verdict == cells[0] and verdict != "holds" else verdict)
        body.append([label, *cells, kept.get(label, [""])[-1]])
    return ["run", "sc", "tso", "weak", "what happens"], body


ROBUSTNESS_ORDER = ["ring", "caslist", "bitmap", "bgworker", "dlist"]


def robustness(kept: dict[str, list[str]]) -> Rows:
    """``checker prove P --robustness`` of each design, and of each mutation that should make it fail."""
    from checker.model import PM_SAFETY, WAIT_FREEDOM, Params, load_protocols
    from checker.prove.robustness import prove_robustness

    registry = load_protocols()
    params = Params(threads=2, slots=2, ops=1)
    body = []
    for name in ROBUSTNESS_ORDER:
        cls = registry[name]
        res = prove_robustness(cls, params, None, witness=False)
        verdict = "proved" if res.proved else ("fails" if res.failure else "unknown")
        for mname, mut in cls.mutations.items():
            if mut.needs_rogue and mut.breaks in (PM_SAFETY, WAIT_FREEDOM):
                mres = prove_robustness(cls, params, mname, witness=False)
                said = f"fails ({mres.failure.prop})" if mres.failure else ("proved" if mres.proved else "unknown")
                verdict += f"; `{mname}` {said}"
        space = res.space.describe().replace("<=", "≤").removesuffix(" (symbolic)")
        worst = max(res.ops, key=lambda o: o.max_steps, default=None)
        body.append([name, verdict, space, "-" if worst is None else f"`{worst.name}`, {worst.max_steps} steps",
                     kept.get(name, [""])[-1]])
    return ["protocol", "robustness", "slot range proved", "worst operation", "note"], body


def bad_input_models(_kept: dict[str, list[str]]) -> Rows:
    from checker.docs_bad_input import MODEL_CASES, table

    return table(MODEL_CASES)


def bad_input_files(_kept: dict[str, list[str]]) -> Rows:
    from checker.docs_bad_input import FILE_CASES, table

    return table(FILE_CASES)


TABLES = (
    TableSpec("ring-mutations", "protocols.md", ring_mutations, about="the ring's mutations (the registry)"),
    TableSpec("design-mutations", "protocols.md", design_mutations, about="the other designs' mutations"),
    TableSpec("ring-barriers", "memory-models.md", ring_barriers,
              about="the ring's barrier mutations under sc, tso and weak (explorations)"),
    TableSpec("compare-weak", "protocols.md", compare_weak, slow=True, measured=("time", "rogue time"),
              about="checker compare --threads 3 (weak), the free-list designs"),
    TableSpec("compare-sc", "protocols.md", compare_sc, slow=True, measured=("time", "rogue time"),
              about="checker compare --threads 3 -m sc, the free-list designs"),
    TableSpec("dsmhandle-memory-models", "dsmhandle.md", dsmhandle_models, slow=True, measured=("CPU",),
              about="checker explore dsmhandle --threads 3 under each memory model"),
    TableSpec("robustness", "proofs.md", robustness, slow=True,
              about="checker prove --robustness of each design and of its mutations that need a rogue"),
    TableSpec("dsmhandle-variants", "dsmhandle.md", dsmhandle_variants, slow=True,
              about="dsmhandle's mutations and parameters under each memory model"),
    TableSpec("bad-input-models", "bad-input.md", bad_input_models,
              about="broken model files and options: each a real command, its one line and exit code"),
    TableSpec("bad-input-files", "bad-input.md", bad_input_files,
              about="bad traces, litmus files and outputs: each a real command, its one line and exit code"),
)


# ---------------------------------------------------------------------------
# reading and writing the docs


def _begin(name: str) -> re.Pattern[str]:
    return re.compile(rf"^<!-- generated: {re.escape(name)}\b[^\n]*-->\n", re.M)


END = "<!-- end generated -->"


class DocsTableError(Exception):
    """A marker missing or unclosed (one line)."""


@dataclass
class Found:
    start: int  # offset of the table's text
    end: int
    text: str
    rows: dict[str, list[str]] = field(default_factory=dict)


def find_table(text: str, name: str, where: str) -> Found:
    m = _begin(name).search(text)
    if m is None:
        raise DocsTableError(f"{where}: no '<!-- generated: {name} ... -->' marker")
    end = text.find(END, m.end())
    if end < 0:
        raise DocsTableError(f"{where}: the table {name} has no '{END}'")
    body = text[m.end():end]
    rows = {}
    for line in body.splitlines()[2:]:
        cells = split_row(line)
        if cells:
            rows[cells[0]] = cells
    return Found(m.end(), end, body, rows)


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row (an escaped ``\\|`` stays inside its cell)."""
    line = line.strip()
    if not line.startswith("|"):
        return []
    cells = re.split(r"(?<!\\)\|", line.strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


def masked(table: str, measured: tuple[str, ...]) -> list[list[str]]:
    """A table's cells with its measured columns blanked, for a comparison."""
    lines = [split_row(line) for line in table.strip().splitlines()]
    if not lines:
        return []
    header = lines[0]
    drop = {i for i, h in enumerate(header) if h in measured}
    return [[("~" if i in drop else c) for i, c in enumerate(row)] for row in lines]


def regenerate(spec: TableSpec) -> tuple[str, str]:
    """(the table in the file, the table as the tool makes it now)."""
    path = DOCS / spec.doc
    found = find_table(path.read_text(encoding="utf-8"), spec.name, str(path.relative_to(ROOT)))
    header, body = spec.make(found.rows)
    return found.text, markdown_table(header, body) + "\n"


def is_stale(spec: TableSpec, old: str, new: str) -> bool:
    return masked(old, spec.measured) != masked(new, spec.measured)


def write(spec: TableSpec, new: str) -> None:
    path = DOCS / spec.doc
    text = path.read_text(encoding="utf-8")
    found = find_table(text, spec.name, str(path.relative_to(ROOT)))
    path.write_text(text[:found.start] + new + text[found.end:], encoding="utf-8")


def select(only: tuple[str, ...], fast: bool) -> list[TableSpec]:
    known = {t.name: t for t in TABLES}
    for name in only:
        if name not in known:
            raise click.UsageError(f"unknown table {name!r} (known: {', '.join(known)})")
    return [t for t in TABLES if (not only or t.name in only) and not (fast and t.slow)]


@click.command()
@click.option("--check", "check_only", is_flag=True, help="change nothing; exit 1 if a table is stale")
@click.option("--only", multiple=True, help="only this table (repeatable)")
@click.option("--fast", is_flag=True, help="only the tables that take seconds to make")
@click.option("--list", "list_only", is_flag=True, help="list the tables and where they are")
def main(check_only: bool, only: tuple[str, ...], fast: bool, list_only: bool) -> None:
    """Regenerate the result tables in docs/*.md (or check that they are current)."""
    tables = select(only, fast)
    if list_only:
        for t in tables:
            click.echo(f"{t.name:<26} docs/{t.doc:<18} {'slow' if t.slow else 'fast'}  {t.about}")
        return
    stale = []
    for spec in tables:
        try:
            old, new = regenerate(spec)
        except DocsTableError as exc:
            click.echo(f"docs_tables: error: {exc}", err=True)
            sys.exit(2)
        if not is_stale(spec, old, new) and old == new:
            click.echo(f"{spec.name}: current")
            continue
        if check_only:
            if is_stale(spec, old, new):
                stale.append(spec.name)
                click.echo(f"{spec.name}: STALE (docs/{spec.doc}); run python -m checker.docs_tables --only {spec.name}")
            else:
                click.echo(f"{spec.name}: current (only measured columns or spacing differ)")
            continue
        write(spec, new)
        click.echo(f"{spec.name}: rewritten in docs/{spec.doc}")
    if stale:
        sys.exit(1)


if __name__ == "__main__":
    main()
