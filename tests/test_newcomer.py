"""The worked example of docs/writing-a-model.md, extracted and run as a newcomer would.

Every block of that page that names a file is written to a fresh directory;
then the page's commands run there and what the page says of each is checked.
A change that breaks the tutorial (an API, an output line, the C twin's
build) fails here rather than in a newcomer's hands.
"""

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "writing-a-model.md"
FILE_BLOCK = re.compile(r"```(?:python|c)\n(?:# |/\* )file: (\S+?)(?: \*/)?\n(.*?)```", re.S)
TRACE = "mailbox-no-write-barrier-queue-integrity.trace.json"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    where = tmp_path_factory.mktemp("newcomer")
    text = DOC.read_text(encoding="utf-8")
    files = {m.group(1): m.group(2) for m in FILE_BLOCK.finditer(text)}
    assert set(files) == {"mailbox.py", "mailbox.h", "mailbox.c", "mailbox_workload.c"}
    for name, body in files.items():
        (where / name).write_text(body, encoding="utf-8")
    return where, text


def run(where, *args):
    from conftest import run_checker

    return run_checker(*args, cwd=where)


def test_the_page_shows_the_commands_it_runs(example):
    _where, text = example
    for command in ("checker explore mailbox.py --threads 2\n",
                    "checker explore mailbox.py --threads 2 --mutation no-write-barrier\n",
                    f"checker replay {TRACE}\n", f"checker replay {TRACE} --c-mutation none\n"):
        assert command in text


def test_step2_the_correct_model_holds(example):
    where, text = example
    r = run(where, "explore", "mailbox.py", "--threads", "2")
    assert r.returncode == 0, r.stderr
    for line in ("exclusive ownership      not checked by this model",
                 "queue integrity          holds (exhaustive)",
                 "postmaster safety        holds (exhaustive)"):
        assert line in r.stdout and line in text


def test_step3_the_mutation_is_caught_under_weak_only(example):
    where, text = example
    r = run(where, "explore", "mailbox.py", "--threads", "2", "--mutation", "no-write-barrier")
    assert r.returncode == 1, r.stderr
    assert "queue integrity          VIOLATED" in r.stdout
    assert "(5 steps, trace written to " + TRACE in r.stdout and "five-step" in text
    assert (where / TRACE).is_file()
    r = run(where, "explore", "mailbox.py", "--threads", "2", "--mutation", "no-write-barrier", "-m", "tso",
            "--no-trace")
    assert r.returncode == 0 and "queue integrity          holds (exhaustive)" in r.stdout


def test_step5_the_counterexample_replays_against_the_mutated_c_only(example):
    where, _text = example
    r = run(where, "explore", "mailbox.py", "--threads", "2", "--mutation", "no-write-barrier")
    assert r.returncode == 1
    r = run(where, "replay", TRACE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "conforms" in r.stdout
    r = run(where, "replay", TRACE, "--c-mutation", "none")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "first divergence at step 2" in r.stdout and "pg_write_barrier()" in r.stdout


def test_validate_refuses_two_senders(example):
    where, _text = example
    r = run(where, "explore", "mailbox.py", "--threads", "3")
    assert r.returncode == 2 and "mailbox has one sender" in r.stderr and "Traceback" not in r.stderr


def test_a_missing_c_twin_file_is_one_line(example, tmp_path):
    where, _text = example
    for name in ("mailbox.py", "mailbox.h", "mailbox.c"):
        (tmp_path / name).write_text((where / name).read_text())
    r = run(tmp_path, "explore", "mailbox.py", "--threads", "2", "--mutation", "no-write-barrier")
    assert r.returncode == 1
    r = run(tmp_path, "replay", TRACE)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "mailbox_workload.c, which is not in" in r.stderr and "Traceback" not in r.stderr
