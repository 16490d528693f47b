"""Answer generation: retrieved passages + the question -> the LLM -> an answer with its sources."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient, LLMResponse
from llm_engineering.application.rag.retriever import RetrievalResult
from llm_engineering.domain.embedded_chunks import EmbeddedChunk
from llm_engineering.domain.prompts import RAG_SYSTEM_PROMPT, STOP_SEQUENCES, format_rag_instruction
from llm_engineering.domain.queries import Source


@dataclass
class RAGAnswer:
    answer: str
    sources: list[Source]
    trace: dict = field(default_factory=dict)


def build_rag_messages(query: str, chunks: list[EmbeddedChunk]) -> list[ChatMessage]:
    """The chat turns sent to the LLM: the system instructions and the question with numbered passages."""
    context = EmbeddedChunk.to_context(chunks)
    return [ChatMessage("system", RAG_SYSTEM_PROMPT), ChatMessage("user", format_rag_instruction(query, context))]


class AnswerGenerator:
    """Calls the LLM with the RAG prompt. Errors propagate as typed `LLMError`s."""

    def __init__(self, llm: LLMClient, defaults: GenerationParameters | None = None):
        self.llm = llm
        self.defaults = defaults or GenerationParameters()

    def generate(
        self, query: str, retrieval: RetrievalResult, parameters: GenerationParameters | None = None
    ) -> RAGAnswer:
        chosen = parameters or self.defaults
        if not chosen.stop:
            chosen = chosen.merged(stop=STOP_SEQUENCES)
        started = time.perf_counter()
        response: LLMResponse = self.llm.chat(build_rag_messages(query, retrieval.documents), chosen)
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
            "max_new_tokens": chosen.max_new_tokens,
        }
        return RAGAnswer(
            answer=response.text.strip(),
            sources=[item.source for item in retrieval.chunks],
            trace={"retrieval": retrieval.trace, "generation": generation},
        )
