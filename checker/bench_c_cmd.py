"""``checker bench-c``: what each design costs in real code.

The harness, the counters' checks, the table and the plot are in
``checker.bench_c``; this module holds the command's options and prints.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from checker.bench_c import (
    DEFAULT_SLOTS, DEFAULT_THREADS, MAX_BACKENDS, PLOT_EXTRA, BadDesignName, BenchRunError, import_pyplot,
    machine_line, plot, run_bench, select_designs, table_rows, versus_linear, versus_lines,
)
from checker.markdown import markdown_table


def _int_list(text: str, option: str, low: int, high: int, what: str) -> list[int]:
    from checker.cli import Fail

    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            v = int(part)
        except ValueError:
            raise Fail(f"{option} takes comma-separated whole numbers, got {text!r}") from None
        if not low <= v <= high:
            raise Fail(f"{option}: {what} must be between {low} and {high}, got {v}")
        if v not in values:
            values.append(v)
    return values


def register(cli) -> None:
    cli.add_command(bench_c)


@click.command("bench-c")
@click.option("--protocol", "protocols", multiple=True,
              help="only this design (repeatable): a C twin, bgworker (the linear search), ck-ring, ck-bitmap")
@click.option("--slots", "slots_text", default=",".join(map(str, DEFAULT_SLOTS)), show_default=True,
              help="slot counts, comma-separated")
@click.option("--threads", "threads_text", default=",".join(map(str, DEFAULT_THREADS)), show_default=True,
              help="backend-thread counts against one postmaster thread, comma-separated "
                   "(a single-threaded run is always added)")
@click.option("--seconds", type=float, default=0.5, show_default=True, help="length of each run")
@click.option("--repeat", type=int, default=1, show_default=True,
              help="run each setting this many times and keep the fastest (every run's counters are checked)")
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON")
@click.option("--markdown", "as_markdown", is_flag=True, help="print the results as Markdown")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also draw the results into this PNG (needs the 'plot' extra: matplotlib)")
def bench_c(protocols, slots_text, threads_text, seconds, repeat, as_json, as_markdown, plot_path):
    """Benchmark every design's C code: obtain + release of a slot, the pool nearly full."""
    from checker.cli import EXIT_OK, EXIT_VIOLATED, Fail, emit, err, out
    from refimpl.build import RefimplError

    if as_json and as_markdown:
        raise Fail("choose one of --json and --markdown")
    slots = _int_list(slots_text, "--slots", 1, 2**31 - 1, "slot counts")
    threads = _int_list(threads_text, "--threads", 1, MAX_BACKENDS, "backend counts")
    if not 0 < seconds <= 3600:
        raise Fail(f"--seconds must be more than 0 and at most 3600, got {seconds}")
    if not 1 <= repeat <= 100:
        raise Fail(f"--repeat must be between 1 and 100, got {repeat}")
    if plot_path is not None and import_pyplot() is None:
        raise Fail(f"--plot needs matplotlib: pip install 'slotcheck[{PLOT_EXTRA}]'")
    try:
        designs, notices = select_designs(list(protocols))
    except BadDesignName as exc:
        raise Fail(str(exc)) from None
    status = None
    if err.is_terminal and not (as_json or as_markdown):
        status = err.status("benchmarking…")
        status.start()
    t0 = time.perf_counter()
    try:
        report = run_bench(designs, slots, threads, seconds, repeat,
                           progress=(lambda msg: status.update(msg)) if status else None)
    except (RefimplError, BenchRunError) as exc:
        raise Fail(str(exc)) from None
    finally:
        if status is not None:
            status.stop()
    report.notices[:0] = notices
    total = time.perf_counter() - t0
    for notice in report.notices:
        err.print(f"checker: notice: {notice}", markup=False)
    header, body = table_rows(report)
    if as_json:
        emit(json.dumps({"machine": report.machine, "settings": report.settings, "seconds": round(total, 2),
                          "notices": report.notices, "rows": [r.as_dict() for r in report.rows],
                          "versus_linear_search": versus_linear(report.rows)}, indent=1))
    elif as_markdown:
        emit(machine_line(report) + "\n")
        emit(markdown_table(header, body))
        vs = versus_lines(report)
        if vs:
            emit("")
            for line in vs:
                emit(f"- {line}")
    else:
        from rich.table import Table

        t = Table(title=machine_line(report), title_justify="left")
        for h in header:
            t.add_column(h, overflow="fold")
        for cells in body:
            t.add_row(*[f"[red]{c}[/red]" if c.startswith("FAILED") else c for c in cells])
        out.print(t)
        for line in versus_lines(report):
            out.print(line, markup=False)
        out.print(f"{total:.1f}s in all")
    if plot_path is not None:
        plot(report, plot_path)
        if not as_json:
            err.print(f"checker: plot written to {plot_path}", markup=False)
    sys.exit(EXIT_VIOLATED if report.failed else EXIT_OK)
