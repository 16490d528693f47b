"""`GET /health` (the process answers) and `GET /ready` (warmed up, and its dependencies answer)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from llm_engineering.entrypoints.api.dependencies import get_readiness_probes, get_warm_up
from llm_engineering.entrypoints.api.readiness import DependencyProbe
from llm_engineering.entrypoints.api.schemas import READINESS_RESPONSES
from llm_engineering.entrypoints.api.warm_up import WarmUp

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (answers even while a slow /rag request runs or the models still load)."""
    return {"status": "ok"}


@router.get("/ready", responses=READINESS_RESPONSES)
async def ready(
    probes: Annotated[dict[str, DependencyProbe], Depends(get_readiness_probes)],
    warm_up: Annotated[WarmUp, Depends(get_warm_up)],
) -> JSONResponse:
    """Whether the warm-up has ended (models loaded, the LLM's capabilities decided) and the warehouse, the
    vector store and the LLM answer; 503 `warming_up` naming what it waits for, or `unavailable` naming what
    failed."""
    warm = warm_up.status()
    if not warm.finished:
        warm_up.start()  # a failed stage runs again behind this answer (a no-op while a run is under way)
    results = dict(zip(probes, await asyncio.gather(*(probe.check() for probe in probes.values())), strict=True))
    if warm.failures:
        detail = "; ".join(f"{stage}: {failure}" for stage, failure in warm.failures.items())
        results["warm_up"] = {"ok": False, "detail": detail}
    ok = warm.finished and all(item["ok"] for item in results.values())
    if ok:
        status = "ready"
    elif not warm.finished and not warm.failures:
        status = "warming_up"
    else:
        status = "unavailable"
    content: dict[str, Any] = {"status": status, "checks": results}
    if status == "warming_up":
        content["waiting_for"] = list(warm.pending)
    return JSONResponse(status_code=200 if ok else 503, content=content)
