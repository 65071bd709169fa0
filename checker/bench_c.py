"""The harness of ``checker bench-c``: what each design costs in real code.

Every protocol's C twin (native build, optimised, no assertions), today's
linear search (the bgworker twin) and two Concurrency Kit references run the
benchmark in refimpl/c/bench.c: a backend obtains a slot, the postmaster
picks it up and releases it, with the pool kept nearly full.  Each design
runs single-threaded (one thread does all three in turn: the cost of a cycle
with nothing contended) and with 1..N backend threads against one postmaster
thread (throughput, and the postmaster's release and pick-up latencies).

The C harness counts (obtained, picked up, released, a slot picked up or
released twice, the slots obtainable at the end) and this module checks the
counts again: a run whose counts do not balance is a failure (exit 1), not a
figure.  Timings are measurements, never verdicts.  ``checker/bench_c_cmd.py``
holds the command's options and prints.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_SLOTS = (8, 64, 1024)
DEFAULT_THREADS = (1, 2, 4)
MAX_BACKENDS = 256
LINEAR = "bgworker"  # the design PostgreSQL ships: the baseline the others are measured against
PLOT_EXTRA = "plot"


@dataclass
class BenchRow:
    design: str
    kind: str
    slots: int
    backends: int  # 0: single-threaded
    status: str  # "ok", "FAILED", "not supported: max N slots", "skipped: ..."
    seconds: float = 0.0
    cycles: int = 0
    ns_per_cycle: float | None = None  # wall-clock ns per completed obtain + pick-up + release
    cycles_per_s: float | None = None
    held: int = 0
    obtained: int = 0
    started: int = 0
    released: int = 0
    empty: int = 0
    twice: int = 0
    free_at_end: int = 0
    timer_ns: float | None = None
    release_ns: dict[str, int] | None = None  # p50, p99, max
    start_ns: dict[str, int] | None = None
    failure: str = ""

    @property
    def measured(self) -> bool:
        return self.status in ("ok", "FAILED")

    @property
    def mode(self) -> str:
        return "single" if self.backends == 0 else f"{self.backends} + pm"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["single_threaded"] = self.backends == 0
        return d


@dataclass
class BenchReport:
    rows: list[BenchRow] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    machine: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(r.status == "FAILED" for r in self.rows)


def balance_problem(row: BenchRow) -> str | None:
    """The Python side's own check of the C harness's counters; None if they balance."""
    if row.twice:
        return f"{row.twice} slot(s) picked up or released twice"
    if not (row.obtained == row.started == row.released):
        return f"counters do not balance: {row.obtained} obtained, {row.started} picked up, {row.released} released"
    if row.free_at_end != row.slots:
        return f"only {row.free_at_end} of {row.slots} slots could be obtained after the run"
    if row.cycles > row.released:
        return f"{row.cycles} cycles counted but only {row.released} releases"
    return None


def measure(design: str, slots: int, backends: int, seconds: float, mutation: str | None = None) -> BenchRow:
    from refimpl.build import bench_designs, load_bench

    spec = bench_designs()[design]
    module = load_bench(design, mutation)
    res = module.ffi.new("SlotBenchResult *")
    rc = module.lib.slot_bench(slots, backends, seconds, res)
    failure = module.ffi.string(res.failure).decode(errors="replace")
    row = BenchRow(design, spec.kind, slots, backends, "ok")
    if rc == 2 or not res.supported:
        row.status = failure or f"not supported: max {res.max_slots} slots"
        return row
    if rc < 0:
        raise BenchRunError(f"{design}: {failure}")
    row.seconds = res.elapsed
    row.cycles = res.cycles
    row.held = res.held
    row.obtained, row.started, row.released = res.obtained, res.started, res.released
    row.empty, row.twice, row.free_at_end = res.empty, res.twice, res.free_at_end
    row.timer_ns = res.timer_ns
    if res.cycles and res.elapsed > 0:
        row.ns_per_cycle = res.elapsed * 1e9 / res.cycles
        row.cycles_per_s = res.cycles / res.elapsed
    if backends > 0:
        row.release_ns = {"p50": res.release_p50, "p99": res.release_p99, "max": res.release_max}
        row.start_ns = {"p50": res.start_p50, "p99": res.start_p99, "max": res.start_max}
    problem = failure if not res.ok else balance_problem(row)
    if problem:
        row.status, row.failure = "FAILED", problem
    return row


class BenchRunError(Exception):
    """A benchmark run that could not start (bad arguments reached the C side) or failed its checks."""


def machine_info() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"cpus": os.cpu_count(), "cpu_model": model or platform.processor() or "unknown",
            "load_average": load, "system": f"{platform.system()} {platform.release()}"}


def select_designs(names: list[str]) -> tuple[list[str], list[str]]:
    """The designs to run (in the registry's order) and notices about what is left out."""
    from checker.model import load_protocols
    from refimpl.build import PROTOCOLS, bench_designs

    designs = bench_designs()

    def why_not(m: str) -> str:
        return f"no benchmark adapter (refimpl/c/bench_{m}.c)" if m in PROTOCOLS else "no C twin"

    left_out = [m for m in load_protocols() if m not in designs]
    for n in names:
        if n not in designs:
            if n in left_out or n in PROTOCOLS:
                raise BadDesignName(f"protocol {n!r} cannot be benchmarked: {why_not(n)} (designs: {', '.join(designs)})")
            raise BadDesignName(f"unknown design {n!r} (designs: {', '.join(designs)})")
    chosen = [d for d in designs if not names or d in names]
    notices = [] if names else [f"{m}: {why_not(m)}, not measured" for m in left_out]
    return chosen, notices


class BadDesignName(Exception):
    """A design named on the command line that cannot be benchmarked."""


def best_of(design: str, slots: int, backends: int, seconds: float, repeat: int) -> BenchRow:
    """The fastest of ``repeat`` runs (the least disturbed by other load); any failed run is the row."""
    best = None
    for _ in range(repeat):
        row = measure(design, slots, backends, seconds)
        if not row.measured or row.status == "FAILED":
            return row
        if best is None or (row.cycles_per_s or 0) > (best.cycles_per_s or 0):
            best = row
    return best


def run_bench(designs: list[str], slots: list[int], threads: list[int], seconds: float, repeat: int = 1,
              progress=None) -> BenchReport:
    from refimpl.build import bench_designs, ck_missing

    report = BenchReport(machine=machine_info(),
                         settings={"slots": slots, "backends": threads, "seconds": seconds, "repeat": repeat,
                                   "pool": "nearly full: all but max(1, backends) slots stay in use"})
    specs = bench_designs()
    for design in designs:
        if specs[design].needs_ck and (why := ck_missing()):
            report.notices.append(f"{design}: skipped, Concurrency Kit is missing ({why}); "
                                  f"install libck-dev")
            continue
        for n in slots:
            for backends in (0, *threads):
                if progress:
                    progress(f"{design}: {n} slots, "
                             + ("single thread" if backends == 0 else f"{backends} backends"))
                report.rows.append(best_of(design, n, backends, seconds, repeat))
    report.machine["load_average_after"] = machine_info()["load_average"]
    return report


def versus_linear(rows: list[BenchRow]) -> list[dict]:
    """For every design and setting also measured for the linear search: how many times faster it is."""
    linear = {(r.slots, r.backends): r for r in rows if r.design == LINEAR and r.ns_per_cycle}
    out = []
    for r in rows:
        base = linear.get((r.slots, r.backends))
        if r.design == LINEAR or base is None or not r.ns_per_cycle or r.status != "ok":
            continue
        out.append({"design": r.design, "slots": r.slots, "backends": r.backends,
                    "ns_per_cycle": round(r.ns_per_cycle, 1), "linear_ns_per_cycle": round(base.ns_per_cycle, 1),
                    "speedup": round(base.ns_per_cycle / r.ns_per_cycle, 2)})
    return out


def c_ns_per_cycle(protocol: str, slots: int, seconds: float = 0.3) -> float | None:
    """Single-threaded C ns per obtain + release of a protocol's twin (``checker compare --with-c``).

    None if the protocol has no C twin or the twin does not handle that many
    slots; a RefimplError if it cannot be built; a failed run raises too.
    """
    from refimpl.build import bench_designs

    if protocol not in bench_designs():
        return None
    row = measure(protocol, slots, 0, seconds)
    if row.status == "FAILED":
        raise BenchRunError(f"{protocol}: C benchmark at {slots} slots failed: {row.failure}")
    return row.ns_per_cycle if row.status == "ok" else None


# ---------------------------------------------------------------------------
# output


def _ns(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _lat(d: dict | None) -> str:
    return "-" if d is None else f"{d['p50']:,} / {d['p99']:,} / {d['max']:,}"


def table_rows(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    header = ["design", "slots", "backends", "ns/cycle", "cycles/s", "release ns p50/p99/max",
              "pick-up ns p50/p99/max", "counters", "note"]
    body = []
    for r in report.rows:
        if not r.measured:
            body.append([r.design, str(r.slots), r.mode, "-", "-", "-", "-", "-", r.status])
            continue
        counters = "balance" if r.status == "ok" else "FAILED"
        note = r.failure if r.status == "FAILED" else f"{r.held} of {r.slots} held"
        body.append([r.design, str(r.slots), r.mode, _ns(r.ns_per_cycle), _ns(r.cycles_per_s), _lat(r.release_ns),
                     _lat(r.start_ns), counters, note])
    return header, body


def machine_line(report: BenchReport) -> str:
    m = report.machine
    load = ", ".join(str(x) for x in m.get("load_average", []))
    after = ", ".join(str(x) for x in m.get("load_average_after", []))
    return (f"{m.get('cpus')} CPUs ({m.get('cpu_model')}), {m.get('system')}; load average {load} before, "
            f"{after} after; {report.settings.get('seconds')}s per run"
            + (f", best of {report.settings['repeat']}" if report.settings.get("repeat", 1) > 1 else ""))


def versus_lines(report: BenchReport) -> list[str]:
    top = max((r.slots for r in report.rows if r.design == LINEAR and r.ns_per_cycle), default=None)
    lines = []
    for v in versus_linear(report.rows):
        if v["slots"] != top:
            continue
        mode = ("single thread" if v["backends"] == 0
                else f"{v['backends']} backend{'s' if v['backends'] > 1 else ''} + postmaster")
        lines.append(f"{v['design']} at {top} slots, {mode}: {v['ns_per_cycle']:,} ns per cycle against the "
                     f"linear search's {v['linear_ns_per_cycle']:,}: {times_faster(v)}")
    return lines


def times_faster(v: dict) -> str:
    """"12.3x faster" or "1.8x slower", for one entry of ``versus_linear``.

    From the ns figures, not the rounded speedup: a design 200 times slower
    has a rounded speedup of 0."""
    speedup = v["linear_ns_per_cycle"] / v["ns_per_cycle"]
    return f"{speedup:.1f}x faster" if speedup >= 1 else f"{1 / speedup:.1f}x slower"


def import_pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(report: BenchReport, path: Path) -> None:
    """Throughput against backends (one panel per slot count) and cost against slot count, a line per design."""
    plt = import_pyplot()
    rows = [r for r in report.rows if r.status == "ok" and r.ns_per_cycle]
    designs = list(dict.fromkeys(r.design for r in rows))
    slot_counts = sorted({r.slots for r in rows})
    fig, axes = plt.subplots(2, max(1, len(slot_counts)), figsize=(4.2 * max(2, len(slot_counts)), 8),
                             squeeze=False)
    styles = {d: ("--" if d == LINEAR else (":" if d.startswith("ck-") else "-")) for d in designs}
    for i, n in enumerate(slot_counts):
        ax = axes[0][i]
        for d in designs:
            pts = sorted((r.backends, r.cycles_per_s) for r in rows if r.design == d and r.slots == n)
            if pts:
                ax.plot([b for b, _ in pts], [c for _, c in pts], styles[d], marker="o", label=d)
        ax.set_title(f"{n} slots: throughput")
        ax.set_xlabel("backend threads (0: one thread does everything)")
        ax.set_ylabel("obtain + release cycles / s")
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=8)
    for ax in axes[1][3:]:
        ax.axis("off")
    # p50: the code's cost; the p99 and max of a shared machine mostly show preemption (they are in the table)
    for ax, what, key in ((axes[1][0], "release", "release_ns"),
                          (axes[1][2] if len(axes[1]) > 2 else None, "pick-up", "start_ns")):
        if ax is None:
            continue
        for d in designs:
            pts = sorted((r.slots, getattr(r, key)["p50"]) for r in rows
                         if r.design == d and r.backends == 1 and getattr(r, key))
            if pts:
                ax.plot([s for s, _ in pts], [v for _, v in pts], styles[d], marker="o", label=d)
        ax.set_title(f"postmaster's {what}, median (1 backend)")
        ax.set_xlabel("slots")
        ax.set_ylabel("ns (clock reading included)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    if len(axes[1]) > 1:
        ax = axes[1][1]
        for d in designs:
            pts = sorted((r.slots, r.ns_per_cycle) for r in rows if r.design == d and r.backends == 0)
            if pts:
                ax.plot([s for s, _ in pts], [v for _, v in pts], styles[d], marker="o", label=d)
        ax.set_title("single thread: ns per obtain + release")
        ax.set_xlabel("slots")
        ax.set_ylabel("ns")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
    fig.suptitle("checker bench-c: " + machine_line(report), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
