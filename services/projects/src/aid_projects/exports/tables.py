"""Projects and funding flows as CSV tables, with the HXL hashtag row HDX expects under the header (the hashtags
FTS itself publishes), or plain CSV. Every row, not a page; streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pycountry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import csv_lines
from aid_projects.funding.models import AgreementFunds, LedgerEntry
from aid_projects.money import coverage
from aid_projects.projects.models import Project


@dataclass(frozen=True)
class Column:
    header: str
    hxl: str


PROJECT_COLUMNS = (
    Column("code", "#activity+code"),
    Column("title", "#activity+name"),
    Column("title_ar", "#activity+name+i_ar"),
    Column("country", "#country+iso3"),
    Column("region", "#adm1+name"),
    Column("sector", "#sector+cluster+name"),
    Column("appeal", "#activity+appeal+code"),
    Column("pillar", "#activity+pillar+code"),
    Column("status", "#status"),
    Column("implementing_partners", "#org+name+impl"),
    Column("requirements_usd", "#value+funding+required+usd"),
    Column("funded_usd", "#value+funding+total+usd"),
    Column("coverage_pct", "#value+funding+pct"),
    Column("received_usd", "#value+funding+received+usd"),
)
FLOW_COLUMNS = (
    Column("date", "#date"),
    Column("donor", "#org+name+funder"),
    Column("agreement_reference", "#meta+agreement+code"),
    Column("project_code", "#activity+code"),
    Column("project_title", "#activity+name"),
    Column("implementing_partners", "#org+name+impl"),
    Column("country", "#country+iso3"),
    Column("sector", "#sector+cluster+name"),
    Column("kind", "#meta+kind"),
    Column("amount_usd", "#value+funding+total+usd"),
    Column("correlation_id", "#meta+id"),
)


def iso3(alpha_2: str) -> str:
    country = pycountry.countries.get(alpha_2=alpha_2)
    return country.alpha_3 if country else alpha_2


async def _table(columns: Sequence[Column], rows: AsyncIterator[list[object]], *, hxl: bool) -> AsyncIterator[str]:
    yield csv_lines.line(c.header for c in columns)
    if hxl:
        yield csv_lines.line(c.hxl for c in columns)
    async for row in rows:
        yield csv_lines.line(row)


def _implementers(project: Project) -> str:
    return "; ".join(p["name"] for p in project.partners if p.get("role") == "implementing")


def project_row(project: Project) -> list[object]:
    cov = coverage(project.funded_usd, project.requirements_usd) * 100
    return [
        project.code, project.title, project.names.get("ar"), iso3(project.country), project.region, project.sector,
        project.appeal, project.pillar, project.status, _implementers(project), project.requirements_usd,
        project.funded_usd, cov.quantize(Decimal("0.01")), project.received_usd,
    ]  # fmt: skip


async def projects_csv(projects: AsyncIterator[list[Project]], *, hxl: bool) -> AsyncIterator[str]:
    async def rows() -> AsyncIterator[list[object]]:
        async for batch in projects:
            for project in batch:
                yield project_row(project)

    async for chunk in _table(PROJECT_COLUMNS, rows(), hxl=hxl):
        yield chunk


async def flows_csv(
    session: AsyncSession, projects: AsyncIterator[list[Project]], *, hxl: bool, donors: bool
) -> AsyncIterator[str]:
    """Every ledger entry of the given projects: who funded what, when (the day the money moved), allocation or
    reversal. Without `donors`
    (a caller who may not see donors' agreements) the donor, the agreement's reference and the correlation id
    are left empty: the columns stay, so a reader's tools keep working."""

    async def rows() -> AsyncIterator[list[object]]:
        async for batch in projects:
            by_id = {p.id: p for p in batch}
            stmt = (
                select(LedgerEntry, AgreementFunds)
                .join(AgreementFunds, AgreementFunds.agreement_id == LedgerEntry.agreement_id)
                .where(LedgerEntry.project_id.in_(list(by_id)))
                .order_by(LedgerEntry.project_id, LedgerEntry.effective_on, LedgerEntry.created_at, LedgerEntry.id)
            )
            for entry, agreement in (await session.execute(stmt)).all():
                p = by_id[entry.project_id]
                who = (agreement.donor.get("name"), agreement.reference) if donors else (None, None)
                yield [
                    entry.effective_on.isoformat(), *who, p.code, p.title, _implementers(p), iso3(p.country),
                    p.sector, entry.kind, entry.amount_usd, entry.correlation_id if donors else None,
                ]  # fmt: skip

    async for chunk in _table(FLOW_COLUMNS, rows(), hxl=hxl):
        yield chunk
