"""The event pipeline.

- P2: a burst of signed agreements, POST answered → aid.project.funding_updated on Kafka (pledges outbox relay →
  aid.pledges.v1 → projects consumer, inbox, ledger, outbox relay → aid.projects.v1), against a bare aiokafka
  consume → produce loop (one hop, same producer and consumer safety settings) given the same burst.
- P3: agreements at half P2's rate, POST answered → webhook received by a local receiver (through the
  notifications service), against bare Kafka produce → consume at the same rate: p99 latency.
- P4: the projects consumer draining a backlog of agreements on six countries (disjoint earmarks) with one
  worker, then with two workers in its consumer group (six partitions).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx
from aiokafka import AIOKafkaProducer

from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from bench import wrk
from bench.api import agreement_body, donor
from bench.processes import free_port
from bench.receiver import Receiver
from bench.run import KAFKA, MachineCpu, Run, Watch, cpu_seconds, percentiles

COUNTRIES = ("SY", "YE", "SD", "LB", "AF", "SO")
# P3 sends every webhook to one subscription, ~60 a second. The default cap of 4 requests in flight per
# subscription (AID_DELIVERY_PER_SUBSCRIPTION, which spares a partner's endpoint) holds one subscription to
# 4 ÷ its endpoint's answer time — below that rate for this receiver on the busy bench machine: p99 13 s at 4,
# 1.7 s at 16 (2026-11-27). P3 measures the pipeline, so its partner asks for more, as a partner with such a
# stream would: the subscription's own `max_in_flight` (the partner's cap, 8 by default, still applies).
P3_MAX_IN_FLIGHT = 16


def _agreement(donor_id: str, tag: str, i: int, country: str = "SY") -> dict:
    return {
        "donor_id": donor_id,
        "reference": f"BENCH-{tag}-{i:06d}",
        "title": "منحة لدعم الرعاية الصحية",
        "amount": "125000.00",
        "currency": "USD",
        "status": "signed",
        "signed_on": "2024-06-01",
        "earmark": {"country": country, "sector": "health"},
    }


def _funding_of(record) -> str | None:
    event = json.loads(record.value)
    return event["data"]["agreement_id"] if event["type"] == "aid.project.funding_updated" else None


def _signed_of(record) -> str | None:
    event = json.loads(record.value)
    return event["data"]["agreement_id"] if event["type"] == "aid.agreement.signed" else None


async def _projects(c: httpx.AsyncClient, url: str, countries=COUNTRIES) -> None:
    for country in countries:
        body = {"code": f"{country}-H", "title": "bench", "country": country, "sector": "health",
                "requirements_usd": "900000000000.00"}  # fmt: skip
        (await c.post(f"{url}/v1/projects", json=body)).raise_for_status()


async def bare_burst(run: Run, n: int, concurrency: int) -> dict:
    prefix = run.new_prefix()
    source, sink = f"{prefix}baseline.in", f"{prefix}baseline.out"
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(source, b"warm-up", key=b"w")
        await producer.send_and_wait(sink, b"warm-up", key=b"w")
        loop = await run.start(
            [sys.executable, "-m", "bench.baseline_pipeline", KAFKA, source, sink], {}, free_port(), None
        )
        await asyncio.sleep(5)  # the loop joins its group
        async with Watch(sink, lambda r: r.value.decode()) as watch:
            sent: dict[str, float] = {}
            sem = asyncio.Semaphore(concurrency)
            start = time.perf_counter()

            async def send(i: int) -> None:
                async with sem:
                    await producer.send_and_wait(source, f"m{i}".encode(), key=str(i % 16).encode())
                    sent[f"m{i}"] = time.perf_counter()

            await asyncio.gather(*(send(i) for i in range(n)))
            await watch.until(n, 120)
        seen = watch.seen
        loop.stop()
    finally:
        await producer.stop()
    return {"per_second": round(n / (max(seen.values()) - start), 1)} | percentiles([seen[k] - sent[k] for k in sent])


async def burst(run: Run, n: int, concurrency: int) -> dict:
    """The burst is sent by wrk (burst.lua: exactly `n` POSTs over `concurrency` connections), so that the load
    generator takes little of the two cores the pipeline runs on."""
    prefix = run.new_prefix()
    pledges = await run.service("pledges", "all", await run.database(), prefix)
    projects = await run.service("projects", "all", await run.database(), prefix)
    async with httpx.AsyncClient(headers=run.headers, timeout=60) as c:
        await _projects(c, projects.url, ("SY",))
        donor_id = await donor(pledges.url, run.headers)
        await c.post(f"{pledges.url}/v1/agreements", json=_agreement(donor_id, "warm", 0))
    await asyncio.sleep(3)
    async with Watch(f"{prefix}aid.projects.v1", _funding_of) as watch:
        cpu = ServiceCpu(pledges=pledges, projects=projects)
        start = time.perf_counter()
        sending = await wrk.burst(
            f"{pledges.url}/v1/agreements", agreement_body(donor_id), count=n, auth=run.headers["Authorization"],
            run=f"burst-{prefix}", connections=concurrency,
        )  # fmt: skip
        answered = await sending.answered(300)
        await watch.until(n, 600)
        cpu_ms = cpu.ms_per(n)
    seen = watch.seen
    for p in (pledges, projects):
        p.stop()
    intake = round(n / (max(answered.values()) - start), 1)  # what bounds it: the API, or what comes after
    return {
        "per_second": round(n / (max(seen.values()) - start), 1),
        "intake_per_second": intake,
        "cpu_ms_per_agreement": cpu_ms,  # each service process (API + relay; consumer + relay)
        "machine_cpu_busy": cpu.machine_busy,
    } | percentiles([seen[k] - answered[k] for k in answered])


async def bare_paced(rate: float, seconds: float) -> dict:
    """Kafka alone: produce at `rate` per second, consume, note each message's latency."""
    topic = f"{Run.new_prefix()}baseline.paced"
    await _warm(topic)
    return await _paced_through(topic, topic, rate, seconds)


async def bare_two_hops(run: Run, rate: float, seconds: float) -> dict:
    """The bare chain P3's idle goal is measured against: produce → consume → produce → consume → produce →
    consume, two aiokafka consume → produce loops (`bench.baseline_pipeline`, the platform's safety settings)
    between three topics, paced at `rate`; each message's moment seen on the last topic."""
    prefix = run.new_prefix()
    first, middle, last = (f"{prefix}baseline.hop{n}" for n in (1, 2, 3))
    await _warm(first, middle, last)
    for source, sink in ((first, middle), (middle, last)):
        await run.start([sys.executable, "-m", "bench.baseline_pipeline", KAFKA, source, sink], {}, free_port(), None)
    await asyncio.sleep(5)  # the loops join their groups
    return await _paced_through(first, last, rate, seconds)


async def _warm(*topics: str) -> None:
    """A first record on each topic: it exists before anyone reads it."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic in topics:
            await producer.send_and_wait(topic, b"warm-up", key=b"w")
    finally:
        await producer.stop()


async def _paced_through(first: str, last: str, rate: float, seconds: float) -> dict:
    """Produce to `first` at `rate` for `seconds`; each message's latency until it is seen on `last`."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        async with Watch(last, lambda r: r.value.decode() if r.value != b"warm-up" else None) as watch:
            sent = await _paced(rate, seconds, lambda i: _produce(producer, first, i))
            await watch.until(len(sent), 60)
    finally:
        await producer.stop()
    return percentiles([watch.seen[k] - sent[k] for k in sent]) | {"rate": rate}


async def _produce(producer: AIOKafkaProducer, topic: str, i: int) -> str:
    await producer.send_and_wait(topic, f"m{i}".encode(), key=str(i).encode())
    return f"m{i}"


async def _paced(rate: float, seconds: float, send, *, returned: dict[str, float] | None = None) -> dict[str, float]:
    """Start one `send(i)` every 1/rate seconds (not waiting for the previous one); key → moment it was started
    (latencies count from there, the send's own time included), and in `returned` key → moment it returned."""
    done: dict[str, float] = {}

    async def one(i: int) -> None:
        started = time.perf_counter()
        key = await send(i)
        done[key] = started
        if returned is not None:
            returned[key] = time.perf_counter()

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return done


async def webhook_paced(run: Run, rate: float, seconds: float) -> dict:
    prefix = run.new_prefix()
    receiver = Receiver()
    await receiver.start()
    try:
        pledges = await run.service("pledges", "all", await run.database(), prefix)
        projects = await run.service("projects", "all", await run.database(), prefix)
        notifications = await run.service(
            "notifications", "all", await run.database(), prefix, **receiver.allow(),
        )  # fmt: skip
        async with httpx.AsyncClient(headers=run.headers, timeout=60) as c:
            await _projects(c, projects.url, ("SY",))
            partner = (await c.post(f"{notifications.url}/v1/partners", json={"name": "Bench partner"})).json()
            sub = {"partner_id": partner["id"], "url": receiver.url, "event_types": ["aid.project.funding_updated"],
                   "max_in_flight": P3_MAX_IN_FLIGHT}  # fmt: skip
            (await c.post(f"{notifications.url}/v1/subscriptions", json=sub)).raise_for_status()
            donor_id = await donor(pledges.url, run.headers)
            await c.post(f"{pledges.url}/v1/agreements", json=_agreement(donor_id, "warm", 0))
            await asyncio.sleep(5)
            receiver.clear()

            async def sign(i: int) -> str:
                r = await c.post(f"{pledges.url}/v1/agreements", json=_agreement(donor_id, "paced", i))
                return r.json()["id"]

            # each hop's moment: the agreement's event on aid.pledges.v1, its funding event on aid.projects.v1
            async with (
                Watch(f"{prefix}{PLEDGES_TOPIC}", _signed_of) as signed,
                Watch(f"{prefix}{PROJECTS_TOPIC}", _funding_of) as funded,
            ):
                cpu = ServiceCpu(pledges=pledges, projects=projects, notifications=notifications)
                answered: dict[str, float] = {}
                posted = await _paced(rate, seconds, sign, returned=answered)
                await receiver.until(len(posted), 120)
                cpu_ms = cpu.ms_per(len(posted))
        for p in (pledges, projects, notifications):
            p.stop()
    finally:
        await receiver.stop()
    return percentiles([receiver.first[k] - posted[k] for k in posted]) | {
        "rate": rate,
        "cpu_ms_per_agreement": cpu_ms,
        "machine_cpu_busy": cpu.machine_busy,
        "hops": _hops(posted, answered, signed.seen, funded.seen, receiver.first),
    }


def _hops(posted: dict, answered: dict, signed: dict, funded: dict, received: dict) -> dict[str, dict[str, float]]:
    """p50 and p99 of each hop, for the agreements seen at every one: POST sent → answered (pledges: the request)
    → its event on Kafka (pledges' outbox relay) → its funding event on Kafka (projects: consumer, ledger, outbox
    relay) → webhook received (notifications: consumer, delivery queued, worker, HTTP)."""
    seen = [k for k in posted if k in answered and k in signed and k in funded and k in received]
    stages = (
        ("POST", posted, answered),
        ("outbox→kafka", answered, signed),
        ("projects", signed, funded),
        ("notifications", funded, received),
    )
    out = {}
    for name, start, end in stages:
        figures = percentiles([end[k] - start[k] for k in seen]) if seen else {}
        out[name] = {"p50_ms": figures.get("p50_ms"), "p99_ms": figures.get("p99_ms"), "count": len(seen)}
    return out


class ServiceCpu:
    """CPU each service process uses from now on, per agreement (what bounds a pipeline on shared cores), and
    how busy the whole machine was."""

    def __init__(self, **services) -> None:
        self.services = services
        self.before = {name: cpu_seconds(p.proc.pid) for name, p in services.items()}
        self.machine = MachineCpu()
        self.machine.start()
        self.machine_busy: float | None = None

    def ms_per(self, count: int) -> dict[str, float]:
        self.machine_busy = self.machine.stop()
        return {
            name: round((cpu_seconds(p.proc.pid) - self.before[name]) * 1000 / count, 2)
            for name, p in self.services.items()
        }


async def drain(run: Run, n: int, workers: int, concurrency: int) -> dict:
    """`workers` projects workers join their consumer group first; then the pledges relay publishes a backlog of
    `n` signed agreements over six countries (disjoint earmarks) at once, and the workers turn it into funding
    updates: first to last update seen."""
    prefix = run.new_prefix()
    pledges_db, db = await run.database(), await run.database()
    pledges = await run.service("pledges", "api", pledges_db, prefix)  # no relay: the backlog waits in its outbox
    api = await run.service("projects", "api", db, prefix)
    async with httpx.AsyncClient(headers=run.headers, timeout=60) as c:
        await _projects(c, api.url)
        donor_id = await donor(pledges.url, run.headers)
        sem = asyncio.Semaphore(concurrency)

        async def sign(i: int) -> None:
            async with sem:
                body = _agreement(donor_id, "drain", i, COUNTRIES[i % len(COUNTRIES)])
                (await c.post(f"{pledges.url}/v1/agreements", json=body)).raise_for_status()

        await asyncio.gather(*(sign(i) for i in range(n)))
    started = await asyncio.gather(
        *(run.service("projects", "worker", db, prefix, migrate=False) for _ in range(workers))
    )
    await asyncio.sleep(10)  # every worker has joined the group and holds its partitions
    machine = MachineCpu()
    async with (
        Watch(f"{prefix}{PLEDGES_TOPIC}", _signed_of) as published,
        Watch(f"{prefix}aid.projects.v1", _funding_of) as watch,
    ):
        relay = await run.service("pledges", "worker", pledges_db, prefix, migrate=False)
        machine.start()
        await watch.until(n, 900)
        busy = machine.stop()
    for p in (pledges, api, relay, *started):
        p.stop()
    times = sorted(watch.seen.values())
    per_second = round((n - 1) / (times[-1] - times[0]), 1)
    sent = sorted(published.seen.values())
    return {
        "per_second": per_second,
        "count": n,
        "workers": workers,
        "machine_cpu_busy": busy,
        # how fast the backlog reached the workers: a drain that keeps pace with it is bounded by the relay
        "published_per_second": round((n - 1) / (sent[-1] - sent[0]), 1),
    }
