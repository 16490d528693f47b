"""Crawl throughput: sequential vs concurrent, against N generated pages served on 127.0.0.1.

Each page answers after an artificial latency (default 150 ms, a typical article fetch over the
internet) so the figures show what the bounded pool buys. Documents go to a real nx-27017 warehouse
this script starts on a free port (a fresh database per mode, so nothing is skipped). A last run
repeats the concurrent crawl to time skipping links that are already stored.

    poetry run python bench/crawl.py                       # 50 pages, HTTP crawler
    poetry run python bench/crawl.py --pages 100 --workers 8 --selenium   # also the browser path
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from llm_engineering.infrastructure.local.processes import free_port, wait_for_port
from llm_engineering.infrastructure.local.warehouse import embedded_warehouse

PARAGRAPH = (
    "Retrieval-augmented generation grounds a language model in documents it did not see in training; "
    "the feature pipeline cleans, chunks and embeds them so that the inference pipeline can find them. "
)


def _handler(latency_s: float) -> type[BaseHTTPRequestHandler]:
    class GeneratedPages(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            time.sleep(latency_s)  # the network round trip and server time of a real article
            number = self.path.rstrip("/").rsplit("/", 1)[-1]
            body = (
                f"<html lang='en'><head><title>Article {number}</title>"
                f"<meta name='description' content='Generated article {number}'></head><body><article>"
                f"<h1 class='pw-post-title'>Article {number}</h1>"
                + "".join(f"<p>{PARAGRAPH * 4} ({number}.{i})</p>" for i in range(12))
                + "<pre><code>def embed(chunks):\n    return model.encode(chunks)\n</code></pre></article></body></html>"
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return GeneratedPages


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # the browser cancels its favicon request when it moves on: not an error here


@contextmanager
def serve_pages(latency_s: float) -> Iterator[int]:
    port = free_port()
    server = _QuietServer(("127.0.0.1", port), _handler(latency_s))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if not wait_for_port("127.0.0.1", port, timeout_s=20):
        raise TimeoutError(f"nothing answered on 127.0.0.1:{port}")
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()


def run_mode(
    uri: str, links: list[str], crawler: str, workers: int, per_domain: int, browsers: int, database: str
) -> dict:
    from llm_engineering import bootstrap
    from llm_engineering.application.crawlers.crawl_run import crawl_links
    from llm_engineering.domain.documents import UserDocument
    from llm_engineering.settings import load_settings

    # Generated pages do not grow on scroll: a short pause keeps the browser figures about the crawl.
    # The generated pages are on 127.0.0.1: private networks are opened for this run only.
    settings = load_settings(
        DATABASE_HOST=uri, DATABASE_NAME=database, CRAWL_SCROLL_PAUSE_S=0.05, CRAWL_ALLOW_PRIVATE_NETWORKS=True
    )
    container = bootstrap.configure(settings)
    context = container.crawler_context()
    dispatcher = container.crawler_dispatcher({r"^http://127\.0\.0\.1": crawler})
    try:
        user = container.documents().get_or_create(UserDocument, first_name="Bench", last_name="Author")
        started = time.perf_counter()
        report = crawl_links(user, links, dispatcher, context, workers, per_domain, browsers, show_progress=False)
        seconds = time.perf_counter() - started
    finally:
        if context.fetcher is not None:
            context.fetcher.close()
        bootstrap.reset()
    return {"seconds": seconds, "report": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=50, help="generated pages to crawl (default 50)")
    parser.add_argument("--latency-ms", type=float, default=150.0, help="artificial latency per page (default 150)")
    parser.add_argument("--workers", type=int, default=8, help="concurrent workers (default 8)")
    parser.add_argument("--per-domain", type=int, default=None, help="per-domain limit (default: --workers)")
    parser.add_argument("--browsers", type=int, default=2, help="concurrent headless Chromiums (default 2)")
    parser.add_argument("--selenium", action="store_true", help="also time the headless Chromium (Medium) path")
    args = parser.parse_args()
    per_domain = args.per_domain or args.workers

    from loguru import logger

    logger.remove()  # one line per link would drown the figures
    logger.add(sys.stderr, level="WARNING")

    crawlers = ["custom_article", *(["medium"] if args.selenium else [])]
    print(
        f"crawl bench: {args.pages} pages on 127.0.0.1, {args.latency_ms:g} ms latency each, "
        f"workers={args.workers}, per-domain limit={per_domain}, browsers={args.browsers}"
    )
    print(f"{'crawler':<15} {'mode':<28} {'pages':>5} {'ok':>4} {'seconds':>8} {'pages/s':>8}")
    with serve_pages(args.latency_ms / 1000) as port, embedded_warehouse() as uri:
        for crawler in crawlers:
            links = [f"http://127.0.0.1:{port}/articles/{crawler}-{number}" for number in range(args.pages)]
            database = f"bench_{uuid.uuid4().hex[:8]}"
            slots = args.browsers if crawler == "medium" else args.workers
            modes = [
                ("sequential (1 worker)", 1, 1, f"{database}_seq"),
                (f"concurrent ({slots} at once)", args.workers, per_domain, f"{database}_con"),
                ("re-run: all already stored", args.workers, per_domain, f"{database}_con"),
            ]
            for label, workers, limit, db_name in modes:
                browsers = 1 if workers == 1 else args.browsers
                result = run_mode(uri, links, crawler, workers, limit, browsers, db_name)
                report = result["report"]
                done = report.succeeded + report.skipped
                print(
                    f"{crawler:<15} {label:<28} {args.pages:>5} {done:>4} {result['seconds']:>8.2f} "
                    f"{args.pages / result['seconds']:>8.1f}"
                )
                if report.failed:
                    print(f"  {report.failed} failed, e.g. {next(o.reason for o in report.outcomes if o.reason)}")
    print("Browser rows include starting the browsers (about 1 s each); timings are noisy on a shared machine.")


if __name__ == "__main__":
    main()
