"""The HTML viewer in a real browser: headless Chromium driven by Playwright.

The page is opened from a file:// URL with the network cut off, stepped
with the keyboard, and checked for what a person would look at: the memory
panel, the violated property, the reads-from arrows.  A screenshot is kept
as an artifact ($VIEW_ARTIFACTS, by default slotcheck-artifacts/ in the
temporary directory, so that test runs leave the work tree clean).
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from checker.view import load, write_html

DATA = Path(__file__).resolve().parent / "view_data"
WEAK_RING = DATA / "ring-weak-free-no-write-barrier.trace.json"
ARTIFACTS = Path(os.environ.get("VIEW_ARTIFACTS", Path(tempfile.gettempdir()) / "slotcheck-artifacts"))


def _browser_path():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.fixture(scope="module")
def page():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed (pip install -e '.[test]')")
    exe = _browser_path()
    if exe is None:
        pytest.skip("no Chromium found on PATH (Debian: apt-get install chromium); .ci/run installs it")
    with sync_api.sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox.
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1500, "height": 950}, offline=True)
        pg = context.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        requests = []
        pg.on("request", lambda r: requests.append(r.url))
        pg.errors, pg.requests = errors, requests
        yield pg
        browser.close()


def test_weak_counterexample_in_chromium(page, tmp_path):
    doc = load(WEAK_RING)
    assert doc["memory_model"] == "weak"
    html = write_html(doc, tmp_path / "weak.html")
    page.goto(html.as_uri())

    assert page.inner_text("#steplabel") == f"step 0 / {len(doc['steps'])}"
    verdict = page.locator("#verdict")
    assert verdict.is_visible()
    assert "queue integrity" in verdict.inner_text() and "step 34" in verdict.inner_text()
    before = page.inner_text("#memory")

    # Step with the keyboard up to the first step that writes shared memory.
    first = next(s for s in doc["steps"] if s.get("memory_changes"))
    (name, value), = first["memory_changes"].items()
    for _ in range(first["index"] - 1):
        page.keyboard.press("ArrowRight")
    assert page.inner_text("#memory") == before, "the memory panel changed before any write"
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#steplabel") == f"step {first['index']} / {len(doc['steps'])}"
    after = page.inner_text("#memory")
    assert after != before
    changed = page.locator("#memory tr.changed")
    assert changed.count() == 1
    assert changed.inner_text().split() == [name, str(value)]
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#memory") == before

    # The violating step: highlighted row, the property in the step panel,
    # the postmaster's unperformed store in its pending list, arrows drawn.
    page.keyboard.press("End")
    vs = doc["violation_step"]
    row = page.locator(f"#lanes tr[data-step='{vs}']")
    assert "viol" in row.get_attribute("class") and "current" in row.get_attribute("class")
    info = page.inner_text("#stepinfo")
    assert "queue integrity violated here" in info
    assert "store free_ring" in page.inner_text("#threads")
    assert page.locator("#rf path").count() > 5

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "view-weak-ring.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")

    assert page.errors == []
    assert all(u.startswith("file:") for u in page.requests), page.requests


def test_hide_internal_skips_fetches_in_chromium(page, tmp_path):
    doc = load(WEAK_RING)
    page.goto(write_html(doc, tmp_path / "weak.html").as_uri())
    page.check("#hide")
    # step 1 is the postmaster fetching a load into its window: skipped
    assert doc["steps"][0]["action"] == "fetch" and not doc["steps"][0]["performed"]
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#steplabel").startswith("step 2 /")
    assert not page.locator("#lanes tr[data-step='1']").is_visible()
    page.uncheck("#hide")
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#steplabel").startswith("step 1 /")
    assert page.errors == []


def test_lasso_wraps_around_in_chromium(page, tmp_path):
    doc = load(DATA / "ring-sc-rogue.trace.json")
    doc = json.loads(json.dumps(doc))
    doc["cycle_start"] = 5
    page.goto(write_html(doc, tmp_path / "lasso.html").as_uri())
    assert "repeat forever" in page.inner_text("#cycle")
    page.keyboard.press("End")
    page.keyboard.press("ArrowRight")
    assert page.inner_text("#steplabel").startswith("step 5 /")
    assert "inside the repeating cycle" in page.inner_text("#stepinfo")
    assert page.errors == []
