from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, PermissionDenied, RuleViolation
from govloop.hall import service as hall
from govloop.hall import windows as hall_windows
from govloop.ratings import figures as rating_figures
from govloop.ratings import rectification, service
from govloop.ratings.models import Rating, RatingEvent, RatingPolicy, RectificationCase
from govloop.ratings.service import RatingInput
from tests.factories import make_hall, make_user

# Friday 2026-09-25, 10:00 Shanghai: the National Day holiday (Oct 1–7) follows.
FRIDAY = datetime(2026, 9, 25, 2, 0, tzinfo=UTC)


@pytest.fixture
def served(db):
    """A hall with one finished and one waiting ticket."""
    with frozen(FRIDAY) as clock:
        with unit_of_work() as s:
            world = make_hall(s)
            h = world.hall
            done = hall.issue_ticket(session=s, hall=h, item=hall.get_item(session=s, code="SB01"))
            waiting = hall.issue_ticket(
                session=s, hall=h, item=hall.get_item(session=s, code="SB01")
            )
            hall_windows.call_next(session=s, hall=h, window_number=1, actor=world.staff[1])
            hall_windows.start_service(session=s, hall=h, window_number=1, actor=world.staff[1])
            hall_windows.finish_service(session=s, hall=h, window_number=1, actor=world.staff[1])
            ids = (done.public_id, waiting.public_id)
        yield world, ids, clock


def rate(public_id: str, level: int, **kw):
    with unit_of_work() as s:
        ticket = hall.get_ticket_by_public_id(session=s, public_id=public_id)
        return service.rate_ticket(
            session=s,
            ticket=ticket,
            data=RatingInput(level=level, channel=kw.pop("channel", "pad"), **kw),
        )


def count(model) -> int:
    with unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_good_rating_is_tied_to_the_visit_and_opens_no_case(served):
    world, (done, _), _ = served
    rating = rate(done, 5, tags=["热情"], dimension_scores={"empathy": 5})
    assert rating.window_id == world.windows[1].id and rating.staff_id == world.staff[1].id
    assert rating.department_id is not None and rating.item_id == world.items["SB01"].id
    assert count(RectificationCase) == 0


def test_one_rating_per_ticket_and_only_after_service(served):
    _, (done, waiting), _ = served
    rate(done, 4)
    with pytest.raises(Conflict):
        rate(done, 1)
    with pytest.raises(RuleViolation):
        rate(waiting, 5)
    assert count(Rating) == 1 and count(RatingEvent) == 1


@pytest.mark.parametrize(
    "kw",
    [
        {"level": 0},
        {"level": 6},
        {"level": 4, "channel": "fax"},
        {"level": 4, "dimension_scores": {"speed": 3}},
        {"level": 4, "dimension_scores": {"empathy": 9}},
        {"level": 4, "citizen_phone": "123"},
    ],
)
def test_bad_rating_input_writes_nothing(served, kw):
    _, (done, _), _ = served
    kw = dict(kw)
    level = kw.pop("level")
    with pytest.raises(BadRequest):
        rate(done, level, **kw)
    assert count(Rating) == 0


def test_bad_rating_opens_case_with_working_day_deadlines(served):
    world, (done, _), _ = served
    rating = rate(done, 2, citizen_phone="13800138000", comment="等太久")
    with unit_of_work() as s:
        case = s.scalars(select(RectificationCase)).one()
    assert case.rating_id == rating.id
    assert case.department_id == rating.department_id and case.staff_id == world.staff[1].id
    # Friday + 1 working day = Monday 28 Sep.
    assert case.callback_due == date(2026, 9, 28)
    # 5 working days skip the National Day holiday (1–7 Oct): 28, 29, 30 Sep, 8, 9 Oct.
    assert case.rectification_due == date(2026, 10, 9)
    assert not case.due_dates_estimated


def test_rectification_workflow_and_figures(served):
    world, (done, _), _ = served
    rate(done, 1, citizen_phone="13800138000")
    with unit_of_work() as s:
        case_id = s.scalar(select(RectificationCase.id))
    with unit_of_work() as s, pytest.raises(RuleViolation):
        rectification.close_case(session=s, case_id=case_id, actor=world.manager)
    with unit_of_work() as s:
        rectification.record_callback(
            session=s, case_id=case_id, actor=world.manager, note="已电话回访"
        )
    with unit_of_work() as s:
        rectification.record_rectification(
            session=s, case_id=case_id, actor=world.staff[1], evidence="培训记录", result="已整改"
        )
    with unit_of_work() as s:
        rectification.close_case(session=s, case_id=case_id, actor=world.manager)
        figures = rating_figures.figures(session=s)
    assert figures.total == 1 and figures.bad == 1 and figures.satisfaction_rate == 0.0
    assert figures.real_name_callback_rate == 1.0
    assert figures.rectification_rate == 1.0 and figures.on_time_rectification_rate == 1.0
    with unit_of_work() as s:
        kinds = list(s.scalars(select(RatingEvent.kind).order_by(RatingEvent.id)))
    assert kinds == [
        "rating.submitted",
        "case.opened",
        "case.called_back",
        "case.rectified",
        "case.closed",
    ]


def test_upheld_appeal_excludes_but_never_deletes(served):
    world, (done, _), _ = served
    rate(done, 1)
    with unit_of_work() as s:
        case_id = s.scalar(select(RectificationCase.id))
        reviewer = make_user(s, "reviewer", Role.HALL_MANAGER)
    with unit_of_work() as s:
        rectification.appeal(
            session=s, case_id=case_id, actor=world.manager, reason="评价人误操作，已核实"
        )
    with unit_of_work() as s, pytest.raises(PermissionDenied):
        rectification.review_appeal(
            session=s, case_id=case_id, actor=world.manager, uphold=True, note="同意"
        )
    with unit_of_work() as s:
        rectification.review_appeal(
            session=s, case_id=case_id, actor=reviewer, uphold=True, note="同意剔除"
        )
    with unit_of_work() as s:
        rating = s.scalars(select(Rating)).one()
        assert rating.excluded and rating.excluded_by == reviewer.id
        assert rating_figures.figures(session=s).total == 0


def test_rejected_appeal_returns_to_previous_state(served):
    world, (done, _), _ = served
    rate(done, 2)
    with unit_of_work() as s:
        case_id = s.scalar(select(RectificationCase.id))
        reviewer = make_user(s, "reviewer", Role.HALL_MANAGER)
        rectification.record_callback(
            session=s, case_id=case_id, actor=world.manager, note="已回访"
        )
    with unit_of_work() as s:
        rectification.appeal(
            session=s, case_id=case_id, actor=world.manager, reason="理由充分的申诉"
        )
    with unit_of_work() as s:
        case = rectification.review_appeal(
            session=s, case_id=case_id, actor=reviewer, uphold=False, note="驳回"
        )
        assert case.status == "called_back"


def test_overdue_flags_and_region_policy(served):
    world, (done, _), _ = served
    with unit_of_work() as s:
        s.add(
            RatingPolicy(
                hall_id=world.hall.id, callback_working_days=1, rectification_working_days=2
            )
        )
    rate(done, 2)
    with unit_of_work() as s:
        case = s.scalars(select(RectificationCase)).one()
        assert case.rectification_due == date(2026, 9, 29)
        assert rectification.is_overdue(case, today=date(2026, 9, 28)) == {
            "callback": False,
            "rectification": False,
        }
        assert rectification.is_overdue(case, today=date(2026, 9, 30)) == {
            "callback": True,
            "rectification": True,
        }


def test_ratings_api(served):
    world, (done, waiting), _ = served
    with unit_of_work() as s:
        token = issue_api_token(session=s, user=world.manager, name="t")
        agent = make_user(s, "agent", Role.HOTLINE_AGENT)
        agent_token = issue_api_token(session=s, user=agent, name="t")
    client = TestClient(create_app())
    r = client.post(
        f"/api/v1/ratings/tickets/{done}", json={"level": 2, "channel": "qr", "comment": "慢"}
    )
    assert r.status_code == 201 and r.json()["level_label"] == "不满意"
    r = client.post(f"/api/v1/ratings/tickets/{done}", json={"level": 5})
    assert r.status_code == 409 and r.json()["error"] == "already_rated"
    assert client.post("/api/v1/ratings/tickets/nope", json={"level": 5}).status_code == 404
    assert client.post(f"/api/v1/ratings/tickets/{waiting}", json={"level": 7}).status_code == 422
    headers = {"Authorization": f"Bearer {token}"}
    cases = client.get("/api/v1/ratings/cases", headers=headers).json()
    assert len(cases) == 1 and cases[0]["rating"]["comment"] == "慢"
    case_id = cases[0]["id"]
    r = client.post(
        f"/api/v1/ratings/cases/{case_id}/callback", headers=headers, json={"note": "已回访"}
    )
    assert r.json()["status"] == "called_back"
    figures = client.get("/api/v1/ratings/figures", headers=headers, params={"hall": "H1"}).json()
    assert figures["bad"] == 1 and figures["bad_rate"] == 1.0
    assert client.get("/api/v1/ratings/figures").status_code == 401
    body = {"level": 4, "channel": "hotline", "source": "hotline", "ref": "GD20260925001"}
    assert (
        client.post(
            "/api/v1/ratings/matters", json=body, headers={"Authorization": f"Bearer {agent_token}"}
        ).status_code
        == 201
    )
    r = client.post(
        "/api/v1/ratings/matters", json=body, headers={"Authorization": f"Bearer {agent_token}"}
    )
    assert r.status_code == 409
