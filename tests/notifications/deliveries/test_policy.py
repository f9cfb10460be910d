"""The retry policy: which answers deliver, which end a delivery, when the next attempt is due."""

from __future__ import annotations

import pytest

from aid_notifications.deliveries.policy import RetryPolicy, Verdict, parse_schedule

POLICY = RetryPolicy(parse_schedule("0,5s,5m"), max_retry_after_seconds=600)


@pytest.mark.parametrize("code", [200, 201, 204, 299])
def test_any_2xx_delivers(code) -> None:
    assert POLICY.verdict(attempts=1, status_code=code, retry_after_seconds=None) == (Verdict.DELIVERED, None)


def test_410_gone_ends_the_delivery_at_once() -> None:
    assert POLICY.verdict(attempts=1, status_code=410, retry_after_seconds=None) == (Verdict.GONE, None)


def test_failures_follow_the_schedule_then_go_dead() -> None:
    assert POLICY.verdict(attempts=1, status_code=500, retry_after_seconds=None) == (Verdict.FAILED, 5.0)
    assert POLICY.verdict(attempts=2, status_code=None, retry_after_seconds=None) == (Verdict.FAILED, 300.0)
    assert POLICY.verdict(attempts=3, status_code=500, retry_after_seconds=None) == (Verdict.DEAD, None)


def test_retry_after_is_honoured_only_where_it_means_something_and_capped() -> None:
    assert POLICY.verdict(attempts=1, status_code=503, retry_after_seconds=42) == (Verdict.FAILED, 42)
    assert POLICY.verdict(attempts=1, status_code=429, retry_after_seconds=10**9) == (Verdict.FAILED, 600)
    assert POLICY.verdict(attempts=1, status_code=500, retry_after_seconds=42) == (Verdict.FAILED, 5.0)


@pytest.mark.parametrize("text", ["", "5x", "1,,2", "-1"])
def test_a_schedule_that_cannot_be_read_is_refused(text) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)
