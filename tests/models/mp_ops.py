"""Message passing split over two operations of the reader.

A backend fills in `data` and then raises `flag` (with pg_write_barrier()
between them).  The postmaster's first operation reads the flag and ends on a
branch over that load; its second operation reads the data.  Nothing but a
control dependency (that branch) lies between the two loads unless the
`read-barrier` variant (the default) puts pg_read_barrier() at the start of
the second operation.  A control dependency does not order a load before a
later load on ARMv8: the hardware guesses the branch, runs on into the next
function and may satisfy the data load first.  So `no-read-barrier` breaks
queue integrity under weak memory, and the default must hold.
"""

from checker.lang import (
    assert_, ghost, mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32, pg_read_barrier,
    pg_write_barrier,
)
from checker.model import INTEGRITY, Mutation, Protocol

data = flag = 0
pm_seen = 0


@operation
def publish():
    pg_atomic_write_u32(data, 1)
    # data before flag; pairs with the postmaster's pg_read_barrier() in consume().
    pg_write_barrier()
    pg_atomic_write_u32(flag, 1)


def backend():
    publish()


@operation
def poll():
    global pm_seen
    if pg_atomic_read_u32(flag) != 0:
        pm_seen = 1


@operation
def consume():
    if not mutation("no-read-barrier"):
        # flag (read in poll()) before data; pairs with publish()'s pg_write_barrier().
        pg_read_barrier()
    d = pg_atomic_read_u32(data)
    with ghost:
        assert_(d == 1, "queue integrity", "the postmaster saw the flag but not the data")


def postmaster():
    poll()
    if pm_seen:
        consume()


class MessagePassingOverOperations(Protocol):
    name = "test-mp-ops"
    summary = "message passing whose reader tests the flag in one operation and reads the data in the next"
    roles = {"postmaster": postmaster, "backend": backend}
    mutations = {"no-read-barrier": Mutation("the second operation reads the data with no pg_read_barrier()",
                                             bug_under=("weak",), breaks=INTEGRITY)}
    properties = (INTEGRITY,)

    def declare(self, p, d):
        d.word("data", 0)
        d.word("flag", 0)
        d.private_var("postmaster", "pm_seen", 0)

    def check_quiescent(self, view):
        pass
