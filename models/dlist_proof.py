"""What the z3 proofs of dlist need to know, next to the model (models/dlist.py).

Robustness only; dlist's invariants are checked by bounded search.
"""

# SQ_RING is the shared start queue's size: slots rounded up to a power of two.
SLOT_CONSTANTS = ("SLOTS", "SQ_RING")
SLOT_RANGE = (1, 262143)


def slot_constraints(c):
    import z3

    slots, ring = c["SLOTS"], c["SQ_RING"]
    return [ring != 0, ring & (ring - 1) == 0, z3.ULE(slots, ring), z3.ULT(ring, slots * 2)]
