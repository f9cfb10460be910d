"""The published event contract. Importing this package registers every event type."""

from aid_contracts import notifications, pledges, projects  # noqa: F401
from aid_contracts.topics import ALERTS_TOPIC, PARTNERS_TOPIC, PLEDGES_TOPIC, PROJECTS_TOPIC

__all__ = ["ALERTS_TOPIC", "PARTNERS_TOPIC", "PLEDGES_TOPIC", "PROJECTS_TOPIC"]
