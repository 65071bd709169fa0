"""The built-in property names, as printed and as used in ``assert_(cond, "...")``.

One list, so that a misspelt name in a model is a load-time error
(checker.properties) and never a property that silently "holds".
"""

EXCLUSIVE = "exclusive ownership"
CONSERVATION = "conservation"
INTEGRITY = "queue integrity"
PM_SAFETY = "postmaster safety"
WAIT_FREEDOM = "postmaster wait-freedom"
DEADLOCK = "deadlock freedom"
MEMORY_SAFETY = "memory safety"
NOTIFY = "notify integrity"

PROPERTIES = {
    EXCLUSIVE: "a slot is never held by two parties at once",
    CONSERVATION: "when quiescent, every slot is in exactly one place",
    INTEGRITY: "every queue entry consumed is the value produced for that position",
    PM_SAFETY: "every index and slot number the postmaster uses is in range, whatever shared memory holds",
    WAIT_FREEDOM: "each postmaster operation finishes within a bounded number of its own steps",
    DEADLOCK: "no reachable state where threads wait forever",
    MEMORY_SAFETY: "backends never index shared memory out of range (without a rogue)",
}
# With a rogue only these are required (DESIGN.md §4).
ROGUE_PROPERTIES = (PM_SAFETY, WAIT_FREEDOM, DEADLOCK)
# Checked by the engine and the memory models for every model: an index out
# of range (postmaster / backend), the step bound and lassos, stuck states.
ENGINE_PROPERTIES = (PM_SAFETY, WAIT_FREEDOM, DEADLOCK, MEMORY_SAFETY)

