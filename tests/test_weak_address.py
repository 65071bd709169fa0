"""weak: a later load may pass an earlier access whose address is unknown (a no-alias guess).

Both directions: the behaviours ARMv8 allows are found, and the guesses that
turn out wrong (coherence) are discarded, while a real address dependency
still orders.  Each litmus test is also shown to fail against the model
without the feature, or with a wrong alias rule.
"""

import pytest

from checker.litmus import parse_litmus, run_litmus, suite_files
from checker.memory import weak
from checker.memory.weak import _PRUNED, WeakMemory
from checker.model import INTEGRITY
from checker.run import check
from conftest import MODELS

SUITE = {f.stem: f for f in suite_files()}
PROFILES = ("documented", "arm64")


def result(name, profile="documented"):
    return run_litmus(parse_litmus(SUITE[name]), "weak", profile)


@pytest.mark.parametrize("name", ["MP+wmb+addr-pass", "CoRR+addr-same-write"])
def test_a_later_load_passes_an_unknown_address(name):
    for profile in PROFILES:
        assert result(name, profile).result == "allowed", profile


@pytest.mark.parametrize("name", ["MP+wmb+addr", "CoWR+addr", "CoRR+wmb+addr"])
def test_dependencies_and_coherence_still_order(name):
    for profile in PROFILES:
        assert result(name, profile).result == "forbidden", profile


@pytest.mark.parametrize("name", ["MP+wmb+addr-pass", "CoRR+addr-same-write"])
def test_waiting_for_every_unknown_address_misses_them(name, monkeypatch):
    # The hole this closes: the earlier rule (a later load waits) forbids them.
    monkeypatch.setattr(weak, "PASS_UNKNOWN_ADDRESSES", False)
    assert result(name).result == "forbidden"


@pytest.mark.parametrize("name", ["CoWR+addr", "CoRR+wmb+addr"])
def test_without_the_alias_check_coherence_breaks(name, monkeypatch):
    # Passing without recording the guess lets a load keep a value that
    # coherence forbids once the earlier address turns out the same.
    monkeypatch.setattr(WeakMemory, "_note_passed", lambda self, win, i, addr, value: list(win))
    assert result(name).result == "allowed"


def test_discarding_every_alias_loses_an_armv8_behaviour(monkeypatch):
    # Two loads of the same write out of order are allowed (CoRR forbids only
    # an older write): pruning every early load found to alias is unsound.
    real = WeakMemory._check_passed

    def prune_any_alias(self, tid, win):
        for e in win:
            if e[0] == "L" and e[5] and type(e[2]) is not tuple \
                    and any(a == self.address(tid, e) for a, _v in e[5]):
                return _PRUNED
        return real(self, tid, win)

    monkeypatch.setattr(WeakMemory, "_check_passed", prune_any_alias)
    assert result("CoRR+addr-same-write").result == "forbidden"


def test_outcome_caching_changes_nothing_with_passed_addresses(monkeypatch):
    for name in ("MP+wmb+addr-pass", "CoRR+addr-same-write", "CoRR+wmb+addr"):
        cached = result(name)
        monkeypatch.setattr(weak, "CACHE_OUTCOMES", False)
        fresh = result(name)
        monkeypatch.setattr(weak, "CACHE_OUTCOMES", True)
        assert (fresh.result, fresh.outcomes, fresh.states) == (cached.result, cached.outcomes, cached.states), name


ADDR_ALIAS = str(MODELS / "addr_alias.py")


@pytest.mark.parametrize("profile", PROFILES)
def test_a_discarded_guess_is_never_seen_by_ghost_code(profile):
    # The read of cells[0] passes the store to cells[index]; when the index
    # turns out 0 the state is discarded before the ghost check runs (judging
    # the guess after ghost code reported a false violation here).
    _, res = check(ADDR_ALIAS, threads=2, ops=1, profile=profile)
    assert res.complete and not res.violations and res.exit_code == 0


def test_the_alias_model_exercises_the_guess(monkeypatch):
    # Without recording the guess, the early read of 0 survives the alias.
    monkeypatch.setattr(WeakMemory, "_note_passed", lambda self, win, i, addr, value: list(win))
    _, res = check(ADDR_ALIAS, threads=2, ops=1)
    assert INTEGRITY in res.violations


def test_a_real_violation_after_a_passed_store_is_found():
    _, res = check(ADDR_ALIAS, threads=2, ops=1, mutation="unconditional")
    assert INTEGRITY in res.violations and res.exit_code == 1


def test_a_load_that_can_no_longer_read_the_passed_write_is_discarded_at_once(monkeypatch):
    # CoRR+wmb+addr: the early read of x = 0 passed the load through the
    # pointer, which resolves to x once x = 1; without discarding at once,
    # that state lingers as a dead end (the same verdict, more states).
    prompt = result("CoRR+wmb+addr")
    monkeypatch.setattr(WeakMemory, "_doomed", lambda self, tid, win, mem: False)
    lingering = result("CoRR+wmb+addr")
    assert prompt.result == lingering.result == "forbidden"
    assert prompt.outcomes == lingering.outcomes
    assert prompt.states < lingering.states
