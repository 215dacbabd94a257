"""Break-glass is limited: only the roles the policy names, at most a few per person per
rolling hour, a second person's approval beyond the threshold, and an alert auditors see at
once for every use and every refused attempt. Refusals are recorded; errors leak nothing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.access import breakglass, service
from govloop.access.models import AccessAlert, Grant
from govloop.access.policy import policy
from govloop.app import create_app
from govloop.audit.models import AuditEntry
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, PermissionDenied, RecordedRefusal
from govloop.core.models import User
from govloop.subjects.models import SubjectMaster
from tests.factories import make_hall, make_user, refusal

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Beijing
REASON = "群众在大厅突发疾病，需要联系其家属"
RULES = policy().break_glass_rules


def _people(session, n: int = 8) -> list[int]:  # type: ignore[no-untyped-def]
    masters = [
        SubjectMaster(
            kind="person",
            identifier=f"11010519491231{i:03d}X",
            display_name=f"居民{i}",
            attributes={
                "name": f"居民{i}",
                "id_number": f"11010519491231{i:03d}X",
                "phone": f"1380013{i:04d}",
                "address": f"北京市朝阳区建国路{i}号",
                "birth_date": "1949-12-31",
            },
            provenance={},
        )
        for i in range(n)
    ]
    session.add_all(masters)
    session.flush()
    return [m.id for m in masters]


def _denied_codes(session) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        (e.detail or "").split(":", 1)[0]
        for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "denied").order_by(AuditEntry.seq)
        )
    ]


def _alerts(session, kind: str | None = None) -> list[AccessAlert]:  # type: ignore[no-untyped-def]
    stmt = select(AccessAlert).order_by(AccessAlert.id)
    if kind:
        stmt = stmt.where(AccessAlert.kind == kind)
    return list(session.scalars(stmt))


def test_policy_names_who_may_break_glass_and_who_approves():
    assert RULES.roles == {"window_staff", "hall_manager", "hotline_agent"}
    for role in ("department_handler", "auditor", "data_steward", "field_staff", "admin"):
        assert role not in RULES.roles
    assert RULES.approvers == {"hall_manager", "auditor"}
    assert 1 <= RULES.approval_after < RULES.max_per_hour


@pytest.mark.parametrize(
    "role",
    [Role.DEPARTMENT_HANDLER, Role.AUDITOR, Role.DATA_STEWARD, Role.FIELD_STAFF, Role.ADMIN],
)
def test_roles_the_policy_does_not_name_are_refused_recorded_and_alerted(db, role):
    with frozen(NOON), unit_of_work() as s:
        people = _people(s)
        user = make_user(s, "someone", role)
        for master_id in people[:2]:
            result = refusal(
                breakglass.request, session=s, user=user, master_id=master_id, reason=REASON
            )
            assert result.code == "break_glass_not_allowed"
            assert "居民" not in result.message
        assert s.scalar(select(func.count(Grant.id))) == 0
        assert _denied_codes(s) == ["break_glass_not_allowed"] * 2
        # one open alert that counts the attempts, not one per attempt
        (alert,) = _alerts(s)
        assert (alert.kind, alert.staff_id, alert.count) == ("role_refused", user.id, 2)


def test_hourly_limit_and_second_person_threshold(db):
    with frozen(NOON) as clock, unit_of_work() as s:
        people = _people(s)
        world = make_hall(s)
        clerk = world.staff[1]
        statuses = []
        for master_id in people[: RULES.max_per_hour]:
            result = breakglass.request(session=s, user=clerk, master_id=master_id, reason=REASON)
            assert result.grant is not None
            statuses.append(result.grant.status)
            clock.advance(seconds=1)
        assert statuses == ["active"] * RULES.approval_after + ["pending"] * (
            RULES.max_per_hour - RULES.approval_after
        )
        # the next one within the hour is refused outright, recorded, and alerted
        refused = refusal(
            breakglass.request, session=s, user=clerk, master_id=people[-1], reason=REASON
        )
        assert refused.code == "break_glass_limit"
        assert refused.status_code == 429
        again = refusal(
            breakglass.request, session=s, user=clerk, master_id=people[-2], reason=REASON
        )
        assert again.code == "break_glass_limit"
        assert _denied_codes(s) == ["break_glass_limit", "break_glass_limit"]
        (limit_alert,) = _alerts(s, "limit_reached")
        assert limit_alert.count == 2
        assert s.scalar(select(func.count(Grant.id))) == RULES.max_per_hour
        # another clerk is not affected by the first one's count
        other = breakglass.request(
            session=s, user=world.staff[2], master_id=people[0], reason=REASON
        )
        assert other.grant is not None and other.grant.status == "active"
        # after the rolling hour the clerk may ask again, but only with approval (the day's
        # count is still past the threshold)
        clock.advance(hours=1)
        later = breakglass.request(session=s, user=clerk, master_id=people[-1], reason=REASON)
        assert later.grant is not None and later.grant.status == "pending"
        used = breakglass.usage(session=s, user=clerk)
        assert used.last_hour == 1 and used.in_window == RULES.max_per_hour + 1
        # a full window later the count starts afresh
        clock.advance(hours=RULES.approval_window_hours)
        fresh = breakglass.request(session=s, user=clerk, master_id=people[0], reason=REASON)
        assert fresh.grant is not None and fresh.grant.status == "active"


def test_a_waiting_request_serves_nothing_until_another_person_approves(db):
    with frozen(NOON) as clock, unit_of_work() as s:
        people = _people(s)
        world = make_hall(s)
        requester = world.manager  # a hall manager may break glass and approve — not own
        assert requester is not None
        auditor = make_user(s, "auditor", Role.AUDITOR)
        for master_id in people[: RULES.approval_after]:
            breakglass.request(session=s, user=requester, master_id=master_id, reason=REASON)
        waiting = breakglass.request(session=s, user=requester, master_id=people[5], reason=REASON)
        assert waiting.grant is not None and waiting.grant.status == "pending"
        grant_id = waiting.grant.id
        # no data while waiting; the refusal says why and is recorded
        r = refusal(service.fetch, session=s, user=requester, token=waiting.token)
        assert r.code == "awaiting_approval"
        assert "居民5" not in r.message
        key = refusal(service.device_key, session=s, user=requester, token=waiting.token)
        assert key.code == "awaiting_approval"
        # neither the requester nor a role that is not an approver can approve it
        own = refusal(
            breakglass.decide,
            session=s,
            grant_id=grant_id,
            approver=requester,
            approve=True,
            note="",
        )
        assert own.code == "self_approval"
        clerk = refusal(
            breakglass.decide,
            session=s,
            grant_id=grant_id,
            approver=world.staff[1],
            approve=True,
            note="",
        )
        assert clerk.code == "not_an_approver"
        assert s.get(Grant, grant_id).status == "pending"
        assert [a.grant_id for a in _alerts(s, "approval_requested")] == [grant_id]
        # a second person approves: the same token now serves the data, for the time limit
        clock.advance(minutes=10)
        approved = breakglass.decide(
            session=s, grant_id=grant_id, approver=auditor, approve=True, note="情况紧急，同意"
        )
        assert isinstance(approved, Grant) and approved.approval_status == "approved"
        assert approved.decided_by == auditor.id
        assert approved.expires_at == NOON + timedelta(
            minutes=10 + policy().grant_minutes["break_glass"]
        )
        view = service.fetch(session=s, user=requester, token=waiting.token)[0]
        assert view.values["name"] == "居民5"
        with pytest.raises(Conflict):  # decided once
            breakglass.decide(
                session=s, grant_id=grant_id, approver=auditor, approve=False, note="x"
            )
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
        assert "bg_requested" in actions and "bg_approved" in actions


def test_a_refused_or_lapsed_request_never_serves_data(db):
    with frozen(NOON) as clock, unit_of_work() as s:
        people = _people(s)
        world = make_hall(s)
        clerk = world.staff[1]
        for master_id in people[: RULES.approval_after]:
            breakglass.request(session=s, user=clerk, master_id=master_id, reason=REASON)
        first = breakglass.request(session=s, user=clerk, master_id=people[4], reason=REASON)
        assert first.grant is not None
        with pytest.raises(BadRequest):  # a refusal says why
            breakglass.decide(
                session=s, grant_id=first.grant.id, approver=world.manager, approve=False, note=""
            )
        refused = breakglass.decide(
            session=s,
            grant_id=first.grant.id,
            approver=world.manager,
            approve=False,
            note="理由不足，请联系家属所在社区",
        )
        assert isinstance(refused, Grant) and refused.status == "ended"
        r = refusal(service.fetch, session=s, user=clerk, token=first.token)
        assert r.code == "grant_ended"
        # an undecided request lapses: the sweep ends it, and it can no longer be approved
        clock.advance(hours=1, minutes=1)  # out of the rolling hour
        second = breakglass.request(session=s, user=clerk, master_id=people[5], reason=REASON)
        assert second.grant is not None and second.grant.status == "pending"
        clock.advance(minutes=RULES.approval_wait_minutes + 1)
        assert service.sweep(session=s)["expired"] >= 1
        assert s.get(Grant, second.grant.id).status == "ended"
        with pytest.raises(Conflict):
            breakglass.decide(
                session=s, grant_id=second.grant.id, approver=world.manager, approve=True, note=""
            )
        r = refusal(service.fetch, session=s, user=clerk, token=second.token)
        assert r.code == "grant_ended"


def test_every_break_glass_alerts_auditors_who_acknowledge_it(db):
    with frozen(NOON), unit_of_work() as s:
        people = _people(s)
        world = make_hall(s)
        auditor = make_user(s, "auditor", Role.AUDITOR)
        result = breakglass.request(
            session=s, user=world.staff[1], master_id=people[0], reason=REASON
        )
        assert result.grant is not None
        (view,) = breakglass.alerts(session=s)
        assert view.alert.kind == "break_glass" and view.alert.grant_id == result.grant.id
        assert view.staff == "staff1" and "居民" not in view.alert.detail
        assert breakglass.open_alert_count(session=s) == 1
        with pytest.raises(PermissionDenied):
            breakglass.acknowledge(
                session=s, alert_id=view.alert.id, auditor=world.manager, note=""
            )
        breakglass.acknowledge(
            session=s, alert_id=view.alert.id, auditor=auditor, note="已电话核实"
        )
        assert breakglass.alerts(session=s) == [] and breakglass.open_alert_count(session=s) == 0
        assert breakglass.alerts(session=s, open_only=False)[0].acknowledged_by == "auditor"
        with pytest.raises(Conflict):
            breakglass.acknowledge(session=s, alert_id=view.alert.id, auditor=auditor, note="")


def test_parallel_requests_cannot_pass_the_hourly_limit(db):
    with frozen(NOON) as clock:
        with unit_of_work() as s:
            people = _people(s, 10)
            clerk_id = make_hall(s).staff[1].id
        barrier = threading.Barrier(len(people))
        errors: list[BaseException] = []

        def ask(master_id: int) -> None:
            try:
                barrier.wait()
                with unit_of_work() as s:
                    clerk = s.get(User, clerk_id)
                    assert clerk is not None
                    breakglass.request(session=s, user=clerk, master_id=master_id, reason=REASON)
            except RecordedRefusal:
                pass  # over the limit: refused, and the unit of work stored the refusal
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=ask, args=(m,)) for m in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert errors == []
        clock.advance(seconds=1)
        with unit_of_work() as s:
            grants = list(s.scalars(select(Grant).where(Grant.staff_id == clerk_id)))
            assert len(grants) == RULES.max_per_hour
            assert sum(g.status == "active" for g in grants) == RULES.approval_after
            assert _denied_codes(s).count("break_glass_limit") == len(people) - len(grants)


# --- through the API -----------------------------------------------------------------------


@pytest.fixture
def api(db):
    with unit_of_work() as s:
        people = _people(s)
        world = make_hall(s)
        tokens = {
            "clerk": issue_api_token(session=s, user=world.staff[1], name="t"),
            "manager": issue_api_token(session=s, user=world.manager, name="t"),
            "auditor": issue_api_token(
                session=s, user=make_user(s, "auditor", Role.AUDITOR), name="t"
            ),
            "handler": issue_api_token(
                session=s, user=make_user(s, "handler", Role.DEPARTMENT_HANDLER), name="t"
            ),
        }
    with frozen(NOON):
        client = TestClient(create_app(run_jobs=False))
        yield client, people, {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}


def test_api_refuses_roles_and_limits_and_records_the_refusal(api):
    client, people, h = api
    body = {"master_id": people[0], "reason": REASON}
    r = client.post("/api/v1/access/break-glass", json=body, headers=h["handler"])
    assert r.status_code == 403 and r.json()["error"] == "break_glass_not_allowed"
    assert "居民" not in r.text
    codes = []
    for master_id in people[: RULES.max_per_hour + 1]:
        r = client.post(
            "/api/v1/access/break-glass",
            json={"master_id": master_id, "reason": REASON},
            headers=h["clerk"],
        )
        codes.append(r.status_code)
    assert codes == [200] * RULES.approval_after + [202] * (
        RULES.max_per_hour - RULES.approval_after
    ) + [429]
    assert r.json()["error"] == "break_glass_limit"
    with unit_of_work() as s:  # the refusals' entries were committed before the answers
        assert _denied_codes(s) == ["break_glass_not_allowed", "break_glass_limit"]
    mine = client.get("/api/v1/access/break-glass/mine", headers=h["clerk"]).json()
    assert mine["remaining_this_hour"] == 0 and mine["next_needs_approval"] is True
    assert len(mine["requests"]) == RULES.max_per_hour


def test_api_approval_and_alerts(api):
    client, people, h = api
    for master_id in people[: RULES.approval_after]:
        client.post(
            "/api/v1/access/break-glass",
            json={"master_id": master_id, "reason": REASON},
            headers=h["clerk"],
        )
    r = client.post(
        "/api/v1/access/break-glass",
        json={"master_id": people[6], "reason": REASON},
        headers=h["clerk"],
    )
    assert r.status_code == 202 and r.json()["status"] == "pending"
    token, grant_id = r.json()["token"], r.json()["grant_id"]
    data = client.get("/api/v1/access/data", headers=h["clerk"] | {"X-Grant-Token": token})
    assert data.status_code == 403 and data.json()["error"] == "awaiting_approval"
    # approvers only: a clerk cannot list or decide
    assert client.get("/api/v1/access/break-glass/requests", headers=h["clerk"]).status_code == 403
    decision = {"decision": "approve", "note": "同意"}
    url = f"/api/v1/access/break-glass/{grant_id}/approval"
    assert client.post(url, json=decision, headers=h["clerk"]).status_code == 403
    listed = client.get("/api/v1/access/break-glass/requests", headers=h["manager"]).json()
    assert [p["grant_id"] for p in listed["pending"]] == [grant_id]
    assert listed["pending"][0]["requests_in_window"] == RULES.approval_after + 1
    r = client.post(url, json=decision, headers=h["manager"])
    assert r.status_code == 200 and r.json()["approval"] == "approved"
    data = client.get("/api/v1/access/data", headers=h["clerk"] | {"X-Grant-Token": token})
    assert data.status_code == 200 and data.json()["subjects"][0]["values"]["name"] == "居民6"
    # alerts: auditors only; every request raised one
    assert client.get("/api/v1/access/alerts", headers=h["manager"]).status_code == 403
    alerts = client.get("/api/v1/access/alerts", headers=h["auditor"]).json()
    assert alerts["open"] == RULES.approval_after + 1
    kinds = sorted(a["kind"] for a in alerts["alerts"])
    assert kinds == ["approval_requested"] + ["break_glass"] * RULES.approval_after
    first = alerts["alerts"][0]["id"]
    ack = client.post(
        f"/api/v1/access/alerts/{first}/acknowledge", json={"note": "已核实"}, headers=h["auditor"]
    )
    assert ack.status_code == 200
    assert client.get("/api/v1/access/alerts", headers=h["auditor"]).json()["open"] == (
        RULES.approval_after
    )
    again = client.post(f"/api/v1/access/alerts/{first}/acknowledge", json={}, headers=h["auditor"])
    assert again.status_code == 409


# --- through the pages ---------------------------------------------------------------------

ID = "11010519491231002X"


@pytest.fixture
def pages(db):
    with unit_of_work() as s:
        s.add(
            SubjectMaster(
                kind="person",
                identifier=ID,
                display_name="张三",
                attributes={"name": "张三", "id_number": ID, "phone": "13800138000"},
                provenance={},
            )
        )
        make_hall(s)
        make_user(s, "auditor", Role.AUDITOR)
    with frozen(NOON):
        yield TestClient(create_app(run_jobs=False))


def _break_glass(client: TestClient, token: str, id_number: str = ID, reason: str = REASON):
    return client.post(
        "/halls/H1/windows/1/case-data/break-glass",
        data={"id_number": id_number, "reason": reason},
        headers={"X-CSRF-Token": token},
    )


def test_workbench_break_glass_limits_and_approval_through_the_pages(pages):
    from tests.web.helpers import sign_in

    clerk = pages
    token = sign_in(clerk, "staff1")
    panel = clerk.get("/halls/H1/windows/1/case-data").text
    assert 'data-action="break-glass"' in panel
    assert f'data-bg-remaining="{RULES.max_per_hour}"' in panel
    assert "紧急查看" in panel and "Break" not in panel  # Chinese only
    bad = _break_glass(clerk, token, reason="急")
    assert "至少 10 个字" in bad.text and "data-bg-subject" not in bad.text
    for _ in range(RULES.approval_after):
        shown = _break_glass(clerk, token)
        assert shown.status_code == 200 and "data-bg-subject" in shown.text
        assert ID in shown.text and "已即时通知审计员" in shown.text
    waiting = _break_glass(clerk, token)
    assert "data-bg-pending" in waiting.text and "等待第二人" in waiting.text
    assert "data-bg-subject" not in waiting.text and "13800138000" not in waiting.text
    with unit_of_work() as s:
        pending_id = s.scalar(select(Grant.id).where(Grant.status == "pending"))
    # the clerk cannot see the waiting one's data, nor approve it
    view = clerk.get(f"/halls/H1/windows/1/case-data/break-glass/{pending_id}")
    assert "等待第二人审批" in view.text and "13800138000" not in view.text
    assert clerk.get("/access/break-glass/approvals").status_code == 403

    manager = TestClient(clerk.app)
    mtoken = sign_in(manager, "manager")
    listed = manager.get("/access/break-glass/approvals")
    assert listed.status_code == 200 and f'data-request="{pending_id}"' in listed.text
    assert "窗口工作人员" in listed.text and "13800138000" not in listed.text
    refuse_without_note = manager.post(
        f"/access/break-glass/{pending_id}/approval",
        data={"decision": "refuse", "note": "", "csrf_token": mtoken},
    )
    assert (
        refuse_without_note.status_code == 400
        and "拒绝申请时请写明理由" in refuse_without_note.text
    )
    approved = manager.post(
        f"/access/break-glass/{pending_id}/approval",
        data={"decision": "approve", "note": "同意", "csrf_token": mtoken},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    assert "已批准" in manager.get(approved.headers["location"]).text
    view = clerk.get(f"/halls/H1/windows/1/case-data/break-glass/{pending_id}")
    assert "13800138000" in view.text and f'data-bg-open="{pending_id}"' in view.text
    # the hourly limit: no form once it is used up
    panel = clerk.get("/halls/H1/windows/1/case-data").text
    assert 'data-bg-remaining="0"' in panel and 'data-action="break-glass"' not in panel
    assert "data-bg-needs-approval" in panel
    refused = _break_glass(clerk, token)
    assert "每人每小时最多紧急查看" in refused.text and "data-bg-subject" not in refused.text


def test_auditor_console_shows_and_acknowledges_alerts(pages):
    from tests.web.helpers import sign_in

    clerk = pages
    token = sign_in(clerk, "staff1")
    _break_glass(clerk, token)
    auditor = TestClient(clerk.app)
    atoken = sign_in(auditor, "auditor")
    console = auditor.get("/access/audit")
    assert 'data-open-alerts="1"' in console.text and "紧急查看已开启" in console.text
    assert "窗口工作人员" in console.text
    with unit_of_work() as s:
        alert_id = s.scalar(select(AccessAlert.id))
    r = auditor.post(
        f"/access/alerts/{alert_id}/acknowledge",
        data={"note": "已核实", "csrf_token": atoken},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'data-open-alerts="0"' in auditor.get("/access/audit").text
    # clerks neither see nor acknowledge alerts
    assert clerk.get("/access/audit").status_code == 403
    assert (
        clerk.post(f"/access/alerts/{alert_id}/acknowledge", data={"csrf_token": token}).status_code
        == 403
    )


def test_policy_page_states_the_break_glass_rules(pages):
    text = pages.get("/access/policy").text
    assert "data-break-glass-rules" in text
    for label in ("窗口工作人员", "大厅管理员", "热线坐席", "审计员"):
        assert label in text
    assert f"data-bg-max>{RULES.max_per_hour}<" in text


def test_migration_0013_adds_and_removes_the_break_glass_schema(tmp_path):
    from alembic import command
    from sqlalchemy import inspect

    from govloop.core.db import make_engine
    from govloop.core.migrate import alembic_config, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("access_grants")}

    def move(target: str) -> None:
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, target) if target == "0012" else command.upgrade(cfg, target)

    try:
        upgrade(engine)
        assert "access_alerts" in inspect(engine).get_table_names()
        assert {"approval_status", "decided_by", "decided_at", "decision_note"} <= columns()
        move("0012")
        assert "access_alerts" not in inspect(engine).get_table_names()
        assert "approval_status" not in columns()
        move("head")
        assert "access_alerts" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
