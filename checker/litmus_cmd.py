"""`checker litmus FILE...`: run litmus tests and compare with their stated expectations."""

from __future__ import annotations

import json
import sys

import click


def register(cli):
    @cli.command()
    @click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
    @click.option("--memory-model", "-m", default="weak", show_default=True, help="sc, tso or weak")
    @click.option("--profile", default="documented", show_default=True, help="documented, arm64 or x86-64")
    @click.option("--window", type=int, default=None, help="weak/tso: events in flight per thread")
    @click.option("--suite", is_flag=True, help="run the shipped suite (models/litmus/*.litmus)")
    @click.option("--json", "as_json", is_flag=True, help="print {name: {result, states, outcomes}} as JSON")
    def litmus(files, memory_model, profile, window, suite, as_json):
        """Run litmus tests (herd7 C dialect): is the `exists` condition allowed or forbidden?

        Exit 1 when a test's result differs from the expectation stated in its file.
        """
        from checker.cli import Fail, out
        from checker.litmus import LitmusError, parse_litmus, run_litmus, suite_files

        paths = list(files) + ([str(p) for p in suite_files()] if suite else [])
        if not paths:
            raise Fail("give litmus files, or --suite")
        results = {}
        mismatches = 0
        try:
            for path in paths:
                _require_text(path)
                test = parse_litmus(path)
                r = run_litmus(test, memory_model, profile, window)
                results[r.name] = r
                if r.ok is False:
                    mismatches += 1
        except LitmusError as exc:
            raise Fail(str(exc)) from None
        if as_json:
            print(json.dumps({name: r.as_json() for name, r in results.items()}, indent=1))
        else:
            out.print(f"memory model {memory_model}, profile {profile}")
            for name, r in results.items():
                if r.ok is None:
                    verdict = "[dim](no expectation recorded)[/dim]"
                elif r.ok:
                    verdict = "[green]as expected[/green]"
                else:
                    exp = r.expected[0] + (f"/{r.expected[1]}" if r.expected[1] else "")
                    verdict = f"[red]MISMATCH: expected {exp}[/red]"
                out.print(f"  {name:<16} {r.result:<10} outcomes {r.outcomes:<3} states {r.states:<6} {verdict}")
        sys.exit(1 if mismatches else 0)


def _require_text(path) -> None:
    """A binary file is one line (exit 2) before the parser sees it, whatever the parser does with bytes."""
    from pathlib import Path

    from checker.cli import Fail

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise Fail(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Fail(f"{path}: not a text file (byte {exc.start} is not UTF-8); a litmus test is herd7 C text") from None
