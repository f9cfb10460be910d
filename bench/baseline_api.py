"""The bare baseline for the pledge API: FastAPI + an asyncpg pool + one INSERT, nothing else (no auth, no
validation beyond the body model, no outbox, no idempotency). Run: uvicorn bench.baseline_api:app"""

from __future__ import annotations

import os
import uuid
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel


class Item(BaseModel):
    reference: str
    title: str
    amount: Decimal
    currency: str


@asynccontextmanager
async def lifespan(app: FastAPI):
    dsn = os.environ["BASELINE_DSN"]
    app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS items (id uuid PRIMARY KEY, reference text, title text, amount numeric, "
            "currency text, created_at timestamptz DEFAULT now())"
        )
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/items", status_code=201)
async def create(item: Item) -> dict:
    new_id = uuid.uuid4()
    async with app.state.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO items (id, reference, title, amount, currency) VALUES ($1, $2, $3, $4, $5)",
            new_id,
            item.reference,
            item.title,
            item.amount,
            item.currency,
        )
    return {"id": str(new_id), **item.model_dump(mode="json")}
