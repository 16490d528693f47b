"""The twin's REST service: `create_app()` builds the FastAPI app (see `app.py`)."""

from llm_engineering.entrypoints.api.app import create_app

__all__ = ["create_app"]
