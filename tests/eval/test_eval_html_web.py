"""The evaluation report and the comparison page in a real headless Chromium (Debian's ``chromium`` +
``chromium-driver``, driven by selenium, as test_chat_web.py): offline, no console errors, the same numbers as the
text, plots and images drawn, the gallery's filter and folded traces working."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_pages import SHAPES, text_comparison_numbers, text_report_numbers, with_errors, write_results

from lavr.eval.compare import format_comparison
from lavr.eval.dataset import load_dataset
from lavr.eval.html_report import write_compare_page, write_report_page
from lavr.eval.report import UNTYPED, format_report, is_confidently_wrong, is_wrong
from lavr.eval.results import read_results
from lavr.eval.sample_results import sample_results

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver)")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1300,1000", f"--user-data-dir={tmp_path / 'profile'}",
                # no host resolves: a page that tried to fetch anything would fail visibly
                "--host-resolver-rules=MAP * ~NOTFOUND"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(browser, path: Path) -> None:
    """Load a page from disk and check that it fetched nothing and logged no error (a CSP refusal is one)."""
    browser.get(path.resolve().as_uri())
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))")
    assert fetched == []
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def dom_numbers(browser) -> dict[str, str]:
    return browser.execute_script(
        "const o = {}; document.querySelectorAll('[data-n]').forEach(e => o[e.dataset.n] = e.textContent.trim());"
        "return o;")


def visible_cards(browser) -> list:
    from selenium.webdriver.common.by import By

    return [c for c in browser.find_elements(By.CSS_SELECTOR, "#gallery .card") if c.is_displayed()]


def test_the_report_page_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    records = with_errors(sample_results(load_dataset(SHAPES), n=80, seed=4))
    results = write_results(tmp_path / "r.jsonl", records)
    page = tmp_path / "report.html"
    report = write_report_page(results, page)
    open_page(browser, page)
    assert dom_numbers(browser) == text_report_numbers(format_report(report))
    # matplotlib's plots and the embedded images are drawn at a visible size
    plots = browser.find_elements(By.CSS_SELECTOR, "svg.plot")
    assert len(plots) == 5 and all(p.size["width"] > 200 and p.size["height"] > 100 for p in plots)
    shot = browser.find_element(By.CSS_SELECTOR, "#gallery .card svg.shot")
    assert shot.size["width"] > 200 and shot.size["height"] > 100
    assert shot.value_of_css_property("background-image").startswith('url("data:image/jpeg;base64,')
    assert shot.find_elements(By.CSS_SELECTOR, "rect")  # the evidence boxes
    wrong = [r for r in records if is_wrong(r)]
    assert len(visible_cards(browser)) == len(wrong)
    # the filter: one type, then only the confidently wrong rows of it
    qtype = records[0]["question_type"]
    Select(browser.find_element(By.ID, "type-filter")).select_by_value(qtype)
    of_type = [r for r in wrong if (r.get("question_type") or UNTYPED) == qtype]
    shown = visible_cards(browser)
    assert len(shown) == len(of_type) and {c.get_attribute("data-type") for c in shown} == {qtype}
    browser.find_element(By.ID, "confident-only").click()
    assert len(visible_cards(browser)) == sum(1 for r in of_type if is_confidently_wrong(r))
    assert browser.find_element(By.ID, "shown").text == str(len(visible_cards(browser)))
    Select(browser.find_element(By.ID, "type-filter")).select_by_value("")
    browser.find_element(By.ID, "confident-only").click()
    assert len(visible_cards(browser)) == len(wrong)
    # the trace is folded until its summary is clicked
    card = visible_cards(browser)[0]
    details = card.find_element(By.CSS_SELECTOR, "details.trace")
    step = details.find_element(By.CSS_SELECTOR, ".step h4")
    assert details.get_attribute("open") is None and not step.is_displayed()
    details.find_element(By.TAG_NAME, "summary").click()
    assert details.get_attribute("open") is not None and step.is_displayed() and "scene_graph" in step.text
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 20_000


def test_the_comparison_page_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.by import By

    shapes = load_dataset(SHAPES)
    a = write_results(tmp_path / "a.jsonl", sample_results(shapes, n=40, seed=5))
    b = write_results(tmp_path / "b.jsonl", sample_results(shapes, n=40, seed=6))
    page = tmp_path / "diff.html"
    cmp = write_compare_page(a, b, page)
    open_page(browser, page)
    assert dom_numbers(browser) == text_comparison_numbers(format_comparison(cmp))
    flips = browser.find_elements(By.CSS_SELECTOR, "article.flip")
    assert [f.get_attribute("id") for f in flips] == [f"flip-{i}" for i in cmp.to_wrong + cmp.to_right]
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.plot")) == 1
    first = flips[0]
    figures = first.find_elements(By.CSS_SELECTOR, "svg.shot")
    assert len(figures) == 2 and all(f.size["height"] > 100 for f in figures)
    traces = first.find_elements(By.CSS_SELECTOR, "details.trace")
    assert len(traces) == 2
    for details in traces:
        details.find_element(By.TAG_NAME, "summary").click()
        assert details.find_element(By.CSS_SELECTOR, ".step.answer").is_displayed()
    by_a = {r["id"]: r for r in read_results(a)}
    assert by_a[cmp.to_wrong[0]]["question"] in browser.find_element(By.ID, f"flip-{cmp.to_wrong[0]}").text
    browser.save_screenshot(str(tmp_path / "diff.png"))
    assert (tmp_path / "diff.png").stat().st_size > 20_000
