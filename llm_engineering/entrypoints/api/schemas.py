"""Request and response bodies of the REST API (the public contract; sources are the domain's `Source`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from llm_engineering.domain.queries import Source


def lone_surrogate_at(text: str) -> int | None:
    """Where `text` holds a lone surrogate (so cannot be written as UTF-8), None when it is valid Unicode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return error.start
    return None


def ensure_valid_unicode(value: Any) -> Any:
    """`value` unchanged; ValueError when it holds a string (in lists and dicts too) with a lone surrogate.

    Python's json reads `"\\ud800"` into a str that cannot be encoded as UTF-8: it would fail later, when
    the answer, a trace or an error message that echoes it is written.
    """
    pending = [value]  # a loop, not recursion: a deeply nested body must not overflow the stack
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            position = lone_surrogate_at(item)
            if position is not None:
                raise ValueError(f"the text is not valid Unicode (a lone surrogate at character {position})")
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
    return value


class StrictRequest(BaseModel):
    """Base of every request body: unknown fields, non-finite numbers, booleans as numbers (`true` is not 1),
    numbers as strings and invalid Unicode are all refused with a 422, before any route code runs."""

    # Python's json accepts NaN, Infinity and 1e309 (read as inf): allow_inf_nan=False refuses them.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _keys_are_unicode(cls, data: Any) -> Any:
        # Before pydantic reads the keys: it would answer an unreadable one without saying why.
        for key in data if isinstance(data, dict) else ():
            position = lone_surrogate_at(key) if isinstance(key, str) else None
            if position is not None:
                raise ValueError(f"a key of the body is not valid Unicode (a lone surrogate at character {position})")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _values_are_unicode(cls, value: Any) -> Any:
        return ensure_valid_unicode(value)


class ErrorResponse(BaseModel):
    """A failure in one line (the shape of FastAPI's `HTTPException`)."""

    detail: str


class DependencyErrorResponse(ErrorResponse):
    """503: a dependency of the request failed; `dependency` names it."""

    dependency: str = Field(description="The LLM service, the data warehouse, the vector store or configuration.")


class Readiness(BaseModel):
    """The body of `GET /ready`, 200 or 503 alike."""

    status: Literal["ready", "warming_up", "unavailable"]
    checks: dict[str, dict[str, Any]] = Field(
        description="Per dependency: `ok`, and `latency_s` or `detail`; `warm_up` when a warm-up stage failed."
    )
    waiting_for: list[str] | None = Field(
        default=None, description="While `warming_up`: the warm-up stages not done yet (e.g. embedder)."
    )


READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Readiness, "description": "Warmed up, and every dependency answers."},
    503: {
        "model": Readiness,
        "description": "Still warming up (`waiting_for`), or a dependency or warm-up stage failed (in `checks`).",
    },
}


# The failures of routes that call the stores or the LLM, declared so the OpenAPI schema lists every status.
DEPENDENCY_FAILURES: dict[int | str, dict[str, Any]] = {
    503: {"model": DependencyErrorResponse, "description": "A dependency (named) failed."},
    504: {"model": ErrorResponse, "description": "The request took longer than API_REQUEST_TIMEOUT_S."},
}


def _strip_query(value: str) -> str:
    if not value.strip():
        raise ValueError("the query is blank")
    return value.strip()


# A query: at least one character that is not white space, stored stripped.
QueryText = Annotated[str, Field(min_length=1), AfterValidator(_strip_query)]


class RAGRequest(StrictRequest):
    query: QueryText = Field(description="What to ask or ask for (in the author's voice).")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages in the prompt (default RAG_TOP_K).")
    expand_to_n_queries: int | None = Field(default=None, ge=1, le=10)
    max_new_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)


class Authorship(BaseModel):
    """Who wrote `answer`: the model asked, or the author's own sentences quoted from the sources because the
    answer guard rejected the model's reply (`reason` says why in plain words)."""

    written_by: Literal["model", "author_passages"] = Field(
        description="`model`: the model's reply (tidied); `author_passages`: the author's sentences, quoted."
    )
    model: str = Field(description="The id of the model that was asked for a reply.")
    reason: str | None = Field(
        default=None,
        description="Why the model's reply was rejected (or flagged), in one plain sentence; null when it passed.",
    )


class RAGResponse(BaseModel):
    answer: str
    sources: list[Source] = Field(
        description="The documents of the passages in the prompt, best first; [n] in the answer is source n."
    )
    authorship: Authorship | None = Field(
        default=None, description="Who wrote `answer` and why (see `metadata.generation` for the guard's figures)."
    )
    metadata: dict[str, Any]


class RetrieveRequest(StrictRequest):
    """Retrieval only: the passages the twin would read, without calling the LLM."""

    query: QueryText = Field(description="What to search the author's writing for.")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to return (default RAG_TOP_K).")


class Passage(BaseModel):
    number: int = Field(description="Rank of the passage, from 1.")
    source: int = Field(description="The number of its document in `sources`.")
    chunk_id: str
    document_id: str
    score: float
    content: str


class RetrieveResponse(BaseModel):
    passages: list[Passage]
    sources: list[Source] = Field(description="The passages grouped per document, best first, numbered from 1.")
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


class FeedbackRequest(StrictRequest):
    """A score for one answer, attached to its trace (`metadata.trace_id` of the `/rag` response)."""

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
