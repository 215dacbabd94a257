from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from govloop.app import create_app
from govloop.core.auth import issue_api_token
from govloop.core.db import unit_of_work
from govloop.ratings import servqual
from tests.factories import make_hall


def answers(e: int, p: int, **overrides: tuple[int, int]) -> dict[str, dict[str, int]]:
    out = {str(n): {"e": e, "p": p} for n in range(1, 23)}
    for key, (ev, pv) in overrides.items():
        out[key.lstrip("q")] = {"e": ev, "p": pv}
    return out


def test_questionnaire_has_22_items_over_five_dimensions():
    q = servqual.questionnaire()
    assert len(q["items"]) == 22
    per_dim = {}
    for item in q["items"]:
        per_dim[item["dimension"]] = per_dim.get(item["dimension"], 0) + 1
    assert per_dim == {
        "tangibles": 4,
        "reliability": 5,
        "responsiveness": 4,
        "assurance": 4,
        "empathy": 5,
    }


@pytest.fixture
def survey_api(db):
    with unit_of_work() as s:
        world = make_hall(s, staffed=False)
        token = issue_api_token(session=s, user=world.manager, name="t")
    client = TestClient(create_app())
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def test_survey_lifecycle_and_gap_scores(survey_api):
    c = survey_api
    assert (
        c.post(
            "/api/v1/surveys", json={"code": "Q1", "title": "2026 年满意度调查", "hall": "H1"}
        ).status_code
        == 201
    )
    # Not yet published: answers refused.
    r = c.post("/api/v1/surveys/Q1/responses", json={"answers": answers(6, 5)})
    assert r.status_code == 422 and r.json()["error"] == "survey_not_open"
    assert c.post("/api/v1/surveys/Q1/publish").json()["status"] == "published"
    c.post("/api/v1/surveys/Q1/responses", json={"answers": answers(6, 5)})
    c.post("/api/v1/surveys/Q1/responses", json={"answers": answers(7, 4, q11=(7, 2))})
    gaps = c.get("/api/v1/surveys/Q1/gaps").json()
    assert gaps["responses"] == 2
    assert gaps["items"]["1"]["gap"] == pytest.approx(((5 - 6) + (4 - 7)) / 2)
    assert gaps["items"]["11"]["gap"] == pytest.approx(((5 - 6) + (2 - 7)) / 2)
    responsiveness = (-2 * 3 + -3) / 4  # items 10–13, item 11 worse
    assert gaps["dimensions"]["responsiveness"]["gap"] == pytest.approx(responsiveness)
    assert gaps["dimensions"]["tangibles"]["gap"] == pytest.approx(-2.0)
    assert c.get("/api/v1/surveys/halls/H1/gaps").json()["responses"] == 2


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({k: v for k, v in answers(5, 5).items() if k != "7"}, "incomplete"),
        (answers(5, 5) | {"23": {"e": 1, "p": 1}}, "unknown_item"),
        (answers(5, 5) | {"3": {"e": 8, "p": 1}}, "out_of_scale"),
        (answers(5, 5) | {"3": {"e": "7", "p": 1}}, "out_of_scale"),
        (answers(5, 5) | {"3": {"p": 1}}, "out_of_scale"),
    ],
)
def test_bad_answers_are_refused(survey_api, payload, error):
    c = survey_api
    c.post("/api/v1/surveys", json={"code": "Q2", "title": "t"})
    c.post("/api/v1/surveys/Q2/publish")
    r = c.post("/api/v1/surveys/Q2/responses", json={"answers": payload})
    assert r.status_code == 400 and r.json()["error"] == error
    assert c.get("/api/v1/surveys/Q2/gaps").json()["responses"] == 0


def test_survey_admin_needs_manager(db):
    client = TestClient(create_app())
    assert client.post("/api/v1/surveys", json={"code": "Q3", "title": "t"}).status_code == 401
    assert client.get("/api/v1/surveys/NOPE").status_code == 404
