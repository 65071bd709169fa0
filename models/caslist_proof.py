"""What the z3 proofs of caslist need to know, next to the model (models/caslist.py).

Robustness only: caslist is checked for invariants by bounded search.
"""

# SQ_RING is the shared start queue's size: slots rounded up to a power of two.
SLOT_CONSTANTS = ("SLOTS", "SQ_RING")
# Slot numbers are 16-bit indexes in the head word, and 0xFFFF means empty.
SLOT_RANGE = (1, 65535)


def slot_constraints(c):
    import z3

    slots, ring = c["SLOTS"], c["SQ_RING"]
    return [ring != 0, ring & (ring - 1) == 0, z3.ULE(slots, ring), z3.ULT(ring, slots * 2)]


def postmaster_invariant(v):
    """pm_kept is a mask of slots the postmaster holds back: only bits below SLOTS."""
    import z3

    return [("pm_kept holds slot numbers only", z3.LShR(v.private("pm_kept"), v.const("SLOTS")) == 0)]
