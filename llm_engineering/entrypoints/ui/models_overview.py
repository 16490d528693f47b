"""What the UI's models page shows: the LLM the service answers with (the served model, and why it is that
one), the registered twin versions (from their model cards) and the newest model evaluation report's means.
Missing or unreadable pieces are left out (logged), never an error: an empty registry is the normal state of
a fresh checkout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from loguru import logger

from llm_engineering.domain.serving import BASE_SPEC, SOURCE_WORDS

if TYPE_CHECKING:
    from llm_engineering.domain.serving import ServedModel
    from llm_engineering.model.registry import ModelRegistry
    from llm_engineering.settings import Settings

HELDOUT_PREFIX = "heldout_"
LOSS_SUFFIX = "_loss"


def llm_summary(settings: Settings, served: ServedModel) -> dict[str, str]:
    """{provider, model_id, endpoint} of the answering LLM (credentials in a URL are left out); `served` is
    the model the OpenAI-compatible client asks for now."""
    if settings.LLM_PROVIDER == "sagemaker":
        return {
            "provider": "sagemaker",
            "model_id": settings.HF_MODEL_ID,
            "endpoint": f"sagemaker://{settings.AWS_REGION}/{settings.SAGEMAKER_ENDPOINT_INFERENCE}",
        }
    return {
        "provider": settings.LLM_PROVIDER,
        "model_id": served.model_id,
        "endpoint": _without_userinfo(settings.LLM_BASE_URL),
    }


def served_summary(served: ServedModel, chosen: ServedModel, base_model_id: str) -> dict[str, Any]:
    """The served model for the page: {model_id, spec, source, why (in words), chosen_at, by, reason,
    overridden (LLM_MODEL_ID is set, so the API does not follow the choice), local (the local engine's served
    model, LLM_MODEL_ID aside: {model_id, spec}), base_spec, base_model_id}."""
    choice = served.choice
    return {
        "model_id": served.model_id,
        "spec": served.spec,
        "source": served.source,
        "why": SOURCE_WORDS[served.source],
        "chosen_at": choice.chosen_at if choice else None,
        "by": choice.by if choice else None,
        "reason": choice.reason if choice else None,
        "overridden": served.source == "LLM_MODEL_ID",
        "local": {"model_id": chosen.model_id, "spec": chosen.spec},
        "base_spec": BASE_SPEC,
        "base_model_id": base_model_id,
    }


def registered_models(registry: ModelRegistry, served_model_id: str | None = None) -> list[dict[str, Any]]:
    """Every registered version, newest first per model: spec, created_at, stages, production (the
    `production` alias points at it), served (the API asks it: its id is `served_model_id`), heldout_loss ({"<dataset>_<model>": loss} from the card's
    `heldout_<dataset>_<model>_loss` metrics, None when none), evaluation (the card's `evaluation` section, None when it has none)."""
    found: list[dict[str, Any]] = []
    try:
        names = registry.models()
    except Exception as error:  # noqa: BLE001 - an unreadable registry folder is shown as empty
        logger.warning("Model registry {} unreadable: {}", registry.root, error)
        return []
    for name in names:
        try:
            promoted = registry.promoted(name)
        except Exception as error:  # noqa: BLE001 - a broken aliases file: no version is marked production
            logger.warning("Aliases of {} unreadable: {}", name, error)
            promoted = None
        for version in reversed(registry.versions(name)):
            try:
                card = registry.get(name, version).card()
            except Exception as error:  # noqa: BLE001 - one broken card hides only its version
                logger.warning("Model card of {}:v{} unreadable: {}", name, version, error)
                continue
            summary = version_summary(name, version, card, promoted is not None and promoted.version == version)
            summary["served"] = served_model_id is not None and _served_id(name, version, card) == served_model_id
            found.append(summary)
    return found


def version_summary(name: str, version: int, card: dict[str, Any], production: bool) -> dict[str, Any]:
    metrics = card.get("metrics") if isinstance(card.get("metrics"), dict) else {}
    heldout = {
        key.removeprefix(HELDOUT_PREFIX).removesuffix(LOSS_SUFFIX): value
        for key, value in metrics.items()
        if key.startswith(HELDOUT_PREFIX) and key.endswith(LOSS_SUFFIX)
    }
    evaluation = card.get("evaluation")
    return {
        "spec": card.get("spec") or f"{name}:v{version}",
        "created_at": card.get("created_at"),
        "stages": [stage.get("stage") for stage in card.get("stages") or [] if isinstance(stage, dict)],
        "production": production,
        "heldout_loss": heldout or None,
        "evaluation": evaluation if isinstance(evaluation, dict) else None,
    }


def _served_id(name: str, version: int, card: dict[str, Any]) -> str:
    serving = card.get("serving") if isinstance(card.get("serving"), dict) else {}
    return str(serving.get("served_model_id") or f"{name}-v{version}")


def latest_evaluation_report(folder: Path) -> dict[str, Any] | None:
    """{path, title, created_at, models: {model: {metric: mean}}} of the newest `<folder>/*/report.json`,
    None when there is none (or it cannot be read)."""
    try:
        reports = sorted(folder.glob("*/report.json"), key=lambda path: path.stat().st_mtime, reverse=True)
    except OSError:
        return None
    for path in reports:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            models: dict[str, dict[str, Any]] = {model: {} for model in report.get("models") or []}
            for row in report.get("rows") or []:
                models.setdefault(row["model"], {})[row["metric"]] = row.get("mean")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            logger.warning("Evaluation report {} unreadable: {}", path, error)
            continue
        return {
            "path": str(path),
            "title": report.get("title"),
            "created_at": report.get("created_at"),
            "models": models,
        }
    return None


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
