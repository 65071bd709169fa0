"""What the z3 proof of bgworker needs to know, next to the model (models/bgworker.py).

Robustness only.  The postmaster's list of the workers it started is a
private array (``pm_running[]``, one postmaster local per slot), so the
program the prover executes is built for one slot count at a time: the proof
is stated for each of 1 <= slots <= 8 separately (the reaper and the scan
take a number of steps that grows with slots; at 8 the longest operation is
well inside the 64-step bound).  What the postmaster reads from shared
memory is unconstrained, as for every protocol; so is what the kernel tells
it (``child_exited``) and the signal flag it takes; the array elements it
starts an operation with are unconstrained too, except for the one relation
below, which the engine keeps for every model with workers and which every
operation must re-establish.

The inductive invariant of the earlier model (``checker prove bgworker
--invariants``, which quantified over every slot count through the bits of
one 32-bit mask) is not stated for this one: that prover executes every
thread, and worker processes, their fork and exit, and private arrays are
not in its symbolic state (see docs/proofs.md).
"""

SLOT_RANGE = (1, 8)


def postmaster_invariant(v):
    """The engine's record of the processes the postmaster forked and has not
    reaped (``$forked[]``, which makes a second fork of a slot a crash) is its
    list of started workers between operations."""
    count = v.const("SLOTS").as_long()  # a concrete slot count: see above
    return [(f"$forked[{k}] = pm_running[{k}]", v.private(f"$forked[{k}]") == v.private(f"pm_running[{k}]"))
            for k in range(count)]
