"""The fence table as text: a rich table for the terminal, Markdown for documents and CI summaries."""

from __future__ import annotations

from checker.fence_analysis import C_REPLAY_RELAXED, FULL_BARRIER, BarrierResult, FenceTable, Placement

SHORT_PROPERTY = {"queue integrity": "integrity", "exclusive ownership": "exclusive", "notify integrity": "notify",
                  "postmaster safety": "pm safety", "postmaster wait-freedom": "pm wait-free",
                  "deadlock freedom": "deadlock", "memory safety": "memory safety", "conservation": "conservation"}
WEAKER_NAME = {"pg_read_barrier": "read", "pg_write_barrier": "write"}


def cell(r: BarrierResult, kind: str, broken_as_written: bool = False) -> str:
    if broken_as_written:
        return "- (broken as written)"
    if not r.complete:
        return "not violated so far (incomplete)"
    if not r.needed:
        return "not needed"
    text = f"NEEDED: {SHORT_PROPERTY.get(r.property, r.property)}, {r.steps} steps"
    if kind == FULL_BARRIER and r.weaker:
        enough = [WEAKER_NAME[w] for w, ok in r.weaker.items() if ok]
        text += f"; {' or '.join(enough)} barrier suffices" if enough else "; no weaker barrier suffices"
    return text


def _placement_text(p: Placement) -> str:
    if not p.needed:
        return "none needed"
    if p.fences is None:
        return f"none found: {p.note}"
    how = "minimum" if p.minimum else "minimal, not shown minimum"
    extra = f" ({p.note})" if p.note else ""
    n = len(p.placed)
    where = ", ".join(f"{prim}() before {site}" for site, prim in p.placed)
    weakest = "; each the weakest kind that suffices given the others" if p.weakened else ""
    return f"{n} barrier{'' if n == 1 else 's'} ({how}): {where}{weakest}{extra}"


def _minimal_text(t: FenceTable, key: str) -> str:
    m = t.minimal[key]
    if m.barriers is None:
        return "none: with every barrier the protocol already breaks a property"
    what = ", ".join(str(s) for s in m.barriers) or "no barrier"
    how = "minimum" if m.minimum else "minimal (by deletion; smaller sets not all checked)"
    if not m.complete:
        how += ", resting on incomplete checks"
    return f"{what} ({how})"


def _grouped(t: FenceTable, label: str, text) -> list[str]:
    """One line per distinct answer, naming the memory model/profile pairs that share it."""
    by_text: dict[str, list[str]] = {}
    for k in t.keys:
        by_text.setdefault(text(k), []).append(k)
    return [f"{label}, {', '.join(keys)}: {answer}" for answer, keys in by_text.items()]


def _status_lines(t: FenceTable) -> list[str]:
    lines = []
    for k in t.baseline_violated:
        o = t.baseline[k]
        lines.append(f"as written the protocol breaks {o.property} under {k} ({o.steps} steps"
                     f"{', trace ' + o.trace if o.trace else ''}): its column says nothing about single barriers")
    for why in t.incomplete:
        lines.append(f"INCOMPLETE: {why}")
    return lines


def footnotes(t: FenceTable) -> list[str]:
    notes = []
    atomics = [str(b.site) for b in t.barriers if b.rmw]
    if atomics:
        notes.append(f"{', '.join(atomics)}: an atomic's implied ordering, removed by relaxing that one RMW "
                     f"(atomic on its word, ordering nothing else; only weak can reorder it); C twin: "
                     f"{C_REPLAY_RELAXED}")
    for b in t.barriers:
        if b.reason:
            notes.append(f"{b.site}: documentation only, says the model: {b.reason}")
            if any(r.needed for r in t.results[b.site].values()):
                notes.append(f"{b.site}: marked documentation only, but the check finds it NEEDED")
    return notes


def traces(t: FenceTable) -> list[str]:
    return [f"{b.site} {'relaxed' if b.rmw else 'removed'}, {k}: {r.trace}"
            for b in t.barriers for k, r in t.results[b.site].items() if r.trace]


def bounds_line(t: FenceTable) -> str:
    window = "" if t.reordering_bound is None else f", weak window {t.reordering_bound}"
    return (f"bounds: {t.bounds.text()}{window}; {t.checks} checks, {t.cpu_seconds:.1f} CPU seconds, "
            f"{t.wall_seconds:.1f} s with {t.workers} worker(s)")


def print_table(t: FenceTable, console) -> None:
    from rich.table import Table

    table = Table(title=f"barriers of {t.protocol}", show_lines=True)
    table.add_column("barrier")
    table.add_column("file:line")
    table.add_column("orders")
    models = list(dict.fromkeys(k.split("/")[0] for k in t.keys))
    for mm in models:
        table.add_column(mm)
    for b in t.barriers:
        name = b.shown + (" [doc]" if b.reason else "")
        table.add_row(name, str(b.site), b.orders, *(_model_cell(t, b, mm) for mm in models))
    console.print(table)
    for line in (_grouped(t, "minimal set", lambda k: _minimal_text(t, k))
                 + _grouped(t, "redundant given the others", lambda k: ", ".join(map(str, t.redundant[k])) or "none")
                 + _grouped(t, "placement from scratch", lambda k: _placement_text(t.placement[k]))
                 + footnotes(t) + ([t.twin.summary()] if t.twin is not None else [])
                 + [f"trace: {x}" for x in traces(t)] + [bounds_line(t)]
                 + [f"not run: {k} (that profile's machine cannot show that memory model)" for k in t.not_run]
                 + _status_lines(t)):
        console.print(line, markup=False, highlight=False)


def _model_cell(t: FenceTable, b, mm: str) -> str:
    """One memory model's verdicts over its profiles; one line when every profile agrees."""
    texts = {k.split("/")[1]: cell(t.results[b.site][k], b.kind, k in t.baseline_violated)
             for k in t.keys if k.split("/")[0] == mm}
    if len(set(texts.values())) == 1:
        only = next(iter(texts.values()))
        return only if len(texts) == 1 else f"{only} (every profile)"
    return "\n".join(f"{prof}: {text}" for prof, text in texts.items())


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown(t: FenceTable, timings: bool = True) -> str:
    out = [f"### {t.protocol}", ""]
    out.append("| barrier | file:line | orders | " + " | ".join(t.keys) + " |")
    out.append("|---|---|---|" + "---|" * len(t.keys))
    for b in t.barriers:
        name = (f"`{b.kind}` ordering" if b.rmw else f"`{b.kind}`") + (" (documentation only)" if b.reason else "")
        out.append(f"| {name} | `{b.site}` | {_md(b.orders)} | "
                   + " | ".join(_md(cell(t.results[b.site][k], b.kind, k in t.baseline_violated)) for k in t.keys) + " |")
    if not t.barriers:
        out.append("| (no barrier) | | | " + " | ".join("" for _ in t.keys) + " |")
    out.append("")
    out += [f"- {_md(x)}" for x in _grouped(t, "minimal set", lambda k: _minimal_text(t, k))]
    out += [f"- {x}" for x in _grouped(t, "redundant given the others",
                                        lambda k: ", ".join(f"`{s}`" for s in t.redundant[k]) or "none")]
    out += [f"- {_md(x)}" for x in _grouped(t, "placement from scratch", lambda k: _placement_text(t.placement[k]))]
    out += [f"- {_md(n)}" for n in footnotes(t)]
    if t.twin is not None:
        out.append(f"- {_md(t.twin.summary())}")
    if timings:
        out.append(f"- {bounds_line(t)}")
    else:
        window = "" if t.reordering_bound is None else f", weak window {t.reordering_bound}"
        out.append(f"- bounds: {t.bounds.text()}{window}; {t.checks} checks")
    out += [f"- {_md(s)}" for s in _status_lines(t)]
    return "\n".join(out) + "\n"


def summary_row(t: FenceTable) -> str:
    """One README row: what each memory model needs (documented profile), and whether C agrees."""
    def needs(mm: str) -> str:
        keys = [k for k in t.keys if k.startswith(mm + "/")]
        key = f"{mm}/documented" if f"{mm}/documented" in keys else (keys[0] if keys else None)
        if key is None:
            return "-"
        if t.minimal[key].barriers is None:
            return "broken as written"
        n = len(t.minimal[key].barriers)
        return f"{n} of {len(t.barriers)}" + ("" if t.minimal[key].minimum else " (minimal)")
    twin = "-" if t.twin is None else ("agrees" if t.twin.agrees else
                                       ("n/a" if not t.twin.available else "DIFFERS"))
    atomics = sum(1 for b in t.barriers if b.rmw)
    count = f"{len(t.barriers) - atomics}" + (f" + {atomics} atomics" if atomics else "")
    return f"| {t.protocol} | {count} | {needs('sc')} | {needs('tso')} | {needs('weak')} | {twin} |"


def summary_rows(tables: list[FenceTable]) -> list[str]:
    """README rows; protocols whose rows agree share one (the README has a line budget)."""
    return grouped_summary_rows([summary_row(t) for t in tables])


def grouped_summary_rows(rows: list[str]) -> list[str]:
    """``summary_row``s, in order, with the protocols whose cells agree on one row."""
    by_rest: dict[str, list[str]] = {}
    for row in rows:
        _, name, rest = row.split("|", 2)
        by_rest.setdefault(rest, []).append(name.strip())
    return [f"| {', '.join(names)} |{rest}" for rest, names in by_rest.items()]


SUMMARY_HEADER = ["| barriers needed ([docs/fences.md](docs/fences.md)) | barriers (+ atomic RMWs' orderings) | sc "
                  "| tso | weak | C twin |",
                  "|---|---|---|---|---|---|"]
