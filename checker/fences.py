"""Barriers of a compiled model, and edits that remove, weaken or insert them.

``checker fences`` asks of every barrier "what breaks without it?".  The
answer must be about the program the checker runs, so a barrier is changed in
the *compiled* program, never in the model's source: every instruction keeps
its ``file:line``, and a :class:`FenceEdit` names barriers by that site.

- removing a barrier turns its instruction into a jump to the next one (a
  local instruction: the thread no longer takes a step there, exactly as when
  a mutation compiles the barrier away), and turns a
  ``pg_atomic_write_membarrier_u32`` into a plain ``pg_atomic_write_u32``;
- weakening replaces a ``pg_memory_barrier()`` by ``pg_read_barrier()`` or
  ``pg_write_barrier()``;
- inserting puts a barrier just before a shared-memory event (every path to
  that event passes through it);
- relaxing an atomic read-modify-write (``pg_atomic_compare_exchange_u32``,
  ``pg_atomic_fetch_add_u32``, ...) takes away the ordering its profile gives
  it (full, or arm64's ldaxr/stlxr acquire and release halves): the RMW stays
  atomic on its own word and orders nothing else.  Only ``weak`` can show
  the difference: under ``sc`` nothing is reordered anyway, and a ``tso``
  machine's atomic RMW is a locked instruction, which drains the store buffer
  whatever the program asked for.  System calls the models treat as RMWs
  (waitpid, taking a signal) are not atomics of the program and are left alone.

A barrier kept only to document an argument is marked in the model by a
comment line in the comment block directly above it::

    # documentation only: the ring has at least as many entries as slots, ...

The tool reads the reason and prints it next to the verdict; the verdict
itself always comes from the check.

Edits are plain data (:meth:`FenceEdit.as_json`): a trace found with an edit
records it, so that ``checker view`` and ``checker replay`` rebuild the same
program (``checker.run.make_engine(fence_edit=...)``).
"""

from __future__ import annotations

import copy
import dataclasses
import linecache
import os
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from checker.ir import (Fence, Instr, Jump, ModelError, ProcessRmw, ProcessStore, Program, Rmw, Store, _analyse,
                        _ROOT, _successors)

FENCE_PRIMS = ("pg_memory_barrier", "pg_read_barrier", "pg_write_barrier")
FULL_STORE = "pg_atomic_write_membarrier_u32"
WEAKER = ("pg_read_barrier", "pg_write_barrier")
# Events that touch shared memory (placement candidates sit between two of them).
SHARED_OPS = ("load", "store", "rmw")
# LWLockAcquire/Release are full barriers under every profile: a barrier right
# after one orders nothing more.
LOCK_OPS = ("acquire", "release")
DOC_MARK = re.compile(r"#\s*documentation only:\s*(.*)$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Site:
    """A source position of the model: ``file:line`` (file as the compiler shows it)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @staticmethod
    def parse(text: Any) -> "Site":
        if not isinstance(text, str) or ":" not in text:
            raise ModelError(f"{text!r} is not a file:line site")
        file, _, line = text.rpartition(":")
        if not file or not line.isdigit():
            raise ModelError(f"{text!r} is not a file:line site")
        return Site(file, int(line))


@dataclass(frozen=True)
class Barrier:
    """One barrier of the model, as the compiled programs show it."""

    site: Site
    kind: str  # the primitive: pg_memory_barrier, ..., pg_atomic_write_membarrier_u32
    role: str
    text: str  # the source line
    orders: str  # the shared accesses on either side of it
    reason: str | None = None  # "documentation only: ..." in the model, if any
    # An atomic RMW whose profile makes it order other accesses: "removing"
    # it relaxes that one RMW (FenceEdit.relax), it is not deleted.
    rmw: bool = False

    @property
    def full(self) -> bool:
        return self.kind in ("pg_memory_barrier", FULL_STORE)

    @property
    def shown(self) -> str:
        """The barrier as a table names it: pg_read_barrier(), pg_atomic_fetch_or_u32 ordering."""
        if self.rmw:
            return f"{self.kind} ordering"
        return self.kind + ("()" if self.kind.endswith("barrier") else "")


class SitePrim(NamedTuple):
    """A barrier primitive at a site: the weaker one put in place, or one inserted before an event."""

    site: Site
    prim: str


@dataclass(frozen=True)
class FenceEdit:
    """Barriers removed, weakened (site -> weaker primitive) and inserted (before an event's site),
    and atomic RMWs relaxed (their site)."""

    remove: tuple[Site, ...] = ()
    replace: tuple[SitePrim, ...] = ()
    insert: tuple[SitePrim, ...] = ()
    relax: tuple[Site, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "replace", tuple(SitePrim(*r) for r in self.replace))
        object.__setattr__(self, "insert", tuple(SitePrim(*r) for r in self.insert))

    def __bool__(self) -> bool:
        return bool(self.remove or self.replace or self.insert or self.relax)

    @staticmethod
    def without(sites, rmw_sites) -> "FenceEdit":
        """Every ordering at ``sites`` taken away: barriers removed, the RMWs among them (``rmw_sites``) relaxed."""
        return FenceEdit(remove=tuple(s for s in sites if s not in rmw_sites),
                         relax=tuple(s for s in sites if s in rmw_sites))

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"remove": [str(s) for s in self.remove],
                               "replace": [{"site": str(s), "prim": p} for s, p in self.replace],
                               "insert": [{"before": str(s), "prim": p} for s, p in self.insert]}
        if self.relax:  # absent otherwise: traces written before relaxing existed read the same
            doc["relax"] = [str(s) for s in self.relax]
        return doc

    @staticmethod
    def from_json(doc: Any) -> "FenceEdit":
        """The edit a trace recorded; ModelError for one this checker cannot have written."""
        if not isinstance(doc, dict) or set(doc) - {"remove", "replace", "insert", "relax"}:
            raise ModelError("\"fence_edit\" must be an object with remove, replace, insert and relax lists")
        try:
            remove = tuple(Site.parse(s) for s in doc.get("remove", []))
            replace = tuple((Site.parse(r["site"]), r["prim"]) for r in doc.get("replace", []))
            insert = tuple((Site.parse(r["before"]), r["prim"]) for r in doc.get("insert", []))
            relax = tuple(Site.parse(s) for s in doc.get("relax", []))
        except (TypeError, KeyError):
            raise ModelError("\"fence_edit\" lists an entry without its site or primitive") from None
        for _, prim in replace + insert:
            if prim not in FENCE_PRIMS:
                raise ModelError(f"\"fence_edit\" names {prim!r}, not a barrier primitive")
        return FenceEdit(remove, replace, insert, relax)

    def describe(self) -> str:
        parts = [f"without the barrier at {s}" for s in self.remove]
        parts += [f"with the atomic at {s} relaxed" for s in self.relax]
        parts += [f"with {p}() at {s}" for s, p in self.replace]
        parts += [f"with {p}() before {s}" for s, p in self.insert]
        return "; ".join(parts) or "as written"

    def slug(self) -> str:
        """A short file-name part: no-ring.py-84, relaxed-caslist.py-48, ring.py-84-as-read, plus-ring.py-70."""
        parts = [f"no-{os.path.basename(s.file)}-{s.line}" for s in self.remove]
        parts += [f"relaxed-{os.path.basename(s.file)}-{s.line}" for s in self.relax]
        parts += [f"{os.path.basename(s.file)}-{s.line}-as-{p.split('_')[1]}" for s, p in self.replace]
        if self.insert:
            parts.append("placed-" + "+".join(f"{os.path.basename(s.file)}-{s.line}" for s, _ in self.insert))
        slug = "-".join(parts) or "as-written"
        return slug if len(slug) <= 120 else slug[:100] + f"-and-{len(parts)}-edits"


class RemovedBarrier(Jump):
    """A barrier taken out by an edit: a jump to the next instruction that remembers what it was.

    The engines see a plain jump; ``checker replay`` knows from it that the C
    code, which still has the barrier, executes one here.
    """

    __slots__ = ("prim",)

    def __init__(self, target: int, prim: str) -> None:
        super().__init__(target)
        self.prim = prim


class RelaxedRmw(Rmw):
    """An atomic RMW an edit relaxed: still atomic on its word, ordering nothing else (see ``WeakMemory``)."""

    __slots__ = ()
    relaxed = True


def _site(ins: Instr) -> Site:
    return Site(ins.src.file, ins.src.line)


def _is_barrier(ins: Instr) -> bool:
    """A barrier of the program: not fork(), exit() or kill(), which order as system calls do, whatever the code."""
    return isinstance(ins, Fence) or (isinstance(ins, Store) and ins.prim == FULL_STORE
                                      and not isinstance(ins, ProcessStore))


def _preds(prog: Program) -> list[list[int]]:
    preds: list[list[int]] = [[] for _ in prog.instrs]
    for ins in prog.instrs:
        for s in _successors(prog, ins):
            preds[s].append(ins.pc)
    return preds


def _neighbour_events(prog: Program, pc: int, forward: bool, preds=None) -> list[Instr]:
    """The shared-memory events next to ``pc`` in program order, across local code and other barriers."""
    found: dict[int, Instr] = {}
    seen = {pc}
    todo = list(_successors(prog, prog.instrs[pc]) if forward else preds[pc])
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        ins = prog.instrs[p]
        if ins.is_event and ins.op not in ("fence", "choose"):  # neither touches shared memory
            if ins.op != "halt":
                found[p] = ins
            continue
        todo.extend(_successors(prog, ins) if forward else preds[p])
    return [found[p] for p in sorted(found)]


def _access(ins: Instr) -> str:
    what = {"load": "load", "store": "store", "rmw": "RMW", "acquire": "lock", "release": "unlock"}[ins.op]
    return f"{what} {ins.loc.region.name}"


def _orders(prog: Program, pc: int, preds) -> str:
    ins = prog.instrs[pc]
    if isinstance(ins, Store):  # a store that is a full barrier orders itself before what follows
        before = [_access(ins)]
    else:
        before = sorted({_access(i) for i in _neighbour_events(prog, pc, False, preds)})
    after = sorted({_access(i) for i in _neighbour_events(prog, pc, True, preds)})
    return f"{' / '.join(before) or 'start'} -> {' / '.join(after) or 'end'}"


def documentation_reason(site: Site) -> str | None:
    """The "documentation only:" reason in the comment block right above ``site``, if any."""
    path = site.file if os.path.isabs(site.file) else os.path.join(_ROOT, site.file)
    lines: list[str] = []
    n = site.line - 1
    while n >= 1:
        text = linecache.getline(path, n).strip()
        if not text.startswith("#"):
            break
        lines.insert(0, text)
        n -= 1
    for k, text in enumerate(lines):
        m = DOC_MARK.search(text)
        if m:
            rest = [m.group(1)] + [t.lstrip("#").strip() for t in lines[k + 1:]]
            return " ".join(r for r in rest if r)
    return None


def _is_ordering_rmw(ins: Instr) -> bool:
    """An atomic of the program (not a system call the model treats as one): every profile orders it."""
    return isinstance(ins, Rmw) and not isinstance(ins, ProcessRmw)


def _rmw_orders(prog: Program, pc: int, preds) -> str:
    ins = prog.instrs[pc]
    before = sorted({_access(i) for i in _neighbour_events(prog, pc, False, preds)})
    after = sorted({_access(i) for i in _neighbour_events(prog, pc, True, preds)})
    return f"{' / '.join(before) or 'start'} -> {_access(ins)} -> {' / '.join(after) or 'end'}"


def _ordering_sites(system, wanted, orders, rmw: bool) -> list[Barrier]:
    """The instructions ``wanted`` accepts, once per source site, in file and line order."""
    found: dict[Site, Barrier] = {}
    for t in system.threads:
        prog = t.program
        if prog is None:
            continue
        preds = _preds(prog)
        for ins in prog.instrs:
            if not wanted(ins) or _site(ins) in found:
                continue
            site = _site(ins)
            found[site] = Barrier(site, ins.prim, t.role, ins.src.text, orders(prog, ins.pc, preds),
                                  documentation_reason(site), rmw=rmw)
    return [found[s] for s in sorted(found)]


def rmw_orderings(system) -> list[Barrier]:
    """Every atomic RMW site of the system's programs, as the ordering it implies, in file and line order."""
    return _ordering_sites(system, _is_ordering_rmw, _rmw_orders, rmw=True)


def barriers(system) -> list[Barrier]:
    """Every barrier of the system's programs, once per source site, in file and line order."""
    return _ordering_sites(system, _is_barrier, _orders, rmw=False)


def candidates(system) -> list[Site]:
    """Where a barrier could go: before a shared-memory event that follows another one in its thread.

    Events reached only from a lock operation are left out: LWLockAcquire and
    LWLockRelease are full barriers under every profile.
    """
    found: set[Site] = set()
    for t in system.threads:
        prog = t.program
        if prog is None:
            continue
        for ins in prog.instrs:
            if not ins.is_event or ins.op not in SHARED_OPS:
                continue
            for nxt in _neighbour_events(prog, ins.pc, True):
                if nxt.op in SHARED_OPS:
                    found.add(_site(nxt))
    return sorted(found)


def _check_sites(system, edit: FenceEdit) -> None:
    present = {b.site: b for b in barriers(system)}
    for s in edit.remove:
        if s not in present:
            raise ModelError(f"no barrier at {s} in this model")
    for s, prim in edit.replace:
        if s not in present or present[s].kind not in FENCE_PRIMS:
            raise ModelError(f"no pg_*_barrier() at {s} in this model")
    if edit.relax:
        atomics = {b.site for b in rmw_orderings(system)}
        for s in edit.relax:
            if s not in atomics:
                raise ModelError(f"no atomic read-modify-write at {s} in this model")
    if edit.insert:
        events = {_site(i) for t in system.threads if t.program for i in t.program.instrs
                  if i.is_event and i.op in SHARED_OPS}
        for s, _ in edit.insert:
            if s not in events:
                raise ModelError(f"no shared-memory event at {s} to put a barrier before")


def _edited(prog: Program, edit: FenceEdit) -> Program:
    removed = set(edit.remove)
    replaced = dict(edit.replace)
    inserted = dict(edit.insert)
    relaxed = set(edit.relax)
    old = prog.instrs
    start_of: list[int] = []  # old pc -> new pc of the first instruction emitted for it
    new: list[Instr] = []
    for ins in old:
        ins = copy.copy(ins)
        site = _site(ins)
        start_of.append(len(new))
        if ins.is_event and ins.op in SHARED_OPS and site in inserted:
            fence = Fence(inserted[site])
            fence.src = ins.src
            new.append(fence)
        if _is_barrier(ins) and site in removed:
            if isinstance(ins, Fence):
                jump = RemovedBarrier(ins.pc + 1, ins.prim)  # retargeted below
                jump.src = ins.src
                ins = jump
            else:
                ins.prim = "pg_atomic_write_u32"
        elif isinstance(ins, Fence) and site in replaced:
            ins.prim = replaced[site]
        elif _is_ordering_rmw(ins) and site in relaxed:
            ins.__class__ = RelaxedRmw  # same slots: only the class attribute "relaxed" differs
        new.append(ins)
    for pc, ins in enumerate(new):
        ins.pc = pc
        if isinstance(ins, Jump) or ins.op == "branch":
            ins.target = start_of[ins.target]
    edited = dataclasses.replace(prog, instrs=new, dead_at=[], in_op=[], op_name=[], op_start=[])
    _analyse(edited)
    return edited


def apply_edit(system, edit: FenceEdit | None):
    """A copy of ``system`` whose programs have the edit applied (ModelError for a site it does not have)."""
    if not edit:
        return system
    _check_sites(system, edit)
    threads = [t if t.program is None else dataclasses.replace(t, program=_edited(t.program, edit))
               for t in system.threads]
    return dataclasses.replace(system, threads=threads)
