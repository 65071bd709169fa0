"""How much work one z3 query may do: a resource limit, not seconds.

z3's ``rlimit`` counts the solver's own steps, so a query that is decided
within it is decided within it on any machine, however loaded; a wall-clock
timeout gave "unknown" on a busy CI machine for a proof that passes in
seconds on an idle one.  Every query of the proof modules goes through
``configure`` (the limit) and ``check`` (which measures what the query
used, so the limit can be chosen from measurement: ``largest_query``).

``QUERY_RLIMIT`` is over ten times the most any shipped proof query uses
(measured with ``python -m checker.prove.budget``: the ring and bitmap
invariants, and robustness of every protocol and its rogue
mutations; see docs/bad-input.md for the figures).  The environment variable
``SLOTCHECK_PROVE_RLIMIT`` overrides it (0: no limit).  A wall-clock
timeout is only an explicit interactive choice (``checker prove
--timeout``): its "unknown" then depends on the machine, and says so.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import NamedTuple

import z3

# The largest query of the shipped proofs, measured with z3 5.4.1 (the ring
# invariant check of the empty-off-by-one mutation; docs/bad-input.md has
# every proof), and the limit: over ten times that, since the count of one
# query varies by about 1.5x with what the solver context did before it.
# Raise both if a new proof needs more; a query z3 cannot decide at all
# reaches the limit in minutes.
MEASURED_LARGEST = 25_651_225
QUERY_RLIMIT = 300_000_000

_timeout_ms: int | None = None
_largest = 0
_queries = 0


class Undecided(Exception):
    """A query z3 could not decide within its budget: the proof is unknown, never passed."""


def rlimit() -> int:
    value = os.environ.get("SLOTCHECK_PROVE_RLIMIT")
    if value is None:
        return QUERY_RLIMIT
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"SLOTCHECK_PROVE_RLIMIT must be an integer, not {value!r}") from None
    return max(n, 0)


def set_timeout(seconds: float | None) -> None:
    """An explicit wall-clock bound per query, for interactive use (None: none)."""
    global _timeout_ms
    _timeout_ms = None if seconds is None else max(1, int(seconds * 1000))


def timeout_ms() -> int | None:
    return _timeout_ms


def configure(solver):
    """``solver`` with the per-query resource limit (and the interactive timeout, if one was asked for)."""
    limit = rlimit()
    if limit:
        solver.set("rlimit", limit)
    if _timeout_ms is not None:
        solver.set("timeout", _timeout_ms)
    return solver


def solver(logic: str | None = None):
    return configure(z3.SolverFor(logic) if logic else z3.Solver())


def _count(s) -> int:
    st = s.statistics()
    try:
        return int(st.get_key_value("rlimit count"))
    except z3.Z3Exception:
        return 0


def check(s, *assumptions):
    """``s.check(*assumptions)``, recording the resources the query used."""
    global _largest, _queries
    before = _count(s)
    r = s.check(*assumptions)
    used = _count(s) - before
    _queries += 1
    if used > _largest:
        _largest = used
    return r


def check_decided(s, *assumptions):
    """Like ``check``, but an undecided query is ``Undecided`` (for callers that read only sat/unsat)."""
    r = check(s, *assumptions)
    if r == z3.unknown:
        raise Undecided(why_unknown(s))
    return r


def why_unknown(s) -> str:
    reason = s.reason_unknown()
    if reason == "canceled" and _timeout_ms is None:
        return f"a z3 query used up its resource limit (rlimit {rlimit():,}; SLOTCHECK_PROVE_RLIMIT raises it)"
    if reason in ("timeout", "canceled") and _timeout_ms is not None:
        return f"a z3 query ran past --timeout {_timeout_ms / 1000:g}s (or its resource limit)"
    return f"z3: {reason}"


def largest_query() -> tuple[int, int]:
    """(the most resources one query used so far, how many queries were made)."""
    return _largest, _queries


class BudgetRun(NamedTuple):
    """One shipped proof run without a limit: what it concluded and the most one of its queries used."""

    proof: str
    outcome: str  # proved, fails, unknown; for bmc the property and step found, or none to the depth
    largest: int  # rlimit units of its largest query
    queries: int
    cpu_seconds: float


def _outcome(res) -> str:
    if hasattr(res, "violation"):  # a bounded model check: what it found, or that it found nothing
        if res.violation:
            return f"{res.violation['property']} at step {res.violation['step']}"
        return "no violation, every execution ended" if res.exhausted else "no violation to the depth"
    if getattr(res, "ops", None) == []:  # robustness of a postmaster that reads no shared memory
        return "nothing to prove (the postmaster reads no shared memory)"
    if res.proved:
        return "proved"
    return "fails" if getattr(res, "failure", None) or getattr(res, "failures", None) else "unknown"


def shipped_proofs() -> list[tuple[str, Callable[[], object]]]:
    """The proofs the project ships, by label: robustness of every protocol and mutation, the
    invariants where a proof module states them, and the ring's bounded model check to depth 8."""
    from checker.model import Params, load_protocols, resolve_protocol
    from checker.prove.bmc import bmc
    from checker.prove.invariants import prove_invariants
    from checker.prove.robustness import prove_robustness
    from checker.prove.setup import proof_module

    runs: list[tuple[str, Callable[[], object]]] = []
    for name, cls in load_protocols().items():
        for mutation in [None, *cls.mutations]:
            runs.append((f"{name} robustness {mutation or 'correct'}",
                         lambda c=cls, m=mutation: prove_robustness(c, Params(threads=2, slots=2, ops=1), m,
                                                                    witness=False)))
        spec = proof_module(cls)
        if spec is not None and hasattr(spec, "invariant"):
            for threads in (2, 3):
                runs.append((f"{name} invariants correct threads {threads}",
                             lambda c=cls, t=threads: prove_invariants(c, Params(threads=t, slots=2, ops=1))))
            for mutation in cls.mutations:
                runs.append((f"{name} invariants {mutation}",
                             lambda c=cls, m=mutation: prove_invariants(c, Params(threads=2, slots=2, ops=1), m)))
    ring = resolve_protocol("ring")
    for mutation in [None, *ring.mutations]:
        runs.append((f"ring bmc {mutation or 'correct'}",
                     lambda m=mutation: bmc(ring, Params(threads=3, slots=1, ops=1), m, 8)))
    return runs


def measure_proofs(only: tuple[str, ...] = ()) -> Iterator[BudgetRun]:
    """Run the shipped proofs without a limit (those whose label contains a word of ``only``, if given)."""
    import time

    saved = os.environ.get("SLOTCHECK_PROVE_RLIMIT")
    os.environ["SLOTCHECK_PROVE_RLIMIT"] = "0"
    # Run as ``python -m``, this file is __main__; the proofs count in the imported module.
    from checker.prove import budget as counted

    try:
        for label, run in shipped_proofs():
            if only and not any(o in label for o in only):
                continue
            counted._largest = counted._queries = 0
            t0 = time.process_time()
            try:
                outcome = _outcome(run())
            except Exception as exc:  # measuring: a proof that cannot run says why and the others go on
                outcome = f"not run ({type(exc).__name__}: {exc})"
            largest, queries = counted.largest_query()
            yield BudgetRun(label, outcome, largest, queries, time.process_time() - t0)
    finally:
        if saved is None:
            os.environ.pop("SLOTCHECK_PROVE_RLIMIT", None)
        else:
            os.environ["SLOTCHECK_PROVE_RLIMIT"] = saved


def _measure() -> None:  # pragma: no cover - a maintenance tool, run by hand
    """Print the largest query of each shipped proof (to choose QUERY_RLIMIT); docs_tables makes the table."""
    import sys

    overall = 0
    for run in measure_proofs(tuple(sys.argv[1:])):
        overall = max(overall, run.largest)
        print(f"{run.proof:<55} largest query {run.largest:>12,}  queries {run.queries:>6}  "
              f"cpu {run.cpu_seconds:7.1f}s  {run.outcome}", flush=True)
    print(f"largest query overall: {overall:,}")


if __name__ == "__main__":  # pragma: no cover
    _measure()
