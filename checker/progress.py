"""Progress of the long commands (compare, ci, prove).

The library reports what it is doing through an optional callback that
takes a ``Tick``; it never prints.  The command turns the ticks into a rich
progress bar on stderr when stderr is a terminal, and into nothing otherwise
(a log or a pipe gets only the result).  Tests pass their own callback and
read the ticks: what was reported, never how fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console


@dataclass(frozen=True)
class Tick:
    """One report: what is under way, and how many of how many steps are done (None: not counted)."""

    what: str
    done: int | None = None
    total: int | None = None


ProgressFn = Callable[[Tick], None]


def report(progress: ProgressFn | None, what: str, done: int | None = None, total: int | None = None) -> None:
    if progress is not None:
        progress(Tick(what, done, total))


@contextmanager
def progress_on(console: Console, title: str) -> Iterator[ProgressFn | None]:
    """A callback that shows ticks as a transient bar on ``console``; None when it is not a terminal."""
    if not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(title, total=None)

        def show(tick: Tick) -> None:
            bar.update(task, description=f"{title}: {tick.what}", total=tick.total,
                       completed=tick.done if tick.done is not None else 0)

        yield show
