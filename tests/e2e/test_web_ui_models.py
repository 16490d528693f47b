"""The /models page in headless Chromium against the service under uvicorn, on a tiny registry built here
(three `llm_twin` versions, v1 in production, nothing downloaded): the versions table reads well at 1024 and
1366 px (no header wrapped, no word broken mid-word, nothing wider than the page), and "Serve this version"
switches the model shown as answering, and the one the service's LLM client asks, without a restart.

Screenshots: output/ui/models-1024.png and output/ui/models-1366.png."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.unit.model.test_registry import two_stages

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "output" / "ui"
WIDTHS = (1024, 1366)
GENEROUS_S = 60.0

# Per table cell or header: its text, whether the text takes more than one line, the words that are split
# over two lines, and whether the content is wider than the box.
LAYOUT_PROBLEMS = """
const problems = [];
const table = document.querySelector(arguments[0]);
for (const cell of table.querySelectorAll("th, td")) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.textContent.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
      if (tops.size > 1) problems.push(`word broken over ${tops.size} lines: ${JSON.stringify(match[0])}`);
    }
  }
  if (cell.scrollWidth > cell.clientWidth + 1) problems.push(`overflows its cell: ${JSON.stringify(cell.textContent)}`);
}
for (const header of table.querySelectorAll("thead th")) {
  const range = document.createRange();
  range.selectNodeContents(header);
  const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
  if (tops.size !== 1) problems.push(`header on ${tops.size} lines: ${JSON.stringify(header.textContent)}`);
}
const box = table.closest(".table-scroll") || table.parentElement;
if (box.scrollWidth > box.clientWidth + 1) problems.push(`table wider than the page: ${box.scrollWidth} > ${box.clientWidth}`);
return problems;
"""


def _register_twins(data_dir: Path, work: Path) -> None:
    """`llm_twin` v1..v3 (Gemma 3 configs, so every engine can serve them), held-out losses, v1 in production."""
    from llm_engineering.model.registry import ModelRegistry

    registry = ModelRegistry(data_dir / "registry")
    for version in range(1, 4):
        stages = two_stages(work / f"run-{version}")
        registered = registry.register(
            "llm_twin",
            stages,
            metrics={
                "heldout_instruct_base_loss": 2.7,
                "heldout_instruct_sft_loss": 2.1 - version / 10,
                "heldout_instruct_dpo_loss": 2.05 - version / 10,
            },
        )
        (registered.merged_dir / "config.json").write_text(json.dumps({"model_type": "gemma3_text"}))
    registry.promote("llm_twin", 1, reason="the first twin")


@pytest.fixture(scope="module")
def models_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The service (API and UI) under uvicorn in this process, its registry and served-model record in a
    temporary folder, no local LLM server asked (a free port), stores that the page never touches."""
    import uvicorn

    from llm_engineering.bootstrap import Container
    from llm_engineering.entrypoints.api import create_app
    from llm_engineering.settings import load_settings

    root = tmp_path_factory.mktemp("models-ui")
    _register_twins(root / "local", root / "work")
    settings = load_settings(
        env_file=root / "none.env",
        LOCAL_DATA_DIR=root / "local",
        LOCAL_LLM_PORT=free_port(),
        LLM_BASE_URL=f"http://127.0.0.1:{free_port()}/v1",
    )
    container = Container(settings, warehouse=object(), vector_store=object())
    app = create_app(settings, container=container, warm_up_on_start=False)
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="models-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + GENEROUS_S
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    host, port = listener.getsockname()[:2]
    try:
        yield {"base": f"http://{host}:{port}", "container": container, "data_dir": root / "local"}
    finally:
        server.should_exit = True
        thread.join(GENEROUS_S)
        listener.close()
        container.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from llm_engineering.domain.exceptions import CrawlError
    from llm_engineering.infrastructure.browser import start_chromium
    from llm_engineering.settings import load_settings

    settings = load_settings()
    try:
        # No egress proxy: this browser only opens the service on 127.0.0.1.
        chromium = start_chromium(settings.CHROMIUM_PATH, settings.CHROMEDRIVER_PATH, page_timeout_s=30.0)
    except CrawlError as error:
        pytest.skip(f"headless Chromium unavailable: {error}")
    try:
        yield chromium._driver
    finally:
        chromium.close()


def _wait(driver: Any, condition, timeout_s: float = GENEROUS_S) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        waiter = WebDriverWait(
            driver, timeout_s, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
        )
        return waiter.until(condition)
    except TimeoutException:
        pytest.fail(f"timed out on {driver.current_url}:\n{driver.find_element(By.TAG_NAME, 'main').text}")


def _open(driver: Any, base: str, width: int) -> None:
    """The /models page at a viewport `width` px wide, once its script has drawn the tables."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
    )
    driver.get(f"{base}/models")
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.modelsLoaded === 'true'"))
    assert driver.execute_script("return window.innerWidth") == width


def _answering(driver: Any) -> str:
    return driver.execute_script("return document.getElementById('llm-heading').dataset.modelId || ''")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_versions_table_reads_well(browser, models_ui, width):
    from selenium.webdriver.common.by import By

    _open(browser, models_ui["base"], width)
    headers = [header.text for header in browser.find_elements(By.CSS_SELECTOR, "#registered thead th")]
    assert headers == ["Version", "Created", "Stages", "Held-out loss", "Status", "Actions"]
    rows = browser.find_elements(By.CSS_SELECTOR, "#registered tbody tr")
    assert [row.get_attribute("data-spec") for row in rows] == ["llm_twin:v3", "llm_twin:v2", "llm_twin:v1", "base"]

    assert browser.execute_script(LAYOUT_PROBLEMS, "#registered") == []
    # Every header is one line high: as high as the shortest header cell can be.
    heights = browser.execute_script(
        "return [...document.querySelectorAll('#registered thead th')].map((th) => {"
        "  const range = document.createRange(); range.selectNodeContents(th);"
        "  return range.getBoundingClientRect().height; })"
    )
    assert max(heights) - min(heights) < 1 and max(heights) < 30, heights

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT_DIR / f"models-{width}.png"))
    assert (SCREENSHOT_DIR / f"models-{width}.png").stat().st_size > 10_000


def test_the_layout_check_catches_a_squashed_table(browser, models_ui):
    """The check above is not blind: with the page's old rule (words broken anywhere) in a narrow table, it
    reports the broken headers ("Versio/n")."""
    _open(browser, models_ui["base"], 1024)
    # Through the CSSOM: the page's Content-Security-Policy refuses an injected <style> element.
    browser.execute_script(
        "const table = document.getElementById('registered');"
        "table.style.tableLayout = 'fixed'; table.style.width = '360px';"
        "for (const cell of table.querySelectorAll('th, td, th *, td *')) {"
        "  cell.style.overflowWrap = 'anywhere'; cell.style.whiteSpace = 'normal'; }"
    )
    problems = browser.execute_script(LAYOUT_PROBLEMS, "#registered")
    assert any(problem.startswith("header on") for problem in problems), problems
    assert any(problem.startswith("word broken") for problem in problems), problems


def test_serve_this_version_switches_the_model_answering(browser, models_ui):
    from selenium.webdriver.common.by import By

    _open(browser, models_ui["base"], 1366)
    # Nothing chosen yet: the production version answers, and its row says so.
    assert _answering(browser) == "llm_twin-v1"
    assert "production" in browser.find_element(By.ID, "llm").text
    served_rows = browser.find_elements(By.CSS_SELECTOR, "#registered tbody tr[data-served='true']")
    assert [row.get_attribute("data-spec") for row in served_rows] == ["llm_twin:v1"]
    v1 = browser.find_element(By.CSS_SELECTOR, "#registered tr[data-spec='llm_twin:v1']")
    assert not v1.find_element(By.CSS_SELECTOR, "button[data-action='serve']").is_enabled()
    assert v1.find_element(By.CSS_SELECTOR, ".badge.production").text == "production"

    row = browser.find_element(By.CSS_SELECTOR, "#registered tr[data-spec='llm_twin:v3']")
    row.find_element(By.CSS_SELECTOR, "button[data-action='serve']").click()

    _wait(browser, lambda driver: _answering(driver) == "llm_twin-v3")
    status = browser.find_element(By.ID, "switch-status")
    assert "The API asks llm_twin-v3 from its next request on" in status.text
    assert "ok" in status.get_attribute("class")
    answering = browser.find_element(By.ID, "llm").text
    assert "llm_twin-v3" in answering and "chosen by web UI" in answering
    served_rows = browser.find_elements(By.CSS_SELECTOR, "#registered tbody tr[data-served='true']")
    assert [row.get_attribute("data-spec") for row in served_rows] == ["llm_twin:v3"]
    # The service asks the new model on its next LLM request, without a restart.
    assert models_ui["container"].llm().model_id == "llm_twin-v3"
    record = json.loads((models_ui["data_dir"] / "models" / "served.json").read_text())
    assert record["spec"] == "llm_twin:v3" and record["by"] == "web UI"
    assert browser.execute_script(LAYOUT_PROBLEMS, "#registered") == []
    browser.save_screenshot(str(SCREENSHOT_DIR / "models-switched.png"))


def test_a_refused_switch_is_explained_in_plain_words(browser, models_ui):
    from selenium.webdriver.common.by import By

    merged = models_ui["data_dir"] / "registry" / "llm_twin" / "v2" / "dpo" / "merged"
    (merged / "tokenizer_config.json").write_text("{}")  # the chat template gone: not servable any more
    try:
        _open(browser, models_ui["base"], 1024)
        before = _answering(browser)
        row = browser.find_element(By.CSS_SELECTOR, "#registered tr[data-spec='llm_twin:v2']")
        row.find_element(By.CSS_SELECTOR, "button[data-action='serve']").click()
        _wait(browser, lambda driver: "error" in driver.find_element(By.ID, "switch-status").get_attribute("class"))
        message = browser.find_element(By.ID, "switch-status").text
        assert message.startswith("llm_twin:v2 was not served: llm_twin:v2 cannot be served:"), message
        assert "no chat template" in message and "422" not in message
        assert _answering(browser) == before
    finally:
        (merged / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages[0]['content'] }}"}))


def test_mark_production_from_the_page(browser, models_ui):
    from selenium.webdriver.common.by import By

    _open(browser, models_ui["base"], 1366)
    row = browser.find_element(By.CSS_SELECTOR, "#registered tr[data-spec='llm_twin:v2']")
    row.find_element(By.CSS_SELECTOR, "button[data-action='promote']").click()
    _wait(
        browser,
        lambda driver: driver.find_elements(
            By.CSS_SELECTOR, "#registered tr[data-spec='llm_twin:v2'] .badge.production"
        ),
    )
    assert "Production: llm_twin:v2 (before: llm_twin:v1)." in browser.find_element(By.ID, "switch-status").text
    assert not browser.find_elements(By.CSS_SELECTOR, "#registered tr[data-spec='llm_twin:v1'] .badge.production")
