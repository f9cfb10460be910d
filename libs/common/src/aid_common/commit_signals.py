"""Wake a loop in this process the moment a transaction that gave it work commits — not at its next poll.

A writer calls `signal(session, kind)` inside its transaction; a loop calls `listen(kind, loop)` once (a loop is
anything with `wake()`, held weakly). When the outermost transaction commits, every loop listening for a kind
signalled in it is woken; a rollback forgets the signals. Used by the outbox relay ("outbox": rows to publish)
and the webhook delivery worker ("deliveries": deliveries due now). Other processes still find the work by
polling (or, for the outbox, PostgreSQL NOTIFY)."""

from __future__ import annotations

import weakref
from collections import defaultdict
from typing import Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_KEY = "aid_commit_signals"


class Wakeable(Protocol):
    def wake(self) -> None: ...


_listeners: defaultdict[str, weakref.WeakSet[Wakeable]] = defaultdict(weakref.WeakSet)


def listen(kind: str, loop: Wakeable) -> None:
    _listeners[kind].add(loop)


def signal(session: AsyncSession | Session, kind: str) -> None:
    """Work of this kind is written in `session`'s transaction: wake its loops once that commits."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_KEY, set()).add(kind)


def _after_commit(session: Session) -> None:
    # SQLAlchemy fires after_commit for a released SAVEPOINT too (a consumer batch releases one per event): what
    # it wrote is not visible to anyone before the real commit, so the signals wait for that.
    if session.in_nested_transaction():
        return
    for kind in session.info.pop(_KEY, ()):
        for loop in list(_listeners[kind]):
            loop.wake()


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint rolled back: its neighbours' work may still commit
        session.info.pop(_KEY, None)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)
