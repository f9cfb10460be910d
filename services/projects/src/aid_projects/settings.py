"""Settings of the projects service (environment variables, read once)."""

from __future__ import annotations

from pydantic import Field

from aid_common.settings import Settings


class ProjectsSettings(Settings):
    port: int = Field(default=8002, alias="PORT")
    # Who publishes the IATI export: the reporting organisation's IATI identifier and name (IOM's by default,
    # as in the seed articles).
    iati_reporting_org_ref: str = Field(default="XM-DAC-47066", alias="AID_IATI_REPORTING_ORG_REF", max_length=100)
    iati_reporting_org_name: str = Field(
        default="International Organization for Migration", alias="AID_IATI_REPORTING_ORG_NAME", max_length=300
    )
