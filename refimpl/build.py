"""Build the C reference implementation with cffi (API mode), on first use.

Three kinds of build, each for one protocol and one mutation (or none):

* ``trace``  — the protocol and the model's workload against the trace
  backend of ``c/pg_shim.h``: every shared-memory event calls the Python hook
  that ``checker.replay`` installs;
* ``native`` — the protocol against C11 atomics and real LWLocks, with the
  multi-threaded stress test (``c/stress_*.c``);
* ``tsan``   — the native stress test as a plain executable built with
  ``-fsanitize=thread`` (ThreadSanitizer must own the process, so it is not
  loaded into Python);
* ``bench``  — a design against C11 atomics with the benchmark
  (``c/bench.c``, ``c/bench_<design>.c``), optimised and without assertions
  as a production server would be built: the C twins, and Concurrency Kit
  references that need libck's headers (``load_bench``).

Builds go to a cache directory (``$SLOTCHECK_CACHE``, else
``~/.cache/slotcheck/refimpl``) under a name that hashes the C sources, the
flags, the compiler and the Python ABI, so an edited source is rebuilt and an
unchanged one is loaded at once.  Concurrent processes building the same
thing wait for each other on a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

C_DIR = Path(__file__).resolve().parent / "c"

# Flags shared by every build.  gnu11: C11 plus the POSIX declarations
# (clock_gettime, nanosleep) the stress test needs.
COMMON_FLAGS = ["-std=gnu11", "-g", "-Wall", "-Wno-type-limits", "-Werror=implicit-function-declaration"]


class RefimplError(Exception):
    """The C implementation cannot be built or does not cover a request (one line)."""


@dataclass(frozen=True)
class CProtocol:
    name: str
    sources: tuple[str, ...]  # the protocol itself (what PostgreSQL would take)
    workload: str  # the model's workload, for replay (trace build)
    stress: str | None  # the protocol's adapter for the native stress test (stress.c)
    prefix: str  # C symbol prefix of the replay and stress entry points
    extra_param: str | None = None  # a protocol parameter the workload needs (passed as "extra")
    # Or several small ones, packed a byte each (the first in bits 0-7).
    extra_pack: tuple[str, ...] = ()
    # Where the protocol's own files are, for a model file's C twin (None:
    # refimpl/c).  The harness files always come from refimpl/c.
    directory: Path | None = None
    # Mutations of a shared source (slot_startqueue.c) that this design's
    # model declares; the shared file's other macros are not this design's.
    shared_mutations: tuple[str, ...] = ()

    def path(self, filename: str) -> Path:
        if self.directory is not None and (self.directory / filename).is_file():
            return self.directory / filename
        return C_DIR / filename

    def include_dirs(self) -> list[str]:
        return [str(C_DIR)] + ([str(self.directory)] if self.directory is not None else [])

    def extra_value(self, params: dict) -> int:
        """The workload's ``extra`` argument from a trace's params (ValueError if unusable)."""
        if self.extra_pack:
            value = 0
            for i, key in enumerate(self.extra_pack):
                v = params.get(key, 0)
                if not isinstance(v, int) or not 0 <= v <= 0xFF:
                    raise ValueError(f"params {key!r} is not a value from 0 to 255")
                value |= v << (8 * i)
            return value
        v = params.get(self.extra_param, 0) if self.extra_param else 0
        if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
            raise ValueError(f"params {self.extra_param!r} is not a 32-bit value")
        return v


PROTOCOLS: dict[str, CProtocol] = {
    "ring": CProtocol("ring", ("slot_ring.c", "slot_startqueue.c"), "slot_ring_workload.c", "stress_ring.c", "ring",
                      shared_mutations=("no-lock", "no-range-check", "start-no-write-barrier",
                                        "start-no-read-barrier")),
    "caslist": CProtocol("caslist", ("slot_caslist.c", "slot_startqueue.c"), "slot_caslist_workload.c",
                         "stress_caslist.c", "caslist", "cas_retries"),
    "bitmap": CProtocol("bitmap", ("slot_bitmap.c", "slot_startqueue.c"), "slot_bitmap_workload.c",
                        "stress_bitmap.c", "bitmap"),
    "bgworker": CProtocol("bgworker", ("slot_bgworker.c",), "slot_bgworker_workload.c", None, "bgworker"),
    "changequeue": CProtocol("changequeue", ("slot_changequeue.c", "slot_changequeue_common.c"),
                             "slot_changequeue_workload.c", None, "changequeue", "asserts",
                             shared_mutations=("enqueue-no-write-barrier", "terminate-no-generation-check")),
    "changequeue-fixed": CProtocol("changequeue-fixed", ("slot_changequeue_fixed.c", "slot_changequeue_common.c"),
                                   "slot_changequeue_fixed_workload.c", None, "changequeue_fixed",
                                   shared_mutations=("enqueue-no-write-barrier",)),
    "dsmhandle": CProtocol("dsmhandle", ("slot_dsmhandle.c",), "slot_dsmhandle_workload.c", None, "dsmhandle",
                           extra_pack=("gen_bits", "linear")),
}


def protocol(name: str) -> CProtocol:
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    # A model loaded from a file may carry its C twin beside it.
    from checker.model import Protocol

    cls = Protocol.registry.get(name)
    twin = getattr(cls, "c_twin", None)
    if twin is not None and cls.model_file:
        directory = Path(cls.model_file).parent
        for filename in (*twin.sources, twin.workload):
            if not (directory / filename).is_file():
                raise RefimplError(f"{name}'s C twin names {filename}, which is not in {directory}")
        return CProtocol(name, tuple(twin.sources), twin.workload, None, twin.prefix, twin.extra_param,
                         directory=directory)
    have = ", ".join(PROTOCOLS)
    raise RefimplError(f"no C implementation of protocol {name!r} (C exists for: {have}, "
                       f"and for a model file whose Protocol sets c_twin)")


def mutation_macro(mutation: str) -> str:
    """The -D name of a model mutation: no-lock -> SLOT_MUTATION_NO_LOCK."""
    return "SLOT_MUTATION_" + mutation.upper().replace("-", "_")


# Sources several designs build; their mutation macros belong to the designs
# that name them in CProtocol.shared_mutations.
SHARED_SOURCES = frozenset({"slot_startqueue.c", "slot_changequeue_common.c"})


def c_mutations(name: str) -> set[str]:
    """Mutation names the C sources of a protocol implement (model spelling)."""
    spec = protocol(name)
    found = set()
    for src in spec.sources:
        macros = {m.lower().replace("_", "-")
                  for m in re.findall(r"\bSLOT_MUTATION_([A-Z0-9_]+)", spec.path(src).read_text())}
        found |= macros & set(spec.shared_mutations) if src in SHARED_SOURCES else macros
    return found


def _selected(mutation: str | None) -> list[str]:
    """The variants of a mutation value: ``"a,b"`` builds with both macros."""
    return [m.strip() for m in mutation.split(",")] if mutation else []


def _check_mutation(name: str, mutation: str | None) -> None:
    selected = _selected(mutation)
    if mutation is not None and (not all(selected) or len(set(selected)) != len(selected)):
        raise RefimplError(f"C mutation {mutation!r}: write distinct names as a,b")
    for m in selected:
        if m not in c_mutations(name):
            raise RefimplError(f"the C implementation of {name} has no mutation {m!r} "
                               f"(it has: {', '.join(sorted(c_mutations(name))) or 'none'})")


def _module_tag(mutation: str | None) -> str:
    """A Python identifier fragment for a build's mutations (a,b -> a__b)."""
    return "__".join(_selected(mutation)).replace("-", "_") or "correct"


# ---------------------------------------------------------------------------
# The compiler


def compiler() -> list[str]:
    """The C compiler cffi will use, as argv; a one-line RefimplError if there is none."""
    from_env = os.environ.get("CC")
    cc = from_env or sysconfig.get_config_var("CC") or "cc"
    argv = shlex.split(cc)
    if not argv or shutil.which(argv[0]) is None:
        where = "$CC" if from_env else "Python's build configuration"
        raise RefimplError(f"no C compiler found: {argv[0] if argv else cc!r} (from {where}) is not installed "
                           f"or not on PATH; install gcc or clang, or point CC at one")
    return argv


def cache_dir() -> Path:
    base = os.environ.get("SLOTCHECK_CACHE")
    path = Path(base) if base else Path.home() / ".cache" / "slotcheck" / "refimpl"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RefimplError(f"cannot create the C build cache {path}: {exc.strerror}; "
                           f"point SLOTCHECK_CACHE at a writable directory") from None
    if not os.access(path, os.W_OK):
        raise RefimplError(f"the C build cache {path} is not writable; "
                           f"point SLOTCHECK_CACHE at a writable directory")
    return path


def _sources_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(C_DIR.glob("*.[ch]")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _key(*parts) -> str:
    import cffi

    h = hashlib.sha256()
    for part in (_sources_digest(), cffi.__version__, sys.version, sysconfig.get_config_var("EXT_SUFFIX"),
                 *parts):
        h.update(repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line.lower():
            return line.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


# ---------------------------------------------------------------------------
# cffi modules

_TRACE_HOOK_CDEF = """
typedef struct SlotRegion { const char *name; size_t offset; uint32_t length; } SlotRegion;
extern "Python+C" int slot_trace_hook(int event, int prim, const void *addr, uint32_t arg0, uint32_t arg1,
                                      const char *file, int line, uint32_t *result);
"""
# The entry points each protocol's workload file exports (also declared in
# the module's C preamble, so the generated code calls them with prototypes).
_TRACE_ENTRY_CDEF = """
size_t {p}_shmem_size(uint32_t nslots);
void {p}_shmem_init(void *shm, uint32_t nslots);
int {p}_regions(void *shm, uint32_t nslots, SlotRegion *out, int max);
int {p}_replay_thread(void *shm, uint32_t nslots, int role, uint32_t me, uint32_t ops, uint32_t total,
                      uint32_t extra);
"""

_NATIVE_CDEF = """
typedef struct SlotStressResult {
    int ok; double elapsed; uint64_t registrations; uint64_t empty; uint64_t starts; uint64_t reaps;
    char failure[256];
} SlotStressResult;
int slot_stress(uint32_t nslots, int backends, double seconds, SlotStressResult *out);
"""

_loaded: dict[tuple, object] = {}


def load(name: str, backend: str = "trace", mutation: str | None = None):
    """The compiled cffi module (with ``.ffi`` and ``.lib``) for a protocol, backend and mutation."""
    spec = protocol(name)
    _check_mutation(name, mutation)
    if backend not in ("trace", "native"):
        raise ValueError(backend)
    memo = (name, backend, mutation)
    if memo in _loaded:
        return _loaded[memo]
    cc = compiler()
    defines = [("SLOT_TRACE", "1")] if backend == "trace" else []
    defines += [(mutation_macro(m), "1") for m in _selected(mutation)]
    flags = list(COMMON_FLAGS)
    if backend == "trace":
        sources = [*spec.sources, spec.workload, "slot_trace.c"]
        entry = _TRACE_ENTRY_CDEF.replace("{p}", spec.prefix)
        cdef = _TRACE_HOOK_CDEF + entry
        preamble = '#include "slot_replay.h"\n' + entry
        flags.append("-O1")
    else:
        if spec.stress is None:
            raise RefimplError(f"no native stress test for {name}")
        sources = [*spec.sources, "stress.c", spec.stress]
        cdef = _NATIVE_CDEF
        preamble = '#include "stress.h"\n'
        flags += ["-O2", "-pthread"]
        if mutation:
            # A mutated build is meant to misbehave: report it, do not abort.
            defines.append(("NDEBUG", "1"))
    key = _key(name, backend, mutation, cdef, flags, defines, cc, _twin_digest(spec))
    modname = f"_slotc_{name.replace('-', '_')}_{backend}_{_module_tag(mutation)}_{key}"
    out_dir = cache_dir()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = out_dir / f"{modname}{suffix}"
    with _locked(out_dir / f".{modname}.lock"):
        if not target.exists():
            _compile(modname, cdef, preamble, [spec.path(s) for s in sources], defines, flags, target,
                     spec.include_dirs())
    module = _import(modname, target)
    _loaded[memo] = module
    if backend == "trace":
        _install_hook(module)
    return module


def _twin_digest(spec: CProtocol) -> str:
    """A model file's C twin is outside refimpl/c: its files go into the build key too."""
    if spec.directory is None:
        return ""
    h = hashlib.sha256()
    for p in sorted(spec.directory.glob("*.[ch]")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _compile(modname, cdef, preamble, sources, defines, flags, target: Path, include_dirs=None) -> None:
    """Build one cffi module; ``sources`` are names in refimpl/c or paths."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdef)
    ffi.set_source(modname, preamble,
                   sources=[str(C_DIR / s) for s in sources], include_dirs=include_dirs or [str(C_DIR)],
                   define_macros=defines, extra_compile_args=flags,
                   extra_link_args=["-pthread"] if "-pthread" in flags else [])
    with tempfile.TemporaryDirectory(prefix="build-", dir=target.parent) as tmp:
        log = Path(tmp) / "compiler.log"
        try:
            # The compiler writes to the process's stderr; keep it for the
            # error message instead of spraying it over the user's terminal.
            with _redirect_fds(log):
                built = ffi.compile(tmpdir=tmp, verbose=False)
        except Exception as exc:  # cffi.VerificationError, distutils/setuptools CompileError, OSError
            detail = log.read_text(errors="replace") if log.exists() else ""
            raise RefimplError(f"building the C reference implementation failed: "
                               f"{_first_error(detail or str(exc))}") from None
        # Same filesystem (the temporary directory is inside the cache): the
        # rename makes the module appear whole or not at all.
        os.replace(built, target)


@contextlib.contextmanager
def _redirect_fds(path: Path):
    """Send fds 1 and 2 to ``path`` for the duration (the compiler is a child process)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "wb") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def _import(modname: str, path: Path):
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# The trace hook: one Python function per loaded trace module, forwarding to
# whichever replay is running (replays run one at a time).

_current_hook = None


def set_hook(fn) -> None:
    """Install ``fn(event, prim, addr, arg0, arg1, file, line) -> (stop, result)``, or None."""
    global _current_hook
    _current_hook = fn


def _install_hook(module) -> None:
    ffi = module.ffi

    @ffi.def_extern(name="slot_trace_hook")
    def _hook(event, prim, addr, arg0, arg1, file, line, result):
        fn = _current_hook
        if fn is None:
            return 1
        try:
            stop, value = fn(event, prim, int(ffi.cast("uintptr_t", addr)), arg0, arg1,
                             ffi.string(file).decode(errors="replace"), line)
        except BaseException as exc:  # never unwind through C frames
            if hasattr(fn, "error"):
                fn.error(exc)
            return 1
        result[0] = value & 0xFFFFFFFF
        return 1 if stop else 0


# ---------------------------------------------------------------------------
# ThreadSanitizer executable


def tsan_executable(name: str, inject_race: bool = False) -> Path:
    """Build (once) the native stress test with -fsanitize=thread as a plain executable.

    ``inject_race`` adds a deliberate data race (SLOT_STRESS_INJECT_RACE), to
    show that the sanitizer run is not blind.
    """
    spec = protocol(name)
    if spec.stress is None:
        raise RefimplError(f"no native stress test for {name}")
    cc = compiler()
    # -Wno-tsan: gcc warns that ThreadSanitizer ignores atomic_thread_fence;
    # every cross-thread access here is atomic or under a mutex, so the
    # fences only matter for ordering, which the model checker covers.
    flags = [*COMMON_FLAGS, "-O1", "-fsanitize=thread", "-pthread", "-Wno-tsan"]
    if inject_race:
        flags.append("-DSLOT_STRESS_INJECT_RACE")
    sources = [*spec.sources, "stress.c", spec.stress, "stress_main.c"]
    key = _key(name, "tsan", flags, sources, cc)
    out_dir = cache_dir()
    target = out_dir / f"slot-stress-{name}-tsan{'-racy' if inject_race else ''}-{key}"
    with _locked(out_dir / f".{target.name}.lock"):
        if not target.exists():
            tmp = target.with_name(target.name + ".tmp")
            argv = [*cc, *flags, "-I", str(C_DIR), *[str(C_DIR / s) for s in sources], "-o", str(tmp)]
            try:
                proc = subprocess.run(argv, capture_output=True, text=True)
            except OSError as exc:
                raise RefimplError(f"cannot run the C compiler {cc[0]}: {exc.strerror}") from None
            if proc.returncode != 0:
                raise RefimplError(f"building the ThreadSanitizer stress test failed: "
                                   f"{_first_error(proc.stderr)}")
            os.replace(tmp, target)
    return target


# ---------------------------------------------------------------------------
# Benchmark builds (checker bench-c)

_BENCH_CDEF = """
typedef struct SlotBenchResult {
    int ok; int supported; uint32_t max_slots; uint32_t held; double elapsed; uint64_t cycles;
    uint64_t obtained; uint64_t started; uint64_t released; uint64_t empty; uint64_t twice;
    uint32_t free_at_end; double timer_ns;
    uint64_t release_samples; uint32_t release_p50; uint32_t release_p99; uint32_t release_max;
    uint64_t start_samples; uint32_t start_p50; uint32_t start_p99; uint32_t start_max;
    char failure[256];
} SlotBenchResult;
int slot_bench(uint32_t nslots, int backends, double seconds, SlotBenchResult *out);
"""

CK_HEADERS = ("ck_ring.h", "ck_bitmap.h")


@dataclass(frozen=True)
class BenchDesign:
    name: str
    sources: tuple[str, ...]  # the design's own C files
    adapter: str  # its BenchOps table (c/bench_<design>.c)
    kind: str  # "C twin", or which baseline it is
    needs_ck: bool = False


def bench_designs() -> dict[str, BenchDesign]:
    """Every design the benchmark can build: the C twins that have an adapter, then the CK references."""
    designs: dict[str, BenchDesign] = {}
    for name, spec in PROTOCOLS.items():
        adapter = f"bench_{name}.c"
        if (C_DIR / adapter).exists():
            kind = "baseline: linear search (PostgreSQL today)" if name == "bgworker" else "C twin"
            designs[name] = BenchDesign(name, spec.sources, adapter, kind)
    for name in ("ck-ring", "ck-bitmap"):
        designs[name] = BenchDesign(name, (), f"bench_{name.replace('-', '_')}.c",
                                    "baseline: Concurrency Kit", needs_ck=True)
    return designs


_ck_status: list[str | None] = []


def ck_missing() -> str | None:
    """Why Concurrency Kit's headers cannot be compiled against (None if they can); asked once."""
    if _ck_status:
        return _ck_status[0]
    cc = compiler()
    test = "".join(f"#include <{h}>\n" for h in CK_HEADERS) + "int main(void) { return 0; }\n"
    try:
        proc = subprocess.run([*cc, "-std=gnu11", "-fsyntax-only", "-x", "c", "-"], input=test,
                              capture_output=True, text=True, check=False)
        reason = None if proc.returncode == 0 else _first_error(proc.stderr)
    except OSError as exc:
        reason = f"cannot run the C compiler {cc[0]}: {exc.strerror}"
    _ck_status.append(reason)
    return reason


def _ck_digest() -> str:
    """Which libck headers a CK build saw (a new libck rebuilds it)."""
    h = hashlib.sha256()
    for name in CK_HEADERS:
        for base in ("/usr/include", "/usr/local/include"):
            p = Path(base) / name
            if p.exists():
                h.update(p.read_bytes())
                break
    return h.hexdigest()


def load_bench(name: str, mutation: str | None = None):
    """The compiled benchmark module (``.ffi``, ``.lib.slot_bench``) of a design, built once and cached.

    ``mutation`` (a C twin's) builds the design with that mistake, to show
    that the benchmark's counters catch a design that loses or doubles slots.
    """
    designs = bench_designs()
    if name not in designs:
        raise RefimplError(f"no benchmark of {name!r} (designs: {', '.join(designs)})")
    design = designs[name]
    if mutation is not None:
        if name not in PROTOCOLS:
            raise RefimplError(f"{name} is not a C twin: it has no mutations")
        _check_mutation(name, mutation)
    memo = ("bench", name, mutation)
    if memo in _loaded:
        return _loaded[memo]
    cc = compiler()
    if design.needs_ck and (why := ck_missing()):
        raise RefimplError(f"Concurrency Kit's headers are missing ({why}); install libck-dev")
    flags = [*COMMON_FLAGS, "-O2", "-pthread"]
    defines = [("NDEBUG", "1")]
    defines += [(mutation_macro(m), "1") for m in _selected(mutation)]
    sources = [*design.sources, "bench.c", design.adapter]
    key = _key(name, "bench", _BENCH_CDEF, flags, defines, sources, cc,
               _ck_digest() if design.needs_ck else None)
    modname = f"_slotc_bench_{name.replace('-', '_')}_{_module_tag(mutation)}_{key}"
    out_dir = cache_dir()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = out_dir / f"{modname}{suffix}"
    with _locked(out_dir / f".{modname}.lock"):
        if not target.exists():
            _compile(modname, _BENCH_CDEF, '#include "bench.h"\n', sources, defines, flags, target)
    module = _import(modname, target)
    _loaded[memo] = module
    return module
