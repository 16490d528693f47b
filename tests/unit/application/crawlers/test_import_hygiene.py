"""Importing the crawl code starts nothing and loads no browser, HTTP, HTML-parsing or ZenML library."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

PROBE = r"""
import json, sys
import llm_engineering.application.crawlers.crawl_run
import llm_engineering.application.crawlers.dispatcher
import llm_engineering.bootstrap, llm_engineering.infrastructure.browser
import llm_engineering.infrastructure.http_pages, llm_engineering.application.crawlers.content_quality
heavy = sorted(m for m in ("selenium", "zenml", "torch", "httpx", "bs4", "html2text", "langchain_community",
                           "trafilatura", "lxml", "charset_normalizer") if m in sys.modules)
print(json.dumps(heavy))
"""


def test_crawl_modules_import_light(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"ENV_FILE": str(tmp_path / "none.env"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_missing_chromium_is_a_browser_error_with_the_install_hint(tmp_path):
    from llm_engineering.domain.crawling import CrawlErrorKind
    from llm_engineering.domain.exceptions import CrawlError
    from llm_engineering.infrastructure.browser import start_chromium

    with pytest.raises(CrawlError) as caught:
        start_chromium(tmp_path / "no-chromium", tmp_path / "no-driver")

    assert caught.value.kind is CrawlErrorKind.BROWSER_ERROR
    assert "apt-get install chromium chromium-driver" in caught.value.reason
