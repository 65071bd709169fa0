"""The fingerprinted search's storage: the disk queue, the trace file, the table's growth.

Their end-to-end effect (same states, transitions and counterexamples as the
full search) is tested in test_engine_storage.py; here the parts are held to
their contracts at sizes that cross every buffer boundary.
"""

from __future__ import annotations

from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

import pytest

import checker.fingerprint as fpmod

FIXED = 8491030294142064109  # BLAKE2b-64 of those 8 bytes: pinned, so a change of function is noticed


@pytest.fixture
def monkeypatch_chunk(monkeypatch):
    """Buffers of a few records, so that every test crosses the file boundaries."""
    monkeypatch.setattr(fpmod, "_CHUNK", 64)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 2 ** 40 - 1), st.none()), max_size=300))
def test_disk_queue_is_fifo_across_chunks(ops):
    old, fpmod._CHUNK = fpmod._CHUNK, 64  # a hypothesis test cannot take a function-scoped fixture
    try:
        _fifo(ops)
    finally:
        fpmod._CHUNK = old


def _fifo(ops):
    q = fpmod._DiskQueue(5)
    model: list[int] = []
    for op in ops:
        if op is None:
            if model:
                assert q.popleft() == model.pop(0)
        else:
            q.append(op)
            model.append(op)
        assert len(q) == len(model)
    while model:
        assert q.popleft() == model.pop(0)


def test_trace_file_reads_back_every_record(monkeypatch_chunk):
    t = fpmod._TraceFile()
    recs = [(i - 1, (i * 0x9E3779B97F4A7C15) & (2 ** 64 - 1)) for i in range(500)]
    for p, f in recs:
        t.append(p, f)
    assert [t[j] for j in (0, 1, 137, 499, 2)] == [recs[j] for j in (0, 1, 137, 499, 2)]


def test_grown_table_keeps_every_fingerprint():
    cap = 64
    table = array("Q", [0]) * cap
    fps = [(k * 0x9E3779B97F4A7C15 + 7) & (2 ** 64 - 1) or 1 for k in range(57)]
    for f in fps:
        h = f % cap
        while table[h]:
            h = (h + 1) % cap
        table[h] = f
    new, ncap = fpmod._grown(table, 80)
    assert ncap == 80 and sorted(f for f in new if f) == sorted(fps)


def test_fingerprint_is_a_fixed_function():
    """Unlike Python's salted hash(), the same state has the same fingerprint in every process."""
    assert fpmod.fingerprint_of(0x1234_5678_9ABC, 8) == fpmod.fingerprint_of(0x1234_5678_9ABC, 8) == FIXED
    assert fpmod.fingerprint_of(0, 8) != 0  # 0 marks an empty slot
