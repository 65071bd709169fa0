"""The trace viewer: terminal swimlanes, the state at a step, the HTML page, and their errors.

Traces come from two places: small explorations run here (so every memory
model and protocol the checker has today is covered by what it writes now),
and a few stored traces under tests/view_data/ (a weak-memory counterexample
takes ~40 s to find, and the snapshot needs input that does not move when a
model is edited).
"""

import copy
import json
import re
from pathlib import Path

import pytest

from checker.explore import Options
from checker.memory import memory_models
from checker.model import load_protocols
from checker.run import check
from checker.trace import TraceError, build_trace
from checker.view import analyse, html_page, load, render_text, write_html
from conftest import run_checker

DATA = Path(__file__).resolve().parent / "view_data"
WEAK_RING = DATA / "ring-weak-free-no-write-barrier.trace.json"
SC_ROGUE = DATA / "ring-sc-rogue.trace.json"
SC_NO_LOCK = DATA / "ring-sc-no-lock.trace.json"

SPIN_MODEL = '''
from checker.lang import operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Protocol

flag = 0


@operation
def wait_for_flag():
    while pg_atomic_read_u32(flag) == 0:
        pass


def postmaster():
    wait_for_flag()


def backend():
    pg_atomic_write_u32(flag, 1)


class Spin(Protocol):
    name = "view-test-spin"
    summary = "the postmaster spins on a flag a backend sets"
    roles = {"postmaster": postmaster, "backend": backend}
    properties = ("postmaster wait-freedom",)

    def declare(self, p, d):
        d.word("flag", 0)
'''


def _traces(protocol, memory_model="sc", keep_going=False, liveness=True, **params):
    engine, result = check(protocol, memory_model=memory_model,
                           options=Options(stop_on_first=not keep_going, liveness=liveness), **params)
    assert result.violations, f"{protocol} {params} found no counterexample"
    return {prop: build_trace(engine, cx, result) for prop, cx in result.violations.items()}


# One test process for the module: the counterexamples of `live` are made once, not per process.
pytestmark = pytest.mark.xdist_group("view")


@pytest.fixture(scope="module")
def live():
    """One counterexample of each kind the checker produces today."""
    out = {}
    ring_sc = _traces("ring", mutation="no-lock", keep_going=True, threads=3, slots=2, ops=2)
    out["sc"] = ring_sc["exclusive ownership"]
    out["sc-deadlock"] = ring_sc["deadlock freedom"]
    out["rogue"] = next(iter(_traces("ring", mutation="no-range-check", threads=2, slots=2, ops=1,
                                     rogue=True).values()))
    if "tso" in memory_models():
        t = _traces("ring", memory_model="tso", mutation="no-lock", keep_going=True, liveness=False,
                    threads=3, slots=2, ops=1)
        out["tso"] = t["conservation"]
    if "weak" in memory_models() and "bgworker" in load_protocols():
        out["weak"] = next(iter(_traces("bgworker", memory_model="weak", mutation="register-no-write-barrier",
                                        threads=2, slots=2, ops=2).values()))
    protos = load_protocols()
    if "caslist" in protos:
        out["caslist"] = next(iter(_traces("caslist", mutation="no-tag", threads=3, slots=2, ops=2).values()))
    if "bitmap" in protos:
        out["bitmap"] = next(iter(_traces("bitmap", mutation="unchecked-claim", threads=3, slots=2,
                                          ops=2).values()))
    return out


@pytest.fixture(scope="module")
def lasso(tmp_path_factory):
    """A postmaster spinning on a flag nobody sets.

    The engine reports this as a step-bound violation (its step counter is
    part of the state, so the spin never closes a cycle); the last read is
    the same state over and over, so the trace is marked as the lasso it
    really is to exercise the viewer's cycle display.
    """
    d = tmp_path_factory.mktemp("spin")
    model = d / "spin.py"
    model.write_text(SPIN_MODEL)
    doc = next(iter(_traces(str(model), threads=2, slots=1, ops=1, step_bound=4).values()))
    doc["cycle_start"] = len(doc["steps"]) - 1
    return doc


# ---------------------------------------------------------------------------
# terminal


ROGUE_SNAPSHOT = """\
ring, mutation no-range-check: memory model sc (profile documented), threads 2, slots 2, ops 1,
rogue
+---------------------------------------------------------------------------------------------+
|   # | postmaster                | backend1 | rogue                         | changed        |
|-----+---------------------------+----------+-------------------------------+----------------|
|   1 |                           |          | rogue write start_head = 0    | start_head=0   |
|   2 | read start_head -> 0      |          |                               |                |
|     | ring.py:145 <-#1          |          |                               |                |
|   3 | pg_read_barrier()         |          |                               |                |
|     | ring.py:156               |          |                               |                |
|   4 |                           |          | rogue write start_ring[0] = 2 | start_ring[0]=2|
|   5 | read start_ring[0] -> 2   |          |                               |                |
|     | ring.py:157 <-#4          |          |                               |                |
|   6 | pg_memory_barrier()       |          |                               |                |
|     | ring.py:164               |          |                               |                |
|!! 7 | write start_tail = 2^32-1 |          |                               |                |
|     | ring.py:165               |          |                               |                |
|     | !! postmaster safety      |          |                               |                |
+---------------------------------------------------------------------------------------------+
VIOLATED postmaster safety at step 7 (postmaster, ring.py:165): the postmaster acted on a slot
number out of range
"""


def test_terminal_snapshot():
    assert render_text(load(SC_ROGUE), width=100) == ROGUE_SNAPSHOT


def _check_swimlanes(doc, text):
    for t in doc["threads"]:
        assert t["name"] in text
    assert f"VIOLATED {doc['property']}" in text
    vs = doc["violation_step"]
    assert re.search(rf"^\|!! {vs}\*? ", text, re.M), "the violating row is not marked"
    assert sum(1 for line in text.splitlines() if line.startswith("|!!")) == 1
    steps_shown = {int(m) for m in re.findall(r"^\|(?:!! )?\s*(\d+)\*? \|", text, re.M)}
    assert steps_shown == set(range(1, len(doc["steps"]) + 1))


@pytest.mark.parametrize("kind", ["sc", "sc-deadlock", "rogue", "tso", "weak", "caslist", "bitmap"])
def test_every_kind_renders(live, kind):
    if kind not in live:
        pytest.skip(f"no {kind} counterexample: that memory model or protocol is not in this checkout")
    doc = live[kind]
    _check_swimlanes(doc, render_text(doc, width=160))
    page = html_page(doc)
    assert doc["property"] in page


def test_stored_weak_trace_renders_with_pending_column():
    doc = load(WEAK_RING)
    text = render_text(doc, width=160)
    _check_swimlanes(doc, text)
    assert "in flight" in text
    # step 34 is where backend2 reads the free-queue entry whose store is still in the postmaster's window
    assert re.search(r"\|!! 34 .*perform read .*free_ring\[0\] -> 0", text)


def test_hide_internal_drops_only_memory_model_steps():
    doc = load(WEAK_RING)
    full = render_text(doc, width=160)
    short = render_text(doc, width=160, hide_internal=True)
    internal = [s["index"] for s in doc["steps"] if s["action"] == "fetch" and not s.get("performed")]
    assert internal, "the stored weak trace has unperformed fetches"
    shown = {int(m) for m in re.findall(r"^\|(?:!! )?\s*(\d+) \|", short, re.M)}
    assert shown == set(range(1, len(doc["steps"]) + 1)) - set(internal)
    assert f"({len(internal)} memory-model steps" in short
    assert "memory-model step" not in full
    # an sc trace has no memory-model steps: hiding them changes nothing
    sc = load(SC_NO_LOCK)
    assert render_text(sc, width=120, hide_internal=True) == render_text(sc, width=120)


def test_hidden_flush_moves_its_memory_change_to_the_next_row(live):
    if "tso" not in live:
        pytest.skip("no tso memory model in this checkout")
    doc = live["tso"]
    flushes = [s for s in doc["steps"] if s["action"] == "flush" and s.get("memory_changes")]
    assert flushes
    f = flushes[0]
    name, _ = next(iter(f["memory_changes"].items()))
    short = render_text(doc, width=200, hide_internal=True)
    nxt = f["index"] + 1
    row = re.search(rf"^\|(?:!! )?\s*{nxt} \|.*$", short, re.M).group(0)
    assert name in row
    full = render_text(doc, width=200)
    row = re.search(rf"^\|(?:!! )?\s*{nxt} \|.*$", full, re.M).group(0)
    assert name not in row.split("|")[-3]


def test_step_shows_whole_state():
    doc = load(SC_ROGUE)
    text = render_text(doc, width=120, step=4)
    for cell in doc["layout"]["cells"]:
        assert re.search(rf"\| {re.escape(cell)} +\|", text)
    assert re.search(r"\| start_ring\[0\] +\| +2 \| changed \|", text)
    assert not re.search(r"\| start_head +\|.*changed", text)
    assert "after step 4: rogue" in text
    init = render_text(doc, width=120, step=0)
    assert "initial" in init and "changed" not in init.split("ghost state")[0].replace("| changed", "")
    with pytest.raises(TraceError, match="--step 8"):
        render_text(doc, width=120, step=8)


def test_lasso_is_marked_as_repeating(lasso):
    n = len(lasso["steps"])
    cs = lasso["cycle_start"]
    text = render_text(lasso, width=120)
    assert f"-- cycle: steps {cs}-{n} repeat forever --" in text
    assert f"{cs}* |" in text and f"{cs - 1}* |" not in text
    page = html_page(lasso)
    assert '"cycle_start":%d' % cs in page
    no_cycle = copy.deepcopy(lasso)
    no_cycle["cycle_start"] = None
    assert "repeat forever" not in render_text(no_cycle, width=120)


# ---------------------------------------------------------------------------
# reads-from


def test_reads_from_weak_trace():
    an = analyse(load(WEAK_RING))
    # backend2 reads free_head = 1 written by the postmaster at step 29 ...
    assert (an.reads_from[33].step, an.reads_from[33].thread) == (29, 0)
    # ... but the entry free_ring[0] still holds its initial value: the
    # postmaster's store to it (fetched before 29) has not been performed.
    assert an.reads_from[34].step == 0
    assert any("free_ring" in p for p in an.frames[33].pending[0])
    # stores and fences read nothing
    assert 29 not in an.reads_from and 24 not in an.reads_from


def _synthetic(steps):
    base = load(SC_NO_LOCK)
    base["steps"] = steps
    base["violation_step"] = len(steps)
    for t in base["threads"]:
        t["events"] = []
    return base


def _st(i, tid, event, addr, value, **kw):
    cells = load(SC_NO_LOCK)["layout"]["cells"]
    return {"index": i, "thread": tid, "name": f"t{tid}", "action": kw.pop("action", "step"), "event": event,
            "location": cells[addr], "address": addr, "value": value, **kw}


def test_reads_from_buffered_own_store_and_unknown():
    a = 2  # free_ring[0], initially 0
    doc = _synthetic([
        _st(1, 1, "store", a, 7),
        _st(2, 2, "store", a, 5, buffered=True),
        _st(3, 2, "load", a, 5),   # its own buffered store: forwarding
        _st(4, 1, "load", a, 7),   # the latest visible store
        _st(5, 1, "load", a, 9),   # nobody wrote 9
        _st(6, 1, "load", a + 1, 1),  # free_ring[1]'s initial value
        _st(7, 2, "store", a, 8),
        _st(8, 1, "load", a, 7),   # a stale value (no model here allows it): the store that wrote it
    ])
    an = analyse(doc)
    assert (an.reads_from[3].step, an.reads_from[3].forwarded) == (2, True)
    assert (an.reads_from[4].step, an.reads_from[4].forwarded) == (1, False)
    assert an.reads_from[5] is None
    assert an.reads_from[6].step == 0
    assert (an.reads_from[8].step, an.reads_from[8].thread) == (1, 1)


# ---------------------------------------------------------------------------
# HTML


def test_html_is_self_contained(tmp_path):
    path = write_html(load(WEAK_RING), tmp_path / "v.html")
    page = path.read_text()
    assert not re.search(r"https?://", page, re.I)
    assert not re.search(r"<(link|img|iframe)\b|<script[^>]+\bsrc=|@import|url\((?!#)", page, re.I)
    assert page.startswith("<!DOCTYPE html>")


def test_html_escapes_urls_and_markup_from_the_trace():
    doc = load(SC_ROGUE)
    doc["steps"][1]["source"]["text"] = "x = 1  # see https://example.org/a</script><b>"
    page = html_page(doc)
    assert "https://" not in page and "</script><b>" not in page
    data = re.search(r'<script id="trace-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["steps"][1]["src"].endswith("https://example.org/a</script><b>")


def test_explore_html_writes_page_next_to_trace(tmp_path):
    r = run_checker("explore", "ring", "--memory-model", "sc", "--mutation", "no-lock", "--threads", "3",
                    "--ops", "1", "--html", cwd=tmp_path, timeout=120)
    assert r.returncode == 1, r.stderr
    traces = sorted(tmp_path.glob("*.trace.json"))
    pages = sorted(tmp_path.glob("*.html"))
    assert traces and [p.name.removesuffix(".html") for p in pages] == \
        [t.name.removesuffix(".trace.json") for t in traces]
    assert "VIOLATED" in pages[0].read_text()


# ---------------------------------------------------------------------------
# command line


def test_cli_view_plain_when_piped(tmp_path):
    r = run_checker("view", SC_ROGUE, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "\x1b[" not in r.stdout
    assert "+---" in r.stdout and "VIOLATED postmaster safety" in r.stdout


def test_terminal_colour_only_on_a_terminal():
    import io

    from rich.console import Console

    from checker.view import render_terminal

    buf = io.StringIO()
    render_terminal(load(SC_ROGUE), Console(file=buf, width=120, force_terminal=True, color_system="truecolor"))
    assert "\x1b[" in buf.getvalue()
    assert "\x1b[" not in render_text(load(SC_ROGUE), width=120)


def test_cli_view_html_and_step(tmp_path):
    r = run_checker("view", WEAK_RING, "--html", tmp_path / "out.html", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.html").read_text().count("queue integrity") >= 1
    r = run_checker("view", WEAK_RING, "--step", "34", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "pending: store free_ring" in r.stdout


@pytest.mark.parametrize("mutate, expect", [
    (lambda d: d.update(version=0), "older checker (schema version 0)"),
    (lambda d: d.update(version=2), "newer checker (schema version 2)"),
    (lambda d: d.update(schema="other"), "not a slotcheck trace"),
    (lambda d: d.pop("steps"), "no 'steps'"),
])
def test_cli_bad_trace_is_one_line_exit_2(tmp_path, mutate, expect):
    doc = json.loads(SC_ROGUE.read_text())
    mutate(doc)
    p = tmp_path / "t.trace.json"
    p.write_text(json.dumps(doc))
    for extra in ([], ["--html", str(tmp_path / "x.html")]):
        r = run_checker("view", p, *extra, cwd=tmp_path)
        assert r.returncode == 2
        assert r.stdout == ""
        assert r.stderr.count("\n") == 1 and expect in r.stderr, r.stderr
    assert not (tmp_path / "x.html").exists()


def test_cli_unreadable_inputs(tmp_path):
    (tmp_path / "bad.json").write_text("{nope")
    for args, expect in ([["bad.json"], "not valid JSON"], [["missing.json"], "cannot read"],
                         [[SC_ROGUE, "--step", "99"], "--step 99"], [[SC_ROGUE, "--width", "5"], "--width"]):
        r = run_checker("view", *args, cwd=tmp_path)
        assert r.returncode == 2 and expect in r.stderr and r.stderr.count("\n") == 1, r.stderr
