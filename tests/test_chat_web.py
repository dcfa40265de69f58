"""The web page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium):
attach a photo, ask, follow up, check the answers, the drawn trace and the thread list; write a screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from chat_helpers import LiveServer, answer, call, make_chat

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


def test_page_attach_ask_follow_up_and_trace(settings, tmp_path, browser, bus_jpg):
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

        browser.find_element(By.CSS_SELECTOR, "#lavr-input input[type=file]").send_keys(str(bus_jpg))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#lavr-input img"))  # the upload's thumbnail
        ask("How many people are in this photo?")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "find reported obj_0"))
        bot = browser.find_element(By.CSS_SELECTOR, "#lavr-chat")
        assert "How many people are in this photo?" in bot.text and "(attached img_0)" in bot.text
        rects = browser.find_elements(By.CSS_SELECTOR, "#lavr-trace svg rect")
        texts = browser.find_elements(By.CSS_SELECTOR, "#lavr-trace svg text")
        labels = [t.get_attribute("textContent") for t in texts]
        assert len(rects) == 2 and labels == ["obj_0 person", "obj_1 person"]
        # the boxes are drawn where the tool put them: obj_0 on the left, obj_1 on the right of the photo
        xs = [r.rect["x"] for r in rects]
        img = browser.find_element(By.CSS_SELECTOR, "#lavr-trace section .fig img").rect
        assert xs[0] < img["x"] + img["width"] / 2 < xs[1]

        ask("Which one is obj_1?")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "obj_1 is on the right"))
        assert "right" in browser.find_element(By.CSS_SELECTOR, "#lavr-chat").text
        threads = browser.find_element(By.CSS_SELECTOR, "#lavr-threads").text
        assert "How many people are in this photo? · 2 turns" in threads
        shot = tmp_path / "chat_page.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        if os.environ.get("LAVR_SCREENSHOT_DIR"):
            shutil.copy(shot, Path(os.environ["LAVR_SCREENSHOT_DIR"]) / "chat_page.png")

        # the follow-up went to the same thread, whose turns the service committed
        (info,) = chat.threads()
        assert info.turns == 2 and [t.answer.answer for t in chat.history(info.id)] == ["2", "right"]
        # a new thread from the page, then back to the first one from the list
        browser.find_element(By.CSS_SELECTOR, "#lavr-new").click()
        wait.until(lambda d: "obj_1 is on the right" not in d.find_element(By.CSS_SELECTOR, "#lavr-trace").text)
        browser.find_element(By.XPATH, "//*[@id='lavr-threads']//label[contains(., '2 turns')]").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "obj_1 is on the right"))



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
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "find reported obj_0"))
        assert [t.turns for t in chat.threads()] == [1]


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
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-trace"), "find reported obj_0"))
        ask("Why did you say 2?")
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#lavr-chat"), "I said 2 to"))
        assert "obj_0" in browser.find_element(By.CSS_SELECTOR, "#lavr-chat").text
        trace = browser.find_element(By.CSS_SELECTOR, "#lavr-trace div.lavr-trace")
        assert trace.get_attribute("data-turn") == "1"  # the answer asked about, with its boxes
        assert len(browser.find_elements(By.CSS_SELECTOR, "#lavr-trace svg rect")) == 2
        (info,) = chat.threads()
        assert [t.kind for t in chat.history(info.id)] == ["help", "scene", "conversation"]
