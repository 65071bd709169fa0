"""Backends that the postmaster tells apart by number: --symmetry must refuse it.

Each backend writes its number into ``last``; the postmaster objects when the
last writer is backend 1.  Renaming backends would map a violating state onto
a state that does not violate, so a reduced search could miss the violation
that the full search finds.  The ``by-equality`` mutation compares the number
with the one the backend also recorded in ghost state: a use of the number
that no renaming changes, which the reduction accepts.
"""

# ruff: noqa: F821, F841  -- programs use names that declare() binds; ghost words are assigned by name (docs/writing-a-model.md)

from checker.lang import assert_, ghost, mutation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Mutation, Protocol


def backend():
    pg_atomic_write_u32(last, ME)
    with ghost:
        wrote = ME


def postmaster():
    who = pg_atomic_read_u32(last)
    if mutation("by-equality"):
        with ghost:
            assert_(who == 0 or who == wrote, "first backend last", "last holds a number no backend wrote")
    else:
        with ghost:
            assert_(who != 1, "first backend last", "backend 1 wrote last")


class SymmetryLeak(Protocol):
    name = "test-symmetry-leak"
    summary = "a postmaster that tells backend 1 from the others"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = ("first backend last",)
    mutations = {"by-equality": Mutation("compare the number only with another backend number: it holds",
                                         bug_under=())}

    def declare(self, p, d):
        d.word("last", 0)
        d.ghost_word("wrote", 0)
