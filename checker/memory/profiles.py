"""Profiles: what ordering each PostgreSQL primitive gives, as data.

PostgreSQL code reasons from what ``atomics.h`` and ``README.barrier``
document; compilers and machines give something else, sometimes more and
sometimes less.  A profile maps every primitive to the orderings it provides,
so that running a protocol under two profiles shows what it relies on that the
documentation does not promise.

Orderings are pairs ``(earlier, later)`` over the access kinds ``"L"`` (load)
and ``"S"`` (store): a fence with ``("L", "S")`` keeps every load before it
ahead of every store after it.  An RMW is either ``full`` (a full fence on both
sides, performed atomically) or ``split`` (an ``ldaxr``/``stlxr`` pair: the
load half is an acquire, the store half a release, and a later load may be
satisfied before the store half is visible).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL = frozenset({("L", "L"), ("L", "S"), ("S", "L"), ("S", "S")})
LL = frozenset({("L", "L")})
SS = frozenset({("S", "S")})
NONE: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    fences: dict[str, frozenset] = field(default_factory=dict)
    # RMW primitives -> "full" | "split"
    rmw: dict[str, str] = field(default_factory=dict)
    # Plain loads/stores that carry acquire/release semantics.
    acquire_loads: frozenset = frozenset({"smp_load_acquire"})
    release_stores: frozenset = frozenset({"smp_store_release"})
    # Stores that are full barriers (pg_atomic_write_membarrier_u32).
    full_stores: frozenset = frozenset({"pg_atomic_write_membarrier_u32"})

    def table(self) -> list[tuple[str, str]]:
        rows = []
        for prim, pairs in self.fences.items():
            rows.append((prim, _pairs_text(pairs)))
        for prim, kind in self.rmw.items():
            rows.append((prim, "full barrier, atomic" if kind == "full"
                         else "acquire load half + release store half; a later load may pass the store half"))
        for prim in sorted(self.full_stores):
            rows.append((prim, "full barrier"))
        rows.append(("pg_atomic_read_u32 / pg_atomic_write_u32", "no ordering (relaxed, never torn)"))
        return rows


def _pairs_text(pairs: frozenset[tuple[str, str]]) -> str:
    if pairs == ALL:
        return "full: everything before against everything after"
    if not pairs:
        return "compiler barrier only: no machine ordering"
    names = {"L": "load", "S": "store"}
    return ", ".join(f"{names[a]}->{names[b]}" for a, b in sorted(pairs))


_RMWS = (
    "pg_atomic_compare_exchange_u32", "pg_atomic_exchange_u32", "pg_atomic_fetch_add_u32",
    "pg_atomic_fetch_sub_u32", "pg_atomic_fetch_or_u32", "pg_atomic_fetch_and_u32",
    "pg_atomic_read_membarrier_u32", "LWLockAcquire", "LWLockRelease",
)

DOCUMENTED = Profile(
    "documented",
    "what PostgreSQL documents (atomics.h, README.barrier): the contract code may rely on",
    fences={"pg_memory_barrier": ALL, "pg_read_barrier": LL, "pg_write_barrier": SS},
    rmw={p: "full" for p in _RMWS},
)

ARM64 = Profile(
    "arm64",
    "GCC/Clang on AArch64 without LSE: dmb ishld, dmb ish, ldaxr/stlxr loops",
    # dmb ishld orders loads against later loads *and* stores.
    fences={"pg_memory_barrier": ALL, "pg_read_barrier": frozenset({("L", "L"), ("L", "S")}),
            "pg_write_barrier": ALL},
    rmw={**{p: "full" for p in _RMWS},
         # CAS and exchange are ldaxr/stlxr loops with no trailing dmb.
         "pg_atomic_compare_exchange_u32": "split", "pg_atomic_exchange_u32": "split"},
)

X86_64 = Profile(
    "x86-64",
    "GCC/Clang on x86-64: read/write barriers are compiler barriers, locked instructions are full fences",
    fences={"pg_memory_barrier": ALL, "pg_read_barrier": NONE, "pg_write_barrier": NONE},
    rmw={p: "full" for p in _RMWS},
)

PROFILES = {p.name: p for p in (DOCUMENTED, ARM64, X86_64)}
