"""Answer generation: retrieved passages + the question -> the LLM -> a readable answer with its sources.

The prompt holds the best passages that fit `max_context_chars`, numbered [1]..[n] in that order; the
sources list the documents of exactly those passages, each with its passage numbers. The raw reply is
tidied (`answer_cleanup`): loops, runaway template text, citations of passages not in the prompt and a
sentence cut off by the token limit are removed, and the trace says what was removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient, LLMResponse
from llm_engineering.application.rag.answer_cleanup import clean_answer
from llm_engineering.application.rag.retriever import RetrievalResult, ScoredChunk, group_sources
from llm_engineering.domain.prompts import RAG_SYSTEM_PROMPT, STOP_SEQUENCES, format_rag_instruction
from llm_engineering.domain.queries import Source

# Enough for the default k passages of the book's chunk sizes; a small CPU model slows down on long prompts.
DEFAULT_MAX_CONTEXT_CHARS = 6000


@dataclass
class RAGAnswer:
    answer: str
    sources: list[Source]
    trace: dict = field(default_factory=dict)


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
    """The prompt's context: each passage on its own block, numbered from 1 in prompt order."""
    return "\n\n".join(f"[{number}] {item.chunk.content.strip()}" for number, item in enumerate(passages, start=1))


def build_rag_messages(query: str, passages: list[ScoredChunk]) -> list[ChatMessage]:
    """The chat turns sent to the LLM: the system instructions and the question with numbered passages."""
    return [
        ChatMessage("system", RAG_SYSTEM_PROMPT),
        ChatMessage("user", format_rag_instruction(query, format_passages(passages), len(passages))),
    ]


class AnswerGenerator:
    """Calls the LLM with the RAG prompt and tidies the reply. Errors propagate as typed `LLMError`s."""

    def __init__(
        self,
        llm: LLMClient,
        defaults: GenerationParameters | None = None,
        max_context_chars: int = DEFAULT_MAX_CONTEXT_CHARS,
    ):
        self.llm = llm
        self.defaults = defaults or GenerationParameters()
        self.max_context_chars = max_context_chars

    def generate(
        self, query: str, retrieval: RetrievalResult, parameters: GenerationParameters | None = None
    ) -> RAGAnswer:
        chosen = parameters or self.defaults
        if not chosen.stop:
            chosen = chosen.merged(stop=STOP_SEQUENCES)
        passages = select_passages(retrieval.chunks, self.max_context_chars)
        started = time.perf_counter()
        response: LLMResponse = self.llm.chat(build_rag_messages(query, passages), chosen)
        truncated = response.finish_reason == "length" or (
            response.completion_tokens is not None and response.completion_tokens >= chosen.max_new_tokens
        )
        cleaned = clean_answer(response.text, passages_in_prompt=len(passages), truncated=truncated)
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
            "passages_in_prompt": len(passages),
            "passages_left_out": len(retrieval.chunks) - len(passages),
            "cleanup": cleaned.actions,
        }
        numbers = {str(item.chunk.id): number for number, item in enumerate(passages, start=1)}
        return RAGAnswer(
            answer=cleaned.text,
            sources=group_sources(passages, numbers),
            trace={"retrieval": retrieval.trace, "generation": generation},
        )
