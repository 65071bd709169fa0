"""A model whose program uses something outside the modelling language (a try statement)."""

from checker.lang import pg_atomic_write_u32
from checker.model import Protocol

flag = 0


def worker():
    try:
        pg_atomic_write_u32(flag, 1)
    except Exception:
        pass


class Bad(Protocol):
    name = "test-bad-construct"
    summary = "rejected at load time"
    roles = {"postmaster": worker, "backend": worker}

    def declare(self, p, d):
        d.word("flag", 0)
