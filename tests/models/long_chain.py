"""The postmaster counting a shared word up to STEPS: a search as deep as it is long.

Breadth-first, each store is a level of its own, so `--param steps=70000`
takes the search past 65,535 levels, past what a 16-bit depth holds (a rogue
writing anywhere without a limit got there first).
"""

from checker.lang import pg_atomic_write_u32
from checker.model import Protocol

count = 0


def count_up():
    i = 0
    while i < STEPS:  # noqa: F821 - the constant of extra_params
        i = i + 1
        pg_atomic_write_u32(count, i)


def stay_idle():
    pass


class LongChain(Protocol):
    name = "test-long-chain"
    summary = "the postmaster storing 1, 2, ... STEPS into one word"
    roles = {"postmaster": count_up, "backend": stay_idle}
    extra_params = {"steps": (10, "how far to count")}

    def declare(self, p, d):
        d.word("count", 0)
