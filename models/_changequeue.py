"""What ``changequeue`` (the 0001 patch as written) and ``changequeue-fixed`` share.

Both keep PostgreSQL's ``BackgroundWorkerSlot`` (``in_use``, ``terminate``,
``generation``, ``pid``, the worker description, here reduced to who asked
for it) and add the patch's shared queue of slot numbers: ``QSIZE = 2N + 1``
entries (N = max_worker_processes = ``--slots``) with a head that backends
advance under BackgroundWorkerLock and a tail that the postmaster advances
without a lock.  Head and tail are indexes in ``0..QSIZE-1`` (not
free-running counters), as in the patch.

The postmaster's private bookkeeping (its list of RegisteredBgWorker) is kept
in bitmasks, one bit per slot, because the language has no private arrays
yet: ``pm_registered`` (a RegisteredBgWorker exists for the slot),
``pm_running`` (its process was forked), ``pm_rw_terminate`` (its
``rw_terminate``).  A worker role (issue 15, section 1) would replace the
bitmasks with private arrays and the ``choose()`` below with child-exit
events.

Ghost state follows each registration: ``owner[s]`` says who holds slot s,
``reg_gen[s]`` counts the registrations of s (bumped with the store of
``in_use = true``, so that it moves exactly when the postmaster can first see
the new registration), ``term_gen[s]`` is the registration a backend asked to
terminate, ``registrant[s]`` the backend whose description the slot holds, ``my_reg[b]``
the registration backend b's handle names.
``q_val[p]`` is the slot number last written at queue position p.
"""

from __future__ import annotations

from checker.model import CONSERVATION, Violation

# Where a slot is, in ghost state (owner[slot]).
OWN_FREE = 1
OWN_QUEUED = 2  # in_use, the postmaster has no RegisteredBgWorker for it yet
OWN_REGISTERED = 3  # the postmaster has a RegisteredBgWorker, not started
OWN_RUNNING = 4  # its process runs
OWN_BACKEND = 8  # + backend number: being filled in under BackgroundWorkerLock

INVALID_PID = 0

# The properties the patch needs beyond the shipped ones.
CAPACITY = "queue capacity"
REGISTRATION = "registration honoured"
TERMINATION = "terminate delivered"
PROPERTY_TEXT = {
    CAPACITY: "an enqueue never finds the queue full (the patch's Assert(head != tail))",
    REGISTRATION: "a registered worker is started unless its registrant asked to terminate it",
    TERMINATION: "a terminate request for a live worker reaches the postmaster",
}


def queue_size(slots: int) -> int:
    return 2 * slots + 1


def declare_common(p, d) -> None:
    q = queue_size(p.slots)
    d.constant("QSIZE", q)
    d.constant("TOTAL", p.backends * p.ops)
    d.constant("INVALID_PID", INVALID_PID)
    for k, v in (("OWN_FREE", OWN_FREE), ("OWN_QUEUED", OWN_QUEUED), ("OWN_REGISTERED", OWN_REGISTERED),
                 ("OWN_RUNNING", OWN_RUNNING), ("OWN_BACKEND", OWN_BACKEND)):
        d.constant(k, v)
    d.array("in_use", p.slots, 0)
    d.array("terminate", p.slots, 0)
    d.array("generation", p.slots, 0)
    d.array("pid", p.slots, 0)
    d.array("worker", p.slots, 0)
    d.word("cq_head", 0)
    d.word("cq_tail", 0)
    d.array("cq_ring", q, 0)
    d.lock("BackgroundWorkerLock")
    d.private_var("backend", "my_slot", 0)
    d.private_var("backend", "my_gen", 0)
    for name in ("pm_registered", "pm_running", "pm_rw_terminate", "pm_done"):
        d.private_var("postmaster", name, 0)
    d.ghost_array("owner", p.slots, OWN_FREE)
    d.ghost_array("reg_gen", p.slots, 0)
    d.ghost_array("term_gen", p.slots, 0xFFFFFFFF)
    d.ghost_array("registrant", p.slots, 0)
    d.ghost_array("my_reg", p.threads, 0)  # per backend: the registration its handle names
    d.ghost_array("q_val", q, 0)


def queued_entries(v) -> list[int] | None:
    """The slot numbers between tail and head, or None if they are out of range."""
    q = v.system.constants["QSIZE"]
    head, tail = v.word("cq_head"), v.word("cq_tail")
    if head >= q or tail >= q:
        return None
    ring = v.array("cq_ring")
    out = []
    while tail != head:
        out.append(ring[tail])
        tail = (tail + 1) % q
    return out


def check_slots(v) -> None:
    """Every slot in one place, and nothing a backend handed over forgotten.

    Runs when every thread is between operations.  A slot that is in use,
    unknown to the postmaster and named by no queue entry will never be
    looked at again: its registration is lost (and the slot leaked).  A
    terminate request for a live registration that no entry names and that
    the postmaster has not recorded in ``rw_terminate`` is lost too.
    """
    slots = v.system.params.slots
    entries = queued_entries(v)
    if entries is None:
        raise Violation(CONSERVATION, "the change queue's head or tail is out of range")
    in_use, owner = v.array("in_use"), v.ghost("owner")
    reg_gen, term_gen = v.ghost("reg_gen"), v.ghost("term_gen")
    pm = v.threads_of("postmaster")[0]
    registered, running = v.local(pm, "pm_registered"), v.local(pm, "pm_running")
    rw_terminate = v.local(pm, "pm_rw_terminate")
    for s in range(slots):
        bit = 1 << s
        if (owner[s] == OWN_FREE) != (in_use[s] == 0):
            raise Violation(CONSERVATION, f"slot {s} has in_use = {in_use[s]} but belongs to "
                            f"{'nobody' if owner[s] == OWN_FREE else 'a registration'}")
        if running & bit and not registered & bit:
            raise Violation(CONSERVATION, f"slot {s} runs a worker the postmaster has not registered")
        if owner[s] == OWN_QUEUED and s not in entries:
            raise Violation(REGISTRATION, f"slot {s} holds a registered worker that the postmaster does not "
                            "know and no queue entry names: it will never start (and the slot is leaked)")
        if (owner[s] in (OWN_REGISTERED, OWN_RUNNING) and term_gen[s] == reg_gen[s]
                and not rw_terminate & bit and s not in entries):
            raise Violation(TERMINATION, f"the terminate request for slot {s}'s worker was lost: "
                            "no queue entry names the slot and the postmaster never saw it")
