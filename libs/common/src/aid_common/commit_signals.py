"""Wake a loop in this process the moment a transaction that gave it work commits — not at its next poll.

A writer calls `signal(session, kind)` inside its transaction; a loop calls `listen(kind, loop)` once (a loop is
anything with `wake()`, held weakly). When the outermost transaction commits, every loop listening for a kind
signalled in it is woken; a rollback forgets the signals. Used by the outbox relay ("outbox": rows to publish)
and the webhook delivery worker ("deliveries": deliveries due now). Other processes still find the work by
polling (or, for the outbox, PostgreSQL NOTIFY).

A writer can also `hand` the work itself to a loop of this process (a `Taker`, which reserved room for it):
the loop `receive`s the items once the transaction commits, or gets them back by `release` if it rolls back —
no read of its own to find them. Only outside a SAVEPOINT (`can_hand`): one rolled back alone would leave items
handed for rows that were never written."""

from __future__ import annotations

import weakref
from collections import defaultdict
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

_KEY = "aid_commit_signals"
_HANDED = "aid_commit_handed"


class Wakeable(Protocol):
    def wake(self) -> None: ...


class Taker(Protocol):
    def receive(self, items: list[Any]) -> None:
        """The transaction that wrote `items` committed: they are this loop's to do."""
        ...

    def release(self, items: list[Any]) -> None:
        """The transaction rolled back: give back the room reserved for `items`."""
        ...


_listeners: defaultdict[str, weakref.WeakSet[Wakeable]] = defaultdict(weakref.WeakSet)


def listen(kind: str, loop: Wakeable) -> None:
    _listeners[kind].add(loop)


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


def signal(session: AsyncSession | Session, kind: str) -> None:
    """Work of this kind is written in `session`'s transaction: wake its loops once that commits."""
    _sync(session).info.setdefault(_KEY, set()).add(kind)


def can_hand(session: AsyncSession | Session) -> bool:
    """Items can be handed in this transaction: it is not inside a SAVEPOINT."""
    return not _sync(session).in_nested_transaction()


def hand(session: AsyncSession | Session, taker: Taker, items: list[Any]) -> None:
    """`items` go to `taker` when this transaction commits, back to it (`release`) when it rolls back."""
    if not can_hand(session):
        raise RuntimeError("items cannot be handed inside a SAVEPOINT: it may be rolled back alone")
    _sync(session).info.setdefault(_HANDED, []).append((taker, items))


def _after_commit(session: Session) -> None:
    # SQLAlchemy fires after_commit for a released SAVEPOINT too (a consumer batch releases one per event): what
    # it wrote is not visible to anyone before the real commit, so the signals wait for that.
    if session.in_nested_transaction():
        return
    for taker, items in session.info.pop(_HANDED, ()):
        taker.receive(items)
    for kind in session.info.pop(_KEY, ()):
        for loop in list(_listeners[kind]):
            loop.wake()


def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():  # a savepoint rolled back: its neighbours' work may still commit
        session.info.pop(_KEY, None)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended without a commit (rolled back, or the session closed with it open): what
    # was handed in it goes back. After a commit nothing is left here.
    if transaction.parent is None:
        for taker, items in session.info.pop(_HANDED, ()):
            taker.release(items)


sa_event.listen(Session, "after_commit", _after_commit)
sa_event.listen(Session, "after_rollback", _after_rollback)
sa_event.listen(Session, "after_transaction_end", _after_transaction_end)
