from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from aid_common.pagination import Items
from aid_common.uow import ReadSession, UnitOfWork
from aid_contracts.types import CurrencyCode
from aid_pledges.deps import Reader, Writer
from aid_pledges.fx import service
from aid_pledges.fx.models import FxRatePut, FxRateRead

router = APIRouter(prefix="/v1/fx-rates", tags=["fx-rates"])
Currency = Annotated[CurrencyCode, Path(description="ISO 4217 code, e.g. KWD")]


@router.put("/{currency}")
async def put_rate(currency: Currency, body: FxRatePut, uow: UnitOfWork, caller: Writer) -> FxRateRead:
    """Set the rate in force from `valid_from` (idempotent: PUT again to correct it)."""
    rate = await service.put(
        session=uow.session, currency=currency, usd_per_unit=body.usd_per_unit, valid_from=body.valid_from
    )
    return FxRateRead.model_validate(rate)


@router.get("")
async def list_rates(
    session: ReadSession, caller: Reader, currency: Annotated[CurrencyCode | None, Query()] = None
) -> Items[FxRateRead]:
    return Items(items=[FxRateRead.model_validate(r) for r in await service.list_(session=session, currency=currency)])
