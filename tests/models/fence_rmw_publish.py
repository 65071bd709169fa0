"""Message passing published by an atomic exchange (a test model of `checker fences`).

The producer stores ``data`` and then raises ``flag`` with
``pg_atomic_exchange_u32``, with no barrier between them: the exchange is a
full barrier under every profile (a release at least, arm64's stlxr), and it
alone keeps the data store ahead of the flag.  Relaxing that one RMW
(`checker fences` removes an atomic's implied ordering that way) lets the
flag become visible first under the weak model, and the consumer reads
stale data; under sc and tso nothing changes.

The consumer counts its polls with ``pg_atomic_fetch_add_u32`` on a word
nobody else reads, before it reads the flag: that RMW's ordering is needed
by nothing (the read barrier after the flag is what the consumer needs).
"""

from checker.lang import (
    assert_, ghost, pg_atomic_exchange_u32, pg_atomic_fetch_add_u32, pg_atomic_read_u32, pg_atomic_write_u32,
    pg_read_barrier,
)
from checker.model import Protocol

data = 0
flag = 0
polls = 0
MESSAGE = "message integrity"


def produce():
    pg_atomic_write_u32(data, 42)
    # The exchange's own full barrier orders the data store before the
    # flag; pairs with the consumer's pg_read_barrier().
    pg_atomic_exchange_u32(flag, 1)


def consume():
    # A statistic only: orders nothing anybody relies on.
    pg_atomic_fetch_add_u32(polls, 1)
    seen = pg_atomic_read_u32(flag)
    if seen == 1:
        # Read the data only after the flag that publishes it.  Pairs with
        # the producer's exchange.
        pg_read_barrier()
        value = pg_atomic_read_u32(data)
        with ghost:
            assert_(value == 42, "message integrity", "the consumer saw the flag but not the data")


class FenceRmwPublish(Protocol):
    name = "test-fence-rmw-publish"
    summary = "message passing whose only producer-side ordering is the exchange that raises the flag"
    roles = {"postmaster": produce, "backend": consume}
    properties = (MESSAGE,)

    def declare(self, p, d):
        d.word("data", 0)
        d.word("flag", 0)
        d.word("polls", 0)
