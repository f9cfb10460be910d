"""Alembic environment of the projects service (DATABASE_URL or the URL the CLI passes)."""

from aid_common.migrations import run_migrations
from aid_projects.appeals import models as _appeals  # noqa: F401  (register the tables)
from aid_projects.db import Base
from aid_projects.funding import models as _funding  # noqa: F401
from aid_projects.projects import models as _projects  # noqa: F401

run_migrations(Base.metadata)
