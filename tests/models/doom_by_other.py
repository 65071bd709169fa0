"""A store of one thread dooms another thread's load bound to a passed value (weak).

The postmaster loads an index, then a cell through it, then ``cells[1]`` by
name: the read by name may be performed first, passing the load through the
index while its address is unknown (weak's no-alias guess).  When the index
turns out to be 1, the load through it must read the same write of
``cells[1]`` (CoRR): it is bound to the value the read by name saw.  The
backend stores the index, then ``cells[1]``, with nothing ordering the two,
so its store to ``cells[1]`` can come after the postmaster's binding and
doom that load.  The backend's move then depends on the postmaster's window,
which the search's per-thread move memo must not leave out of its key
(``MemoryModel.pending_reaches_others``).
"""

from checker.lang import assert_, ghost, operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import INTEGRITY, Protocol

cells = 0
index = 0


@operation
def read_through_index():
    i = pg_atomic_read_u32(index)
    through = pg_atomic_read_u32(cells[i])
    by_name = pg_atomic_read_u32(cells[1])
    with ghost:
        # CoRR: two reads of cells[1], the later by name, never see the older write.
        assert_(i != 1 or through <= by_name, "queue integrity", "a later read of a word saw an older write")


def postmaster():
    read_through_index()


@operation
def point_then_write():
    pg_atomic_write_u32(index, 1)
    pg_atomic_write_u32(cells[1], 1)


def backend():
    point_then_write()


class DoomByOther(Protocol):
    name = "test-doom-by-other"
    summary = "a store that dooms another thread's load bound to a passed value"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = (INTEGRITY,)

    def declare(self, p, d):
        d.array("cells", 2, [0, 0])
        d.word("index", 0)

    def check_quiescent(self, view):
        pass
