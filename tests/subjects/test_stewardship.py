"""A data steward mends master records: split, move, "not the same person", the queue of
suspected wrong merges, and the history of every decision (also in the access log)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.access.cases import attach_subject
from govloop.access.models import CaseSubject, Grant, GrantStatus
from govloop.app import create_app
from govloop.audit import log as audit
from govloop.audit.models import AuditEntry
from govloop.core.auth import Role
from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.core.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from govloop.core.models import User
from govloop.ingest.models import IngestedRecord
from govloop.subjects import linking, service, stewardship
from govloop.subjects.models import (
    SubjectCannotLink,
    SubjectConflict,
    SubjectDecision,
    SubjectLink,
    SubjectMaster,
)
from tests.factories import make_user
from tests.subjects.test_linking import LI, ZHANG, _id, _load, exact_matcher
from tests.web.helpers import sign_in

WANG = _id("31010419851231004")  # a third person's valid ID number


@pytest.fixture(autouse=True)
def audit_key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Checkpoints (if any) are signed with keys in a temporary folder."""
    folder = tmp_path / "audit-keys"
    monkeypatch.setenv("GOVLOOP_AUDIT_KEY_DIR", str(folder))
    monkeypatch.delenv("GOVLOOP_AUDIT_ANCHOR_DIR", raising=False)
    return folder


# --- a small world ------------------------------------------------------------------------


def _records(s) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Record key (G1, M1, …) → ingest record id."""
    return {r.event_id: r.id for r in s.scalars(select(IngestedRecord))}


def _master_of(s, record_id: int) -> int:  # type: ignore[no-untyped-def]
    master_id = s.scalar(select(SubjectLink.master_id).where(SubjectLink.record_id == record_id))
    assert master_id is not None
    return int(master_id)


def _merge(s, master_id: int, record_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """Put records into one master, as a wrong match of the linkage would."""
    old = set()
    for link in s.scalars(select(SubjectLink).where(SubjectLink.record_id.in_(record_ids))):
        old.add(link.master_id)
        link.master_id = master_id
    s.flush()
    service.refresh_masters(session=s, master_ids=sorted(old | {master_id}))


def _members(s, master_id: int) -> set[int]:  # type: ignore[no-untyped-def]
    return set(s.scalars(select(SubjectLink.record_id).where(SubjectLink.master_id == master_id)))


def _world(s) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Departments' records of 张三 (two with his ID), a namesake without ID, 李四 and 王芳."""
    _load(
        s,
        "police",
        "公安局",
        [
            {"record_id": "G1", "name": "张三", "id_number": ZHANG, "address": "朝阳区建国路1号"},
            {"record_id": "G2", "name": "李四", "id_number": LI},
            {"record_id": "G3", "name": "王芳", "id_number": WANG},
        ],
    )
    _load(
        s,
        "civil",
        "民政局",
        [
            {"record_id": "M1", "name": "张三", "id_number": ZHANG, "phone": "13800138000"},
            # 张三 by name and birth date, no ID: a namesake or the same man
            {"record_id": "M2", "name": "张三", "birth_date": "1980-01-01", "sex": "男"},
            {"record_id": "M3", "name": "张三", "birth_date": "1980-01-10", "phone": "13911112222"},
            {"record_id": "M4", "name": "赵敏", "birth_date": "1992-06-06", "sex": "女"},
        ],
    )
    linking.run_all(session=s, matcher=exact_matcher)
    return _records(s)


def _steward(s, name: str = "steward") -> User:  # type: ignore[no-untyped-def]
    user = s.scalar(select(User).where(User.username == name))
    return user or make_user(s, name, Role.DATA_STEWARD)


def _grant(s, staff: User, subject_ids: list[int], status: str = GrantStatus.ACTIVE) -> int:  # type: ignore[no-untyped-def]
    stamp = now()
    grant = Grant(
        token_hash=f"{len(subject_ids)}-{status}-{stamp.timestamp()}",
        staff_id=staff.id,
        case_type="ticket",
        case_id=1,
        case_label="A001 社保卡申领",
        policy_key="ticket",
        purpose="社保卡申领",
        subject_ids=subject_ids,
        fields={},
        status=status,
        opened_at=stamp,
        expires_at=stamp + timedelta(minutes=30),
        device_key="0" * 64,
        break_glass=False,
    )
    s.add(grant)
    s.flush()
    return grant.id


def _audit_entries(s) -> list[AuditEntry]:  # type: ignore[no-untyped-def]
    return list(
        s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("subject.%")).order_by(AuditEntry.seq)
        )
    )


# --- split --------------------------------------------------------------------------------


def test_split_keeps_the_majoritys_id_and_recomputes_both(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang = _master_of(s, r["G1"])
        # the linkage put the namesake M2 into 张三's master
        _merge(s, zhang, [r["M2"]])
        assert _members(s, zhang) == {r["G1"], r["M1"], r["M2"]}
        kept, new = stewardship.split_master(
            s, zhang, [r["M2"]], steward, "  同名不同人，户籍核实  "
        )
        assert kept == zhang and new > zhang
        assert _members(s, zhang) == {r["G1"], r["M1"]}
        assert _members(s, new) == {r["M2"]}
        a, b = s.get(SubjectMaster, zhang), s.get(SubjectMaster, new)
        assert a.identifier == ZHANG and b.identifier is None
        assert (a.record_count, b.record_count) == (2, 1)
        # survivorship and provenance recomputed on both parts
        assert "birth_date" not in a.attributes and "sex" not in a.attributes
        assert b.attributes == {"name": "张三", "birth_date": "1980-01-01", "sex": "M"}
        assert b.provenance["birth_date"]["record_id"] == r["M2"]
        assert b.provenance["birth_date"]["source"] == "civil"
        assert a.provenance["address"]["record_id"] == r["G1"]
        link = s.scalar(select(SubjectLink).where(SubjectLink.record_id == r["M2"]))
        assert link.method == "steward" and link.probability is None
        # the other links keep how they were made
        assert s.scalar(select(SubjectLink.method).where(SubjectLink.record_id == r["G1"])) != (
            "steward"
        )
        history = stewardship.decisions_of(s, zhang)
        assert [(d.kind, d.master_id, d.other_master_id, d.record_ids) for d in history] == [
            ("split", zhang, new, [r["M2"]])
        ]
        assert history[0].reason == "同名不同人，户籍核实" and history[0].actor == "steward"
        assert [d.id for d in stewardship.decisions_of(s, new)] == [history[0].id]


def test_split_minority_holding_the_identifier_takes_cases_and_grants(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        staff = make_user(s, "window", Role.WINDOW_STAFF)
        zhang = _master_of(s, r["G1"])
        namesake = _master_of(s, r["M2"])
        # three records in one master: G1 carries the ID, M2 and M3 do not
        s.delete(s.scalar(select(SubjectLink).where(SubjectLink.record_id == r["M1"])))
        s.flush()
        _merge(s, zhang, [r["M2"], r["M3"]])
        other = _master_of(s, r["G2"])
        attach_subject(session=s, case_type="ticket", case_id=7, master_id=zhang)
        attach_subject(session=s, case_type="ticket", case_id=8, master_id=other)
        live = _grant(s, staff, [zhang, other])
        ended = _grant(s, staff, [zhang], status=GrantStatus.ENDED)
        kept, new = stewardship.split_master(s, zhang, [r["G1"]], steward, "身份证号码属于另一人")
        # the two records without ID are the majority: they keep the id
        assert kept == zhang and _members(s, zhang) == {r["M2"], r["M3"]}
        assert _members(s, new) == {r["G1"]}
        assert s.get(SubjectMaster, zhang).identifier is None
        assert s.get(SubjectMaster, new).identifier == ZHANG
        # cases were attached by ID number: they follow the part holding it
        cases = dict(s.execute(select(CaseSubject.case_id, CaseSubject.master_id)).all())
        assert cases == {7: new, 8: other}
        assert s.get(Grant, live).subject_ids == [new, other]
        assert s.get(Grant, ended).subject_ids == [zhang]  # history stays as it was
        assert namesake != zhang
        decision = stewardship.decisions_of(s, zhang)[0]
        assert decision.details["references_followed"] is True
        assert decision.details["cases"] == 1 and decision.details["grants"] == 1
        # the linkage's next runs bring 张三's new records to the master with his ID
        assert service.find_person(session=s, id_number=ZHANG).id == new  # type: ignore[union-attr]


def test_split_ties_go_to_the_identifier_then_the_lowest_record(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang = _master_of(s, r["G1"])
        s.delete(s.scalar(select(SubjectLink).where(SubjectLink.record_id == r["M1"])))
        s.flush()
        _merge(s, zhang, [r["M2"]])
        # one against one: the part with the master's ID number keeps the id, whichever is
        # selected
        kept, new = stewardship.split_master(s, zhang, [r["G1"]], steward, "一对一拆分")
        assert kept == zhang and _members(s, zhang) == {r["G1"]}
        assert _members(s, new) == {r["M2"]}
        assert s.get(SubjectMaster, zhang).identifier == ZHANG
        # no identifier on either side: the part holding the lowest record id keeps it
        m3 = _master_of(s, r["M3"])
        _merge(s, m3, [r["M4"]])
        kept, new = stewardship.split_master(s, m3, [r["M3"]], steward, "不是同一人")
        assert kept == m3 and _members(s, m3) == {r["M3"]} and _members(s, new) == {r["M4"]}


def test_conflicts_follow_the_records(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang = _master_of(s, r["G1"])
        _merge(s, zhang, [r["M2"], r["M3"]])
        opened = s.scalars(
            select(SubjectConflict.field).where(
                SubjectConflict.master_id == zhang, SubjectConflict.status == "open"
            )
        ).all()
        assert opened == ["birth_date"]
        # both birth dates leave: the master's open question goes away with them
        kept, new = stewardship.split_master(s, zhang, [r["M2"], r["M3"]], steward, "另一人")
        assert kept == zhang and _members(s, zhang) == {r["G1"], r["M1"]}
        assert [c.master_id for c, _ in service.list_conflicts(session=s)] == [new]


def test_split_refuses_bad_sets_and_changes_nothing(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang = _master_of(s, r["G1"])
        before = _members(s, zhang)
        masters = s.scalar(select(func.count()).select_from(SubjectMaster))
        cases: list[tuple[Any, str, str]] = [
            ([r["G1"]], "", "reason_required"),
            ([r["G1"]], " x ", "reason_required"),
            ([r["G1"]], "很" * 501, "reason_too_long"),
            ([], "理由充分", "nothing_selected"),
            ([r["G1"], r["G2"]], "理由充分", "record_not_in_master"),
            ([r["G1"], r["M1"]], "理由充分", "whole_master_selected"),
        ]
        for ids, reason, code in cases:
            with pytest.raises(RuleViolation) as refused:
                stewardship.split_master(s, zhang, ids, steward, reason)
            assert refused.value.code == code
        with pytest.raises(NotFound):
            stewardship.split_master(s, 999_999, [r["G1"]], steward, "理由充分")
        assert _members(s, zhang) == before
        assert s.scalar(select(func.count()).select_from(SubjectMaster)) == masters
        assert s.scalar(select(func.count()).select_from(SubjectDecision)) == 0
        # only data stewards decide
        staff = make_user(s, "window", Role.WINDOW_STAFF)
        with pytest.raises(PermissionDenied) as denied:
            stewardship.split_master(s, zhang, [r["G1"]], staff, "理由充分")
        assert denied.value.code == "not_a_steward"


# --- move ---------------------------------------------------------------------------------


def test_move_refused_on_a_hard_conflict_accepted_otherwise(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang, li = _master_of(s, r["G1"]), _master_of(s, r["G2"])
        m2, m3 = _master_of(s, r["M2"]), _master_of(s, r["M3"])
        # two different valid ID numbers
        with pytest.raises(Conflict) as refused:
            stewardship.move_record(s, r["M1"], li, steward, "移到李四")
        assert refused.value.code == "hard_conflict"
        assert "两个不同的有效身份证号码" in refused.value.message
        assert _master_of(s, r["M1"]) == zhang
        # birth dates far apart (赵敏 1992 vs 张三 1980)
        with pytest.raises(Conflict):
            stewardship.move_record(s, r["M4"], m2, steward, "看错了")
        # the kinds of refusal that are not conflicts
        with pytest.raises(Conflict) as there:
            stewardship.move_record(s, r["M1"], zhang, steward, "已经在这里")
        assert there.value.code == "already_there"
        with pytest.raises(NotFound):
            stewardship.move_record(s, r["M1"], 999_999, steward, "不存在的主记录")
        with pytest.raises(NotFound):
            stewardship.move_record(s, 999_999, zhang, steward, "不存在的记录")
        with pytest.raises(RuleViolation):
            stewardship.move_record(s, r["M2"], zhang, steward, "")
        assert s.scalar(select(func.count()).select_from(SubjectDecision)) == 0
        # accepted: M3 (张三 1980-01-01) joins M2's master; M3's master is left empty
        source, target = stewardship.move_record(s, r["M3"], m2, steward, "同一人，电话核实")
        assert (source, target) == (m3, m2)
        assert _members(s, m2) == {r["M2"], r["M3"]}
        emptied = s.get(SubjectMaster, m3)
        assert emptied is not None and emptied.record_count == 0 and emptied.attributes == {}
        assert s.get(SubjectMaster, m2).attributes["phone"] == "13911112222"
        # and back out to a new master
        source, target = stewardship.move_record(s, r["M3"], None, steward, "还是分开")
        assert source == m2 and target not in (m2, m3) and _members(s, target) == {r["M3"]}
        kinds = [(d.kind, d.master_id, d.other_master_id) for d in stewardship.decisions_of(s, m2)]
        assert kinds == [("move", m2, target), ("move", m3, m2)]


def test_move_of_the_identifier_record_takes_the_references(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang, m2 = _master_of(s, r["G1"]), _master_of(s, r["M2"])
        s.delete(s.scalar(select(SubjectLink).where(SubjectLink.record_id == r["M1"])))
        s.flush()
        _merge(s, zhang, [r["M3"]])
        attach_subject(session=s, case_type="ticket", case_id=7, master_id=zhang)
        # the record carrying the ID number goes to the namesake's master (no conflict)
        stewardship.move_record(s, r["G1"], m2, steward, "证件记录属于另一条")
        assert s.get(SubjectMaster, m2).identifier == ZHANG
        assert s.get(SubjectMaster, zhang).identifier is None
        assert s.scalar(select(CaseSubject.master_id)) == m2


def test_move_refused_with_a_not_same_pair(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        m2, m3 = _master_of(s, r["M2"]), _master_of(s, r["M3"])
        stewardship.mark_not_same(s, r["M2"], r["M3"], steward, "父子同名同生日？不，核实不是一人")
        with pytest.raises(Conflict) as refused:
            stewardship.move_record(s, r["M3"], m2, steward, "合并")
        assert refused.value.code == "cannot_link"
        assert _master_of(s, r["M3"]) == m3


# --- not the same person -------------------------------------------------------------------


def test_not_same_inside_one_master_moves_record_b_out(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        m2 = _master_of(s, r["M2"])
        _merge(s, m2, [r["M3"]])
        pair = stewardship.mark_not_same(s, r["M3"], r["M2"], steward, "两人，电话不同")
        assert (pair.record_a, pair.record_b) == (r["M2"], r["M3"])  # ordered
        # record_b as the steward named it (M2) left
        assert _members(s, m2) == {r["M3"]}
        moved_to = _master_of(s, r["M2"])
        assert moved_to != m2 and _members(s, moved_to) == {r["M2"]}
        assert stewardship.cannot_link_pairs(s) == {(r["M2"], r["M3"])}
        assert stewardship.cannot_link_pairs(s, [r["M3"]]) == {(r["M2"], r["M3"])}
        assert stewardship.cannot_link_pairs(s, [r["G1"]]) == set()
        (decision,) = stewardship.decisions_of(s, m2)
        assert (decision.kind, decision.other_master_id) == ("not_same", moved_to)
        assert decision.record_ids == [r["M3"], r["M2"]]
        # a repeat is idempotent: the same row, nothing else happens
        again = stewardship.mark_not_same(s, r["M2"], r["M3"], steward, "再次确认")
        assert again.id == pair.id and again.reason == "两人，电话不同"
        assert s.scalar(select(func.count()).select_from(SubjectCannotLink)) == 1
        assert len(stewardship.decisions_of(s, m2)) == 1
        with pytest.raises(RuleViolation):
            stewardship.mark_not_same(s, r["M2"], r["M2"], steward, "同一条")
        with pytest.raises(NotFound):
            stewardship.mark_not_same(s, r["M2"], 999_999, steward, "不存在")


def test_every_decision_is_in_the_history_and_the_access_log(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang, m2 = _master_of(s, r["G1"]), _master_of(s, r["M2"])
        _merge(s, zhang, [r["M2"]])
        _kept, new = stewardship.split_master(s, zhang, [r["M2"]], steward, "同名不同人")
        stewardship.move_record(s, r["M3"], new, steward, "与 M2 同一人")
        stewardship.mark_not_same(s, r["M1"], r["M3"], steward, "证件核实不是一人")
        assert m2 != new
        steward_id = steward.id
    with unit_of_work() as s:
        decisions = list(s.scalars(select(SubjectDecision).order_by(SubjectDecision.id)))
        assert [d.kind for d in decisions] == ["split", "move", "not_same"]
        assert all(d.actor_id == steward_id and d.reason for d in decisions)
        entries = _audit_entries(s)
        assert [e.action for e in entries] == ["subject.split", "subject.move", "subject.not_same"]
        for e, d in zip(entries, decisions, strict=True):
            assert e.actor_id == steward_id and e.subject_id == d.master_id
            assert f"decision={d.id}" in (e.detail or "")
            # ids only: no name, no ID number, no reason text
            text = " ".join(str(v) for v in (e.detail, e.purpose, e.case_label, e.fields))
            for personal in ("张三", ZHANG, "同名", "核实"):
                assert personal not in text
        assert audit.verify(session=s).ok
        history = stewardship.decisions_of(s, new)
        assert [d.kind for d in history] == ["not_same", "move", "split"]


# --- suspicious masters ---------------------------------------------------------------------


def test_suspicious_masters_rank_two_valid_ids_first(db):
    with unit_of_work() as s:
        r = _world(s)
        steward = _steward(s)
        zhang, li, m2 = _master_of(s, r["G1"]), _master_of(s, r["G2"]), _master_of(s, r["M2"])
        # 张三's master swallowed the namesake and 赵敏 (four records, no two IDs)
        _merge(s, zhang, [r["M2"], r["M4"]])
        # 李四's master swallowed 王芳: two valid ID numbers (and far names), only two records
        _merge(s, li, [r["G3"]])
        # a steward's not-same pair inside one master (as a linkage run might have merged it)
        low, high = sorted((r["G1"], r["M2"]))
        s.add(
            SubjectCannotLink(record_a=low, record_b=high, reason="不是一人", decided_by=steward.id)
        )
    with unit_of_work(readonly=True) as s:
        rows = stewardship.suspicious_masters(s)
        assert [x.master_id for x in rows][:2] == [li, zhang]
        first = rows[0]
        assert first.findings[0].code == "two_valid_ids"
        assert first.findings[0].label == "两个不同的有效身份证号码"
        codes = {f.code for f in rows[1].findings}
        assert {"not_same", "sex", "birth_date"} <= codes
        assert rows[1].findings[0].code == "not_same"  # the weightiest first
        assert all(x.record_count > 1 for x in rows)
        assert m2 not in {x.master_id for x in rows}
        assert stewardship.suspicious_masters(s, limit=1)[0].master_id == li
        assert stewardship.suspicious_masters(s, kind="enterprise") == []
        with pytest.raises(RuleViolation):
            stewardship.suspicious_masters(s, kind="alien")


# --- API and pages -------------------------------------------------------------------------


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        _world(s)
        make_user(s, "steward", Role.DATA_STEWARD)
        make_user(s, "staff", Role.WINDOW_STAFF)
    return TestClient(create_app(run_jobs=False))


def _ids() -> tuple[dict[str, int], dict[str, int]]:
    with unit_of_work(readonly=True) as s:
        r = _records(s)
        return r, {k: _master_of(s, v) for k, v in r.items()}


def _snapshot() -> tuple[Any, ...]:
    with unit_of_work(readonly=True) as s:
        return (
            sorted(s.execute(select(SubjectLink.record_id, SubjectLink.master_id)).all()),
            s.scalar(select(func.count()).select_from(SubjectMaster)),
            s.scalar(select(func.count()).select_from(SubjectDecision)),
            s.scalar(select(func.count()).select_from(SubjectCannotLink)),
            s.scalar(select(func.count()).select_from(AuditEntry)),
        )


def test_api_refuses_bad_input_and_changes_nothing(client):
    token = sign_in(client, "steward")
    headers = {"X-CSRF-Token": token}
    r, m = _ids()
    with unit_of_work() as s:
        _merge(s, m["G1"], [r["M2"]])
    before = _snapshot()
    zhang = m["G1"]
    bad: list[tuple[str, dict[str, Any], int, str]] = [
        (f"/masters/{zhang}/split", {"record_ids": [r["M2"]]}, 422, "reason_required"),
        (
            f"/masters/{zhang}/split",
            {"record_ids": [r["M2"]], "reason": " "},
            422,
            "reason_required",
        ),
        (
            f"/masters/{zhang}/split",
            {"record_ids": [r["G2"]], "reason": "理由充分"},
            422,
            "record_not_in_master",
        ),
        (
            f"/masters/{zhang}/split",
            {"record_ids": [r["G1"], r["M1"], r["M2"]], "reason": "理由充分"},
            422,
            "whole_master_selected",
        ),
        (
            "/masters/999999/split",
            {"record_ids": [r["M2"]], "reason": "理由充分"},
            404,
            "unknown_master",
        ),
        (f"/masters/{zhang}/split", {"record_ids": [], "reason": "理由充分"}, 422, ""),
        (f"/masters/{zhang}/split", {"reason": "理由充分"}, 422, ""),
        (
            f"/records/{r['M1']}/move",
            {"target_master_id": m["G2"], "reason": "理由充分"},
            409,
            "hard_conflict",
        ),
        (
            f"/records/{r['M1']}/move",
            {"target_master_id": 999999, "reason": "理由充分"},
            404,
            "unknown_master",
        ),
        (
            "/records/999999/move",
            {"target_master_id": zhang, "reason": "理由充分"},
            404,
            "unknown_record",
        ),
        (f"/records/{r['M1']}/move", {"target_master_id": None}, 422, "reason_required"),
        (f"/records/{r['M1']}/move", {"reason": "理由充分"}, 422, ""),
        (
            "/not-same",
            {"record_a": r["G1"], "record_b": r["G1"], "reason": "理由充分"},
            422,
            "same_record",
        ),
        (
            "/not-same",
            {"record_a": r["G1"], "record_b": 999999, "reason": "理由充分"},
            404,
            "unknown_record",
        ),
        ("/not-same", {"record_a": r["G1"], "record_b": r["M2"]}, 422, "reason_required"),
    ]
    for path, body, status, code in bad:
        answer = client.post(f"/api/v1/subjects{path}", json=body, headers=headers)
        assert answer.status_code == status, (path, body, answer.text)
        if code:
            assert answer.json()["error"] == code, (path, body, answer.text)
    assert _snapshot() == before
    assert client.get("/api/v1/subjects/suspicious", params={"kind": "alien"}).status_code == 422


def test_api_split_move_not_same_and_history(client):
    token = sign_in(client, "steward")
    headers = {"X-CSRF-Token": token}
    r, m = _ids()
    with unit_of_work() as s:
        _merge(s, m["G2"], [r["G3"]])  # 李四 and 王芳: two valid IDs
    queue = client.get("/api/v1/subjects/suspicious").json()
    assert queue["masters"][0]["master_id"] == m["G2"]
    assert queue["masters"][0]["reasons"][0]["code"] == "two_valid_ids"
    split = client.post(
        f"/api/v1/subjects/masters/{m['G2']}/split",
        json={"record_ids": [r["G3"]], "reason": "两个身份证号码，两个人"},
        headers=headers,
    )
    assert split.status_code == 200, split.text
    new = split.json()["new_master_id"]
    assert split.json()["kept_master_id"] == m["G2"]
    assert client.get("/api/v1/subjects/suspicious").json()["masters"] == []
    moved = client.post(
        f"/api/v1/subjects/records/{r['M3']}/move",
        json={"target_master_id": m["M2"], "reason": "同一人"},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.json()["to_master_id"] == m["M2"]
    apart = client.post(
        "/api/v1/subjects/not-same",
        json={"record_a": r["M2"], "record_b": r["M3"], "reason": "还是两个人"},
        headers=headers,
    )
    assert apart.status_code == 200, apart.text
    body = apart.json()
    assert body["masters"][str(r["M2"])] == m["M2"] and body["masters"][str(r["M3"])] != m["M2"]
    detail = client.get(f"/api/v1/subjects/masters/{m['M2']}").json()
    assert [d["kind"] for d in detail["decisions"]] == ["not_same", "move"]
    assert detail["decisions"][0]["actor"] == "steward"
    assert detail["decisions"][0]["automatic"] is False
    history = client.get(f"/api/v1/subjects/masters/{new}").json()["decisions"]
    assert [d["kind"] for d in history] == ["split"]


def test_pages_forms_work_for_a_steward(client):
    token = sign_in(client, "steward")
    r, m = _ids()
    with unit_of_work() as s:
        _merge(s, m["G1"], [r["M2"]])
    zhang = m["G1"]
    page = client.get(f"/subjects/{zhang}")
    assert page.status_code == 200
    for marker in ("拆分所选记录", "移动到…", "不是同一人", "处理记录", 'form="split-form"'):
        assert marker in page.text, marker
    assert "性别：男" in page.text  # the normalized "M" shown in words
    # a refused split: the page again with the reason, nothing changed
    before = _snapshot()
    refused = client.post(
        f"/subjects/{zhang}/split",
        data={"record_ids": [str(r["M2"])], "reason": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and "data-error-message" in refused.text
    assert "请填写理由" in refused.text
    everything = client.post(
        f"/subjects/{zhang}/split",
        data={
            "record_ids": [str(r["G1"]), str(r["M1"]), str(r["M2"])],
            "reason": "全部拆走",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert everything.status_code == 422 and "至少要留下一条记录" in everything.text
    assert _snapshot() == before
    done = client.post(
        f"/subjects/{zhang}/split",
        data={"record_ids": [str(r["M2"])], "reason": "同名不同人", "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"/subjects/{zhang}?done=split&other=")
    shown = client.get(done.headers["location"])
    assert "data-notice" in shown.text and "同名不同人" in shown.text
    assert 'data-decision-kind="split"' in shown.text
    # move: refused on a conflict, then to a new master
    conflict = client.post(
        f"/subjects/{zhang}/records/{r['M1']}/move",
        data={
            "to": "master",
            "target_master_id": str(m["G2"]),
            "reason": "试试",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert conflict.status_code == 409 and "两个不同的有效身份证号码" in conflict.text
    nowhere = client.post(
        f"/subjects/{zhang}/records/{r['M1']}/move",
        data={"to": "master", "target_master_id": "", "reason": "试试", "csrf_token": token},
        follow_redirects=False,
    )
    assert nowhere.status_code == 400 and "data-error-message" in nowhere.text
    moved = client.post(
        f"/subjects/{zhang}/records/{r['M1']}/move",
        data={"to": "new", "reason": "分开看看", "csrf_token": token},
        follow_redirects=False,
    )
    assert moved.status_code == 303 and "done=moved" in moved.headers["location"]
    # not the same person, inside one master: record_b leaves
    with unit_of_work() as s:
        m2 = _master_of(s, r["M2"])
        _merge(s, m2, [r["M3"]])
    apart = client.post(
        f"/subjects/{m2}/not-same",
        data={
            "record_a": str(r["M2"]),
            "record_b": str(r["M3"]),
            "reason": "两个人",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert apart.status_code == 303 and "done=not_same&other=" in apart.headers["location"]
    assert "data-notice" in client.get(apart.headers["location"]).text
    with unit_of_work(readonly=True) as s:
        assert _members(s, m2) == {r["M2"]}


def test_suspicious_page_renders_chinese(client):
    sign_in(client, "steward")
    r, m = _ids()
    with unit_of_work() as s:
        _merge(s, m["G2"], [r["G3"]])
    page = client.get("/subjects/suspicious")
    assert page.status_code == 200
    assert "疑似错误合并" in page.text and "两个不同的有效身份证号码" in page.text
    assert f'data-suspicious-master="{m["G2"]}"' in page.text
    assert "two_valid_ids" not in page.text.replace('data-reason="two_valid_ids"', "")
    assert 'href="/subjects/suspicious"' in client.get("/subjects").text
    empty = client.get("/subjects/suspicious?kind=project")
    assert empty.status_code == 200 and "data-empty" in empty.text


def test_non_stewards_are_refused(client):
    token = sign_in(client, "staff")
    r, m = _ids()
    before = _snapshot()
    assert client.get("/subjects/suspicious").status_code == 403
    assert client.get("/api/v1/subjects/suspicious").status_code == 403
    posts = [
        (f"/subjects/{m['G1']}/split", {"record_ids": [str(r["M1"])], "reason": "理由充分"}),
        (f"/subjects/{m['G1']}/records/{r['M1']}/move", {"to": "new", "reason": "理由充分"}),
        (
            f"/subjects/{m['G1']}/not-same",
            {"record_a": r["G1"], "record_b": r["M1"], "reason": "理由充分"},
        ),
    ]
    for path, data in posts:
        answer = client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)
        assert answer.status_code == 403, path
    api = client.post(
        "/api/v1/subjects/not-same",
        json={"record_a": r["G1"], "record_b": r["M1"], "reason": "理由充分"},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 403
    assert _snapshot() == before


# --- CLI ------------------------------------------------------------------------------------


def test_cli_decisions_are_by_the_named_steward(db):
    from typer.testing import CliRunner

    from govloop.cli import app

    runner = CliRunner()
    with unit_of_work() as s:
        r = _world(s)
        _steward(s)
        make_user(s, "staff", Role.WINDOW_STAFF)
        zhang, li = _master_of(s, r["G1"]), _master_of(s, r["G2"])
        _merge(s, zhang, [r["M2"]])
        _merge(s, li, [r["G3"]])
    listed = runner.invoke(app, ["subjects", "suspicious"])
    assert listed.exit_code == 0, listed.output
    assert "疑似错误合并" in listed.output and "两个不同的有效身份证号码" in listed.output
    split = runner.invoke(
        app,
        [
            "subjects",
            "split",
            str(zhang),
            str(r["M2"]),
            "--reason",
            "同名不同人",
            "--actor",
            "steward",
        ],
    )
    assert split.exit_code == 0 and f"主记录 #{zhang} 保留原编号" in split.output, split.output
    refused = runner.invoke(
        app,
        [
            "subjects",
            "move",
            str(r["M1"]),
            "--to",
            str(li),
            "--reason",
            "试试",
            "--actor",
            "steward",
        ],
    )
    assert refused.exit_code == 1 and "两个不同的有效身份证号码" in refused.output
    moved = runner.invoke(
        app,
        ["subjects", "move", str(r["M3"]), "--to", "new", "--reason", "x", "--actor", "steward"],
    )
    assert moved.exit_code == 1 and "请填写理由" in moved.output
    not_steward = runner.invoke(
        app,
        [
            "subjects",
            "not-same",
            str(r["G2"]),
            str(r["G3"]),
            "--reason",
            "两人",
            "--actor",
            "staff",
        ],
    )
    assert not_steward.exit_code == 1 and "只有数据管理员" in not_steward.output
    nobody = runner.invoke(
        app,
        [
            "subjects",
            "not-same",
            str(r["G2"]),
            str(r["G3"]),
            "--reason",
            "两人",
            "--actor",
            "ghost",
        ],
    )
    assert nobody.exit_code == 1 and "用户不存在" in nobody.output
    apart = runner.invoke(
        app,
        [
            "subjects",
            "not-same",
            str(r["G2"]),
            str(r["G3"]),
            "--reason",
            "两人",
            "--actor",
            "steward",
        ],
    )
    assert apart.exit_code == 0 and "不是同一人" in apart.output, apart.output
    bad_target = runner.invoke(
        app,
        ["subjects", "move", str(r["M3"]), "--to", "abc", "--reason", "理由", "--actor", "steward"],
    )
    assert bad_target.exit_code == 2
    with unit_of_work(readonly=True) as s:
        decisions = list(s.scalars(select(SubjectDecision).order_by(SubjectDecision.id)))
        assert [d.kind for d in decisions] == ["split", "not_same"]
        steward_id = s.scalar(select(User.id).where(User.username == "steward"))
        assert {d.actor_id for d in decisions} == {steward_id}
        assert _members(s, li) == {r["G2"]}
