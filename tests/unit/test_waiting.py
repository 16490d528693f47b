"""The tests' waiting helper (`tests/waiting.py`): returns what the condition gave as soon as it holds, and
fails with what it waited for when the ceiling passes."""

from __future__ import annotations

import pytest

from tests.waiting import CEILING_S, eventually, wait_until


def test_wait_until_returns_the_first_truthy_value_as_soon_as_it_comes():
    answers = iter([None, 0, "", "ready", "later"])
    assert wait_until(lambda: next(answers), "an answer", poll_s=0) == "ready"


def test_wait_until_fails_at_the_ceiling_saying_what_it_waited_for():
    seen = {"status": "warming_up"}
    with pytest.raises(AssertionError, match=r"still waiting after 0.01 s: /ready said warming_up"):
        wait_until(lambda: False, lambda: f"/ready said {seen['status']}", timeout_s=0.01, poll_s=0.001)


def test_eventually_says_whether_the_condition_held():
    assert eventually(lambda: True)
    assert not eventually(lambda: False, timeout_s=0.01, poll_s=0.001)


def test_the_shared_ceiling_is_generous():
    assert CEILING_S >= 120
