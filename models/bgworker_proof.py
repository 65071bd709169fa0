"""What the z3 proofs of bgworker need to know, next to the model (models/bgworker.py).

Today's design: the postmaster scans every slot (BackgroundWorkerStateChange),
so an operation takes a number of steps that grows with slots.  The
robustness proof (every value read, a bounded scan) is therefore stated for a
slot range whose scan fits the step bound: 1 <= slots <= 8 within 64 steps.
Invariants: bounded search only.
"""

SLOT_RANGE = (1, 8)
