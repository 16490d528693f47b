import pytest

from llm_engineering.application.errors import LLMResponseError, LLMTimeoutError, LLMUnavailableError
from llm_engineering.application.llm.retry import RetryPolicy


def test_retryable_errors_are_retried_with_growing_delays_then_succeed():
    calls, waits = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise LLMUnavailableError("busy")
        return "ok"

    policy = RetryPolicy(max_retries=2, base_delay_s=0.5, jitter=0)
    assert policy.call(flaky, sleep=waits.append) == "ok"
    assert len(calls) == 3
    assert waits == [0.5, 1.0]


def test_gives_up_after_max_retries_with_the_last_error():
    waits = []

    def always_timeout():
        raise LLMTimeoutError("slow")

    with pytest.raises(LLMTimeoutError, match="slow"):
        RetryPolicy(max_retries=3, base_delay_s=0.1, jitter=0).call(always_timeout, sleep=waits.append)
    assert len(waits) == 3


def test_response_errors_are_not_retried():
    calls = []

    def bad_request():
        calls.append(1)
        raise LLMResponseError("400", status_code=400)

    with pytest.raises(LLMResponseError):
        RetryPolicy(max_retries=5).call(bad_request, sleep=lambda _: None)
    assert len(calls) == 1


def test_delay_is_capped_and_jittered_within_bounds():
    policy = RetryPolicy(base_delay_s=1, max_delay_s=4, jitter=0.1)
    assert 3.6 <= policy.delay(10) <= 4.4
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)
