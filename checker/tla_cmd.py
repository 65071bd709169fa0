"""`checker tla-states`: the command over checker.tla (see that package)."""

from __future__ import annotations

import click

from checker.tla import TlaError, explore_tla


def register(cli) -> None:
    from checker.cli import Fail, emit

    @cli.command("tla-states")
    @click.argument("module", type=click.Path(dir_okay=False))
    @click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
                  help="TLC configuration (default: MODULE with .cfg)")
    @click.option("--max-states", type=int, default=None, help="stop after this many distinct states (exit 3)")
    def tla_states(module, config, max_states):
        """Explore a models/tla spec without TLC and count its distinct states.

        Handles the subset of TLA+ the specs in models/tla use; checks the
        configuration's invariants and deadlock, not its temporal properties.
        """
        try:
            out = explore_tla(module, config, max_states)
        except TlaError as exc:
            raise Fail(str(exc)) from None
        except (TypeError, AttributeError, KeyError, IndexError) as exc:
            # A construct of a shape this explorer does not expect.
            raise Fail(f"the spec uses TLA+ that tla-states does not handle ({type(exc).__name__}: {exc})") from None
        except RecursionError:
            raise Fail("the spec nests too deeply for this explorer") from None
        emit(f"{out.states} distinct states, depth {out.depth}")
        if out.violated == "deadlock":
            emit("deadlock reached")
            raise SystemExit(1)
        if out.violated in out.properties_failed:
            emit(f"property {out.violated} is violated")
            raise SystemExit(1)
        if out.violated:
            emit(f"invariant {out.violated} is violated")
            raise SystemExit(1)
        if not out.complete:
            emit("search incomplete: state limit reached")
            raise SystemExit(3)
        emit("no invariant violated (exhaustive)")
        for name in out.properties_checked:
            emit(f"property {name} holds")
