"""The data collection pipeline: an author and their links in, raw documents in the warehouse out."""

from __future__ import annotations

from zenml import pipeline

from pipelines.docker import PIPELINE_SETTINGS
from steps.alerts import notify_on_failure
from steps.etl import crawl_links, get_or_create_user


@pipeline(on_failure=notify_on_failure, settings=PIPELINE_SETTINGS)
def digital_data_etl(user_full_name: str, links: list[str], crawler_routes: dict[str, str] | None = None) -> str:
    """Get or create the user, crawl the links under them; return the last step's invocation id.

    Downstream pipelines (`end_to_end_data`) pass the id as `wait_for` to run after the crawl.
    """
    user = get_or_create_user(user_full_name)
    last_step = crawl_links(user=user, links=links, crawler_routes=crawler_routes)
    return last_step.invocation_id
