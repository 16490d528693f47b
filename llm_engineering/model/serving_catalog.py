"""The model registry as serving sees it: the `ModelCatalog` of `application.serving.served_model`.

`find` checks what every switch and promotion needs, with the same words wherever it is asked (CLI, web
UI, continuous training): the spec names a registered version (or `base`), its merged model is a model
folder whose tokenizer keeps its chat template, and the local engine can serve it. The llama.cpp engine
serves GGUF files: the version's own fresh Q8_0 export (`poe export-gguf`), or one written from its weights
on first use, which needs a fine-tune of the packaged Gemma 3 270M. `transformers serve` takes the merged
folder as it is. `publish` links the version into the models folder (`registry.publish_for_serving`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from llm_engineering.application.errors import ServedModelError
from llm_engineering.application.serving.served_model import ServableModel
from llm_engineering.domain.exceptions import LLMTwinError
from llm_engineering.domain.serving import BASE_SPEC
from llm_engineering.model.errors import ModelConversionError, ModelRegistryError
from llm_engineering.model.gguf_conversion import GGUF_PACKAGE
from llm_engineering.model.registry import (
    ALIASES_JSON,
    ModelRegistry,
    RegisteredModel,
    publish_for_serving,
    require_servable,
)

ENGINE_LLAMACPP = "llamacpp"

_Signature = tuple[int, int, int] | None


class RegistryModelCatalog:
    """Versions of `registry` served from `models_dir` by the engine `engine()` names (`llamacpp` or
    `transformers`, asked when a check runs); `twin_name` is the model whose production version is served
    when nothing is chosen; `base_model_id` the packaged base model's id."""

    def __init__(
        self,
        registry: ModelRegistry,
        models_dir: Path,
        twin_name: str,
        base_model_id: str,
        engine: Callable[[], str],
    ):
        self.registry = registry
        self.models_dir = Path(models_dir)
        self.twin_name = twin_name
        self.base = ServableModel(BASE_SPEC, base_model_id)
        self.engine = engine
        self._production: tuple[_Signature, ServableModel | None] | None = None

    # --- ModelCatalog ----------------------------------------------------------------------------------
    def find(self, spec: str, for_serving: bool = True) -> ServableModel:
        spec = (spec or "").strip()
        if not spec:
            raise ServedModelError("No model given: use llm_twin:vN, llm_twin:production, llm_twin:latest or base.")
        if spec == BASE_SPEC:
            self._check_base()
            return self.base
        if "/" in spec or spec.startswith(("~", ".")):
            raise ServedModelError(
                f"{spec!r} is a path; the served model is a registered version (llm_twin:vN, llm_twin:production, "
                "llm_twin:latest) or base. A model folder is served with `poetry run poe local-llm-up --model PATH`."
            )
        try:
            found = self.registry.lookup(spec)
        except ModelRegistryError as error:
            raise ServedModelError(str(error)) from error
        if not isinstance(found, RegisteredModel):
            raise ServedModelError(
                f"{spec!r} names a folder, not a registered version; use llm_twin:vN, llm_twin:production, "
                "llm_twin:latest or base."
            )
        self._check_servable(found, for_serving)
        return _servable(found)

    def production(self) -> ServableModel | None:
        signature = _signature(self.registry.root / self.twin_name / ALIASES_JSON)
        cached = self._production
        if cached is not None and cached[0] == signature:
            return cached[1]
        try:
            promoted = self.registry.promoted(self.twin_name)
        except (ModelRegistryError, OSError, ValueError, KeyError):
            promoted = None
        result = _servable(promoted) if promoted is not None else None
        self._production = (signature, result)
        return result

    def promote(self, model: ServableModel, reason: str) -> ServableModel | None:
        if model.name is None or model.version is None:
            raise ServedModelError("The base model cannot be promoted: production names a trained twin version.")
        try:
            before = self.registry.promoted(model.name)
            self.registry.promote(model.name, model.version, reason=reason)
        except ModelRegistryError as error:
            raise ServedModelError(str(error)) from error
        except OSError as error:
            raise ServedModelError(f"Cannot promote {model.spec}: {error}") from error
        self._production = None
        return _servable(before) if before is not None else None

    def publish(self, model: ServableModel) -> str:
        if model.is_base:
            return model.model_id  # the local server finds the base model by itself
        try:
            registered = self.registry.get(str(model.name), int(model.version or 0))
            return publish_for_serving(registered, self.models_dir)
        except ModelRegistryError as error:
            raise ServedModelError(str(error)) from error

    # --- checks ----------------------------------------------------------------------------------------
    def _check_servable(self, registered: RegisteredModel, for_serving: bool) -> None:
        try:
            require_servable(registered.merged_dir, f"merged model of {registered.spec}")
        except ModelRegistryError as error:
            raise ServedModelError(f"{registered.spec} cannot be served: {error}") from error
        if not for_serving or self.engine() != ENGINE_LLAMACPP:
            return
        from llm_engineering.model.gguf_bundle import registered_gguf
        from llm_engineering.model.gguf_export import require_exportable

        if registered_gguf(registered.merged_dir) is not None:
            return  # its own fresh export is what the llama.cpp server loads
        try:
            require_exportable(registered.merged_dir)
        except (ModelConversionError, LLMTwinError) as error:
            raise ServedModelError(
                f"{registered.spec} cannot be served by the llama.cpp engine (LOCAL_LLM_ENGINE=llamacpp), which "
                f"serves GGUF files: it has no fresh GGUF export, and {error}"
            ) from error
        if not self._packaged_gguf_installed():
            raise ServedModelError(
                f"{registered.spec} has no fresh GGUF export, and writing one needs the packaged Gemma 3 GGUF "
                f"(package {GGUF_PACKAGE}), which is not installed: run `poetry install`, or export it first with "
                f"`poetry run poe export-gguf --model {registered.spec}`."
            )

    def _check_base(self) -> None:
        folder = self.models_dir / self.base.model_id
        if folder.is_dir() and (any(folder.glob("*.gguf")) or (folder / "config.json").is_file()):
            return
        if self._packaged_gguf_installed():
            return
        raise ServedModelError(
            f"The base model {self.base.model_id} cannot be served: its GGUF package {GGUF_PACKAGE} is not "
            f"installed and {folder} holds no model; run `poetry install`."
        )

    @staticmethod
    def _packaged_gguf_installed() -> bool:
        try:
            return importlib.util.find_spec(GGUF_PACKAGE) is not None
        except (ImportError, ValueError):
            return False


def _servable(registered: RegisteredModel) -> ServableModel:
    return ServableModel(registered.spec, registered.served_name, registered.name, registered.version)


def _signature(path: Path) -> _Signature:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns
