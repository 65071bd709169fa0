"""The partitioned search on Ray (``--ray ADDRESS|local``; issue 14).

The shards of :mod:`checker.parallel` run as Ray actors, one per shard, spread
over the cluster's nodes.  Per BFS level the coordinator (this process) only
passes object references: each actor's ``expand`` returns one batch per
destination shard as a separate object, and each destination actor receives
its batches as arguments, so Ray moves them from node to node without the
coordinator holding them.  Ray does the cluster work (placement, transfer,
failure detection); slotcheck has no protocol of its own.

Ray is an optional extra: ``pip install -e '.[ray]'``.
"""

from __future__ import annotations

import socket

from checker.model import ModelError
from checker.parallel import SearchAborted, Shard, WorkerMemoryError
from checker.search import pause_collector

EXTRA_HINT = "--ray needs Ray, an optional extra: pip install -e '.[ray]' (or pip install 'ray>=2.9')"


def check_ray(address: str) -> None:
    """One-line errors before anything starts: Ray missing, or nothing listening at ADDRESS."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError(EXTRA_HINT) from None
    if address in ("local", "auto"):
        return
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"--ray takes host:port of a Ray head node, ray://host:port, auto or local, not {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ValueError(f"--ray {address}: cannot reach a Ray cluster there ({reason})") from None


class _ActorShard(Shard):
    """A shard in the process of a Ray actor, which it has to itself.

    As in a worker process (checker.parallel._worker_main), the cyclic
    collector is off: a shard holds acyclic tuples and ints, which it could
    only walk in vain (about 30% of each actor's CPU on `ring --threads 3
    -m weak`).
    """

    def __init__(self, *args, **kwargs) -> None:
        pause_collector()  # for the actor's life: it is never resumed
        super().__init__(*args, **kwargs)


def _unwrap(exc: BaseException) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


class RayShards:
    def __init__(self, address, spec, n, liveness, max_depth, memory_limit) -> None:
        import ray

        self.ray = ray
        self.n = n
        self._started = not ray.is_initialized()
        if self._started:
            try:
                ray.init(address=None if address == "local" else address, include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ModelError(f"--ray {address}: cannot join the Ray cluster ({str(exc).splitlines()[0]})") from None
        self.description = f"{n} Ray actors"
        # num_cpus=0: the actors are long-lived and busy only in turns; SPREAD
        # puts them on different nodes where there are several.
        actor = ray.remote(num_cpus=0, max_restarts=0)(_ActorShard)
        # Each actor builds the model itself: the weak model's outcomes are
        # traded under names every build agrees on (Shard.offer_outcomes).
        self.actors = [actor.options(scheduling_strategy="SPREAD").remote(spec, i, n, liveness, max_depth,
                                                                            memory_limit, share_outcomes=True,
                                                                            portable_outcomes=True)
                       for i in range(n)]
        self._adopting: list = []  # the last level's adoptions, waited for with the next level
        self._trading = self._get(self.actors[0].trades_outcomes.remote())

    def _get(self, refs):
        ray = self.ray
        try:
            return ray.get(refs)
        except ray.exceptions.RayActorError as exc:
            raise SearchAborted(f"a Ray actor died ({str(exc).splitlines()[0]}); "
                                "the search cannot go on without its states") from None
        except ray.exceptions.RayTaskError as exc:
            cause = _unwrap(exc)
            if isinstance(cause, MemoryError):
                raise WorkerMemoryError(str(cause) or "out of memory") from None
            if isinstance(cause, ModelError):
                raise ModelError(str(cause)) from None
            raise SearchAborted(f"a Ray actor failed: {type(cause).__name__}: {cause}".splitlines()[0]) from None
        except ray.exceptions.RayError as exc:
            raise SearchAborted(f"Ray failed: {str(exc).splitlines()[0]}") from None

    def call(self, i: int, method: str, *args):
        return self._get(getattr(self.actors[i], method).remote(*args))

    def call_all(self, method: str, args_per_shard=None):
        return self._get([getattr(a, method).remote(*(args_per_shard[i] if args_per_shard else ()))
                          for i, a in enumerate(self.actors)])

    def expand_and_receive(self):
        n = self.n
        expanded = [a.expand.options(num_returns=n + 1).remote() for a in self.actors]
        # What each actor's model learnt in its expansion goes to the others
        # before their next: an actor's tasks run in the order this process
        # submits them, so each adoption comes after the offer it takes and
        # before the adopter's next expand.
        offers = [a.offer_outcomes.options(num_returns=2).remote() for a in self.actors] if self._trading else []
        # Batches go from actor to actor; only their references pass through here.
        receiving = [a.receive.remote(*[expanded[i][1 + j] for i in range(n)]) for j, a in enumerate(self.actors)]
        self._get(self._adopting)
        reports = self._get([e[0] for e in expanded])
        received = self._get(receiving)
        if self._trading:
            for report, size in zip(reports, self._get([size for _blob, size in offers])):
                report.sent_bytes += size * (n - 1)
            self._adopting = [a.adopt_outcomes.remote(j, offers[j][0])
                              for i, a in enumerate(self.actors) for j in range(n) if j != i]
        return reports, received

    def close(self) -> None:
        for a in getattr(self, "actors", []):
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self._started:
            self.ray.shutdown()
