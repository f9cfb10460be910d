from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from aid_common.idempotency import idempotent
from aid_common.pagination import Items
from aid_common.uow import ReadSession, UnitOfWork
from aid_projects.appeals import service
from aid_projects.appeals.models import AppealCreate, AppealRead, AppealUpdate
from aid_projects.deps import At, Reader, Steward
from aid_projects.funding import reports

router = APIRouter(prefix="/v1/appeals", tags=["appeals"])
AppealCode = Annotated[str, Path(min_length=1, max_length=50)]


@router.post("", status_code=201)
@idempotent
async def create_appeal(body: AppealCreate, uow: UnitOfWork, caller: Steward) -> AppealRead:
    """Register an appeal and its pillars with their requirements in USD."""
    appeal = await service.create(session=uow.session, data=body)
    return await reports.appeal_read(session=uow.session, appeal=appeal)


@router.get("")
async def list_appeals(
    session: ReadSession,
    caller: Reader,
    when: At,
    year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
) -> Items[AppealRead]:
    appeals = await service.list_(session=session, year=year)
    return Items(items=await reports.appeals_read(session=session, appeals=appeals, when=when))


@router.get("/{code}")
async def get_appeal(code: AppealCode, session: ReadSession, caller: Reader, when: At) -> AppealRead:
    """The appeal and each pillar against what it states it needs: funded (projects inside only), unmet,
    over-funded, unallocated (pools earmarked to it), received, coverage — now, `as_of` a day or `known_at` a moment."""
    appeal = await service.get_or_404(session=session, code=code)
    return await reports.appeal_read(session=session, appeal=appeal, when=when)


@router.patch("/{code}")
@idempotent
async def update_appeal(code: AppealCode, body: AppealUpdate, uow: UnitOfWork, caller: Steward) -> AppealRead:
    """Change the appeal's title or names (announced as `aid.appeal.updated`)."""
    appeal = await service.update(session=uow.session, code=code, data=body)
    return await reports.appeal_read(session=uow.session, appeal=appeal)
