"""Every event the pledges service consumes, typed by payload: the projects service's appeals and projects,
kept as a read model so that earmarks are checked against what exists (no call between services); and the
notifications service's partner accounts, each an organisation in the implementing-partner role under its id."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.events import CloudEvent
from aid_common.subscriptions import on
from aid_contracts.notifications import PartnerCreated, PartnerUpdated
from aid_contracts.projects import AppealCreated, AppealFacts, AppealUpdated, ProjectCreated, ProjectUpdated
from aid_pledges.earmarks import service as earmarks
from aid_pledges.organisations import service as organisations


async def appeal_seen(session: AsyncSession, payload: AppealFacts, event: CloudEvent) -> None:
    await earmarks.remember_appeal(session=session, appeal=payload)


async def project_seen(session: AsyncSession, payload: ProjectCreated | ProjectUpdated, event: CloudEvent) -> None:
    await earmarks.remember_project(session=session, project=payload)


async def partner_seen(session: AsyncSession, payload: PartnerCreated | PartnerUpdated, event: CloudEvent) -> None:
    await organisations.partner_seen(session=session, partner=payload)


SUBSCRIPTIONS = [
    on(AppealCreated, appeal_seen),
    on(AppealUpdated, appeal_seen),
    on(ProjectCreated, project_seen),
    on(ProjectUpdated, project_seen),
    on(PartnerCreated, partner_seen),
    on(PartnerUpdated, partner_seen),
]
