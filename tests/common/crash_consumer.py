"""Run as a process: consume one event, commit the handler's transaction, then die by SIGKILL before the
offset commit. Used by test_consumer to prove the inbox makes the redelivery harmless."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from aid_common.consumer import EventConsumer
from aid_common.db import create_engine, session_factory
from aid_common.kafka import KafkaBus
from aid_common.subscriptions import on
from tests.common.sample import TOPIC, ThingHappened, events, record_effect


async def main(db_url: str, bootstrap: str, prefix: str) -> None:
    engine = create_engine(db_url)

    async def die(_message: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    consumer = EventConsumer(
        service="test",
        name="crashy",
        bus=KafkaBus(bootstrap, topic_prefix=prefix),
        topics=[TOPIC],
        subscriptions=[on(ThingHappened, record_effect, events=events)],
        sessions=session_factory(engine),
        registry=events,
        after_handle=die,
    )
    await consumer.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
