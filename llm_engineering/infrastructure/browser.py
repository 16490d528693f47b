"""Headless Chromium for the Selenium crawlers: Debian's `chromium` + `chromium-driver`, paths explicit.

Selenium Manager is never used (it would try to download a driver): the driver path comes from settings.
Each browser gets a fresh profile folder, removed when it is closed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.domain.crawling import CrawlError, CrawlErrorKind

INSTALL_HINT = "install them with `apt-get install chromium chromium-driver` or set CHROMIUM_PATH/CHROMEDRIVER_PATH"
HEADLESS_ARGUMENTS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",  # containers and CI run as root without user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs
    "--disable-background-networking",  # no update checks, no phoning home
    "--disable-quic",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-notifications",
    "--disable-popup-blocking",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    "--log-level=3",
    "--window-size=1280,2000",
)


class ChromiumBrowser:
    """A running headless Chromium and its temporary profile."""

    def __init__(self, driver: Any, profile_dir: Path):
        self._driver = driver
        self.profile_dir = profile_dir

    @property
    def driver(self) -> Any:
        return self._driver

    def close(self) -> None:
        try:
            self._driver.quit()
        except Exception as error:  # noqa: BLE001 - already dead: nothing more to release than its folder
            logger.debug("Chromium was already gone when closing it: {}", error)
        finally:
            shutil.rmtree(self.profile_dir, ignore_errors=True)


def start_chromium(
    chromium_path: Path,
    chromedriver_path: Path,
    page_timeout_s: float = 20.0,
    extra_arguments: Sequence[str] = (),
) -> ChromiumBrowser:
    """Start headless Chromium; raise `CrawlError(BROWSER_ERROR)` with an install hint when it cannot start."""
    for label, path in (("Chromium", chromium_path), ("chromedriver", chromedriver_path)):
        if not Path(path).is_file():
            raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"{label} not found at {path}: {INSTALL_HINT}")

    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    profile_dir = Path(tempfile.mkdtemp(prefix="llm-twin-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_path)
    for argument in (*HEADLESS_ARGUMENTS, f"--user-data-dir={profile_dir}", *extra_arguments):
        options.add_argument(argument)
    options.page_load_strategy = "normal"
    service = Service(executable_path=str(chromedriver_path), log_output=subprocess.DEVNULL)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as error:
        shutil.rmtree(profile_dir, ignore_errors=True)
        message = str(error.msg or error).strip().splitlines()[0] if str(error.msg or error).strip() else repr(error)
        raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"could not start Chromium: {message}") from error
    driver.set_page_load_timeout(page_timeout_s)
    driver.set_script_timeout(page_timeout_s)
    _hide_headless_user_agent(driver)
    return ChromiumBrowser(driver, profile_dir)


def _hide_headless_user_agent(driver: Any) -> None:
    """Send the regular Chrome user agent: some sites answer "HeadlessChrome" with a bot wall instead of the page."""
    from selenium.common.exceptions import WebDriverException

    try:
        agent = str(driver.execute_script("return navigator.userAgent"))
        if "HeadlessChrome" in agent:
            driver.execute_cdp_cmd(
                "Network.setUserAgentOverride", {"userAgent": agent.replace("HeadlessChrome", "Chrome")}
            )
    except WebDriverException as error:  # cosmetic: crawling still works with the headless agent
        logger.debug("Could not override the headless user agent: {}", error)
