"""The import rules that keep data flowing one way (model -> IR -> engine -> trace -> viewer).

Every import in a module counts, also one inside a function: a lazy import
is still a dependency.
"""

import ast
from pathlib import Path

import pytest

CHECKER = Path(__file__).resolve().parent.parent / "checker"

# The command line's own modules: they may import checker.cli, nothing else may.
CLI_SIDE = {"cli.py", "__main__.py", "clidoc.py", "signals.py", "prove_print.py"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def modules(*patterns):
    return sorted({p for pattern in patterns for p in CHECKER.glob(pattern)})


def _name(p):
    return str(p.relative_to(CHECKER))


ENGINE = modules("explore.py", "search.py", "fingerprint.py", "symmetry.py", "compile_sc.py", "memory/*.py", "ir.py")


@pytest.mark.parametrize("path", ENGINE, ids=_name)
def test_engine_and_memory_models_know_no_protocol(path):
    assert not {m for m in imports(path) if m == "models" or m.startswith("models.")}


def test_the_viewer_reads_traces_only():
    checker_imports = {m for m in imports(CHECKER / "view.py") if m.startswith("checker")}
    assert checker_imports and all(m == "checker.trace" or m.startswith("checker.trace.")
                                   for m in checker_imports), checker_imports


LIBRARY = [p for p in modules("*.py", "*/*.py") if not p.name.endswith("_cmd.py") and p.name not in CLI_SIDE]


@pytest.mark.parametrize("path", LIBRARY, ids=_name)
def test_library_modules_never_import_the_command_line(path):
    assert not {m for m in imports(path) if m == "checker.cli" or m.startswith("checker.cli.")}


def test_the_prover_and_its_witness_do_not_import_each_other_both_ways():
    robustness = imports(CHECKER / "prove" / "robustness.py")
    witness = imports(CHECKER / "prove" / "witness.py")
    assert "checker.prove.witness" in robustness
    assert not any(m.startswith("checker.prove.robustness") for m in witness)


# A command module holds click options and printing; what it runs lives in a
# library module the tests import.  Past this size it has grown an engine.
MAX_COMMAND_LINES = 200


@pytest.mark.parametrize("path", modules("*_cmd.py"), ids=_name)
def test_command_modules_stay_thin(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_COMMAND_LINES, f"{_name(path)} has {lines} lines; move its engine into a library module"
