"""What a transaction reads once and keeps: rows a service loaded for a whole consumer batch in one statement, and
figures it then carries forward itself, instead of reading them again event by event.

`kept(session, name)` is a dict that lives as long as the session's current transaction: a new transaction starts
with an empty one, and so does a transaction after one of its savepoints is rolled back (`forget`) — a rolled-back
savepoint may have changed what the dict holds (a row added there is gone, a figure moved there did not move). The
service decides what may be kept: only what no other writer can change while this transaction holds its locks.
Held values are strong references, so rows kept here stay in the session's identity map.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEPT = "aid_common.kept"


def kept(session: AsyncSession, name: str) -> dict[Any, Any]:
    """The transaction's dict called `name` (empty at first)."""
    root = session.sync_session.get_transaction()
    owner, values = session.info.get(_KEPT, (None, None))
    if owner is not root or values is None:
        owner, values = root, {}
        session.info[_KEPT] = (owner, values)
    return values.setdefault(name, {})


def kept_in(session: Session, name: str) -> dict[Any, Any] | None:
    """The dict called `name` of the (sync) session's current transaction, if one was kept; never creates it."""
    owner, values = session.info.get(_KEPT, (None, None))
    if owner is not session.get_transaction() or values is None:
        return None
    return values.get(name)


def forget(session: AsyncSession) -> None:
    """Drop everything kept in the session's transaction (after a savepoint of it was rolled back)."""
    session.info.pop(_KEPT, None)
