"""Events of the projects service, on aid.projects.v1, key = project id (pool events: the pool key)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel

from aid_common.events import registry
from aid_contracts.pledges import Earmark
from aid_contracts.topics import PROJECTS_TOPIC
from aid_contracts.types import CountryCode, Money, Names, Ratio, Sector

SOURCE = "/projects"


class PartnerRole(BaseModel):
    partner_id: uuid.UUID | None = None  # the partner's account; None for an organisation not on the platform
    name: str
    names: Names = {}
    role: Literal["implementing", "accountable", "funding"]


class ProjectFacts(BaseModel):
    project_id: uuid.UUID
    code: str
    title: str
    names: Names = {}
    country: CountryCode
    region: str | None = None
    sector: Sector
    appeal: str | None = None
    pillar: str | None = None
    requirements_usd: Money


@registry.register(
    "aid.project.created",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="project_id",
    summary="A field project was registered.",
)
class ProjectCreated(ProjectFacts):
    status: Literal["planned", "active", "closed"]
    partners: list[PartnerRole] = []


@registry.register(
    "aid.project.updated",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="project_id",
    summary="A project's title, names, requirements, status or partners changed; `changed` lists which.",
)
class ProjectUpdated(ProjectFacts):
    status: Literal["planned", "active", "closed"]
    partners: list[PartnerRole] = []
    changed: list[str]


@registry.register(
    "aid.project.funding_updated",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="project_id",
    summary="A project's funding changed because of an agreement (allocation or reversal).",
)
class ProjectFundingUpdated(ProjectFacts):
    kind: Literal["allocation", "reversal"]
    delta_usd: Money
    funded_usd: Money
    coverage: Ratio
    overfunded: bool
    agreement_id: uuid.UUID
    cause_event_id: str
    correlation_id: str | None = None


@registry.register(
    "aid.project.fully_funded",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="project_id",
    summary="A project's coverage reached 100 % for the first time.",
)
class ProjectFullyFunded(ProjectFacts):
    funded_usd: Money
    coverage: Ratio
    agreement_id: uuid.UUID


@registry.register(
    "aid.pool.updated",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="pool_key",
    summary="The unallocated balance of an earmark's pool changed.",
)
class PoolUpdated(BaseModel):
    pool_key: str
    earmark: Earmark
    agreement_id: uuid.UUID
    delta_usd: Money
    balance_usd: Money


class PillarFacts(BaseModel):
    code: str
    title: str
    names: Names = {}
    requirements_usd: Money


class AppealFacts(BaseModel):
    code: str
    title: str
    names: Names = {}
    year: int
    pillars: list[PillarFacts]


@registry.register(
    "aid.appeal.created",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="code",
    summary="An appeal was launched with its pillars and what each needs.",
)
class AppealCreated(AppealFacts):
    pass


@registry.register(
    "aid.appeal.updated",
    topic=PROJECTS_TOPIC,
    source=SOURCE,
    key_field="code",
    summary="An appeal's title, names or pillars changed; `changed` lists which.",
)
class AppealUpdated(AppealFacts):
    changed: list[str]
