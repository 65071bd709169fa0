"""Message passing with a barrier missing (a test model of `checker fences`).

The producer stores ``data`` and then ``flag`` with no barrier between them:
under the weak model the flag can become visible first, and the consumer,
which does issue its ``pg_read_barrier()``, reads stale data.  Placement from
scratch must find a barrier before the flag store (and one before the data
load, since placement starts with every barrier removed).
"""

from checker.lang import assert_, ghost, pg_atomic_read_u32, pg_atomic_write_u32, pg_read_barrier
from checker.model import Protocol

data = 0
flag = 0
MESSAGE = "message integrity"


def produce():
    pg_atomic_write_u32(data, 42)
    # Missing on purpose: no pg_write_barrier() between the two stores.
    pg_atomic_write_u32(flag, 1)


def consume():
    seen = pg_atomic_read_u32(flag)
    if seen == 1:
        # Read the data only after the flag that publishes it; would pair
        # with a write barrier in produce(), which is missing.
        pg_read_barrier()
        value = pg_atomic_read_u32(data)
        with ghost:
            assert_(value == 42, "message integrity", "the consumer saw the flag but not the data")


class FenceMissing(Protocol):
    name = "test-fence-missing"
    summary = "message passing without the producer's write barrier"
    roles = {"postmaster": produce, "backend": consume}
    properties = (MESSAGE,)

    def declare(self, p, d):
        d.word("data", 0)
        d.word("flag", 0)
