"""Two threads each add one to a shared counter: the textbook lost update.

`racy` (the default) loads and then stores; the `fetch-add` mutation is the
*fix* here (an RMW), so the tests can check both directions on one model.
"""

from checker.lang import mutation, pg_atomic_fetch_add_u32, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Mutation, Protocol, Violation

counter = 0


def increment():
    if mutation("fetch-add"):
        pg_atomic_fetch_add_u32(counter, 1)
    else:
        r = pg_atomic_read_u32(counter)
        pg_atomic_write_u32(counter, r + 1)


class Counter(Protocol):
    name = "test-counter"
    summary = "two increments of one shared word"
    roles = {"postmaster": increment, "backend": increment}
    mutations = {"fetch-add": Mutation("increment with one RMW instead of a load and a store", bug_under=())}
    properties = ("lost update",)

    def declare(self, p, d):
        d.word("counter", 0)

    def check_quiescent(self, view):
        done = all(view.system.threads[t].program.instrs[view.state[1][t][0]].op == "halt"
                   for t in range(len(view.system.threads)))
        if done and view.word("counter") != len(view.system.threads):
            raise Violation("lost update", f"counter is {view.word('counter')} after {len(view.system.threads)} increments")
