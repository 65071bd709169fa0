"""Checkpoints of the partitioned search (``--checkpoint DIR``, ``--resume DIR``; issue 14).

A checkpoint is taken at a BFS level boundary, where the whole search state is
small to describe: every shard's states (its component tables, packed keys,
global ranks and parent ranks), the edges it keeps for the cycle analysis, and
the coordinator's counters and the violations seen so far.  Only the frontier
(the states of the last level) still has to be expanded; it is recognised on
resume by rank.

Atomicity: each generation writes new files (``shard-G-I.pkl``,
``progress-G.pkl``), each through a temporary file and a rename, then
``manifest.json`` names generation G, again by rename.  A crash at any moment
leaves the previous manifest and the files it names intact; older generations
are deleted only after the new manifest is in place.

A checkpoint records what it is a search *of*: the slotcheck version, the
model (name and a hash of its source), parameters, mutation, memory model,
profile and the search options that change the graph or what is kept of it.
Resuming under anything else is refused with one line: the counts would not
be those of any one search.  The number of workers may change: every shard
takes the states it owns from all shard files.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

from checker.model import ModelError

FORMAT = 2  # 2: tso and weak keys give each thread's pending entry a field (search.packer_for)
MANIFEST = "manifest.json"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("slotcheck")
    except Exception:  # noqa: BLE001 - not installed: the source tree's own
        return "unknown"


def _model_hash(protocol: str) -> str:
    import inspect

    from checker.model import resolve_protocol

    cls = resolve_protocol(protocol)
    try:
        src = Path(inspect.getsourcefile(cls)).read_bytes()
    except (TypeError, OSError):
        return "unknown"
    return hashlib.sha256(src).hexdigest()[:16]


def identity(spec, opts) -> dict:
    """What a checkpoint must agree on with the run that resumes it."""
    return {
        "slotcheck": _version(),
        "protocol": spec.protocol,
        "model_source": _model_hash(spec.protocol),
        "params": spec.params.as_dict(),
        "mutation": spec.mutation,
        "memory_model": spec.memory_model,
        "profile": spec.profile,
        "mm_options": dict(spec.mm_options),
        "engine": spec.engine_kind,
        "liveness": bool(opts.liveness),
        "stop_on_first": bool(opts.stop_on_first),
        "max_depth": opts.max_depth,
    }


def _describe(ident: dict) -> str:
    p = ident.get("params", {})
    parts = [f"{ident.get('protocol')}", f"memory model {ident.get('memory_model')}",
             ", ".join(f"{k} {v}" for k, v in p.items() if k in ("threads", "slots", "ops"))]
    if ident.get("mutation"):
        parts.append(f"mutation {ident['mutation']}")
    return f"{' '.join(parts[:1])} ({', '.join(parts[1:])}) by slotcheck {ident.get('slotcheck')}"


def _flatten(ident: dict) -> dict:
    flat = {}
    for k, v in ident.items():
        if isinstance(v, dict):
            flat.update({f"{k}.{sub}": x for sub, x in v.items()})
        else:
            flat[k] = v
    return flat


def _difference(saved: dict, wanted: dict) -> str:
    a, b = _flatten(saved), _flatten(wanted)
    keys = [k for k in b if a.get(k) != b[k]] + [k for k in a if k not in b]
    return "; ".join(f"{k.removeprefix('params.')} {a.get(k)!r} there, {b.get(k)!r} here" for k in keys[:3])


@dataclass
class Resume:
    progress: object  # checker.parallel._Progress
    shard_paths: list
    generation: int


def _read_manifest(d: Path) -> dict | None:
    try:
        text = (d / MANIFEST).read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelError(f"checkpoint {d}: cannot read {MANIFEST} ({exc.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise ModelError(f"checkpoint {d}: {MANIFEST} is not a slotcheck checkpoint manifest") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("identity"), dict):
        raise ModelError(f"checkpoint {d}: {MANIFEST} is not a slotcheck checkpoint of format {FORMAT}")
    return doc


def open_resume(directory: str, wanted: dict) -> Resume:
    d = Path(directory)
    if not d.is_dir():
        raise ModelError(f"--resume {directory}: no such directory")
    doc = _read_manifest(d)
    if doc is None:
        raise ModelError(f"--resume {directory}: no checkpoint there (no {MANIFEST})")
    saved = doc["identity"]
    if saved != wanted:
        raise ModelError(f"--resume {directory}: the checkpoint is of {_describe(saved)}, not of this run "
                         f"({_difference(saved, wanted)})")
    gen = doc["generation"]
    try:
        with open(d / doc["progress"], "rb") as f:
            progress = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise ModelError(f"--resume {directory}: cannot read {doc['progress']} ({exc})") from None
    paths = [str(d / name) for name in doc["shards"]]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ModelError(f"--resume {directory}: {Path(missing[0]).name} is missing")
    _generations[str(d)] = gen
    return Resume(progress, paths, gen)


_generations: dict[str, int] = {}


def prepare_dir(directory: str, wanted: dict, resuming: bool) -> None:
    d = Path(directory)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"--checkpoint {directory}: cannot create it ({exc.strerror})") from None
    doc = _read_manifest(d)
    if doc is not None and not resuming:
        if doc["identity"] != wanted:
            raise ModelError(f"--checkpoint {directory}: it holds a checkpoint of {_describe(doc['identity'])}; "
                             "choose another directory")
        raise ModelError(f"--checkpoint {directory}: it already holds a checkpoint of this search; "
                         f"continue it with --resume {directory} or choose another directory")
    if str(d) not in _generations:
        _generations[str(d)] = doc["generation"] if doc else 0


def write(directory: str, ident: dict, shards, progress) -> None:
    """Every shard's file, the coordinator's, then the manifest that makes them the checkpoint."""
    from checker.parallel import _write_atomic

    d = Path(directory)
    gen = _generations.get(str(d), 0) + 1
    names = [f"shard-{gen}-{i}.pkl" for i in range(shards.n)]
    shards.call_all("save", [(str(d / name),) for name in names])
    prog_name = f"progress-{gen}.pkl"
    _write_atomic(str(d / prog_name), lambda f: pickle.dump(progress, f, protocol=pickle.HIGHEST_PROTOCOL))
    manifest = {"format": FORMAT, "identity": ident, "generation": gen, "shards": names, "progress": prog_name,
                "states": progress.states, "transitions": progress.transitions, "depth": progress.depth,
                "finished": progress.finished}
    text = json.dumps(manifest, indent=1).encode()
    _write_atomic(str(d / MANIFEST), lambda f: f.write(text))
    _generations[str(d)] = gen
    keep = set(names) | {prog_name, MANIFEST}
    for p in d.iterdir():
        if p.name not in keep and (p.name.startswith(("shard-", "progress-")) and p.suffix == ".pkl"):
            try:
                p.unlink()
            except OSError:
                pass
