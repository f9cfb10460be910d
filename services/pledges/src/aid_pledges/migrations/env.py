"""Alembic environment of the pledges service (DATABASE_URL or the URL the CLI passes)."""

from aid_common.migrations import run_migrations
from aid_pledges.agreements import models as _agreements  # noqa: F401  (register the tables)
from aid_pledges.db import Base
from aid_pledges.donors import models as _donors  # noqa: F401
from aid_pledges.earmarks import models as _earmarks  # noqa: F401
from aid_pledges.fx import models as _fx  # noqa: F401

run_migrations(Base.metadata)
