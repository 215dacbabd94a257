"""Each role has one stable navigation of what it can reach, the same on every page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.web.navigation import BY_ROLE, HOME, active
from tests.factories import make_hall, make_user
from tests.web.helpers import sign_in


def _nav(html: str) -> list[str]:
    block = html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'href="([^"]+)"', block)


def test_the_navigation_is_the_roles_and_does_not_change_between_pages(db):
    with unit_of_work() as s:
        make_hall(s, staffed=False)
        make_user(s, "boss", Role.HALL_MANAGER)
        make_user(s, "agent", Role.HOTLINE_AGENT)
    with TestClient(create_app(run_jobs=False)) as client:
        sign_in(client, "boss")
        pages = ["/", "/ratings/cases", "/devices", "/halls/H1/manage", "/insight"]
        navs = {page: _nav(client.get(page).text) for page in pages}
        expected = [item.url for item in BY_ROLE[Role.HALL_MANAGER]]
        assert all(nav == expected for nav in navs.values()), navs
        assert "/insight" in expected and "/devices" in expected
    with TestClient(create_app(run_jobs=False)) as client:
        sign_in(client, "agent")
        nav = _nav(client.get("/hotline/orders").text)
        assert nav == ["/", "/hotline", "/hotline/kb"]  # not only 首页
    with TestClient(create_app(run_jobs=False)) as client:
        kiosk = _nav(client.get("/halls/H1/appointments").text)
        assert kiosk == ["/", "/halls/H1/kiosk", "/halls/H1/my-ticket", "/halls/H1/appointments"]


def test_the_longest_matching_section_is_active():
    items = BY_ROLE[Role.HOTLINE_AGENT]
    hotline, knowledge = items[1], items[2]
    assert active(knowledge, "/hotline/kb/12", items) and not active(
        hotline, "/hotline/kb/12", items
    )
    assert active(hotline, "/hotline/orders/5", items)
    assert active(HOME, "/", items) and not active(HOME, "/hotline", items)
