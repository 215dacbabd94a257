"""What other domains show on the hall manager's page (好差评 rectification, …).

The hall sits below those domains, so it cannot ask them; each registers a panel that
returns the template context it adds, and the manager's page shows every registered panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from govloop.org.models import Hall

Panel = Callable[[Session, Hall], dict[str, Any]]
_PANELS: list[Panel] = []


def register(panel: Panel) -> Panel:
    if panel not in _PANELS:
        _PANELS.append(panel)
    return panel


def context(session: Session, hall: Hall) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for panel in _PANELS:
        shown.update(panel(session, hall))
    return shown
