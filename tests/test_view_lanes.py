"""What the viewer says about each step: the function, ghost changes, the state after a step, dead
locals, and, under weak, the event a violation is about."""

import re

import pytest

from checker.explore import Options
from checker.run import check
from checker.trace import build_trace
from checker.view import analyse, render_text, verdict_line, view_model


def _trace(protocol, memory_model, mutation, **params):
    engine, result = check(protocol, memory_model=memory_model, mutation=mutation,
                           options=Options(stop_on_first=True), **params)
    assert result.violations
    return build_trace(engine, next(iter(result.violations.values())), result)


@pytest.fixture(scope="module")
def sc_no_lock():
    return _trace("ring", "sc", "no-lock", threads=3, slots=2, ops=2)


@pytest.fixture(scope="module")
def weak_early_read():
    # A backend reads a free-queue entry before the head that publishes it
    # (no read barrier between them): the check that the entry is the one
    # produced for that position runs only once the head's value is known.
    return _trace("ring", "weak", "free-no-read-barrier", threads=3, slots=2, ops=2)


@pytest.fixture(scope="module")
def weak_in_order():
    # The writer's missing barrier: the violating step itself reads the bad value.
    return _trace("ring", "weak", "start-no-write-barrier", threads=3, slots=2, ops=2)


def _row(text: str, k: int) -> str:
    """The lines of swimlane row ``k`` (up to the next numbered row)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^\|(?:!! )?\s*{k}\*? \|", line))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\|(?:!! )?\s*\d+\*? \|", lines[i])
                or lines[i].startswith("+")), len(lines))
    return "\n".join(lines[start:end])


def test_each_lane_names_the_function_as_well_as_file_and_line(sc_no_lock):
    vs = sc_no_lock["violation_step"]
    step = sc_no_lock["steps"][vs - 1]
    assert step["source"]["function"] == "take_free_slot"  # inlined into backend(): the pc alone does not say
    text = render_text(sc_no_lock, width=220)
    assert "take_free_slot() ring.py:66" in _row(text, vs)
    assert "(backend2, take_free_slot() ring.py:66)" in verdict_line(sc_no_lock)
    assert view_model(sc_no_lock)["steps"][vs - 1]["ref"] == "take_free_slot() ring.py:66"


def _column(row: str, n: int) -> str:
    """Column ``n`` of a row (0: the step number; -1: the last), its wrapped lines joined."""
    parts = [line.split("|")[1:-1] for line in row.splitlines()]
    return " ".join(p[n].strip() for p in parts if p[n].strip())


def test_ghost_changes_appear_in_the_changed_column(sc_no_lock):
    text = render_text(sc_no_lock, width=220)
    model = view_model(sc_no_lock)
    with_ghost = [s for s in sc_no_lock["steps"] if s.get("ghost_changes")]
    without = [s for s in sc_no_lock["steps"] if not s.get("ghost_changes") and not s.get("memory_changes")
               and not s.get("violates")]
    assert with_ghost and without
    for s in with_ghost:
        shown = ", ".join(f"{cell}={value}" for cell, value in s["ghost_changes"].items())
        assert _column(_row(text, s["index"]), -1) == f"ghost: {shown}"
        assert model["steps"][s["index"] - 1]["changes"] == f"ghost: {shown}"
    for s in without:
        assert "ghost:" not in _row(text, s["index"])
        assert model["steps"][s["index"] - 1]["changes"] == ""


@pytest.mark.parametrize("which", ["sc_no_lock", "weak_in_order"])
def test_after_step_n_is_the_state_that_step_left(request, which):
    doc = request.getfixturevalue(which)
    an = analyse(doc)
    completed = [s for s in doc["steps"] if s.get("memory") is not None]
    assert completed
    for s in completed:
        fr = an.frames[s["index"]]
        assert fr.completed
        assert fr.memory == s["memory"] and fr.ghost == s["ghost"]
        assert fr.locals[s["thread"]] == s["locals"]


def test_the_state_view_of_a_step_shows_what_it_wrote(weak_in_order):
    doc = weak_in_order
    an = analyse(doc)
    first_write = next(s for s in doc["steps"] if s.get("memory_changes"))
    k = first_write["index"]
    assert an.frames[k].memory != an.frames[k - 1].memory
    (cell, value), *_ = first_write["memory_changes"].items()
    for n, label in ((k, f"after step {k}:"), (k - 1, f"after step {k - 1}:" if k > 1 else "initial")):
        text = render_text(doc, step=n, width=200)
        assert label in text
        row = next(line for line in text.splitlines() if line.count("|") > 2 and line.split("|")[1].strip() == cell)
        assert ("changed" in row) == (n == k)


def test_a_violating_step_that_does_not_complete_says_so(sc_no_lock):
    vs = sc_no_lock["violation_step"]
    an = analyse(sc_no_lock)
    assert not an.frames[vs].completed and an.frames[vs].memory == an.frames[vs - 1].memory
    text = render_text(sc_no_lock, step=vs, width=200)
    assert f"after step {vs}" not in text
    assert f"step {vs} fails a check and does not complete; the state it started from" in text
    assert view_model(sc_no_lock)["frames"][vs]["completed"] is False
    assert view_model(sc_no_lock)["frames"][vs - 1]["completed"] is True


def test_dead_locals_are_dead_not_zero(sc_no_lock):
    # Before its first step a backend's locals hold nothing yet; once it has
    # read free_tail into `tail`, that local is live until the tail is advanced.
    init = sc_no_lock["initial"]["locals"][1]
    assert init["take_free_slot#2.tail"] is None
    first = next(s for s in sc_no_lock["steps"] if s["thread"] == 1)
    assert first["text"].startswith("pg_atomic_read_u32(free_tail)")
    assert first["locals"]["take_free_slot#2.tail"] == first["value"]
    assert any(v is None for v in first["locals"].values())
    text = render_text(sc_no_lock, step=0, width=400)
    assert "take_free_slot#2.tail=dead" in text and "take_free_slot#2.tail=0" not in text
    text = render_text(sc_no_lock, step=first["index"], width=400)
    assert f"take_free_slot#2.tail=2^32-{2**32 - first['value']}" in text
    assert view_model(sc_no_lock)["frames"][0]["locals"][1]["take_free_slot#2.tail"] == "dead"


def test_weak_flags_the_event_whose_value_fails_the_check(weak_early_read):
    doc = weak_early_read
    vs, ves = doc["violation_step"], doc.get("violation_event_step")
    assert ves is not None and ves < vs
    early = doc["steps"][ves - 1]
    # the entry read, performed before the head it depends on
    assert early["thread"] == doc["steps"][vs - 1]["thread"]
    assert early["location"].startswith("free_ring[") and early["source"]["function"] == "take_free_slot"
    assert doc["steps"][vs - 1]["location"] == "free_head"
    assert doc["steps"][vs - 1]["checked_by"]["function"] == "take_free_slot"
    text = render_text(doc, width=220)
    assert _row(text, ves).startswith(f"|!! {ves}")
    lane = _column(_row(text, ves), 1 + early["thread"])
    assert lane.endswith(f"!! queue integrity: this event's value fails the check (found at step {vs})"), lane
    assert f"about the event of step {ves}" in verdict_line(doc)
    assert view_model(doc)["steps"][ves - 1]["notes"]


def test_weak_without_an_earlier_event_flags_only_the_violating_step(weak_in_order, sc_no_lock):
    for doc in (weak_in_order, sc_no_lock):
        assert doc.get("violation_event_step") is None
        text = render_text(doc, width=220)
        assert sum(1 for line in text.splitlines() if line.startswith("|!!")) == 1
        assert "about the event of step" not in verdict_line(doc)
