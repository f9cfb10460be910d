"""A minimal service built with ServiceRuntime, for the shared mechanics: auth, errors, health, the unit of work,
idempotency and pagination."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from aid_common.auth import Caller, TokenVerifier, require_scope
from aid_common.errors import Unprocessable
from aid_common.idempotency import idempotent
from aid_common.memory_bus import MemoryBus
from aid_common.pagination import Cursor, Limit, Page, keyset, page
from aid_common.runtime import ServiceRuntime
from aid_common.settings import Mode, Settings
from aid_common.uow import ReadSession, UnitOfWork
from tests.common.sample import SampleBase, Thing

Writer = Annotated[Caller, require_scope("things:write")]


class Body(BaseModel):
    name: str = Field(min_length=1)
    count: int


class ThingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str


class SampleService:
    def __init__(self, app: FastAPI, runtime: ServiceRuntime, client: httpx.AsyncClient) -> None:
        self.app, self.runtime, self.client = app, runtime, client


@pytest.fixture
async def sample(sqlite_url, keypair):
    settings = Settings(AID_MODE=Mode.EMBEDDED, DATABASE_URL=sqlite_url, AID_MAX_BODY_BYTES=2048)
    runtime = ServiceRuntime(
        settings,
        service="sample",
        metadata=SampleBase.metadata,
        bus=MemoryBus(),
        role="api",
        token_verifier=TokenVerifier(load_pem_public_key(keypair[1])),
    )
    app = FastAPI(lifespan=runtime.lifespan)
    runtime.install(app)

    @app.post("/v1/things", status_code=201)
    async def echo(body: Body, caller: Writer) -> dict:
        return {"name": body.name, "by": caller.subject}

    @app.post("/v1/stored-things", status_code=201)
    @idempotent
    async def create(body: Body, uow: UnitOfWork, caller: Writer) -> ThingRead:
        if body.name.startswith("slow-"):  # a request that works for a while before it writes
            await asyncio.sleep(float(body.name.removeprefix("slow-")))
        thing = Thing(id=uuid.uuid4(), name=body.name)
        uow.session.add(thing)
        await uow.session.flush()
        if body.name == "fail-after-write":  # the write happened; the unit of work must undo it
            raise Unprocessable("this name is refused after the row was written")
        return ThingRead.model_validate(thing)

    @app.get("/v1/stored-things")
    async def list_things(session: ReadSession, caller: Writer, cursor: Cursor = None, limit: Limit = 50) -> Page:
        rows = await session.execute(keyset(select(Thing), Thing, cursor=cursor, limit=limit))
        items, next_cursor = page(rows.scalars().all(), limit=limit)
        return Page(items=[ThingRead.model_validate(t) for t in items], next_cursor=next_cursor)

    await runtime.start()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield SampleService(app, runtime, c)
    await runtime.stop()


@pytest.fixture
def client(sample):
    return sample.client
