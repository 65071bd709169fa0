"""`checker view TRACE`: a counterexample as swimlanes in the terminal, or as an HTML page."""

from __future__ import annotations

import click


def register(cli) -> None:
    cli.add_command(view)


@click.command()
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--html", "html_out", type=click.Path(dir_okay=False), default=None,
              help="write a self-contained HTML page here instead of printing")
@click.option("--hide-internal", is_flag=True,
              help="hide the memory model's own steps (weak: fetch into the window; tso: store-buffer flush)")
@click.option("--step", "step", type=int, default=None,
              help="print the whole state after step N (0: the initial state): memory, ghost, locals, pending")
@click.option("--width", type=int, default=None, help="terminal width (default: the terminal's, or 80 in a pipe)")
def view(trace, html_out, hide_internal, step, width):
    """Show the counterexample in TRACE (a *.trace.json file from `checker explore`)."""
    from checker.cli import Fail, Output, out
    from checker.view import load, render_step, render_terminal, write_html

    if width is not None and width < 40:
        raise Fail("--width must be at least 40")
    doc = load(trace)
    if html_out:
        if step is not None:
            raise Fail("--step applies to the terminal view; the HTML page has a step slider")
        try:
            path = write_html(doc, html_out)
        except OSError as exc:
            from checker.trace import cannot_write

            raise Fail(cannot_write(html_out, exc)) from None
        out.print(f"wrote {path}", markup=False, highlight=False)
        return
    console = out if width is None else Output(width=width, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        # In a pipe or a file: no colour codes, ASCII box lines.
        console = Output(width=width or console.width, color_system=None, no_color=True, highlight=False)
    if step is not None:
        render_step(doc, step, console)
    else:
        render_terminal(doc, console, hide_internal=hide_internal)
