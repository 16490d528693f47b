"""Request and response bodies of the REST API (the public contract; sources are the domain's `Source`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from llm_engineering.domain.queries import Source


def _strip_query(value: str) -> str:
    if not value.strip():
        raise ValueError("the query is blank")
    return value.strip()


# A query: at least one character that is not white space, stored stripped.
QueryText = Annotated[str, Field(min_length=1), AfterValidator(_strip_query)]


class RAGRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: QueryText = Field(description="What to ask or ask for (in the author's voice).")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages in the prompt (default RAG_TOP_K).")
    expand_to_n_queries: int | None = Field(default=None, ge=1, le=10)
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)


class RAGResponse(BaseModel):
    answer: str
    sources: list[Source] = Field(description="The documents of the passages in the prompt, best first.")
    metadata: dict[str, Any]


class RetrieveRequest(BaseModel):
    """Retrieval only: the passages the twin would read, without calling the LLM."""

    model_config = ConfigDict(extra="forbid")

    query: QueryText = Field(description="What to search the author's writing for.")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to return (default RAG_TOP_K).")


class Passage(BaseModel):
    number: int = Field(description="Rank of the passage, from 1.")
    chunk_id: str
    document_id: str
    score: float
    content: str


class RetrieveResponse(BaseModel):
    passages: list[Passage]
    sources: list[Source] = Field(description="The passages grouped per document, best first.")
    metadata: dict[str, Any]


def check_query_length(request: RAGRequest | RetrieveRequest, max_query_chars: int) -> None:
    """422 in FastAPI's own error shape when the query exceeds the configured limit (RAG_MAX_QUERY_CHARS)."""
    if len(request.query) > max_query_chars:
        raise RequestValidationError(
            [
                {
                    "type": "string_too_long",
                    "loc": ("body", "query"),
                    "msg": f"String should have at most {max_query_chars} characters",
                    "input": request.query[:80] + "...",
                    "ctx": {"max_length": max_query_chars},
                }
            ]
        )


class FeedbackRequest(BaseModel):
    """A score for one answer, attached to its trace (`metadata.trace_id` of the `/rag` response)."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    score: float = Field(ge=0, le=1, description="1 = good answer (thumbs up), 0 = bad (thumbs down).")
    name: str = Field(
        default="user_feedback", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Score name."
    )
    reason: str | None = Field(default=None, max_length=2000, description="Why, in the user's words.")


class FeedbackResponse(BaseModel):
    recorded: bool = Field(description="False when prompt monitoring is off: nothing was stored.")
    trace_id: str
    name: str
    detail: str
