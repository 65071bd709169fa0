"""Memory models, one file each; they register themselves by name."""

from checker.memory.base import MemoryModel
from checker.memory.profiles import PROFILES, Profile
from checker.memory import sc as _sc, tso as _tso, weak as _weak  # noqa: F401  (registration)

# The memory model a run uses when none is named (DESIGN: PostgreSQL's
# documented contract on an ARMv8-like machine); defined here only.
DEFAULT_MEMORY_MODEL = "weak"


def memory_models() -> dict[str, type[MemoryModel]]:
    return dict(MemoryModel.registry)


__all__ = ["MemoryModel", "PROFILES", "Profile", "memory_models", "DEFAULT_MEMORY_MODEL"]
