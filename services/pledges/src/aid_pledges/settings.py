"""Settings of the pledges service (environment variables, read once)."""

from __future__ import annotations

from pydantic import Field

from aid_common.settings import Settings


class PledgesSettings(Settings):
    port: int = Field(default=8001, alias="PORT")
    seed_fx_rates: bool = Field(default=True, alias="AID_SEED_FX_RATES")
    # Donors and FX rates held in each API process, dropped on PostgreSQL NOTIFY (aid_pledges.reference_cache). Off
    # where DATABASE_URL goes through a transaction-mode pool (PgBouncer's), which does not deliver notifications.
    reference_cache: bool = Field(default=True, alias="AID_REFERENCE_CACHE")
