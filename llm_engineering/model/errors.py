"""The model layer's own exceptions, derived from the project's base error `LLMTwinError`."""

from __future__ import annotations

from llm_engineering.domain.exceptions import LLMTwinError


class ModelConversionError(LLMTwinError):
    """Weights could not be converted from one format into another (for example GGUF -> Hugging Face)."""


class ModelRegistryError(LLMTwinError):
    """The local model registry cannot find, register or publish a model (bad spec, missing version, no chat
    template in the merged folder, a name already taken in the models folder)."""


class TrainingError(LLMTwinError):
    """Fine-tuning (SFT or DPO) could not run or finish."""


class TrainingConfigError(TrainingError):
    """The training configuration file or profile is missing or invalid."""


class TrainingDataError(TrainingError):
    """The dataset cannot feed a training stage: empty split, wrong dataset type, nothing fits the budget."""


class TrainingBackendError(TrainingError):
    """The requested trainer backend (Unsloth, 4-bit loading) or model cannot be used on this machine."""


class EvaluationError(LLMTwinError):
    """A model evaluation cannot run: no samples, an unknown model or stage, a judge required but missing."""


class EvaluationGateError(EvaluationError):
    """The candidate model is worse than the current one beyond the configured tolerance."""


class GenerationError(EvaluationError):
    """Answers cannot be generated: no instructions, a missing model folder, or no backend that can run here."""
