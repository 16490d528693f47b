"""`POST /feedback`: attach a user's score to the trace of a `/rag` answer (Opik), as the book's
`user_feedback` score; with monitoring off it says that nothing was stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from starlette.concurrency import run_in_threadpool

from llm_engineering.application.ports import Tracer
from llm_engineering.entrypoints.api.dependencies import get_tracer
from llm_engineering.entrypoints.api.schemas import ErrorResponse, FeedbackRequest, FeedbackResponse
from llm_engineering.entrypoints.api.strict_json import StrictJSONRoute

router = APIRouter(tags=["monitoring"], route_class=StrictJSONRoute)
MONITORING_OFF = "prompt monitoring is off (set OPIK_API_KEY or OPIK_URL_OVERRIDE): the feedback was not stored"


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    responses={502: {"model": ErrorResponse, "description": "The monitoring backend refused the score."}},
)
async def feedback(body: FeedbackRequest, tracer: Annotated[Tracer, Depends(get_tracer)]) -> FeedbackResponse:
    """Record `score` (0-1) under `name` on trace `trace_id`."""
    if not tracer.enabled:
        return FeedbackResponse(recorded=False, trace_id=body.trace_id, name=body.name, detail=MONITORING_OFF)
    recorded = await run_in_threadpool(tracer.record_feedback, body.trace_id, body.name, body.score, body.reason)
    if not recorded:
        raise HTTPException(status_code=502, detail="the monitoring backend did not accept the feedback")
    return FeedbackResponse(recorded=True, trace_id=body.trace_id, name=body.name, detail="recorded")
