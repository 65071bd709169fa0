"""workers: the postmaster forks a worker process per slot on request, and restarts it.

Backends ask for a run of the worker of slot ``(ME - 1) % SLOTS`` (a count
in shared memory, then ``signal_postmaster``).  The postmaster's server loop,
one pass per operation, first handles child exits (``child_exited``: the
kernel says the worker process is gone), then the signal; it keeps, in
private arrays, how many runs each slot still owes and whether its worker is
running, and forks a worker (``start_worker``) for a slot that owes a run
and has none.  A worker announces in shared memory that its job is done and
then exits.

``restart-on-done`` is the race between a worker's exit and its restart: the
postmaster takes the worker's "done" word for its exit and forks again, while
the process may still be running (two processes for one slot; the engine
reports the second fork).  ``scan-past-end`` walks the postmaster's private
list one entry too far.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    assert_, child_exited, ghost, mutation, operation, pg_atomic_exchange_u32, pg_atomic_fetch_add_u32,
    pg_atomic_write_u32, signal_postmaster, start_worker, take_signal,
)
from checker.model import CONSERVATION, EXCLUSIVE, PM_SAFETY, Mutation, Protocol, Violation


def backend():
    slot = (ME - 1) % SLOTS
    pg_atomic_fetch_add_u32(requested[slot], 1)
    signal_postmaster(worker_change)


def worker():
    with_job()


@operation
def with_job():
    global w_jobs
    # A static of the worker process: each fork is a new process, so it
    # starts at 0 every time (the assertion below fails if it did not).
    w_jobs += 1
    with ghost:
        assert_(w_jobs == 1, "exclusive ownership", "a worker process started with another process's statics")
        assert_(active[MY_SLOT] == 0, "exclusive ownership", "two worker processes run for one slot")
        active[MY_SLOT] = 1
    pg_atomic_write_u32(done[MY_SLOT], 1)
    with ghost:
        active[MY_SLOT] = 0


@operation
def server_loop_pass():
    """One pass of ServerLoop: child exits first, then signals, then start what is owed."""
    global pm_reaped
    for slot in range(SLOTS):
        if pm_running[slot] == 1:
            if mutation("restart-on-done"):
                # The worker said it is done: taken for its exit (it may still run).
                gone = pg_atomic_exchange_u32(done[slot], 0)
            else:
                gone = child_exited(slot)
            if gone:
                pm_running[slot] = 0
                pm_reaped += 1
    if take_signal(worker_change):
        for slot in range(SLOTS):
            pm_owed[slot] += pg_atomic_exchange_u32(requested[slot], 0)
    for slot in range(SLOTS + 1 if mutation("scan-past-end") else SLOTS):
        owed = pm_owed[slot]
        running = pm_running[slot]
        if owed > 0 and running == 0:
            pm_owed[slot] -= 1
            pm_running[slot] = 1
            start_worker(slot)


def postmaster():
    while pm_reaped < TOTAL:
        server_loop_pass()


class Workers(Protocol):
    name = "test-workers"
    summary = "the postmaster forks and restarts worker processes on request (worker role, private arrays)"
    roles = {"postmaster": postmaster, "backend": backend, "worker": worker}
    properties = (EXCLUSIVE, PM_SAFETY, CONSERVATION)
    max_slots = 2
    mutations = {
        "restart-on-done": Mutation("the postmaster takes the worker's 'done' word for its exit and forks again",
                                    bug_under=("sc", "tso", "weak"), breaks=PM_SAFETY),
        "scan-past-end": Mutation("the postmaster's scan of its private list runs one entry too far",
                                  bug_under=("sc", "tso", "weak"), breaks=PM_SAFETY),
    }

    def declare(self, p, d):
        d.constant("TOTAL", p.backends)
        d.array("requested", p.slots, 0)
        d.array("done", p.slots, 0)
        d.signal("worker_change")
        d.private_var("postmaster", "pm_reaped", 0)
        d.private_var("worker", "w_jobs", 0)
        d.private_array("postmaster", "pm_owed", p.slots, 0)
        d.private_array("postmaster", "pm_running", p.slots, 0)
        d.ghost_array("active", p.slots, 0)

    def check_quiescent(self, view):
        owed = view.private_array(0, "pm_owed")
        if any(owed) and all(view.system.threads[t].program.instrs[view.state[1][t][0]].op == "halt"
                             for t in view.threads_of("postmaster")):
            raise Violation(CONSERVATION, f"the postmaster finished owing runs {owed}")
