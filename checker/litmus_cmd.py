"""`checker litmus FILE|DIR...`: run litmus tests and compare with what their files state."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from checker.memory import DEFAULT_MEMORY_MODEL

# The order of the summary's counts (text and JSON).
VERDICTS = ("agree", "known", "stronger", "disagree", "unchecked")
_VERDICT_TEXT = {"agree": "agree", "known": "known differences", "stronger": "stronger model (expected)",
                 "disagree": "disagree", "unchecked": "nothing stated"}


@dataclass
class Summary:
    """What a run over files and directories found; every file is counted once."""

    accepted: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line reason)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))

    def as_json(self) -> dict:
        return {"files": self.accepted + len(self.refused), "accepted": self.accepted, **self.counts,
                "refused": len(self.refused)}

    def line(self) -> str:
        parts = ", ".join(f"{self.counts[v]} {_VERDICT_TEXT[v]}" for v in VERDICTS)
        return (f"{self.accepted + len(self.refused)} files: {self.accepted} accepted ({parts}), "
                f"{len(self.refused)} refused")


def litmus_files(directory: Path) -> list[Path]:
    """Every ``.litmus`` file under ``directory``, recursively, in a stable order."""
    return sorted(p for p in directory.rglob("*.litmus") if p.is_file())


def register(cli):
    @cli.command()
    @click.argument("paths", nargs=-1, type=click.Path(exists=True))
    @click.option("--memory-model", "-m", default=DEFAULT_MEMORY_MODEL, show_default=True, help="sc, tso or weak")
    @click.option("--profile", default="documented", show_default=True, help="documented, arm64 or x86-64")
    @click.option("--window", type=int, default=None, help="weak: events in flight per thread; tso: buffered stores per thread")
    @click.option("--suite", is_flag=True, help="run the shipped suite (models/litmus/*.litmus)")
    @click.option("--engine", type=click.Choice(["interpreted", "c"]), default="interpreted", show_default=True,
                  help="the interpreted reference models, or c: the sc or tso search in generated C")
    @click.option("--json", "as_json", is_flag=True,
                  help="print {name: {result, states, outcomes, verdict}} as JSON; with a directory, "
                       "{summary, tests, refused}")
    def litmus(paths, memory_model, profile, window, suite, engine, as_json):
        """Run litmus tests (herd7 C dialect): is the `exists` condition allowed or forbidden?

        Each FILE is checked against its `(* expect ... *)` comment, or failing that
        against its Linux-kernel `(* Result: ... *)` line (see docs/litmus.md). A DIR
        runs every .litmus file under it and prints a summary; a file that cannot be
        run is then counted as refused instead of stopping the run.

        Exit 1 when a result disagrees with its file; otherwise 2 if a file was
        refused (a lone FILE that cannot be run: one line on stderr, exit 2).
        """
        from rich.markup import escape

        from checker.cli import Fail, emit, out
        from checker.litmus import LitmusError, parse_litmus, run_litmus, suite_files
        from checker.memory import memory_models
        from checker.model import ModelError

        # (path, key in the results, tolerate refusal?)
        jobs: list[tuple[Path, str | None, bool]] = []
        directories = False
        # Results of one directory are keyed by the path under it; with more
        # arguments, by the path as given, so that no two files share a key.
        alone = len(paths) == 1 and not suite
        for arg in paths:
            path = Path(arg)
            if path.is_dir():
                directories = True
                found = litmus_files(path)
                if not found:
                    raise Fail(f"{path}: no .litmus files under this directory")
                jobs.extend((f, str(f.relative_to(path)) if alone else str(f), True) for f in found)
            else:
                jobs.append((path, None, False))
        jobs.extend((p, None, False) for p in (suite_files() if suite else []))
        if not paths and not suite:
            raise Fail("give litmus files or directories, or --suite")
        summary = Summary()
        results = {}
        for path, key, tolerate in jobs:
            try:
                _require_text(path)
                test = parse_litmus(path)
                r = run_litmus(test, memory_model, profile, window, engine)
            except LitmusError as exc:
                if not tolerate:
                    raise Fail(str(exc)) from None
                summary.refused.append((str(path), str(exc)))
                continue
            except ModelError as exc:
                raise Fail(str(exc)) from None
            summary.accepted += 1
            summary.counts[r.judgement.verdict] += 1
            key = key or r.name
            results[key if key not in results else str(path)] = r
        disagreements = summary.counts["disagree"]
        if as_json:
            tests = {k: r.as_json() | ({"name": r.name} if k != r.name else {}) for k, r in results.items()}
            if directories:
                emit(json.dumps({"memory_model": memory_model, "profile": profile, "summary": summary.as_json(),
                                  "tests": tests,
                                  "refused": [{"path": p, "error": e} for p, e in summary.refused]}, indent=1))
            else:
                emit(json.dumps(tests, indent=1))
        else:
            # An explicit --window bounds weak's events in flight or tso's buffers: say so, as explore's
            # verdicts do.
            bound = f" ({memory_models()[memory_model].bound_phrase.format(n=window)})" if window else ""
            out.print(f"memory model {memory_model}{bound}, profile {profile}")
            for key, r in results.items():
                j = r.judgement
                if j.verdict == "agree":
                    verdict = "[green]as expected[/green]" + (f" ({escape(j.detail)})" if j.detail else "")
                elif j.verdict == "known":
                    verdict = f"[yellow]known difference[/yellow]: {escape(j.detail)}"
                elif j.verdict == "stronger":
                    verdict = f"[cyan]stronger model[/cyan]: {escape(j.detail)}"
                elif j.verdict == "unchecked":
                    verdict = "[dim](no expectation recorded)[/dim]"
                elif r.expected is not None:
                    exp = r.expected[0] + (f"/{r.expected[1]}" if r.expected[1] else "")
                    verdict = f"[red]MISMATCH: expected {exp}[/red]"
                else:
                    verdict = f"[red]MISMATCH: {escape(j.detail)}[/red]"
                out.print(f"  {escape(key):<16} {r.result:<10} outcomes {r.outcomes:<3} states {r.states:<6} "
                          f"{verdict}")
            for path, error in summary.refused:
                out.print(f"  [red]refused[/red] {escape(error)}")
            out.print(summary.line())
        sys.exit(1 if disagreements else (2 if summary.refused else 0))


def _require_text(path) -> None:
    """A binary file is refused (one line) before the parser sees it, whatever the parser does with bytes."""
    from checker.litmus import LitmusError

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise LitmusError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LitmusError(f"{path}: not a text file (byte {exc.start} is not UTF-8); "
                          "a litmus test is herd7 C text") from None
