"""Reads of case data are logged through the group appender on PostgreSQL, in the request's
transaction on SQLite (access/reads.py): each access leaves exactly one committed entry
before its data is returned, concurrent reads keep one linear chain that verifies, a failed
append fails the read with no data, a read that must end its grant falls back to the
request's own transaction, and tampering with the entries is still found."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from govloop.access import cases, reads, service
from govloop.access.models import Grant
from govloop.app import create_app
from govloop.audit import group
from govloop.audit import log as audit
from govloop.audit.models import AuditEntry
from govloop.core.auth import issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import get_engine, unit_of_work
from govloop.core.errors import RecordedRefusal
from govloop.core.models import User
from govloop.hall import service as hall
from govloop.hall import windows as hall_windows
from govloop.subjects.models import SubjectMaster
from tests.factories import make_hall

NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # a Tuesday, 12:00 in Beijing
ATTRS = {"name": "张三", "id_number": "11010519491231002X", "phone": "13800138000"}


@pytest.fixture
def world(db: Any) -> Iterator[dict[str, Any]]:
    """A clerk serving a ticket whose applicant is 张三, a live grant for it and an API token;
    the clock stands at noon. The process's group appender gives its connection back at the
    end, before the database is wiped."""
    with frozen(NOON) as clock, unit_of_work() as s:
        built = make_hall(s)
        zhang = SubjectMaster(
            kind="person",
            identifier=ATTRS["id_number"],
            display_name="张三",
            attributes=ATTRS,
            provenance={},
        )
        s.add(zhang)
        s.flush()
        ticket = hall.issue_ticket(session=s, hall=built.hall, item=built.items["SB01"])
        cases.attach_subject(session=s, case_type="ticket", case_id=ticket.id, master_id=zhang.id)
        clerk = built.staff[1]
        hall_windows.call_next(session=s, hall=built.hall, window_number=1, actor=clerk)
        granted = service.open_grant(session=s, user=clerk, case_type="ticket", case_id=ticket.id)
        found = {
            "clock": clock,
            "clerk_id": clerk.id,
            "zhang_id": zhang.id,
            "grant_id": granted.grant.id,
            "token": granted.token,
            "api_token": issue_api_token(session=s, user=clerk, name="t"),
        }
    with frozen(NOON) as clock:
        found["clock"] = clock
        try:
            yield found
        finally:
            group.appender().close()


def _entries() -> list[tuple[int, str, str, int | None]]:
    with unit_of_work(readonly=True) as s:
        rows = s.execute(
            select(
                AuditEntry.seq, AuditEntry.action, AuditEntry.outcome, AuditEntry.subject_id
            ).order_by(AuditEntry.seq)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _grouped() -> bool:
    """Whether reads go through the group appender (PostgreSQL) on this database."""
    return get_engine().dialect.name == "postgresql"


def _verified() -> audit.VerifyReport:
    with unit_of_work(readonly=True) as s:
        return audit.verify(session=s)


def _read_as_the_api_does(world: dict[str, Any]) -> list[service.SubjectView]:
    """What GET /api/v1/access/data does: the request's unit of work (the signed-in user
    loaded in it), the read served from a read-only one."""
    with unit_of_work() as request:
        user = request.get(User, world["clerk_id"])
        assert user is not None
        return reads.served(
            request, lambda s: service.fetch(session=s, user=user, token=world["token"])
        )


def test_concurrent_reads_leave_one_entry_each_in_one_chain(world):
    threads, each = 8, 6
    before = _entries()
    batches = group.appender().batches
    served: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def reader() -> None:
        start.wait()
        try:
            for _ in range(each):
                views = _read_as_the_api_does(world)
                served.append(views[0].id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=reader) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors
    n = threads * each
    assert served == [world["zhang_id"]] * n
    after = _entries()
    added = after[len(before) :]
    assert after[: len(before)] == before
    assert [seq for seq, *_ in after] == list(range(1, len(after) + 1))
    assert added == [
        (seq, "read", "ok", world["zhang_id"]) for seq in range(len(before) + 1, len(after) + 1)
    ]
    assert len(added) == n  # exactly one entry per access
    # PostgreSQL: committed by the group appender, not by the requests' transactions
    made = group.appender().batches - batches
    assert (1 <= made <= n) if _grouped() else (made == 0)
    report = _verified()
    assert report.ok, report.problems


def test_the_api_read_is_logged_by_the_group_appender(world):
    client = TestClient(create_app(run_jobs=False))
    headers = {"Authorization": f"Bearer {world['api_token']}", "X-Grant-Token": world["token"]}
    batches = group.appender().batches
    r = client.get("/api/v1/access/data", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["subjects"][0]["values"]["name"] == "张三"
    key = client.get("/api/v1/access/key", headers=headers)
    assert key.status_code == 200 and len(key.json()["key"]) == 64
    assert group.appender().batches - batches == (2 if _grouped() else 0)
    assert [a for _, a, _, _ in _entries()][-2:] == ["read", "key_issued"]
    assert _verified().ok


def _failing_commit(*args: Any, **kwargs: Any) -> None:
    raise OperationalError("COMMIT", {}, Exception("disk I/O error (injected)"))


def test_a_failed_append_fails_the_read_and_returns_no_data(world, monkeypatch):
    client = TestClient(create_app(run_jobs=False), raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {world['api_token']}", "X-Grant-Token": world["token"]}
    before = _entries()
    monkeypatch.setattr(group.GroupAppender, "_commit", _failing_commit)  # PostgreSQL
    monkeypatch.setattr(audit, "append", _failing_commit)  # SQLite: in the request
    r = client.get("/api/v1/access/data", headers=headers)
    key = client.get("/api/v1/access/key", headers=headers)
    with pytest.raises(OperationalError):
        _read_as_the_api_does(world)
    monkeypatch.undo()
    for failed in (r, key):
        assert failed.status_code == 503 and failed.json()["error"] == "database_unavailable"
        assert "张三" not in failed.text and "key" not in failed.json()
    assert _entries() == before  # nothing logged, nothing served
    ok = client.get("/api/v1/access/data", headers=headers)
    assert ok.status_code == 200 and "张三" in ok.text
    assert [a for _, a, _, _ in _entries()[len(before) :]] == ["read"]
    assert _verified().ok


def test_a_refusal_is_committed_once_through_the_group_appender(world):
    batches = group.appender().batches
    before = len(_entries())
    with unit_of_work() as request:
        user = request.get(User, world["clerk_id"])
        with pytest.raises(RecordedRefusal) as refused:
            reads.served(
                request,
                lambda s: service.fetch(
                    session=s, user=user, token=world["token"], fields=["address"]
                ),
            )
    assert refused.value.code == "field_not_granted"
    assert group.appender().batches - batches == (1 if _grouped() else 0)
    assert [(a, o) for _, a, o, _ in _entries()[before:]] == [("denied", "denied")]


def test_a_read_that_must_end_its_grant_falls_back_to_the_request(world):
    """A grant past its time limit is ended by the read that finds it so: that write and
    its entries commit together in the request's transaction, each logged once."""
    before = len(_entries())
    world["clock"].advance(hours=24)
    client = TestClient(create_app(run_jobs=False))
    headers = {"Authorization": f"Bearer {world['api_token']}", "X-Grant-Token": world["token"]}
    batches = group.appender().batches
    r = client.get("/api/v1/access/data", headers=headers)
    assert r.status_code == 410 and r.json()["error"] == "grant_ended"
    assert group.appender().batches == batches  # not through the group appender
    added = [(a, o) for _, a, o, _ in _entries()[before:]]
    assert added == [("grant_ended", "ok"), ("denied", "denied")]
    with unit_of_work(readonly=True) as s:
        grant = s.get(Grant, world["grant_id"])
        assert grant is not None and (grant.status, grant.end_reason) == ("ended", "expired")
    assert _verified().ok


def test_writing_in_a_read_only_read_is_refused_before_anything_is_logged(world):
    before = _entries()
    with unit_of_work(readonly=True) as s, pytest.raises(service.WriteNeeded):
        grant = s.get(Grant, world["grant_id"])
        assert grant is not None
        grant.purpose = "changed"
        service.record(s, None, "read")
    assert _entries() == before


def test_tampering_with_entries_the_reads_wrote_is_found(world):
    for _ in range(3):
        _read_as_the_api_does(world)
    assert _verified().ok
    last = _entries()[-1][0]
    with unit_of_work() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == last - 1).values(fields="name"))
    report = _verified()
    assert not report.ok
    assert [(p.kind, p.seq) for p in report.problems] == [("modified", last - 1)]
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == last


def test_an_appender_left_behind_by_a_moved_head_still_appends_after_it(world):
    """Another process (here: a writing unit of work) moves the head between two reads: the
    next batch is written after the new head, not after the one the appender remembers."""
    _read_as_the_api_does(world)
    with unit_of_work() as s:
        audit.append(
            session=s,
            entries=[audit.Entry(actor_id=None, actor="system", action="grant_ended")],
        )
    _read_as_the_api_does(world)
    assert [a for _, a, _, _ in _entries()][-3:] == ["read", "grant_ended", "read"]
    assert _verified().ok


def test_the_application_gives_back_the_appender_connection_at_shutdown(world):
    headers = {"Authorization": f"Bearer {world['api_token']}", "X-Grant-Token": world["token"]}
    with TestClient(create_app(run_jobs=False)) as client:
        for _ in range(2):  # PostgreSQL: the second batch goes in one statement, on its own
            assert client.get("/api/v1/access/data", headers=headers).status_code == 200
        postgres = group.appender()._engine is not None
        assert (group.appender()._connection is not None) == postgres
    assert group.appender()._connection is None
