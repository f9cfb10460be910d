"""A subscription whose secret no configured key opens (a restore, keys mixed up between environments) fails alone:
its deliveries are marked, it is flagged for the operator, and every other partner still gets its webhooks. Keys
rotate with MultiFernet and `crisisaid reseal-secrets`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

from cryptography.fernet import Fernet
from sqlalchemy import select

from aid_common.db import create_all, create_engine, session_factory, transaction
from aid_notifications.app import create_app
from aid_notifications.db import Base
from aid_notifications.partners.models import Partner
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions.models import SigningSecret, Subscription
from aid_notifications.subscriptions.secrets import SecretBox
from tests.helpers import eventually
from tests.notifications.conftest import FAST, create_partner, funding_event, publish, subscribe


async def test_one_unreadable_secret_does_not_stop_the_other_webhooks(start_service, sqlite_url, admin, receiver):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = {**FAST, "AID_WEBHOOK_SECRETS_KEY": new}
    svc = await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **env)
    partner = await create_partner(svc, admin)
    lost = await subscribe(svc, admin, partner["id"], receiver.url("/lost"), ["aid.project.*"])
    await subscribe(svc, admin, partner["id"], receiver.url("/kept"), ["aid.project.*"])
    async with transaction(svc.runtime.sessions) as session:  # as if sealed in another environment
        query = select(SigningSecret).where(SigningSecret.subscription_id == uuid.UUID(lost["id"]))
        row = (await session.execute(query)).scalar_one()
        row.sealed = SecretBox(old).seal(lost["secret"])

    await publish(svc, funding_event())
    await eventually(lambda: [r for r in receiver.requests if r.path == "/kept"], timeout=10)

    async def flagged() -> dict | None:
        found = (await svc.client.get(f"/v1/subscriptions/{lost['id']}", headers=admin)).json()
        return found if found["status"] == "disabled" else None

    # The readable one is handed to the worker at the fan-out; the other is left to a claim, which flags it.
    disabled = await eventually(flagged, timeout=10)
    assert "cannot be read" in disabled["disabled_reason"]
    dead = (await svc.client.get("/v1/deliveries", params={"subscription_id": lost["id"]}, headers=admin)).json()
    assert dead["items"][0]["status"] == "dead" and "signing secret" in dead["items"][0]["last_error"]
    metrics = (await svc.client.get("/metrics")).text
    assert 'aid_webhook_subscriptions_flagged_total{reason="unreadable-secret"}' in metrics


def test_reseal_moves_every_secret_to_the_newest_key(tmp_path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"

    async def seed() -> None:
        engine = create_engine(url)
        await create_all(engine, Base.metadata)
        async with transaction(session_factory(engine)) as s:
            partner = Partner(id=uuid.uuid4(), name="Qatar Charity", names={})
            s.add(partner)
            await s.flush()
            sub = Subscription(
                id=uuid.uuid4(),
                partner_id=partner.id,
                url="https://example.org/h",
                event_types=["*"],
                countries=[],
                sectors=[],
                appeals=[],
                status="active",
            )
            s.add(sub)
            await s.flush()
            s.add(SigningSecret(id=uuid.uuid4(), subscription_id=sub.id, sealed=SecretBox(old).seal("whsec_abc")))
        await engine.dispose()

    async def sealed() -> str:
        engine = create_engine(url)
        async with session_factory(engine)() as s:
            value = (await s.execute(select(SigningSecret.sealed))).scalar_one()
        await engine.dispose()
        return value

    asyncio.run(seed())
    env = {"DATABASE_URL": url, "AID_MODE": "embedded", "AID_WEBHOOK_SECRETS_KEY": f"{new},{old}", "PATH": "/usr/bin"}
    command = [sys.executable, "-m", "crisisaid.main", "reseal-secrets"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "resealed 1" in done.stdout, done.stdout + done.stderr
    assert SecretBox(new).open(asyncio.run(sealed())) == "whsec_abc", "the newest key alone opens it now"
