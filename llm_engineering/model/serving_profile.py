"""How a registered twin is served: the `/rag` prompt shape it was trained on, from its model card.

A retrieval-aware twin practised on prompts of a few short passages (`retrieval_aware` in
configs/training.yaml: 3 passages of up to 600 characters). Served with the default context (6,000
characters of whole chunks) it met a prompt three times longer than any it had seen, and copied sentences
from less relevant passages: on the question set, v3 passed the answer guard on 47% of the questions with
the default context and 50% with 2,000 characters, at a third of the latency. The card's
`serving.max_context_chars` records the context it was trained for; RAG_MAX_CONTEXT_CHARS, when set,
overrides it for every model. Its `serving.min_new_tokens` keeps a twin writing past a copied heading (v4
stopped after a title such as "ZenML Pipelines" on 9 of 36 questions, which the guard rejects as too
short); MIN_NEW_TOKENS_INFERENCE, when set, overrides it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_engineering.domain.serving import ServedShape

if TYPE_CHECKING:
    from llm_engineering.model.registry import ModelRegistry


@dataclass(frozen=True)
class ServingProfile:
    """What serving should do differently for one model; None fields mean the service's defaults."""

    max_context_chars: int | None = None
    min_new_tokens: int | None = None

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> ServingProfile:
        serving = card.get("serving") or {}
        return cls(
            max_context_chars=_positive(serving.get("max_context_chars")),
            min_new_tokens=_positive(serving.get("min_new_tokens")),
        )


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def trained_context_chars(passages: int, max_passage_chars: int) -> int:
    """The `/rag` context matching retrieval-aware training: its passages at their cut length, with room for
    whole chunks to fit (a stored chunk is not cut at serving time, as a training passage is)."""
    return int(passages * max_passage_chars * 1.1)


class ServingProfiles:
    """Profiles of the registered versions by served model id (`llm_twin-v3`), read from their cards when
    first asked and again when the registry gains a version. Unknown ids (the base model, a remote model)
    get the default profile."""

    def __init__(self, registry: ModelRegistry):
        self.registry = registry
        self._lock = threading.Lock()
        self._known: dict[str, ServingProfile] = {}
        self._versions: tuple[tuple[str, int], ...] | None = None

    def __call__(self, model_id: str) -> ServingProfile:
        with self._lock:
            versions = tuple(
                (name, version) for name in self.registry.models() for version in self.registry.versions(name)
            )
            if versions != self._versions:
                self._known = self._read(versions)
                self._versions = versions
            return self._known.get(model_id, ServingProfile())

    def _read(self, versions: tuple[tuple[str, int], ...]) -> dict[str, ServingProfile]:
        known: dict[str, ServingProfile] = {}
        for name, version in versions:
            try:
                card = self.registry.get(name, version).card()
            except (OSError, ValueError) as error:  # a card being written, or damaged: the defaults then
                logger.warning("Cannot read the model card of {}:v{}: {}", name, version, error)
                continue
            served = (card.get("serving") or {}).get("served_model_id") or f"{name}-v{version}"
            known[str(served)] = ServingProfile.from_card(card)
        return known


def shape_for(
    profiles: Callable[[str], ServingProfile],
    configured_chars: int | None,
    default_chars: int,
    configured_min_new_tokens: int = 0,
) -> Callable[[str], ServedShape]:
    """model id -> its `/rag` prompt shape: the settings where set (RAG_MAX_CONTEXT_CHARS,
    MIN_NEW_TOKENS_INFERENCE > 0), else the model's card, else `default_chars` and no floor."""

    def shape(model_id: str) -> ServedShape:
        profile = profiles(model_id)
        return ServedShape(
            max_context_chars=configured_chars or profile.max_context_chars or default_chars,
            min_new_tokens=configured_min_new_tokens or profile.min_new_tokens or 0,
        )

    return shape
