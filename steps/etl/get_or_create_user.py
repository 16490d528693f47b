"""Step: the author whose links are crawled, found or created in the warehouse."""

from __future__ import annotations

from typing import Annotated

from loguru import logger
from zenml import log_metadata, step

from llm_engineering.domain.documents import UserDocument


@step
def get_or_create_user(user_full_name: str) -> Annotated[UserDocument, "user"]:
    """Split `user_full_name` ("First Name(s) Last") and return the matching user, creating it if needed."""
    from llm_engineering import bootstrap
    from llm_engineering.domain.names import split_user_full_name

    documents = bootstrap.container().documents()
    logger.info("Getting or creating user: {}", user_full_name)
    first_name, last_name = split_user_full_name(user_full_name)
    user = documents.get_or_create(UserDocument, first_name=first_name, last_name=last_name)
    log_metadata(
        metadata={
            "query": {"user_full_name": user_full_name},
            "retrieved": {"user_id": str(user.id), "first_name": user.first_name, "last_name": user.last_name},
        },
        infer_artifact=True,
    )
    return user
