"""`GET /health` (the process answers) and `GET /ready` (its dependencies answer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from llm_engineering.entrypoints.api.dependencies import ServiceState, get_state

READY_CHECK_TIMEOUT_S = 10.0

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (answers even while a slow /rag request runs)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "A dependency does not answer (same body, `unavailable`)."}})
async def ready(state: Annotated[ServiceState, Depends(get_state)]) -> JSONResponse:
    """Whether the warehouse, the vector store and the LLM answer; 503 naming what does not."""
    checks = await asyncio.gather(
        _check("warehouse", lambda: state.bound_container().warehouse().ping()),  # type: ignore[attr-defined]
        _check("vector_store", lambda: state.bound_container().vector_store().ping()),  # type: ignore[attr-defined]
        _check("llm", lambda: state.container.llm().ping()),
    )
    results = dict(checks)
    ok = all(item["ok"] for item in results.values())
    return JSONResponse(
        status_code=200 if ok else 503, content={"status": "ready" if ok else "unavailable", "checks": results}
    )


async def _check(name: str, probe: Callable[[], Any]) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(run_in_threadpool(probe), timeout=READY_CHECK_TIMEOUT_S)
    except TimeoutError:
        return name, {"ok": False, "detail": f"no answer within {READY_CHECK_TIMEOUT_S:.0f}s"}
    except Exception as error:  # noqa: BLE001 - every failure is a "not ready" answer
        return name, {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    return name, {"ok": True, "latency_s": round(time.perf_counter() - started, 4)}
