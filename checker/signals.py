"""Ctrl-C and SIGTERM: every command stops with exit 3 and says what it covered, never a traceback.

Two stages.  ``install_early`` runs before anything heavy is imported (the
entry points call it first): a signal then ends the process at once with one
line and exit 3, since there is nothing to report yet.  ``install`` runs once
the commands are loaded: SIGINT and SIGTERM both raise ``KeyboardInterrupt``
(SIGTERM as its subclass ``Terminated``), which the search loop turns into
an incomplete result with its coverage report, and both set a flag that
commands running several searches in a row (compare, ci) read to stop after
the current one instead of starting the next.

Only the ``checker`` program installs these handlers; importing the package
(tests, notebooks) leaves the interpreter's own handling alone.
"""

from __future__ import annotations

import os
import signal

EXIT_INCOMPLETE = 3

_received: list[str] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is."""


def _quit_while_starting(signum, frame):  # pragma: no cover - runs in the child process
    name = "terminated" if signum == signal.SIGTERM else "interrupted"
    os.write(2, f"checker: {name} while starting; nothing was checked\n".encode())
    # Nothing was started that needs cleaning up, and an exception here would
    # surface as a traceback from whatever module was being imported.
    os._exit(EXIT_INCOMPLETE)


def install_early() -> None:
    signal.signal(signal.SIGINT, _quit_while_starting)
    signal.signal(signal.SIGTERM, _quit_while_starting)


def _interrupt(signum, frame):
    terminated = signum == signal.SIGTERM
    _received.append("terminated" if terminated else "interrupted")
    raise Terminated() if terminated else KeyboardInterrupt()


def install() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def install_in_pool_worker(busy) -> None:
    """In a worker of a process pool, under the ``checker`` program: a signal stops the task under way (its
    result says it is incomplete) but not an idle worker, which would print the pool's traceback while it
    waits for its next task.  Ctrl-C reaches the command too, which shuts the pool down."""

    def handler(signum, frame):
        if busy():
            _interrupt(signum, frame)

    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is _interrupt:
            signal.signal(sig, handler)


def interrupted() -> bool:
    """A SIGINT or SIGTERM arrived since the command started."""
    return bool(_received)


def how() -> str:
    """'interrupted' (Ctrl-C) or 'terminated' (SIGTERM), for messages."""
    return _received[-1] if _received else "interrupted"


def run_entry_point() -> None:
    """The ``checker`` program: handlers first, then the imports, then the command."""
    install_early()
    from checker.cli import main

    try:
        main()
    except SystemExit as exc:
        _exit_now(exc.code)
    _exit_now(0)


def _exit_now(code) -> None:
    """End the process as ``sys.exit(code)`` would, without freeing every object first.

    A search leaves millions of objects (visited set, memos, the weak model's
    caches) that the interpreter would free one by one on the way out: 4 s
    after `checker explore ring --threads 3 -m weak`, whose search took 19.
    The exit handlers still run (temporary directories, multiprocessing,
    Ray), and the output is flushed, so nothing but the freeing is skipped.
    """
    import atexit
    import sys

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"), as the interpreter prints it
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written anyway
            pass
    os._exit(status)
