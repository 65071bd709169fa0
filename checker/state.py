"""The types the engine and the memory models pass each other (see ``checker.memory.base`` for the layout).

A state is ``(memory, threads, pending, ghost)``: shared words, one tuple
per thread (pc, step counter, locals), each thread's memory-model state (a
store buffer, a window, or None), and the ghost cells.  A successor is
``(label, next state or None, violation or None)``; the label is
``(tid, action, pc, info)``.  Aliases only: every value is a plain tuple,
hashed and compared as the search stores it.
"""

from __future__ import annotations

from typing import Any

Memory = tuple[int, ...]
ThreadState = tuple[int, ...]  # a program's (pc, steps, *locals); the rogue's (writes left,)
State = tuple[Memory, tuple[ThreadState, ...], tuple[Any, ...], tuple[int, ...]]
Label = tuple[int, str, "int | None", Any]
ViolationPair = tuple[str, str]  # (property, message)
Successor = tuple[Label, "State | None", "ViolationPair | None"]
