"""Sample generation from extracts: with a teacher model (JSON pairs or triples) or offline (back-translation).

Both generators return samples in extract order (deterministic, whatever the completion order) and a
`GenerationReport` that counts every request, sample and failure by reason. A failed or invalid
generation is counted and skipped; no sample is ever invented to fill the gap.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from tqdm.auto import tqdm

from llm_engineering.application.datasets.extracts import Extract
from llm_engineering.application.datasets.instructions import (
    instruction_rejection_reason,
    template_instruction,
    validate_instruction,
)
from llm_engineering.application.datasets.parsing import parse_instruction_pairs, parse_preference_triples
from llm_engineering.application.errors import LLMError
from llm_engineering.application.llm.client import ChatMessage, GenerationParameters, LLMClient
from llm_engineering.application.rag.answer_quality import repetition_rate
from llm_engineering.domain import prompts
from llm_engineering.domain.datasets import (
    DatasetSample,
    DatasetType,
    GenerationMethod,
    InstructDatasetSample,
    InstructionSource,
    PreferenceDatasetSample,
)

# Characters per token used to budget prompts without a tokenizer (English prose runs at about 4).
CHARS_PER_TOKEN = 3.5


@dataclass
class GenerationReport:
    """What a generator did: requests sent, samples made, failures and instruction sources by count."""

    mode: str
    dataset_type: str
    extracts: int = 0
    requests: int = 0
    samples: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    instruction_sources: Counter[str] = field(default_factory=Counter)
    truncated_prompts: int = 0
    model_id: str | None = None
    seconds: float = 0.0

    def as_metadata(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dataset_type": self.dataset_type,
            "model_id": self.model_id,
            "num_extracts": self.extracts,
            "num_requests": self.requests,
            "num_samples": self.samples,
            "failures": dict(sorted(self.failures.items())),
            "instruction_sources": dict(sorted(self.instruction_sources.items())),
            "truncated_prompts": self.truncated_prompts,
            "seconds": round(self.seconds, 2),
            "samples_per_s": round(self.samples / self.seconds, 3) if self.seconds else None,
        }


@dataclass
class _Outcome:
    samples: list[DatasetSample] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    truncated: bool = False


def _ordered_map(
    work: Callable[[Extract], _Outcome], extracts: Sequence[Extract], workers: int, description: str, progress: bool
) -> Iterator[_Outcome]:
    """Run `work` on every extract with at most `workers` at a time; yield the outcomes in extract order."""
    bar = tqdm(total=len(extracts), desc=description, unit="extract", disable=not progress)
    try:
        if workers <= 1:
            for extract in extracts:
                yield work(extract)
                bar.update()
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataset-gen") as pool:
            futures = [pool.submit(work, extract) for extract in extracts]
            for future in futures:
                outcome = future.result()
                bar.update()
                yield outcome
    finally:
        bar.close()


def _merge(report: GenerationReport, outcomes: Iterator[_Outcome]) -> list[DatasetSample]:
    samples: list[DatasetSample] = []
    for outcome in outcomes:
        samples += outcome.samples
        report.failures.update(outcome.failures)
        report.instruction_sources.update(outcome.sources)
        report.requests += outcome.requests
        report.truncated_prompts += int(outcome.truncated)
    report.samples = len(samples)
    return samples


def _llm_failure(error: LLMError) -> str:
    return f"llm_error:{type(error).__name__}"


# --- Teacher ---------------------------------------------------------------------------------------------
@dataclass
class TeacherGenerator:
    """A strong model writes `samples_per_extract` pairs (instruct) or triples (preference) per extract.

    Preference triples keep the book's roles (chosen = the extract's own words, rejected = the teacher's
    generic answer), and the chosen text must really be in the extract: a paraphrase is rejected.
    """

    llm: LLMClient
    dataset_type: DatasetType
    samples_per_extract: int = 5
    max_workers: int = 4
    max_attempts: int = 2
    context_tokens: int = 16384
    temperature: float = 0.7
    progress: bool = True

    @property
    def max_new_tokens(self) -> int:
        # The book's budgets for five items: 1,200 tokens for pairs, 2,000 for triples.
        per_item = 240 if self.dataset_type == DatasetType.INSTRUCTION else 400
        return per_item * self.samples_per_extract

    def generate(self, extracts: Sequence[Extract]) -> tuple[list[DatasetSample], GenerationReport]:
        report = GenerationReport(
            mode="teacher", dataset_type=str(self.dataset_type), extracts=len(extracts), model_id=self.llm.model_id
        )
        started = time.perf_counter()
        outcomes = _ordered_map(self._one, extracts, self.max_workers, f"teacher {self.dataset_type}", self.progress)
        samples = _merge(report, outcomes)
        report.seconds = time.perf_counter() - started
        return samples, report

    def prompt_for(self, extract: Extract) -> tuple[list[ChatMessage], bool]:
        """The chat messages for one extract, the extract cut to fit the context window; and whether it was cut."""
        if self.dataset_type == DatasetType.INSTRUCTION:
            system, template = prompts.DATASET_INSTRUCT_SYSTEM_PROMPT, prompts.DATASET_INSTRUCT_PROMPT
        else:
            system, template = prompts.DATASET_PREFERENCE_SYSTEM_PROMPT, prompts.DATASET_PREFERENCE_PROMPT
        overhead = len(system) + len(template)
        budget_chars = int((0.9 * self.context_tokens - self.max_new_tokens) * CHARS_PER_TOKEN) - overhead
        text = extract.text
        truncated = len(text) > budget_chars
        if truncated:
            text = text[: max(budget_chars, 0)].rsplit(" ", 1)[0]
        user = prompts.format_teacher_prompt(template, text, self.samples_per_extract)
        return [ChatMessage("system", system), ChatMessage("user", user)], truncated

    def _one(self, extract: Extract) -> _Outcome:
        outcome = _Outcome()
        messages, outcome.truncated = self.prompt_for(extract)
        parameters = GenerationParameters(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=0.95, json_output=True
        )
        for attempt in range(1, self.max_attempts + 1):
            outcome.requests += 1
            try:
                text = self.llm.chat(messages, parameters).text
            except LLMError as error:
                # The client already retried transport errors with backoff; the extract is skipped.
                outcome.failures[_llm_failure(error)] += 1
                logger.warning("Teacher call failed for {}: {}", extract.document.id, error)
                return outcome
            made, failures = self._samples_from(text, extract)
            if made:
                outcome.samples = made
                outcome.failures.update(failures)
                outcome.sources[InstructionSource.TEACHER] += len(made)
                return outcome
            reason = next(iter(failures), "empty")
            outcome.failures[f"{reason}{'' if attempt == self.max_attempts else '_retried'}"] += 1
        return outcome

    def _samples_from(self, text: str, extract: Extract) -> tuple[list[DatasetSample], Counter[str]]:
        failures: Counter[str] = Counter()
        provenance = extract.provenance(GenerationMethod.TEACHER, InstructionSource.TEACHER, self.llm.model_id)
        if self.dataset_type == DatasetType.INSTRUCTION:
            pairs = parse_instruction_pairs(text)
            if pairs.failure:
                failures[pairs.failure] += 1
            failures["invalid_items"] += pairs.invalid_items
            samples: list[DatasetSample] = [
                InstructDatasetSample(instruction=pair.instruction, answer=pair.answer, provenance=provenance)
                for pair in pairs.items
            ]
        else:
            triples = parse_preference_triples(text)
            if triples.failure:
                failures[triples.failure] += 1
            failures["invalid_items"] += triples.invalid_items
            samples = []
            for triple in triples.items:
                if not _is_in(triple.extracted_answer, extract.text):
                    failures["chosen_not_in_extract"] += 1
                    continue
                samples.append(
                    PreferenceDatasetSample(
                        instruction=triple.instruction,
                        chosen=triple.extracted_answer,
                        rejected=triple.generated_answer,
                        provenance=provenance,
                    )
                )
        if len(samples) > self.samples_per_extract:
            failures["extra_items_dropped"] += len(samples) - self.samples_per_extract
            samples = samples[: self.samples_per_extract]
        return samples, +failures


def _is_in(quote: str, source: str) -> bool:
    from llm_engineering.application.datasets.parsing import find_verbatim

    return find_verbatim(quote, source) is not None


# --- Offline: back-translation ------------------------------------------------------------------------------
@dataclass
class LLMBudget:
    """How much local-model time a run may spend: a call count and a wall-clock limit (None = no limit)."""

    max_calls: int | None = None
    max_seconds: float | None = None
    calls: int = 0
    started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self) -> str | None:
        """Reserve one call; the reason it is refused, or None."""
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                return "call_limit"
            if self.max_seconds is not None and time.perf_counter() - self.started >= self.max_seconds:
                return "time_limit"
            self.calls += 1
            return None


@dataclass
class BackTranslationGenerator:
    """Offline generation that needs no teacher: the author's passage is the answer (or `chosen`).

    - instruct: the instruction is written by the local model when it passes `validate_instruction`,
      else by a deterministic template from the document's title, headings and key phrases;
    - preference: chosen = the author's passage, rejected = what the local (base) model writes for the
      same instruction. Without a usable rejected answer there is no preference sample.
    The local model may be None (instructions then all come from templates; preference needs it).
    """

    llm: LLMClient | None
    dataset_type: DatasetType
    budget: LLMBudget = field(default_factory=LLMBudget)
    max_workers: int = 1
    seed: int = 0
    instruction_tokens: int = 48
    rejected_tokens: int = 160
    progress: bool = True

    def generate(self, extracts: Sequence[Extract]) -> tuple[list[DatasetSample], GenerationReport]:
        if self.dataset_type == DatasetType.PREFERENCE and self.llm is None:
            raise ValueError("Offline preference data needs the local LLM to write the rejected answers.")
        report = GenerationReport(
            mode="offline",
            dataset_type=str(self.dataset_type),
            extracts=len(extracts),
            model_id=self.llm.model_id if self.llm else None,
        )
        started = time.perf_counter()
        outcomes = _ordered_map(self._one, extracts, self.max_workers, f"offline {self.dataset_type}", self.progress)
        samples = _merge(report, outcomes)
        report.seconds = time.perf_counter() - started
        return samples, report

    def _one(self, extract: Extract) -> _Outcome:
        outcome = _Outcome()
        answer = passage_answer(extract.text)
        if not answer:
            outcome.failures["passage_empty_after_cleanup"] += 1
            return outcome
        instruction, source = self._instruction(extract, answer, outcome)
        model_id = self.llm.model_id if self.llm and source == InstructionSource.MODEL else None
        if self.dataset_type == DatasetType.INSTRUCTION:
            provenance = extract.provenance(GenerationMethod.BACK_TRANSLATION, source, model_id)
            outcome.samples.append(InstructDatasetSample(instruction=instruction, answer=answer, provenance=provenance))
            outcome.sources[source] += 1
            return outcome
        rejected = self._rejected(instruction, answer, outcome)
        if rejected is None:
            return outcome
        assert self.llm is not None
        provenance = extract.provenance(GenerationMethod.BACK_TRANSLATION, source, self.llm.model_id)
        outcome.samples.append(
            PreferenceDatasetSample(instruction=instruction, chosen=answer, rejected=rejected, provenance=provenance)
        )
        outcome.sources[source] += 1
        return outcome

    def _instruction(self, extract: Extract, passage: str, outcome: _Outcome) -> tuple[str, InstructionSource]:
        fallback = template_instruction(extract, seed=self.seed), InstructionSource.TEMPLATE
        if self.llm is None:
            outcome.failures["instruction_template:no_llm"] += 1
            return fallback
        refused = self.budget.take()
        if refused:
            outcome.failures[f"instruction_template:{refused}"] += 1
            return fallback
        parameters = GenerationParameters(
            max_new_tokens=self.instruction_tokens, temperature=0.3, top_p=0.9, stop=("\n",)
        )
        outcome.requests += 1
        try:
            # Only the passage's opening is shown: enough for its topic, and short prompts are fast on CPU.
            candidate = self.llm.complete(prompts.format_back_translation_prompt(passage[:700]), parameters).text
        except LLMError as error:
            outcome.failures[f"instruction_template:{_llm_failure(error)}"] += 1
            return fallback
        cleaned = validate_instruction(candidate, passage)
        if cleaned is None:
            reason = instruction_rejection_reason(candidate, passage) or "invalid"
            outcome.failures[f"instruction_template:{reason}"] += 1
            return fallback
        return cleaned, InstructionSource.MODEL

    def _rejected(self, instruction: str, chosen: str, outcome: _Outcome) -> str | None:
        assert self.llm is not None
        refused = self.budget.take()
        if refused:
            outcome.failures[f"rejected_skipped:{refused}"] += 1
            return None
        # About as long as the author's passage, so DPO compares voice rather than length.
        tokens = max(64, min(self.rejected_tokens, int(len(chosen) / CHARS_PER_TOKEN)))
        parameters = GenerationParameters(
            max_new_tokens=tokens, temperature=0.7, top_p=0.9, repetition_penalty=1.1, stop=prompts.STOP_SEQUENCES
        )
        outcome.requests += 1
        try:
            text = self.llm.complete(prompts.format_instruction_prompt(instruction), parameters).text
        except LLMError as error:
            outcome.failures[f"rejected_failed:{_llm_failure(error)}"] += 1
            return None
        reason = rejected_answer_problem(text, chosen)
        if reason:
            outcome.failures[f"rejected_failed:{reason}"] += 1
            return None
        return " ".join(text.split())


_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_MARKS = (".", "!", "?", ":", ";", ")", '"', "'")
# Site chrome that crawls of blog platforms leave in the text (notices, share and subscribe bars).
_CHROME = re.compile(
    r"requires JavaScript to run|turn on JavaScript|Substack is the home for|^Privacy \W+ Terms"
    r"|^(Subscribe|Sign in|Share this post|Copy link|Thanks for reading|Ready for more\?)",
    re.IGNORECASE,
)


def passage_answer(text: str) -> str:
    """The author's passage as an answer: paragraphs and code lines kept, trailing spaces trimmed, and short
    lines without a sentence mark outside code blocks dropped (page chrome such as "Share this post")."""
    kept: list[str] = []
    in_code = False
    for paragraph in _PARAGRAPH_BREAK.split(text):
        block = "\n".join(line.rstrip() for line in paragraph.strip("\n").splitlines()).strip()
        if not block:
            continue
        fences = block.count("```")
        is_chrome = (
            not in_code
            and not fences
            and ((len(block.split()) <= 4 and not block.endswith(_SENTENCE_MARKS)) or bool(_CHROME.search(block)))
        )
        if fences % 2:
            in_code = not in_code
        if not is_chrome:
            kept.append(block)
    return "\n\n".join(kept)


def rejected_answer_problem(text: str, chosen: str) -> str | None:
    """Why a generated (rejected) answer is unusable, or None: DPO needs a real, different answer."""
    words = text.split()
    if len(words) < 8:
        return "too_short"
    if repetition_rate(text) > 0.35:
        return "repetitive"
    if " ".join(words).lower() == " ".join(chosen.split()).lower():
        return "same_as_chosen"
    return None
