"""What the console's pages are handed, each kept once in `app.state` behind a typed slot."""

from __future__ import annotations

from fastapi.templating import Jinja2Templates

from aid_common.auth import TokenVerifier
from aid_common.state import Slot
from aid_console.client import Services
from aid_console.feed import Feed
from aid_console.settings import ConsoleSettings

SETTINGS: Slot[ConsoleSettings] = Slot("settings")
SERVICES: Slot[Services] = Slot("services")  # the three services' APIs over one HTTP client (open while serving)
FEED: Slot[Feed] = Slot("feed")  # the live feed; none without a bus to read
VERIFIER: Slot[TokenVerifier] = Slot("verifier")  # none without AID_JWT_PUBLIC_KEY_FILE: no live feed then
TEMPLATES: Slot[Jinja2Templates] = Slot("templates")
