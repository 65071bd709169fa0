"""What the z3 proofs of the ring need to know, next to the model (models/ring.py).

``checker prove ring --robustness`` makes ``slots`` symbolic: ring.py derives
RING (slots rounded up to a power of two) in Python, so the relation is
stated here for z3.  ``checker prove ring --invariants`` checks the inductive
invariant below (the properties plus the strengthening conjuncts a proof
needs) for every slot count.
"""

# Constants that depend on slots, and how (for z3).
SLOT_CONSTANTS = ("SLOTS", "RING")
# 32-bit free-running counters and 32-bit slot numbers: nothing narrower
# limits the design; the bound keeps RING (a power of two >= slots) in range.
SLOT_RANGE = (1, 262143)


def slot_constraints(c):
    import z3

    slots, ring = c["SLOTS"], c["RING"]
    return [ring != 0, ring & (ring - 1) == 0, z3.ULE(slots, ring), z3.ULT(ring, slots * 2)]
