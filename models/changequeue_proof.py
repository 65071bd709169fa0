"""What the z3 robustness proof of changequeue (the patch as written) needs, next to the model.

BackgroundWorkerStateChange handles every entry between the tail and the
head it read, up to 2N of them, and each entry may take any of four paths
(not in use, registered, freed at once, registered now), so the number of
paths z3 must follow grows as 4^(2N).  At N = 1 the proof takes seconds
(72 paths, at most 21 steps); at N = 2 it did not finish in 5 minutes on
this machine.  So the proof is stated for N = 1 only; larger N is left to
the exhaustive search with a rogue (checker explore --rogue), and to a
proof per loop iteration, which the prover does not do yet.
"""

# QSIZE = 2 * SLOTS + 1 sizes the change queue (models/_changequeue.py).
SLOT_CONSTANTS = ("SLOTS", "QSIZE")
SLOT_RANGE = (1, 1)
REGION_LENGTHS = {r: (lambda c: c["QSIZE"]) for r in ("cq_ring", "q_val")}


def slot_constraints(c):
    return [c["QSIZE"] == c["SLOTS"] * 2 + 1]
