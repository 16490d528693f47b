"""Crawler integration fixtures: the local site, a local git repository and one shared headless Chromium."""

from tests.fixtures.crawl_server import (  # noqa: F401  (fixtures are found by name)
    borrowed_browser_factory,
    crawl_site,
    git_repository,
    shared_browser,
)
