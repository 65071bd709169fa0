"""`checker tla-states`: explore a TLA+ spec of models/tla without TLC.

The specs in ``models/tla`` are meant for TLC, which needs Java and
``tla2tools.jar``.  Where the jar cannot be had (it is not on any package
registry this project can reach), this command gives the same answer for
the small part of TLA+ those specs use: it parses the module with the `tla`
package from PyPI, enumerates the initial states and the successors of
``Next`` the way TLC does (a primed variable's first equality assigns it,
later ones test it), checks the configuration's invariants on every state
and reports a deadlock, and prints the number of distinct states: the figure
to compare with ``checker explore PROTOCOL --memory-model sc``.

Properties of the form ``P ~> Q`` are checked too, under the spec's weak
fairness, on the whole state graph (a fair cycle of not-Q states reachable
from a P state is a violation).

It is a cross-check, not a replacement for TLC: no other temporal formulas,
no strong fairness, no symmetry, no fingerprints, and anything outside the
supported subset is a one-line error rather than a guess.
"""

from checker.tla.errors import TlaError
from checker.tla.explorer import Outcome, explore_tla
from checker.tla.module import Config, Module

__all__ = ["Config", "Module", "Outcome", "TlaError", "explore_tla"]
