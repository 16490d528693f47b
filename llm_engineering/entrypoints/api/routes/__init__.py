"""The API's routers: `health` (liveness, readiness) and `rag` (answers), `feedback` (scores on traces)."""
