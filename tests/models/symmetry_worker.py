"""A worker process that keeps a backend's number: --symmetry must refuse it.

A backend records its number in ``last`` and signals; the postmaster forks
the worker, which copies ``last`` into a local and then stores it in
``seen``.  Renaming the backends would have to rename that local too, and
worker processes are not renamed, so the identity analysis refuses the
model.  With ``worker-keeps-nothing`` the worker only exits: accepted.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    child_exited, mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32, signal_postmaster, start_worker,
    take_signal,
)
from checker.model import Mutation, Protocol


def backend():
    pg_atomic_write_u32(last, ME)
    signal_postmaster(change)


def worker():
    if not mutation("worker-keeps-nothing"):
        who = pg_atomic_read_u32(last)
        pg_atomic_write_u32(seen, who)


@operation
def server_loop_pass():
    global pm_reaped
    running = pm_running[0]
    if running == 1:
        if child_exited(0):
            pm_running[0] = 0
            pm_reaped += 1
    elif take_signal(change):
        pm_running[0] = 1
        start_worker(0)


def postmaster():
    while pm_reaped < 1:
        server_loop_pass()


class SymmetryWorker(Protocol):
    name = "symmetry-worker"
    roles = {"postmaster": postmaster, "backend": backend, "worker": worker}
    properties = ()
    mutations = {"worker-keeps-nothing": Mutation("the worker reads nothing and only exits", bug_under=())}

    def declare(self, p, d) -> None:
        d.word("last", 0)
        d.word("seen", 0)
        d.signal("change")
        d.private_var("postmaster", "pm_reaped", 0)
        d.private_array("postmaster", "pm_running", 1, 0)
