"""The retry policy, in one place: what counts as delivered, which answers may ask for a later retry
(Retry-After), the schedule of attempts, and what becomes of a delivery after each attempt."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# Like Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (the delay before each attempt).
DEFAULT_SCHEDULE = "0,5s,5m,30m,2h,5h,10h,10h"
RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
GONE = 410  # the receiver says the endpoint is gone for good: the subscription is disabled
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_schedule(text: str) -> list[float]:
    """ "0,5s,5m,2h" → [0, 5, 300, 7200]: delays in seconds (durations, never money)."""
    delays = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", part)
        if not m:
            raise ValueError(f"{part!r} is not a delay like 0, 5s, 5m, 2h or 1d")
        delays.append(float(m.group(1)) * _UNITS[m.group(2)])
    return delays


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


class Verdict(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"  # dead, and the subscription disabled
    DEAD = "dead"  # no attempt left
    FAILED = "failed"  # another attempt is scheduled


@dataclass(frozen=True)
class RetryPolicy:
    delays: list[float]  # seconds before each attempt; its length is the number of attempts
    max_retry_after_seconds: float  # the longest Retry-After honoured (a partner cannot park a delivery for a year)

    def verdict(
        self, *, attempts: int, status_code: int | None, retry_after_seconds: float | None
    ) -> tuple[Verdict, float | None]:
        """After `attempts` attempts, the last answered `status_code`: what the delivery becomes, and in how many
        seconds the next attempt is due (None when there is none)."""
        if is_success(status_code):
            return Verdict.DELIVERED, None
        if status_code == GONE:
            return Verdict.GONE, None
        if attempts >= len(self.delays):
            return Verdict.DEAD, None
        delay = self.delays[attempts]
        if status_code in RETRY_AFTER_STATUSES and retry_after_seconds is not None:
            delay = min(retry_after_seconds, self.max_retry_after_seconds)
        return Verdict.FAILED, delay
