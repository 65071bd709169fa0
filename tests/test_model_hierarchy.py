"""Property tests over random litmus programs (Hypothesis).

Whatever the program: every outcome sequential consistency allows, tso
allows; every outcome tso allows, weak allows (each model only adds
reorderings); and with a full barrier between every two accesses, weak and
tso allow exactly what sc allows.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.litmus import parse_litmus, run_litmus

LOCS = ("x", "y")
access = st.one_of(
    st.tuples(st.just("load"), st.sampled_from(LOCS)),
    st.tuples(st.just("store"), st.sampled_from(LOCS), st.integers(1, 2)),
    st.tuples(st.just("fence"), st.sampled_from(["smp_rmb", "smp_wmb"])),
)
thread = st.lists(access, min_size=1, max_size=3)
program = st.lists(thread, min_size=2, max_size=2)


def _litmus(threads, full_fences=False) -> str:
    text = ["C random", "{ x=0; y=0; }"]
    regs = []
    for i, body in enumerate(threads):
        lines = []
        n = 0
        stmts = []
        for a in body:
            if a[0] == "load":
                stmts.append(f"r{n} = READ_ONCE(*{a[1]});")
                regs.append(f"{i}:r{n}")
                n += 1
            elif a[0] == "store":
                stmts.append(f"WRITE_ONCE(*{a[1]}, {a[2]});")
            elif not full_fences:
                stmts.append(f"{a[1]}();")
        if full_fences:
            stmts = [s for pair in zip(stmts, ["smp_mb();"] * len(stmts)) for s in pair]
        lines += [f"int r{k};" for k in range(n)] + stmts
        text.append(f"P{i}(int *x, int *y) {{")
        text += ["  " + line for line in lines]
        text.append("}")
    terms = [f"{r}=0" for r in regs] + ["x=0", "y=0"]
    text.append("exists (" + " /\\ ".join(terms) + ")")
    return "\n".join(text) + "\n"


def _outcomes(tmp_path, threads, model, full_fences=False):
    path = tmp_path / ("f.litmus" if full_fences else "p.litmus")
    path.write_text(_litmus(threads, full_fences))
    return run_litmus(parse_litmus(path), model).outcome_set


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program)
def test_each_model_only_adds_behaviours(tmp_path, threads):
    sc = _outcomes(tmp_path, threads, "sc")
    tso = _outcomes(tmp_path, threads, "tso")
    weak = _outcomes(tmp_path, threads, "weak")
    assert sc and sc <= tso <= weak


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program)
def test_full_barriers_restore_sequential_consistency(tmp_path, threads):
    sc = _outcomes(tmp_path, threads, "sc", full_fences=True)
    assert _outcomes(tmp_path, threads, "tso", full_fences=True) == sc
    assert _outcomes(tmp_path, threads, "weak", full_fences=True) == sc
