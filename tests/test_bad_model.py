"""Model errors (issue 12): every broken model is one line on stderr and exit 2,
and nothing a model does not check is ever reported as holding.

Each case writes a small model into the test's directory, derived from one
template, so that the broken and the working version differ in one place.
"""

import json

import pytest

TEMPLATE = '''
from checker.lang import assert_, ghost, operation, pg_atomic_read_u32, pg_atomic_write_u32
from checker.model import CONSERVATION, Mutation, Protocol, Violation
{imports}

@operation
def poll():
    v = pg_atomic_read_u32(flag)
{pm_op}

def postmaster():
{pm_body}

def backend():
    pg_atomic_write_u32(flag, 1)
{be_body}

class Scratch(Protocol):
    name = "scratch-model"
    summary = "a scratch model for the bad-input tests"
    roles = {{"postmaster": postmaster, "backend": {backend_role}}}
    mutations = {{"m": Mutation("a mutation", breaks={breaks!r})}}
    properties = {properties}

    def {declare_name}(self, p, d):
        d.word("flag", {flag_init})
        d.ghost_word("seen", 0)
{declare_extra}
{methods}
{tail}
'''

DEFAULTS = dict(imports="", pm_op="    pass", pm_body="    poll()", be_body="", backend_role="backend",
                breaks="exclusive ownership", properties="()", declare_name="declare", flag_init="0",
                declare_extra="", methods="", tail="")


def write_model(tmp_path, name="scratch.py", **changes):
    fields = dict(DEFAULTS, **changes)
    path = tmp_path / name
    path.write_text(TEMPLATE.format(**fields))
    return path


def one_line_error(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def explore(checker_cli, path, *args):
    return checker_cli("explore", path, "-m", "sc", "--threads", "2", "--no-trace", *args)


def test_template_itself_loads_and_holds(checker_cli, tmp_path):
    proc = explore(checker_cli, write_model(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- model files that fail outside the compiler --------------------------------------------


@pytest.mark.parametrize("changes, expected", [
    (dict(declare_name="declare_nothing"), "defines no declare("),
    (dict(backend_role="3"), "the backend role is 3, not a function"),
    (dict(declare_extra="        raise KeyError('boom')"), "scratch-model.declare() raised KeyError"),
    (dict(methods="    def check_quiescent(self, v):\n        if 1 // 0:\n            raise Violation(CONSERVATION, 'x')"),
     "scratch-model.check_quiescent() raised ZeroDivisionError"),
    (dict(imports="import no_such_module_for_slotcheck"), "no module named 'no_such_module_for_slotcheck'"),
    (dict(tail="raise SystemExit(0)"), "it calls exit (0) at import"),
    (dict(tail="raise SystemExit(1)"), "it calls exit (1) at import"),
    (dict(tail="x = {}['missing']"), "loading the model failed: KeyError"),
    (dict(methods="    def validate(self, p):\n        raise Violation(CONSERVATION, 'no')"),
     "scratch-model.validate() raised Violation"),
    (dict(properties="('flag sanity')"), "properties must be a tuple of property names"),
    (dict(flag_init="-1"), "flag: initial value -1 is outside 0..2^32-1"),
    (dict(flag_init="2**32"), "flag: initial value 4294967296 is outside 0..2^32-1"),
    (dict(flag_init="'1'"), "flag: initial value '1' is not an integer"),
])
def test_broken_model_file_is_one_line(checker_cli, tmp_path, changes, expected):
    line = one_line_error(explore(checker_cli, write_model(tmp_path, **changes)))
    assert expected in line, line


def line_of(path, text):
    return path.read_text().splitlines().index(text) + 1


def test_error_in_declare_names_the_line_that_raised(checker_cli, tmp_path):
    raising = "        raise KeyError('boom')"
    path = write_model(tmp_path, declare_extra=raising)
    line = one_line_error(explore(checker_cli, path))
    assert f"scratch.py:{line_of(path, raising)}: " in line, line


def test_initial_value_at_the_edges_of_a_word_is_accepted(checker_cli, tmp_path):
    for init in ("0", "2**32 - 1"):
        proc = explore(checker_cli, write_model(tmp_path, flag_init=init))
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_model_path_that_is_not_a_python_file(checker_cli, tmp_path):
    path = write_model(tmp_path, name="scratch.txt")
    assert "is not a model file" in one_line_error(explore(checker_cli, path))
    assert "no model file" in one_line_error(explore(checker_cli, tmp_path / "missing.py"))
    assert "no model file" in one_line_error(explore(checker_cli, tmp_path))


# -- rogue options without a rogue -----------------------------------------------------------


def test_rogue_options_need_a_rogue(checker_cli):
    assert "--rogue-writes needs --rogue" in one_line_error(
        checker_cli("explore", "ring", "-m", "sc", "--rogue-writes", "3"))
    assert "--rogue-anywhere needs --rogue" in one_line_error(
        checker_cli("explore", "ring", "-m", "sc", "--rogue-anywhere"))
    proc = checker_cli("explore", "ring", "-m", "sc", "--threads", "2", "--slots", "1", "--ops", "1",
                       "--rogue", "--rogue-writes", "1", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["params"]["rogue_writes"] == 1


# -- a search that stopped at a violation never says "holds" for the others ---------------

FAILS_AT_ONCE = dict(pm_op="    with ghost:\n        assert_(v == 99, 'exclusive ownership', 'postmaster first move')",
                     be_body="    with ghost:\n        assert_(0, 'exclusive ownership', 'backend first move')")


@pytest.mark.parametrize("keep_going", [False, True])
def test_every_first_move_violates(checker_cli, tmp_path, keep_going):
    path = write_model(tmp_path, **FAILS_AT_ONCE)
    proc = explore(checker_cli, path, "--json", *(["--keep-going"] if keep_going else []))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["states"] == 1
    verdicts = doc["properties"]
    assert verdicts.pop("exclusive ownership") == "VIOLATED"
    assert verdicts, "the other properties are listed"
    for prop, verdict in verdicts.items():
        assert not verdict.startswith("holds"), (prop, verdict)


def test_stop_on_first_verdict_in_the_api():
    from checker.explore import Options
    from checker.model import EXCLUSIVE, PM_SAFETY
    from checker.run import check

    _, res = check("ring", mutation="no-lock", memory_model="sc", threads=3)
    assert EXCLUSIVE in res.violations and not res.complete
    assert res.stop_reason == "stopped at the first violation"
    assert not res.verdict(PM_SAFETY).startswith("holds")
    _, res = check("ring", mutation="no-lock", memory_model="sc", threads=3, options=Options(stop_on_first=False))
    assert EXCLUSIVE in res.violations
    assert not res.verdict(PM_SAFETY).startswith("holds")
    # The correct model still holds: the qualification is not applied without a violation.
    _, res = check("ring", memory_model="sc", threads=2)
    assert res.verdict(PM_SAFETY) == "holds (exhaustive)"


# -- property names and what a model checks ------------------------------------------------

def assertion(cond, prop):
    return f"    with ghost:\n        assert_({cond}, {prop!r}, 'the flag')"


@pytest.mark.parametrize("changes, bad_line", [
    (dict(pm_op=assertion("v <= 1", "exclusive ownershp")), "        assert_(v <= 1, 'exclusive ownershp', 'the flag')"),
    # A name in a branch the current mutation folds away is still read.
    (dict(pm_op="    if mutation('m'):\n        with ghost:\n            assert_(v <= 1, 'lost updat')", imports="from checker.lang import mutation"),
     "            assert_(v <= 1, 'lost updat')"),
    (dict(methods="    def check_quiescent(self, v):\n        if v.word('flag') > 1:\n            raise Violation('conservaton', 'x')"),
     "            raise Violation('conservaton', 'x')"),
    (dict(breaks="exclusive ownershp"), None),
])
def test_unknown_property_name_is_a_load_error(checker_cli, tmp_path, changes, bad_line):
    path = write_model(tmp_path, **changes)
    line = one_line_error(explore(checker_cli, path))
    assert "unknown property" in line, line
    if bad_line is not None:
        assert f"scratch.py:{line_of(path, bad_line)}: " in line, line
    else:
        assert "scratch.py:" in line


def test_property_of_a_violation_must_be_readable(checker_cli, tmp_path):
    methods = ("    def check_quiescent(self, v):\n        name = 'conserv' + 'ation'\n"
               "        if v.word('flag') > 1:\n            raise Violation(name, 'x')")
    path = write_model(tmp_path, methods=methods)
    line = one_line_error(explore(checker_cli, path))
    assert "must be a string or a name bound to one" in line
    assert f"scratch.py:{line_of(path, '            raise Violation(name, ' + repr('x') + ')')}:" in line


def verdicts(checker_cli, path, *args):
    proc = explore(checker_cli, path, "--json", *args)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    return proc.returncode, doc["properties"], set(doc["checked_properties"])


def test_a_model_that_checks_nothing_of_its_own(checker_cli, tmp_path):
    path = write_model(tmp_path)
    code, props, checked = verdicts(checker_cli, path)
    assert code == 0
    for prop in ("exclusive ownership", "conservation", "queue integrity"):
        assert props[prop] == "not checked by this model" and prop not in checked
    # The engine checks these for every model.
    for prop in ("postmaster safety", "postmaster wait-freedom", "deadlock freedom", "memory safety"):
        assert props[prop] == "holds (exhaustive)" and prop in checked
    text = explore(checker_cli, path).stdout
    assert "conservation             not checked by this model" in text
    assert "queue integrity          not checked by this model" in text


def test_correctly_spelt_properties_are_checked_both_ways(checker_cli, tmp_path):
    quiescent = ("    def check_quiescent(self, v):\n        if v.word('flag') > {limit}:\n"
                 "            raise Violation(CONSERVATION, 'flag too big')")

    def model(excl="v <= 1", sanity="1 <= 1", limit=1):
        return write_model(tmp_path, pm_op=assertion(excl, "exclusive ownership"),
                           be_body=assertion(sanity, "flag sanity"), methods=quiescent.format(limit=limit),
                           properties="('flag sanity',)")

    code, props, checked = verdicts(checker_cli, model())
    assert code == 0
    assert {"exclusive ownership", "conservation", "flag sanity"} <= checked
    assert props["queue integrity"] == "not checked by this model"
    for prop in ("exclusive ownership", "conservation", "flag sanity"):
        assert props[prop] == "holds (exhaustive)", prop
    for broken, prop in ((dict(excl="v == 0"), "exclusive ownership"), (dict(sanity="1 == 0"), "flag sanity"),
                         (dict(limit=0), "conservation")):
        code, props, _ = verdicts(checker_cli, model(**broken))
        assert code == 1 and props[prop] == "VIOLATED", (prop, props)


def test_with_a_rogue_the_model_checks_say_why_they_are_off(checker_cli, tmp_path):
    path = write_model(tmp_path, pm_op=assertion("1", "exclusive ownership"))
    code, props, checked = verdicts(checker_cli, path, "--rogue")
    assert code == 0 and "exclusive ownership" not in checked
    assert props["exclusive ownership"].startswith("not checked (with a rogue")
    assert props["conservation"] == "not checked by this model"


def test_shipped_models_check_what_they_assert():
    from checker.model import CONSERVATION, EXCLUSIVE, INTEGRITY, NOTIFY, PROPERTIES, Params, build_system
    from checker.model import resolve_protocol

    for name in ("ring", "bitmap", "caslist", "dlist"):
        system = build_system(resolve_protocol(name), Params(threads=2))
        assert system.checked == frozenset(PROPERTIES), name
        assert system.quiescent_properties == {CONSERVATION}, name
    system = build_system(resolve_protocol("bgworker"), Params(threads=2))
    assert system.checked == frozenset(PROPERTIES) | {NOTIFY}
    counter = build_system(resolve_protocol("tests/models/counter.py"), Params(threads=2))
    assert "lost update" in counter.checked and not {EXCLUSIVE, CONSERVATION, INTEGRITY} & counter.checked


# -- run-time model errors ------------------------------------------------------------------

@pytest.mark.parametrize("mm", ["sc", "tso"])
def test_loop_without_shared_memory_event_is_one_line(checker_cli, tmp_path, mm):
    path = write_model(tmp_path, pm_op="    while v == 0:\n        pass")
    line = one_line_error(checker_cli("explore", path, "-m", mm, "--threads", "2", "--no-trace"))
    assert "loops without any shared-memory event" in line and "scratch.py:" in line


@pytest.mark.parametrize("mm", ["sc", "tso"])
@pytest.mark.parametrize("code, what", [
    ("    q = 12 // v", "division by zero"),
    ("    q = 12 % v", "modulo by zero"),
    ("    q = 1 << (v + 31)", "shift left by 32"),
    ("    q = 1 >> (v + 31)", "shift right by 32"),
])
def test_undefined_arithmetic_in_the_postmaster_is_a_violation(checker_cli, tmp_path, mm, code, what):
    # v is 0 before the backend's write and 1 after it: one of the two is undefined.
    path = write_model(tmp_path, pm_op=code)
    proc = checker_cli("explore", path, "-m", mm, "--threads", "2", "--json", "--trace-out", "cx.json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    msg = doc["violations"]["postmaster safety"]["message"]
    assert what in msg and "undefined in C" in msg and f"scratch.py:{line_of(path, code)}" in msg, msg
    trace = json.loads((tmp_path / "cx.json").read_text())
    assert trace["steps"][-1]["role"] == "postmaster"


def test_undefined_arithmetic_under_weak_is_never_silent(checker_cli, tmp_path):
    # The weak model evaluates a value only when it is used (a dead `12 // v`
    # on a pending load is never computed), so this one is used.
    model = write_model(tmp_path, pm_op="    q = 12 // v\n    pg_atomic_write_u32(flag, q)")
    proc = checker_cli("explore", model, "--threads", "2", "--no-trace")
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr
    assert "division by zero" in proc.stdout + proc.stderr


@pytest.mark.parametrize("code", ["    q = 12 // (v + 1)", "    q = 12 % (v + 1)", "    q = 1 << (v + 30)",
                                  "    q = 4 >> (v + 30)"])
def test_defined_arithmetic_still_holds(checker_cli, tmp_path, code):
    proc = explore(checker_cli, write_model(tmp_path, pm_op=code))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_undefined_arithmetic_in_a_backend(checker_cli, tmp_path):
    path = write_model(tmp_path, be_body="    w = pg_atomic_read_u32(flag)\n    q = 1 // (w - 1)")
    proc = explore(checker_cli, path, "--json")
    assert proc.returncode == 1
    assert "division by zero" in json.loads(proc.stdout)["violations"]["memory safety"]["message"]
    # With a rogue a backend may crash (only the postmaster must survive).
    proc = explore(checker_cli, path, "--json", "--rogue")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_constant_undefined_arithmetic_is_a_compile_error(checker_cli, tmp_path):
    assert "shift by 32" in one_line_error(explore(checker_cli, write_model(tmp_path, pm_op="    q = v << 32")))
    assert "division by zero" in one_line_error(explore(checker_cli, write_model(tmp_path, pm_op="    q = v // 0")))


def test_ghost_division_by_zero_is_one_line(checker_cli, tmp_path):
    path = write_model(tmp_path, pm_op="    with ghost:\n        seen = 1 // v")
    line = one_line_error(explore(checker_cli, path))
    assert "ghost code failed" in line and "scratch.py:" in line


def test_prover_sees_plain_operators(tmp_path):
    # checker.prove evaluates Expr.src symbolically: the run-time guards stay out of it.
    from checker.ir import Assign
    from checker.model import Params, build_system, resolve_protocol

    path = write_model(tmp_path, pm_op="    q = 12 // v\n    r = v % 3\n    s = v << q\n    t = v >> r")
    system = build_system(resolve_protocol(str(path)), Params(threads=2))
    srcs = [ins.expr.src for ins in system.threads[0].program.instrs if isinstance(ins, Assign)]
    for op in ("//", "%", "<<", ">>"):
        assert any(op in s for s in srcs), (op, srcs)
    assert not any("_ub_" in s for s in srcs), srcs


# -- a postmaster that spins outside every operation -----------------------------------------

SPIN_OUTSIDE = "    poll()\n    while pg_atomic_read_u32(flag) != 7:\n        pass\n    poll()"


@pytest.mark.parametrize("mm", ["sc", "tso", "weak"])
@pytest.mark.parametrize("step_bound", ["64", "0"])
def test_spinning_outside_operations_fails_wait_freedom(checker_cli, tmp_path, mm, step_bound):
    proc = checker_cli("explore", write_model(tmp_path, pm_body=SPIN_OUTSIDE), "-m", mm, "--threads", "2",
                       "--step-bound", step_bound, "--json", "--trace-out", "cx.json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["properties"]["postmaster wait-freedom"] == "VIOLATED"
    assert "outside any operation" in doc["violations"]["postmaster wait-freedom"]["message"]
    trace = json.loads((tmp_path / "cx.json").read_text())
    assert isinstance(trace["cycle_start"], int) and 1 <= trace["cycle_start"] <= len(trace["steps"])  # 1-based
    # The other properties were searched exhaustively: a lasso cuts no execution.
    assert doc["properties"]["deadlock freedom"] == "holds (exhaustive)"


def test_spinning_outside_operations_without_cycle_analysis_is_not_checked(checker_cli, tmp_path):
    proc = explore(checker_cli, write_model(tmp_path, pm_body=SPIN_OUTSIDE), "--no-liveness", "--json")
    verdict = json.loads(proc.stdout)["properties"]["postmaster wait-freedom"]
    assert verdict.startswith("not checked") and proc.returncode == 0


@pytest.mark.parametrize("body", [
    "    poll()\n    for i in range(3):\n        pg_atomic_read_u32(flag)\n    poll()",  # bounded, outside
    "    while True:\n        poll()",  # forever, but every round finishes an operation
])
def test_bounded_code_outside_operations_holds(checker_cli, tmp_path, body):
    for mm in ("sc", "tso"):
        proc = checker_cli("explore", write_model(tmp_path, pm_body=body), "-m", mm, "--threads", "2", "--json")
        doc = json.loads(proc.stdout)
        assert proc.returncode == 0, doc["properties"]
        assert doc["properties"]["postmaster wait-freedom"] == "holds (exhaustive)"


def test_mutation_must_break_a_property_the_model_checks(checker_cli, tmp_path):
    # The template asserts nothing: a mutation said to break exclusive ownership could never be caught.
    line = one_line_error(explore(checker_cli, write_model(tmp_path), "--mutation", "m"))
    assert "breaks exclusive ownership, which this model does not check" in line
    path = write_model(tmp_path, pm_op=assertion("v <= 1", "exclusive ownership"))
    assert explore(checker_cli, path, "--mutation", "m").returncode == 0


def test_ghost_code_before_the_first_event_is_one_line(checker_cli, tmp_path):
    body = "    with ghost:\n        seen = 1\n    poll()"
    assert "ghost code before the first event" in one_line_error(
        explore(checker_cli, write_model(tmp_path, pm_body=body)))


def test_check_quiescent_reporting_a_property_its_source_does_not_name(checker_cli, tmp_path):
    # The property reaches Violation through a dictionary: the source does not
    # name it, so the checker cannot know it is checked; it must not drop it.
    methods = ("    def check_quiescent(self, v):\n        if v.word('flag') > 0:\n"
               "            raise Violation(CONSERVATION, 'seen')\n"
               "        raise_it(v)\n")
    tail = "def raise_it(v):\n    raise {'e': Violation}['e']('queue integrity', 'x')\n"
    line = one_line_error(explore(checker_cli, write_model(tmp_path, methods=methods, tail=tail)))
    assert "reported 'queue integrity', which is not a property it names in its source" in line


def test_unknown_name_in_a_helper_module_is_caught_even_in_a_folded_branch(checker_cli, tmp_path):
    (tmp_path / "scratch_helper.py").write_text(
        "from checker.lang import assert_, ghost, mutation, pg_atomic_read_u32\n\n"
        "def helper_poll():\n"
        "    v = pg_atomic_read_u32(flag)\n"
        "    if mutation('m'):\n"
        "        with ghost:\n"
        "            assert_(v <= 1, 'exclusive ownershp')\n")
    imports = "import sys; sys.path.insert(0, __file__.rsplit('/', 1)[0])\nfrom scratch_helper import helper_poll"
    path = write_model(tmp_path, imports=imports, pm_body="    helper_poll()")
    line = one_line_error(explore(checker_cli, path))
    assert "scratch_helper.py:7: unknown property 'exclusive ownershp'" in line


# -- ghost code reads only ghost state and locals ---------------------------------------------


@pytest.mark.parametrize("ghost_line, what", [
    ("        seen = flag", "flag"),
    ("        seen = cells[1] + 1", "cells"),
    ("        seen = pg_atomic_read_u32(flag)", "pg_atomic_read_u32(...)"),
    ("        assert_(flag <= 1, 'exclusive ownership', 'the flag')", "flag"),
])
def test_ghost_code_reading_shared_memory_is_a_load_error(checker_cli, tmp_path, ghost_line, what):
    pm_op = "    with ghost:\n" + ghost_line
    path = write_model(tmp_path, pm_op=pm_op, declare_extra='        d.array("cells", 2, 0)')
    line = one_line_error(explore(checker_cli, path))
    assert f"{path.name}:{line_of(path, ghost_line)}: ghost code reads shared memory ({what})" in line, line


def test_ghost_code_reading_a_local_copy_of_shared_memory_loads(checker_cli, tmp_path):
    # The same checks as above, through the local the event loaded: accepted, and checked both ways.
    pm_op = "    with ghost:\n        seen = v\n        assert_(seen <= 1, 'exclusive ownership', 'the flag')"
    path = write_model(tmp_path, pm_op=pm_op)
    assert explore(checker_cli, path).returncode == 0
    bad = write_model(tmp_path, pm_op=pm_op.replace("seen <= 1", "seen < 1"))
    assert explore(checker_cli, bad).returncode == 1


# -- a shared helper module's optional mutations (models/_startqueue.py's OPTIONAL_MUTATIONS) -----


HELPER = ("from checker.lang import mutation, pg_atomic_write_u32\n\n"
          "OPTIONAL_MUTATIONS = ('opt',)\n\n"
          "def helper_store():\n"
          "    if mutation('{name}'):\n"
          "        pg_atomic_write_u32(flag, 2)\n"
          "    else:\n"
          "        pg_atomic_write_u32(flag, 1)\n")
HELPER_IMPORTS = "import sys; sys.path.insert(0, __file__.rsplit('/', 1)[0])\nfrom opt_helper import helper_store"


@pytest.mark.parametrize("declared, args, code", [
    ("m", (), 0),  # a model that does not declare `opt` compiles the helper's correct branch
    ("opt", (), 0),
    ("opt", ("--mutation", "opt"), 1),  # one that declares it gets the mistake when selected
])
def test_helper_module_optional_mutation(checker_cli, tmp_path, declared, args, code):
    (tmp_path / "opt_helper.py").write_text(HELPER.format(name="opt"))
    path = write_model(tmp_path, imports=HELPER_IMPORTS, be_body="    helper_store()",
                       pm_op=assertion("v <= 1", "exclusive ownership"))
    if declared != "m":
        path.write_text(path.read_text().replace('{"m": Mutation(', '{"opt": Mutation('))
    res = explore(checker_cli, path, *args)
    assert res.returncode == code, res.stdout + res.stderr


def test_helper_module_mutation_not_listed_as_optional_is_a_load_error(checker_cli, tmp_path):
    (tmp_path / "opt_helper.py").write_text(HELPER.format(name="opt-typo"))
    path = write_model(tmp_path, imports=HELPER_IMPORTS, be_body="    helper_store()")
    line = one_line_error(explore(checker_cli, path))
    assert "opt_helper.py:6: mutation 'opt-typo' is not declared by this model" in line
