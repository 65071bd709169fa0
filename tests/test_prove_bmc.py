"""Two engines, one answer: bounded model checking with z3 against breadth-first search under sc."""

import pytest

from checker.explore import Options
from checker.model import CONSERVATION, DEADLOCK, WAIT_FREEDOM, Params, resolve_protocol
from checker.prove.bmc import bmc
from checker.run import check

DEPTH = 8
RUN = dict(threads=3, slots=1, ops=1)
# What BMC encodes: the model's assertions and index checks (not the
# quiescence check of conservation, not liveness).
NOT_ENCODED = {CONSERVATION, DEADLOCK, WAIT_FREEDOM}


def _explicit(mutation):
    _e, res = check("ring", mutation=mutation, memory_model="sc",
                    options=Options(max_depth=DEPTH, stop_on_first=False, liveness=False), **RUN)
    found = {p: cx.length for p, cx in res.violations.items() if p not in NOT_ENCODED}
    if not found:
        return None, set()
    first = min(found.values())
    return first, {p for p, n in found.items() if n == first}


@pytest.mark.slow
@pytest.mark.parametrize("mutation", ["no-lock", "start-no-write-barrier"])
def test_bmc_agrees_with_the_explicit_engine(mutation):
    res = bmc(resolve_protocol("ring"), Params(**RUN), mutation, DEPTH)
    step, props = _explicit(mutation)
    if step is None:
        assert res.violation is None and res.exit_code == 3  # bounded: not a proof
    else:
        assert res.violation is not None and res.exit_code == 1
        assert res.violation["step"] == step
        assert set(res.properties_at_depth) == props
    if mutation == "no-lock":  # the matrix says this one is a bug under sc: both must see it
        assert step == DEPTH and "exclusive ownership" in props
