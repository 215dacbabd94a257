"""The top navigation: one stable list per role of what that role can reach, the same on
every page, short enough for one line at 1440 px (short labels of their own, in both
languages). Citizens (nobody signed in) see the
hall's public pages when a page is about a hall."""

from __future__ import annotations

from dataclasses import dataclass

from govloop.core.auth import Role
from govloop.core.i18n import N_
from govloop.core.models import User


@dataclass(frozen=True)
class NavItem:
    label: str  # an English msgid, translated where shown
    url: str
    # the current path is in this section when it starts with one of these
    prefixes: tuple[str, ...]


def _item(label: str, url: str, *prefixes: str) -> NavItem:
    return NavItem(label, url, prefixes or (url,))


HOME = NavItem(N_("Home"), "/", ())
INSIGHT = _item(N_("Operations"), "/insight", "/insight", "/best-time")
RATINGS = _item(N_("Ratings follow-up"), "/ratings/cases", "/ratings")
SCORECARDS = _item(N_("Scorecards"), "/indicators/scorecards", "/indicators")
SURVEYS = _item(N_("Service surveys"), "/surveys")
DEVICES = _item(N_("Devices"), "/devices")
HOTLINE = _item(N_("Hotline"), "/hotline", "/hotline")
KNOWLEDGE = _item(N_("Knowledge base"), "/hotline/kb")
DATA = _item(N_("Data intake"), "/ingest")
SUBJECTS = _item(N_("Subject databases"), "/subjects")
CATALOG = _item(N_("Data catalog"), "/catalog", "/catalog", "/graph", "/tags")
AUDIT = _item(N_("Audit"), "/access/audit", "/access")
FIELD = _item(N_("Field workbench"), "/field")
CONSOLE = _item(N_("Setup"), "/admin", "/admin/catalogue", "/admin/config")
USERS = _item(N_("Accounts"), "/admin/users")
NOTIFY = _item(N_("Notifications"), "/notify/log", "/notify")
MATTERS = _item(N_("Matters"), "/matters")

BY_ROLE: dict[str, tuple[NavItem, ...]] = {
    Role.ADMIN: (HOME, CONSOLE, USERS, INSIGHT, HOTLINE, MATTERS, DATA, DEVICES, NOTIFY, AUDIT),
    Role.HALL_MANAGER: (HOME, INSIGHT, RATINGS, SCORECARDS, SURVEYS, DEVICES),
    Role.WINDOW_STAFF: (HOME, RATINGS, SCORECARDS),
    Role.HOTLINE_AGENT: (HOME, HOTLINE, KNOWLEDGE),
    Role.DEPARTMENT_HANDLER: (HOME, MATTERS, HOTLINE, KNOWLEDGE),
    Role.DATA_STEWARD: (HOME, DATA, SUBJECTS, CATALOG),
    Role.AUDITOR: (HOME, AUDIT, SCORECARDS),
    Role.FIELD_STAFF: (HOME, FIELD),
}


def citizen_items(hall_code: str) -> tuple[NavItem, ...]:
    base = f"/halls/{hall_code}"
    return (
        HOME,
        _item(N_("Take a ticket"), f"{base}/kiosk"),
        _item(N_("My ticket"), f"{base}/my-ticket"),
        _item(N_("Appointments"), f"{base}/appointments"),
    )


def items_for(user: User | None, hall_code: str | None) -> tuple[NavItem, ...]:
    if user is None:
        return citizen_items(hall_code) if hall_code else (HOME,)
    return BY_ROLE.get(user.role, (HOME,))


def active(item: NavItem, path: str, items: tuple[NavItem, ...]) -> bool:
    """The section of ``path``: the item with the longest matching prefix (so /hotline/kb is
    the knowledge base, not the hotline)."""
    if item.url == "/":
        return path == "/"
    best = max(
        ((len(p), other) for other in items for p in other.prefixes if path.startswith(p)),
        default=None,
        key=lambda pair: pair[0],
    )
    return best is not None and best[1] is item
