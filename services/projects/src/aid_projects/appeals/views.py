from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from aid_common.auth import Caller, require_scope
from aid_common.idempotency import IdempotencyKey, respond_idempotently
from aid_common.runtime import SessionDep
from aid_projects.appeals import service
from aid_projects.appeals.models import AppealCreate, AppealRead

router = APIRouter(prefix="/v1/appeals", tags=["appeals"])
Reader = Annotated[Caller, require_scope("projects:read")]
AppealCode = Annotated[str, Path(min_length=1, max_length=50)]


@router.post("", status_code=201, response_model=AppealRead)
async def create_appeal(
    body: AppealCreate,
    request: Request,
    caller: Annotated[Caller, require_scope("projects:write")],
    idempotency_key: IdempotencyKey = None,
):
    """Register an appeal and its pillars with their requirements in USD."""

    async def use_case(session):
        appeal = await service.create(session=session, data=body)
        return await service.read(session=session, appeal=appeal)

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )


@router.get("", response_model=list[AppealRead])
async def list_appeals(session: SessionDep, caller: Reader, year: int | None = None) -> list[AppealRead]:
    return await service.list_(session=session, year=year)


@router.get("/{code}", response_model=AppealRead)
async def get_appeal(code: AppealCode, session: SessionDep, caller: Reader) -> AppealRead:
    """The appeal with per-pillar requirements, funding (projects' plus unallocated earmarked money) and
    coverage."""
    return await service.read(session=session, appeal=await service.get_or_404(session=session, code=code))
