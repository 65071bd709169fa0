"""``checker ci``'s rows as JUnit XML (for CI systems) and as a Markdown summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from checker.ci_policy import Row


def write_junit(rows: list[Row], path: Path) -> None:
    suites = ET.Element("testsuites", name="checker ci")
    by_suite: dict[str, list[Row]] = {}
    for r in rows:
        by_suite.setdefault(r.suite, []).append(r)
    for suite, rs in by_suite.items():
        el = ET.SubElement(suites, "testsuite", name=suite, tests=str(len(rs)),
                           failures=str(sum(not r.ok for r in rs)), time=f"{sum(r.seconds for r in rs):.3f}")
        for r in rs:
            case = ET.SubElement(el, "testcase", classname=f"checker.ci.{suite}", name=r.name,
                                 time=f"{r.seconds:.3f}")
            if not r.ok:
                f = ET.SubElement(case, "failure", message=f"expected {r.expected}, got {r.outcome}")
                f.text = r.detail
            else:
                ET.SubElement(case, "system-out").text = f"{r.outcome}: {r.detail}"
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def write_markdown(rows: list[Row], notes: list[str], elapsed: float, path: Path) -> None:
    failed = [r for r in rows if not r.ok]
    lines = ["# checker ci", "",
             f"{len(rows) - len(failed)} of {len(rows)} rows passed in {elapsed:.0f} s"
             + (f"; **{len(failed)} failed**" if failed else "."), ""]
    for n in notes:
        lines += [f"> {n}", ""]
    lines += ["| suite | row | expected | outcome | ok | seconds | detail |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.suite} | {_md(r.name)} | {r.expected} | {_md(r.outcome)} | "
                     f"{'yes' if r.ok else '**NO**'} | {r.seconds:.1f} | {_md(r.detail)} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
