"""The registry of protocols: the shipped ones in ``models/`` and model files named by path."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from pathlib import Path

from checker.ir import ModelError
from checker.model.interface import Protocol


def load_protocols() -> dict[str, type[Protocol]]:
    import models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"models.{info.name}")
    # The shipped protocols only: a Protocol subclass defined anywhere else (a
    # model file loaded by path, a test's model) registers itself too, but is
    # reached by its path, never listed as shipped.
    return {name: cls for name, cls in sorted(Protocol.registry.items())
            if cls.__module__ == "models" or cls.__module__.startswith("models.")}


def resolve_protocol(name_or_path: str) -> type[Protocol]:
    """A registered protocol name, or a path to a model file defining one."""
    if name_or_path.endswith(".py") or "/" in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ModelError(f"no model file {name_or_path}")
        if path.suffix != ".py":
            raise ModelError(f"{name_or_path} is not a model file (a .py file defining a Protocol)")
        load_protocols()
        before = dict(Protocol.registry)
        spec = importlib.util.spec_from_file_location(f"slotcheck_user_{path.stem}", path)
        if spec is None or spec.loader is None:
            raise ModelError(f"{name_or_path}: Python cannot load it as a module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except SyntaxError as exc:
            Protocol.registry.update(before)
            raise ModelError(f"{path}:{exc.lineno}: syntax error: {exc.msg}") from None
        except ModelError:
            Protocol.registry.update(before)
            raise
        except (Exception, SystemExit) as exc:
            # SystemExit too: a model that exits at import must not end the
            # run with its own exit code (0 would read as "holds").
            Protocol.registry.update(before)
            raise ModelError(f"{model_line(exc, path)}: loading the model failed: {exception_text(exc)}") from None
        # A model file (a scratch copy of a built-in, say) is used where it
        # is named, but never replaces a registered protocol of the same name.
        Protocol.registry.update(before)
        new = [n for n in Protocol.registry if n not in before]
        found = [c for c in vars(module).values()
                 if isinstance(c, type) and issubclass(c, Protocol) and c is not Protocol and c.name]
        if not found:
            raise ModelError(f"{path} defines no Protocol subclass with a name")
        cls = found[-1] if not new else Protocol.registry[new[-1]]
        cls.model_file = str(path.resolve())
        return cls
    protocols = load_protocols()
    if name_or_path in protocols:
        return protocols[name_or_path]
    # A protocol this process already loaded from a model file (a trace or a
    # proof witness names it) is found by name too, though never listed.
    if name_or_path in Protocol.registry:
        return Protocol.registry[name_or_path]
    raise ModelError(f"unknown protocol {name_or_path!r} (known: {', '.join(protocols)})")


def exception_text(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return f"it calls exit ({exc.code!r}) at import"
    if isinstance(exc, ModuleNotFoundError):
        return f"no module named {exc.name!r}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def model_line(exc: BaseException, path: Path | str | None = None) -> str:
    """file:line of the innermost frame of ``exc`` in ``path`` (else in a model file).

    A model's own code is what its author can fix, so that is the line to show,
    not the line inside Python's import machinery.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    want = str(Path(path).resolve()) if path is not None else None
    import sysconfig

    # The checker's own frames, the standard library's and installed
    # packages' are not where a model's author looks.
    foreign = tuple(str(Path(d).resolve()) + os.sep for d in
                    (Path(__file__).resolve().parent.parent, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]))
    best = None
    for f in frames:
        if f.filename.startswith("<"):
            continue
        fname = str(Path(f.filename).resolve())
        if want is not None and fname == want:
            best = f
        elif want is None and not fname.startswith(foreign):
            best = f
    if best is None:
        return str(path) if path is not None else "model"
    from checker.ir import _display_path

    return f"{_display_path(best.filename)}:{best.lineno}"
