"""A quiescence check that tells one backend apart (Python the symmetry analysis cannot read).

Each backend writes its number into ``last``; once everything is quiescent,
the check objects when the highest-numbered backend wrote last.  The
programs themselves are symmetric, so ``--symmetry`` accepts the model, and
must then run the check on every member of an orbit (the representative may
be a member where another backend wrote last), and carry the trace it
rebuilds (backend 1 moves first) over to the member where the check fails.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import pg_atomic_write_u32
from checker.model import Protocol, Violation


def backend():
    pg_atomic_write_u32(last, ME)


def postmaster():
    return


class SymmetryQuiescence(Protocol):
    name = "test-symmetry-quiescence"
    summary = "an opaque quiescence check that names the highest-numbered backend"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = ("highest backend not last",)

    def declare(self, p, d):
        d.word("last", 0)

    def check_quiescent(self, v):
        if v.word("last") == v.system.params.backends:
            raise Violation("highest backend not last", f"backend {v.word('last')} wrote last")
