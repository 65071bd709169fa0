"""Do the C twin's barriers correspond one to one with the model's?

Two views, both needed:

- the replay build reports every barrier the C code executes with its
  ``file:line``; replaying sampled complete executions of the model against
  it pairs each model barrier with the C barrier executed at the same point
  of the same thread (a barrier missing on one side is a replay divergence:
  "a different event");
- the C sources are read for barrier calls, so that a C barrier no sampled
  execution reached, or one with no model counterpart, is reported too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.fences import FENCE_PRIMS, FULL_STORE, Barrier, Site

SAMPLES = 12
_CALL = re.compile(r"\b(" + "|".join(FENCE_PRIMS + (FULL_STORE,)) + r")\s*\(")


@dataclass(frozen=True)
class CBarrier:
    site: Site
    kind: str


@dataclass
class TwinReport:
    available: bool
    note: str = ""
    pairs: dict[Site, set[Site]] = field(default_factory=dict)  # model barrier -> C barriers met with it
    c_barriers: list[CBarrier] = field(default_factory=list)
    model_barriers: list[Site] = field(default_factory=list)
    divergence: str = ""

    @property
    def model_only(self) -> list[Site]:
        return [s for s in self.model_barriers if not self.pairs.get(s)]

    @property
    def c_only(self) -> list[Site]:
        met = set().union(*self.pairs.values()) if self.pairs else set()
        return [c.site for c in self.c_barriers if c.site not in met]

    @property
    def not_one_to_one(self) -> list[Site]:
        """Model barriers met with more than one C barrier, and C barriers met with more than one model barrier."""
        bad = [m for m, cs in self.pairs.items() if len(cs) > 1]
        seen: dict[Site, int] = {}
        for cs in self.pairs.values():
            for c in cs:
                seen[c] = seen.get(c, 0) + 1
        return bad + [c for c, n in seen.items() if n > 1]

    @property
    def agrees(self) -> bool:
        return self.available and not self.divergence and not self.model_only and not self.c_only \
            and not self.not_one_to_one

    def as_json(self) -> dict[str, Any]:
        return {"available": self.available, "agrees": self.agrees, "note": self.note,
                "pairs": {str(m): sorted(str(c) for c in cs) for m, cs in sorted(self.pairs.items())},
                "model_only": [str(s) for s in self.model_only], "c_only": [str(s) for s in self.c_only],
                "divergence": self.divergence or None}

    def summary(self) -> str:
        if not self.available:
            return f"C twin not compared: {self.note}"
        if self.agrees:
            return f"C twin agrees: {len(self.pairs)} barriers correspond one to one ({self.note})"
        parts = []
        if self.divergence:
            parts.append(f"replay diverged: {self.divergence}")
        if self.model_only:
            parts.append("model only: " + ", ".join(map(str, self.model_only)))
        if self.c_only:
            parts.append("C only: " + ", ".join(map(str, self.c_only)))
        if self.not_one_to_one:
            parts.append("met with more than one counterpart: " + ", ".join(map(str, self.not_one_to_one)))
        return "C twin DISAGREES: " + "; ".join(parts)


def c_barriers(paths: list[Path]) -> list[CBarrier]:
    """Barrier calls in C code (comments and preprocessor lines left out)."""
    found = []
    for path in paths:
        text = path.read_text()
        # Blank out comments, keeping line numbers.
        text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        # Code under "#ifdef SLOT_MUTATION_..." is only in a mutated build (a
        # barrier a mutation adds back), which the model compiles only with that
        # mutation: leave it out, as the model's barrier list does.
        # One entry per open conditional: is its current branch mutation-only?
        mutation_only: list[bool] = []
        for n, line in enumerate(text.splitlines(), 1):
            directive = line.strip()
            if directive.startswith("#"):
                words = directive[1:].split()
                if words[:1] in (["if"], ["ifdef"], ["ifndef"]):
                    mutation_only.append(words[0] == "ifdef" and len(words) > 1
                                         and words[1].startswith("SLOT_MUTATION_"))
                elif words[:1] == ["else"] and mutation_only:
                    mutation_only[-1] = False  # the unmutated build's branch
                elif words[:1] == ["endif"] and mutation_only:
                    mutation_only.pop()
                continue
            if any(mutation_only):
                continue
            for m in _CALL.finditer(line):
                found.append(CBarrier(Site(path.name, n), m.group(1)))
    return found


def compare_twin(protocol: str, model_barriers: list[Barrier], samples: int = SAMPLES) -> TwinReport:
    from checker.model import resolve_protocol
    from checker.replay import replay_trace, sample_executions

    sites = [b.site for b in model_barriers]
    try:
        from refimpl import build
    except ImportError as exc:
        return TwinReport(False, f"the C reference implementation cannot be loaded ({exc})", model_barriers=sites)
    cls = resolve_protocol(protocol)
    try:
        spec = build.protocol(cls.name)
    except Exception as exc:  # no twin registered for this protocol
        return TwinReport(False, f"{cls.name} has no C twin ({str(exc).splitlines()[0] if str(exc) else exc})",
                          model_barriers=sites)
    try:
        paths = [spec.path(s) for s in spec.sources]
    except Exception as exc:
        return TwinReport(False, f"the C twin's sources are not found ({exc})", model_barriers=sites)
    report = TwinReport(True, c_barriers=c_barriers([Path(p) for p in paths]), model_barriers=sites)
    # Two backends exercise every role's code; one worker each keeps the
    # replays short.  Complete executions only: a barrier is met in order.
    docs = sample_executions(protocol, count=samples, seed=0, memory_model="sc", threads=3, slots=2, ops=1)
    complete = [d for d in docs if d.get("complete")]
    try:
        for k, doc in enumerate(complete):
            r = replay_trace(doc, name=f"sampled execution {k}")
            if not r.ok:
                report.divergence = r.summary()
                break
            for pair in r.fence_pairs:
                # By file name: the replay build may be a cached copy compiled from another checkout.
                src = pair.model_source
                if "file" in src and "line" in src:
                    report.pairs.setdefault(Site(src["file"], src["line"]), set()).add(
                        Site(Path(pair.c_file).name, pair.c_line))
    except Exception as exc:  # no C compiler, cffi missing: say so, never "agrees"
        return TwinReport(False, f"the C replay build failed ({type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''})", model_barriers=sites)
    report.note = f"{len(complete)} sampled complete executions replayed against {', '.join(spec.sources)}"
    return report
