"""Errors and the standard modules a spec may extend."""

from __future__ import annotations

# The standard modules these specs may extend, with the names each defines:
# a spec that defines one of them again is rejected, as SANY rejects it.
STANDARD_MODULES = {
    "Naturals": {"Nat"},
    "Integers": {"Nat", "Int"},
    "FiniteSets": {"IsFiniteSet", "Cardinality"},
    "Sequences": {"Seq", "Len", "Append", "Head", "Tail", "SubSeq", "SelectSeq"},
    "TLC": {"Print", "PrintT", "Assert", "JavaTime", "TLCGet", "TLCSet", "Permutations", "SortSeq",
            "RandomElement", "Any", "ToString", "TLCEval"},
}


class TlaError(Exception):
    """The spec or its configuration is outside what this explorer handles."""
