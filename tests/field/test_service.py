"""Field workbench rules: tasks as access cases, grants limited by the task type's policy,
form validation, idempotent submissions, conflicts, and device checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from govloop.access import service as access
from govloop.audit.models import AuditEntry
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import NotFound, RuleViolation
from govloop.field import forms, service
from govloop.field.models import FieldPhoto, FieldSubmission, TaskStatus
from tests.factories import refusal
from tests.field.helpers import (
    ENTERPRISE,
    PERSON,
    jpeg_data_url,
    make_world,
    noise_jpeg_data_url,
    visit_values,
)

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)


def _denials(s) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        e.detail or ""
        for e in s.scalars(
            select(AuditEntry).where(AuditEntry.outcome == "denied").order_by(AuditEntry.seq)
        )
    ]


def test_forms_are_declared_for_every_policy_task_type():
    from govloop.access.policy import policy

    declared = set(forms.forms())
    assert declared == {"inspection", "visit", "survey"}
    for task_type in declared:
        key, _fields = policy().fields_for("field_task", task_type)
        assert key == f"field_task:{task_type}"
    assert {f.type for form in forms.forms().values() for f in form.fields} == forms.FIELD_TYPES


def test_task_list_and_task_case(db):
    with unit_of_work() as s:
        w = make_world(s)
        mine = service.tasks_for(session=s, user=w.staff)
        assert [t.id for t in mine] == [w.visit.id, w.inspection.id]
        case = service.task_case(session=s, task_id=w.visit.id)
        assert case.open and case.assignee_id == w.staff.id and case.task_type == "visit"
        assert case.label == f"{w.visit.number} 上门走访 独居老人季度走访"
        with pytest.raises(NotFound):
            service.task_case(session=s, task_id=99_999)


def test_grant_serves_only_the_task_types_fields(db):
    with frozen(NOON), unit_of_work() as s:
        w = make_world(s)
        visit = access.open_grant(
            session=s, user=w.staff, case_type="field_task", case_id=w.visit.id, purpose="走访"
        )
        assert visit.grant is not None
        view = access.fetch(session=s, user=w.staff, token=visit.token)[0]
        # visit: full name/address/phone/birth/sex, masked id number, never the bank card
        assert view.values["phone"] == PERSON["phone"]
        assert view.values["id_number"] == "330106********002X"
        assert "bank_card" not in view.values and view.masked == ["id_number"]
        insp = access.open_grant(
            session=s, user=w.staff, case_type="field_task", case_id=w.inspection.id
        )
        ent = access.fetch(session=s, user=w.staff, token=insp.token)[0]
        assert ent.kind == "enterprise" and ent.values["credit_code"] == ENTERPRISE["credit_code"]
        assert ent.values["legal_rep_id_number"] != ENTERPRISE["legal_rep_id_number"]
        key = access.device_key(session=s, user=w.staff, token=visit.token)
        assert isinstance(key, str) and len(key) == 64


def test_another_staff_members_task_is_refused_and_recorded(db):
    with unit_of_work() as s:
        w = make_world(s)
        result = refusal(
            access.open_grant,
            session=s,
            user=w.staff,
            case_type="field_task",
            case_id=w.others_task.id,
        )
        assert result.code == "not_your_case"
        refused = refusal(
            service.submit,
            session=s,
            user=w.staff,
            device=w.device,
            task_id=w.others_task.id,
            client_id="c-0000-0001",
            base_version=1,
            values={"household_size": 3},
        )
        assert refused.code == "not_your_case"
        assert PERSON["name"] not in refused.message
        assert s.scalar(select(func.count()).select_from(FieldSubmission)) == 0
        assert sum("not_your_case" in d for d in _denials(s)) == 2


def test_submission_is_validated_per_field_and_nothing_is_stored(db):
    with unit_of_work() as s:
        w = make_world(s)
        with pytest.raises(RuleViolation) as err:
            service.submit(
                session=s,
                user=w.staff,
                device=w.device,
                task_id=w.visit.id,
                client_id="c-bad-00001",
                base_version=1,
                values=visit_values(
                    met_in_person="不知道",
                    location={"source": "manual", "text": " "},
                    photos=["data:image/png;base64,AAAA"],
                    next_visit="2026-13-01",
                    extra="x",
                ),
            )
        fields = err.value.details["fields"]
        assert fields["met_in_person"].startswith("只能选择：见到本人")
        assert fields["location"] == "请填写所在位置"
        assert fields["photos"] == "第 1 张照片不是 JPEG 图片"
        assert fields["next_visit"] == "日期格式应为 YYYY-MM-DD"
        assert fields["extra"] == "表单中没有这一项"
        assert "未保存" in err.value.message
        with pytest.raises(RuleViolation) as missing:
            service.submit(
                session=s,
                user=w.staff,
                device=w.device,
                task_id=w.visit.id,
                client_id="c-bad-00002",
                base_version=1,
                values={"needs": "x" * 1001},
            )
        assert missing.value.details["fields"]["met_in_person"] == "必填"
        assert missing.value.details["fields"]["needs"].startswith("不能超过 1000 个字")
        assert s.scalar(select(func.count()).select_from(FieldSubmission)) == 0
        assert w.visit.status == TaskStatus.OPEN


def test_photo_limits(db):
    form = forms.form_for("inspection")
    with pytest.raises(RuleViolation) as err:
        forms.validate(
            form,
            {
                "premises_open": "正常营业",
                "findings": "无",
                "hazards": 0,
                "photos": [jpeg_data_url()] * 4,
                "location": {"source": "gps", "lat": 91, "lng": 0},
            },
        )
    assert err.value.details["fields"] == {
        "photos": "最多 3 张照片",
        "location": "定位坐标超出范围",
    }
    corrupt = "data:image/jpeg;base64," + "A" * 400
    with pytest.raises(RuleViolation) as err2:
        forms.validate(form, {"photos": [corrupt]})
    assert err2.value.details["fields"]["photos"] == "第 1 张照片已损坏"
    with pytest.raises(RuleViolation) as err3:
        forms.validate(form, {"photos": [noise_jpeg_data_url()]})
    assert "过大" in err3.value.details["fields"]["photos"]
    clean = forms.validate(
        form,
        {
            "premises_open": "正常营业",
            "findings": "后厨卫生良好",
            "hazards": "2",
            "photos": [jpeg_data_url()],
            "location": {"source": "manual", "text": "湖墅南路18号门口"},
        },
    )
    assert clean.data["hazards"] == 2 and clean.data["licence_displayed"] is False
    assert clean.location == {"location": {"source": "manual", "text": "湖墅南路18号门口"}}
    assert len(clean.photos) == 1


def test_submit_stores_photos_completes_task_and_is_idempotent(db):
    with frozen(NOON), unit_of_work() as s:
        w = make_world(s)
        grant = access.open_grant(
            session=s, user=w.staff, case_type="field_task", case_id=w.visit.id
        )
        kwargs = dict(
            session=s,
            user=w.staff,
            device=w.device,
            task_id=w.visit.id,
            client_id="c-visit-0001",
            base_version=1,
            values=visit_values(),
            captured_at="2026-11-24T03:55:00Z",
        )
        first = service.submit(**kwargs)  # type: ignore[arg-type]
        assert first.created
        assert first.submission.status == "stored"
        assert first.submission.location == {
            "location": {"source": "gps", "lat": 30.2741, "lng": 120.1551, "accuracy": 12.0}
        }
        assert w.visit.status == TaskStatus.DONE and w.visit.version == 2
        again = service.submit(**kwargs)  # type: ignore[arg-type]
        assert not again.created
        assert again.submission.id == first.submission.id
        assert s.scalar(select(func.count()).select_from(FieldSubmission)) == 1
        assert s.scalar(select(func.count()).select_from(FieldPhoto)) == 1
        # the task is closed: its grant ends and the device key is refused with 410
        key = refusal(access.device_key, session=s, user=w.staff, token=grant.token)
        assert key.status_code == 410


def test_submission_on_a_changed_task_is_stored_as_conflict(db):
    with unit_of_work() as s:
        w = make_world(s)
        service.update_task(session=s, task=w.visit, due=datetime.now(UTC) + timedelta(days=1))
        result = service.submit(
            session=s,
            user=w.staff,
            device=w.device,
            task_id=w.visit.id,
            client_id="c-conf-0001",
            base_version=1,
            values=visit_values(),
        )
        assert result.submission.status == "conflict"
        assert result.submission.conflict_detail == (
            "任务在您离线期间被修改（当前版本 2，您的版本 1）"
        )
        assert w.visit.status == TaskStatus.OPEN  # not applied
        service.cancel_task(session=s, task=w.inspection)
        closed = service.submit(
            session=s,
            user=w.staff,
            device=w.device,
            task_id=w.inspection.id,
            client_id="c-conf-0002",
            base_version=1,
            values={
                "premises_open": "停业",
                "findings": "大门紧锁",
                "hazards": 0,
                "photos": [jpeg_data_url()],
                "location": {"source": "manual", "text": "门口"},
            },
        )
        assert closed.submission.status == "conflict"
        assert "已撤销" in (closed.submission.conflict_detail or "")
        with pytest.raises(RuleViolation):
            service.submit(
                session=s,
                user=w.staff,
                device=w.device,
                task_id=w.visit.id,
                client_id="c-conf-0002",  # reused for another task
                base_version=2,
                values=visit_values(),
            )


def test_devices_revoked_unknown_and_foreign_are_refused_and_recorded(db):
    with unit_of_work() as s:
        w = make_world(s)
        assert service.check_device(session=s, user=w.staff, device_id=w.device.device_id) == (
            w.device
        )
        unknown = refusal(
            service.check_device, session=s, user=w.other, device_id="nope-0000-0000-0000"
        )
        assert unknown.code == "device_unregistered"
        # another person's device: the very same answer as an unknown one
        foreign = refusal(
            service.check_device, session=s, user=w.other, device_id=w.device.device_id
        )
        assert (foreign.code, foreign.message) == (unknown.code, unknown.message)
        grant = access.open_grant(
            session=s, user=w.staff, case_type="field_task", case_id=w.visit.id
        )
        service.revoke_device(session=s, device_pk=w.device.id, manager=w.manager)
        revoked = refusal(
            service.check_device, session=s, user=w.staff, device_id=w.device.device_id
        )
        assert revoked.code == "device_revoked"
        assert revoked.status_code == 403
        again = refusal(
            service.register_device,
            session=s,
            user=w.staff,
            device_id=w.device.device_id,
            name="x",
            user_agent=None,
        )
        assert again.code == "device_revoked"
        # revoking ends the user's grants: keys for the device copy stop
        refusal(access.device_key, session=s, user=w.staff, token=grant.token)
        with pytest.raises(RuleViolation):
            service.revoke_device(session=s, device_pk=w.device.id, manager=w.manager)
        actions = [e.action for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]
        assert "device_registered" in actions and "device_revoked" in actions
        details = _denials(s)
        assert sum(d.startswith("device_revoked") for d in details) == 2
        with pytest.raises(RuleViolation):
            service.register_device(
                session=s, user=w.staff, device_id="short", name="x", user_agent=None
            )


def test_live_grants_and_purge_confirmation(db):
    with frozen(NOON) as clock, unit_of_work() as s:
        w = make_world(s)
        grant = access.open_grant(
            session=s, user=w.staff, case_type="field_task", case_id=w.visit.id
        )
        assert grant.grant is not None
        gid = grant.grant.id
        assert service.live_grants(session=s, user=w.staff, grant_ids=[gid, 9999]) == {
            gid: True,
            9999: False,
        }
        assert service.live_grants(session=s, user=w.other, grant_ids=[gid]) == {gid: False}
        clock.advance(minutes=481)  # field_task grants last 480 minutes
        assert service.live_grants(session=s, user=w.staff, grant_ids=[gid]) == {gid: False}
        service.confirm_purge(
            session=s, user=w.staff, device=w.device, task_id=w.visit.id, reason="grant_ended"
        )
        purge = s.scalars(select(AuditEntry).where(AuditEntry.action == "purge_confirmed")).one()
        assert purge.case_id == w.visit.id and "grant_ended" in (purge.detail or "")
