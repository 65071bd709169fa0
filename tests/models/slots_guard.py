"""A range check that the compiler keeps only for three slots or more.

The postmaster reads a slot number from shared memory and then that slot's
entry.  Its range check sits under ``if SLOTS >= 3:``, a condition decided at
compile time: with one or two slots the program has no check at all, and a
rogue value indexes past the array.  A prover that compares the programs
built at a few slot counts of 3 and more sees one program and would claim
every slot count.
"""

from checker.lang import choose, operation, pg_atomic_read_u32, pg_atomic_write_u32

SLOTS = 0
next_slot = 0
entries = []
pm_seen = 0


@operation
def read_entry():
    global pm_seen
    n = pg_atomic_read_u32(next_slot)
    if SLOTS >= 3:
        if n >= SLOTS:
            return
    pm_seen = pg_atomic_read_u32(entries[n])


def postmaster():
    while choose(2):
        read_entry()


def backend():
    pg_atomic_write_u32(next_slot, 0)


from checker.model import Protocol  # noqa: E402


class SlotsGuard(Protocol):
    name = "test-slots-guard"
    summary = "a range check compiled in only from three slots up"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = ()

    def declare(self, p, d):
        d.word("next_slot", 0)
        d.array("entries", p.slots, 0)
        d.private_var("postmaster", "pm_seen", 0)
