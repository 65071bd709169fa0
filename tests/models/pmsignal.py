"""pmsignal: backends post requests and signal the postmaster, which sleeps between signals.

A backend writes its request (a plain store) and then signals the postmaster
(``signal_postmaster``: PMSignalState's flag, then kill()).  The postmaster
sleeps until the flag is set (``wait_signal``, which also clears it), then
handles every posted request, and sleeps again.

Signals are flags, not a queue: two backends signalling before the postmaster
wakes are one wakeup.  ``one-request-per-wakeup`` handles only the first
request it finds on each wakeup and goes back to sleep without re-checking
the others: the second request is never handled and the postmaster sleeps
forever (deadlock freedom).  ``signal-by-plain-store`` sets the flag with a
plain store instead of signalling: with no kill() after the request, nothing
orders the request before the flag, so under weak memory the postmaster can
wake, find no request, and sleep forever.
"""

# ruff: noqa: F821  -- programs use names that declare() binds (docs/writing-a-model.md)

from checker.lang import (
    mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32, signal_postmaster, wait_signal,
)
from checker.model import DEADLOCK, Mutation, Protocol


def backend():
    pg_atomic_write_u32(request[ME - 1], 1)
    if mutation("signal-by-plain-store"):
        pg_atomic_write_u32(pm_wakeup, 1)  # a flag, no kill(): no barrier after the request
    else:
        signal_postmaster(pm_wakeup)


@operation
def handle_requests():
    global pm_handled
    for b in range(BACKENDS):
        if pg_atomic_read_u32(request[b]) == 1:
            pg_atomic_write_u32(request[b], 0)
            pm_handled += 1
            if mutation("one-request-per-wakeup"):
                break


def postmaster():
    while pm_handled < BACKENDS:
        wait_signal(pm_wakeup)
        handle_requests()


class PmSignal(Protocol):
    name = "test-pmsignal"
    summary = "backends post requests and signal a sleeping postmaster (signals)"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = (DEADLOCK,)
    mutations = {
        "one-request-per-wakeup": Mutation("the postmaster handles one request per wakeup: coalesced signals "
                                           "leave a request unhandled", bug_under=("sc", "tso", "weak"),
                                           breaks=DEADLOCK),
        "signal-by-plain-store": Mutation("the backend sets the flag with a plain store, no kill() barrier",
                                          bug_under=("weak",), breaks=DEADLOCK),
    }

    def declare(self, p, d):
        d.array("request", p.backends, 0)
        d.signal("pm_wakeup")
        d.private_var("postmaster", "pm_handled", 0)
