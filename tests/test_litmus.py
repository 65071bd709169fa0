"""The litmus suite: every memory model gives the published outcome of every test, in both directions."""

import json

import pytest

from checker.litmus import LitmusError, parse_litmus, run_litmus, suite_files

SUITE = suite_files()
# The machine each model describes, with the profile that belongs to it.
COMBOS = [("sc", "documented"), ("tso", "documented"), ("tso", "x86-64"), ("weak", "documented"), ("weak", "arm64")]
REQUIRED = {"SB", "SB+mbs", "MP", "MP+wmb+rmb", "MP+mb+mb", "LB", "LB+ctrl+ctrl", "LB+datas", "R", "R+mbs", "S",
            "S+wmb+data", "2+2W", "2+2W+wmbs", "WRC", "WRC+data+rmb", "IRIW", "IRIW+rmbs", "IRIW+mbs", "CoRR",
            "CoWW", "CoRW", "CoWR", "SB+xchgs", "RMW-atomic", "bitmap-or"}


def test_suite_has_the_required_shapes():
    names = {parse_litmus(f).name for f in SUITE}
    assert REQUIRED <= names


@pytest.mark.parametrize("path", SUITE, ids=lambda p: p.stem)
@pytest.mark.parametrize("model,profile", COMBOS)
def test_expected_outcome(path, model, profile):
    test = parse_litmus(path)
    want = test.expected(model, profile)
    assert want is not None, f"{test.name} states no expectation for {model}"
    r = run_litmus(test, model, profile)
    assert (r.result, r.outcomes) == (want[0], want[1] if want[1] is not None else r.outcomes)


def test_both_directions_are_exercised():
    # Each weaker model must find some condition reachable and forbid some
    # other: a model that allowed everything (or nothing) would fail here.
    # (Under sc every condition of the suite is forbidden; its outcome counts,
    # checked above, show that the sequentially consistent outcomes are found.)
    for model, profile in COMBOS:
        results = {run_litmus(parse_litmus(f), model, profile).result for f in SUITE}
        assert results == ({"forbidden"} if model == "sc" else {"allowed", "forbidden"}), model


def test_models_differ_where_the_machines_do():
    sb = parse_litmus(next(f for f in SUITE if f.stem == "SB"))
    mp = parse_litmus(next(f for f in SUITE if f.stem == "MP"))
    assert [run_litmus(sb, m).result for m in ("sc", "tso", "weak")] == ["forbidden", "allowed", "allowed"]
    assert [run_litmus(mp, m).result for m in ("sc", "tso", "weak")] == ["forbidden", "forbidden", "allowed"]


def test_arm64_profile_flips_what_the_table_says():
    by = {f.stem: parse_litmus(f) for f in SUITE}
    assert run_litmus(by["LB+rmbs"], "weak", "documented").result == "allowed"
    assert run_litmus(by["LB+rmbs"], "weak", "arm64").result == "forbidden"
    assert run_litmus(by["SB+xchgs"], "weak", "documented").result == "forbidden"
    assert run_litmus(by["SB+xchgs"], "weak", "arm64").result == "allowed"


def _write(tmp_path, text):
    p = tmp_path / "t.litmus"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text,where,what", [
    ("C t\n{ x=0; }\nP0(int *x) {\n  WRITE_ONCE(*x, 1)\n}\nexists (x=1)\n", ":5:", "expected ';'"),
    ("C t\n{ x=0; }\nP0(int *x) {\n  frob(x);\n}\nexists (x=1)\n", ":4:", "unknown primitive frob()"),
    ("C t\n{ x=0; }\nP0(int *x) {\n  int r0;\n  r0 = READ_ONCE(*y);\n}\nexists (0:r0=1)\n", ":5:",
     "undeclared location 'y'"),
    ("C t\n{ x=0; }\nP0(int *x) {\n  WRITE_ONCE(*x, 1);\n}\nexists (z=1)\n", ":6:", "undeclared location 'z'"),
    ("C t\n{ x=0; }\nP0(int *x) {\n  while (1) { }\n}\nexists (x=1)\n", ":4:", "unsupported construct 'while'"),
])
def test_bad_litmus_input(tmp_path, text, where, what):
    p = _write(tmp_path, text)
    with pytest.raises(LitmusError) as e:
        parse_litmus(p)
    assert where in str(e.value) and what in str(e.value)


def test_cli_json_and_errors(checker_cli, tmp_path):
    mp = next(f for f in SUITE if f.stem == "MP")
    p = checker_cli("litmus", str(mp), "-m", "tso", "--json")
    assert p.returncode == 0
    assert json.loads(p.stdout)["MP"] == {"result": "forbidden", "states": json.loads(p.stdout)["MP"]["states"],
                                          "outcomes": 3, "expected": "forbidden/3", "ok": True,
                                          "verdict": "agree"}
    bad = _write(tmp_path, "C t\n{ x=0; }\nP0(int *x) {\n  frob(x);\n}\nexists (x=1)\n")
    p = checker_cli("litmus", str(bad))
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "t.litmus:4:" in p.stderr


def test_cli_reports_a_mismatch(checker_cli, tmp_path):
    # A file that claims MP is forbidden under weak: the command must fail.
    text = next(f for f in SUITE if f.stem == "MP").read_text().replace("weak=allowed/4", "weak=forbidden/3")
    p = checker_cli("litmus", str(_write(tmp_path, text)), "-m", "weak")
    assert p.returncode == 1 and "MISMATCH" in p.stdout
