"""ZenML steps of the data collection (ETL) pipeline."""

from steps.etl.crawl_links import crawl_links
from steps.etl.get_or_create_user import get_or_create_user

__all__ = ["crawl_links", "get_or_create_user"]
