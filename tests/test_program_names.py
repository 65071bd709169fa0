"""Names in program bodies: no placeholders in model files, and a misspelling in a
mutation's branch is a load error in every run (checker/program_names.py)."""

import pytest

from checker.model import Params, build_system, load_protocols, resolve_protocol

MODEL = '''
# ruff: noqa: F821  -- programs use names that declare() binds
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
    if mutation("twice"):
        pg_atomic_write_u32({name}, 2)
    else:
        pg_atomic_write_u32(flag, ME)


class Names(Protocol):
    name = "names"
    summary = "a model without placeholders"
    roles = {{"postmaster": postmaster, "backend": backend}}
    mutations = {{"twice": Mutation("writes 2", breaks=EXCLUSIVE)}}

    def declare(self, p, d):
        d.word("flag", 0)
'''


def write(tmp_path, name):
    path = tmp_path / "names.py"
    path.write_text(MODEL.format(name=name))
    return path


@pytest.mark.parametrize("mutation", [None, "twice"])
def test_a_model_without_placeholders_runs(checker_cli, tmp_path, mutation):
    args = ["--mutation", mutation] if mutation else []
    res = checker_cli("explore", write(tmp_path, "flag"), "-m", "sc", "--threads", "2", "--no-trace", *args)
    assert res.returncode == (1 if mutation else 0), res.stdout + res.stderr


@pytest.mark.parametrize("mutation", [None, "twice"])
def test_a_misspelt_name_in_a_folded_branch_is_a_load_error(checker_cli, tmp_path, mutation):
    # Without the mutation the compiler never sees the branch; the name is caught all the same.
    path = write(tmp_path, "flga")
    args = ["--mutation", mutation] if mutation else []
    res = checker_cli("explore", path, "-m", "sc", "--threads", "2", "--no-trace", *args)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 1, res.stdout + res.stderr
    line_no = path.read_text().splitlines().index("        pg_atomic_write_u32(flga, 2)") + 1
    assert f"names.py:{line_no}: unknown name flga" in lines[0]


def test_shipped_models_assign_no_placeholders():
    load_protocols()
    import sys

    for name in ("ring", "bitmap", "caslist", "dlist", "bgworker", "dsmhandle"):
        proto = resolve_protocol(name)
        system = build_system(proto, Params(threads=2, slots=2, ops=1))
        module = vars(sys.modules[proto.__module__])
        # A module constant that equals its declaration is a real one (OWN_BACKEND); one that differs
        # (SLOTS = 0) is a placeholder.
        stale = sorted(n for n in {*system.shared, *system.ghost, "ME"} if n in module)
        stale += sorted(n for n, v in system.constants.items() if n in module and module[n] != v)
        assert not stale, f"{name}: placeholders {stale} (see docs/writing-a-model.md)"
        source = open(sys.modules[proto.__module__].__file__).read()
        assert "# ruff: noqa: F821" in source
