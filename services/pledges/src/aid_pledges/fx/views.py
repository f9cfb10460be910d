from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from aid_common.auth import Caller, require_scope
from aid_common.runtime import SessionDep
from aid_contracts.types import CurrencyCode
from aid_pledges.fx import service
from aid_pledges.fx.models import FxRatePut, FxRateRead

router = APIRouter(prefix="/v1/fx-rates", tags=["fx-rates"])
Currency = Annotated[CurrencyCode, Path(description="ISO 4217 code, e.g. KWD")]


@router.put("/{currency}", response_model=FxRateRead)
async def put_rate(
    currency: Currency, body: FxRatePut, session: SessionDep, caller: Caller = require_scope("pledges:write")
):
    """Set the rate in force from `valid_from` (idempotent: PUT again to correct it)."""
    rate = await service.put(
        session=session, currency=currency, usd_per_unit=body.usd_per_unit, valid_from=body.valid_from
    )
    result = FxRateRead.model_validate(rate)
    await session.commit()
    return result


@router.get("", response_model=list[FxRateRead])
async def list_rates(
    session: SessionDep,
    currency: Annotated[CurrencyCode | None, Query()] = None,
    caller: Caller = require_scope("pledges:read"),
):
    return [FxRateRead.model_validate(r) for r in await service.list_(session=session, currency=currency)]
