"""Reference data the service needs from its first start: the seed FX rates."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError

from aid_common.db import transaction
from aid_common.runtime import ServiceRuntime
from aid_pledges.fx import service as fx

log = structlog.get_logger("aid.pledges")


async def seed_reference_data(runtime: ServiceRuntime) -> None:
    try:
        async with transaction(runtime.sessions) as session:
            added = await fx.seed(session=session)
    except IntegrityError:  # another replica seeded the same rates at the same moment
        return
    if added:
        log.info("fx.seeded", rates=added)
