"""models/tla/manifest.json: each config's constants as the checker's parameters.

A config binds SLOTS, BACKENDS, OPS, StepBound and Mutation like the
checker's ``--slots``, ``--threads`` (minus the postmaster), ``--ops``,
``--step-bound`` and ``--mutation``; any other upper-case constant whose
lower-cased name is one of the protocol's ``extra_params`` is that
``--param`` (CAS_RETRIES, GEN_BITS, ASSERTS).  Constants that select what
the spec describes rather than a parameter of the run (Changequeue's
``Fixed``: which of the two protocols) map to nothing.
"""

from __future__ import annotations

from typing import Any

from checker.model import resolve_protocol

_RUN_CONSTANTS = ("SLOTS", "BACKENDS", "OPS", "StepBound", "Mutation")


def checker_params(entry: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``checker.run.check`` for a manifest entry's constants."""
    c = entry["constants"]
    params: dict[str, Any] = {"threads": c["BACKENDS"] + 1, "slots": c["SLOTS"], "ops": c["OPS"],
                              "step_bound": c["StepBound"]}
    if c.get("Mutation", "none") != "none":
        params["mutation"] = c["Mutation"]
    extra_params = resolve_protocol(entry["protocol"]).extra_params
    extra = {name.lower(): value for name, value in c.items()
             if name not in _RUN_CONSTANTS and name.isupper() and name.lower() in extra_params}
    if extra:
        params["extra"] = extra
    return params
