"""P5: one aid.project.funding_updated event matching N subscriptions (N/100 partners × 100), put on the projects
topic as the projects service would: how soon the N deliveries are queued, and when the first and the last webhook
reach a local receiver; then the same with one more partner whose 20 subscriptions hang on every call (the
others' p99 must barely move). The bare baselines: one httpx client POSTing N webhooks to the same receiver with
the notifications service's delivery concurrency, and wrk (not Python) doing the same."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from aid_common.events import registry
from aid_contracts.projects import ProjectFundingUpdated
from bench import wrk
from bench.receiver import Receiver
from bench.run import KAFKA, Run, percentiles

PER_PARTNER = 100
CONCURRENCY = 32  # AID_DELIVERY_CONCURRENCY's default


def _event() -> tuple[str, str, bytes]:
    payload = ProjectFundingUpdated(
        project_id=uuid.uuid4(), code="SY-NW-HEALTH", title="Health care in north-west Syria",
        names={"ar": "الرعاية الصحية في شمال غرب سوريا"}, country="SY", region=None, sector="health", appeal=None,
        pillar=None, requirements_usd=Decimal("1000000.00"), kind="allocation", delta_usd=Decimal("125000.00"),
        funded_usd=Decimal("125000.00"), coverage=Decimal("0.1250"), overfunded=False, agreement_id=uuid.uuid4(),
        cause_event_id=str(uuid.uuid4()), correlation_id=str(uuid.uuid4()),
    )  # fmt: skip
    et, event = registry.envelope(payload)
    return et.topic, event.id, event.to_json().encode()


async def _subscribe(c: httpx.AsyncClient, url: str, partners: int, per_partner: int, target: str) -> None:
    sem = asyncio.Semaphore(16)

    async def partner(i: int) -> None:
        async with sem:
            r = await c.post(f"{url}/v1/partners", json={"name": f"Partner {i}"})
            r.raise_for_status()
        for _ in range(per_partner):
            async with sem:
                body = {"partner_id": r.json()["id"], "url": target, "event_types": ["aid.project.funding_updated"]}
                (await c.post(f"{url}/v1/subscriptions", json=body)).raise_for_status()

    await asyncio.gather(*(partner(i) for i in range(partners)))


async def _one_event(producer: AIOKafkaProducer, prefix: str, dsn: str, receiver: Receiver, n: int) -> dict:
    topic, event_id, value = _event()
    receiver.clear()
    start = time.perf_counter()
    await producer.send_and_wait(prefix + topic, value, key=b"SY-NW-HEALTH")
    conn = await asyncpg.connect(dsn)
    try:
        while await conn.fetchval("SELECT count(*) FROM deliveries WHERE event_id = $1", event_id) < n:
            await asyncio.sleep(0.02)
        queued = time.perf_counter() - start
    finally:
        await conn.close()
    await receiver.until(n, 600)
    arrivals = [t - start for t in receiver.arrivals]
    return {
        "queued_s": round(queued, 2),
        "first_s": round(min(arrivals), 2),
        "all_s": round(max(arrivals), 2),
        "curve": [round(t, 2) for t in sorted(arrivals)],
    } | percentiles(arrivals)


async def bare(receiver: Receiver, n: int) -> dict:
    receiver.clear()
    queue = list(range(n))
    start = time.perf_counter()
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)) as c:

        async def worker() -> None:
            while queue:
                i = queue.pop()
                await c.post(receiver.each_url, content=b"{}", headers={"webhook-id": f"msg_{i}"})

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    arrivals = [t - start for t in receiver.arrivals]
    return {"all_s": round(max(arrivals), 2), "curve": [round(t, 2) for t in sorted(arrivals)]} | percentiles(arrivals)


async def bare_wrk(receiver: Receiver, n: int) -> dict:
    """The same N webhooks sent by wrk (C, LuaJIT) with the same concurrency: where the receiver's own limit is."""
    receiver.clear()
    start = time.perf_counter()
    sent = await wrk.burst(receiver.each_url, "{}", count=n, run=f"p5-{uuid.uuid4().hex[:6]}", connections=CONCURRENCY)
    await sent.answered(300, expect=204)
    arrivals = [t - start for t in receiver.arrivals]
    return {"all_s": round(max(arrivals), 2)} | percentiles(arrivals)


async def measure(run: Run, n: int) -> dict:
    receiver = Receiver()
    await receiver.start()
    prefix = run.new_prefix()
    db = await run.database()
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        notifications = await run.service(
            "notifications", "all", db, prefix, **receiver.allow(),
            AID_MAX_SUBSCRIPTIONS_PER_PARTNER=str(PER_PARTNER),
        )  # fmt: skip
        setup = time.perf_counter()
        async with httpx.AsyncClient(headers=run.headers, timeout=60) as c:
            await _subscribe(c, notifications.url, n // PER_PARTNER, PER_PARTNER, receiver.each_url)
            setup = time.perf_counter() - setup
            dsn = f"postgresql://aid:aid@127.0.0.1:5432/{db}"
            normal = await _one_event(producer, prefix, dsn, receiver, n)
            await _subscribe(c, notifications.url, 1, 20, receiver.hanging_url)
            hanging = await _one_event(producer, prefix, dsn, receiver, n)  # the /hang calls are never noted
        notifications.stop()
        baseline = await bare(receiver, n)
        baseline_wrk = await bare_wrk(receiver, n)
    finally:
        await producer.stop()
        await receiver.stop()
    return {"bare": baseline, "bare_wrk": baseline_wrk, "platform": normal, "one partner hanging": hanging,
            "setup_s": round(setup, 1)}  # fmt: skip
