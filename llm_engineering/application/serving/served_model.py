"""The served model: resolve it, switch it, promote a version, with the same checks wherever it is asked
(`poe serve-model` / `poe promote-model`, the web UI's /models buttons, continuous training's promotion).

Three ports, implemented outside: `ServedModelStore` (the recorded choice, a JSON file under
LOCAL_DATA_DIR), `ModelCatalog` (the model registry as serving sees it: find and check a version, its
production alias, publishing it for the local engine) and `ServingEngine` (a running local LLM server,
told to load the new model). `ModelServing` holds the rules; `bootstrap.build_model_serving` wires it.

Resolution (`ModelServing.current`, cheap enough to run per request): an explicit LLM_MODEL_ID, else the
recorded choice, else the production version of the twin, else the packaged base model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from llm_engineering.application.errors import ServedModelError
from llm_engineering.domain.serving import BASE_SPEC, ServedModel, ServedModelChoice


@dataclass(frozen=True)
class ServableModel:
    """A model the local engine can serve: its exact spec (`llm_twin:v3`, or `base`), the id requests carry
    (`llm_twin-v3`), and the registry name and version (None for the base model)."""

    spec: str
    model_id: str
    name: str | None = None
    version: int | None = None

    @property
    def is_base(self) -> bool:
        return self.version is None


class ServedModelStore(Protocol):
    """Where the chosen served model is recorded."""

    def read(self) -> ServedModelChoice | None:
        """The recorded choice, None when there is none (or it cannot be read)."""
        ...

    def write(self, choice: ServedModelChoice) -> None:
        """Record `choice`, replacing the previous one at once (readers never see half a record)."""
        ...


class ModelCatalog(Protocol):
    """The trained models, as serving sees them."""

    def find(self, spec: str, for_serving: bool = True) -> ServableModel:
        """The model `spec` names (`NAME:vN`, `NAME:latest`, `NAME:production`, `NAME`, or `base`), checked:
        it exists, its model folder is servable, and (`for_serving`) the local engine can serve it. Raises
        ServedModelError saying why not and what to do."""
        ...

    def production(self) -> ServableModel | None:
        """The twin's production version, None when none is promoted; unchecked (read per request)."""
        ...

    def promote(self, model: ServableModel, reason: str) -> ServableModel | None:
        """Point the production alias at `model`; returns the version it pointed at before, if any."""
        ...

    def publish(self, model: ServableModel) -> str:
        """Make `model` loadable by the local engine under its id (idempotent); returns that id."""
        ...


class ServingEngine(Protocol):
    """The local LLM server, when one runs."""

    def load(self, model_id: str) -> str | None:
        """Have a running server load `model_id`: one line saying so, or None when no server runs (the next
        `local-llm-up` serves it). Raises ServingEngineError when the running server cannot load it."""
        ...


NO_SERVER = "No local LLM server runs: `poetry run poe local-llm-up` serves it."


@dataclass(frozen=True)
class Switch:
    """What `serve` did: the model chosen, the served model now, what the running server said (None: no
    server runs), and whether LLM_MODEL_ID overrides the choice for the API."""

    model: ServableModel
    served: ServedModel
    engine: str | None
    overridden: bool

    def lines(self) -> list[str]:
        """What to tell the user, one line each: the choice, the running server's answer, the API's model."""
        return [self.summary(), self.engine or NO_SERVER, self.api_line()]

    def summary(self) -> str:
        return f"Served model: {self.model.spec}, as {self.model.model_id}."

    def api_line(self) -> str:
        return _api_line(self.served, self.model.model_id)


@dataclass(frozen=True)
class Promotion:
    """What `promote` did: the version now in production, the one before it, the served model now, whether
    the served model changed, and what the running server said."""

    model: ServableModel
    previous: ServableModel | None
    served: ServedModel
    switched: bool
    engine: str | None

    def lines(self) -> list[str]:
        before = f" (before: {self.previous.spec})" if self.previous and self.previous != self.model else ""
        lines = [f"Production: {self.model.spec}{before}."]
        if self.switched:
            lines.append(self.engine or NO_SERVER)
            lines.append(_api_line(self.served, self.model.model_id))
        else:
            lines.append(
                f"The served model stays {self.served.describe()}; "
                f"`poetry run poe serve-model --model {self.model.spec}` serves this version."
            )
        return lines


def _api_line(served: ServedModel, chosen_id: str) -> str:
    if served.source == "LLM_MODEL_ID" and served.model_id != chosen_id:
        return (
            f"Note: LLM_MODEL_ID={served.model_id} is set, so the API keeps asking {served.model_id}; "
            "set LLM_MODEL_ID=auto (or remove it from .env) and restart the API to follow the served model."
        )
    return f"The API asks {served.model_id} from its next request on (no restart)."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ModelServing:
    """The served-model use cases over a store, a catalog and the engine.

    `configured_model_id` is an explicit LLM_MODEL_ID (None when it is `auto`): the API then asks that model
    whatever is recorded. `base_model_id` is the packaged base model's id, the last fallback.
    """

    def __init__(
        self,
        store: ServedModelStore,
        catalog: ModelCatalog,
        engine: ServingEngine,
        configured_model_id: str | None,
        base_model_id: str,
        clock: Callable[[], str] = _now,
    ):
        self.store = store
        self.catalog = catalog
        self.engine = engine
        self.configured_model_id = configured_model_id or None
        self.base = ServableModel(BASE_SPEC, base_model_id)
        self.clock = clock

    # --- reading ---------------------------------------------------------------------------------------
    def current(self) -> ServedModel:
        """The model the API asks for now (see the module docstring for the order)."""
        if self.configured_model_id:
            return ServedModel(self.configured_model_id, "LLM_MODEL_ID", None)
        return self.chosen()

    def chosen(self) -> ServedModel:
        """The served model of the local engine, LLM_MODEL_ID aside: recorded, production or base."""
        choice = self.store.read()
        if choice is not None:
            return ServedModel(choice.model_id, "recorded", choice.spec, choice)
        production = self.catalog.production()
        if production is not None:
            return ServedModel(production.model_id, "production", production.spec)
        return ServedModel(self.base.model_id, "base", BASE_SPEC)

    def prepared(self) -> ServedModel:
        """The local engine's served model (`chosen`), made loadable again when it is a registered version
        (its link in the models folder restored): what `local-llm-up` serves. Raises ServedModelError when
        that version can no longer be served."""
        chosen = self.chosen()
        if chosen.spec is None or chosen.spec == BASE_SPEC:
            return chosen
        try:
            self.catalog.publish(self.catalog.find(chosen.spec))
        except ServedModelError as error:
            raise ServedModelError(
                f"The served model {chosen.describe()} cannot be served: {error} Choose another with "
                "`poetry run poe serve-model --model llm_twin:vN` (or `--model base`)."
            ) from error
        return chosen

    # --- changing --------------------------------------------------------------------------------------
    def serve(self, spec: str, by: str, reason: str = "") -> Switch:
        """Make the model `spec` names the served model: checked (exists, servable), published for the local
        engine, loaded by a running local server, then recorded. Nothing is recorded when a step fails
        (ServedModelError for the checks, ServingEngineError when the running server cannot load it)."""
        model = self.catalog.find(spec)
        engine = self._load(model)
        self._record(model, spec, by, reason)
        served = self.current()
        return Switch(model, served, engine, overridden=served.source == "LLM_MODEL_ID")

    def promote(self, spec: str, by: str, reason: str = "", serve: bool = False) -> Promotion:
        """Mark the version `spec` names as production, with the same checks as `serve` (the local engine's
        only when it will serve it); with `serve`, also make it the served model. Without a recorded choice
        the production version is what is served, so promoting switches the served model then too (a running
        server loads it first). Raises ServedModelError for the base model, an unknown or unservable version;
        ServingEngineError when the running server cannot load it (nothing is promoted then)."""
        # Without a recorded choice, production is the served model: then it must be servable here too.
        switches = serve or (self.store.read() is None)
        model = self.catalog.find(spec, for_serving=switches)
        if model.is_base:
            raise ServedModelError(
                "The base model cannot be promoted: production names a trained twin version (llm_twin:vN)."
            )
        engine = self._load(model) if switches else None
        if not switches:
            self.catalog.publish(model)  # production is always loadable by its id, served or not
        previous = self.catalog.promote(model, reason or f"promoted by {by}")
        if serve:
            self._record(model, spec, by, reason or "promoted to production")
        return Promotion(model, previous, self.current(), switched=switches, engine=engine)

    def _record(self, model: ServableModel, requested: str, by: str, reason: str) -> None:
        requested = requested.strip()
        self.store.write(
            ServedModelChoice(
                spec=model.spec,
                model_id=model.model_id,
                chosen_at=self.clock(),
                by=by,
                reason=reason,
                requested=requested if requested != model.spec else None,
            )
        )

    def _load(self, model: ServableModel) -> str | None:
        model_id = self.catalog.publish(model)
        if model_id != model.model_id:  # a catalog that renames would split the record from the server
            raise ServedModelError(f"{model.spec} was published as {model_id!r}, not {model.model_id!r}.")
        return self.engine.load(model_id)
