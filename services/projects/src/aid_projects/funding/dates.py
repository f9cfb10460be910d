"""The day money moved, told by the event that moved it: an agreement signed, amended, cancelled or pledged on its
own date, money received on its `received_on`; anything else (a project created or changed, drawing or returning
pool money) on the day it happened here. Every entry one event writes carries the same day, so an agreement's
allocations and pool always add up to what it brings, as of any day."""

from __future__ import annotations

import datetime as dt

from aid_common.events import CloudEvent

MOVED_ON = ("signed_on", "amended_on", "cancelled_on", "received_on", "pledged_on")


def day_of(cause: CloudEvent) -> dt.date:
    data = cause.data if isinstance(cause.data, dict) else {}
    for field in MOVED_ON:
        value = data.get(field)
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                continue
    return cause.time.astimezone(dt.UTC).date()
