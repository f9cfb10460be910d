"""The bare baseline for the event pipeline: an aiokafka consume → produce loop (read a message from one topic,
write it to another), with the same safety settings as the platform (acks=all, idempotence, read_committed,
explicit commits). Run: python -m bench.baseline_pipeline BOOTSTRAP IN_TOPIC OUT_TOPIC"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def main(bootstrap: str, source: str, sink: str) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"baseline-{source}",
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=100, max_records=100)
            for records in batch.values():
                for r in records:
                    await producer.send_and_wait(sink, r.value, key=r.key)
            if batch:
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
