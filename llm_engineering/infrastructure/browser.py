"""Headless Chromium behind the `Browser` port: Debian's `chromium` + `chromium-driver`, paths explicit.

All Selenium code lives here: WebDriver calls, Chrome `ERR_*` error pages and WebDriver exceptions are
translated into `CrawlError` kinds, so crawlers see plain strings and one exception type.
Selenium Manager is never used (it would try to download a driver): the driver path comes from settings.
Each browser gets a fresh profile folder, removed when it is closed. Selenium is imported lazily, so
importing this module stays cheap.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loguru import logger

from llm_engineering.application.crawlers.egress import EgressPolicy
from llm_engineering.domain.crawling import CrawlErrorKind
from llm_engineering.domain.exceptions import CrawlError
from llm_engineering.infrastructure.egress_proxy import EgressProxy

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
# With the egress proxy: every request (loopback too) goes through it, and nothing leaks around it.
PROXIED_ARGUMENTS: tuple[str, ...] = (
    "--proxy-bypass-list=<-loopback>",
    "--dns-prefetch-disable",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)
_SILENCED_FEATURES = (
    "OptimizationHints",
    "OptimizationGuideModelDownloading",
    "OptimizationHintsFetching",
    "OptimizationTargetPrediction",
    "MediaRouter",
    "Translate",
    "AutofillServerCommunication",
    "CertificateTransparencyComponentUpdater",
    "NetworkTimeServiceQuerying",
)
# Chromium's own calls home that --disable-background-networking leaves on (seen through the egress proxy:
# optimization hints, sign-in, phishing models, reliability reports); the proxy refuses what remains by name.
QUIET_ARGUMENTS: tuple[str, ...] = (
    "--disable-client-side-phishing-detection",
    "--disable-default-apps",
    "--disable-domain-reliability",
    f"--disable-features={','.join(_SILENCED_FEATURES)}",
    "--metrics-recording-only",
    "--no-pings",
    "--safebrowsing-disable-auto-update",
    "--allow-browser-signin=false",
)

# How a connection the egress proxy refused or failed shows in Chromium: the proxy's 403/502 page, or a failed
# tunnel. Other failures (too large, not HTML, a timeout) are the page's own, whatever else the proxy refused.
_PROXY_FAILURE_KINDS = frozenset(
    {CrawlErrorKind.HTTP_ERROR, CrawlErrorKind.CONNECTION_FAILED, CrawlErrorKind.DNS_FAILURE}
)
# Chrome shows its own error page (no exception) for most network failures; its code tells them apart.
_CHROME_ERROR = re.compile(r"\b(?:net::)?(ERR_[A-Z_]+)\b")
_DNS_CODES = {"ERR_NAME_NOT_RESOLVED", "ERR_NAME_RESOLUTION_FAILED"}
_TIMEOUT_CODES = {"ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT"}
# WebDriver messages that mean the browser session itself is gone, not just this call.
_DEAD_SESSION_MARKERS = (
    "invalid session",
    "no such window",
    "session deleted",
    "crashed",
    "disconnected",
    "not reachable",
)
# Set on the current page before loading a new one: if it survives `get`, no new page loaded (a download).
_STALE_MARKER = "window.__llmTwinStale = true;"
_NAVIGATION_PROBE = (
    "const entry = performance.getEntriesByType('navigation')[0];"
    "return [entry ? entry.responseStatus : null, document.contentType, location.href, window.__llmTwinStale === true];"
)
# Visible text only, read in one script call so a page changing underneath cannot leave stale elements.
_VISIBLE_TEXTS = (
    "return Array.from(document.querySelectorAll(arguments[0]),"
    " (element) => element.getClientRects().length ? element.innerText.trim() : '');"
)
_WAIT_POLL_S = 0.1


def classify_network_error(code: str, link: str) -> CrawlError:
    """A Chrome `ERR_*` code to the crawl error it means (DNS, timeout, or any other connection failure)."""
    if code in _DNS_CODES:
        return CrawlError(CrawlErrorKind.DNS_FAILURE, f"DNS lookup failed for {link} ({code})")
    if code in _TIMEOUT_CODES:
        return CrawlError(CrawlErrorKind.TIMEOUT, f"timed out connecting to {link} ({code})")
    return CrawlError(CrawlErrorKind.CONNECTION_FAILED, f"could not connect to {link} ({code})")


def _webdriver_message(error: Exception) -> str:
    return str(getattr(error, "msg", None) or error).strip()


class ChromiumBrowser:
    """A running headless Chromium and its temporary profile; implements the `Browser` port.

    Built by `start_chromium`; `driver` is the Selenium WebDriver, used only inside this module. With an
    `egress_proxy`, Chromium's traffic goes through it and `open` refuses what the policy refuses.
    """

    def __init__(
        self, driver: Any, profile_dir: Path, page_timeout_s: float = 20.0, egress_proxy: EgressProxy | None = None
    ):
        self._driver = driver
        self.profile_dir = profile_dir
        self.page_timeout_s = page_timeout_s
        self.egress_proxy = egress_proxy
        self._broken = False

    # --- State --------------------------------------------------------------------------------
    @property
    def is_broken(self) -> bool:
        return self._broken

    @property
    def current_url(self) -> str:
        with self._translated("read the current address"):
            return str(self._driver.current_url)

    @property
    def page_source(self) -> str:
        with self._translated("read the page"):
            return str(self._driver.page_source)

    # --- Navigation ---------------------------------------------------------------------------
    def open(self, url: str, *, max_bytes: int | None = None) -> None:
        """Load `url`; raise `CrawlError` (see the `Browser` port) unless it is a successful, small enough HTML page."""
        started = time.monotonic()
        if self.egress_proxy is not None:  # a refused link fails here, with its reason, before any request
            self.egress_proxy.policy.check_url(url)
        try:
            self._open(url, max_bytes)
        except CrawlError as error:
            refusal = self.egress_proxy.refusal_since(started) if self.egress_proxy is not None else None
            if refusal is not None and error.kind in _PROXY_FAILURE_KINDS:
                # The page failed because the proxy refused or could not make a connection (a redirect to a
                # private address, a refused port): report that cause rather than the proxy's 403/502.
                raise CrawlError(refusal.kind, refusal.reason) from error
            raise

    def _open(self, url: str, max_bytes: int | None) -> None:
        from selenium.common.exceptions import TimeoutException, WebDriverException

        try:
            # Mark the current page: if the marker survives `get`, no new page loaded (a download), and the
            # previous page must not be read as this link. (Cheaper than loading about:blank in between.)
            self._driver.execute_script(_STALE_MARKER)
            self._driver.get(url)
        except TimeoutException as error:
            self._stop_loading()
            raise CrawlError(CrawlErrorKind.TIMEOUT, f"page did not load within {self.page_timeout_s:g}s") from error
        except WebDriverException as error:
            message = _webdriver_message(error)
            match = _CHROME_ERROR.search(message)
            if match:
                raise classify_network_error(match.group(1), url) from error
            self._mark_broken_if_dead(message)
            raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"browser failed on {url}: {message}") from error
        except Exception as error:
            raise self._lost(f"open {url}", error) from error
        with self._translated(f"check {url}"):
            self._check_loaded_page(url, max_bytes)

    def _check_loaded_page(self, url: str, max_bytes: int | None) -> None:
        status, content_type, location, stale = self._driver.execute_script(_NAVIGATION_PROBE)
        if str(location).startswith("chrome-error://"):
            match = _CHROME_ERROR.search(self._driver.page_source)
            raise classify_network_error(match.group(1) if match else "ERR_FAILED", url)
        if stale or location == "about:blank":
            raise CrawlError(CrawlErrorKind.NOT_HTML, "the link is a file download, not an HTML page")
        if status and int(status) >= 400:
            raise CrawlError(CrawlErrorKind.HTTP_ERROR, f"HTTP {int(status)} from {url}")
        if content_type and "html" not in str(content_type):
            raise CrawlError(CrawlErrorKind.NOT_HTML, f"content type {content_type} is not HTML")
        if max_bytes is not None:
            size = len(self._driver.page_source.encode("utf-8"))
            if size > max_bytes:
                raise CrawlError(CrawlErrorKind.TOO_LARGE, f"page is {size} bytes, over the {max_bytes}-byte limit")

    def _stop_loading(self) -> None:
        try:
            self._driver.execute_script("window.stop();")
        except Exception as error:  # noqa: BLE001 - the browser may be wedged: it must not serve another link
            logger.warning("Could not stop a timed-out page load ({}); the browser will be restarted.", error)
            self._broken = True

    def scroll_to_bottom(self, limit: int, pause_s: float) -> int:
        """Scroll until the page height stops growing or `limit` scrolls are done; return the scrolls done."""
        with self._translated("scroll the page"):
            height = self._driver.execute_script("return document.body ? document.body.scrollHeight : 0")
            scrolls = 0
            while scrolls < limit:
                self._driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
                scrolls += 1
                time.sleep(pause_s)  # let lazy content load
                new_height = self._driver.execute_script("return document.body.scrollHeight")
                if new_height == height:
                    break
                height = new_height
            return scrolls

    # --- Forms --------------------------------------------------------------------------------
    def fill(self, css_selector: str, text: str) -> None:
        with self._translated(f"fill {css_selector!r}"):
            element = self._find(css_selector)
            element.clear()
            element.send_keys(text)

    def click(self, css_selector: str) -> None:
        with self._translated(f"click {css_selector!r}"):
            self._find(css_selector).click()

    def texts(self, css_selector: str) -> list[str]:
        with self._translated(f"read {css_selector!r}"):
            return [str(text) for text in self._driver.execute_script(_VISIBLE_TEXTS, css_selector) or []]

    def wait_until(self, condition: Callable[[ChromiumBrowser], bool], timeout_s: float) -> bool:
        """Poll `condition(self)` every 0.1 s; True once it holds, False after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        last_error: CrawlError | None = None
        while True:
            try:
                if condition(self):
                    return True
                last_error = None
            except CrawlError as error:
                # A page being replaced can fail a read; only a dead browser or the deadline stops the wait.
                if error.kind is not CrawlErrorKind.BROWSER_ERROR or self._broken:
                    raise
                last_error = error
            if time.monotonic() >= deadline:
                if last_error is not None:
                    raise last_error
                return False
            time.sleep(_WAIT_POLL_S)

    # --- Pictures -----------------------------------------------------------------------------
    def screenshot(self, path: Path) -> Path:
        """Save the visible part of the page (the window size) as a PNG at `path`; return `path`."""
        with self._translated("take a screenshot"):
            png = self._driver.get_screenshot_as_png()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        return path

    def _find(self, css_selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self._driver.find_element(By.CSS_SELECTOR, css_selector)

    # --- Errors -------------------------------------------------------------------------------
    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Turn WebDriver exceptions raised inside the block into `CrawlError` (TIMEOUT or BROWSER_ERROR)."""
        from selenium.common.exceptions import NoSuchElementException, TimeoutException, WebDriverException

        try:
            yield
        except CrawlError:
            raise
        except NoSuchElementException as error:
            raise CrawlError(
                CrawlErrorKind.BROWSER_ERROR, f"could not {action}: no such element on {self._location()}"
            ) from error
        except TimeoutException as error:
            raise CrawlError(
                CrawlErrorKind.TIMEOUT, f"could not {action}: no answer within {self.page_timeout_s:g}s"
            ) from error
        except WebDriverException as error:
            message = _webdriver_message(error)
            self._mark_broken_if_dead(message)
            first_line = message.splitlines()[0] if message else repr(error)
            raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"could not {action}: {first_line}") from error
        except Exception as error:
            raise self._lost(action, error) from error

    def _lost(self, action: str, error: Exception) -> CrawlError:
        """A failure outside WebDriver's own errors (e.g. chromedriver's connection refused): the browser is gone."""
        self._broken = True
        return CrawlError(
            CrawlErrorKind.BROWSER_ERROR, f"could not {action}: lost the browser ({type(error).__name__})"
        )

    def _location(self) -> str:
        try:
            return str(self._driver.current_url)
        except Exception:  # noqa: BLE001 - only used to word an error message
            return "the page"

    def _mark_broken_if_dead(self, message: str) -> None:
        lowered = message.lower()
        if any(marker in lowered for marker in _DEAD_SESSION_MARKERS):
            self._broken = True

    # --- Lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        try:
            self._driver.quit()
        except Exception as error:  # noqa: BLE001 - already dead: nothing more to release than its folder
            logger.debug("Chromium was already gone when closing it: {}", error)
        finally:
            shutil.rmtree(self.profile_dir, ignore_errors=True)
            if self.egress_proxy is not None:
                self.egress_proxy.close()


def start_chromium(
    chromium_path: Path,
    chromedriver_path: Path,
    page_timeout_s: float = 20.0,
    extra_arguments: Sequence[str] = (),
    egress: EgressPolicy | None = None,
) -> ChromiumBrowser:
    """Start headless Chromium; raise `CrawlError(BROWSER_ERROR)` with an install hint when it cannot start.

    `page_timeout_s` bounds each page load and script; `extra_arguments` are added to the Chromium command line.
    With `egress` (every crawler's browser), all of Chromium's traffic goes through an `EgressProxy` enforcing
    it; without it (a test driving the project's own UI) Chromium connects directly.
    """
    for label, path in (("Chromium", chromium_path), ("chromedriver", chromedriver_path)):
        if not Path(path).is_file():
            raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"{label} not found at {path}: {INSTALL_HINT}")

    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    # Relays idle for minutes are allowed (a page streaming slowly); closing the browser closes them all.
    proxy = EgressProxy(egress).start() if egress is not None else None
    proxy_arguments = (f"--proxy-server={proxy.proxy_url}", *PROXIED_ARGUMENTS) if proxy is not None else ()
    profile_dir = Path(tempfile.mkdtemp(prefix="llm-twin-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_path)
    arguments = (*HEADLESS_ARGUMENTS, *QUIET_ARGUMENTS, *proxy_arguments, f"--user-data-dir={profile_dir}")
    for argument in (*arguments, *extra_arguments):
        options.add_argument(argument)
    options.page_load_strategy = "normal"
    service = Service(executable_path=str(chromedriver_path), log_output=subprocess.DEVNULL)
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as error:
        shutil.rmtree(profile_dir, ignore_errors=True)
        if proxy is not None:
            proxy.close()
        message = _webdriver_message(error)
        message = message.splitlines()[0] if message else repr(error)
        raise CrawlError(CrawlErrorKind.BROWSER_ERROR, f"could not start Chromium: {message}") from error
    driver.set_page_load_timeout(page_timeout_s)
    driver.set_script_timeout(page_timeout_s)
    _hide_headless_user_agent(driver)
    return ChromiumBrowser(driver, profile_dir, page_timeout_s, egress_proxy=proxy)


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
