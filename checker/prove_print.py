"""How `checker prove` prints bounded-model-checking and invariant results.

The provers in ``checker.prove`` return results and never print; this is the
command line's side of them.
"""

from __future__ import annotations

from checker.cli import out
from checker.prove.bmc import BmcResult
from checker.prove.invariants import InvResult


def print_bmc(res: BmcResult) -> None:
    p = res.params
    mut = f", mutation {res.mutation}" if res.mutation else ""
    out.print(f"[bold]{res.protocol}[/bold]{mut}: bounded model checking with z3 under sc, threads {p.threads}, "
              f"slots {p.slots}, ops {p.ops}, depth {res.depth}; {res.elapsed:.1f}s")
    v = res.violation
    if v:
        out.print(f"  [red]VIOLATED[/red] {v['property']} at step {v['step']} ({v['thread']}): {v['message']}")
        out.print(f"  at {v['source']}", markup=False)
        if len(res.properties_at_depth) > 1:
            out.print(f"  also violated at that step: {', '.join(res.properties_at_depth)}")
    elif res.exhausted:
        out.print("  [green]no violation[/green]: every execution ends within the bound")
    else:
        out.print(f"  [green]no violation[/green] in the first {res.depth} steps (bounded: longer runs not checked)")


def print_invariants(res: InvResult) -> None:
    mut = f", mutation {res.mutation}" if res.mutation else ""
    out.print(f"[bold]{res.protocol}[/bold]{mut}: inductive invariant under sc, {res.threads} threads, "
              f"{res.slot_range}")
    out.print(f"  {len(res.conjuncts)} conjuncts; initial state checked symbolically and against the model for "
              f"slots {res.initial_checked}; {res.steps_checked} thread steps; {res.queries} z3 queries; "
              f"{res.elapsed:.1f}s")
    if res.proved:
        out.print("  [green]proved[/green]: holds initially and is preserved by every step of every thread")
        return
    if res.partial and not res.failures and not res.unknown:
        checked = []
        if res.only_steps is not None:
            checked.append(f"the steps on lines containing {res.only_steps!r}")
        if res.only_conjuncts is not None:
            checked.append(f"the conjuncts named with {res.only_conjuncts!r}")
        out.print(f"  [yellow]partial[/yellow]: no failure in {' and '.join(checked)}; "
                  "the rest was not checked, so this is not a proof")
        return
    for f in res.failures:
        out.print("  [red]FAILED[/red] " + f.lines()[0], markup=True)
        for line in f.lines()[1:]:
            out.print("  " + line, markup=False)
    for u in res.unknown:
        out.print(f"  [yellow]unknown[/yellow]: {u}")
