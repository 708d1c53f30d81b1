"""The web page in a real headless browser: Debian's Chromium, driven by playwright (nothing is downloaded).

A person's path through the page: choose a folder of class folders, see the ranking table (every field of the
recommendation as a column) and the plot, enter tried results, get the next picks. A screenshot is written and
checked: the expected size, and the table's region is not blank.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from _serve_helpers import LiveServer, image_folder

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Chromium as root needs --no-sandbox; the rest keeps it off the (closed) network and quick to start.
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1280, "height": 900}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _browser_or_skip():
    """playwright and the system browser; in CI (``CI=true``) their absence is a failure, not a skip."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    missing = ("playwright is not installed" if sync_playwright is None else
               None if os.path.exists(CHROMIUM) else f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    if missing:
        if _in_ci():
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def page_server(trained_workspace, tmp_path_factory):
    """One server for the page's tests (they only read, and an upload is refused before it is stored)."""
    sync_playwright = _browser_or_skip()  # before the server starts: a skip costs nothing
    workspace = Path(shutil.copytree(trained_workspace, tmp_path_factory.mktemp("page") / "ws"))
    server = LiveServer(workspace)
    server.wait_ready()
    yield server, sync_playwright
    server.stop()


@pytest.fixture(scope="module")
def browser(page_server):
    """One headless Chromium (the system's) for the module; each test opens its own tab."""
    _server, sync_playwright = page_server
    profile = tempfile.mkdtemp(prefix="fennec-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport=VIEWPORT)
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def live_server(page_server):
    return page_server[0]


@pytest.fixture
def page(browser):
    tab = browser.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    tab.close()


def _not_blank(png: bytes, min_colours: int = 3) -> tuple[tuple[int, int], int]:
    """The image's size and how many distinct colours it has (a blank region has one)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    return image.size, len(colours) if colours else 1 << 20


def test_a_person_drops_a_folder_sees_the_ranking_and_gets_next_picks(page, live_server, tmp_path):
    folder = image_folder(tmp_path / "pets_photos", classes=("cat", "dog", "bird"), per_class=2)
    page.goto(live_server.url + "/")
    page.wait_for_selector("#status:has-text('version v0001')")
    page.set_input_files("#folder", str(folder))
    page.wait_for_selector("#dropped:has-text('6 files in 3 class folder')")
    page.fill("#k", "5")
    page.click("#recommend")
    page.wait_for_selector("#ranking tbody tr")
    header = page.locator("#ranking th").all_inner_texts()
    rows = page.locator("#ranking tbody tr")
    assert rows.count() == 5
    # the predicted value, its intervals and the confidence lead; every other field of a row is a column too
    assert header[:5] == ["rank", "model", "predicted", "interval", "confidence"] and "score" in header
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[0] == "1" and first[1] and float(first[header.index("score")])
    assert 0 < float(first[2]) < 100  # sfda11's values are accuracies in %
    assert first[3].startswith("80% [") and "90% [" in first[3]
    assert 0 <= float(first[4]) <= 1
    summary = page.locator("#summary").inner_text()  # the ranking's confidence, as a sentence
    assert "The best model is among the top 1 / 3 / 5 with a chance of" in summary and "expected regret" in summary
    assert page.locator("#meta").inner_text().count("v0001") == 1  # space_version, among the other fields
    page.wait_for_function("document.getElementById('plot').naturalWidth > 0")
    assert page.locator("#error").is_hidden()

    model = first[1]
    page.fill("#tried", f"{model}, 99.5")  # above every interval: one more try is not worth it
    page.click("#next")
    page.wait_for_selector("#picks tbody tr")
    picks = page.locator("#picks tbody tr td:nth-child(2)").all_inner_texts()
    assert picks and model not in picks  # a tried model is not picked again
    assert page.locator("#picks th").all_inner_texts()[:6] == ["rank", "model", "predicted", "interval",
                                                               "expected_gain", "confidence"]
    assert "99.5" in page.locator("#next-meta").inner_text()  # the tried results, shown back
    assert "Advice: one more try is expected to add" in page.locator("#advice").inner_text()

    page.evaluate("window.scrollTo(0, 0)")
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot))
    size, colours = _not_blank(shot.read_bytes())
    assert size == (VIEWPORT["width"], VIEWPORT["height"]) and colours > 50
    table_size, table_colours = _not_blank(page.locator("#ranking").screenshot())
    assert table_size[0] > 200 and table_size[1] > 5 * 20 and table_colours > 5  # six rows of text, not a blank box


def test_a_stored_task_and_a_bad_upload_on_the_page(page, live_server, tmp_path):
    page.goto(live_server.url + "/")
    page.wait_for_selector("#stored option[value='pets']", state="attached")
    page.select_option("#stored", "pets")
    page.click("#recommend")
    page.wait_for_selector("#ranking tbody tr")
    assert page.locator("#ranking tbody tr").count() == 10
    assert "pets" in page.locator("#meta").inner_text()

    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "notes.txt").write_text("not an image")
    page.set_input_files("#folder", str(loose))
    page.click("#recommend")
    page.wait_for_selector("#error:visible")
    assert "400" in page.locator("#error").inner_text() and "hint" in page.locator("#error").inner_text()
    Path(tmp_path / "error.png").write_bytes(page.screenshot())


def test_the_page_shows_whatever_fields_a_recommendation_has(page, live_server):
    """Main's fields read as sentences and columns; fields the page was not written for still appear."""
    import json

    reply = {"task": "pets", "space_version": "v0001", "fallback": None, "explanation": {},
             "confidence": {"p_best_in_top": {"1": 0.25, "3": 0.5}, "expected_regret": {"1": 0.125, "3": 0.0},
                            "units_from": "similar tasks in the history", "n_revealed": 0, "k": 2},
             "ranking": [{"model": "m1", "score": 1.25, "confidence": 0.5, "predicted": 0.8123,
                          "interval": {"80%": [0.7, 0.9]}, "band": {"low": 0.65, "high": 0.95}},
                         {"model": "m2", "score": 0.5, "confidence": 0.25, "predicted": 0.7}],
             "calibration": {"coverage": 0.9}}
    picks = {"task": "pets", "tried": {"m1": 0.8}, "ignored": [], "space_version": "v0001", "advice": None,
             "picks": [{"model": "m2", "value": 0.1, "predicted": 0.7, "expected_gain": 0.0312, "confidence": 0.25}]}
    def answer(body):
        return lambda route, _request: route.fulfill(status=200, content_type="application/json",
                                                     body=json.dumps(body))

    page.route("**/recommend", answer(reply))
    page.route("**/next", answer(picks))
    page.goto(live_server.url + "/")
    page.wait_for_selector("#stored option[value='pets']", state="attached")
    page.select_option("#stored", "pets")
    page.click("#recommend")
    page.wait_for_selector("#ranking tbody tr")
    header = page.locator("#ranking th").all_inner_texts()
    assert header == ["rank", "model", "predicted", "interval", "confidence", "score", "band"]
    first, second = (page.locator("#ranking tbody tr").nth(i).locator("td").all_inner_texts() for i in (0, 1))
    assert first[2:] == ["0.8123", "80% [0.7000, 0.9000]", "0.5000", "1.2500", "low 0.6500, high 0.9500"]
    assert second[2] == "0.7000" and second[3] == "" and second[6] == ""  # a field one row lacks is blank there
    assert page.locator("#summary").inner_text() == (
        "The best model is among the top 1 / 3 with a chance of 25% / 50%; expected regret 0.1250 / 0.0000 "
        "(values in the task's units, from similar tasks in the history).")
    assert "coverage" in page.locator("#meta").inner_text()

    page.fill("#tried", "m1, 0.8")
    page.click("#next")
    page.wait_for_selector("#picks tbody tr")
    assert page.locator("#picks th").all_inner_texts() == ["rank", "model", "predicted", "expected_gain",
                                                           "confidence", "value"]
    assert page.locator("#advice").inner_text() == (
        "The best pick is expected to add 0.0312 over the best tried result (0.8000).")
