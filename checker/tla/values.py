"""TLA+ values: ints, strings, booleans, frozensets, functions, and a few
infinite sets that are only ever used on the right of \\in."""

from __future__ import annotations

from checker.tla.errors import TlaError



class Fn:
    """A TLA+ function with a finite domain (hashable, immutable by convention)."""

    __slots__ = ("d", "_h")

    def __init__(self, d: dict) -> None:
        self.d = d
        self._h = None

    def __hash__(self) -> int:
        if self._h is None:
            self._h = hash(frozenset(self.d.items()))
        return self._h

    def __eq__(self, other) -> bool:
        return isinstance(other, Fn) and self.d == other.d

    def __repr__(self) -> str:
        return "[" + ", ".join(f"{k!r} |-> {v!r}" for k, v in sorted(self.d.items(), key=repr)) + "]"


class LazySet:
    def contains(self, x) -> bool:
        raise NotImplementedError


class NatSet(LazySet):
    def contains(self, x):
        return type(x) is int and x >= 0


class FunSet(LazySet):
    """[S -> T]"""

    def __init__(self, dom, cod) -> None:
        self.dom, self.cod = dom, cod

    def contains(self, x):
        return isinstance(x, Fn) and frozenset(x.d) == self.dom and all(member(v, self.cod) for v in x.d.values())


class PowerSet(LazySet):
    """SUBSET S"""

    def __init__(self, base) -> None:
        self.base = base

    def contains(self, x):
        return isinstance(x, frozenset) and all(member(v, self.base) for v in x)


class RecordSet(LazySet):
    """[a : S, b : T]"""

    def __init__(self, bounds: dict) -> None:
        self.bounds = bounds

    def contains(self, x):
        return (isinstance(x, Fn) and set(x.d) == set(self.bounds)
                and all(member(x.d[k], s) for k, s in self.bounds.items()))


class DiffSet(LazySet):
    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def contains(self, x):
        return member(x, self.a) and not member(x, self.b)


class UnionSet(LazySet):
    def __init__(self, a, b) -> None:
        self.a, self.b = a, b

    def contains(self, x):
        return member(x, self.a) or member(x, self.b)


def member(x, s) -> bool:
    if isinstance(s, LazySet):
        return s.contains(x)
    if isinstance(s, frozenset):
        return x in s
    raise TlaError(f"\\in applied to a non-set {s!r}")


def finite(s) -> frozenset:
    if isinstance(s, frozenset):
        return s
    raise TlaError("cannot enumerate an infinite set")


def sorted_values(s):
    return sorted(finite(s), key=lambda v: (type(v).__name__, repr(v)))


def check_same_kind(a, b) -> None:
    if (type(a) is bool) != (type(b) is bool):
        raise TlaError(f"comparing {a!r} with {b!r}")

def as_sequence(v) -> list:
    if not isinstance(v, Fn) or set(v.d) != set(range(1, len(v.d) + 1)):
        raise TlaError(f"{v!r} is not a sequence")
    return [v.d[i] for i in range(1, len(v.d) + 1)]
