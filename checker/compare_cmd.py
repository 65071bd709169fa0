"""``checker compare``: every protocol under the same settings, in one table.

The runs and the table's cells come from ``checker.compare``; this module
holds the command's options and prints.
"""

from __future__ import annotations

import json
import sys
import time

import click

from checker.compare import C_SLOTS, ROGUE_RUN, add_c_figures, compare, settings_line, table_rows
from checker.markdown import markdown_table
from checker.model import load_protocols
from checker.progress import progress_on


def register(cli) -> None:
    from checker.cli import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATED, Fail, emit, err, out

    @cli.command("compare")
    @click.option("--threads", type=int, default=3, show_default=True, help="the postmaster and THREADS-1 backends")
    @click.option("--slots", type=int, default=2, show_default=True, help="number of slots")
    @click.option("--ops", type=int, default=2, show_default=True, help="workers each backend registers")
    @click.option("--memory-model", "-m", default=None, help="sc, tso or weak (default: the checker's default)")
    @click.option("--profile", default="documented", show_default=True, help="primitive orderings")
    @click.option("--step-bound", type=int, default=64, show_default=True,
                  help="most postmaster steps allowed in one operation")
    @click.option("--protocol", "protocols", multiple=True, help="only these protocols (repeatable)")
    @click.option("--max-states", type=int, default=None, help="cap each run (verdicts then say incomplete)")
    @click.option("--json", "as_json", is_flag=True, help="print the table as JSON")
    @click.option("--markdown", "as_markdown", is_flag=True, help="print the table as Markdown")
    @click.option("--with-c", "with_c", is_flag=True,
                  help=f"add the C twin's single-threaded ns per obtain + release at {' and '.join(map(str, C_SLOTS))} slots "
                       f"(checker bench-c; needs a C compiler)")
    def compare_cmd(threads, slots, ops, memory_model, profile, step_bound, protocols, max_states, as_json,
                    as_markdown, with_c):
        """Run every protocol under the same settings and print one comparison table."""
        from checker.run import DEFAULT_MEMORY_MODEL

        if as_json and as_markdown:
            raise Fail("choose one of --json and --markdown")
        if step_bound < 1:
            raise Fail("--step-bound must be at least 1 here (compare reports the most steps per operation)")
        if max_states is not None and max_states < 1:
            raise Fail("--max-states must be at least 1")
        mm = memory_model or DEFAULT_MEMORY_MODEL
        t0 = time.perf_counter()
        with progress_on(err, "checker compare") as progress:
            rows = compare(threads, slots, ops, mm, profile, step_bound, list(protocols) or None, max_states,
                           progress=progress)
        if with_c:
            add_c_figures(rows, Fail)
        total = time.perf_counter() - t0
        settings = settings_line(threads, slots, ops, mm, profile, step_bound)
        header, body = table_rows(rows)
        if as_json:
            emit(json.dumps({"settings": {"threads": threads, "slots": slots, "ops": ops, "memory_model": mm,
                                           "profile": profile, "step_bound": step_bound,
                                           "rogue_run": ROGUE_RUN, "obtain_steps_memory_model": "sc"},
                              "seconds": round(total, 2), "protocols": [r.as_dict() for r in rows]}, indent=1))
        elif as_markdown or not out.is_terminal:
            # Nineteen columns do not fit a terminal's width when piped into a
            # file or a pager; Markdown keeps every cell whole there.
            emit(settings + f"; {total:.0f}s in all\n")
            emit(markdown_table(header, body))
        else:
            from rich.table import Table

            t = Table(title=settings, title_justify="left")
            for h in header:
                t.add_column(h, overflow="fold")
            for cells in body:
                styled = [f"[red]{c}[/red]" if c == "VIOLATED" else c for c in cells]
                t.add_row(*styled)
            out.print(t)
            out.print(f"{total:.1f}s in all")
        from checker import signals

        if signals.interrupted():
            done = [r.protocol for r in rows]
            left = [n for n in (list(protocols) or list(load_protocols())) if n not in done]
            err.print(f"checker: {signals.how()}: compared {len(done)} protocol(s)"
                      f"{' (' + ', '.join(done) + ')' if done else ''}; not run: {', '.join(left) or 'none'}",
                      markup=False)
            sys.exit(EXIT_INCOMPLETE)
        verdicts = [v for r in rows for v in list(r.verdicts.values()) + list(r.rogue_verdicts.values())]
        if any(v == "VIOLATED" for v in verdicts):
            sys.exit(EXIT_VIOLATED)
        if any(not (v.startswith("holds") or v.startswith("not checked")) for v in verdicts):
            sys.exit(EXIT_INCOMPLETE)
        sys.exit(EXIT_OK)
