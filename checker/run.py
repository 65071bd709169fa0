"""The small public API: build an engine for a protocol and explore it.

    from checker.run import check
    engine, result = check("ring", threads=3, memory_model="sc")
    result.violations   # {} when every property holds

Commands (explore, compare, ci) and tests all go through here.
"""

from __future__ import annotations

from checker.explore import Engine, Options, Result, explore
from checker.memory import DEFAULT_MEMORY_MODEL, PROFILES, memory_models
from checker.model import ModelError, Params, System, build_system, resolve_protocol

__all__ = ["DEFAULT_MEMORY_MODEL", "check", "engine_for_system", "make_engine"]


def make_engine(protocol: str, params: Params, mutation: str | None = None,
                memory_model: str = DEFAULT_MEMORY_MODEL, profile: str = "documented", engine: str = "compiled",
                fence_edit=None, **mm_options) -> Engine:
    """``engine``: "compiled" (generated successors, sc and tso; the weak model
    is always interpreted), "interpreted" (the reference) or "c" (the whole
    sc or tso search in generated C, checker.engine_c; anything else is refused).  ``fence_edit``
    (a ``checker.fences.FenceEdit``) removes, weakens or inserts barriers in
    the compiled programs (``checker fences``)."""
    _known_model(memory_model, profile)  # before the build: a misspelt name is refused at once
    return engine_for_system(build_system(resolve_protocol(protocol), params, mutation), memory_model, profile,
                             engine, fence_edit, **mm_options)


def _known_model(memory_model: str, profile: str):
    """The memory model's class; ModelError naming the known ones for an unknown model or profile."""
    models = memory_models()
    if memory_model not in models:
        raise ModelError(f"unknown memory model {memory_model!r} (known: {', '.join(models)})")
    if profile not in PROFILES:
        raise ModelError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    return models[memory_model]


def engine_for_system(system: System, memory_model: str = DEFAULT_MEMORY_MODEL, profile: str = "documented",
                      engine: str = "compiled", fence_edit=None, **mm_options) -> Engine:
    """make_engine for a system already built: ``checker fences`` builds its protocol once per process and
    checks hundreds of edits of it (apply_edit copies what it changes; the system itself is never changed)."""
    model_class = _known_model(memory_model, profile)
    if fence_edit:
        from checker.fences import apply_edit

        system = apply_edit(system, fence_edit)
    if engine not in ("compiled", "interpreted", "c"):
        raise ModelError(f"unknown engine {engine!r} (known: compiled, interpreted, c)")
    mm = model_class(system, PROFILES[profile], **mm_options)
    if engine == "c":
        from checker.engine_c import CEngine

        built: Engine = CEngine(system, mm)
    elif engine == "compiled":
        from checker.compile_sc import COMPILED_MODELS, CompiledEngine

        built = CompiledEngine(system, mm) if memory_model in COMPILED_MODELS else Engine(system, mm)
    else:
        built = Engine(system, mm)
    # Written into traces, so that a trace can be re-checked under the same model.
    built.mm_options = dict(mm_options)
    built.fence_edit = fence_edit or None
    return built


def check(protocol: str, *, mutation: str | None = None, memory_model: str = DEFAULT_MEMORY_MODEL,
          profile: str = "documented", options: Options | None = None, mm_options: dict | None = None,
          engine: str = "compiled", **params) -> tuple[Engine, Result]:
    extra = params.pop("extra", {})
    p = Params(**params, extra=dict(extra))
    eng = make_engine(protocol, p, mutation, memory_model, profile, engine, **(mm_options or {}))
    result = explore(eng, options, memory_model, profile)
    return eng, result
