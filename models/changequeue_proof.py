"""What the z3 robustness proof of changequeue (the patch as written) needs, next to the model.

BackgroundWorkerStateChange handles every entry between the tail and the
head it read, up to 2N of them, and each entry may take any of four paths
(not in use, registered, freed at once, registered now), so path by path z3
would follow up to 4^(2N) paths: at N = 2 that did not finish in 5 minutes
on this machine.  The prover merges the paths that meet at the loop's head
(checker/prove/robustness.py), which keeps one path per iteration: the
proof for 1 <= N <= 3 takes 5-10 CPU seconds (at most 57 steps), and at
N = 4 z3's queries over the merged values did not finish in 5 minutes.  So
the proof is stated for N <= 3; larger N is left to the exhaustive search
with a rogue (checker explore --rogue).
"""

# QSIZE = 2 * SLOTS + 1 sizes the change queue (models/_changequeue.py).
SLOT_CONSTANTS = ("SLOTS", "QSIZE")
SLOT_RANGE = (1, 3)
REGION_LENGTHS = {r: (lambda c: c["QSIZE"]) for r in ("cq_ring", "q_val")}


def slot_constraints(c):
    return [c["QSIZE"] == c["SLOTS"] * 2 + 1]
