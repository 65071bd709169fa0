"""A postmaster operation small enough that its robustness proofs have known answers.

It reads a count from shared memory and then an entry of a 4-entry array.
The range check is right by default; `off-by-one` checks `n + 1 <= LEN`,
which wraps to 0 when n = 2^32-1 and lets exactly that value through.
`spin` waits until shared memory says stop (unbounded); the default polls
three times at most.
"""

from checker.lang import choose, mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Mutation, Protocol

LEN = 0
count = flag = 0
table = []
pm_seen = 0


@operation
def look():
    global pm_seen
    n = pg_atomic_read_u32(count)
    if mutation("off-by-one"):
        ok = n + 1 <= LEN
    else:
        ok = n < LEN
    if ok:
        pm_seen = pg_atomic_read_u32(table[n])
    if mutation("spin"):
        while pg_atomic_read_u32(flag) != 0:
            pass
    else:
        for i in range(3):
            if pg_atomic_read_u32(flag) == 0:
                break


def postmaster():
    while choose(2):
        look()


def backend():
    pg_atomic_write_u32(count, 1)


class ProveSmall(Protocol):
    name = "test-prove-small"
    summary = "a range check and a polling loop, for the z3 prover's tests"
    roles = {"postmaster": postmaster, "backend": backend}
    mutations = {"off-by-one": Mutation("checks n + 1 <= LEN", needs_rogue=True),
                 "spin": Mutation("waits for the flag without a bound", needs_rogue=True)}
    properties = ()

    def declare(self, p, d):
        d.constant("LEN", 4)
        d.word("count", 0)
        d.word("flag", 0)
        d.array("table", 4, 0)
        d.private_var("postmaster", "pm_seen", 0)
