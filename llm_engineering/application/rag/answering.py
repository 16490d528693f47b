"""Answer generation: retrieved passages + the question -> the LLM -> a readable answer with its sources.

The prompt holds the best passages that fit `max_context_chars`, as one numbered block per source
document ([1]..[n], see `citations`); the sources list exactly those documents with the same numbers, so
`[n]` in the answer is the n-th source. The raw reply is tidied (`answer_cleanup`): loops, runaway
template text, citations of sources not in the prompt and a sentence cut off by the token limit are
removed, and the trace says what was removed.

Then the answer guard checks what is left: a reply that still loops, is too short to say anything, or
is not grounded in the passages (few of its content words occur in them) is replaced, when the guard's
fallback is `extractive`, by the author's own best-matching sentences from the passages, cited; the
trace's `answer_source` says `model` or `extractive` and why, and its `reply` holds the model reply's
words, grounding and repetition whichever answer was shown. The answer's `authorship` says the same for a
reader: who wrote it (the model asked, or the author's quoted sentences) and why, in plain words.

`stream` gives the same answer as `generate`, as events: the sources, the reply's text deltas as the
model writes them, then the final answer (whose text replaces the deltas when cleanup or the guard
changed it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Literal

from llm_engineering.application.llm.client import (
    ChatMessage,
    GenerationParameters,
    LLMClient,
    LLMResponse,
    stream_chat,
)
from llm_engineering.application.ports import Embedder
from llm_engineering.application.rag.answer_cleanup import clean_answer
from llm_engineering.application.rag.answer_quality import grounding_score, repetition_rate, request_echo, words
from llm_engineering.application.rag.authorship import Authorship, authorship_of
from llm_engineering.application.rag.citations import context_blocks
from llm_engineering.application.rag.extractive import extractive_answer
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk, group_sources
from llm_engineering.domain.prompts import STOP_SEQUENCES, number_passages, rag_turns
from llm_engineering.domain.queries import Source
from llm_engineering.domain.serving import ServedShape

# Enough for the default k passages of the book's chunk sizes; a small CPU model slows down on long prompts.
DEFAULT_MAX_CONTEXT_CHARS = 6000


@dataclass(frozen=True)
class AnswerGuard:
    """When a model reply is not worth showing, and what to show instead."""

    fallback: Literal["extractive", "none"] = "extractive"
    min_grounding: float = 0.35
    max_repetition: float = 0.2
    # Fewer words than this says nothing (a strong model's short factual answer still passes).
    min_words: int = 8
    # The reply must be about the request about as much as the best passage is (cosine with the embedder).
    min_relative_relevance: float = 0.6
    # A reply whose content words are nearly all the request's only says the request back.
    max_request_echo: float = 0.8

    def problem(
        self,
        answer: str,
        passages: list[str],
        relevance: tuple[float, float] | None = None,
        request: str | None = None,
    ) -> str | None:
        """Why `answer` fails the guard, or None when it passes (no passages: nothing to check against).

        `relevance` is (reply vs request, best passage vs request), cosine with the embedder, when known.
        """
        if not passages:
            return None
        if len(words(answer)) < self.min_words:
            return f"the reply has fewer than {self.min_words} words"
        if request:
            echo = request_echo(answer, request)
            if echo >= self.max_request_echo:
                return f"the reply restates the request (echo {echo:.2f} >= {self.max_request_echo})"
        repetition = repetition_rate(answer)
        if repetition > self.max_repetition:
            return f"the reply repeats itself (repetition {repetition:.2f} > {self.max_repetition})"
        grounding = grounding_score(answer, passages)
        if grounding < self.min_grounding:
            return f"the reply is not grounded in the passages (grounding {grounding:.2f} < {self.min_grounding})"
        if relevance is not None:
            reply, best = relevance
            if best > 0 and reply < self.min_relative_relevance * best:
                return f"the reply is off the request's topic (relevance {reply:.2f}, best passage {best:.2f})"
        return None


@dataclass
class RAGAnswer:
    answer: str
    sources: list[Source]
    trace: dict = field(default_factory=dict)
    # Who wrote `answer` (the model, or the author's quoted sentences) and why, in plain words.
    authorship: Authorship | None = None


@dataclass(frozen=True)
class StreamedSources:
    """First event of a streamed answer: the documents of the passages in the prompt, and the retrieval trace."""

    sources: list[Source]
    retrieval: dict
    # The model asked for the reply: the streamed text is its draft until the guard has checked it.
    model: str = ""

    def __str__(self) -> str:  # monitoring joins a stream's events into its output: only the text counts
        return ""


@dataclass(frozen=True)
class StreamedText:
    """A piece of the model's raw reply, as it is generated."""

    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class StreamedAnswer:
    """Last event: the answer `generate` would return (cleaned and guarded: may differ from the pieces joined)."""

    answer: RAGAnswer

    def __str__(self) -> str:
        return ""


AnswerEvent = StreamedSources | StreamedText | StreamedAnswer


@dataclass(frozen=True)
class _Prompt:
    parameters: GenerationParameters
    passages: list[ScoredChunk]
    messages: list[ChatMessage]
    sources: list[Source]
    # The numbered context: block n holds the passages of source n.
    blocks: list[str]


def select_passages(chunks: list[ScoredChunk], max_context_chars: int) -> list[ScoredChunk]:
    """The best-ranked passages whose text fits the budget, in rank order (the first always fits)."""
    chosen: list[ScoredChunk] = []
    used = 0
    for item in chunks:
        size = len(item.chunk.content)
        if chosen and used + size > max_context_chars:
            continue
        chosen.append(item)
        used += size
    return chosen


def format_passages(passages: list[ScoredChunk]) -> str:
    """The prompt's context: one block per source document, numbered from 1 in the sources' order."""
    return number_passages(context_blocks(passages))


def build_rag_messages(query: str, passages: list[ScoredChunk]) -> list[ChatMessage]:
    """The chat turns sent to the LLM: the system instructions and the question with the passages numbered
    per source document (`rag_turns`, the builder retrieval-aware training uses too)."""
    system, user = rag_turns(query, context_blocks(passages))
    return [ChatMessage("system", system), ChatMessage("user", user)]


class AnswerGenerator:
    """Calls the LLM with the RAG prompt and tidies the reply. Errors propagate as typed `LLMError`s."""

    def __init__(
        self,
        llm: LLMClient,
        defaults: GenerationParameters | None = None,
        max_context_chars: int = DEFAULT_MAX_CONTEXT_CHARS,
        guard: AnswerGuard | None = None,
        embedder: Embedder | None = None,
        shape_for: Callable[[str], ServedShape] | None = None,
    ):
        self.llm = llm
        self.defaults = defaults or GenerationParameters()
        self.max_context_chars = max_context_chars
        # model id -> its prompt shape, asked per request: the served model may change between requests, and
        # a twin is served with the context it was trained on (`model/serving_profile.py`).
        self.shape_for = shape_for
        self.guard = guard or AnswerGuard()
        self.embedder = embedder  # ranks sentences for the extractive fallback (word overlap without it)

    def generate(
        self, query: str, retrieval: RetrievalResult, parameters: GenerationParameters | None = None
    ) -> RAGAnswer:
        """The answer to `query` from the retrieved passages: the LLM's reply tidied and guarded, its sources
        and the trace (retrieval and generation)."""
        prompt = self._prompt(query, retrieval, parameters)
        started = time.perf_counter()
        response: LLMResponse = self.llm.chat(prompt.messages, prompt.parameters)
        return self._answer(query, retrieval, prompt, response, started)

    def stream(
        self, query: str, retrieval: RetrievalResult, parameters: GenerationParameters | None = None
    ) -> Iterator[AnswerEvent]:
        """`generate` as events: `StreamedSources` (before the LLM is called), a `StreamedText` per delta of
        the raw reply (one for clients that cannot stream), then `StreamedAnswer` with what `generate`
        returns. Closing the iterator early stops the generation."""
        prompt = self._prompt(query, retrieval, parameters)
        yield StreamedSources(prompt.sources, retrieval.trace, model=self.llm.model_id)
        started = time.perf_counter()
        with closing(stream_chat(self.llm, prompt.messages, prompt.parameters)) as deltas:
            while True:
                try:
                    delta = next(deltas)
                except StopIteration as finished:
                    response: LLMResponse = finished.value
                    break
                yield StreamedText(delta)
        yield StreamedAnswer(self._answer(query, retrieval, prompt, response, started))

    def _prompt(self, query: str, retrieval: RetrievalResult, parameters: GenerationParameters | None) -> _Prompt:
        chosen = parameters or self.defaults
        if not chosen.stop:
            chosen = chosen.merged(stop=STOP_SEQUENCES)
        shape = self.shape()
        if shape.min_new_tokens and not chosen.min_new_tokens:
            chosen = chosen.merged(min_new_tokens=min(shape.min_new_tokens, chosen.max_new_tokens))
        passages = select_passages(retrieval.chunks, shape.max_context_chars)
        return _Prompt(
            chosen, passages, build_rag_messages(query, passages), group_sources(passages), context_blocks(passages)
        )

    def shape(self) -> ServedShape:
        """The prompt shape of the model asked now."""
        return self.shape_for(self.llm.model_id) if self.shape_for else ServedShape(self.max_context_chars)

    def _answer(
        self, query: str, retrieval: RetrievalResult, prompt: _Prompt, response: LLMResponse, started: float
    ) -> RAGAnswer:
        """The reply tidied and guarded, with its sources and trace."""
        chosen, passages = prompt.parameters, prompt.passages
        truncated = response.finish_reason == "length" or (
            response.completion_tokens is not None and response.completion_tokens >= chosen.max_new_tokens
        )
        # Citations name sources: the prompt's numbered blocks, one per source document.
        texts = prompt.blocks
        cleaned = clean_answer(response.text, passages_in_prompt=len(texts), truncated=truncated)
        answer, answer_source = cleaned.text, "model"
        # What was searched: the request without a self-introduction the retriever already used as a filter.
        focus = str(retrieval.trace.get("query") or query)
        problem = self.guard.problem(cleaned.text, texts, self._relevance(focus, cleaned.text, passages), request=query)
        if problem and self.guard.fallback == "extractive":
            extracted = extractive_answer(focus, texts, self.embedder)
            if extracted:
                answer, answer_source = extracted, "extractive"
        generation = {
            "model_id": response.model_id,
            "endpoint": self.llm.endpoint,
            "prompt_tokens": response.prompt_tokens,
            "completion_tokens": response.completion_tokens,
            "total_tokens": response.total_tokens,
            "finish_reason": response.finish_reason,
            "latency_s": round(time.perf_counter() - started, 4),
            "temperature": chosen.temperature,
            "top_p": chosen.top_p,
            "repetition_penalty": chosen.repetition_penalty,
            "max_new_tokens": chosen.max_new_tokens,
            "min_new_tokens": chosen.min_new_tokens,
            "passages_in_prompt": len(passages),
            "context_chars": sum(len(item.chunk.content) for item in passages),
            "sources_in_prompt": len(prompt.sources),
            "passages_left_out": len(retrieval.chunks) - len(passages),
            "cleanup": cleaned.actions,
            "answer_source": answer_source,
            "guard": problem or "passed",
            # The model's own reply (after cleanup, before any fallback): what benches compare models on.
            "reply": {
                "text": cleaned.text,
                "words": len(words(cleaned.text)),
                "grounding": grounding_score(cleaned.text, texts),
                "repetition": repetition_rate(cleaned.text),
            },
        }
        return RAGAnswer(
            answer=answer,
            sources=prompt.sources,
            trace={"retrieval": retrieval.trace, "generation": generation},
            authorship=authorship_of(generation, self.llm.model_id),
        )

    def _relevance(self, query: str, answer: str, passages: list[ScoredChunk]) -> tuple[float, float] | None:
        """(reply vs request, best passage vs request) as cosine with the embedder; None without one.

        The passages' vectors come with them from the search; only passages without one are embedded here.
        """
        if self.embedder is None or not passages or not answer.strip():
            return None
        query_vector, answer_vector = self.embedder.embed([query, answer])
        stored = [item.chunk.embedding for item in passages if len(item.chunk.embedding or []) == len(query_vector)]
        missing = [item.chunk.content for item in passages if len(item.chunk.embedding or []) != len(query_vector)]
        passage_vectors = [*stored, *(self.embedder.embed(missing) if missing else [])]

        def cosine(vector: list[float]) -> float:
            return float(sum(a * b for a, b in zip(query_vector, vector, strict=True)))

        return round(cosine(answer_vector), 4), round(max(cosine(vector) for vector in passage_vectors), 4)
