"""What the notifications routes need — the caller's scope, the secret box, the allowed networks — as Annotated
dependencies (one style for every route)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends

from aid_common.auth import Caller, require_scope
from aid_common.gate import Gate
from aid_common.state import Slot
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions.secrets import SecretBox
from aid_notifications.subscriptions.ssrf import Destinations

SETTINGS: Slot[NotificationsSettings] = Slot("settings")
SECRET_BOX: Slot[SecretBox] = Slot("secret_box")  # seals signing secrets (and Idempotency-Key replays)
REPLAYS: Slot[Gate] = Slot("replays")  # replays and recoveries running at once (AID_MAX_CONCURRENT_REPLAYS)

ServiceSettings = Annotated[NotificationsSettings, Depends(SETTINGS.dependency)]
Box = Annotated[SecretBox, Depends(SECRET_BOX.dependency)]


async def _destinations(settings: ServiceSettings) -> Destinations:
    return settings.webhook_destinations


AllowedDestinations = Annotated[Destinations, Depends(_destinations)]


async def _replay_place(gate: Annotated[Gate, Depends(REPLAYS.dependency)]) -> AsyncIterator[None]:
    with gate.held():
        yield


# A replay's or a recovery's place: 429 while AID_MAX_CONCURRENT_REPLAYS are running.
ReplayPlace = Annotated[None, Depends(_replay_place)]

Reader = Annotated[Caller, require_scope("notifications:read")]
Writer = Annotated[Caller, require_scope("notifications:write")]
Admin = Annotated[Caller, require_scope("admin")]
