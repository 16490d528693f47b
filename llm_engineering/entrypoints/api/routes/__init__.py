"""The API's routers: `health` (liveness, readiness) and `rag` (answers)."""
