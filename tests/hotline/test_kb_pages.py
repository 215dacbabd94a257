"""Knowledge-base pages and JSON API: public suggestions show served articles only, the
review workflow over HTTP, refusals in the app's error format that store nothing, pages in
Chinese and the HTMX suggestion fragment."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hotline.catalogue import seed_catalogue
from govloop.hotline.kb import api as kb_api
from govloop.hotline.kb import pages as kb_pages
from govloop.hotline.kb import service as kb
from govloop.hotline.models import ArticleStatus, KbArticle, KbArticleVersion
from tests.factories import make_user
from tests.web.helpers import csrf, sign_in

FUND = {
    "title": "住房公积金提取办理指南",
    "question": "职工购房后怎么提取住房公积金？",
    "answer": "可凭购房合同、发票和身份证到住房公积金管理中心申请提取，3个工作日内到账。",
    "keywords": ["公积金", "提取"],
}
DRAFT = {
    "title": "公积金提取新规（草稿）",
    "question": "公积金提取有新政策吗？",
    "answer": "内部讨论稿：提取公积金拟改为全程网办。",
    "keywords": ["公积金"],
}


def kb_app() -> FastAPI:
    """The app, with the knowledge-base routers added if app.py does not register them yet."""
    app = create_app(run_jobs=False)
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/api/v1/hotline/kb/suggest" not in paths:
        app.include_router(kb_api.router)
    if "/hotline/kb/suggest" not in paths:
        app.include_router(kb_pages.router)
    return app


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        seed_catalogue(session=s)
        make_user(s, "editor", Role.HOTLINE_AGENT)
        make_user(s, "reviewer", Role.HOTLINE_AGENT)
        make_user(s, "staff", Role.WINDOW_STAFF)
    return TestClient(kb_app())


def user(s, name: str) -> User:
    found = s.scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def publish(fields: dict, *, category: str | None = "GJJ-FUND") -> int:
    with unit_of_work() as s:
        editor, reviewer = user(s, "editor"), user(s, "reviewer")
        v = kb.create_article(session=s, author=editor, category_code=category, **fields)
        kb.submit_for_review(session=s, version_id=v.id, actor=editor)
        kb.review(session=s, version_id=v.id, reviewer=reviewer, approve=True)
        return v.article_id


def draft(fields: dict) -> int:
    with unit_of_work() as s:
        return kb.create_article(session=s, author=user(s, "editor"), **fields).article_id


def counts() -> tuple[int, int]:
    with unit_of_work(readonly=True) as s:
        return (
            s.scalar(select(func.count(KbArticle.id))) or 0,
            s.scalar(select(func.count(KbArticleVersion.id))) or 0,
        )


# --- JSON API ------------------------------------------------------------------------


def test_citizens_get_suggestions_from_published_articles_only(client):
    published = publish(FUND)
    draft(DRAFT)
    r = client.get("/api/v1/hotline/kb/suggest", params={"q": "怎么提取公积金"})
    assert r.status_code == 200
    suggestions = r.json()["suggestions"]
    assert [s["article_id"] for s in suggestions] == [published]
    assert suggestions[0]["title"] == FUND["title"] and suggestions[0]["answer"] == FUND["answer"]
    assert "score" not in suggestions[0] and "version_id" not in suggestions[0]
    assert client.get("/api/v1/hotline/kb/suggest", params={"q": "a"}).json()["suggestions"] == []
    # Agents' search needs a sign-in.
    assert client.get("/api/v1/hotline/kb/search", params={"q": "公积金"}).status_code == 401


def test_review_workflow_over_the_api(client):
    token = sign_in(client, "editor")
    headers = {"X-CSRF-Token": token}
    r = client.post(
        "/api/v1/hotline/kb/articles",
        json={**FUND, "category_code": "GJJ-FUND"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    article = r.json()
    version_id = article["versions"][0]["id"]
    assert article["status"] == "draft" and article["published"] is None
    assert client.post(f"/api/v1/hotline/kb/versions/{version_id}/submit", headers=headers).json()[
        "status"
    ] == ("in_review")
    refused = client.post(
        f"/api/v1/hotline/kb/versions/{version_id}/review",
        json={"approve": True},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "kb_self_review" and refused.json()["message"]

    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "reviewer")
    r = client.post(
        f"/api/v1/hotline/kb/versions/{version_id}/review",
        json={"approve": True, "note": "内容准确"},
        headers={"X-CSRF-Token": token},
    )
    assert r.status_code == 200 and r.json()["status"] == ArticleStatus.PUBLISHED
    hits = client.get("/api/v1/hotline/kb/search", params={"q": "怎么提取公积金"}).json()["hits"]
    assert hits[0]["article_id"] == article["id"] and hits[0]["version_id"] == version_id
    used = client.post(
        f"/api/v1/hotline/kb/articles/{article['id']}/use", headers={"X-CSRF-Token": token}
    )
    assert used.json()["use_count"] == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**FUND, "title": "<b>公积金</b>"}, "html_not_allowed"),
        ({**FUND, "answer": "答" * 5001}, "answer_too_long"),
        ({**FUND, "category_code": "NOPE"}, "unknown_category"),
    ],
)
def test_bad_input_gets_the_json_error_and_stores_nothing(client, body, code):
    token = sign_in(client, "editor")
    before = counts()
    r = client.post("/api/v1/hotline/kb/articles", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 400
    assert r.json()["error"] == code and r.json()["message"]
    assert counts() == before


def test_editing_needs_the_hotline_permission_and_the_csrf_token(client):
    token = sign_in(client, "staff")
    r = client.post("/api/v1/hotline/kb/articles", json=FUND, headers={"X-CSRF-Token": token})
    assert r.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, "editor")
    assert client.post("/api/v1/hotline/kb/articles", json=FUND).status_code == 403
    assert counts() == (0, 0)


# --- pages ---------------------------------------------------------------------------


def test_pages_need_a_signed_in_editor(client):
    r = client.get("/hotline/kb", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_article_list_is_in_chinese_with_statuses_and_the_expiring_flag(client):
    from datetime import timedelta

    from govloop.core.clock import local_today

    publish(FUND)
    with unit_of_work() as s:
        editor, reviewer = user(s, "editor"), user(s, "reviewer")
        v = kb.create_article(
            session=s,
            author=editor,
            category_code="CG-NOISE",
            expires_on=local_today() + timedelta(days=3),
            title="夜间施工噪音投诉",
            question="晚上工地太吵怎么办？",
            answer="22时至次日6时禁止施工作业，可拨打12345反映。",
        )
        kb.submit_for_review(session=s, version_id=v.id, actor=editor)
        kb.review(session=s, version_id=v.id, reviewer=reviewer, approve=True)
    draft(DRAFT)
    sign_in(client, "editor")
    r = client.get("/hotline/kb")
    assert r.status_code == 200
    assert "知识库" in r.text and "新建文章" in r.text
    assert "已发布" in r.text and "草稿" in r.text and "即将过期" in r.text
    assert 'data-expiring-count="1"' in r.text
    assert "/static/js/kb_suggest.js" in r.text and 'data-kb-suggest="#kb-try"' in r.text
    drafts = client.get("/hotline/kb", params={"status": "draft"}).text
    assert DRAFT["title"] in drafts and FUND["title"] not in drafts
    soon = client.get("/hotline/kb", params={"expiring": "true"}).text
    assert "夜间施工噪音投诉" in soon and FUND["title"] not in soon
    # English through the catalogs.
    client.cookies.set("lang", "en")
    assert "Knowledge base" in client.get("/hotline/kb").text


def test_edit_review_and_history_through_the_pages(client):
    article_id = publish(FUND)
    token = sign_in(client, "editor")
    r = client.post(
        f"/hotline/kb/{article_id}/edit",
        data={
            **FUND,
            "keywords": "公积金，提取",
            "answer": "提取公积金可全程网办。",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "新版本已保存为草稿" in page and "版本历史" in page
    assert FUND["answer"] in page  # the served text stays
    with unit_of_work(readonly=True) as s:
        pending = kb.article_view(session=s, article_id=article_id).pending
        assert pending is not None
        pending_id = pending.id
    client.post(
        f"/hotline/kb/{article_id}/versions/{pending_id}/submit", data={"csrf_token": token}
    )
    page = client.get(f"/hotline/kb/{article_id}").text
    assert "该版本由您编写，须由其他人员审核" in page and 'data-action="review"' not in page

    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "reviewer")
    assert 'data-action="review"' in client.get(f"/hotline/kb/{article_id}").text
    r = client.post(
        f"/hotline/kb/{article_id}/versions/{pending_id}/review",
        data={"decision": "reject", "note": "", "csrf_token": token},
    )
    assert r.status_code == 400 and "请填写审核意见" in r.text
    r = client.post(
        f"/hotline/kb/{article_id}/versions/{pending_id}/review",
        data={"decision": "approve", "note": "", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "已审核通过并发布" in page and "提取公积金可全程网办。" in page
    assert re.search(r'data-version="1".*?已停用', page, re.S)


def test_the_new_article_form_refuses_html_keeps_the_input_and_stores_nothing(client):
    token = sign_in(client, "editor")
    assert "新建文章" in client.get("/hotline/kb/new").text
    r = client.post(
        "/hotline/kb/new",
        data={**FUND, "title": "<script>x</script>公积金", "keywords": "", "csrf_token": token},
    )
    assert r.status_code == 400
    assert "不能包含 HTML 标签" in r.text and "&lt;script&gt;x&lt;/script&gt;公积金" in r.text
    assert counts() == (0, 0)
    r = client.post(
        "/hotline/kb/new",
        data={**FUND, "keywords": "公积金 提取", "category": "GJJ-FUND", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and counts() == (1, 1)


def test_htmx_suggest_fragment_offers_answers(client):
    article_id = publish(FUND)
    draft(DRAFT)
    # A citizen reads the answer; no button.
    r = client.get(
        "/hotline/kb/suggest", params={"q": "怎么提取公积金"}, headers={"HX-Request": "true"}
    )
    assert r.status_code == 200 and "<html" not in r.text
    assert FUND["title"] in r.text and DRAFT["title"] not in r.text
    assert f'data-article-id="{article_id}"' in r.text and "data-kb-use" not in r.text
    # An agent gets "use this answer", aimed at the textarea named in ``target``.
    sign_in(client, "editor")
    r = client.get(
        "/hotline/kb/suggest",
        params={"q": "怎么提取公积金", "target": "#answer"},
        headers={"HX-Request": "true"},
    )
    assert f'data-kb-use="{article_id}"' in r.text and 'data-kb-fill="#answer"' in r.text
    assert "使用此答案" in r.text
    odd = client.get("/hotline/kb/suggest", params={"q": "公积金", "target": 'x" onclick="y'})
    assert "data-kb-fill" not in odd.text
    none = client.get("/hotline/kb/suggest", params={"q": "月球基地"})
    assert "知识库中暂无匹配的答案" in none.text
    assert client.get("/hotline/kb/suggest", params={"q": ""}).text.count("kb-hit") == 0


def test_suggest_script_is_served(client):
    r = client.get("/static/js/kb_suggest.js")
    assert (
        r.status_code == 200
        and "data-kb-suggest" in r.text
        and "keyup changed delay:300ms" in r.text
    )
    assert csrf(client)  # pages carry the token the script sends with "use this answer"
