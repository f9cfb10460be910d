"""Settings of the pledges service (environment variables, read once)."""

from __future__ import annotations

from pydantic import Field

from aid_common.settings import Settings


class PledgesSettings(Settings):
    port: int = Field(default=8001, alias="PORT")
    seed_fx_rates: bool = Field(default=True, alias="AID_SEED_FX_RATES")
