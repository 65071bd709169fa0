"""docs/cli.md, generated from the click commands themselves.

The page is never edited by hand: ``python -m checker.clidoc`` rewrites it,
and a test fails when the committed page differs from what the commands say,
so an option added to a command cannot be left out of the reference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """\
# Command-line reference

Generated from the commands' own help by `python -m checker.clidoc`; do not
edit by hand (a test compares this page with the commands).

Exit codes, for every command: 0 holds / proved, 1 violated, 2 bad usage,
model or input (one line on stderr), 3 incomplete (a limit, an interruption
or an undecided proof; never reported as success).
"""


def _help_text(group: click.Group, name: str, cmd: click.Command) -> str:
    # A fixed width keeps the page independent of the terminal it was made on.
    # The group's settings (-h as well as --help) as a real run has them: a
    # command caches its help option the first time it makes one, so help
    # made without them would differ from a run's, and with the order of calls.
    parent = click.Context(group, info_name="checker", **group.context_settings)
    ctx = click.Context(cmd, info_name=name, parent=parent, terminal_width=100, max_content_width=100,
                        **cmd.context_settings)
    return cmd.get_help(ctx)


def generate() -> str:
    from checker.cli import _register_optional_commands, cli

    _register_optional_commands()
    parts = [HEADER]
    for name in sorted(cli.commands):
        cmd = cli.commands[name]
        if cmd.hidden:
            continue
        parts.append(f"\n## checker {name}\n\n```\n{_help_text(cli, name, cmd).rstrip()}\n```\n")
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = generate()
    if args == ["--check"]:
        if not DOC.is_file() or DOC.read_text(encoding="utf-8") != text:
            print(f"{DOC} is stale: run python -m checker.clidoc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
