"""In-memory adapters of the served-model ports: a store, a catalog of versions and a local engine."""

from __future__ import annotations

from llm_engineering.application.errors import ServedModelError, ServingEngineError
from llm_engineering.application.serving.served_model import ModelServing, ServableModel
from llm_engineering.domain.serving import ServedModelChoice

BASE_ID = "gemma-3-270m-twin"


class MemoryStore:
    def __init__(self, choice: ServedModelChoice | None = None):
        self.choice = choice
        self.writes: list[ServedModelChoice] = []

    def read(self) -> ServedModelChoice | None:
        return self.choice

    def write(self, choice: ServedModelChoice) -> None:
        self.choice = choice
        self.writes.append(choice)


class FakeCatalog:
    """Versions 1..n of `llm_twin`; `unservable` versions fail the engine check, `broken` every check."""

    def __init__(self, versions: int = 3, production: int | None = None, unservable=(), broken=()):
        self.versions = versions
        self.production_version = production
        self.unservable = set(unservable)
        self.broken = set(broken)
        self.calls: list[tuple] = []

    def _version(self, version: int) -> ServableModel:
        return ServableModel(f"llm_twin:v{version}", f"llm_twin-v{version}", "llm_twin", version)

    def find(self, spec: str, for_serving: bool = True) -> ServableModel:
        self.calls.append(("find", spec, for_serving))
        if spec == "base":
            return ServableModel("base", BASE_ID)
        name, _, version = spec.partition(":")
        if name != "llm_twin":
            raise ServedModelError(f"No model {name!r} in the registry")
        number = {"latest": self.versions, "production": self.production_version}.get(version)
        if number is None:
            number = int(version.lstrip("v")) if version.lstrip("v").isdigit() else 0
        if not 1 <= number <= self.versions:
            raise ServedModelError(f"Model 'llm_twin' has no version {version}")
        if number in self.broken:
            raise ServedModelError(f"llm_twin:v{number} cannot be served: no chat template")
        if for_serving and number in self.unservable:
            raise ServedModelError(f"llm_twin:v{number} cannot be served by the llama.cpp engine")
        return self._version(number)

    def production(self) -> ServableModel | None:
        return self._version(self.production_version) if self.production_version else None

    def promote(self, model: ServableModel, reason: str) -> ServableModel | None:
        self.calls.append(("promote", model.spec, reason))
        before = self.production()
        self.production_version = model.version
        return before

    def publish(self, model: ServableModel) -> str:
        self.calls.append(("publish", model.spec))
        return model.model_id


class FakeEngine:
    """A local server that runs (`running`) or not, and may refuse to load a model."""

    def __init__(self, running: bool = False, refuse: str | None = None):
        self.running = running
        self.refuse = refuse
        self.loaded: list[str] = []

    def load(self, model_id: str) -> str | None:
        if not self.running:
            return None
        if model_id == self.refuse:
            raise ServingEngineError(f"The local LLM server could not load {model_id!r}: out of memory")
        self.loaded.append(model_id)
        return f"local LLM: model {model_id!r} ready"


def serving(
    store: MemoryStore | None = None,
    catalog: FakeCatalog | None = None,
    engine: FakeEngine | None = None,
    configured: str | None = None,
) -> ModelServing:
    return ModelServing(
        store or MemoryStore(),
        catalog or FakeCatalog(),
        engine or FakeEngine(),
        configured_model_id=configured,
        base_model_id=BASE_ID,
        clock=lambda: "2026-01-02T03:04:05+00:00",
    )
