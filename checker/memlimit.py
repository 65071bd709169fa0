"""How much memory a search may use (``--max-memory``), and how much it uses.

A search that runs out of memory must still say what it covered (exit 3),
so it stops before the machine does: the resident set size is compared with
the limit every time the search reports progress (and, in the cycle analysis,
before each table it allocates), and a limit reached is a
``MemoryLimitReached`` (a MemoryError, so the search loop handles it and a
real MemoryError the same way).  The default limit is a share of what this
process may use (the smaller of physical memory and a cgroup limit), leaving
room for the report and for everything else on the machine.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

DEFAULT_SHARE = 0.75

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class MemoryLimitReached(MemoryError):
    """The resident set size passed ``--max-memory``."""


def available_memory() -> int | None:
    """Bytes this process may use: physical memory, or a smaller cgroup limit (None if unknown)."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # "max" or a huge number: no limit
            limits.append(int(text))
    return min(limits) if limits else None


def default_max_memory() -> int | None:
    total = available_memory()
    return None if total is None else int(total * DEFAULT_SHARE)


def parse_size(text: str) -> int | None:
    """'4G', '512M', '100000K', '80%' (of available memory), or 'none'; ValueError otherwise."""
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    if t in ("NONE", "0", "UNLIMITED"):
        return None
    if t.endswith("%"):
        share = float(t[:-1])
        total = available_memory()
        if not 0 < share <= 100:
            raise ValueError("a share must be more than 0% and at most 100%")
        if total is None:
            raise ValueError("this system does not say how much memory it has; give a size")
        return int(total * share / 100)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)", t)
    if not m:
        raise ValueError(f"{text!r} is not a size (say 4G, 512M, 80% or none)")
    size = int(float(m.group(1)) * _UNITS[m.group(2)])
    if size < 1 << 20:
        raise ValueError(f"{text!r} is less than 1M, too little to run at all")
    return size


def format_size(n: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if n >= _UNITS[unit]:
            return f"{n / _UNITS[unit]:.1f} {unit}iB"
    return f"{n} B"


def resident_bytes() -> int | None:
    """This process's resident set size now (Linux), else its peak, else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except (ImportError, OSError):
        return None


def ensure_room(limit: int | None, nbytes: int, what: str) -> None:
    """Raise MemoryLimitReached when ``nbytes`` more for ``what`` would pass ``limit``.

    The cycle analysis allocates a few tables of several bytes a state each,
    all at once, with no progress report between them: it asks before each
    one rather than finding out afterwards (or never, once the kernel's OOM
    killer has ended the process).
    """
    if limit is None:
        return
    rss = resident_bytes()
    if rss is not None and rss + nbytes > limit:
        raise MemoryLimitReached(f"memory limit {format_size(limit)} reached: {what} needs {format_size(nbytes)} "
                                 f"more (resident {format_size(rss)}; raise it with --max-memory)")


def room_left(limit: int | None, nbytes: int) -> int | None:
    """Bytes below ``limit`` once ``nbytes`` more are resident (0 at least); None without a limit or a reading."""
    if limit is None:
        return None
    rss = resident_bytes()
    return None if rss is None else max(limit - rss - nbytes, 0)


def check(limit: int | None) -> None:
    """Raise MemoryLimitReached when the resident set is past ``limit``."""
    if limit is None:
        return
    rss = resident_bytes()
    if rss is not None and rss > limit:
        raise MemoryLimitReached(f"memory limit {format_size(limit)} reached "
                                 f"(resident {format_size(rss)}; raise it with --max-memory)")
