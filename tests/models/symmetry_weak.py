"""A backend's own number in a store still pending under the weak model.

Both backends try to take ``lock`` (a CAS of their number); the winner then
stores its number in ``a``, a plain store that sits in its window for a
while.  The postmaster reads ``a`` and then ``lock``: whatever it reads in
``a`` other than 0 is the number of the backend holding the lock, which is
never released.  A --symmetry that moved the winner's window to another
backend without renaming the number in its pending store would reach a
state where ``a`` names the backend that does not hold the lock.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    assert_, ghost, pg_atomic_compare_exchange_u32, pg_atomic_read_u32, pg_atomic_write_u32, pg_read_barrier,
)
from checker.model import Protocol


def backend():
    free = 0
    if pg_atomic_compare_exchange_u32(lock, free, ME):
        pg_atomic_write_u32(a, ME)


def postmaster():
    x = pg_atomic_read_u32(a)
    pg_read_barrier()
    o = pg_atomic_read_u32(lock)
    with ghost:
        assert_(x == 0 or x == o, "writer holds the lock", "a names a backend that does not hold the lock")


class SymmetryWeak(Protocol):
    name = "test-symmetry-weak"
    summary = "a backend's number in a pending store"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = ("writer holds the lock",)

    def declare(self, p, d):
        d.word("lock", 0)
        d.word("a", 0)
