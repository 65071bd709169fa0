"""The bad-input table of docs/bad-input.md: each row is a real command and what it printed.

Every case writes its input files into a fresh directory, runs
``python -m checker ...`` there as a user would, and records the one line on
stderr and the exit code.  The directory's path is cut out of the message,
so the table does not depend on where it was made.  Nothing here is timed,
so a check compares every cell.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

# A model that loads and holds; each model case changes one thing in it.
GOOD_MODEL = '''\
from checker.lang import assert_, ghost, operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import Protocol

@operation
def poll():
    v = pg_atomic_read_u32(flag)

def postmaster():
    poll()

def backend():
    pg_atomic_write_u32(flag, 1)

class Tiny(Protocol):
    name = "tiny"
    summary = "a model with one mistake"
    roles = {"postmaster": postmaster, "backend": backend}

    def declare(self, p, d):
        d.word("flag", 0)
        d.ghost_word("seen", 0)
'''

BINARY = bytes(range(256)) * 4  # not UTF-8 from byte 128 on


def model(old: str, new: str) -> str:
    """The good model with one change (which must apply)."""
    assert old in GOOD_MODEL, old
    return GOOD_MODEL.replace(old, new, 1)


@dataclass(frozen=True)
class Case:
    what: str  # the input class, as the reader looks it up
    argv: tuple[str, ...]  # after ``checker``
    files: dict = field(default_factory=dict)  # name -> text, bytes, or a function of a real trace (its JSON)
    input: str = ""  # what is wrong in the files (Markdown), when it is not a model's changed lines


def changed_lines(case: Case) -> str:
    """The lines a model case adds to the good model (found, not written twice)."""
    new = case.files.get("m.py")
    if not isinstance(new, str):
        return case.input
    added = [line[2:].strip() for line in difflib.ndiff(GOOD_MODEL.splitlines(), new.splitlines())
             if line.startswith("+ ") and line[2:].strip()]
    return " ".join(_code(line) for line in added)


def _trace_edit(change: Callable[[dict], None]) -> Callable[[dict], str]:
    def make(trace: dict) -> str:
        doc = json.loads(json.dumps(trace))
        change(doc)
        return json.dumps(doc)
    return make


def _set(key, value):
    return _trace_edit(lambda d: d.__setitem__(key, value))


def _drop(key):
    return _trace_edit(lambda d: d.pop(key))


def _step_thread(thread):
    return _trace_edit(lambda d: d["steps"][0].__setitem__("thread", thread))


EXPLORE = ("explore", "m.py", "-m", "sc", "--threads", "2", "--no-trace")

MODEL_CASES = (
    Case("unknown property name in `assert_`", EXPLORE,
         {"m.py": model("    v = pg_atomic_read_u32(flag)\n",
                        "    v = pg_atomic_read_u32(flag)\n    assert_(v < 2, \"lost updat\")\n")}),
    Case("no `declare()`", EXPLORE, {"m.py": model("def declare(", "def setup(")}),
    Case("a role that is not a function", EXPLORE, {"m.py": model('"backend": backend}', '"backend": 3}')}),
    Case("`declare()` raising", EXPLORE,
         {"m.py": model('        d.word("flag", 0)\n', '        d.word("flag", 0)\n        1 / 0\n')}),
    Case("`properties` that is not a tuple of names", EXPLORE,
         {"m.py": model('    summary =', '    properties = ("lost update")\n    summary =')}),
    Case("an import of a missing module", EXPLORE, {"m.py": "import no_such_module\n" + GOOD_MODEL}),
    Case("`raise SystemExit(0)` at import", EXPLORE, {"m.py": GOOD_MODEL + "raise SystemExit(0)\n"}),
    Case("any other exception at import", EXPLORE, {"m.py": GOOD_MODEL + 'x = {}["missing"]\n'}),
    Case("a path that is not a `.py` file", ("explore", "./m.txt"), {"m.txt": GOOD_MODEL}),
    Case("a bare name that is no protocol (not looked up as a file)", ("explore", "m.txt"), {"m.txt": GOOD_MODEL}),
    Case("a directory", ("explore", "./d"), {"d/m.py": GOOD_MODEL}),
    Case("a path that does not exist", ("explore", "missing.py")),
    Case("a declared initial value outside 0..2^32-1", EXPLORE, {"m.py": model('("flag", 0)', '("flag", -1)')}),
    Case("a declared initial value that is not an integer", EXPLORE,
         {"m.py": model('("flag", 0)', '("flag", "1")')}),
    Case("a loop with no shared-memory event (sc, tso)", EXPLORE,
         {"m.py": model("    v = pg_atomic_read_u32(flag)\n",
                        "    v = pg_atomic_read_u32(flag)\n    while v == 0:\n        pass\n")}),
    Case("undefined arithmetic with a constant operand", EXPLORE,
         {"m.py": model("    v = pg_atomic_read_u32(flag)\n", "    v = pg_atomic_read_u32(flag)\n    q = v << 32\n")}),
    Case("arithmetic error in ghost code", EXPLORE,
         {"m.py": model("    v = pg_atomic_read_u32(flag)\n",
                        "    v = pg_atomic_read_u32(flag)\n    with ghost:\n        seen = 1 // v\n")}),
    Case("ghost code before a program's first event", EXPLORE,
         {"m.py": model("def postmaster():\n", "def postmaster():\n    with ghost:\n        seen = 1\n")}),
    Case("an unknown protocol", ("explore", "rign")),
    Case("an unknown mutation", ("explore", "ring", "--mutation", "no-lok")),
    Case("an unknown memory model", ("explore", "ring", "-m", "armv9")),
    Case("`--rogue-writes` without `--rogue`", ("explore", "ring", "--rogue-writes", "3")),
    Case("`--rogue-anywhere` without `--rogue`", ("explore", "ring", "--rogue-anywhere")),
)

FILE_CASES = (
    Case("binary (non-UTF-8) trace file", ("view", "blob"), {"blob": BINARY}, "1 KiB of every byte value"),
    Case("binary trace file (`replay`)", ("replay", "blob"), {"blob": BINARY}, "1 KiB of every byte value"),
    Case("binary litmus file", ("litmus", "blob.litmus"), {"blob.litmus": BINARY}, "1 KiB of every byte value"),
    Case("missing file", ("view", "missing.json")),
    Case("not JSON", ("replay", "bad.json"), {"bad.json": "{ not json\n"}, "`{ not json`"),
    Case("a trace from another schema version", ("view", "t.json"), {"t.json": _set("version", 7)},
         '`"version": 7`'),
    Case("a trace with a missing field", ("view", "t.json"), {"t.json": _drop("memory_model")},
         'no `"memory_model"`'),
    Case("a step by a thread that does not exist", ("view", "t.json"), {"t.json": _step_thread(17)},
         '`"thread": 17` on step 1 of a 3-thread trace'),
    Case("a cycle outside the trace", ("view", "t.json"), {"t.json": _set("cycle_start", -1)},
         '`"cycle_start": -1`'),
    Case("an unknown memory model in a trace", ("view", "t.json"), {"t.json": _set("memory_model", "armv9")},
         '`"memory_model": "armv9"`'),
    Case("unwritable `--trace-out` (the verdict still printed)",
         ("explore", "ring", "-m", "sc", "--mutation", "no-lock", "--trace-out", "file/cx.json"), {"file": ""},
         "`file` is a file"),
    Case("unwritable `view --html`", ("view", "t.json", "--html", "file/p.html"),
         {"t.json": _trace_edit(lambda d: None), "file": ""}, "`file` is a file"),
    Case("bad `--max-memory`", ("explore", "ring", "--max-memory", "5x")),
    Case("`--workers 0`", ("explore", "ring", "--workers", "0")),
    Case("`--workers many`", ("explore", "ring", "--workers", "many")),
    Case("`--spill` with an engine that keeps its graph in memory", ("explore", "ring", "--spill", "d"), {"d/.keep": ""}),
    Case("`--spill` into a directory that does not exist",
         ("explore", "ring", "-m", "sc", "--engine", "c", "--spill", "missing")),
    Case("`--resume` of a directory without a checkpoint", ("explore", "ring", "--resume", "d"), {"d/.keep": ""}, "`d` is an empty directory"),
)


def _real_trace() -> dict:
    """A real counterexample (ring without FreeQueueLock under sc) that the trace cases edit."""
    from checker.run import check
    from checker.trace import build_trace

    engine, result = check("ring", mutation="no-lock", memory_model="sc", threads=3, slots=2, ops=2)
    return build_trace(engine, result.violations["exclusive ownership"], result)


@dataclass(frozen=True)
class Outcome:
    message: str  # the last line on stderr, the directory cut out
    exit_code: int


def run_case(case: Case, trace: dict) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="slotcheck-bad-input-") as tmp:
        root = Path(tmp)
        for name, content in case.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if callable(content):
                content = content(trace)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        env = dict(os.environ, COLUMNS="200", PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        proc = subprocess.run([sys.executable, "-m", "checker", *case.argv], capture_output=True, text=True,
                              cwd=root, env=env, timeout=300)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else "(nothing on stderr)"
        for where in {tmp, str(root.resolve())}:
            message = message.replace(where + os.sep, "").replace(where, ".")
        return Outcome(message, proc.returncode)


def _code(text: str) -> str:
    """A Markdown code span that may itself hold backticks."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def table(cases: tuple[Case, ...]) -> tuple[list[str], list[list[str]]]:
    trace = _real_trace() if any(callable(c) for case in cases for c in case.files.values()) else {}
    # The cases are separate processes waiting mostly on imports: two at a time halves the wait.
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda c: run_case(c, trace), cases))
    body = [[case.what, changed_lines(case) or "-", _code("checker " + " ".join(case.argv)), _code(out.message),
             str(out.exit_code)] for case, out in zip(cases, outcomes)]
    return ["input class", "the input", "command", "what it prints on stderr", "exit code"], body

