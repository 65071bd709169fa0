"""A load that passes a store whose address is not known yet (weak's no-alias guess).

The postmaster loads an index, stores 2 into `cells[index]`, then reads
`cells[0]` by name.  The backend changes the index from 1 to 0.  The read of
`cells[0]` may be performed before the index is known (on the guess that the
store is to another word); when the index turns out to be 0 the store aliases
it, coherence (CoWR) makes the read see 2, and weak must discard the early
read before the ghost check sees it.  So the default holds.  The
`unconditional` variant asserts 2 also when the index is 1, where the read
legitimately sees 0: a real violation the checker must still find.
"""

from checker.lang import assert_, ghost, mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import INTEGRITY, Mutation, Protocol

cells = 0
index = 0


@operation
def write_then_read():
    i = pg_atomic_read_u32(index)
    pg_atomic_write_u32(cells[i], 2)
    v = pg_atomic_read_u32(cells[0])
    if mutation("unconditional"):
        with ghost:
            assert_(v == 2, "queue integrity", "the read missed the store")
    else:
        with ghost:
            assert_(i != 0 or v == 2, "queue integrity", "a read passed its own thread's store to the same word")


def postmaster():
    write_then_read()


@operation
def retarget():
    pg_atomic_write_u32(index, 0)


def backend():
    retarget()


class AddressAlias(Protocol):
    name = "test-addr-alias"
    summary = "a read by name after a store through an index loaded just before"
    roles = {"postmaster": postmaster, "backend": backend}
    mutations = {"unconditional": Mutation("asserts the store is seen also when it went to another word",
                                           bug_under=("sc", "tso", "weak"), breaks=INTEGRITY)}
    properties = (INTEGRITY,)

    def declare(self, p, d):
        d.array("cells", 2, [0, 0])
        d.word("index", 1)

    def check_quiescent(self, view):
        pass
