"""Alembic environment of the notifications service (DATABASE_URL or the URL the CLI passes)."""

from aid_common.migrations import run_migrations
from aid_notifications.db import Base
from aid_notifications.deliveries import models as _deliveries  # noqa: F401  (register the tables)
from aid_notifications.partners import models as _partners  # noqa: F401
from aid_notifications.subscriptions import models as _subscriptions  # noqa: F401

run_migrations(Base.metadata)
