"""A unit that returns an order (退单) stops seeing the caller and the case data at once;
it gets them back only if the center rejects the return, and a unit the order was moved
away from (改派) or whose order closed sees them no more."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.access import cases, service
from govloop.access.models import Grant
from govloop.app import create_app
from govloop.core.auth import issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hotline.models import WorkOrder
from govloop.hotline.orders import queries, workflow
from govloop.subjects.models import SubjectMaster
from tests.factories import refusal
from tests.hotline.factories import build_world, new_order

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(db):
    with frozen(MONDAY_10), unit_of_work() as s:
        w = build_world(s)
        caller = SubjectMaster(
            kind="person",
            identifier="11010519491231002X",
            display_name="张三",
            attributes={"name": "张三", "phone": "13800138000", "address": "湖东路 18 号"},
            provenance={},
        )
        s.add(caller)
        order = new_order(s, w)
        workflow.dispatch(
            session=s, order_id=order.id, actor=w.agent, department_id=w.departments["CG"]
        )
        cases.attach_subject(
            session=s, case_type="work_order", case_id=order.id, master_id=caller.id
        )
        w.order_id = order.id  # type: ignore[attr-defined]
    return w


def test_returning_an_order_ends_the_units_access_at_once(world):
    cg = world.handlers["CG"]
    order_id = world.order_id
    with frozen(MONDAY_10), unit_of_work() as s:
        grant = service.open_grant(session=s, user=cg, case_type="work_order", case_id=order_id)
        token = grant.token
        order = s.get(WorkOrder, order_id)
        assert queries.view(s, order, cg).caller()["caller_phone"] == "13800138000"
        workflow.request_return(session=s, order_id=order_id, actor=cg, reason="属环保职责")
        # the grant ended with the return, not at its next use
        ended = s.scalars(select(Grant)).one()
        assert (ended.status, ended.end_reason) == ("ended", "case_closed")
        view = queries.view(s, s.get(WorkOrder, order_id), cg)
        assert view.caller() == {} and view.caller_hidden == "not_holding"
        r = refusal(service.fetch, session=s, user=cg, token=token)
        assert r.code == "grant_ended"
        again = refusal(
            service.open_grant, session=s, user=cg, case_type="work_order", case_id=order_id
        )
        assert again.code == "not_your_case"
        # the center still sees the caller
        assert queries.view(s, s.get(WorkOrder, order_id), world.agent).caller()
    with frozen(MONDAY_10), unit_of_work() as s:
        # rejected: the unit keeps the order, and with it the caller and the case data
        workflow.review_return(
            session=s, order_id=order_id, actor=world.agent, approve=False, note="属城管职责"
        )
        assert queries.view(s, s.get(WorkOrder, order_id), cg).caller()
        service.open_grant(session=s, user=cg, case_type="work_order", case_id=order_id)


def test_approved_return_and_redispatch_leave_the_former_unit_without_the_caller(world):
    cg, hb = world.handlers["CG"], world.handlers["HB"]
    order_id = world.order_id
    with frozen(MONDAY_10), unit_of_work() as s:
        workflow.request_return(session=s, order_id=order_id, actor=cg, reason="属环保职责")
        workflow.review_return(session=s, order_id=order_id, actor=world.agent, approve=True)
        workflow.dispatch(
            session=s, order_id=order_id, actor=world.agent, department_id=world.departments["HB"]
        )
        order = s.get(WorkOrder, order_id)
        assert queries.view(s, order, cg).caller() == {}  # may still read the order itself
        assert queries.view(s, order, hb).caller()["caller_name"] == "张三"
        hb_grant = service.open_grant(session=s, user=hb, case_type="work_order", case_id=order_id)
        # 改派 back to CG: HB's grant ends with it
        workflow.dispatch(
            session=s, order_id=order_id, actor=world.agent, department_id=world.departments["CG"]
        )
        assert s.get(Grant, hb_grant.grant.id).status == "ended"
        assert queries.view(s, s.get(WorkOrder, order_id), hb).caller() == {}


def test_closed_order_hides_the_caller_from_the_unit(world):
    cg = world.handlers["CG"]
    order_id = world.order_id
    with frozen(MONDAY_10), unit_of_work() as s:
        workflow.sign(session=s, order_id=order_id, actor=cg)
        workflow.answer(session=s, order_id=order_id, actor=cg, text="已责令停工")
        assert queries.view(s, s.get(WorkOrder, order_id), cg).caller()  # answered: still held
        workflow.close(session=s, order_id=order_id, actor=world.agent)
        assert queries.view(s, s.get(WorkOrder, order_id), cg).caller() == {}


def test_the_api_and_page_hide_the_caller_after_a_return(world):
    with unit_of_work() as s:
        token = issue_api_token(session=s, user=world.handlers["CG"], name="t")
    headers = {"Authorization": f"Bearer {token}"}
    with frozen(MONDAY_10):
        client = TestClient(create_app(run_jobs=False))
        url = f"/api/v1/hotline/orders/{world.order_id}"
        assert client.get(url, headers=headers).json()["caller_phone"] == "13800138000"
        r = client.post(f"{url}/return", json={"text": "属环保职责"}, headers=headers)
        assert r.status_code == 200 and "caller_phone" not in r.json()
        after = client.get(url, headers=headers).json()
        assert "caller_phone" not in after and "caller_name" not in after
        page = TestClient(client.app)
        from tests.web.helpers import sign_in

        sign_in(page, "handler-cg")
        text = page.get(f"/hotline/orders/{world.order_id}").text
        assert 'data-caller-hidden="not_holding"' in text and "13800138000" not in text
        assert "本单位已不再承办该工单" in text
