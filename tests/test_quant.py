"""Quantified invariants made quantifier-free (checker/prove/quant.py), on small formulas with known answers."""

import pytest
import z3

from checker.prove.invariants import Checker
from checker.prove.quant import Grounder, QuantifierError

BV = z3.BitVecSort(32)


def _checker():
    ctx = type("Ctx", (), {"assumptions": []})()
    return Checker(ctx, 1)


def _array_facts(n_next):
    """Hypothesis: a[k] == 0 for every k < n.  Step: a[n] := 0.  Goal: a'[k] == 0 for every k < n_next."""
    a, n = z3.Array("a", BV, BV), z3.BitVec("n", 32)
    k = z3.BitVec("k", 32)
    hyp = z3.ForAll([k], z3.Implies(z3.ULT(k, n), a[k] == 0))
    post = z3.Store(a, n, z3.BitVecVal(0, 32))
    goal = z3.ForAll([k], z3.Implies(z3.ULT(k, n_next(n)), post[k] == 0))
    return [hyp, z3.Not(goal)]


def test_a_correct_extension_by_one_is_proved_for_every_n():
    # n + 1 wraps at n = 2^32 - 1, where "k < n + 1" is empty: still true.
    assert _checker()(*_array_facts(lambda n: n + 1)) == z3.unsat


def test_an_extension_by_two_is_refuted_with_a_counterexample():
    check = _checker()
    assert check(*_array_facts(lambda n: n + 2)) == z3.sat
    # The candidate satisfies the quantified hypothesis itself: position n + 1
    # was never written, and the model says so.
    # (z3 may offer spurious candidates first, or need the quantified query,
    # depending on what its context saw before: each spurious candidate is
    # refined away, never reported; what is reported is a real model.)
    assert check.confirmations >= 1
    a, n = z3.Array("a", BV, BV), z3.BitVec("n", 32)
    m = check.model
    assert m.eval(a[n + 1], model_completion=True).as_long() != 0


def test_instances_come_from_the_index_terms_and_the_skolem_constants():
    hyp, negated_goal = Grounder().ground(_array_facts(lambda n: n + 1))
    # The negated goal's quantifier became a fresh witness ...
    assert not Grounder().has_quantifier(negated_goal)
    sk = [str(t) for t in z3.z3util.get_vars(negated_goal) if str(t).startswith("sk")]
    assert len(sk) == 1
    # ... and the hypothesis is used at exactly the two index terms: the
    # witness and the written position n.
    assert z3.is_and(hyp) and hyp.num_args() == 2
    used = {str(i.arg(0).arg(0)) for i in hyp.children()}
    assert used == {sk[0], "n"}


def test_a_needed_instance_that_is_no_index_is_settled_by_the_quantified_query():
    # Every k is <= m, so m is the largest value, and then y <= m.  The
    # instance needed (k = y) is not an array index: instantiation alone
    # finds a spurious model, and the quantified query decides.
    k, m, y = z3.BitVecs("k m y", 32)
    check = _checker()
    assert check(z3.ForAll([k], z3.ULE(k, m)), z3.Not(z3.ULE(y, m))) == z3.unsat
    # Each candidate model broke the hypothesis somewhere; after the last
    # refinement the quantified query went to z3.
    assert check.confirmations == 1 + Checker.REFINEMENTS and check.fallbacks == 1


def test_a_spurious_candidate_is_refined_with_the_position_it_breaks():
    # a[k] == 0 for every k; is a[i + j] nonzero possible?  The index i + j
    # is an index term, so instantiation settles it at once ...
    a = z3.Array("a", BV, BV)
    k, i, j = z3.BitVecs("k i j", 32)
    check = _checker()
    assert check(z3.ForAll([k], a[k] == 0), a[i + j] != 0) == z3.unsat and check.confirmations == 0
    # ... while here the position that matters, 7, is no index term: the
    # first candidate (x = 0) breaks the hypothesis at k = 7, and with that
    # instance added the query is unsat.
    x = z3.BitVec("x", 32)
    check = _checker()
    assert check(z3.ForAll([k], z3.Implies(k == 7, x == 1)), x != 1) == z3.unsat
    # (z3 may offer spurious candidates first, or need the quantified query,
    # depending on what its context saw before: each spurious candidate is
    # refined away, never reported; what is reported is a real model.)
    assert check.confirmations >= 1


def test_pairs_are_instantiated_over_pairs_of_terms():
    a = z3.Array("a", BV, BV)
    j, k, p, q = z3.BitVecs("j k p q", 32)
    distinct = z3.ForAll([j, k], z3.Implies(j != k, a[j] != a[k]))
    check = _checker()
    assert check(distinct, p != q, a[p] == a[q]) == z3.unsat
    assert check.confirmations == 0


@pytest.mark.parametrize("formula", [
    lambda k, x: z3.Exists([k], x == k),
    lambda k, x: z3.ForAll([k], x != k) == (x == 0),
])
def test_quantifiers_the_instantiation_cannot_treat_are_refused(formula):
    k, x = z3.BitVecs("k x", 32)
    with pytest.raises(QuantifierError):
        Grounder().ground([formula(k, x)])
