"""Universal quantifiers in invariant queries, made quantifier-free.

An invariant over any number of slots says things like "every live free-ring
position holds a free slot number": a universal quantifier over positions.
A consecution query asks whether

    hypotheses(pre) and step and not conjunct(post)

is satisfiable.  Quantifiers there come in two kinds, by polarity:

* under a negation (the conjunct being checked, negated): the query asks for
  *some* position that breaks it, so the bound variable becomes a fresh
  constant (Skolemisation).  The result is equisatisfiable.
* positive (the invariant assumed of the pre-state): the query may use the
  statement at any position.  We give it the statement at every position the
  query talks about: every index term of an array read or write in the
  quantifier-free part, the Skolem constants included (the array property
  fragment's index set, Bradley, Manna and Sipma 2006).

Replacing a positive quantifier by some of its instances weakens a
hypothesis, so ``unsat`` of the instantiated query is a proof for every slot
count.  ``sat`` may come from an instance that was not given; the caller then
asks z3 the quantified query itself before calling it a counterexample.
"""

from __future__ import annotations

import z3

_AND, _OR, _NOT, _IMPLIES, _ITE = z3.Z3_OP_AND, z3.Z3_OP_OR, z3.Z3_OP_NOT, z3.Z3_OP_IMPLIES, z3.Z3_OP_ITE
_SELECT, _STORE = z3.Z3_OP_SELECT, z3.Z3_OP_STORE


class QuantifierError(ValueError):
    """A quantifier where the instantiation cannot treat it (under an equivalence, or existential)."""


class Grounder:
    """Turns queries with universal quantifiers into quantifier-free ones."""

    def __init__(self, rounds: int = 1):
        # rounds > 1: index terms that the first instances introduce (a[b[k]])
        # are used for a further round of instances.
        self.rounds = rounds
        self._has_q: dict[int, tuple] = {}
        self._index_cache: dict[int, tuple[z3.ExprRef, list[z3.ExprRef]]] = {}
        self._fresh = 0

    # -- inspection ---------------------------------------------------------

    def has_quantifier(self, e: z3.ExprRef) -> bool:
        key = e.get_id()
        hit = self._has_q.get(key)
        if hit is None:
            if z3.is_quantifier(e):
                found = True
            elif z3.is_app(e):
                found = any(self.has_quantifier(a) for a in e.children())
            else:
                found = False
            # The term is kept alive with its answer: z3 reuses the id of a
            # term that has been freed.
            self._has_q[key] = hit = (found, e)
        return hit[0]

    def index_terms(self, formulas, into: dict[int, z3.ExprRef]) -> None:
        """Every ground index of an array read or write, outside quantifiers,
        added to ``into`` in the order a depth-first walk of ``formulas``
        (last first) meets them.

        The walk of each formula is remembered: a step's hypotheses go into
        hundreds of branch-feasibility queries, and walking their terms again
        through z3's Python API was most of those queries' time.  Walking
        the formulas one by one gives the order of one walk over all of them,
        since a subterm shared with a formula walked before only holds index
        terms already in ``into``.
        """
        for f in reversed(list(formulas)):
            key = f.get_id()
            hit = self._index_cache.get(key)
            if hit is None:
                # The formula is kept alive with its terms: z3 reuses the id of a freed term.
                self._index_cache[key] = hit = (f, self._walk_index_terms(f))
            for idx in hit[1]:
                into.setdefault(idx.get_id(), idx)

    @staticmethod
    def _walk_index_terms(formula) -> list[z3.ExprRef]:
        found: dict[int, z3.ExprRef] = {}
        seen: set[int] = set()
        stack = [formula]
        while stack:
            e = stack.pop()
            key = e.get_id()
            if key in seen or z3.is_quantifier(e) or not z3.is_app(e):
                continue
            seen.add(key)
            k = e.decl().kind()
            if k in (_SELECT, _STORE):
                idx = e.arg(1)
                if z3.is_bv(idx):
                    found.setdefault(idx.get_id(), idx)
            stack.extend(e.children())
        return list(found.values())

    # -- rewriting ------------------------------------------------------------

    def _walk(self, e, pol, on_forall, memo):
        """Rebuild ``e`` with ``on_forall(q, pol)`` in place of each quantifier
        (``pol`` is +1 positive, -1 under a negation)."""
        if not self.has_quantifier(e):
            return e
        key = (e.get_id(), pol)
        hit = memo.get(key)
        if hit is not None:
            return hit
        if z3.is_quantifier(e):
            if not e.is_forall():
                raise QuantifierError("an existential quantifier in an invariant (state it as a universal)")
            out = on_forall(e, pol)
        else:
            k = e.decl().kind()
            ch = e.children()
            if k == _AND:
                out = z3.And(*[self._walk(a, pol, on_forall, memo) for a in ch])
            elif k == _OR:
                out = z3.Or(*[self._walk(a, pol, on_forall, memo) for a in ch])
            elif k == _NOT:
                out = z3.Not(self._walk(ch[0], -pol, on_forall, memo))
            elif k == _IMPLIES:
                out = z3.Implies(self._walk(ch[0], -pol, on_forall, memo), self._walk(ch[1], pol, on_forall, memo))
            elif k == _ITE and z3.is_bool(e) and not self.has_quantifier(ch[0]):
                out = z3.If(ch[0], self._walk(ch[1], pol, on_forall, memo), self._walk(ch[2], pol, on_forall, memo))
            else:
                raise QuantifierError(f"a quantifier under {e.decl().name()} (both polarities): "
                                      "write the invariant with and/or/not/implies around quantifiers")
        memo[key] = out
        return out

    def _skolemise(self, q, pol, memo, skolems):
        if pol > 0:
            return q
        n = q.num_vars()
        self._fresh += 1
        consts = [z3.Const(f"sk{self._fresh}.{q.var_name(i)}", q.var_sort(i)) for i in range(n)]
        skolems.extend(consts)
        # Var(0) is the last bound variable.
        body = z3.substitute_vars(q.body(), *reversed(consts))
        return self._walk(body, pol, lambda q2, p2: self._skolemise(q2, p2, memo, skolems), memo)

    def _instantiate(self, q, pol, terms, memo):
        if pol < 0:  # pragma: no cover - skolemised before
            raise QuantifierError("internal: unskolemised negative quantifier")
        n = q.num_vars()
        body = q.body()
        tuples: list[list] = [[]]
        for i in range(n):
            sort = q.var_sort(i)
            cands = [t for t in terms if t.sort() == sort]
            tuples = [tu + [t] for tu in tuples for t in cands]
        inst = []
        for tu in tuples:
            b = z3.substitute_vars(body, *reversed(tu))
            inst.append(self._walk(b, pol, lambda q2, p2: self._instantiate(q2, p2, terms, memo), memo))
        return z3.And(*inst) if inst else z3.BoolVal(True)

    def skolemise(self, formulas: list) -> tuple[list, list]:
        """Every quantifier under a negation replaced by fresh witnesses;
        returns the formulas and the witnesses."""
        skolems: list = []
        memo: dict = {}
        sk = [self._walk(f, 1, lambda q, p: self._skolemise(q, p, memo, skolems), memo) for f in formulas]
        return sk, skolems

    def instantiate(self, sk: list, skolems: list, extra=()) -> list:
        """The positive quantifiers of skolemised formulas replaced by their
        instances at the witnesses, the index terms, and ``extra`` terms."""
        terms: dict[int, z3.ExprRef] = {s.get_id(): s for s in list(skolems) + list(extra)}
        ground = sk
        for _ in range(self.rounds):
            self.index_terms(ground, terms)
            tl = list(terms.values())
            imemo: dict = {}
            ground = [self._walk(f, 1, lambda q, p: self._instantiate(q, p, tl, imemo), imemo) for f in sk]
        return ground

    def ground(self, formulas: list) -> list:
        """Quantifier-free formulas, jointly unsat only if ``formulas`` are."""
        if not any(self.has_quantifier(f) for f in formulas):
            return list(formulas)
        sk, skolems = self.skolemise(formulas)
        return self.instantiate(sk, skolems)

def free_constants(formulas) -> list:
    """The uninterpreted constants of ``formulas``, quantifier bodies included."""
    found: dict[int, z3.ExprRef] = {}
    seen: set[int] = set()
    stack = list(formulas)
    while stack:
        e = stack.pop()
        key = e.get_id()
        if key in seen:
            continue
        seen.add(key)
        if z3.is_quantifier(e):
            stack.append(e.body())
        elif z3.is_app(e):
            if e.num_args() == 0 and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
                found[key] = e
            stack.extend(e.children())
    return list(found.values())
