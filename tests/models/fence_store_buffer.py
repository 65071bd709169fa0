"""Store buffering (Dekker's entry): a test model of `checker fences` for pg_atomic_write_membarrier_u32.

Each side raises its own flag and then reads the other's.  Both reading 0
means both entered: a store->load reordering, which TSO's store buffer
allows.  ``pg_atomic_write_membarrier_u32`` is a store that is also a full
barrier, so it is needed under tso and weak and not under sc.
"""

from checker.lang import assert_, ghost, pg_atomic_read_u32, pg_atomic_write_membarrier_u32
from checker.model import Protocol

flag_a = 0
flag_b = 0
saw = []  # ghost: 1 + the other's flag as each side read it (0: not read yet)
MUTUAL = "mutual exclusion"


def side_a():
    # Orders the flag store before the load of the other flag; pairs with
    # the same barrier-store in side_b().
    pg_atomic_write_membarrier_u32(flag_a, 1)
    other = pg_atomic_read_u32(flag_b)
    with ghost:
        saw[0] = 1 + other
        assert_(other != 0 or saw[1] != 1, "mutual exclusion", "both sides read the other's flag as 0")


def side_b():
    # Orders the flag store before the load of flag_a; pairs with the barrier-store in side_a().
    pg_atomic_write_membarrier_u32(flag_b, 1)
    other = pg_atomic_read_u32(flag_a)
    with ghost:
        saw[1] = 1 + other
        assert_(other != 0 or saw[0] != 1, "mutual exclusion", "both sides read the other's flag as 0")


class FenceStoreBuffer(Protocol):
    name = "test-fence-store-buffer"
    summary = "store buffering: each side's flag store must be a full barrier"
    roles = {"postmaster": side_a, "backend": side_b}
    properties = (MUTUAL,)

    def declare(self, p, d):
        d.word("flag_a", 0)
        d.word("flag_b", 0)
        d.ghost_array("saw", 2, 0)
