"""The served model: which model the local engine serves and the API asks for, and why.

With LLM_MODEL_ID unset (`auto`), the served model is, in this order: the choice recorded by
`poe serve-model`, the web UI or continuous training (a `ServedModelChoice`), else the twin's production
version, else the packaged base model. An explicit LLM_MODEL_ID is always honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# LLM_MODEL_ID's value (and default) meaning "the served model", resolved as the module docstring says.
AUTO_MODEL_ID = "auto"
# The spec naming the packaged base model (Gemma 3 270M) in `serve-model --model base`.
BASE_SPEC = "base"

ServedModelSource = Literal["LLM_MODEL_ID", "recorded", "production", "base"]

SOURCE_WORDS: dict[str, str] = {
    "LLM_MODEL_ID": "set by LLM_MODEL_ID",
    "recorded": "chosen",
    "production": "the production version, nothing chosen",
    "base": "the packaged base model, nothing chosen or promoted",
}


@dataclass(frozen=True)
class ServedShape:
    """How the model asked now is prompted: the passage characters of its `/rag` prompt and the new tokens it
    must write before it may stop (0: no floor), from its model card or the settings
    (`model/serving_profile.py`)."""

    max_context_chars: int
    min_new_tokens: int = 0


class ServedModelChoice(BaseModel):
    """A recorded choice of the served model: the exact registry version (`llm_twin:v3`) or `base`, the id
    requests carry (`llm_twin-v3`), when, by whom (`cli`, `web UI`, `continuous training`) and why.
    `requested` keeps what was asked when it named the version indirectly (`llm_twin:production`)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    spec: str = Field(min_length=1)
    model_id: str = Field(min_length=1)
    chosen_at: str
    by: str = ""
    reason: str = ""
    requested: str | None = None


@dataclass(frozen=True)
class ServedModel:
    """The model the API asks for now: its id, where that came from, the spec it stands for (None for an
    explicit LLM_MODEL_ID) and the recorded choice behind it, if any."""

    model_id: str
    source: ServedModelSource
    spec: str | None
    choice: ServedModelChoice | None = None

    def describe(self) -> str:
        """One line for people, e.g. `llm_twin-v3 (llm_twin:v3, chosen by cli at 2026-01-02T10:00:00+00:00)`."""
        if self.source == "recorded" and self.choice is not None:
            by = f" by {self.choice.by}" if self.choice.by else ""
            why = f": {self.choice.reason}" if self.choice.reason else ""
            return f"{self.model_id} ({self.spec}, chosen{by} at {self.choice.chosen_at}{why})"
        if self.source == "LLM_MODEL_ID":
            return f"{self.model_id} (set by LLM_MODEL_ID)"
        return f"{self.model_id} ({self.spec}, {SOURCE_WORDS[self.source]})"
