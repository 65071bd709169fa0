"""What the z3 robustness proof of changequeue (the patch as written) needs, next to the model.

The same statement as changequeue-fixed's (models/changequeue_fixed_proof.py
says why the proof stops at N = 3): both models share the change queue's
sizes (models/_changequeue.py).
"""

from models.changequeue_fixed_proof import REGION_LENGTHS, SLOT_CONSTANTS, SLOT_RANGE, slot_constraints  # noqa: F401
