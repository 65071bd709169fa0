"""``checker replay TRACE``: replay a trace against the C reference implementation."""

from __future__ import annotations

import sys

import click


def register(cli) -> None:
    cli.add_command(replay)


@click.command()
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("--impl", type=click.Choice(["c"]), default="c", show_default=True,
              help="the implementation to replay against")
@click.option("--c-mutation", default=None, metavar="NAME[,NAME]|none",
              help="build the C code with this mutation, a,b for several (default: the trace's own mutation)")
@click.option("--c-protocol", default=None, metavar="NAME",
              help="replay against another protocol's C twin that runs the same workload "
                   "(a changequeue trace against changequeue-fixed's C)")
def replay(trace, impl, c_mutation, c_protocol):
    """Replay TRACE event by event against the C implementation.

    Exit 0 if the C code performs exactly the model's events (and ends with
    the same shared memory), 1 at the first divergence, 2 for a bad trace.
    """
    from checker.cli import EXIT_OK, EXIT_VIOLATED, Fail, out
    from checker.replay import DEFAULT, replay_file
    from refimpl.build import RefimplError

    mutation = DEFAULT if c_mutation is None else (None if c_mutation == "none" else c_mutation)
    try:
        report = replay_file(trace, c_mutation=mutation, c_protocol=c_protocol)
    except RefimplError as exc:
        raise Fail(str(exc)) from None
    for line in report.lines():
        out.print(line, markup=False)
    sys.exit(EXIT_OK if report.ok else EXIT_VIOLATED)
