"""Model evaluation, the book's comparison of base, SFT and DPO twins: which samples are asked, which model
a spec names, and every metric of one model's answers (offline metrics, held-out loss, the judge).

Composition roots (the `evaluating` pipeline's steps) pass in the embedder, registry and judge.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.application.evaluation.judge import ANSWER_CRITERIA, AnswerToJudge, LLMJudge
from llm_engineering.application.ports import Embedder
from llm_engineering.domain.datasets import DatasetType, TrainTestSplit
from llm_engineering.model.errors import EvaluationError
from llm_engineering.model.evaluation import offline_metrics
from llm_engineering.model.evaluation.report import MetricScores, ModelScores
from llm_engineering.model.registry import ModelRegistry, RegisteredModel

ENDPOINT = "endpoint"
BASE = "base"
# A registry spec may name one stage of a version: `llm_twin:latest@sft`.
STAGE_SEPARATOR = "@"


class EvaluationSample(BaseModel):
    """One held-out instruction, the author's answer to it, and where it came from."""

    model_config = ConfigDict(frozen=True)

    instruction: str
    reference: str
    category: str
    document_id: str | None = None


class ModelUnderTest(BaseModel):
    """A model to evaluate: its report name and what `source` names (see `resolve_model`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    source: str = Field(min_length=1)


class ResolvedModel(BaseModel):
    """Where a model's answers come from: a local folder, or an OpenAI-compatible endpoint's model id."""

    name: str
    model_dir: str | None = None
    endpoint_model_id: str | None = None
    description: str


def select_samples(dataset: TrainTestSplit, max_samples: int | None, seed: int = 0) -> list[EvaluationSample]:
    """Up to `max_samples` samples of the instruct dataset's test split (all when None), a seeded shuffle
    across categories so every model is asked the same questions. Raises EvaluationError when there are none."""
    if DatasetType(dataset.dataset_type) != DatasetType.INSTRUCTION:
        raise EvaluationError(f"Model evaluation needs an instruct dataset, not a {dataset.dataset_type} dataset.")
    samples = [
        EvaluationSample(
            instruction=sample.instruction,
            reference=sample.answer,
            category=str(category),
            document_id=sample.provenance.document_id,
        )
        for category, part in sorted(dataset.split("test").items())
        for sample in part.samples
    ]
    if not samples:
        raise EvaluationError("The dataset's test split is empty: nothing to evaluate on.")
    random.Random(seed).shuffle(samples)
    return samples[:max_samples] if max_samples else samples


def author_texts(dataset: TrainTestSplit, limit: int = 400) -> list[str]:
    """The author's own writing in the train split (the answers), for the style profile."""
    texts = [sample.answer for part in dataset.split("train").values() for sample in part.samples]
    return texts[:limit]


def resolve_model(model: ModelUnderTest, registry: ModelRegistry, base_model_dir: Path) -> ResolvedModel:
    """What `model.source` names:

    - `base`: the local base model the twin is fine-tuned from;
    - `endpoint` or `endpoint:<model id>`: the configured OpenAI-compatible server (LLM_BASE_URL), its
      LLM_MODEL_ID or the given model;
    - a registry spec (`llm_twin`, `llm_twin:latest`, `llm_twin:v2`), optionally with a stage
      (`llm_twin:latest@sft`): that version's merged model (its last stage by default);
    - a model folder path.
    """
    source = model.source.strip()
    if source == BASE:
        return ResolvedModel(
            name=model.name, model_dir=str(base_model_dir), description=f"base ({base_model_dir.name})"
        )
    if source == ENDPOINT or source.startswith(f"{ENDPOINT}:"):
        model_id = source.partition(":")[2] or None
        return ResolvedModel(name=model.name, endpoint_model_id=model_id, description=source)
    spec, _, stage = source.partition(STAGE_SEPARATOR)
    found = registry.lookup(spec)
    if not isinstance(found, RegisteredModel):
        if stage:
            raise EvaluationError(f"{source!r}: a stage (@{stage}) can only follow a registry spec.")
        return ResolvedModel(name=model.name, model_dir=str(found), description=str(found))
    if not stage:
        return ResolvedModel(name=model.name, model_dir=str(found.merged_dir), description=found.spec)
    stages = {entry["stage"]: entry for entry in found.card().get("stages", [])}
    if stage not in stages:
        raise EvaluationError(f"{found.spec} has no stage {stage!r}; it has: {', '.join(stages) or 'none'}.")
    return ResolvedModel(
        name=model.name, model_dir=str(found.path / stages[stage]["merged_dir"]), description=f"{found.spec}@{stage}"
    )


def offline_scores(
    answers: Sequence[str | None],
    samples: Sequence[EvaluationSample],
    embedder: Embedder,
    profile: offline_metrics.StyleProfile,
) -> list[MetricScores]:
    """ROUGE-L, reference similarity, style margin and stylometric distance of one model's answers."""
    references = [sample.reference for sample in samples]
    return [
        MetricScores(
            metric="rouge_l",
            source="offline",
            higher_is_better=True,
            values=offline_metrics.rouge_l(answers, references),
            description="ROUGE-L F1 against the author's answer (rouge-score, stemmed)",
        ),
        MetricScores(
            metric="reference_similarity",
            source="offline",
            higher_is_better=True,
            values=offline_metrics.reference_similarity(embedder, answers, references),
            description=f"cosine of answer and author's answer embeddings ({embedder.model_id})",
        ),
        MetricScores(
            metric="style_margin",
            source="offline",
            higher_is_better=True,
            values=offline_metrics.style_margin(embedder, answers, profile),
            description="similarity to the author's writing minus similarity to generic assistant prose",
        ),
        MetricScores(
            metric="stylometric_distance",
            source="offline",
            higher_is_better=False,
            values=offline_metrics.stylometric_distance(answers, profile),
            description="distance of sentence/word length, vocabulary, first person, questions from the author's",
        ),
    ]


def heldout_scores(model_dir: str, samples: Sequence[EvaluationSample], torch_threads: int | None) -> MetricScores:
    """Per-sample held-out loss of the author's answers under the model (lower is better)."""
    from llm_engineering.model.evaluation.heldout import answer_losses

    losses = answer_losses(
        model_dir, [s.instruction for s in samples], [s.reference for s in samples], torch_threads=torch_threads
    )
    return MetricScores(
        metric="heldout_loss",
        source="offline",
        higher_is_better=False,
        values=losses,
        description="mean token NLL of the author's answer given the instruction",
    )


def judge_scores(
    judge: LLMJudge, answers: Sequence[str | None], samples: Sequence[EvaluationSample]
) -> tuple[list[MetricScores], dict[str, Any]]:
    """The judge's accuracy and style (1-3) per answer, None where there was no answer or no usable verdict,
    and the judge run's counts."""
    present = [index for index, answer in enumerate(answers) if answer is not None]
    items = [AnswerToJudge(samples[i].instruction, answers[i] or "", samples[i].reference) for i in present]
    run = judge.judge_answers(items)
    metrics = []
    for criterion in ANSWER_CRITERIA:
        values: list[float | None] = [None] * len(answers)
        for index, score in zip(present, run.scores(criterion), strict=True):
            values[index] = None if score is None else float(score)
        metrics.append(
            MetricScores(
                metric=f"judge_{criterion}",
                source="judge",
                higher_is_better=True,
                values=values,
                description=f"LLM judge's {criterion} score, 1-3",
            )
        )
    counts = {**run.as_metadata(), "no_answer": len(answers) - len(present)}
    logger.info("Judge: {} of {} answers judged, failures {}", run.judged, len(items), dict(run.failures))
    return metrics, counts


def model_scores(name: str, metrics: Sequence[MetricScores]) -> ModelScores:
    return ModelScores(model=name, metrics=list(metrics))
