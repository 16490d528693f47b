"""The chat in headless Chromium against the real API under uvicorn (demo corpus, MiniLM embedder) and a
slow-streaming OpenAI-compatible LLM on 127.0.0.1 that records when its client disconnects
(`tests/fixtures/slow_llm.py`):

- Stop (the button, or Escape) while the model writes: the answer is marked as stopped by the reader
  (neither an error nor the model's answer), the form takes a new question, and the cancel reaches the
  generation: the API closes its own connection to the LLM server, which sees its client leave, and the
  API logs it once.
- One numbering: every `[n]` in a rendered answer is the n-th listed source, and the sentence it cites is
  from that source's article (the LLM quotes the first sentence of each numbered prompt block, the last
  block first, so numbering by first mention would show).

Fixtures (Chromium, the stores) come from `test_web_ui.py`. Waits are polled conditions with generous
ceilings (a busy 2-core machine), never fixed sleeps.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.test_web_ui import (  # noqa: F401  (browser, stores: fixtures found by name)
    SCREENSHOT_DIR,
    _environment,
    _wait,
    browser,
    stores,
)
from tests.fixtures.slow_llm import SlowLLM, citing_reply, prompt_blocks
from tests.rag_fixtures import DEMO_DIR, running_api

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# The slow LLM streams its reply slowly for this question only (far longer than the test waits).
SLOW_QUESTION = "Tell me everything about chunking, slowly."
# Spans several demo articles, so the answer cites several sources.
CITE_QUESTION = "How do chunking, reranking and a local LLM stack fit together in a RAG system?"
LEFT = "client left; generation cancelled"
CEILING_S = 120.0


@pytest.fixture(scope="module")
def slow_ui(stores, mongo_uri) -> Iterator[dict[str, Any]]:  # noqa: F811 - fixture imported above
    """The API on a copy of the demo index, its LLM the slow server; yields its URL, the LLM and its log."""
    qdrant = stores["root"] / "qdrant-chat"
    shutil.copytree(stores["root"] / "qdrant", qdrant)
    with SlowLLM(reply=citing_reply, slow=lambda prompt: SLOW_QUESTION in prompt, token_interval_s=0.25) as llm:
        environment = _environment(stores, mongo_uri, llm.base_url, llm.model_id, qdrant)
        environment["MAX_NEW_TOKENS_INFERENCE"] = "400"  # the cited reply is read whole
        with running_api(environment, stores["root"]) as base:
            yield {"base": base, "llm": llm, "log": stores["root"] / f"api-{urlsplit(base).port}.log"}


def _open_chat(driver: Any, base: str, question: str, k: int | None = None) -> None:
    """Open the chat, ask `question` (with `k` passages when given)."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/")
    if k is not None:  # the field sits in the closed "Generation settings"
        driver.execute_script("document.querySelector('#ask input[name=k]').value = arguments[0]", str(k))
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.ID, "ask-button").click()


def _left_logged(log: Path) -> int:
    return log.read_text(errors="replace").count(LEFT) if log.exists() else 0


def _poll(condition, timeout_s: float = CEILING_S) -> bool:  # type: ignore[no-untyped-def]
    """Whether `condition()` held within `timeout_s` (polled)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _stop_while_writing(driver: Any, slow_ui: dict[str, Any], stop) -> None:  # type: ignore[no-untyped-def]
    """Ask the slow question, wait until the model's draft is on the page, `stop(driver)`, then check the
    stopped state in the page and that the generation behind it was cancelled."""
    from selenium.webdriver.common.by import By

    llm: SlowLLM = slow_ui["llm"]
    disconnects, finished, logged = llm.disconnects, llm.streams_finished, _left_logged(slow_ui["log"])
    _open_chat(driver, slow_ui["base"], SLOW_QUESTION)
    stop_button = driver.find_element(By.ID, "stop-button")
    # Writing: Stop is offered (and Ask is not) while the draft grows token by token.
    _wait(driver, lambda d: len(d.find_element(By.ID, "answer").text.split()) >= 3, CEILING_S)
    assert stop_button.is_displayed() and stop_button.is_enabled()
    assert driver.find_element(By.ID, "ask-button").get_attribute("disabled") is not None
    assert llm.streaming_now == 1, llm.describe()

    stop(driver)
    _wait(driver, lambda d: d.find_element(By.ID, "status").text == "Stopped.", CEILING_S)
    status = driver.find_element(By.ID, "status")
    assert "error" not in (status.get_attribute("class") or "")
    mark = driver.find_element(By.ID, "authorship")
    assert mark.get_attribute("data-written-by") == "stopped", mark.text
    assert mark.find_element(By.CLASS_NAME, "badge").text == "Stopped by you"
    assert "not an answer" in mark.text and "slow-twin" in mark.text, mark.text
    answer = driver.find_element(By.ID, "answer")
    stopped_text = answer.text
    assert stopped_text.strip() and "draft" in answer.get_attribute("class")  # what came, kept as a draft
    assert not driver.find_element(By.ID, "rating").is_displayed()  # nothing to rate
    assert not stop_button.is_displayed()
    assert driver.find_element(By.ID, "ask-button").is_enabled()

    # The cancel reached the generation: the LLM server saw its client (the API) leave, and it did not finish.
    assert llm.wait_for(lambda server: server.disconnects == disconnects + 1, CEILING_S), (
        f"the LLM server never saw the API disconnect within {CEILING_S:g}s: {llm.describe()}"
    )
    assert llm.streams_finished == finished and llm.streaming_now == 0, llm.describe()
    assert _poll(lambda: _left_logged(slow_ui["log"]) >= logged + 1), f"{LEFT!r} not in the API log"
    assert _left_logged(slow_ui["log"]) == logged + 1  # once
    # Nothing more reached the page after the stop (the server went on sending until it saw the disconnect).
    assert answer.text == stopped_text


def test_stop_button_cancels_the_answer_and_the_generation_behind_it(browser, slow_ui):  # noqa: F811
    from selenium.webdriver.common.by import By

    def click_stop(driver: Any) -> None:
        driver.find_element(By.ID, "stop-button").click()

    _stop_while_writing(browser, slow_ui, click_stop)
    # Stop had the focus and is gone: the focus goes back to the question, ready for the next one.
    assert browser.execute_script("return document.activeElement.id") == "query"
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT_DIR / "chat-stopped.png"))


def test_escape_stops_the_answer_too(browser, slow_ui):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert browser.find_element(By.ID, "stop-button").get_attribute("aria-keyshortcuts") == "Escape"
    _stop_while_writing(browser, slow_ui, lambda driver: driver.find_element(By.ID, "query").send_keys(Keys.ESCAPE))


def _article_words() -> dict[str, list[str]]:
    """Each demo article's words (lowercase), by its link."""
    articles = {}
    for path in sorted(DEMO_DIR.glob("*.md")):
        text = path.read_text()
        link = re.search(r"^link:\s*(\S+)", text, re.MULTILINE)
        assert link, path
        articles[link.group(1)] = _words(text.split("---", 2)[2])
    return articles


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _contains(words: list[str], part: list[str]) -> bool:
    return any(words[i : i + len(part)] == part for i in range(len(words) - len(part) + 1))


def _cited_claims(answer: str) -> list[tuple[int, str]]:
    """(n, the text it cites) for each `[n]` in `answer`: the text since the previous citation's sentence."""
    claims, start = [], 0
    for citation in re.finditer(r"\[(\d+)\]", answer):
        claim = re.sub(r"^[\s.!?,;:]+", "", answer[start : citation.start()]).strip()
        claims.append((int(citation.group(1)), claim))
        start = citation.end()
    return claims


def test_every_citation_is_the_nth_listed_source(browser, slow_ui):  # noqa: F811
    from selenium.webdriver.common.by import By

    llm: SlowLLM = slow_ui["llm"]
    _open_chat(browser, slow_ui["base"], CITE_QUESTION, k=8)

    def finished(driver: Any) -> bool:
        text = driver.find_element(By.ID, "status").text
        return text == "Done." or "Error" in text

    _wait(browser, finished, CEILING_S)
    assert browser.find_element(By.ID, "status").text == "Done."
    answer = browser.find_element(By.ID, "answer").text
    items = browser.find_elements(By.CSS_SELECTOR, "#sources li")
    listed = [
        {
            "number": item.get_attribute("data-number"),
            "label": item.find_element(By.CLASS_NAME, "source-number").text,
            "link": item.find_element(By.TAG_NAME, "a").get_attribute("href"),
        }
        for item in items
    ]
    claims = _cited_claims(answer)
    cited = {number for number, _ in claims}
    written_by = browser.find_element(By.ID, "authorship").get_attribute("data-written-by")
    context = f"answer ({written_by}): {answer!r}\nsources: {listed}"
    assert len(cited) >= 2, f"the answer should cite several sources; {context}"

    articles = _article_words()
    prompt = next(prompt for prompt in reversed(llm.prompts) if CITE_QUESTION in prompt)
    blocks = prompt_blocks(prompt)
    assert len(blocks) == len(listed), f"the prompt's numbered blocks are the listed sources; {context}"
    for number, claim in claims:
        # The n-th entry of the list (by position, as a reader counts) is source [n].
        assert 1 <= number <= len(listed), f"[{number}] cites no listed source; {context}"
        source = listed[number - 1]
        assert source["number"] == str(number) and source["label"] == f"[{number}]", f"[{number}]: {context}"
        # And what [n] cites comes from that source's article, as it came from the prompt's block n.
        words = _words(claim)
        assert len(words) >= 3, f"[{number}] cites too little to check: {claim!r}; {context}"
        assert source["link"] in articles, f"[{number}] lists an unknown link; {context}"
        assert _contains(articles[source["link"]], words), f"[{number}] quotes another source: {claim!r}; {context}"
        assert _contains(_words(blocks[number]), words), f"[{number}] is not prompt block {number}: {claim!r}"
