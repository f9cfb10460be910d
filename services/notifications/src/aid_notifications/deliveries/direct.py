"""Deliveries handed straight to this process's delivery worker by the transaction that queues them.

A fan-out in a process whose worker has free slots writes those deliveries already leased to it (their next
attempt at the end of the lease, as a claim would leave them) and hands them over (`commit_signals.hand`): the
worker sends them the moment the transaction commits, with no claim of its own — no read of the queue, the event
body or the signing secrets afterwards, and no lease UPDATE. A rollback gives the slots back.

What the worker has no room for (its slots, a subscription's or a partner's cap), what is queued inside a
SAVEPOINT (it may be rolled back alone), and every delivery in a process without a running worker are queued due
now and claimed as before. At least once still holds: a worker that dies with handed deliveries leaves them
leased, and they are claimed again after the lease, with the same webhook-id."""

from __future__ import annotations

import datetime as dt
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import commit_signals
from aid_common.db import kept
from aid_notifications.deliveries.attempts import Claimed
from aid_notifications.deliveries.models import webhook_id_of
from aid_notifications.subscriptions import service as subscriptions
from aid_notifications.subscriptions.models import SubscriptionLike, SubscriptionStatus
from aid_notifications.subscriptions.secrets import SecretBox, UnreadableSecret


@dataclass(frozen=True)
class Offer:
    """A delivery about to be queued, as the worker's caps see it."""

    at: int  # its place among the deliveries queued
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    max_in_flight: int | None
    status: str = SubscriptionStatus.ACTIVE.value


class Worker(commit_signals.Taker, Protocol):
    box: SecretBox
    lease: dt.timedelta

    def reserve(self, offers: Iterable[Offer], *, partners: int) -> list[Offer]:
        """The offers (from `partners` partners) it has room for now, in order: its slots and caps; counted as in
        flight from here on."""
        ...


# The running worker of each database (engine) in this process: a test process runs several services at once.
_workers: weakref.WeakValueDictionary[int, Worker] = weakref.WeakValueDictionary()


def register(worker: Worker, *, engine: Any) -> None:
    _workers[id(engine)] = worker


def unregister(worker: Worker, *, engine: Any) -> None:
    if _workers.get(id(engine)) is worker:
        del _workers[id(engine)]


async def hand_over(*, session: AsyncSession, queued: list[tuple[dict[str, Any], SubscriptionLike]], body: str) -> int:
    """Lease to this process's worker what it has room for among `queued` (new delivery rows, not yet written,
    with their subscription): their rows are written leased and the worker sends them once this transaction
    commits. Returns how many were handed."""
    worker = _workers.get(id(session.bind))
    if worker is None or not commit_signals.can_hand(session):
        return 0
    # Offered lazily: a fan-out to ten thousand subscriptions hands a few dozen.
    offers = (
        Offer(at, row["subscription_id"], row["partner_id"], subscription.max_in_flight)
        for at, (row, subscription) in enumerate(queued)
    )
    chosen = worker.reserve(offers, partners=len({row["partner_id"] for row, _ in queued}))
    if not chosen:
        return 0
    try:
        secrets = await _secrets(session, {o.subscription_id for o in chosen}, worker.box)
    except BaseException:
        worker.release(chosen)
        raise
    unreadable = [o for o in chosen if not secrets.get(o.subscription_id)]
    if unreadable:  # the claim marks them dead, saying why
        worker.release(unreadable)
    handed: list[Claimed] = []
    for offer in chosen:
        signing = secrets.get(offer.subscription_id)
        if not signing:
            continue
        row, subscription = queued[offer.at]
        row["next_attempt_at"] = leased_until = row["created_at"] + worker.lease
        handed.append(
            Claimed(
                row["id"],
                webhook_id_of(row["id"]),
                offer.subscription_id,
                offer.partner_id,
                subscription.url,
                body,
                signing,
                leased_until,
            )
        )
    if handed:
        commit_signals.hand(session, worker, handed)
    return len(handed)


async def _secrets(session: AsyncSession, subscription_ids: set[uuid.UUID], box: SecretBox) -> dict[uuid.UUID, list]:
    """The opened signing secrets of these subscriptions, read once per transaction (a round's events share
    them); an unreadable one is an empty list. Kept only as long as the transaction."""
    opened = kept(session, "notifications.handed_secrets")
    missing = subscription_ids - opened.keys()
    if missing:
        sealed = await subscriptions.signing_secrets_of(session=session, subscription_ids=missing)
        for subscription_id in missing:
            try:
                opened[subscription_id] = [box.open(s) for s in sealed.get(subscription_id, [])]
            except UnreadableSecret:
                opened[subscription_id] = []
    return {i: opened[i] for i in subscription_ids}
