"""An LLM judge of sample quality (the book's 1-4 scale), for curation when a teacher is configured."""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger

from llm_engineering.application.datasets.curation import parse_judge_score
from llm_engineering.application.errors import LLMError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient
from llm_engineering.domain import prompts
from llm_engineering.domain.datasets import DatasetSample


@dataclass
class LLMQualityJudge:
    """Scores one sample 1-4; None when the call fails or the reply has no score (the sample is kept)."""

    llm: LLMClient
    max_new_tokens: int = 200

    def score(self, sample: DatasetSample) -> int | None:
        message = ChatMessage("user", prompts.format_judge_prompt(sample.instruction, sample.answer))
        parameters = GenerationParameters(max_new_tokens=self.max_new_tokens, temperature=0.0, top_p=1.0)
        try:
            reply = self.llm.chat([message], parameters).text
        except LLMError as error:
            logger.warning("Quality judge call failed: {}", error)
            return None
        return parse_judge_score(reply)
