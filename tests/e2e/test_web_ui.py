"""The web UI end to end in headless Chromium against real uvicorn processes (nx-27017 warehouse, Qdrant
local folder, the MiniLM embedder): ask a question and watch the streamed answer and its sources (the tiny
local LLM), add a fixture page's link and watch it crawled, indexed and found, and check that model output
holding HTML is shown as text (a scripted OpenAI-compatible server answers with a script tag), and that
every answer is marked with who wrote it (the scripted model, or the author's sentences quoted in place of
a rejected reply, whose draft stays behind a toggle).

The chat screenshot is written to output/ui/chat.png (docs/ui.md shows a copy from a test run)."""

from __future__ import annotations

import json
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.fixtures.crawl_server import PAGE_TIMEOUT_S, crawl_site  # noqa: F401  (fixture found by name)
from tests.rag_fixtures import (
    DEMO_AUTHOR,
    RESPONSE_CEILING_S,
    SERVER_TEST_TIMEOUT_S,
    index_demo_corpus_into,
    running_api,
)
from tests.waiting import CEILING_S

SCREENSHOT_DIR = PROJECT_ROOT / "output" / "ui"
# The waits follow the work, not a guess at the machine's speed. An answer ends, done or with an error the page
# shows, within the API's request deadline (RESPONSE_CEILING_S); a crawl job runs two pipelines in the service
# (crawl, then clean-chunk-embed), minutes on a busy CPU, as `tests/integration/test_ui_jobs.py` allows.
# Anything else (a page drawing, a button answering) gets the shared ceiling.
CRAWL_JOB_CEILING_S = 480.0
# pytest-timeout's backstop, above the waits' own ceilings (the crawl test waits for a job besides answers).
BACKSTOP_S = int(SERVER_TEST_TIMEOUT_S + CRAWL_JOB_CEILING_S)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(BACKSTOP_S)]
# Grounded in the demo corpus (so the answer guard keeps it), with markup that must never run.
HOSTILE_ANSWER = (
    "Long, noisy context makes large models look confused. <script>window.__pwned = 1</script>If a chunk is "
    'too large, one relevant sentence drowns in five hundred words <img src=x onerror="window.__pwned = 2"> '
    "of something else, and the embedding of the whole block drifts toward the average of many topics."
)
# The scripted server's replies per question (else HOSTILE_ANSWER): one the answer guard keeps (the author's
# own point about reranking), one it rejects (not grounded in the passages at all).
KEPT_QUESTION = "Why do you rerank before the prompt?"
KEPT_ANSWER = (
    "I always add a reranking step between retrieval and the prompt. Retrieve generously, then score every "
    "candidate against the original question with a stronger model and keep only the best few [1]."
)
REJECTED_QUESTION = "How large should my chunks be?"
REJECTED_ANSWER = "Bananas ripen faster next to apples in a warm kitchen, as my grandmother always said."
SCRIPTED_REPLIES = {KEPT_QUESTION: KEPT_ANSWER, REJECTED_QUESTION: REJECTED_ANSWER}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from llm_engineering.domain.exceptions import CrawlError
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.infrastructure.egress import default_policy
    from llm_engineering.settings import load_settings

    settings = load_settings()
    try:
        chromium = start_chromium(
            settings.CHROMIUM_PATH,
            settings.CHROMEDRIVER_PATH,
            page_timeout_s=CEILING_S,  # a page of the local service, however busy the machine
            extra_arguments=["--window-size=1100,1250"],
            # Through the egress proxy: the browser's own calls home are refused, nothing leaves 127.0.0.1.
            egress=default_policy(allow_private=True),
        )
    except CrawlError as error:
        pytest.skip(f"headless Chromium unavailable: {error}")
    try:
        yield chromium._driver
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def stores(mongo_uri: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The demo corpus in a fresh warehouse database and Qdrant folder, released before uvicorn starts."""
    root = tmp_path_factory.mktemp("web-ui")
    database = f"ui_{uuid.uuid4().hex[:8]}"
    index_demo_corpus_into(mongo_uri, database, root / "qdrant")
    shutil.copytree(root / "qdrant", root / "qdrant-hostile")
    return {"root": root, "database": database}


def _environment(stores: dict, mongo_uri: str, llm_base_url: str, llm_model: str, qdrant: Path) -> dict[str, str]:
    return {
        "DATABASE_HOST": mongo_uri,
        "DATABASE_NAME": stores["database"],
        "QDRANT_LOCAL_PATH": str(qdrant),
        "LOCAL_DATA_DIR": str(stores["root"] / f"local-{qdrant.name}"),
        "LLM_BASE_URL": llm_base_url,
        "LLM_MODEL_ID": llm_model,
        "LLM_MAX_RETRIES": "0",
        "LLM_TIMEOUT_S": "60",
        "MAX_NEW_TOKENS_INFERENCE": "12",
        "RAG_TOP_K": "3",
        "RAG_SELF_QUERY": "off",
        "RAG_QUERY_EXPANSION": "off",
        "HF_HUB_OFFLINE": "1",
        "ZENML_CONFIG_PATH": str(stores["root"] / f"zenml-{qdrant.name}"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "CRAWL_PAGE_TIMEOUT_S": str(PAGE_TIMEOUT_S),
        "CRAWL_ALLOW_PRIVATE_NETWORKS": "true",  # the crawl test's fixture site is on 127.0.0.1
    }


@pytest.fixture(scope="module")
def ui(stores, mongo_uri, llm_server) -> Iterator[str]:
    environment = _environment(
        stores, mongo_uri, llm_server["base_url"], llm_server["model_id"], stores["root"] / "qdrant"
    )
    with running_api(environment, stores["root"]) as base:
        yield base


class _ScriptedCompletions(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that answers SCRIPTED_REPLIES by question, else HOSTILE_ANSWER (streamed
    when asked)."""

    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": "scripted", "object": "model"}]}).encode()
        self._send(200, body, "application/json")

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        prompt = " ".join(str(message.get("content")) for message in request.get("messages") or [])
        reply = next((answer for question, answer in SCRIPTED_REPLIES.items() if question in prompt), HOSTILE_ANSWER)
        usage = {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18}
        if request.get("stream"):
            chunks = [reply[i : i + 12] for i in range(0, len(reply), 12)]
            events = [
                {"choices": [{"index": 0, "delta": {"content": chunk}, "finish_reason": None}]} for chunk in chunks
            ]
            events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage})
            body = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events) + b"data: [DONE]\n\n"
            self._send(200, body, "text/event-stream")
            return
        message = {"role": "assistant", "content": reply}
        choice = {"index": 0, "message": message, "text": reply, "finish_reason": "stop"}
        body = json.dumps({"id": "x", "model": "scripted", "choices": [choice], "usage": usage}).encode()
        self._send(200, body, "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="module")
def hostile_ui(stores, mongo_uri) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedCompletions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    llm = f"http://127.0.0.1:{server.server_address[1]}/v1"
    environment = _environment(stores, mongo_uri, llm, "scripted", stores["root"] / "qdrant-hostile")
    try:
        with running_api(environment, stores["root"]) as base:
            yield base
    finally:
        server.shutdown()
        server.server_close()


def _wait(driver: Any, condition, timeout_s: float = CEILING_S) -> Any:
    """Wait for `condition`, polling; at `timeout_s` fail with what the page shows (and the browser console)."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        # The pages redraw their tables while polling: an element read mid-redraw is simply read again.
        waiter = WebDriverWait(
            driver, timeout_s, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
        )
        return waiter.until(condition)
    except TimeoutException:
        try:
            console = driver.get_log("browser")
        except Exception:  # noqa: BLE001 - not every driver keeps the console
            console = []
        page = driver.find_element(By.TAG_NAME, "main").text
        pytest.fail(f"still waiting after {timeout_s:g} s on {driver.current_url}:\n{page}\n{console}")


def _answered(driver: Any) -> bool:
    """The answer ended: done, or an error the page shows (the test then says which)."""
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.ID, "status").text
    return text == "Done." or "Error" in text


def _ask(driver: Any, base: str, question: str) -> None:
    """Open the chat, record every text the answer box holds (each streamed delta, however fast the stream
    goes) in `window.__shown` and every authorship mark in `window.__marks`, and ask `question`."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/")
    driver.execute_script(
        "window.__shown = []; window.__marks = [];"
        "new MutationObserver(() => window.__shown.push(document.getElementById('answer').textContent))"
        ".observe(document.getElementById('answer'), {childList: true, characterData: true, subtree: true});"
        "new MutationObserver(() => window.__marks.push(document.getElementById('authorship').textContent))"
        ".observe(document.getElementById('authorship'), {childList: true, characterData: true, subtree: true});"
    )
    box = driver.find_element(By.ID, "query")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.ID, "ask-button").click()


def test_chat_streams_the_answer_with_its_sources(browser, ui):
    from selenium.webdriver.common.by import By

    _ask(browser, ui, "How should I rerank retrieved passages?")

    _wait(browser, _answered, RESPONSE_CEILING_S)
    status = browser.find_element(By.ID, "status").text
    assert status == "Done.", status
    answer = browser.find_element(By.ID, "answer").text
    assert answer.strip()
    sources = browser.find_elements(By.CSS_SELECTOR, "#sources li a")
    assert sources and all(link.get_attribute("href").startswith("http") for link in sources)
    assert DEMO_AUTHOR in browser.find_element(By.ID, "sources").text
    # Each source shows the API's number, the [n] the answer cites it by (not the list's own index).
    numbers = [item.get_attribute("data-number") for item in browser.find_elements(By.CSS_SELECTOR, "#sources li")]
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)]
    labels = [label.text for label in browser.find_elements(By.CSS_SELECTOR, "#sources .source-number")]
    assert labels == [f"[{n}]" for n in numbers]
    assert {n for n in re.findall(r"\[(\d+)\]", answer)} <= set(numbers)
    assert "Retrieval:" in browser.find_element(By.ID, "path").text
    shown = [text for text in browser.execute_script("return window.__shown") if text]
    assert len(shown) >= 2, shown  # the answer grew delta by delta (then took its final text)

    browser.find_element(By.CSS_SELECTOR, "#rating button[data-score='1']").click()
    _wait(browser, lambda driver: driver.find_element(By.ID, "rating-status").text)
    assert "saved in this browser" in browser.find_element(By.ID, "rating-status").text

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(SCREENSHOT_DIR / "chat.png"))
    assert (SCREENSHOT_DIR / "chat.png").stat().st_size > 10_000


def test_model_output_with_html_is_shown_as_text(browser, hostile_ui):
    from selenium.webdriver.common.by import By

    _ask(browser, hostile_ui, "Why does chunk size matter?")
    _wait(browser, _answered, RESPONSE_CEILING_S)
    status = browser.find_element(By.ID, "status").text
    assert status == "Done.", status
    answer = browser.find_element(By.ID, "answer")
    shown = browser.execute_script("return window.__shown")
    # The markup arrives as text: literally in the box while streaming (and in the final answer unless the
    # answer's cleanup or guard replaced it), never as elements.
    assert any("<script>window.__pwned = 1</script>" in text for text in [*shown, answer.text]), shown
    assert answer.find_elements(By.TAG_NAME, "script") == []
    assert answer.find_elements(By.TAG_NAME, "img") == []
    assert browser.execute_script("return window.__pwned === undefined")


def test_each_answer_says_who_wrote_it(browser, hostile_ui):
    """The streamed reply is marked as a draft; the final mark says the model wrote a reply the guard kept,
    and says a rejected reply was replaced by the author's quoted sentences, why, with the draft on demand."""
    from selenium.webdriver.common.by import By

    _ask(browser, hostile_ui, KEPT_QUESTION)
    _wait(browser, _answered, RESPONSE_CEILING_S)
    assert browser.find_element(By.ID, "status").text == "Done."
    mark = browser.find_element(By.ID, "authorship")
    assert mark.get_attribute("data-written-by") == "model" and mark.text == "Written by scripted", mark.text
    assert "reranking step" in browser.find_element(By.ID, "answer").text
    assert not browser.find_element(By.ID, "draft").is_displayed()
    assert "draft" not in browser.find_element(By.ID, "answer").get_attribute("class")
    assert any(
        text.startswith("Draft from scripted, checking…") for text in browser.execute_script("return window.__marks")
    )

    _ask(browser, hostile_ui, REJECTED_QUESTION)
    _wait(browser, _answered, RESPONSE_CEILING_S)
    assert browser.find_element(By.ID, "status").text == "Done."
    mark = browser.find_element(By.ID, "authorship")
    assert mark.get_attribute("data-written-by") == "author_passages"
    assert mark.find_element(By.CLASS_NAME, "badge").text == "Quoted from the author's sources"
    assert "scripted's reply was rejected: The model's reply did not stick to the sources" in mark.text, mark.text
    answer = browser.find_element(By.ID, "answer")
    assert answer.text.strip() and "Bananas" not in answer.text
    assert "draft" not in answer.get_attribute("class")
    # While it streamed, the rejected reply was shown, marked as a draft; now it is behind the toggle.
    assert any("Bananas" in text for text in browser.execute_script("return window.__shown"))
    assert any(text.startswith("Draft from scripted") for text in browser.execute_script("return window.__marks"))
    toggle = browser.find_element(By.ID, "draft")
    assert toggle.is_displayed() and toggle.get_attribute("open") is None
    assert not browser.find_element(By.ID, "draft-text").is_displayed()
    toggle.find_element(By.TAG_NAME, "summary").click()
    _wait(browser, lambda driver: driver.find_element(By.ID, "draft-text").is_displayed())
    assert browser.find_element(By.ID, "draft-text").text == REJECTED_ANSWER
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT_DIR / "chat-quoted.png"))


def test_add_a_link_watch_it_crawled_and_find_it(browser, ui, crawl_site):  # noqa: F811 - fixture imported above
    from selenium.webdriver.common.by import By

    link = crawl_site.url("/blog/post.html")
    browser.get(f"{ui}/authors")
    _wait(browser, lambda driver: "authors)" in driver.find_element(By.ID, "page").text)
    browser.find_element(By.ID, "author").send_keys("Nora Vale")
    browser.find_element(By.ID, "links").send_keys(link)
    browser.find_element(By.CSS_SELECTOR, "#add-links button[type='submit']").click()
    _wait(browser, lambda driver: "Crawl started" in driver.find_element(By.ID, "add-status").text)

    def job_done(driver: Any) -> str | None:
        rows = driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr")
        statuses = [row.get_attribute("data-status") for row in rows]
        return statuses[0] if statuses and statuses[0] in ("succeeded", "failed") else None

    status = _wait(browser, job_done, CRAWL_JOB_CEILING_S)
    assert status == "succeeded", browser.find_element(By.ID, "jobs").text
    _wait(browser, lambda driver: "Nora Vale" in driver.find_element(By.ID, "authors").text)

    # Searchable now: the feature pipeline indexed the crawled page for retrieval.
    retrieved = httpx.post(
        f"{ui}/retrieve", json={"query": "Fine-tune Llama 3.1 with Unsloth", "k": 10}, timeout=RESPONSE_CEILING_S
    ).json()
    assert link in {source["link"] for source in retrieved["sources"]}
