"""A SPIN-style producer/consumer ring: the benchmark of `checker bench` (issue 13).

One producer (the postmaster role) pushes PUSHES values 1, 2, ... into a ring
of SLOTS entries with free-running head/tail counters; the consumers (the
backend roles) take them out one at a time under a test-and-set spin lock.  The same model,
event for event, is written in Promela in ``pcring.pml`` and in Murphi in
``pcring.m`` next to this file: SPIN and Rumur count the same states, so the
three tools can be timed on the same state space (docs/performance.md).

It is not one of the project's protocols (nothing is a slot free-list here):
it exists to measure the engine on a well-known shape of problem.

    checker explore models/examples/pcring.py -m sc --threads 5 --slots 4 --param pushes=16
"""

from checker.lang import (
    assert_, ghost, mutation, pg_atomic_exchange_u32, pg_atomic_read_u32, pg_atomic_write_u32,
)
from checker.model import INTEGRITY, Mutation, Protocol

# Placeholders; the compiler binds the real values from declare().
SLOTS = PUSHES = 0
head = tail = lock = 0
ring = []


def producer():
    h = 0
    while h < PUSHES:
        t = pg_atomic_read_u32(tail)
        if mutation("off-by-one"):
            room = h - t <= SLOTS
        else:
            room = h - t < SLOTS
        if room:
            pg_atomic_write_u32(ring[h % SLOTS], h + 1)
            # Publishes the entry written just before.  No pg_write_barrier (nor a
            # read barrier on the consumer's side): the model mirrors a plain
            # Promela model and is meant for sc and tso, which keep both orders.
            pg_atomic_write_u32(head, h + 1)
            h += 1


def consumer():
    done = 0
    got = 0  # values this consumer took (kept: it distinguishes the consumers' histories)
    while done == 0:
        # A test-and-set spin lock, as a Promela model writes it.
        while pg_atomic_exchange_u32(lock, 1) != 0:
            pass
        t = pg_atomic_read_u32(tail)
        if t == PUSHES:
            done = 1
        else:
            h = pg_atomic_read_u32(head)
            if h != t:
                v = pg_atomic_read_u32(ring[t % SLOTS])
                with ghost:
                    assert_(v == t + 1, "queue integrity", "a consumer read a value not produced for its position")
                pg_atomic_write_u32(tail, t + 1)
                got += 1
        pg_atomic_write_u32(lock, 0)


class ProducerConsumerRing(Protocol):
    name = "example-pcring"
    summary = "benchmark: one producer, consumers under a lock, a ring of SLOTS entries"
    roles = {"postmaster": producer, "backend": consumer}
    mutations = {"off-by-one": Mutation("the producer may fill one entry too many", bug_under=("sc", "tso", "weak"),
                                         breaks=INTEGRITY)}
    extra_params = {"pushes": (4, "values the producer pushes")}
    properties = (INTEGRITY,)
    max_slots = 16

    def declare(self, p, d):
        d.word("head", 0)
        d.word("tail", 0)
        d.word("lock", 0)  # 0: free, 1: held
        d.array("ring", p.slots, 0)
