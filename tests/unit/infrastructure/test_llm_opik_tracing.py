"""Opik tracing is optional: without configuration the decorators are transparent and say so once."""

import pytest

from llm_engineering.infrastructure import opik_tracing
from llm_engineering.settings import get_settings


@pytest.fixture(autouse=True)
def _unconfigured(monkeypatch):
    monkeypatch.delenv("OPIK_API_KEY", raising=False)
    monkeypatch.delenv("OPIK_URL_OVERRIDE", raising=False)
    get_settings.cache_clear()
    opik_tracing.reset_tracing_state()
    yield
    opik_tracing.reset_tracing_state()
    get_settings.cache_clear()


def test_track_is_a_transparent_no_op_without_configuration():
    calls = []

    @opik_tracing.track(name="unit", tags=["rag"])
    def add(a, b=1):
        calls.append((a, b))
        return a + b

    assert add(2, b=3) == 5
    assert add.__name__ == "add"
    assert calls == [(2, 3)]
    assert opik_tracing.opik_enabled() is False
    opik_tracing.annotate_trace({"model_id": "m"})  # no trace, no error


def test_errors_propagate_unchanged():
    @opik_tracing.track(name="unit")
    def boom():
        raise KeyError("inner")

    with pytest.raises(KeyError, match="inner"):
        boom()
