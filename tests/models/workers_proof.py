"""What the robustness proof of tests/models/workers.py needs: its postmaster's
record of forked processes is its list of running workers between passes."""


def postmaster_invariant(v):
    count = v.const("SLOTS").as_long()  # a private array: one slot count at a time
    return [(f"$forked[{k}] = pm_running[{k}]", v.private(f"$forked[{k}]") == v.private(f"pm_running[{k}]"))
            for k in range(count)]
