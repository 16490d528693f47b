"""The application layer's exceptions, all derived from the project's base error `LLMTwinError`.

Infrastructure adapters translate transport failures into the LLM errors here; use cases raise the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from llm_engineering.domain.exceptions import LLMTwinError


# --- LLM calls ------------------------------------------------------------------------------------------
class LLMError(LLMTwinError):
    """Base class of LLM call failures. `retryable` says whether trying again may help."""

    retryable: bool = False


class LLMUnavailableError(LLMError):
    """The LLM service cannot be reached (connection refused, DNS, server overloaded or 5xx)."""

    retryable = True


class LLMTimeoutError(LLMUnavailableError):
    """The LLM service took the request but did not answer within the configured timeout.

    Not retried: the server may still be generating, and a second request would pile more work on it.
    """

    retryable = False


class LLMServerError(LLMUnavailableError):
    """The LLM service took the request, then failed (a 5xx other than 503, an error while streaming).

    Not retried: only failures before the server accepted the work (refused connection, 429, 503) are.
    """

    retryable = False


class LLMResponseError(LLMError):
    """The service answered, but with an error status (4xx) or a body that is not a valid completion."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


# --- Deadlines ------------------------------------------------------------------------------------------
class RequestCancelledError(LLMTwinError):
    """The caller gave up on this work (its client left): stop now, never retry."""


class DeadlineExceededError(RequestCancelledError, TimeoutError):
    """The caller's deadline passed before this work ended: stop now, never retry."""


# --- Crawling -------------------------------------------------------------------------------------------
class AlreadyCrawledError(LLMTwinError):
    """The document appeared in the warehouse while we crawled it (another writer got there first)."""


class LowContentError(LLMTwinError):
    """The page was fetched but is mostly links or boilerplate, so it is not stored; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- Features -------------------------------------------------------------------------------------------
class UnsupportedCategoryError(LLMTwinError, ValueError):
    """No handler is registered for a data category at this stage."""


class NoAuthorsFoundError(LLMTwinError):
    """None of the requested authors is in the data warehouse."""


class IncompleteWarehouseReadError(LLMTwinError):
    """Some warehouse collections could not be read, so the listing of documents is incomplete."""


# --- Warehouse backup -----------------------------------------------------------------------------------
class BackupValidationError(LLMTwinError):
    """One or more records of a backup are invalid; nothing was imported."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        shown = "\n".join(f"  - {problem}" for problem in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{len(self.problems)} invalid record(s); nothing was imported:\n{shown}{more}")


# --- Datasets -------------------------------------------------------------------------------------------
class DatasetGenerationError(LLMTwinError):
    """A dataset cannot be generated as configured (no source documents, no generator, nothing left)."""


class DatasetFileError(LLMTwinError, ValueError):
    """A dataset file or folder is missing or not in a format we read."""


# --- Evaluation -----------------------------------------------------------------------------------------
class JudgementParseError(LLMTwinError, ValueError):
    """A judge reply is not a usable verdict. `reason` is one of `REASONS`, so failures can be counted."""

    REASONS = ("no_json", "invalid_json", "missing_criterion", "out_of_range", "bad_type", "empty_justification")

    def __init__(self, reason: str, message: str):
        if reason not in self.REASONS:
            raise ValueError(f"unknown judgement failure reason {reason!r}")
        super().__init__(message)
        self.reason = reason


class QuestionSetError(LLMTwinError, ValueError):
    """The twin's question set file is missing, unreadable or invalid (the message names the file and why)."""


# --- Serving --------------------------------------------------------------------------------------------
class ServedModelError(LLMTwinError):
    """A model cannot be served or promoted: a bad spec, an unknown version, or a model the local engine
    cannot serve (the message says which, and what to do)."""


class ServingEngineError(LLMTwinError):
    """The running local LLM server could not load the chosen model; nothing was switched."""


# --- Pipelines ------------------------------------------------------------------------------------------
class UnknownPipelineError(LLMTwinError, KeyError):
    """A pipeline name the pipeline catalogue does not hold (the message lists the names it holds)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else "unknown pipeline"


# --- Pipeline runs ---------------------------------------------------------------------------------------
class PipelineRunFailed(LLMTwinError):
    """A pipeline run raised or ended in a state other than completed; carries what is known of the run."""

    def __init__(self, pipeline: str, run_name: str, reason: str, dashboard_url: str | None = None):
        super().__init__(f"{pipeline} run {run_name} failed: {reason}")
        self.pipeline = pipeline
        self.run_name = run_name
        self.reason = reason
        self.dashboard_url = dashboard_url
