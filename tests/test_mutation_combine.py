"""``--mutation a,b``: variants combine, in the model, the trace, the prover and the C build."""

import json
import os
import shutil

import pytest

# Two variants that each leave the flag at most 1, and together make it 2.
MODEL = '''
from checker.lang import assert_, ghost, mutation, operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import EXCLUSIVE, Mutation, Protocol


@operation
def poll():
    v = pg_atomic_read_u32(flag)
    with ghost:
        assert_(v <= 1, "exclusive ownership", "the flag went above 1")


def postmaster():
    poll()


def backend():
    value = 0
    if mutation("a"):
        value += 1
    if mutation("b"):
        value += 1
    pg_atomic_write_u32(flag, value)


class Pair(Protocol):
    name = "pair"
    summary = "two variants that are harmless alone"
    roles = {"postmaster": postmaster, "backend": backend}
    mutations = {"a": Mutation("adds one", breaks=EXCLUSIVE), "b": Mutation("adds one", breaks=EXCLUSIVE)}

    def declare(self, p, d):
        d.word("flag", 0)
'''


@pytest.fixture
def pair(tmp_path):
    path = tmp_path / "pair.py"
    path.write_text(MODEL)
    return path


def explore(checker_cli, model, *args):
    return checker_cli("explore", model, "-m", "sc", "--threads", "2", *args)


@pytest.mark.parametrize("mutation, code", [(None, 0), ("a", 0), ("b", 0), ("a,b", 1), ("b, a", 1)])
def test_variants_combine(checker_cli, pair, mutation, code):
    args = ["--mutation", mutation] if mutation else []
    res = explore(checker_cli, pair, *args)
    assert res.returncode == code, res.stdout + res.stderr


def test_the_trace_records_every_variant(checker_cli, pair, tmp_path):
    res = explore(checker_cli, pair, "--mutation", "a,b")
    assert res.returncode == 1
    (trace,) = tmp_path.glob("*.trace.json")
    assert trace.name == "pair-a+b-exclusive-ownership.trace.json"
    assert json.loads(trace.read_text())["mutation"] == "a,b"


@pytest.mark.parametrize("mutation, message", [
    ("a,zz", "unknown mutation 'zz' for pair"),
    ("a,", "has an empty name"),
    ("a,a", "names a variant twice"),
])
@pytest.mark.parametrize("command", ["explore", "prove"])
def test_a_bad_name_in_the_list_is_one_line(checker_cli, pair, mutation, message, command):
    if command == "explore":
        res = explore(checker_cli, pair, "--no-trace", "--mutation", mutation)
    else:
        res = checker_cli("prove", pair, "--robustness", "--mutation", mutation)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stdout + res.stderr
    assert len(lines) == 1 and message in lines[0], res.stderr


@pytest.mark.slow  # two z3 proofs through the CLI, 5-10 s; combined variants are explored in the default run
def test_prove_accepts_combined_variants(checker_cli):
    # Robustness is about the postmaster in corrupted memory: the harmless
    # variant alone is proved, joined with the unchecked one it is not, and
    # the result names both.
    res = checker_cli("prove", "ring", "--robustness", "--json", "--no-trace", "--mutation", "free-no-consume-barrier")
    assert res.returncode == 0, res.stdout + res.stderr
    res = checker_cli("prove", "ring", "--robustness", "--json", "--no-trace",
                      "--mutation", "free-no-consume-barrier,no-range-check")
    assert res.returncode == 1, res.stdout + res.stderr
    assert json.loads(res.stdout)["mutation"] == "free-no-consume-barrier,no-range-check"


needs_cc = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc").split()[0]) is None, reason="no C compiler")


@needs_cc
def test_the_c_build_defines_every_variant(checker_cli, tmp_path):
    # The trace skips both the lock and the read barrier: a C build missing
    # either macro performs an event the model did not.
    res = checker_cli("explore", "ring", "-m", "sc", "--threads", "3", "--mutation", "free-no-read-barrier,no-lock")
    assert res.returncode == 1, res.stdout + res.stderr
    (trace,) = tmp_path.glob("*.trace.json")
    assert checker_cli("replay", trace).returncode == 0
    assert checker_cli("replay", trace, "--c-mutation", "no-lock,free-no-read-barrier").returncode == 0
    for one in ("no-lock", "free-no-read-barrier"):
        assert checker_cli("replay", trace, "--c-mutation", one).returncode == 1
    res = checker_cli("replay", trace, "--c-mutation", "no-lock,bogus")
    assert res.returncode == 2 and "has no mutation 'bogus'" in res.stderr
