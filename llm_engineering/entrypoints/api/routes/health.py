"""`GET /health` (the process answers) and `GET /ready` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from llm_engineering.entrypoints.api.dependencies import get_readiness_probes
from llm_engineering.entrypoints.api.readiness import DependencyProbe
from llm_engineering.entrypoints.api.schemas import READINESS_RESPONSES

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (answers even while a slow /rag request runs)."""
    return {"status": "ok"}


@router.get("/ready", responses=READINESS_RESPONSES)
async def ready(probes: Annotated[dict[str, DependencyProbe], Depends(get_readiness_probes)]) -> JSONResponse:
    """Whether the warehouse, the vector store and the LLM answer; 503 naming what does not."""
    results = dict(zip(probes, await asyncio.gather(*(probe.check() for probe in probes.values())), strict=True))
    ok = all(item["ok"] for item in results.values())
    return JSONResponse(
        status_code=200 if ok else 503, content={"status": "ready" if ok else "unavailable", "checks": results}
    )
