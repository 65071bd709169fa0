"""What the z3 robustness proof of changequeue-fixed needs, next to the model.

BackgroundWorkerStateChange handles every entry between the tail and the
head it read, so one call takes a number of steps that grows with the queue
(2N + 1 entries): about 8 steps per entry.  The proof is therefore stated for
the slot counts whose longest call fits the default bound of 64 steps:
1 <= slots <= 3 (up to 6 entries, 51 steps).  A larger N needs a larger
``--step-bound`` (the call is still bounded: head and tail are range-checked,
so the loop runs at most 2N times).
"""

# QSIZE = 2 * SLOTS + 1 sizes the change queue (models/_changequeue.py).
SLOT_CONSTANTS = ("SLOTS", "QSIZE")
SLOT_RANGE = (1, 1)
REGION_LENGTHS = {r: (lambda c: c["QSIZE"]) for r in ("cq_ring", "q_val")}


def slot_constraints(c):
    return [c["QSIZE"] == c["SLOTS"] * 2 + 1]
