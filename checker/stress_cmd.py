"""``checker stress PROTOCOL``: run the native C build with real threads.

One postmaster thread starts queued workers and reaps running ones; the
backend threads register workers (take a free slot, fill it in, queue it).
The C harness (refimpl/c/stress_<protocol>.c) checks exclusive ownership with
a per-slot owner word changed by compare-exchange at every hand-over, queue
integrity (the postmaster reads back what the registrant wrote), postmaster
safety, and conservation once every thread has stopped.  ``--tsan`` runs the
same test built with ThreadSanitizer, as a separate executable (the sanitizer
must own the process), and fails on any report.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

# Exit status ThreadSanitizer uses when it reported something.
TSAN_EXITCODE = 66


def register(cli) -> None:
    cli.add_command(stress)


def run_native(protocol: str, backends: int, seconds: float, slots: int, mutation: str | None = None) -> dict:
    from refimpl.build import load

    module = load(protocol, "native", mutation)
    ffi, lib = module.ffi, module.lib
    res = ffi.new("SlotStressResult *")
    rc = _interruptible(lambda: lib.slot_stress(slots, backends, seconds, res), seconds)
    return {"rc": rc, "ok": bool(res.ok), "elapsed": res.elapsed, "registrations": res.registrations,
            "empty": res.empty, "starts": res.starts, "reaps": res.reaps,
            "failure": ffi.string(res.failure).decode(errors="replace"), "races": ""}


class Interrupted(Exception):
    """Ctrl-C or SIGTERM before the stress run finished."""

    def __init__(self, after: float) -> None:
        super().__init__(f"stopped after {after:.1f}s")
        self.after = after


def _interruptible(call, seconds: float):
    """Run a C call that holds no Python lock in a helper thread, so Ctrl-C is seen at once.

    The C harness sleeps for the whole run; a signal handler in Python runs
    only when the main thread is back in the interpreter, which a direct
    call would delay to the end.  The helper is a daemon thread: after
    Ctrl-C the process exits without waiting for the C threads, which hold
    nothing outside the process.
    """
    import threading
    import time

    box: dict = {}

    def run():
        try:
            box["rc"] = call()
        except BaseException as exc:  # handed to the main thread
            box["exc"] = exc

    t0 = time.monotonic()
    helper = threading.Thread(target=run, name="stress", daemon=True)
    helper.start()
    try:
        while helper.is_alive():
            helper.join(0.2)
    except KeyboardInterrupt:
        raise Interrupted(time.monotonic() - t0) from None
    if "exc" in box:
        raise box["exc"]
    return box["rc"]


def run_tsan(protocol: str, backends: int, seconds: float, slots: int, inject_race: bool = False) -> dict:
    from refimpl.build import tsan_executable

    exe = tsan_executable(protocol, inject_race)
    env = dict(os.environ, TSAN_OPTIONS=f"halt_on_error=1 exitcode={TSAN_EXITCODE} "
                                        + os.environ.get("TSAN_OPTIONS", ""))
    import time

    t0 = time.monotonic()
    try:
        # subprocess.run kills the child when Ctrl-C interrupts the wait.
        proc = subprocess.run([str(exe), protocol, str(backends), repr(float(seconds)), str(slots)],
                              capture_output=True, text=True, env=env, timeout=seconds * 20 + 60)
    except KeyboardInterrupt:
        raise Interrupted(time.monotonic() - t0) from None
    except subprocess.TimeoutExpired:
        return {"rc": 1, "ok": False, "failure": "the ThreadSanitizer run did not finish (deadlock?)",
                "races": "", "elapsed": 0.0}
    fields = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    races = proc.stderr if ("ThreadSanitizer" in proc.stderr or proc.returncode == TSAN_EXITCODE) else ""
    if proc.returncode not in (0, 1) and not races:
        tail = proc.stderr.strip().splitlines()
        raise _RunError(f"the ThreadSanitizer stress test could not run (exit {proc.returncode}): "
                        f"{tail[-1].split(': ', 1)[-1] if tail else 'no output'}")
    result = {"rc": proc.returncode, "races": races, "failure": fields.get("failure", ""),
              "ok": fields.get("ok") == "1" and not races}
    result["elapsed"] = float(fields.get("elapsed", 0) or 0)
    for k in ("registrations", "empty", "starts", "reaps"):
        result[k] = int(fields.get(k, 0) or 0)
    return result


class _RunError(Exception):
    pass


@click.command()
@click.argument("protocol")
@click.option("--threads", type=int, default=4, show_default=True,
              help="the postmaster thread and THREADS-1 backend threads")
@click.option("--seconds", type=float, default=5.0, show_default=True, help="how long the backends run")
@click.option("--slots", type=int, default=8, show_default=True,
              help="number of slots (1..32; 31 for caslist and bitmap)")
@click.option("--tsan", is_flag=True, help="run the build instrumented with ThreadSanitizer")
@click.option("--mutation", default=None, help="stress a mutated native build (it should fail)")
def stress(protocol, threads, seconds, slots, tsan, mutation):
    """Stress the native C implementation of PROTOCOL with real threads."""
    from checker.cli import EXIT_INCOMPLETE, EXIT_OK, EXIT_VIOLATED, Fail, err, out
    from refimpl.build import RefimplError, protocol as c_protocol

    if threads < 2 or threads > 257:
        raise Fail(f"--threads must be between 2 and 257 (one postmaster and at least one backend), got {threads}")
    if not 0 < seconds <= 3600:
        raise Fail(f"--seconds must be more than 0 and at most 3600, got {seconds}")
    if not 1 <= slots <= 32:
        raise Fail(f"--slots must be between 1 and 32 (31 for caslist and bitmap), got {slots}")
    try:
        spec = c_protocol(protocol)
        if spec.stress is None:
            raise Fail(f"no native stress test for {protocol}")
        if tsan and mutation:
            raise Fail("--tsan runs the correct build only; drop --mutation")
        if tsan:
            res = run_tsan(protocol, threads - 1, seconds, slots)
        else:
            res = run_native(protocol, threads - 1, seconds, slots, mutation)
            if res["rc"] < 0:
                raise Fail(res["failure"])
    except (RefimplError, _RunError) as exc:
        raise Fail(str(exc)) from None
    except Interrupted as exc:
        from checker import signals

        err.print(f"checker: {signals.how()}: the {protocol} stress run stopped after {exc.after:.1f}s of "
                  f"{seconds:g}s; nothing was checked to the end", markup=False)
        sys.exit(EXIT_INCOMPLETE)
    build = "ThreadSanitizer build" if tsan else "native build" + (f", mutation {mutation}" if mutation else "")
    out.print(f"{protocol} stress ({build}): 1 postmaster + {threads - 1} backend threads, {slots} slots, "
              f"{res['elapsed']:.2f}s", markup=False)
    if "registrations" in res:
        ops = res["registrations"] + res["starts"] + res["reaps"]
        rate = ops / res["elapsed"] if res["elapsed"] else 0.0
        out.print(f"  {res['registrations']:,} registrations, {res['starts']:,} starts, {res['reaps']:,} reaps, "
                  f"{res['empty']:,} attempts found no free slot", markup=False)
        out.print(f"  {ops:,} operations, {rate:,.0f} ops/s "
                  f"({res['registrations'] / res['elapsed'] if res['elapsed'] else 0:,.0f} registrations/s)",
                  markup=False)
    if res["races"]:
        out.print("  ThreadSanitizer reported:", markup=False)
        for line in res["races"].strip().splitlines()[:40]:
            out.print(f"    {line}", markup=False)
    if res["failure"]:
        out.print(f"  FAILED: {res['failure']}", markup=False)
    if res["ok"]:
        checks = "exclusive ownership, queue integrity, postmaster safety, conservation"
        extra = "; no data race reported" if tsan else ""
        out.print(f"  {checks}: ok{extra}", markup=False)
    sys.exit(EXIT_OK if res["ok"] else EXIT_VIOLATED)
