"""Markdown tables, as the commands print them and as docs/ holds them."""

from __future__ import annotations


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; a ``|`` inside a cell is escaped so it stays in its column."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for cells in body:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
