"""The web page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium): attach a
photo, ask, watch the steps arrive while the expert works, see the image in the bubble and the picture with its
boxes above the folded steps, follow up, pick an earlier turn; this browser's threads only (API threads when
asked); a question with no image answered by one message; the token-only login. With ``LAVR_SCREENSHOT_DIR`` set,
the screenshots are copied there (``docs/`` holds the committed ones)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest
from chat_helpers import FindPeople, LiveServer, answer, call, make_chat, photo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
                                       "chromium-driver)")


def scripted_reply(messages):
    last = messages[-1].content
    if "Observation (find)" in last:
        return answer("2", "find reported obj_0 and obj_1")
    if "Observation (where)" in last:
        return answer("right", "obj_1 is on the right")
    if "question: which one is obj_1" in last.lower():
        return call("where", object="obj_1")
    return call("find", image="img_0")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_AVOID_STATS", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'profile'}",
                # nothing but loopback: the page must work offline
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def screenshot(browser, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("LAVR_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["LAVR_SCREENSHOT_DIR"]) / name)
    return shot


class Page:
    def __init__(self, browser):
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser, self.wait = browser, WebDriverWait(browser, 60, poll_frequency=0.05)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.browser.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str):
        from selenium.webdriver.common.by import By

        return self.browser.find_elements(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.find(css).text

    def attach(self, path: Path) -> None:
        self.wait.until(lambda d: self.finds("#lavr-input input[type=file]"))[0].send_keys(str(path))
        self.wait.until(lambda d: self.finds("#lavr-input img"))  # the upload's thumbnail

    def ask(self, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        box = self.wait.until(lambda d: self.find("#lavr-input textarea"))
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def panel_state(self) -> str | None:
        found = self.finds("#lavr-trace .lavr-trace")
        return found[0].get_attribute("data-state") if found else None


def test_page_streams_steps_and_shows_the_image_and_what_the_answer_rests_on(settings, tmp_path, browser, bus_jpg):
    from lavr.chat.server import create_app

    chat, backend = make_chat(settings, [scripted_reply], repeat_last=True)
    FindPeople.delay_s = 1.5  # the expert works for 1.5 s: the page shows that it does, while it does
    calls = FindPeople.calls
    try:
        with LiveServer(create_app(chat, settings, web=True)) as live:
            browser.get(live.url + "/")
            page = Page(browser)
            page.attach(bus_jpg)
            page.ask("How many people are in this photo?")
            # while the expert works: the status names it, the plan step is already there, nothing is answered
            page.wait.until(lambda d: "running find on img_0" in page.text("#lavr-trace"))
            assert page.panel_state() == "running" and FindPeople.calls == calls + 1
            assert [s.get_attribute("data-index") for s in page.finds("#lavr-trace details.step")] == ["0"]
            assert "running find on img_0" in page.text("#lavr-chat")  # the chat's pending message says it too
            assert all(t.turns == 0 for t in chat.threads())  # nothing committed yet: these are live steps
            screenshot(browser, tmp_path, "chat_page_streaming.png")

            page.wait.until(lambda d: page.panel_state() == "done")
            # the chat bubble shows the attached image, not "(attached img_0)"
            bubble = page.find("#lavr-chat .user-row")
            assert "How many people are in this photo?" in bubble.text and "(attached" not in bubble.text
            page.wait.until(lambda d: page.find("#lavr-chat .user-row img").get_attribute("naturalWidth") == "180")
            assert "/gradio_api/file=" in page.find("#lavr-chat .user-row img").get_attribute("src")
            # the panel: the picture with the boxes the answer rests on first, then the steps, folded
            panel = page.find("#lavr-trace .lavr-trace")
            order = [e.get_attribute("class") for e in panel.find_elements("css selector", ":scope > *")]
            assert order[1:4] == ["lavr-q", "picture", "steps"], order
            assert page.text("#lavr-trace .lavr-q") == "How many people are in this photo? → 2"
            picture = page.find("#lavr-trace .picture img")
            assert "/gradio_api/file=" in picture.get_attribute("src")  # a file, fetched once, not sent again
            page.wait.until(lambda d: page.find("#lavr-trace .picture img").get_attribute("naturalWidth") == "675")
            labels = [t.get_attribute("textContent") for t in page.finds("#lavr-trace .picture svg text")]
            assert labels == ["obj_0 person", "obj_1 person"]
            rects = page.finds("#lavr-trace .picture svg rect")
            img = page.find("#lavr-trace .picture img").rect
            assert rects[0].rect["x"] < img["x"] + img["width"] / 2 < rects[1].rect["x"]  # left one, right one
            steps = page.finds("#lavr-trace details.step")
            assert [s.get_attribute("data-index") for s in steps] == ["0", "1", "2"]
            assert not any(s.get_attribute("open") for s in steps)  # folded
            assert not steps[1].find_element("css selector", "pre").is_displayed()
            steps[1].find_element("css selector", "summary").click()  # unfold the tool step
            assert "found: obj_0 person" in steps[1].text and steps[1].find_elements("css selector", ".fig svg rect")
            screenshot(browser, tmp_path, "chat_page.png")

            page.ask("Which one is obj_1?")
            page.wait.until(lambda d: "Which one is obj_1? → right" in page.text("#lavr-trace"))
            assert "How many people are in this photo? · 2 turns" in page.text("#lavr-threads")
            # a click on the first answer brings its turn back into the panel
            answers = page.finds("#lavr-chat .bot-row .message")
            answers[0].click()
            page.wait.until(lambda d: page.find("#lavr-trace .lavr-trace").get_attribute("data-turn") == "0")
            assert page.text("#lavr-trace .lavr-q") == "How many people are in this photo? → 2"
            (info,) = chat.threads()
            assert info.turns == 2 and [t.answer.answer for t in chat.history(info.id)] == ["2", "right"]
            # a new thread, then back to the first one from the list
            page.find("#lavr-new").click()
            page.wait.until(lambda d: page.panel_state() == "empty")
            from selenium.webdriver.common.by import By

            browser.find_element(By.XPATH, "//*[@id='lavr-threads']//label[contains(., '2 turns')]").click()
            page.wait.until(lambda d: "Which one is obj_1? → right" in page.text("#lavr-trace"))
    finally:
        FindPeople.delay_s = 0.0


def test_page_lists_its_own_threads_and_answers_a_missing_image_in_one_message(settings, tmp_path, browser,
                                                                             bus_jpg, caplog):
    from lavr.chat.server import create_app

    chat, _ = make_chat(settings, [scripted_reply], repeat_last=True)
    api_thread = chat.send(None, "Asked through the API", [photo()]).thread_id  # another client's thread
    with LiveServer(create_app(chat, settings, web=True)) as live, caplog.at_level(logging.INFO):
        browser.get(live.url + "/")
        page = Page(browser)
        page.wait.until(lambda d: page.finds("#lavr-threads"))
        assert "Asked through the API" not in page.text("#lavr-threads")  # not this browser's
        # no image yet: one message in the chat, no error badges or toasts, the question kept in the box
        page.ask("How many people?")
        page.wait.until(lambda d: "attach an image first" in page.text("#lavr-chat"))
        assert page.finds("#lavr-chat .bot-row") and len(page.finds("#lavr-chat .message-row")) == 1
        assert not page.finds(".toast-body") and "Error" not in page.text("body")
        assert page.find("#lavr-input textarea").get_attribute("value") == "How many people?"
        assert page.panel_state() == "empty" and [t.id for t in chat.threads()] == [api_thread]
        screenshot(browser, tmp_path, "chat_page_no_image.png")
        refusals = [r for r in caplog.records if r.name == "lavr.chat.web"]
        assert [r.levelname for r in refusals] == ["WARNING"] and not any(r.exc_info for r in refusals)
        assert refusals[0].getMessage().startswith("web page: turn refused: attach an image first")

        page.attach(bus_jpg)
        from selenium.webdriver.common.keys import Keys

        page.find("#lavr-input textarea").send_keys(Keys.ENTER)  # the kept question, now with the photo
        page.wait.until(lambda d: page.panel_state() == "done")
        mine = page.text("#lavr-threads")
        assert "How many people? · 1 turn" in mine and "Asked through the API" not in mine
        page.find("#lavr-all input").click()  # every thread, when asked
        page.wait.until(lambda d: "Asked through the API" in page.text("#lavr-threads"))
        # this browser's list outlives a reload (kept in the browser)
        browser.refresh()
        page.wait.until(lambda d: "How many people? · 1 turn" in page.text("#lavr-threads"))
        assert "Asked through the API" not in page.text("#lavr-threads")


def test_with_a_token_the_page_asks_for_it_alone_then_works(settings, browser, bus_jpg):
    """The login asks for the token only (no user name to ignore); the page then uploads and answers as usual."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from lavr.chat.server import create_app

    settings = settings.model_copy(update={"server_token": "tok-123"})
    chat, _ = make_chat(settings, [scripted_reply], repeat_last=True)
    wait = WebDriverWait(browser, 60)
    with LiveServer(create_app(chat, settings, web=True)) as live:
        browser.get(live.url + "/")
        field = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "input[type=password]")))
        assert browser.current_url.endswith("/login")
        assert len(browser.find_elements(By.CSS_SELECTOR, "input")) == 1  # the token, nothing else
        field.send_keys("wrong", Keys.ENTER)
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "body"), "Wrong token."))
        browser.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys("tok-123", Keys.ENTER)
        box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#lavr-input textarea")))
        browser.find_element(By.CSS_SELECTOR, "#lavr-input input[type=file]").send_keys(str(bus_jpg))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lavr-input img"))
        box.send_keys("How many people are in this photo?", Keys.ENTER)
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "photo? → 2"))
        assert [t.turns for t in chat.threads()] == [1]
        # the image in the bubble is served to the logged-in browser
        shown = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lavr-chat .user-row img"))
        assert shown[0].get_attribute("naturalWidth") == "180"


def test_page_answers_help_and_questions_about_the_thread(settings, browser, bus_jpg):
    """Issue 25 on the page: help with no image yet, then a question, then "why?" about its answer, whose trace
    stays in view."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from lavr.chat.server import create_app

    chat, backend = make_chat(settings, [scripted_reply], repeat_last=True)
    wait = WebDriverWait(browser, 60)
    with LiveServer(create_app(chat, settings, web=True)) as live:
        browser.get(live.url + "/")
        box = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#lavr-input textarea")))

        def ask(text: str) -> None:
            box.send_keys(text)
            box.send_keys(Keys.ENTER)

        ask("What can you do?")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-chat"), "Experts available here"))
        assert "find" in browser.find_element(By.CSS_SELECTOR, "#lavr-chat").text and backend.requests == []
        browser.find_element(By.CSS_SELECTOR, "#lavr-input input[type=file]").send_keys(str(bus_jpg))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lavr-input img"))
        ask("How many people are in this photo?")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "photo? → 2"))
        ask("Why did you say 2?")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-chat"), "I said 2 to"))
        assert "obj_0" in browser.find_element(By.CSS_SELECTOR, "#lavr-chat").text
        trace = browser.find_element(By.CSS_SELECTOR, "#lavr-trace div.lavr-trace")
        assert trace.get_attribute("data-turn") == "1"  # the answer asked about, with its boxes
        assert len(browser.find_elements(By.CSS_SELECTOR, "#lavr-trace .picture svg rect")) == 2
        (info,) = chat.threads()
        assert [t.kind for t in chat.history(info.id)] == ["help", "scene", "conversation"]
