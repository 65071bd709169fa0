"""``checker ci``: the proof-of-invariant job users put in their CI.

What runs and what each row expects is in ``checker.ci_policy``; the JUnit
and Markdown files are written by ``checker.ci_report``.  This module holds
the command's options and prints the table.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from checker.ci_policy import run_ci
from checker.ci_report import write_junit, write_markdown
from checker.cli import EXIT_INCOMPLETE, Fail, err, out
from checker.progress import progress_on


def register(cli) -> None:
    @cli.command()
    @click.option("--protocol", "protocols", multiple=True,
                  help="only this protocol (a name or a model file); repeatable (the litmus suite is then skipped)")
    @click.option("--skip", multiple=True, type=click.Choice(["explore", "mutations", "proofs", "litmus", "fences"]),
                  help="leave out one part of the job")
    @click.option("--fences-dir", type=click.Path(file_okay=False), default="fence-tables", show_default=True,
                  help="where each protocol's fence table (checker fences) is written, as Markdown and JSON, "
                       "with the rows of the docs it computes too (fence_docs --check-from, docs_tables --from-ci)")
    @click.option("--window", type=int, default=None,
                  help="weak runs bound the events in flight per thread to N (an under-approximation every row "
                       "it affects states; default: the sound, unbounded model)")
    @click.option("--workers", type=str, default="1", show_default=True,
                  help="run this many parts of the job at once, in worker processes ('auto': one per core)")
    @click.option("--junit", type=click.Path(dir_okay=False), default=None, help="write JUnit XML here")
    @click.option("--markdown", type=click.Path(dir_okay=False), default=None, help="write a Markdown summary here")
    def ci(protocols, skip, fences_dir, window, workers, junit, markdown):
        """The CI job: explorations, the mutation matrix, proofs, litmus tests (exit 1 on any failure)."""
        from rich.table import Table

        from checker.model import resolve_protocol

        for p in protocols:
            resolve_protocol(p)  # a bad name is a usage error, before any work
        if window is not None and window < 1:
            raise Fail(f"--window must be at least 1, got {window}")
        from checker.parallel import parse_workers

        try:
            nworkers = parse_workers(workers)
        except ValueError as exc:
            raise Fail(str(exc)) from None
        t0 = time.perf_counter()
        with progress_on(err, "checker ci") as progress:
            rows, notes = run_ci(list(protocols), set(skip), progress, Path(fences_dir), window, nworkers)
        elapsed = time.perf_counter() - t0
        from checker import signals

        if not rows and not signals.interrupted():
            raise Fail("nothing to run")
        table = Table(title=f"checker ci: {len(rows)} rows, {elapsed:.0f}s", title_justify="left")
        for col in ("row", "expected", "outcome", "ok", "s"):
            table.add_column(col, no_wrap=(col == "row"))
        for r in rows:
            style = "green" if r.ok else "red"
            table.add_row(r.name, r.expected, r.outcome, f"[{style}]{'ok' if r.ok else 'FAILED'}[/{style}]",
                          f"{r.seconds:.1f}")
        out.print(table)
        for n in notes:
            out.print(n)
        failed = [r for r in rows if not r.ok]
        if junit:
            write_junit(rows, Path(junit))
        if markdown:
            write_markdown(rows, notes, elapsed, Path(markdown))
        for r in failed:
            out.print(f"FAILED {r.name}: expected {r.expected}, got {r.outcome}: {r.detail}", markup=False)
        if signals.interrupted():
            out.print(f"incomplete: {len(rows)} rows ran ({len(failed)} failed) before the job was "
                      f"{signals.how()}", markup=False)
            return EXIT_INCOMPLETE
        if failed:
            out.print(f"{len(failed)} of {len(rows)} rows failed", markup=False)
            return 1
        out.print(f"all {len(rows)} rows passed", markup=False)
        return 0
