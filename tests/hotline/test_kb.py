"""Knowledge base: versions and review, expiry and retirement, Chinese full-text search on
both backends, refusals that store nothing, the demo articles and a small benchmark run."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from govloop.bench.hotline.kb import bench_kb_search
from govloop.core.auth import Role
from govloop.core.clock import local_today
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.demo.hotline.kb import bulk_load, generate_articles, seed_demo_articles
from govloop.hotline.catalogue import seed_catalogue
from govloop.hotline.kb import service as kb
from govloop.hotline.kb.search import SNIPPET_CHARS, tokenize
from govloop.hotline.models import ArticleStatus, KbArticle, KbArticleVersion
from tests.factories import make_user

POSTGRES_URL = os.environ.get(
    "GOVLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
FUND = {
    "title": "住房公积金提取办理指南",
    "question": "职工购房后怎么提取住房公积金？",
    "answer": "职工购买自住住房的，可凭购房合同、发票和身份证到住房公积金管理中心"
    "各服务网点申请提取，也可通过手机公积金APP线上办理，3个工作日内到账。",
    "keywords": ["公积金", "提取"],
    "category_code": "GJJ-FUND",
}
TEXT = {k: v for k, v in FUND.items() if k != "category_code"}  # what a version holds
OTHERS = [
    {
        "title": "住房公积金贷款申请条件",
        "question": "公积金贷款需要什么条件？",
        "answer": "连续足额缴存住房公积金满6个月，且名下无未结清的公积金贷款，可申请公积金贷款。",
        "keywords": ["公积金贷款"],
        "category_code": "GJJ-FUND",
    },
    {
        "title": "社保卡补办流程",
        "question": "社保卡丢了怎么补办？",
        "answer": "社保卡遗失后请先拨打12333挂失，再携带身份证到社保经办窗口补办，工本费20元。",
        "keywords": ["社保卡", "挂失"],
        "category_code": "RS-SOCIAL",
    },
    {
        "title": "夜间施工噪音投诉",
        "question": "晚上工地施工太吵怎么办？",
        "answer": "22时至次日6时禁止产生噪声的建筑施工作业，抢修抢险除外，可拨打12345反映。",
        "keywords": ["噪音", "夜间施工"],
        "category_code": "CG-NOISE",
    },
]


@pytest.fixture
def people(db):
    with unit_of_work() as s:
        seed_catalogue(session=s)
        author = make_user(s, "editor", Role.HOTLINE_AGENT)
        reviewer = make_user(s, "reviewer", Role.HOTLINE_AGENT)
        return author.id, reviewer.id


def _users(s, people):
    from govloop.core.models import User

    return s.get(User, people[0]), s.get(User, people[1])


def publish(people, **fields) -> int:
    """Create, submit and approve an article; its id."""
    with unit_of_work() as s:
        author, reviewer = _users(s, people)
        version = kb.create_article(session=s, author=author, **fields)
        kb.submit_for_review(session=s, version_id=version.id, actor=author)
        kb.review(session=s, version_id=version.id, reviewer=reviewer, approve=True)
        return version.article_id


def hits(query: str, **kw) -> list[kb.KbHit]:
    with unit_of_work(readonly=True) as s:
        return kb.search(session=s, query=query, **kw)


def counts() -> tuple[int, int, int]:
    with unit_of_work(readonly=True) as s:
        return (
            s.scalar(select(func.count(KbArticle.id))) or 0,
            s.scalar(select(func.count(KbArticleVersion.id))) or 0,
            s.scalar(text("SELECT count(*) FROM kb_search")) or 0,
        )


# --- versions and review -------------------------------------------------------------


def test_published_version_is_served_until_the_new_one_is_approved(people):
    article_id = publish(people, **FUND)
    [first] = hits("怎么提取公积金")
    assert first.article_id == article_id and first.title == FUND["title"]

    with unit_of_work() as s:
        author, reviewer = _users(s, people)
        draft = kb.new_version(
            session=s,
            article_id=article_id,
            author=author,
            title="住房公积金提取指南（2027版）",
            question=FUND["question"],
            answer="自2027年起，提取住房公积金全程网办，当日到账。",
            keywords=["公积金", "提取", "网办"],
        )
        draft_id = draft.id
    with unit_of_work(readonly=True) as s:
        view = kb.article_view(session=s, article_id=article_id)
        assert view.status == "draft" and view.published is not None
        assert view.published.version == 1 and view.pending and view.pending.id == draft_id
    # Still the first version in search while the edit waits.
    assert [h.version_id for h in hits("怎么提取公积金")] == [first.version_id]
    assert hits("全程网办") == []  # words only the draft has

    with unit_of_work() as s:
        author, reviewer = _users(s, people)
        kb.submit_for_review(session=s, version_id=draft_id, actor=author)
        kb.review(session=s, version_id=draft_id, reviewer=reviewer, approve=True, note="同意")
    [now] = hits("怎么提取公积金")
    assert now.version_id == draft_id and now.title == "住房公积金提取指南（2027版）"
    assert hits("全程网办")[0].version_id == draft_id
    with unit_of_work(readonly=True) as s:
        history = kb.history(session=s, article_id=article_id)
        assert [(v.version, v.status) for v in history] == [
            (2, ArticleStatus.PUBLISHED),
            (1, ArticleStatus.RETIRED),
        ]
        assert history[0].review_note == "同意" and history[0].reviewer_id == people[1]


def test_the_author_may_not_approve_their_own_version(people):
    with unit_of_work() as s:
        author, _ = _users(s, people)
        version = kb.create_article(session=s, author=author, **FUND)
        kb.submit_for_review(session=s, version_id=version.id, actor=author)
        version_id = version.id
    with pytest.raises(RuleViolation) as refused, unit_of_work() as s:
        author, _ = _users(s, people)
        kb.review(session=s, version_id=version_id, reviewer=author, approve=True)
    assert refused.value.code == "kb_self_review"
    with unit_of_work(readonly=True) as s:
        assert kb.get_version(session=s, version_id=version_id).status == ArticleStatus.IN_REVIEW
    assert hits("怎么提取公积金") == []


def test_a_rejected_version_needs_a_note_and_leaves_the_served_one(people):
    article_id = publish(people, **FUND)
    with unit_of_work() as s:
        author, _ = _users(s, people)
        edit = kb.new_version(
            session=s, article_id=article_id, author=author, **{**TEXT, "title": "改错的标题"}
        )
        kb.submit_for_review(session=s, version_id=edit.id, actor=author)
        edit_id = edit.id
    with pytest.raises(BadRequest) as no_note, unit_of_work() as s:
        _, reviewer = _users(s, people)
        kb.review(session=s, version_id=edit_id, reviewer=reviewer, approve=False)
    assert no_note.value.code == "note_required"
    with unit_of_work() as s:
        _, reviewer = _users(s, people)
        kb.review(
            session=s, version_id=edit_id, reviewer=reviewer, approve=False, note="标题不准确"
        )
    with unit_of_work(readonly=True) as s:
        view = kb.article_view(session=s, article_id=article_id)
        assert view.latest.status == ArticleStatus.REJECTED
        assert view.latest.review_note == "标题不准确"
        assert view.status == "published" and view.pending is None
    assert hits("怎么提取公积金")[0].title == FUND["title"]


def test_no_edit_while_a_version_is_in_review_and_only_drafts_are_submitted(people):
    with unit_of_work() as s:
        author, _ = _users(s, people)
        version = kb.create_article(session=s, author=author, **FUND)
        kb.submit_for_review(session=s, version_id=version.id, actor=author)
        article_id, version_id = version.article_id, version.id
    with pytest.raises(Conflict), unit_of_work() as s:
        author, _ = _users(s, people)
        kb.new_version(session=s, article_id=article_id, author=author, **TEXT)
    with pytest.raises(RuleViolation), unit_of_work() as s:
        author, _ = _users(s, people)
        kb.submit_for_review(session=s, version_id=version_id, actor=author)


# --- expiry and retirement -----------------------------------------------------------


def test_expired_articles_are_not_suggested_and_are_listed_for_renewal(people):
    today = local_today()
    article_id = publish(people, **FUND, expires_on=today + timedelta(days=5))
    assert [h.article_id for h in hits("怎么提取公积金", today=today)] == [article_id]
    assert [h.article_id for h in hits("怎么提取公积金", today=today + timedelta(days=5))] == [
        article_id
    ]
    assert hits("怎么提取公积金", today=today + timedelta(days=6)) == []
    with unit_of_work(readonly=True) as s:
        soon = kb.expiring(session=s, within_days=7, today=today)
        assert [v.article.id for v in soon] == [article_id] and soon[0].expiring_soon
        assert kb.expiring(session=s, within_days=3, today=today) == []
        later = kb.expiring(session=s, within_days=0, today=today + timedelta(days=6))
        assert [v.article.id for v in later] == [article_id] and later[0].expired
    with pytest.raises(BadRequest) as past, unit_of_work() as s:
        author, _ = _users(s, people)
        kb.create_article(session=s, author=author, **FUND, expires_on=today - timedelta(days=1))
    assert past.value.code == "expiry_in_past"


def test_a_retired_article_leaves_search_and_takes_no_edits(people):
    article_id = publish(people, **FUND)
    assert hits("怎么提取公积金")
    with unit_of_work() as s:
        author, _ = _users(s, people)
        kb.retire(session=s, article_id=article_id, actor=author)
    assert hits("怎么提取公积金") == []
    assert counts()[2] == 0
    with unit_of_work(readonly=True) as s:
        assert kb.article_view(session=s, article_id=article_id).status == "retired"
        assert [v.article.id for v in kb.list_articles(session=s, status="retired")] == [article_id]
    with pytest.raises(RuleViolation), unit_of_work() as s:
        author, _ = _users(s, people)
        kb.new_version(session=s, article_id=article_id, author=author, **TEXT)


# --- search --------------------------------------------------------------------------


def test_ranking_puts_the_fund_withdrawal_article_first(people, backend):
    fund_id = publish(people, **FUND)
    for other in OTHERS:
        publish(people, **other)
    found = hits("怎么提取公积金")
    assert found[0].article_id == fund_id, [h.title for h in found]
    assert found[0].score > 0 and found[0].category == "住房公积金"
    assert found[0].snippet and len(found[0].snippet) <= SNIPPET_CHARS + 2
    assert hits("社保卡丢了怎么办")[0].title == "社保卡补办流程"
    assert hits("晚上工地施工太吵，睡不着")[0].title == "夜间施工噪音投诉"
    # Only the category asked for.
    with unit_of_work(readonly=True) as s:
        noise = kb.category_id(session=s, code="CG-NOISE")
    assert hits("怎么提取公积金", category_id=noise) == []


@pytest.mark.parametrize("query", ["", "   ", "a", "的", "吗？"])
def test_empty_or_too_short_queries_find_nothing(people, query):
    publish(people, **FUND)
    assert hits(query) == []


@pytest.mark.parametrize(
    "query",
    ['"公积金" OR *', "NEAR(公积金 提取)", "公积金 AND -", "'; DROP TABLE kb_articles; --", "a:b"],
)
def test_search_syntax_in_queries_is_just_text(people, query):
    publish(people, **FUND)
    found = hits(query)
    assert all(h.title == FUND["title"] for h in found)
    assert counts()[0] == 1


def test_tokens_drop_stopwords_and_punctuation():
    tokens = tokenize("请问，怎么提取住房公积金？")
    assert "提取" in tokens and "公积金" in tokens
    assert not {"请问", "怎么", "，", "？"} & set(tokens)


def test_record_use_counts_served_articles_only(people):
    article_id = publish(people, **FUND)
    with unit_of_work() as s:
        assert kb.record_use(session=s, article_id=article_id) == 1
        assert kb.record_use(session=s, article_id=article_id) == 2
        author, _ = _users(s, people)
        draft_only = kb.create_article(session=s, author=author, **OTHERS[0]).article_id
    with pytest.raises(NotFound), unit_of_work() as s:
        kb.record_use(session=s, article_id=draft_only)


# --- refusals store nothing ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("title", "<b>公积金</b>提取", "html_not_allowed"),
        ("answer", "请点击<a href='http://x'>这里</a>", "html_not_allowed"),
        ("question", "<script>alert(1)</script>", "html_not_allowed"),
        ("title", "长" * 101, "title_too_long"),
        ("answer", "答" * 5001, "answer_too_long"),
        ("answer", "   ", "answer_required"),
        ("category_code", "NO-SUCH", "unknown_category"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(people, field, value, code):
    before = counts()
    with pytest.raises(BadRequest) as refused, unit_of_work() as s:
        author, _ = _users(s, people)
        kb.create_article(session=s, author=author, **{**FUND, field: value})
    assert refused.value.code == code
    assert counts() == before


def test_keywords_are_checked_too(people):
    with pytest.raises(BadRequest) as refused, unit_of_work() as s:
        author, _ = _users(s, people)
        kb.create_article(session=s, author=author, **{**FUND, "keywords": ["<i>x</i>"]})
    assert refused.value.code == "html_not_allowed"
    assert kb.split_keywords("公积金，提取、 贷款  ") == ["公积金", "提取", "贷款"]


# --- demo, bulk load, benchmark ------------------------------------------------------


def test_demo_articles_are_published_through_review(people):
    with unit_of_work() as s:
        author, reviewer = _users(s, people)
        written = seed_demo_articles(session=s, author=author, reviewer=reviewer)
        assert seed_demo_articles(session=s, author=author, reviewer=reviewer) == 0
    assert 120 <= written <= 180
    with unit_of_work(readonly=True) as s:
        live = kb.list_articles(session=s, status="published", limit=500)
        assert len(live) == written
        assert all(v.published and v.published.reviewer_id == people[1] for v in live)
        assert {v.category.code for v in live if v.category} >= {"GJJ-FUND", "CG-NOISE"}
    assert "公积金提取" in hits("怎么提取公积金")[0].title


def test_bulk_loaded_articles_are_found_by_their_own_questions(people):
    today = local_today()
    specs = generate_articles(3, 300, today)
    assert len({s.title for s in specs}) == 300
    with unit_of_work() as s:
        ids = bulk_load(session=s, specs=specs, batch=128)
    assert counts() == (300, 300, 300)
    live = [
        (spec, i)
        for spec, i in zip(specs, ids, strict=True)
        if not spec.expires_on or spec.expires_on >= today
    ][:20]
    found = sum(i in [h.article_id for h in hits(spec.probe, today=today)] for spec, i in live)
    assert found >= 16, found
    expired = [
        i for spec, i in zip(specs, ids, strict=True) if spec.expires_on and spec.expires_on < today
    ]
    assert expired
    spec = specs[ids.index(expired[0])]
    assert expired[0] not in [h.article_id for h in hits(spec.probe, today=today)]


def _postgres_reachable() -> bool:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_a_small_benchmark_run_reports_its_figures(backend_name):
    url = None
    if backend_name == "postgresql":
        if not _postgres_reachable():
            pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
        url = POSTGRES_URL
    result = bench_kb_search(database_url=url, articles=300, queries=20, seed=1)
    assert result["backend"] == backend_name
    assert result["articles"] == 300 and result["queries"] == 20
    for key in (
        "kb_search_p50_ms",
        "kb_search_p99_ms",
        "load_s",
        "baseline_p50_ms",
        "baseline_p99_ms",
        "baseline_p99_ratio",
        "top5_hit_rate",
        "baseline_top5_hit_rate",
    ):
        assert isinstance(result[key], int | float), key
    assert 0 < result["kb_search_p50_ms"] <= result["kb_search_p99_ms"]
    assert 0 <= result["baseline_top5_hit_rate"] <= 1
    assert result["top5_hit_rate"] >= 0.7
