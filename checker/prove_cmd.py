"""``checker prove``: z3 proofs (postmaster robustness, inductive invariants, bounded model checking)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from checker.cli import Fail, _extra_params, emit, err, out
from checker.model import ModelError, Params, mutation_names, resolve_protocol
from checker.progress import progress_on


def _params(threads, slots, ops, step_bound, params) -> Params:
    if threads < 2:
        raise Fail(f"--threads must be at least 2, got {threads}")
    if slots < 1:
        raise Fail(f"--slots must be at least 1, got {slots}")
    if step_bound < 1:
        raise Fail("--step-bound must be at least 1")
    return Params(threads=threads, slots=slots, ops=ops, step_bound=step_bound, extra=_extra_params(params))


def print_robustness(res, trace_path=None, protocol_arg=None) -> None:
    mut = f", mutation {res.mutation}" if res.mutation else ""
    out.print(f"[bold]{res.protocol}[/bold]{mut}: postmaster robustness for every value of every shared word read")
    out.print(f"  slots: {res.space.describe()}; step bound {res.step_bound}; {res.elapsed:.2f}s")
    if not res.ops:
        out.print("  the postmaster has no operation: it never reads shared memory, so there is nothing to prove")
    for o in res.ops:
        if o.failure:
            verdict = "[red]FAILED[/red]"
        elif o.incomplete:
            verdict = f"[yellow]unknown ({o.incomplete})[/yellow]"
        else:
            merged = (f" (merged at loop heads; at most {o.paths_unmerged_at_most:,} without)"
                      if o.paths_unmerged_at_most != o.paths else "")
            verdict = (f"[green]proved[/green]: {o.paths:,} paths{merged}, at most {o.max_steps} steps, "
                       f"{o.obligations:,} obligations")
        out.print(f"  {o.name:<28} {verdict}")
    f = res.failure
    if f is not None:
        out.print()
        for line in f.lines():
            out.print(line, markup=False)
        if res.trace is not None:
            rs = res.trace["found_by"]["reads"]
            reads = ", ".join(f"{r['location']} -> {r['value']:#x}" for r in rs[:6])
            if len(rs) > 6:
                reads += f", ... ({len(rs)} reads)"
            out.print(f"  replayable run with slots = {res.trace['params']['slots']}: {reads}", markup=False)
            where = f"trace written to {trace_path}" if trace_path else "trace not written"
            out.print(f"  ({res.trace_note}); {where}", markup=False)
            p = res.trace["params"]
            out.print(f"  reproduce by search: checker explore {protocol_arg or res.protocol} --memory-model sc --rogue "
                      f"--rogue-writes {p['rogue_writes']} --threads {p['threads']} --slots {p['slots']} --ops {p['ops']} "
                      f"--step-bound {p['step_bound']}"
                      + (f" --mutation {res.mutation}" if res.mutation else ""), markup=False)
        else:
            out.print(f"  no replayable trace: {res.trace_note}", markup=False)


def robustness_json(res, trace_path) -> dict:
    f = res.failure
    return {
        "protocol": res.protocol, "mutation": res.mutation, "kind": "robustness",
        "slots": res.space.describe(), "step_bound": res.step_bound, "proved": res.proved,
        "elapsed_seconds": round(res.elapsed, 3),
        "operations": [{"name": o.name, "paths": o.paths, "paths_unmerged_at_most": o.paths_unmerged_at_most,
                        "max_steps": o.max_steps, "obligations": o.obligations,
                        "verdict": "failed" if o.failure else ("unknown" if o.incomplete else "proved")}
                       for o in res.ops],
        "failure": None if f is None else {"property": f.prop, "kind": f.kind, "operation": f.op,
                                           "message": f.message, "source": f.source, "reads": f.values,
                                           "constants": f.constants},
        "trace": str(trace_path) if trace_path else None,
        "exit_code": res.exit_code,
    }


def register(cli) -> None:
    @cli.command()
    @click.argument("protocol")
    @click.option("--robustness", is_flag=True, help="postmaster safety and step bound for every value read")
    @click.option("--invariants", is_flag=True, help="the protocol's inductive invariant under sc, any slot count")
    @click.option("--bmc", "bmc_depth", type=int, default=None,
                  help="bounded model checking under sc to this many steps (concrete parameters)")
    @click.option("--mutation", default=None, help="prove a mutated model (see `checker list`); a,b combines variants")
    @click.option("--threads", type=int, default=2, show_default=True,
                  help="threads of the concrete run a failed proof is replayed in (and of --invariants/--bmc)")
    @click.option("--slots", type=int, default=2, show_default=True,
                  help="slots of the replayable trace (and of --bmc); proofs are for every slot count")
    @click.option("--ops", type=int, default=1, show_default=True, help="workers each backend registers")
    @click.option("--step-bound", type=int, default=64, show_default=True,
                  help="most postmaster steps one operation may take")
    @click.option("--param", "params", multiple=True, help="protocol parameter name=value")
    @click.option("--trace-out", type=click.Path(dir_okay=False), default=None,
                  help="where to write the trace of a failed proof (default: <protocol>[-<mutation>]-prove.trace.json)")
    @click.option("--no-trace", is_flag=True, help="do not write a trace")
    @click.option("--step", "only_steps", default=None, metavar="TEXT",
                  help="--invariants: check only the steps whose source line contains TEXT (partial, exit 3 "
                       "when nothing fails)")
    @click.option("--conjunct", "only_conjuncts", default=None, metavar="TEXT",
                  help="--invariants: check that the step preserves only the conjuncts whose name contains TEXT "
                       "(partial, exit 3 when nothing fails)")
    @click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
    @click.option("--timeout", "timeout", type=float, default=None, metavar="SECONDS",
                  help="also stop each z3 query after SECONDS (interactive use: an 'unknown' then depends on "
                       "the machine; without it every query is bounded by its resource limit only)")
    def prove(protocol, robustness, invariants, bmc_depth, mutation, threads, slots, ops, step_bound, params,
              trace_out, no_trace, only_steps, only_conjuncts, as_json, timeout):
        """Prove properties of PROTOCOL with z3 (exit 0 proved, 1 failed, 3 unknown)."""
        from checker.prove import budget

        if timeout is not None and timeout <= 0:
            raise Fail("--timeout must be more than 0 seconds")
        budget.set_timeout(timeout)
        try:
            budget.rlimit()
        except ValueError as exc:
            raise Fail(str(exc)) from None
        try:
            _prove(protocol, robustness, invariants, bmc_depth, mutation, threads, slots, ops, step_bound, params,
                   trace_out, no_trace, only_steps, only_conjuncts, as_json)
        except budget.Undecided as exc:
            from checker.cli import EXIT_INCOMPLETE

            err.print(f"checker: unknown: {exc}; nothing is proved", markup=False)
            sys.exit(EXIT_INCOMPLETE)

    def _prove(protocol, robustness, invariants, bmc_depth, mutation, threads, slots, ops, step_bound, params,
               trace_out, no_trace, only_steps, only_conjuncts, as_json):
        chosen = sum([robustness, invariants, bmc_depth is not None])
        if chosen != 1:
            raise Fail("choose one of --robustness, --invariants, --bmc DEPTH")
        proto = resolve_protocol(protocol)
        try:
            selected = mutation_names(mutation)
        except ModelError as exc:
            raise Fail(str(exc)) from None
        for m in selected:
            if m not in proto.mutations:
                known = ", ".join(proto.mutations) or "none"
                raise Fail(f"unknown mutation {m!r} for {proto.name} (known: {known})")
        mutation = ",".join(selected) or None
        p = _params(threads, slots, ops, step_bound, params)
        if only_steps is not None and not invariants:
            raise Fail("--step only applies to --invariants")
        if only_conjuncts is not None and not invariants:
            raise Fail("--conjunct only applies to --invariants")
        if robustness:
            from checker.prove.robustness import prove_robustness
            from checker.trace import write_json_atomic

            with progress_on(err, "checker prove --robustness") as progress:
                res = prove_robustness(proto, p, mutation, progress=progress)
            path = None
            if res.trace is not None and not no_trace:
                mut = f"-{mutation.replace(',', '+')}" if mutation else ""
                path = Path(trace_out or f"{proto.name}{mut}-prove.trace.json")
                try:
                    write_json_atomic(path, res.trace)
                except OSError as exc:
                    # The verdict still comes out, with its exit code; only the file is missing.
                    from checker.trace import cannot_write

                    err.print(f"checker: error: {cannot_write(path, exc)}", markup=False)
                    path = None
            if as_json:
                emit(json.dumps(robustness_json(res, path), indent=1))
            else:
                print_robustness(res, path, protocol)
            sys.exit(res.exit_code)
        if invariants:
            from checker.prove.invariants import prove_invariants
            from checker.prove_print import print_invariants

            with progress_on(err, "checker prove --invariants") as progress:
                res = prove_invariants(proto, p, mutation, only_steps, progress, only_conjuncts)
            if only_steps is not None and res.steps_checked == 0 and not res.failures:
                raise Fail(f"no step of {proto.name} is on a line containing {only_steps!r}")
            if as_json:
                emit(json.dumps(res.as_json(), indent=1))
            else:
                print_invariants(res)
            sys.exit(res.exit_code)
        from checker.prove.bmc import bmc
        from checker.prove_print import print_bmc

        if bmc_depth < 1:
            raise Fail("--bmc needs a depth of at least 1")
        with progress_on(err, "checker prove --bmc") as progress:
            res = bmc(proto, p, mutation, bmc_depth, progress)
        if as_json:
            emit(json.dumps(res.as_json(), indent=1))
        else:
            print_bmc(res)
        sys.exit(res.exit_code)
