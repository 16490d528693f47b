"""The local LLM server as the `ServingEngine` of `application.serving.served_model`: when one runs on
LOCAL_LLM_PORT, switching the served model makes it load the new model now.

Both engines serve every model of LOCAL_DATA_DIR/models by the name a request carries, loading a model on
its first request (llama.cpp: a GGUF in `models/<id>/` or the twin's export `models/gguf/<id>.gguf`,
written or linked by `prepare`; `transformers serve`: the folder `models/<id>`). So a switch needs no
restart: `prepare` makes the GGUF the server will look for, and a one-token chat request loads the model
and proves it answers before the choice is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_engineering.application.errors import ServingEngineError
from llm_engineering.domain.exceptions import LLMTwinError

if TYPE_CHECKING:
    from llm_engineering.infrastructure.local.llm_server import LocalEngineOptions

# Seconds a running server may take to load a model (an export from Hugging Face weights takes ~1 min on 2 cores).
LOAD_TIMEOUT_S = 600.0


class LocalServerEngine:
    """The project's local server (LOCAL_LLM_ENGINE, LOCAL_LLM_PORT, LOCAL_DATA_DIR/models)."""

    def __init__(self, options: LocalEngineOptions, timeout_s: float = LOAD_TIMEOUT_S):
        self.options = options
        self.timeout_s = timeout_s

    def load(self, model_id: str) -> str | None:
        from llm_engineering.infrastructure.local.llm_server import local_llm_server

        try:
            server = local_llm_server(self.options, model_id=model_id)
            status = server.status()
            if not status.healthy:
                return None
            prepared = server.prepare()  # llama.cpp: the GGUF the running server will look the id up by
            loaded = server.ensure_model(model_id, timeout_s=self.timeout_s)
        except LLMTwinError as error:
            raise ServingEngineError(
                f"The local LLM server on port {self.options.port} could not load {model_id!r}: {error}"
            ) from error
        return " ".join(line for line in (prepared, loaded) if line)
