"""--symmetry: one state per orbit of interchangeable backends, same verdicts, concrete traces.

Backend numbers are renamed wherever the flow analysis of checker.symmetry
finds them (shared words, ghost owners, locals).  These tests hold it to:

* the renaming being an automorphism of every accepted protocol's state graph
  (each state's successors, permuted, are the permuted state's successors);
* the same verdicts and counterexample lengths as the full search on the
  whole mutation matrix, with concrete counterexamples;
* refusal, in one line, where renaming would be unsound -- and there the full
  search does find a violation that a reduction could have hidden;
* exact reduced state counts;
* under the weak model, the same for the windows: backend numbers in pending
  stores, values read and pending expressions are renamed, and a backend's
  window moves with it.
"""

from __future__ import annotations

import itertools
import os
import shutil

import pytest

from checker.bench_cmd import PCRING
from checker.ci_policy import ROGUE_LOOP_PARAMS, ROGUE_PARAMS
from checker.model import WAIT_FREEDOM
from checker.explore import Options
from checker.model import INTEGRITY, ModelError, Params, load_protocols
from checker.memory.weak import WeakMemory
from checker.recheck import recheck
from checker.replay import replay_trace
from checker.run import check, make_engine
from checker.symmetry import make_canonicaliser
from checker.trace import build_trace
from refimpl.build import PROTOCOLS as C_PROTOCOLS

LEAK = os.path.join(os.path.dirname(__file__), "models", "symmetry_leak.py")
ACCEPTED = ("ring", "caslist", "bitmap", "dlist", "bgworker")
# dsmhandle derives its segment handles from (ME - 1) * OPS and ME & 1.
# changequeue's ghost state keeps per-backend records (indexed by ME).
REFUSED = {"dsmhandle": "arithmetic on a backend number", "changequeue": "a ghost array indexed by a backend number",
           "changequeue-fixed": "a ghost array indexed by a backend number"}


@pytest.fixture(autouse=True)
def _registry_unchanged():
    """Loading a model by path registers it; later tests iterating the protocols must not see it."""
    from checker.model import Protocol, load_protocols

    load_protocols()  # the shipped ones are registered before the snapshot, never dropped by it
    before = dict(Protocol.registry)
    yield
    Protocol.registry.clear()
    Protocol.registry.update(before)


def _pc(mm, symmetry, mutation=None, threads=4, pushes=4):
    # No cycle analysis on either side: the example's producer (in the
    # postmaster's role) waits for room outside any operation, which that
    # analysis rightly reports as a wait-freedom lasso; the benchmark is
    # about safety, as SPIN's -DSAFETY run it is compared with.
    return check(PCRING, memory_model=mm, threads=threads, slots=2, mutation=mutation, extra={"pushes": pushes},
                 options=Options(symmetry=symmetry, liveness=False))


@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_example_holds_with_fewer_states(mm):
    _, full = _pc(mm, False)
    _, red = _pc(mm, True)
    assert full.complete and red.complete and not full.violations and not red.violations
    assert red.states < full.states
    assert "symmetry-reduced" in red.verdict(INTEGRITY) and red.verdict(INTEGRITY).startswith("holds (exhaustive")


def _assert_concrete(engine, cx):
    """Every step of the counterexample is a real move of the unreduced system."""
    assert cx.states[0] == engine.initial()
    for label, before, after in zip(cx.labels, cx.states, cx.states[1:]):
        out: list = []
        engine.successors(before, out)
        assert (label, after, None) in out


@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_counterexample_is_as_short_and_concrete(mm):
    engine, full = _pc(mm, False, "off-by-one")
    _, red = _pc(mm, True, "off-by-one")
    assert set(red.violations) == set(full.violations) == {INTEGRITY}
    cx, cy = full.violations[INTEGRITY], red.violations[INTEGRITY]
    assert cy.length == cx.length and cy.message == cx.message
    _assert_concrete(engine, cy)
    out: list = []
    engine.successors(cy.states[-1], out)
    assert any(lab == cy.final_label and viol is not None for lab, _n, viol in out)


# ---------------------------------------------------------------------------
# The renaming is an automorphism of each accepted protocol


def _moves(engine, state):
    out: list = []
    engine.successors(state, out)
    nexts = {n for _l, n, _v in out if n is not None}
    props = sorted(v[0] for _l, n, v in out if v is not None)
    return nexts, props


@pytest.mark.parametrize("mm", ["sc", "tso", pytest.param("weak", marks=pytest.mark.slow)])  # weak: 6-12 s each
@pytest.mark.parametrize("protocol", ACCEPTED)
def test_renaming_commutes_with_every_move(protocol, mm):
    engine = make_engine(protocol, Params(threads=4, slots=2, ops=1), memory_model=mm)
    canon = make_canonicaliser(engine)
    assert canon.renames, "every shipped protocol keeps backend numbers somewhere"
    swaps = [(1, 0, 2), (0, 2, 1)]  # two transpositions generate every permutation of three backends
    init = engine.initial()
    seen, frontier = {init}, [init]
    # Depth first: under weak the windows fill up a few steps in.
    while frontier and len(seen) < (1500 if mm == "weak" else 4000):
        s = frontier.pop()
        nexts, props = _moves(engine, s)
        for perm in swaps:
            image = canon.apply(s, perm)
            inexts, iprops = _moves(engine, image)
            assert inexts == {canon.apply(n, perm) for n in nexts}
            assert iprops == props
            assert canon(image) == canon(s)
        for n in nexts - seen:
            seen.add(n)
            frontier.append(n)


# ---------------------------------------------------------------------------
# Same verdicts as the full search on the mutation matrix


def _matrix():
    cases = []
    for name, cls in sorted(load_protocols().items()):
        for mutation, m in [(None, None)] + list(cls.mutations.items()):
            rogue = m is not None and m.needs_rogue
            if rogue:
                params = dict((ROGUE_LOOP_PARAMS if m.breaks == WAIT_FREEDOM else ROGUE_PARAMS)[0])
                if m.breaks == WAIT_FREEDOM:
                    # A rogue that never stops: a small step bound makes the loop a violation early.
                    params["step_bound"] = 4
            else:
                # Two registrations each where the mutation is a bug under sc (ABA needs a reuse).
                params = {"slots": 2, "ops": 2 if m is not None and "sc" in m.bug_under else 1}
            params["threads"] = 3
            # The default run keeps each protocol's correct model and first
            # mutation; the others run with the slow tests.
            slow = mutation is not None and mutation != next(iter(cls.mutations))
            cases.append(pytest.param(name, mutation, rogue, params, marks=[pytest.mark.slow] if slow else [],
                                      id=f"{name}-{mutation}"))
    return cases


@pytest.mark.parametrize("protocol,mutation,rogue,params", _matrix())
def test_mutation_matrix_same_verdicts(protocol, mutation, rogue, params):
    opts = {"liveness": False}  # not run on representatives; compared like for like
    if params.get("rogue_writes", 1) is None:
        opts["stop_on_first"] = True  # an endless rogue: both searches stop at the first (shallowest) violation
    try:
        engine, red = check(protocol, mutation=mutation, memory_model="sc", rogue=rogue,
                            options=Options(symmetry=True, **opts), **params)
    except ModelError as exc:
        assert protocol in REFUSED and REFUSED[protocol] in str(exc), str(exc)
        return
    # With a rogue the ghost records that make changequeue's backends tell
    # apart compile to nothing, so it is accepted there (and compared below).
    assert protocol in ACCEPTED or (rogue and protocol.startswith("changequeue"))
    _, full = check(protocol, mutation=mutation, memory_model="sc", rogue=rogue, options=Options(**opts), **params)
    assert red.complete == full.complete
    assert set(red.violations) == set(full.violations)
    assert red.complete or red.violations
    if mutation is not None and not rogue and "sc" in load_protocols()[protocol].mutations[mutation].bug_under:
        assert full.violations  # the comparison covers a violation in both directions
    for prop, cx in full.violations.items():
        cy = red.violations[prop]
        assert cy.length == cx.length, prop
        _assert_concrete(engine, cy)
    assert red.states < full.states or full.violations


# ---------------------------------------------------------------------------
# Refusals, and why they matter


def test_identity_dependent_model_is_refused_and_full_search_finds_the_bug():
    with pytest.raises(ModelError, match=r"--symmetry refused .*symmetry_leak.py:\d+: a backend number compared "
                                         r"with the constant 1"):
        check(LEAK, memory_model="sc", threads=3, slots=1, ops=1, options=Options(symmetry=True))
    # Unreduced, the state where backend 1 wrote last is reached: exactly
    # what a reduction that merged it with backend 2's could have missed.
    _, full = check(LEAK, memory_model="sc", threads=3, slots=1, ops=1)
    assert set(full.violations) == {"first backend last"}


WORKER_KEEPS = os.path.join(os.path.dirname(__file__), "models", "symmetry_worker.py")


def test_a_worker_keeping_a_backend_number_is_refused_and_one_keeping_none_is_reduced():
    # Worker processes are never permuted, so their locals are not renamed:
    # a worker that copies a backend's number into one is refused.
    with pytest.raises(ModelError, match=r"--symmetry refused .*symmetry_worker.py:\d+: worker0 local worker.who "
                                         r"holds a backend number"):
        check(WORKER_KEEPS, memory_model="sc", threads=3, slots=1, options=Options(symmetry=True))
    # One that keeps nothing (bgworker's workers: fork, exit) is accepted, and
    # the two backends' orbits halve the count.
    _, full = check(WORKER_KEEPS, mutation="worker-keeps-nothing", memory_model="sc", threads=3, slots=1,
                    options=Options(liveness=False))
    _, red = check(WORKER_KEEPS, mutation="worker-keeps-nothing", memory_model="sc", threads=3, slots=1,
                   options=Options(symmetry=True, liveness=False))
    assert full.complete and red.complete and not full.violations and not red.violations
    assert (full.states, red.states) == (63, 32)


def test_equality_only_use_of_the_number_is_accepted():
    _, full = check(LEAK, mutation="by-equality", memory_model="sc", threads=4, slots=1, ops=1)
    _, red = check(LEAK, mutation="by-equality", memory_model="sc", threads=4, slots=1, ops=1,
                   options=Options(symmetry=True))
    assert full.complete and red.complete and not full.violations and not red.violations
    assert (full.states, red.states) == (26, 8)


def test_refusals_are_one_line(checker_cli):
    for args in (["dsmhandle", "-m", "sc"], [LEAK, "-m", "sc"], ["ring", "-m", "sc", "--step-bound", "0"],
                 ["dsmhandle", "-m", "weak", "--threads", "3", "--window", "2"],
                 [PCRING, "-m", "sc", "--threads", "2"],
                 [PCRING, "-m", "sc", "--threads", "3", "--fingerprint"]):
        r = checker_cli("explore", *args, "--symmetry", "--no-trace")
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and "--symmetry" in r.stderr and "Traceback" not in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# Exact reduced counts (the full counts are pinned in test_engine_counts.py)

REDUCED = {
    # (protocol, memory model) at --threads 3 --slots 2 --ops 2: (states, transitions);
    # about half the full counts, as two backends make orbits of at most two.
    ("ring", "sc"): (19527, 56640),
    ("caslist", "sc"): (22897, 68809),
    ("bitmap", "sc"): (8477, 26524),
    ("dlist", "sc"): (19724, 59402),
    ("bgworker", "sc"): (43136, 117107),
    ("bitmap", "tso"): (15560, 53492),
    ("bgworker", "tso"): (89272, 267007),
}


# bgworker under tso has 178,543 states since its model has worker processes:
# its reduced run is in the slow run, to keep the default run's budget.
SLOW_REDUCED = {("bgworker", "tso")}


@pytest.mark.parametrize("key", [pytest.param(k, marks=[pytest.mark.slow] if k in SLOW_REDUCED else [])
                                 for k in REDUCED], ids=[f"{p}-{m}" for p, m in REDUCED])
def test_reduced_counts(key):
    protocol, mm = key
    _, red = check(protocol, memory_model=mm, threads=3, slots=2, ops=2,
                   options=Options(symmetry=True, liveness=False))
    assert red.complete and not red.violations
    assert (red.states, red.transitions) == REDUCED[key]


def test_three_backends_reduce_by_nearly_six():
    _, full = check("bgworker", memory_model="sc", threads=4, slots=2, ops=1, options=Options(liveness=False))
    _, red = check("bgworker", memory_model="sc", threads=4, slots=2, ops=1,
                   options=Options(symmetry=True, liveness=False))
    assert full.complete and red.complete
    # An orbit has at most 3! = 6 members; most have all six.
    assert (full.states, red.states) == (35872, 5995)


def test_permutations_are_group_actions():
    engine = make_engine("ring", Params(threads=4, slots=2, ops=1), memory_model="tso")
    canon = make_canonicaliser(engine)
    s = engine.initial()
    for _ in range(12):  # walk a little way into the graph
        out: list = []
        engine.successors(s, out)
        s = [n for _l, n, _v in out if n is not None][-1]
    for p, q in itertools.product(itertools.permutations(range(3)), repeat=2):
        # apply(apply(s, p), q) == apply(s, p composed with q)
        composed = [p[q[j]] for j in range(3)]
        assert canon.apply(canon.apply(s, p), q) == canon.apply(s, composed)


QUIESCENCE = os.path.join(os.path.dirname(__file__), "models", "symmetry_quiescence.py")


@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_opaque_quiescence_check_runs_on_every_member(mm):
    """A representative where another backend wrote last still stands for the member where backend 3 did."""
    engine, full = check(QUIESCENCE, memory_model=mm, threads=4, slots=1, ops=1)
    _, red = check(QUIESCENCE, memory_model=mm, threads=4, slots=1, ops=1, options=Options(symmetry=True))
    prop = "highest backend not last"
    assert set(full.violations) == set(red.violations) == {prop}
    cx, cy = full.violations[prop], red.violations[prop]
    assert cy.length == cx.length and cy.message == cx.message == "backend 3 wrote last"
    _assert_concrete(engine, cy)
    assert engine.check_state(cy.states[-1]) == (prop, "backend 3 wrote last")
    assert cy.labels[0][0] == 3  # carried over: the rebuilt trace began with backend 1's move


# ---------------------------------------------------------------------------
# The weak model: windows and pending values

# --threads 3 --slots 2 --ops 1 under weak at its sound default (no --window):
# (full states, orbits, orbit transitions).
WEAK_COUNTS = {
    "ring": (22281, 11142, 42591),
    "caslist": (13536, 6774, 22648),
    "bitmap": (4875, 2442, 8189),
    "dlist": (7695, 3849, 14101),
    "bgworker": (2629, 1315, 3498),
}


@pytest.mark.parametrize("protocol", [pytest.param(p, marks=[pytest.mark.slow] if p in ("ring", "caslist") else [])
                                      for p in ACCEPTED])  # ring, caslist: 6-9 s
def test_weak_reduced_counts_and_verdicts(protocol):
    _, full = check(protocol, memory_model="weak", threads=3, slots=2, ops=1, options=Options(liveness=False))
    _, red = check(protocol, memory_model="weak", threads=3, slots=2, ops=1,
                   options=Options(symmetry=True, liveness=False))
    assert full.complete and red.complete and not full.violations and not red.violations
    assert (full.states, red.states, red.transitions) == WEAK_COUNTS[protocol]
    for prop in full.system.checked:
        assert red.verdict(prop).split(" (")[0] == full.verdict(prop).split(" (")[0], prop


def test_weak_renaming_memos_emptied_as_they_fill(monkeypatch):
    # The renaming and the sort keys are memoised (Canonicaliser._renamed,
    # _keys) and emptied past _MEMO_ITEMS entries: with room for 8, they
    # stay that small through the run, and the orbits are still the pinned ones.
    from checker import symmetry

    monkeypatch.setattr(symmetry, "_MEMO_ITEMS", 8)
    made = []
    init = symmetry.Canonicaliser.__init__

    def keep(self, *args):
        init(self, *args)
        made.append(self)

    monkeypatch.setattr(symmetry.Canonicaliser, "__init__", keep)
    _, red = check("bgworker", memory_model="weak", threads=3, slots=2, ops=1,
                   options=Options(symmetry=True, liveness=False))
    assert red.complete and (red.states, red.transitions) == WEAK_COUNTS["bgworker"][1:]
    (canon,) = made
    # A memo is emptied before an entry is added past 8: it never holds more
    # than 8 + the entries one call adds (a state's threads).
    assert 0 < len(canon._renamed) <= 8 + len(red.system.threads) and 0 < len(canon._keys) <= 9


def _weak_mutations():
    cases = []
    for name in ACCEPTED:
        in_default = False  # the default run keeps each protocol's first quick one, the slow run has them all
        for mutation, m in load_protocols()[name].mutations.items():
            if "weak" not in m.bug_under:
                continue
            if m.needs_rogue:
                params = dict((ROGUE_LOOP_PARAMS if m.breaks == WAIT_FREEDOM else ROGUE_PARAMS)[0])
                if m.breaks == WAIT_FREEDOM:
                    params["step_bound"] = 4
            else:
                params = {"slots": 2, "ops": WEAK_OPS.get((name, mutation), 1)}
            params["threads"] = 3
            slow = (name, mutation) in WEAK_SLOW or in_default
            in_default = in_default or not slow
            marks = [pytest.mark.slow] if slow else []
            cases.append(pytest.param(name, mutation, m.needs_rogue, params, marks=marks, id=f"{name}-{mutation}"))
    return cases


# Mutations whose bug needs a slot reused (two operations per backend) to show.
WEAK_OPS = {("ring", "empty-off-by-one"): 2, ("ring", "free-no-write-barrier"): 2,
            ("ring", "free-no-read-barrier"): 2, ("caslist", "no-tag"): 2, ("dlist", "refill-keeps-flag"): 2}
# caslist no-tag and dlist refill-keeps-flag take 30-70 CPU s for both
# searches, dlist no-lock about 60, ring's free barriers 6-10.
WEAK_SLOW = {("caslist", "no-tag"), ("dlist", "refill-keeps-flag"), ("dlist", "no-lock"),
             ("ring", "free-no-read-barrier"), ("ring", "free-no-write-barrier")}
# bitmap plain-rmw's retry loop has no ordering event, so at the sound default
# a backend's window grows to the weak model's cap of 64 events two steps in
# and neither search ends; two events in flight find the lost claim at depth 6.
WEAK_WINDOW = {("bitmap", "plain-rmw"): 2}
HAVE_CC = shutil.which(os.environ.get("CC", "cc").split()[0]) is not None


@pytest.mark.parametrize("protocol,mutation,rogue,params", _weak_mutations())
def test_weak_mutations_same_counterexamples(protocol, mutation, rogue, params):
    """Both searches stop at their first (shallowest) violation: same property, same length, a real trace."""
    opts = Options(liveness=False, stop_on_first=True)
    window = WEAK_WINDOW.get((protocol, mutation))
    mm_options = {"window": window} if window else None
    engine, red = check(protocol, mutation=mutation, memory_model="weak", rogue=rogue, mm_options=mm_options,
                        options=Options(liveness=False, stop_on_first=True, symmetry=True), **params)
    _, full = check(protocol, mutation=mutation, memory_model="weak", rogue=rogue, mm_options=mm_options,
                    options=opts, **params)
    assert full.violations, "the comparison covers a violation in both directions"
    assert {p: c.length for p, c in red.violations.items()} == {p: c.length for p, c in full.violations.items()}
    for prop, cy in red.violations.items():
        _assert_concrete(engine, cy)
        doc = build_trace(engine, cy, red)
        assert "re-checked against the model" in recheck(doc), prop
        if HAVE_CC and protocol in C_PROTOCOLS:
            report = replay_trace(doc)  # --replay-c: the C build with the same mutation takes the same steps
            assert report.ok and report.reached_end, report.summary()


WEAK_MODEL = os.path.join(os.path.dirname(__file__), "models", "symmetry_weak.py")


def test_weak_pending_store_of_a_backend_number_is_renamed(monkeypatch):
    """The lock winner's number waits in a pending store: moving its window without renaming it is wrong."""
    _, full = check(WEAK_MODEL, memory_model="weak", threads=3)
    _, red = check(WEAK_MODEL, memory_model="weak", threads=3, options=Options(symmetry=True))
    assert full.complete and red.complete and not full.violations and not red.violations
    assert (full.states, red.states) == (40, 22)
    # arm64's compare-exchange is an ldaxr/stlxr pair: its result is a pending
    # value over the backend's expected value until it is performed.
    engine, full = check(WEAK_MODEL, memory_model="weak", profile="arm64", threads=4, options=Options(liveness=False))
    _, red = check(WEAK_MODEL, memory_model="weak", profile="arm64", threads=4,
                   options=Options(symmetry=True, liveness=False))
    assert full.complete and red.complete and not full.violations and not red.violations
    assert (full.states, red.states) == (275, 70)
    canon = make_canonicaliser(engine)
    init = engine.initial()
    seen, frontier = {init}, [init]
    while frontier:
        s = frontier.pop()
        nexts, props = _moves(engine, s)
        for perm in ((1, 0, 2), (0, 2, 1)):
            assert _moves(engine, canon.apply(s, perm)) == ({canon.apply(n, perm) for n in nexts}, props)
        for n in nexts - seen:
            seen.add(n)
            frontier.append(n)
    rename = WeakMemory.rename_pending
    monkeypatch.setattr(WeakMemory, "rename_pending",
                        lambda self, tid, L, w, _value, expr: rename(self, tid, L, w, lambda v, _s: v, expr))
    # Unrenamed, the reduced search reaches an orbit no concrete execution
    # reaches (a names the backend that lost the lock): it finds a
    # "violation" whose trace cannot be rebuilt.
    with pytest.raises(AssertionError, match="no move of the concrete state reaches the next orbit"):
        check(WEAK_MODEL, memory_model="weak", threads=3, options=Options(symmetry=True))
