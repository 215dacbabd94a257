"""Who may act on a rectification case (谁办理谁负责): the staff member who served the visit
or a hall manager for a hall visit, the responsible unit's handler for any case, the hotline
center for the callback of a hotline matter; hall managers close and review. Auditors only
look. Refusals change nothing, through the service, the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import PermissionDenied
from govloop.core.models import User
from govloop.hall import service as hall
from govloop.hall import windows as hall_windows
from govloop.org.models import Department, DepartmentMember
from govloop.ratings import rectification, service
from govloop.ratings.models import RatingEvent, RectificationCase
from govloop.ratings.service import RatingInput
from tests.factories import make_hall, make_user
from tests.web.helpers import sign_in

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Cases:
    hall_case: int  # a bad rating of staff1's visit at window 1 (unit D1)
    hotline_case: int  # a bad rating of a hotline matter handled by unit D2


@pytest.fixture
def cases(db):
    with frozen(MONDAY_10), unit_of_work() as s:
        world = make_hall(s)
        make_user(s, "manager2", Role.HALL_MANAGER)
        make_user(s, "auditor", Role.AUDITOR)
        make_user(s, "agent", Role.HOTLINE_AGENT)
        d1 = s.scalar(select(Department).where(Department.code == "D1"))
        d2 = Department(code="D2", name="城管局")
        s.add(d2)
        s.flush()
        for name, unit in (("handler-d1", d1), ("handler-d2", d2)):
            user = make_user(s, name, Role.DEPARTMENT_HANDLER)
            s.add(DepartmentMember(user_id=user.id, department_id=unit.id))
        ticket = hall.issue_ticket(session=s, hall=world.hall, item=world.items["SB01"])
        for step in (
            hall_windows.call_next,
            hall_windows.start_service,
            hall_windows.finish_service,
        ):
            step(session=s, hall=world.hall, window_number=1, actor=world.staff[1])
        visit = service.rate_ticket(
            session=s, ticket=ticket, data=RatingInput(level=2, channel="pad", comment="慢")
        )
        matter = service.rate_matter(
            session=s,
            source="hotline",
            ref="20261123000001",
            department_id=d2.id,
            item_id=None,
            staff_id=None,
            data=RatingInput(level=1, channel="hotline", comment="没解决"),
        )
        ids = {
            r.id: c.id
            for c, r in rectification.list_cases(session=s)
            if r.id in (visit.id, matter.id)
        }
        return Cases(ids[visit.id], ids[matter.id])


def user(name: str) -> User:
    with unit_of_work() as s:
        found = s.scalar(select(User).where(User.username == name))
        assert found is not None
        s.expunge(found)
        return found


def status(case_id: int) -> str:
    with unit_of_work(readonly=True) as s:
        return s.get(RectificationCase, case_id).status


def events() -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count(RatingEvent.id))) or 0


def act(action: str, case_id: int, actor: User):  # type: ignore[no-untyped-def]
    with frozen(MONDAY_10), unit_of_work() as s:
        if action == "callback":
            return rectification.record_callback(
                session=s, case_id=case_id, actor=actor, note="已回访"
            )
        if action == "rectify":
            return rectification.record_rectification(
                session=s, case_id=case_id, actor=actor, evidence="培训记录", result="已整改"
            )
        if action == "appeal":
            return rectification.appeal(
                session=s, case_id=case_id, actor=actor, reason="恶意差评，有录音"
            )
        if action == "close":
            return rectification.close_case(session=s, case_id=case_id, actor=actor)
        return rectification.review_appeal(
            session=s, case_id=case_id, actor=actor, uphold=True, note="属实"
        )


def refused(action: str, case_id: int, actor: User, why: str) -> None:
    before = (status(case_id), events())
    with pytest.raises(PermissionDenied) as exc:
        act(action, case_id, actor)
    assert why in exc.value.message
    assert (status(case_id), events()) == before


@pytest.mark.parametrize("action", ["callback", "rectify", "appeal", "close", "review"])
def test_an_auditor_only_looks(cases, action):
    refused(action, cases.hall_case, user("auditor"), "审计员只能查看")
    refused(action, cases.hotline_case, user("auditor"), "审计员只能查看")


def test_a_hall_visit_is_handled_by_the_clerk_who_served_it_or_a_manager(cases):
    case_id = cases.hall_case
    refused("callback", case_id, user("staff2"), "不由您负责")  # another window's clerk
    refused("appeal", case_id, user("staff2"), "只有负责办理该事项的单位或人员")
    refused("callback", case_id, user("handler-d2"), "不由您负责")  # another unit
    refused("callback", case_id, user("agent"), "不由您负责")  # not a hotline matter
    act("callback", case_id, user("staff1"))
    refused("rectify", case_id, user("staff2"), "不由您负责")
    act("rectify", case_id, user("handler-d1"))  # the responsible unit may rectify
    refused("close", case_id, user("staff1"), "只有大厅管理员可以办结")
    act("close", case_id, user("manager"))
    assert status(case_id) == "closed"


def test_a_hotline_matter_is_appealed_only_by_its_unit(cases):
    case_id = cases.hotline_case
    refused("appeal", case_id, user("staff1"), "只有负责办理该事项的单位或人员")  # a window clerk
    refused("appeal", case_id, user("manager"), "只有负责办理该事项的单位或人员")
    refused("appeal", case_id, user("handler-d1"), "只有负责办理该事项的单位或人员")
    refused("rectify", case_id, user("staff1"), "不由您负责")
    act("callback", case_id, user("agent"))  # the hotline center calls back its matters
    act("appeal", case_id, user("handler-d2"))
    refused("review", case_id, user("handler-d2"), "只有大厅管理员可以复核")
    act("review", case_id, user("manager"))
    assert status(case_id) == "excluded"


def test_allowed_actions_follow_role_and_state(cases):
    with unit_of_work(readonly=True) as s:
        hall_case, hall_rating = rectification.get_case(
            session=s, case_id=cases.hall_case, lock=False
        )
        line, line_rating = rectification.get_case(
            session=s, case_id=cases.hotline_case, lock=False
        )

        def allowed(case, rating, name):  # type: ignore[no-untyped-def]
            return rectification.allowed_actions(
                session=s, case=case, rating=rating, actor=user(name)
            )

        assert allowed(hall_case, hall_rating, "auditor") == set()
        assert allowed(hall_case, hall_rating, "staff1") == {"callback", "appeal"}
        assert allowed(hall_case, hall_rating, "staff2") == set()
        assert allowed(line, line_rating, "staff1") == set()
        assert allowed(line, line_rating, "handler-d2") == {"callback", "appeal"}
        assert allowed(line, line_rating, "agent") == {"callback"}


def test_the_api_refuses_and_changes_nothing(cases):
    with unit_of_work() as s:
        tokens = {
            name: issue_api_token(
                session=s,
                user=s.scalar(select(User).where(User.username == name)),
                name="t",
            )
            for name in ("auditor", "staff1", "handler-d2")
        }

    def headers(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[name]}"}

    with frozen(MONDAY_10):
        client = TestClient(create_app(run_jobs=False))
        before = events()
        r = client.post(
            f"/api/v1/ratings/cases/{cases.hall_case}/callback",
            json={"note": "已回访"},
            headers=headers("auditor"),
        )
        # the auditor views: the route itself refuses acting on a case
        assert r.status_code == 403 and r.json()["error"] == "permission_denied"
        r = client.post(
            f"/api/v1/ratings/cases/{cases.hotline_case}/appeal",
            json={"reason": "群众误评，已核实"},
            headers=headers("staff1"),
        )
        assert r.status_code == 403 and r.json()["error"] == "not_your_case"
        assert events() == before and status(cases.hotline_case) == "open"
        # a unit may not enter a rating of a hotline matter (its own or another's)
        r = client.post(
            "/api/v1/ratings/matters",
            json={"level": 5, "channel": "hotline", "source": "hotline", "ref": "20261123000009"},
            headers=headers("handler-d2"),
        )
        assert r.status_code == 403 and r.json()["error"] == "center_only"


def test_the_pages_offer_only_the_actions_the_viewer_may_take(cases):
    with frozen(MONDAY_10):
        client = TestClient(create_app(run_jobs=False))
        sign_in(client, "auditor")
        page = client.get(f"/ratings/cases/{cases.hall_case}").text
        assert "data-action=" not in page and "data-not-yours" in page
        clerk = TestClient(client.app)
        token = sign_in(clerk, "staff1")
        own = clerk.get(f"/ratings/cases/{cases.hall_case}").text
        assert 'data-action="callback"' in own and 'data-action="appeal"' in own
        hotline = clerk.get(f"/ratings/cases/{cases.hotline_case}").text
        assert "data-action=" not in hotline and "等待负责办理该事项的单位或人员记录回访" in hotline
        # a forged post gets the service's refusal, inline, and nothing changes
        before = events()
        r = clerk.post(
            f"/ratings/cases/{cases.hotline_case}/appeal",
            data={"reason": "群众误评，已核实", "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 403 and "只有负责办理该事项的单位或人员可以申诉" in r.text
        assert events() == before and status(cases.hotline_case) == "open"
