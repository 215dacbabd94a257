"""Never merge two people: households, twins, moves and the hard constraints, in the model
(``linkage.link_persons``), the constrained clustering, and the incremental and full relinks
of the subject databases (both databases)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy import select

from govloop.core.db import unit_of_work
from govloop.subjects import linking
from govloop.subjects.clustering import constrained_clusters
from govloop.subjects.identifiers import id_check_char
from govloop.subjects.identity import (
    dob_level,
    hard_conflict,
    identity_agrees,
    name_level,
    person_key,
)
from govloop.subjects.linkage import link_persons
from govloop.subjects.models import (
    DecisionKind,
    SubjectCannotLink,
    SubjectDecision,
    SubjectLink,
    SubjectMaster,
)
from govloop.subjects.person_linking import consistent_parts
from tests.subjects.test_linking import _load

pytestmark = pytest.mark.timeout(300)


def _id(region: str, birth: str, seq: str, sex_digit: int) -> str:
    first17 = f"{region}{birth.replace('-', '')}{seq}{sex_digit}"
    return first17 + id_check_char(first17)


PHONE = "13812345678"
HOME = "浙江省杭州市西湖区文化路12号翠苑小区3号楼2单元501室"
FATHER = {"name": "张建国", "birth_date": "1975-03-02", "sex": "M"}
MOTHER = {"name": "李秀兰", "birth_date": "1977-06-10", "sex": "F"}
TWIN_A = {"name": "张思远", "birth_date": "2010-08-08", "sex": "M"}
TWIN_B = {"name": "张思明", "birth_date": "2010-08-08", "sex": "M"}
IDS = {
    "father": _id("330106", FATHER["birth_date"], "21", 3),
    "mother": _id("330106", MOTHER["birth_date"], "22", 4),
    "twin_a": _id("330106", TWIN_A["birth_date"], "23", 5),
    "twin_b": _id("330106", TWIN_B["birth_date"], "24", 7),
}
MEMBERS = {"father": FATHER, "mother": MOTHER, "twin_a": TWIN_A, "twin_b": TWIN_B}


def household_rows(*, with_ids: bool) -> list[dict[str, Any]]:
    """Each member as three departments hold them: the whole family gives one phone and one
    address; 公安 has the ID numbers (when ``with_ids``), the hospital and school do not."""
    rows = []
    for who, person in MEMBERS.items():
        for source in ("公安", "卫健", "教育" if who.startswith("twin") else "社保"):
            rows.append(
                {
                    "record_key": f"{source}-{who}",
                    "source": source,
                    **person,
                    "phone": PHONE,
                    "address": HOME,
                    "id_number": IDS[who] if with_ids and source in ("公安", "社保") else None,
                    "truth": who,
                }
            )
    return rows


@pytest.fixture(scope="module")
def bootstrap() -> dict[str, Any]:
    return linking.bootstrap_model()


def _clusters(rows: list[dict[str, Any]], model: dict[str, Any]) -> dict[str, set[str]]:
    frame = pd.DataFrame(rows)
    result = link_persons(frame.drop(columns=["truth"]), model=model)
    truth = dict(zip(frame["record_key"], frame["truth"], strict=True))
    groups: dict[str, set[str]] = {}
    for key, label in result.cluster_of().items():
        groups.setdefault(label, set()).add(truth[key])
    return groups


@pytest.mark.parametrize("with_ids", [True, False], ids=["with-ids", "without-ids"])
def test_household_of_four_stays_four_people(bootstrap, with_ids):
    groups = _clusters(household_rows(with_ids=with_ids), bootstrap)
    # every cluster is one person, and every person is one cluster
    assert all(len(members) == 1 for members in groups.values()), groups
    assert sorted(next(iter(m)) for m in groups.values()) == sorted(MEMBERS)


def test_person_who_moved_and_changed_phone_is_one_person(bootstrap):
    rows = [
        {
            "record_key": "公安-1",
            "source": "公安",
            **FATHER,
            "phone": PHONE,
            "address": HOME,
            "id_number": IDS["father"],
            "truth": "father",
        },
        {
            "record_key": "民政-1",
            "source": "民政",
            **FATHER,
            "phone": "15900001111",
            "address": "江苏省南京市玄武区中山路88号",
            "id_number": None,
            "truth": "father",
        },
    ]
    assert list(_clusters(rows, bootstrap).values()) == [{"father"}]


def test_two_valid_ids_are_never_merged_even_when_all_else_agrees(bootstrap):
    other = _id("330106", FATHER["birth_date"], "31", 5)
    rows = [
        {
            "record_key": f"{source}-{i}",
            "source": source,
            **FATHER,
            "phone": PHONE,
            "address": HOME,
            "id_number": number,
            "truth": number,
        }
        for i, (source, number) in enumerate([("公安", IDS["father"]), ("社保", other)])
    ]
    # a record without an ID that matches both joins one of them, never both
    rows.append({**rows[0], "record_key": "卫健-x", "source": "卫健", "id_number": None})
    result = link_persons(pd.DataFrame(rows).drop(columns=["truth"]), model=bootstrap)
    labels = result.cluster_of()
    assert labels["公安-0"] != labels["社保-1"]
    assert labels["卫健-x"] in (labels["公安-0"], labels["社保-1"])
    assert any(r.reason == "two_valid_ids" for r in result.refused)


def test_identity_rules():
    a = person_key("a", {"name": "張 偉", "birth_date": "1990-05-01", "sex": "男"})
    b = person_key("b", {"name": "张玮", "birth_date": "1990-01-05", "sex": "M"})
    assert name_level(a, b) == "homophone" and dob_level(a.dob, b.dob) == "swap"
    assert identity_agrees(a, b)
    # one character apart is what a parent and child, or twins, look like
    c = person_key("c", {"name": "张伟明", "birth_date": "1990-05-01"})
    assert name_level(a, c) == "one_char" and not identity_agrees(a, c)
    # birth dates no typo explains
    d = person_key("d", {"name": "张伟", "birth_date": "1991-07-01"})
    assert hard_conflict(a, d) == "birth_date"
    # a sex from a valid ID against a stated sex
    e = person_key("e", {"name": "张伟", "id_number": IDS["mother"]})
    f = person_key("f", {"name": "张伟", "sex": "男"})
    assert hard_conflict(e, f) == "sex"
    # the ID's birth date wins over a mistyped stated one
    g = person_key("g", {"name": "李秀兰", "birth_date": "1977-06-19", "id_number": IDS["mother"]})
    assert g.dob == "1977-06-10"


def test_no_chaining_through_a_shared_record():
    """A links to B and B to C, but A and C disagree: clusters follow identities, not chains."""
    a = person_key("a", {"name": "王芳", "birth_date": "1980-01-01", "id_number": None})
    b = person_key("b", {"name": "王芳", "birth_date": None})
    c = person_key("c", {"name": "王芳", "birth_date": "1985-09-09"})
    result = constrained_clusters([a, b, c], [("a", "b", 0.99), ("b", "c", 0.98)])
    assert result.labels["a"] == result.labels["b"] != result.labels["c"]
    assert [r.reason for r in result.refused] == ["birth_date"]


def test_inconsistent_master_splits_at_its_weakest_link():
    persons = [
        person_key("r1", {"name": "张建国", "id_number": IDS["father"]}),
        person_key("r2", {"name": "张建国", "birth_date": FATHER["birth_date"]}),
        person_key("r3", {"name": "李秀兰", "id_number": IDS["mother"]}),
    ]
    parts = sorted(sorted(p) for p in consistent_parts(persons))
    assert parts == [["r1", "r2"], ["r3"]]


# --- in the subject databases ------------------------------------------------------------


def _department_rows(rows: list[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r["source"] != source:
            continue
        out.append(
            {
                "record_id": r["record_key"],
                **{
                    k: r[k]
                    for k in ("name", "birth_date", "sex", "phone", "address", "id_number")
                    if r[k]
                },
            }
        )
    return out


def _load_household(session, rows: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    for source, department in (("公安", "公安局"), ("社保", "人社局"), ("卫健", "卫健委")):
        _load(session, f"dept-{source}", department, _department_rows(rows, source))
    _load(session, "dept-教育", "教育局", _department_rows(rows, "教育"))


def _masters_by_person(session) -> dict[int, set[str]]:  # type: ignore[no-untyped-def]
    links = session.execute(
        select(SubjectLink.master_id, SubjectLink.record_id).join(
            SubjectMaster, SubjectMaster.id == SubjectLink.master_id
        )
    ).all()
    from govloop.ingest import records as ingest_records

    stored = ingest_records.records_by_id(session=session, ids=[r for _, r in links])
    out: dict[int, set[str]] = {}
    for master_id, record_id in links:
        out.setdefault(master_id, set()).add(stored[record_id].event_id.split("-")[-1].lower())
    return out


def test_household_in_the_database_stays_four_masters(db):
    with unit_of_work() as s:
        _load_household(s, household_rows(with_ids=True))
        linking.link_new_records(session=s, kind="person")
    with unit_of_work(readonly=True) as s:
        groups = _masters_by_person(s)
        assert sorted(tuple(sorted(g)) for g in groups.values()) == [
            ("father",),
            ("mother",),
            ("twin_a",),
            ("twin_b",),
        ]
        identifiers = set(s.scalars(select(SubjectMaster.identifier)))
        assert identifiers == set(IDS.values())


def _wang_fang(session, key: str, phone: str) -> None:  # type: ignore[no-untyped-def]
    _load(
        session,
        f"dept-{key}",
        "民政局",
        [{"record_id": key, "name": "王芳", "birth_date": "1980-01-01", "phone": phone}],
    )


def test_not_the_same_person_survives_a_full_relink(db):
    from tests.subjects.test_linking import exact_matcher

    with unit_of_work() as s:
        _wang_fang(s, "a", "13900000001")
        _wang_fang(s, "b", "13900000002")
        linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
        assert len(set(s.scalars(select(SubjectLink.master_id)))) == 1
        a, b = sorted(s.scalars(select(SubjectLink.record_id)))
        s.add(SubjectCannotLink(record_a=a, record_b=b, reason="经本人核实为两人"))
    for _ in range(2):
        with unit_of_work() as s:
            figures = linking.relink_persons(session=s, matcher=exact_matcher)
        with unit_of_work(readonly=True) as s:
            master_of = dict(s.execute(select(SubjectLink.record_id, SubjectLink.master_id)).all())
            assert master_of[a] != master_of[b]
    # the first relink moved one record out; the second had nothing to do
    assert figures["moved"] == 0
    with unit_of_work(readonly=True) as s:
        decisions = s.scalars(select(SubjectDecision)).all()
        assert [d.kind for d in decisions] == [DecisionKind.RELINK]
        # the record with the lower id keeps the original master
        assert decisions[0].record_ids == [b]
    with unit_of_work() as s:
        # a later increment with a third 王芳 does not put a and b together again
        _wang_fang(s, "c", "13900000003")
        linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
    with unit_of_work(readonly=True) as s:
        master_of = dict(s.execute(select(SubjectLink.record_id, SubjectLink.master_id)).all())
        assert master_of[a] != master_of[b]


def test_id_record_arriving_later_joins_and_names_the_master(db):
    from tests.subjects.test_linking import exact_matcher

    father = {"name": FATHER["name"], "birth_date": FATHER["birth_date"], "phone": PHONE}
    with unit_of_work() as s:
        _load(s, "dept-卫健", "卫健委", [{"record_id": "h1", **father}])
        linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
        master_id = s.scalar(select(SubjectMaster.id))
    with unit_of_work() as s:
        _load(
            s,
            "dept-公安",
            "公安局",
            [{"record_id": "g1", **father, "id_number": IDS["father"]}],
        )
        linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
    with unit_of_work(readonly=True) as s:
        masters = s.scalars(select(SubjectMaster)).all()
        assert [(m.id, m.identifier, m.record_count) for m in masters] == [
            (master_id, IDS["father"], 2)
        ]


def test_legacy_merge_of_two_people_is_split_on_the_next_increment(db):
    from tests.subjects.test_linking import exact_matcher

    with unit_of_work() as s:
        _load(
            s,
            "dept-公安",
            "公安局",
            [
                {"record_id": "g1", **FATHER, "id_number": IDS["father"], "phone": PHONE},
                {"record_id": "g2", **MOTHER, "id_number": IDS["mother"], "phone": PHONE},
            ],
        )
        linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
        father_master, mother_master = s.scalars(
            select(SubjectLink.master_id).order_by(SubjectLink.record_id)
        ).all()
        # an old run (before the constraints) had chained the wife into the husband's master
        mother_link = s.scalars(
            select(SubjectLink).where(SubjectLink.master_id == mother_master)
        ).one()
        mother_link.master_id = father_master
        s.get(SubjectMaster, mother_master).identifier = None  # type: ignore[union-attr]
    with unit_of_work() as s:
        _load(
            s,
            "dept-社保",
            "人社局",
            [{"record_id": "s1", **FATHER, "id_number": IDS["father"]}],
        )
        report = linking.link_new_records(session=s, kind="person", matcher=exact_matcher)
        assert report.auto_splits == 1
    with unit_of_work(readonly=True) as s:
        groups = _masters_by_person(s)
        assert sorted(groups[father_master]) == ["g1", "s1"]
        split = s.scalars(
            select(SubjectDecision).where(SubjectDecision.kind == DecisionKind.AUTO_SPLIT)
        ).one()
        assert split.master_id == father_master and split.actor_id is None
        assert "两个不同的有效身份证号码" in split.reason
        new_master = s.get(SubjectMaster, split.other_master_id)
        assert new_master is not None and new_master.identifier == IDS["mother"]


def test_full_relink_through_the_api_and_cli(db):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from govloop.app import create_app
    from govloop.cli import app
    from govloop.core.auth import Role
    from tests.factories import make_user
    from tests.web.helpers import sign_in

    with unit_of_work() as s:
        _wang_fang(s, "a", "13900000001")
        make_user(s, "steward", Role.DATA_STEWARD)
    client = TestClient(create_app(run_jobs=False))
    headers = {"X-CSRF-Token": sign_in(client, "steward")}
    answer = client.post("/api/v1/subjects/link?full=true", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["relink"]["records"] == 1
    assert client.post("/api/v1/subjects/link?full=maybe", headers=headers).status_code == 422
    result = CliRunner().invoke(app, ["subjects", "link", "--full"])
    assert result.exit_code == 0, result.output
    assert "全量重新关联：1 条人员记录" in result.output
