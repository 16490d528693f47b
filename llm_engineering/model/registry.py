"""A local model registry: every trained twin is a numbered version folder with a model card.

Layout under the root the caller passes (the project uses `LOCAL_DATA_DIR/registry`):

    <root>/<model_name>/v<N>/
        <stage>/merged/            the stage's merged model (config, weights, tokenizer with its chat template)
        <stage>/adapter/           the stage's LoRA adapter, when it had one
        <stage>/log_history.json   the trainer's log history
        gguf/                      GGUF exports and an Ollama Modelfile (`model.gguf_bundle`), when made
        model_card.md              for people: base model, stages, datasets, held-out losses, how to serve it
        model_card.json            the same for code

A version is built in a hidden sibling folder and renamed into place, so a failed registration leaves no
half version; only folders with a `model_card.json` count as versions. The last stage's merged folder is
the version's servable model; `publish_for_serving` makes it visible to the local `transformers serve`.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from llm_engineering.model.errors import ModelRegistryError
from llm_engineering.model.model_card import render_model_card

CARD_MARKDOWN = "model_card.md"
CARD_JSON = "model_card.json"
# Per model: which version each alias (`production`) points at, and when it was promoted.
ALIASES_JSON = "aliases.json"
PRODUCTION = "production"
# Written into a published copy (not a link), so publishing the same version twice is recognised.
PUBLISHED_MARKER = "llm_twin_registry.json"
_PARTIAL_PREFIX = ".partial-v"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_FOLDER = re.compile(r"^v([1-9][0-9]*)$")
_VERSION_SPEC = re.compile(r"^v?([1-9][0-9]*)$")


class TrainingStage(Protocol):
    """What the registry reads from a fine-tuning stage's result (`model.finetuning`'s `StageResult`)."""

    @property
    def stage(self) -> str: ...
    @property
    def base_model(self) -> str: ...
    @property
    def adapter_dir(self) -> Path | None: ...
    @property
    def merged_dir(self) -> Path: ...
    @property
    def metrics(self) -> Mapping[str, Any]: ...
    @property
    def log_history(self) -> list[dict]: ...
    @property
    def config(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RegisteredModel:
    """One version in the registry: `path` is its folder, `merged_dir` the last stage's merged model."""

    name: str
    version: int
    path: Path
    merged_dir: Path
    card_path: Path

    @property
    def spec(self) -> str:
        """The registry spec naming exactly this version, e.g. `twin:v3`."""
        return f"{self.name}:v{self.version}"

    @property
    def served_name(self) -> str:
        """The default served model id, e.g. `twin-v3`."""
        return f"{self.name}-v{self.version}"

    def card(self) -> dict[str, Any]:
        """The machine-readable model card."""
        return json.loads((self.path / CARD_JSON).read_text())


def has_chat_template(model_dir: Path) -> bool:
    """True when the tokenizer saved in `model_dir` carries a chat template (`chat_template.jinja`, or a
    `chat_template` in `tokenizer_config.json`), which `/v1/chat/completions` needs."""
    if (model_dir / "chat_template.jinja").is_file():
        return True
    tokenizer_config = model_dir / "tokenizer_config.json"
    if not tokenizer_config.is_file():
        return False
    try:
        return bool(json.loads(tokenizer_config.read_text()).get("chat_template"))
    except (ValueError, AttributeError):
        return False


def require_servable(model_dir: Path, what: str = "model folder") -> None:
    """Raise ModelRegistryError unless `model_dir` is a model folder (`config.json`) whose tokenizer keeps
    its chat template."""
    if not (model_dir / "config.json").is_file():
        raise ModelRegistryError(f"The {what} {model_dir} is not a Hugging Face model folder (no config.json).")
    if not has_chat_template(model_dir):
        raise ModelRegistryError(
            f"The {what} {model_dir} has no chat template (neither chat_template.jinja nor a chat_template in "
            "tokenizer_config.json): save the tokenizer with the project's chat template so the served model "
            "formats prompts as in training."
        )


def _check_name(name: str, what: str) -> str:
    if not _PLAIN_NAME.match(name or ""):
        raise ModelRegistryError(
            f"{what} {name!r} must be a plain name: letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    return name


class ModelRegistry:
    """Model versions under `root` (see the module docstring for the layout)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    # --- reading ---------------------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Names of the models that have at least one version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def versions(self, model_name: str) -> list[int]:
        """The complete versions of `model_name`, ascending (empty for an unknown model)."""
        folder = self.root / model_name
        if not _PLAIN_NAME.match(model_name or "") or not folder.is_dir():
            return []
        found = []
        for child in folder.iterdir():
            match = _VERSION_FOLDER.match(child.name)
            if match and (child / CARD_JSON).is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def get(self, model_name: str, version: int) -> RegisteredModel:
        """Version `version` of `model_name`; raises ModelRegistryError naming what exists instead."""
        available = self.versions(model_name)
        if not available:
            raise ModelRegistryError(f"No model {model_name!r} in the registry {self.root}; {self._known_models()}.")
        if version not in available:
            listed = ", ".join(f"v{v}" for v in available)
            raise ModelRegistryError(f"Model {model_name!r} has no version v{version}; it has {listed}.")
        path = self.root / model_name / f"v{version}"
        card = json.loads((path / CARD_JSON).read_text())
        return RegisteredModel(model_name, version, path, path / card["merged_dir"], path / CARD_MARKDOWN)

    def latest(self, model_name: str) -> RegisteredModel:
        """The highest version of `model_name`; raises ModelRegistryError when it has none."""
        available = self.versions(model_name)
        if not available:
            raise ModelRegistryError(f"No model {model_name!r} in the registry {self.root}; {self._known_models()}.")
        return self.get(model_name, available[-1])

    def lookup(self, spec: str) -> RegisteredModel | Path:
        """What `spec` names: `name`, `name:latest`, `name:v3` or `name:3` give that registered version; a
        path gives the registered version it lies in (a version folder or its merged folder), else the model
        folder itself. Raises ModelRegistryError for a malformed spec, an unknown model or version, or a
        path that is not a model folder."""
        spec = (spec or "").strip()
        if not spec:
            raise ModelRegistryError("Empty model spec; use NAME, NAME:latest, NAME:vN or a model folder path.")
        if _looks_like_path(spec):
            return self._lookup_path(Path(spec).expanduser())
        name, separator, version = spec.partition(":")
        if not _PLAIN_NAME.match(name):
            raise ModelRegistryError(
                f"Bad model spec {spec!r}: use NAME, NAME:latest, NAME:vN, NAME:N or a model folder path."
            )
        if not separator and not self.versions(name) and Path(spec).is_dir():  # a folder in the working dir
            return self._lookup_path(Path(spec))
        if version in ("", "latest"):
            return self.latest(name)
        if version == PRODUCTION:
            promoted = self.promoted(name)
            if promoted is None:
                raise ModelRegistryError(
                    f"Model {name!r} has no production version yet: continuous training promotes one when its "
                    "evaluation gate passes (poetry run poe run-continuous-training)."
                )
            return promoted
        match = _VERSION_SPEC.match(version)
        if not match:
            raise ModelRegistryError(f"Bad version {version!r} in {spec!r}: use latest, production, vN or N (N >= 1).")
        return self.get(name, int(match.group(1)))

    def resolve(self, spec: str) -> Path:
        """The merged model folder that `spec` names (see `lookup` for the forms)."""
        found = self.lookup(spec)
        return found.merged_dir if isinstance(found, RegisteredModel) else found

    def _lookup_path(self, path: Path) -> RegisteredModel | Path:
        if not path.is_dir():
            raise ModelRegistryError(f"No model folder at {path}.")
        registered = self._registered_at(path)
        if registered is not None:
            return registered
        if not (path / "config.json").is_file():
            raise ModelRegistryError(f"{path} is not a model folder (no config.json) nor a registry version.")
        return path

    def _registered_at(self, path: Path) -> RegisteredModel | None:
        """The registered version whose folder is `path` or holds it, if any."""
        try:
            parts = path.resolve().relative_to(self.root.resolve()).parts
        except ValueError:
            return None
        if len(parts) < 2 or not _VERSION_FOLDER.match(parts[1]):
            return None
        name, version = parts[0], int(parts[1][1:])
        if version not in self.versions(name):
            return None
        registered = self.get(name, version)
        inner = parts[2:]
        if inner and path.resolve() != registered.merged_dir.resolve():
            return None  # e.g. an earlier stage's merged folder: served as the plain folder it is
        return registered

    def aliases(self, model_name: str) -> dict[str, dict[str, Any]]:
        """{alias: {version, promoted_at, reason}} of `model_name` (empty when none was promoted)."""
        path = self.root / _check_name(model_name, "Model name") / ALIASES_JSON
        if not path.is_file():
            return {}
        try:
            aliases = json.loads(path.read_text())
        except ValueError as error:
            raise ModelRegistryError(f"{path} is not valid JSON: {error}") from error
        return aliases if isinstance(aliases, dict) else {}

    def promoted(self, model_name: str, alias: str = PRODUCTION) -> RegisteredModel | None:
        """The version `alias` points at, or None when nothing was promoted (or that version is gone)."""
        entry = self.aliases(model_name).get(alias)
        if not entry or int(entry.get("version", 0)) not in self.versions(model_name):
            return None
        return self.get(model_name, int(entry["version"]))

    def promote(self, model_name: str, version: int, alias: str = PRODUCTION, reason: str = "") -> RegisteredModel:
        """Point `alias` at an existing version (atomically: write then rename); returns that version.
        The previous target is kept as `previous` in the entry, for a rollback by hand."""
        registered = self.get(model_name, version)
        _check_name(alias, "Alias")
        aliases = self.aliases(model_name)
        previous = aliases.get(alias, {}).get("version")
        aliases[alias] = {
            "version": version,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reason": reason,
            **({"previous": previous} if previous not in (None, version) else {}),
        }
        path = self.root / model_name / ALIASES_JSON
        staging = path.with_suffix(".json.tmp")
        staging.write_text(json.dumps(aliases, indent=2) + "\n")
        staging.replace(path)
        logger.info("Promoted {} to {}", registered.spec, alias)
        return registered

    def record_exports(self, registered: RegisteredModel, gguf: Mapping[str, Any]) -> dict[str, Any]:
        """Set the card's `gguf` section (the version's GGUF files and Ollama Modelfile, `model.gguf_bundle`) and
        render `model_card.md` again; each file written to a temp file, then renamed. Returns the new card."""
        card = self.get(registered.name, registered.version).card()
        card["gguf"] = _jsonable(dict(gguf))
        for name, text in ((CARD_JSON, json.dumps(card, indent=2)), (CARD_MARKDOWN, render_model_card(card))):
            path = registered.path / name
            staging = path.with_name(f".{name}.tmp")
            staging.write_text(text)
            staging.replace(path)
        logger.info("Recorded {} GGUF file(s) in the card of {}", len(card["gguf"].get("files", {})), registered.spec)
        return card

    def _known_models(self) -> str:
        known = self.models()
        return f"registered models: {', '.join(known)}" if known else "the registry is empty"

    # --- writing ---------------------------------------------------------------------------------------
    def register(
        self,
        model_name: str,
        stage_results: list[TrainingStage],
        datasets: Mapping[str, Mapping[str, Any]] | None = None,
        config: Mapping[str, Any] | None = None,
        metrics: Mapping[str, Any] | None = None,
        hardware: Mapping[str, Any] | None = None,
        move: bool = False,
        serving: Mapping[str, Any] | None = None,
    ) -> RegisteredModel:
        """Store the stages' merged models and adapters (in training order) as the next version of
        `model_name`, with a model card. `datasets` maps dataset names to their artifact version/URI and
        counts, `metrics` holds run-level figures such as held-out losses of base/SFT/DPO, `hardware` what
        the run ran on, `serving` how to serve it (e.g. `max_context_chars`, the `/rag` context it was trained
        for; `model/serving_profile.py`). Copies by default; `move=True` moves the folders (they are moved back
        on failure).

        Atomic: the version appears complete or not at all. Raises ModelRegistryError for a bad name, no
        stages, a stage folder that is missing or lacks its chat template, or a failed copy.
        """
        _check_name(model_name, "Model name")
        stages = list(stage_results)
        if not stages:
            raise ModelRegistryError("Nothing to register: no training stages given.")
        names = [_check_name(str(result.stage), "Stage name") for result in stages]
        if len(set(names)) != len(names):
            raise ModelRegistryError(f"Stage names must be unique within a version, got {names}.")
        for result in stages:
            require_servable(Path(result.merged_dir), f"merged model of stage {result.stage!r}")
            adapter = result.adapter_dir
            if adapter is not None and not Path(adapter).is_dir():
                raise ModelRegistryError(f"The adapter folder of stage {result.stage!r} is missing: {adapter}.")

        model_root = self.root / model_name
        model_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=_PARTIAL_PREFIX, dir=model_root))
        moved: list[tuple[Path, Path]] = []
        try:
            stage_entries = [self._store_stage(result, staging, move, moved) for result in stages]
            registered = self._commit(
                staging,
                model_name,
                {
                    "base_model": stages[0].base_model,
                    "stages": stage_entries,
                    "datasets": dict(datasets or {}),
                    "config": dict(config or {}),
                    "metrics": dict(metrics or {}),
                    "hardware": dict(hardware or {}),
                    "merged_dir": stage_entries[-1]["merged_dir"],
                    "serving": dict(serving or {}),
                },
            )
        except BaseException as error:
            for source, target in reversed(moved):  # a move loses nothing: put the folders back
                shutil.move(str(target), str(source))
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, OSError):
                raise ModelRegistryError(f"Registering {model_name!r} failed, nothing was kept: {error}") from error
            raise
        logger.info("Registered {} in {}", registered.spec, registered.path)
        return registered

    @staticmethod
    def _store_stage(result: TrainingStage, staging: Path, move: bool, moved: list[tuple[Path, Path]]) -> dict:
        stage = str(result.stage)
        folder = staging / stage
        folder.mkdir()
        entry: dict[str, Any] = {"stage": stage, "base_model": result.base_model}
        sources = {"merged_dir": Path(result.merged_dir)}
        if result.adapter_dir is not None:
            sources["adapter_dir"] = Path(result.adapter_dir)
        for key, source in sources.items():
            target = folder / ("merged" if key == "merged_dir" else "adapter")
            if move:
                shutil.move(str(source), str(target))
                moved.append((source, target))
            else:
                shutil.copytree(source, target, symlinks=False)
            entry[key] = f"{stage}/{target.name}"
            entry[f"source_{key}"] = str(source)
        (folder / "log_history.json").write_text(json.dumps(_jsonable(list(result.log_history)), indent=1))
        entry["log_history"] = f"{stage}/log_history.json"
        entry["metrics"] = _jsonable(dict(result.metrics))
        entry["config"] = _jsonable(dict(result.config))
        return entry

    def _commit(self, staging: Path, model_name: str, content: dict[str, Any]) -> RegisteredModel:
        """Write the cards for the next free version number and rename the staging folder to it; a version
        taken meanwhile by another process makes it try the next number."""
        for _ in range(100):
            # Past every v<N> folder, complete or not, so a stray folder is never overwritten.
            version = _next_free(self.root / model_name)
            card = self._card(model_name, version, content)
            (staging / CARD_JSON).write_text(json.dumps(card, indent=2))
            (staging / CARD_MARKDOWN).write_text(render_model_card(card))
            target = self.root / model_name / f"v{version}"
            try:
                staging.rename(target)
            except OSError:
                if target.exists():
                    continue
                raise
            return RegisteredModel(model_name, version, target, target / content["merged_dir"], target / CARD_MARKDOWN)
        raise ModelRegistryError(f"Could not find a free version number for {model_name!r} in {self.root}.")

    @staticmethod
    def _card(model_name: str, version: int, content: dict[str, Any]) -> dict[str, Any]:
        served = f"{model_name}-v{version}"
        return _jsonable(
            {
                "name": model_name,
                "version": version,
                "spec": f"{model_name}:v{version}",
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                **content,
                "serving": {
                    **content.get("serving", {}),
                    "served_model_id": served,
                    "command": f"poetry run python -m tools.local_llm up --model {model_name}:v{version}",
                    "env": {"LLM_MODEL_ID": served},
                },
            }
        )


def publish_for_serving(
    model: RegisteredModel | Path, models_dir: Path, served_name: str | None = None, copy: bool = False
) -> str:
    """Make a merged model loadable as `models_dir/<served_name>` (default `<name>-v<N>`, or the folder's
    name for a plain path) and return that served model id, the value LLM_MODEL_ID must take.

    A relative symlink into the registry when the file system allows it (else, or with `copy=True`, a copy
    made atomically). Publishing the same model again is a no-op; a name already used by another model, or
    a merged folder without a chat template, raises ModelRegistryError.
    """
    merged = model.merged_dir if isinstance(model, RegisteredModel) else Path(model)
    default = model.served_name if isinstance(model, RegisteredModel) else merged.name
    name = _check_name(served_name or default, "Served model name")
    require_servable(merged, "merged model")
    source = merged.resolve()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / name

    if target.is_symlink():
        if target.resolve() == source:
            return name
        if target.exists():
            raise ModelRegistryError(
                f"{target} already links to another model ({target.resolve()}); choose another served name."
            )
        target.unlink()  # a dangling link, e.g. to a deleted version
    elif target.exists():
        if _published_copy_of(target) == str(source):
            return name
        raise ModelRegistryError(f"{target} already exists and is not this model; choose another served name.")

    if not copy:
        try:
            target.symlink_to(os.path.relpath(source, models_dir.resolve()), target_is_directory=True)
            return name
        except (OSError, NotImplementedError) as error:
            logger.info("Cannot link {} ({}); copying the model instead", target, error)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.partial-", dir=models_dir))
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        (staging / PUBLISHED_MARKER).write_text(json.dumps({"source": str(source)}))
        staging.rename(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ModelRegistryError(f"Copying {source} to {target} failed: {error}") from error
    return name


def _published_copy_of(folder: Path) -> str | None:
    try:
        return json.loads((folder / PUBLISHED_MARKER).read_text()).get("source")
    except (OSError, ValueError, AttributeError):
        return None


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or os.sep in spec or spec.startswith(("~", "."))


def _next_free(model_root: Path) -> int:
    taken = [int(m.group(1)) for p in model_root.iterdir() if (m := _VERSION_FOLDER.match(p.name))]
    return max(taken, default=0) + 1


def _jsonable(value: Any) -> Any:
    """`value` as plain JSON: paths and unknown objects as strings, NaN/inf as null, tuples as lists."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)
