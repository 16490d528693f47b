"""Fakes for unit tests of the RAG logic: a scripted LLM, a deterministic bag-of-words embedder and a
one-passage retriever."""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
import uuid
from collections.abc import Sequence

from llm_engineering.application.errors import LLMError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMResponse


class ScriptedLLM:
    """Returns (or raises) the scripted items in order; records every prompt it received."""

    def __init__(self, *replies: str | LLMError):
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.parameters: list[GenerationParameters | None] = []

    @property
    def model_id(self) -> str:
        return "scripted"

    @property
    def endpoint(self) -> str:
        return "memory://scripted"

    def _next(self, prompt: str, parameters: GenerationParameters | None) -> LLMResponse:
        self.prompts.append(prompt)
        self.parameters.append(parameters)
        reply = self.replies.pop(0)
        if isinstance(reply, LLMError):
            raise reply
        return LLMResponse(text=reply, model_id="scripted", prompt_tokens=len(prompt.split()), completion_tokens=3)

    def chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None) -> LLMResponse:
        return self._next("\n".join(m.content for m in messages), parameters)

    def complete(self, prompt: str, parameters: GenerationParameters | None = None) -> LLMResponse:
        return self._next(prompt, parameters)

    def ping(self) -> None:
        return None


class StreamingLLM(ScriptedLLM):
    """A `ScriptedLLM` that streams: each reply is a list of pieces yielded in order (an exception piece is
    raised there, `delay_s` is slept before each); `closed` is set when a stream is closed before its end."""

    def __init__(self, *replies: list[str | Exception], delay_s: float = 0.0):
        super().__init__(*("".join(piece for piece in reply if isinstance(piece, str)) for reply in replies))
        self.streams = list(replies)
        self.delay_s = delay_s
        self.closed = threading.Event()

    def stream_chat(self, messages: list[ChatMessage], parameters: GenerationParameters | None = None):  # type: ignore[no-untyped-def]
        prompt = "\n".join(m.content for m in messages)
        self.prompts.append(prompt)
        self.parameters.append(parameters)
        pieces = self.streams.pop(0)
        try:
            for piece in pieces:
                time.sleep(self.delay_s)
                if isinstance(piece, Exception):
                    raise piece
                yield piece
        except GeneratorExit:
            self.closed.set()
            raise
        text = "".join(piece for piece in pieces if isinstance(piece, str))
        return LLMResponse(text=text, model_id="scripted", prompt_tokens=len(prompt.split()), completion_tokens=3)


class BagOfWordsEmbedder:
    """Hashes words into a 64-d unit vector: texts sharing words are close, as with a real embedder."""

    dimension = 64
    max_input_tokens = 256
    model_id = "fake/bag-of-words"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dimension
            for word in re.findall(r"[a-z]+", text.lower()):
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            vectors.append([v / norm for v in vector])
        return vectors


class NoLLM(ScriptedLLM):
    """An LLM that fails the test when called: for paths that must never reach the model."""

    def chat(self, messages, parameters=None):  # type: ignore[no-untyped-def]
        raise AssertionError("this path must not call the LLM")


# Two passages of one document about reranking and one unrelated document, for retrieval-only paths.
RERANK_TEXTS = ("rerank the retrieved passages", "rerank before the prompt", "sourdough bread")


def insert_rerank_chunks(index, embedder) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """Store `RERANK_TEXTS` as embedded article chunks in the vector `index`; returns the shared document id."""
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    document = uuid.uuid4()
    index.bulk_insert(
        EmbeddedArticleChunk,
        [
            EmbeddedArticleChunk(
                content=text,
                embedding=vector,
                platform="blog",
                document_id=document if i < 2 else uuid.uuid4(),
                author_id=uuid.uuid4(),
                author_full_name="Mara Quillon",
                link=f"https://quillon.example/{i}",
            )
            for i, (text, vector) in enumerate(zip(RERANK_TEXTS, embedder.embed(list(RERANK_TEXTS)), strict=True))
        ],
    )
    return document


def article_chunk(content: str = "Rerank before you prompt."):  # type: ignore[no-untyped-def]
    """An embedded article chunk of the demo author, without a vector."""
    from llm_engineering.domain.embedded_chunks import EmbeddedArticleChunk

    return EmbeddedArticleChunk(
        content=content,
        embedding=None,
        platform="blog",
        document_id=uuid.uuid4(),
        author_id=uuid.uuid4(),
        author_full_name="Mara Quillon",
        link="https://quillon.example/rerank",
    )


class OnePassageRetriever:
    """A retriever that finds one passage (or raises `error`) and records its calls."""

    def __init__(self, error: Exception | None = None, content: str = "Rerank before you prompt."):
        self.error = error
        self.chunk = article_chunk(content)
        self.calls: list[tuple] = []

    def search_with_trace(self, query, k, expand_to_n_queries):  # type: ignore[no-untyped-def]
        from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk

        self.calls.append((query, k, expand_to_n_queries))
        if self.error:
            raise self.error
        return RetrievalResult(
            chunks=[ScoredChunk(self.chunk, 0.9)], trace={"embedding_model_id": "fake", "reranker": "fake"}
        )
