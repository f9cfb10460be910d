"""The Kafka bus on aiokafka, with every safety default set explicitly (aiokafka's own are unsafe for us)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from aid_common.bus import Bus, BusUnavailable, IncomingMessage, OutgoingMessage, Subscriber

log = structlog.get_logger("aid.kafka")


@dataclass(frozen=True)
class KafkaSecurity:
    """How every producer, consumer and admin client of a service talks to the brokers: PLAINTEXT (development),
    SSL, or SASL_SSL with SCRAM-SHA-512 credentials — one principal per service, whose ACLs say which topics it
    may write and read."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None

    def client_options(self) -> dict[str, Any]:
        if self.protocol == "PLAINTEXT":
            return {}
        options: dict[str, Any] = {
            "security_protocol": self.protocol,
            "ssl_context": create_ssl_context(cafile=self.cafile, certfile=self.certfile, keyfile=self.keyfile),
        }
        if self.protocol.startswith("SASL"):
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options


class KafkaBus(Bus):
    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic_prefix: str = "",
        client_id: str = "crisisaid",
        create_topics: Sequence[str] = (),
        partitions: int = 6,
        replication_factor: int = 1,
        request_timeout_ms: int = 15_000,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = security or KafkaSecurity()
        self.prefix = topic_prefix
        self.client_id = client_id
        self.create_topics = list(create_topics)
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.request_timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._topics_ready = False

    def physical(self, topic: str) -> str:
        return self.prefix + topic

    def logical(self, topic: str) -> str:
        return topic[len(self.prefix) :] if self.prefix and topic.startswith(self.prefix) else topic

    async def start(self) -> None:
        """Connect if the broker is there; a broker that is down now is retried on first use."""
        try:
            await self._ensure_producer()
        except BusUnavailable as exc:
            log.warning("kafka.unavailable_at_start", error=str(exc))

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def _ensure_topics(self) -> None:
        if self._topics_ready or not self.create_topics:
            return
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, client_id=self.client_id, **self.security.client_options()
        )
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [self.physical(t) for t in self.create_topics if self.physical(t) not in existing]
            if missing:
                try:
                    await admin.create_topics([NewTopic(t, self.partitions, self.replication_factor) for t in missing])
                except TopicAlreadyExistsError:
                    pass
                log.info("kafka.topics_created", topics=missing)
            self._topics_ready = True
        finally:
            await admin.close()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is not None:
                return self._producer
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=True,
                # No linger: `publish` queues a relay's whole batch before awaiting any of it, so the records of a
                # batch share produce requests anyway; a linger only delayed each event at low load (~2.5 ms a hop).
                linger_ms=0,
                request_timeout_ms=self.request_timeout_ms,
                retry_backoff_ms=200,
                **self.security.client_options(),
            )
            try:
                await producer.start()
                await self._ensure_topics()
            except (KafkaError, OSError) as exc:
                await producer.stop()
                raise BusUnavailable(f"Kafka at {self.bootstrap_servers} unreachable: {exc}") from exc
            self._producer = producer
            return producer

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        producer = await self._ensure_producer()
        try:
            futures = [
                await producer.send(self.physical(m.topic), value=m.value, key=m.key.encode(), headers=m.headers)
                for m in messages
            ]
            # Wait for the producer's own verdict on every batch (delivered, or expired after request_timeout_ms),
            # so that none is still in flight when we give up: stopping a producer flushes what it holds, and a
            # batch flushed after we reported failure would be published twice. The outer limit is a last resort.
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.request_timeout_ms / 1000 * 6)
        except (KafkaError, OSError, TimeoutError) as exc:
            # The producer may be wedged after a broker restart: start a fresh one next time.
            async with self._lock:
                if self._producer is producer:
                    self._producer = None
            await producer.stop()
            raise BusUnavailable(f"publish to Kafka at {self.bootstrap_servers} failed: {exc!r}") from exc

    def subscriber(self, *, group: str, topics: Sequence[str], tail: int | None = None) -> Subscriber:
        return KafkaSubscriber(self, group=self.prefix + group, topics=[self.physical(t) for t in topics], tail=tail)

    async def ping(self) -> None:
        producer = await self._ensure_producer()
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=5)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"Kafka at {self.bootstrap_servers} does not answer: {exc!r}") from exc


async def delete_topics(bootstrap_servers: str, *, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` — for throwaway prefixes (a test's, a benchmark
    run's), never a deployment's. A local broker that keeps every test's topics grows to thousands of
    partitions: each restart then recovers them all, and its latency tail grows with them."""
    if not prefix:
        raise ValueError("a prefix is required: this never deletes every topic")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


class KafkaSubscriber(Subscriber):
    def __init__(self, bus: KafkaBus, *, group: str, topics: list[str], tail: int | None = None) -> None:
        self.bus, self.group, self.topics, self.tail = bus, group, topics, tail
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        if self.bus.create_topics:
            try:
                await self.bus._ensure_producer()
            except BusUnavailable as exc:
                raise BusUnavailable(str(exc)) from exc
        consumer = AIOKafkaConsumer(
            *(self.topics if self.tail is None else ()),
            bootstrap_servers=self.bus.bootstrap_servers,
            client_id=self.bus.client_id,
            group_id=self.group if self.tail is None else None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            metadata_max_age_ms=30_000,
            **self.bus.security.client_options(),
        )
        try:
            await consumer.start()
        except (KafkaError, OSError) as exc:
            await consumer.stop()
            raise BusUnavailable(f"Kafka at {self.bus.bootstrap_servers} unreachable: {exc}") from exc
        if self.tail is not None:
            try:
                await self._seek_to_tail(consumer, self.tail)
            except BaseException:
                await consumer.stop()
                raise
        self._consumer = consumer

    async def _seek_to_tail(self, consumer: AIOKafkaConsumer, tail: int) -> None:
        try:
            # Fresh metadata (consumer.topics() fetches it but does not keep it for partitions_for_topic).
            cluster = await consumer._client.fetch_all_metadata()
            tps = []
            for topic in self.topics:
                partitions = cluster.partitions_for_topic(topic)
                if not partitions:
                    raise BusUnavailable(f"topic {topic} does not exist yet")
                tps += [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
        except (KafkaError, OSError) as exc:
            raise BusUnavailable(f"Kafka at {self.bus.bootstrap_servers} unreachable: {exc}") from exc
        for tp in tps:
            consumer.seek(tp, max(0, ends[tp] - tail))

    async def stop(self) -> None:
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            await consumer.stop()

    async def poll(self, *, timeout: float, max_records: int) -> list[IncomingMessage]:
        assert self._consumer is not None, "start() first"
        try:
            batches = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        except (KafkaError, OSError) as exc:
            raise BusUnavailable(f"poll failed: {exc!r}") from exc
        out: list[IncomingMessage] = []
        for tp, records in batches.items():
            for r in records:
                out.append(
                    IncomingMessage(
                        topic=self.bus.logical(tp.topic),
                        partition=tp.partition,
                        offset=r.offset,
                        key=r.key.decode("utf-8", "replace") if r.key is not None else None,
                        value=r.value or b"",
                        headers=list(r.headers or ()),
                    )
                )
        return out

    async def commit(self, *messages: IncomingMessage) -> None:
        assert self._consumer is not None, "start() first"
        if self.tail is not None or not messages:
            return  # a tail reader keeps no offsets
        offsets: dict[TopicPartition, int] = {}
        for m in messages:  # one OffsetCommit request for every partition of a batch, not one per partition
            tp = TopicPartition(self.bus.physical(m.topic), m.partition)
            offsets[tp] = max(offsets.get(tp, 0), m.offset + 1)
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as exc:
            # A rebalance took a partition away (aiokafka #929/#933): its messages will be redelivered to its
            # new owner, and the inbox makes that harmless.
            log.warning("kafka.commit_failed", offsets={str(tp): o for tp, o in offsets.items()}, error=str(exc))
        except (KafkaError, OSError) as exc:
            raise BusUnavailable(f"commit failed: {exc!r}") from exc

    async def lag(self) -> dict[tuple[str, int], int]:
        if self._consumer is None:
            return {}
        out = {}
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is None:
                continue
            try:
                pos = await self._consumer.position(tp)
            except (KafkaError, OSError, AssertionError):
                continue
            out[(self.bus.logical(tp.topic), tp.partition)] = max(0, high - pos)
        return out
