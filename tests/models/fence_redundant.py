"""Message passing with one barrier too many (a test model of `checker fences`).

The producer fills in ``data`` and raises ``flag`` with a fetch-add, a full
barrier under every profile, so its ``pg_write_barrier()`` orders nothing the
fetch-add does not: `checker fences` must report it redundant.  The consumer's
``pg_read_barrier()`` is the one the weak model needs.
"""

from checker.lang import (
    assert_, ghost, pg_atomic_fetch_add_u32, pg_atomic_read_u32, pg_atomic_write_u32, pg_read_barrier,
    pg_write_barrier,
)
from checker.model import Protocol

data = 0
flag = 0
MESSAGE = "message integrity"


def produce():
    pg_atomic_write_u32(data, 42)
    # Redundant on purpose: orders the data store before the flag's
    # fetch-add, which is a full barrier already.  Pairs with the
    # consumer's pg_read_barrier().
    pg_write_barrier()
    pg_atomic_fetch_add_u32(flag, 1)


def consume():
    seen = pg_atomic_read_u32(flag)
    if seen == 1:
        # Read the data only after the flag that publishes it.  Pairs with
        # the producer's fetch-add (and its redundant write barrier).
        pg_read_barrier()
        value = pg_atomic_read_u32(data)
        with ghost:
            assert_(value == 42, "message integrity", "the consumer saw the flag but not the data")


class FenceRedundant(Protocol):
    name = "test-fence-redundant"
    summary = "message passing whose write barrier is redundant given the fetch-add after it"
    roles = {"postmaster": produce, "backend": consume}
    properties = (MESSAGE,)

    def declare(self, p, d):
        d.word("data", 0)
        d.word("flag", 0)
