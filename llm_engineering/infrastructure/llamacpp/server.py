"""The local OpenAI-compatible server of the llama.cpp engine: GGUF models over llama-cpp-python's bindings.

    python -m llm_engineering.infrastructure.llamacpp.server --model ID=FILE.gguf [--models-dir DIR] --port N

Serves `POST /v1/completions` and `/v1/chat/completions` (streamed or not; `stop`, `max_tokens`, `temperature`,
`top_p`, `seed`, `response_format` json_object), `GET /v1/models` and `GET /health`. `frequency_penalty`
becomes llama.cpp's multiplicative `repeat_penalty` = 1 + value, as `transformers serve` maps it, so the
project's `repetition_penalty` means the same on both engines. A model the request names that was not
loaded at start is looked up as a GGUF file in `--models-dir/<model>/` (or the twin export
`--models-dir/gguf/<model>.gguf`) and loaded on first use.

Unlike `python -m llama_cpp.server` (one request at a time; a non-streamed request runs to its end even after
its client left), every request here is dropped or stopped as soon as its client disconnects: while it waits
for a slot, and between any two generated tokens.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field

from llm_engineering.infrastructure.errors import ModelNotServedError, PromptTooLongError
from llm_engineering.infrastructure.llamacpp.engine import EngineConfig, GGUFModel, Outcome, Sampling

# Status sent (to nobody) for a request whose client left before its answer: nginx's "client closed request".
CLIENT_CLOSED = 499


# --- Requests --------------------------------------------------------------------------------------
class _ResponseFormat(BaseModel):
    type: Literal["text", "json_object"] = "text"


class _StreamOptions(BaseModel):
    include_usage: bool = False


class _Request(BaseModel):
    """The OpenAI fields this server honours; unknown fields are ignored, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=1.0, ge=0, le=2)
    top_p: float = Field(default=1.0, gt=0, le=1)
    top_k: int = Field(default=0, ge=0)
    min_p: float = Field(default=0.0, ge=0, le=1)
    frequency_penalty: float = Field(default=0.0, ge=-2, le=2)
    presence_penalty: float = Field(default=0.0, ge=-2, le=2)
    repetition_penalty: float | None = Field(default=None, gt=0, le=10)  # vLLM's name, taken as is
    repeat_penalty: float | None = Field(default=None, gt=0, le=10)  # llama.cpp's name, taken as is
    stop: str | list[str] | None = None
    min_tokens: int = Field(default=0, ge=0)  # vLLM's name: no end of text before this many tokens
    stream: bool = False
    stream_options: _StreamOptions | None = None
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1)
    response_format: _ResponseFormat | None = None

    def sampling(self, default_max_tokens: int) -> Sampling:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        penalty = self.repeat_penalty or self.repetition_penalty or max(0.01, 1.0 + self.frequency_penalty)
        return Sampling(
            max_tokens=self.max_completion_tokens or self.max_tokens or default_max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            min_p=self.min_p,
            repeat_penalty=penalty,
            presence_penalty=self.presence_penalty,
            stop=tuple(sequence for sequence in stop if sequence),
            min_tokens=self.min_tokens,
            seed=self.seed,
            json_object=self.response_format is not None and self.response_format.type == "json_object",
        )


class CompletionRequest(_Request):
    prompt: str | list[str]


class _TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"] = "text"
    text: str


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "developer"]
    content: str | list[_TextPart] | None = None

    def as_dict(self) -> dict[str, str]:
        content = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        return {"role": "system" if self.role == "developer" else self.role, "content": content}


class ChatRequest(_Request):
    messages: list[_Message] = Field(min_length=1)


# --- Models ----------------------------------------------------------------------------------------
class ModelCatalog:
    """The served models: those loaded at start, and GGUF files found under `models_dir/<model>/` on demand."""

    def __init__(self, config: EngineConfig, models_dir: Path | None = None, default_max_tokens: int = 256):
        self.config = config
        self.models_dir = models_dir
        self.default_max_tokens = default_max_tokens
        self.share = config.thread_share()
        self.default_id: str | None = None
        self._models: dict[str, GGUFModel] = {}
        self._loading = asyncio.Lock()

    def load(self, model_id: str, path: Path) -> GGUFModel:
        """Load `path` as `model_id` now (blocking); the first one loaded answers requests naming no model."""
        return self.add(GGUFModel(model_id, path, self.config, self.share))

    def add(self, model: GGUFModel) -> GGUFModel:
        """Serve a loaded model under its `model_id`."""
        self._models[model.model_id] = model
        self.default_id = self.default_id or model.model_id
        return model

    def ids(self) -> list[str]:
        return list(self._models)

    async def get(self, model_id: str | None) -> GGUFModel:
        """The model a request names (the default one when it names none), loading it on first use."""
        model_id = model_id or self.default_id
        if model_id in self._models:
            return self._models[model_id]
        path = self._find(model_id or "")
        async with self._loading:
            if model_id not in self._models:
                await asyncio.to_thread(self.load, model_id, path)
        return self._models[model_id]

    def _find(self, model_id: str) -> Path:
        """A GGUF file in `models_dir/<model_id>/`, else the export `models_dir/gguf/<model_id>.gguf`."""
        if self.models_dir is None or not model_id or "/" in model_id or model_id.startswith("."):
            raise ModelNotServedError(f"The model {model_id!r} is not served here; served: {', '.join(self.ids())}.")
        folder = self.models_dir / model_id
        files = sorted(folder.glob("*.gguf")) if folder.is_dir() else []
        export = self.models_dir / "gguf" / f"{model_id}.gguf"
        if files or export.is_file():
            return files[0] if files else export
        if folder.is_dir():
            raise ModelNotServedError(
                f"The model folder {folder} has no GGUF file yet, and the llama.cpp engine serves GGUF models: "
                f"`poetry run poe local-llm-up --model {model_id}` exports a twin of the packaged Gemma 3 to GGUF "
                "(other models: LOCAL_LLM_ENGINE=transformers)."
            )
        raise ModelNotServedError(f"The model {model_id!r} is not served here; served: {', '.join(self.ids())}.")

    def close(self) -> None:
        for model in self._models.values():
            model.close()


# --- One request's generation ----------------------------------------------------------------------
class _Generation:
    """Waits for a slot (not once the client left), generates in a worker thread, hands the text over to the
    event loop, and stops when `cancel` is set (by the disconnect watcher, or when the reader goes away)."""

    def __init__(self, model: GGUFModel, tokens: list[int], sampling: Sampling):
        self.model = model
        self.tokens = tokens
        self.sampling = sampling
        self.cancel = threading.Event()
        self.gone = asyncio.Event()
        self._events: asyncio.Queue[str | Outcome | BaseException] = asyncio.Queue()

    async def watch(self, request: Request) -> None:
        """Until the client disconnects (or the response is complete); then cancel the work."""
        while (await request.receive())["type"] != "http.disconnect":
            pass
        self.gone.set()
        self.cancel.set()

    async def run(self) -> AsyncIterator[str | Outcome]:
        """The text pieces, then the `Outcome`; nothing at all when the client left while waiting."""
        slot = await self.model.acquire(self.gone)
        if slot is None:
            logger.info("{}: the client left while waiting for a slot; not generated", self.model.model_id)
            return
        loop = asyncio.get_running_loop()

        def put(event: str | Outcome | BaseException) -> None:
            loop.call_soon_threadsafe(self._events.put_nowait, event)

        def work() -> None:
            try:
                put(self.model.generate(slot, self.tokens, self.sampling, self.cancel, put))
            except Exception as error:  # noqa: BLE001 - handed to the request, which answers 500
                put(error)
            finally:
                loop.call_soon_threadsafe(self.model.release, slot)

        threading.Thread(target=work, name=f"generate-{slot.index}", daemon=True).start()
        try:
            while True:
                event = await self._events.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, Outcome):
                    return
        finally:
            self.cancel.set()  # the reader went away early: stop generating


def _usage(outcome: Outcome) -> dict[str, int]:
    return {
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "total_tokens": outcome.prompt_tokens + outcome.completion_tokens,
    }


def _error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


# --- The app ---------------------------------------------------------------------------------------
def create_app(catalog: ModelCatalog) -> FastAPI:
    """The OpenAI-compatible app over `catalog`'s models."""
    app = FastAPI(title="LLM Twin local LLM (llama.cpp)", docs_url=None, redoc_url=None)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "engine": "llama.cpp", "models": catalog.ids()}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model_id, "object": "model", "owned_by": "llm-twin"} for model_id in catalog.ids()],
        }

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Response:
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            return _error(400, "Exactly one prompt per request is supported.")
        return await _answer(request, body, chat=False, make_tokens=lambda model: model.prompt_tokens(prompts[0]))

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatRequest, request: Request) -> Response:
        messages = [message.as_dict() for message in body.messages]
        return await _answer(request, body, chat=True, make_tokens=lambda model: model.chat_tokens(messages))

    async def _answer(request: Request, body: _Request, chat: bool, make_tokens: Any) -> Response:
        try:
            model = await catalog.get(body.model)
        except ModelNotServedError as error:
            return _error(404, str(error), code="model_not_found")
        tokens = make_tokens(model)
        try:
            model.check_fits(tokens)
        except PromptTooLongError as error:
            return _error(400, str(error), code="context_length_exceeded")
        generation = _Generation(model, tokens, body.sampling(catalog.default_max_tokens))
        reply = _Reply(model.model_id, chat)
        if body.stream:
            usage = body.stream_options is not None and body.stream_options.include_usage
            return StreamingResponse(_stream(request, generation, reply, usage), media_type="text/event-stream")
        watcher = asyncio.create_task(generation.watch(request))
        try:
            parts: list[str] = []
            outcome = None
            async for event in generation.run():
                if isinstance(event, Outcome):
                    outcome = event
                else:
                    parts.append(event)
        finally:
            watcher.cancel()
        if outcome is None or outcome.finish_reason == "cancelled":
            return Response(status_code=CLIENT_CLOSED)
        return JSONResponse(reply.whole("".join(parts), outcome))

    async def _stream(
        request: Request, generation: _Generation, reply: _Reply, include_usage: bool
    ) -> AsyncIterator[str]:
        watcher = asyncio.create_task(generation.watch(request))
        try:
            if chat_role := reply.role_chunk():
                yield _event(chat_role)
            async for event in generation.run():
                if isinstance(event, Outcome):
                    yield _event(reply.chunk("", event.finish_reason))
                    if include_usage:
                        yield _event(reply.usage_chunk(event))
                else:
                    yield _event(reply.chunk(event, None))
            yield "data: [DONE]\n\n"
        except Exception as error:  # noqa: BLE001 - headers are sent: report it in the stream, as OpenAI does
            logger.exception("Generation failed")
            yield _event({"error": {"message": str(error), "type": "server_error"}})
        finally:
            watcher.cancel()
            generation.cancel.set()

    return app


def _event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


class _Reply:
    """OpenAI response bodies for one request: a whole completion, or stream chunks."""

    def __init__(self, model_id: str, chat: bool):
        self.model_id = model_id
        self.chat = chat
        self.id = f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def _envelope(self, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model_id, "choices": choices}

    def whole(self, text: str, outcome: Outcome) -> dict[str, Any]:
        reason = outcome.finish_reason
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
            body = self._envelope("chat.completion", [choice])
        else:
            body = self._envelope(
                "text_completion", [{"index": 0, "text": text, "logprobs": None, "finish_reason": reason}]
            )
        body["usage"] = _usage(outcome)
        return body

    def role_chunk(self) -> dict[str, Any] | None:
        if not self.chat:
            return None
        choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        return self._envelope("chat.completion.chunk", [choice])

    def chunk(self, text: str, finish_reason: str | None) -> dict[str, Any]:
        if self.chat:
            delta = {"content": text} if text else {}
            return self._envelope(
                "chat.completion.chunk", [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
            )
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
        return self._envelope("text_completion", [choice])

    def usage_chunk(self, outcome: Outcome) -> dict[str, Any]:
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return {**self._envelope(kind, []), "usage": _usage(outcome)}


# --- The process -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, metavar="ID=FILE", help="a GGUF file served as ID")
    parser.add_argument("--models-dir", type=Path, default=None, help="folder of <model>/*.gguf loaded on demand")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--context-size", type=int, default=8192, help="tokens of context per slot")
    parser.add_argument("--parallel", type=int, default=1, help="requests generated at once per model")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads in all (0: every CPU)")
    parser.add_argument("--max-tokens", type=int, default=256, help="when a request sets none")
    args = parser.parse_args(argv)

    config = EngineConfig(context_size=args.context_size, parallel=args.parallel, threads=args.threads)
    catalog = ModelCatalog(config, models_dir=args.models_dir, default_max_tokens=args.max_tokens)
    for spec in args.model:
        model_id, _, path = spec.partition("=")
        if not model_id or not path:
            parser.error(f"--model wants ID=FILE, got {spec!r}")
        catalog.load(model_id, Path(path))
    logger.info(
        "llama.cpp engine: {} on http://{}:{}/v1, {} slot(s) per model, {} threads",
        ", ".join(catalog.ids()),
        args.host,
        args.port,
        config.parallel,
        catalog.share.total,
    )
    try:
        uvicorn.run(create_app(catalog), host=args.host, port=args.port, log_level="warning")
    finally:
        catalog.close()


if __name__ == "__main__":
    main()
