import threading
import time

import pytest

from llm_engineering.application.deadline import Deadline, within
from llm_engineering.application.errors import (
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    LLMUnavailableError,
    RequestCancelledError,
)
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

    def always_busy():
        raise LLMUnavailableError("busy")

    with pytest.raises(LLMUnavailableError, match="busy"):
        RetryPolicy(max_retries=3, base_delay_s=0.1, jitter=0).call(always_busy, sleep=waits.append)
    assert len(waits) == 3


@pytest.mark.parametrize("error", [LLMTimeoutError("slow"), LLMServerError("500: worker died")])
def test_work_the_server_took_is_never_sent_again(error):
    """A timeout or a 5xx after the server took the request: it may still be generating, so no second copy."""
    calls = []

    def taken():
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        RetryPolicy(max_retries=3).call(taken, sleep=lambda _: None)
    assert len(calls) == 1


def test_no_retry_starts_when_the_deadline_leaves_no_time_for_its_wait():
    calls, waits = [], []

    def busy():
        calls.append(1)
        raise LLMUnavailableError("429")

    with within(Deadline(0.5)), pytest.raises(LLMUnavailableError, match="429"):
        RetryPolicy(max_retries=3, base_delay_s=1.0, jitter=0).call(busy, sleep=waits.append)
    assert (len(calls), waits) == (1, [])
    with within(Deadline(60)):
        assert RetryPolicy(max_retries=1, base_delay_s=0.01).call(lambda: "ok") == "ok"


def test_the_wait_between_tries_ends_when_the_caller_cancels():
    deadline = Deadline(60)
    calls = []

    def busy():
        calls.append(1)
        raise LLMUnavailableError("503")

    threading.Timer(0.2, deadline.cancel, args=("the client left",)).start()
    started = time.monotonic()
    with within(deadline), pytest.raises(RequestCancelledError, match="the client left"):
        RetryPolicy(max_retries=1, base_delay_s=30, jitter=0).call(busy)
    assert time.monotonic() - started < 10 and len(calls) == 1


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
