"""Knowledge base (知识库): versioned articles with review and expiry.

Every edit is a new version; a version goes draft → in review → published (or rejected),
and the reviewer must not be its author. The published version is served until a newer
one is approved; approving replaces the article's row in the search index, retiring
removes it. Search itself is in :mod:`govloop.hotline.kb.search`, re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, aliased

from govloop.core.clock import local_today, now
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.core.models import User
from govloop.hotline.kb.search import KbHit as KbHit
from govloop.hotline.kb.search import query_tokens as query_tokens
from govloop.hotline.kb.search import remove_from_index, write_index
from govloop.hotline.kb.search import search as search
from govloop.hotline.models import ArticleStatus, HotlineCategory, KbArticle, KbArticleVersion

MAX_TITLE, MAX_QUESTION, MAX_ANSWER, MAX_NOTE = 100, 1000, 5000, 1000
MAX_KEYWORDS, MAX_KEYWORD = 20, 20
OPEN_STATUSES = (ArticleStatus.DRAFT, ArticleStatus.IN_REVIEW)
HTML_TAG = re.compile(r"<\s*[/!?]?\s*[a-zA-Z][^>]*>|<!--")


# --- views ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleText:
    title: str
    question: str
    answer: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class ArticleView:
    article: KbArticle
    latest: KbArticleVersion
    published: KbArticleVersion | None
    category: HotlineCategory | None
    status: str  # retired | published | draft | in_review | rejected
    expired: bool
    expiring_soon: bool

    @property
    def current(self) -> KbArticleVersion:
        """The text to show first: the served version, else the latest one."""
        return self.published or self.latest

    @property
    def pending(self) -> KbArticleVersion | None:
        """A newer version waiting for submission or review."""
        if self.article.retired or self.latest.status not in OPEN_STATUSES:
            return None
        return self.latest


# --- validation ----------------------------------------------------------------------


def _clean(value: str, *, field: str, label: str, limit: int, required: bool) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if required and not value:
        raise BadRequest(f"请填写{label}", code=f"{field}_required")
    if len(value) > limit:
        raise BadRequest(f"{label}不能超过 {limit} 个字", code=f"{field}_too_long", limit=limit)
    if HTML_TAG.search(value):
        raise BadRequest(f"{label}不能包含 HTML 标签", code="html_not_allowed", field=field)
    return value


def split_keywords(value: str) -> list[str]:
    """Keywords typed in one box, separated by commas, 、 or spaces."""
    return [k for k in re.split(r"[,，、;；\s]+", value or "") if k]


def clean_text(
    *, title: str, question: str, answer: str, keywords: Iterable[str] = ()
) -> ArticleText:
    words = [
        _clean(k, field="keyword", label="关键词", limit=MAX_KEYWORD, required=False)
        for k in keywords
    ]
    words = list(dict.fromkeys(w for w in words if w))
    if len(words) > MAX_KEYWORDS:
        raise BadRequest(f"关键词最多 {MAX_KEYWORDS} 个", code="too_many_keywords")
    return ArticleText(
        title=_clean(title, field="title", label="标题", limit=MAX_TITLE, required=True),
        question=_clean(
            question, field="question", label="问题", limit=MAX_QUESTION, required=True
        ),
        answer=_clean(answer, field="answer", label="答案", limit=MAX_ANSWER, required=True),
        keywords=tuple(words),
    )


def category_id(*, session: Session, code: str | None) -> int | None:
    """The id of a hotline category by code; None for no code."""
    if not code:
        return None
    found = session.scalar(select(HotlineCategory.id).where(HotlineCategory.code == code))
    if found is None:
        raise BadRequest(f"未知的业务分类：{code}", code="unknown_category")
    return found


def categories(*, session: Session) -> list[HotlineCategory]:
    """Active categories, for filters and forms."""
    return list(
        session.scalars(
            select(HotlineCategory)
            .where(HotlineCategory.active)
            .order_by(HotlineCategory.group_name, HotlineCategory.code)
        )
    )


def _check_expiry(expires_on: date | None, today: date | None) -> None:
    if expires_on is not None and expires_on < (today or local_today()):
        raise BadRequest("有效期不能早于今天", code="expiry_in_past")


# --- articles and versions -----------------------------------------------------------


def get_article(*, session: Session, article_id: int) -> KbArticle:
    article = session.get(KbArticle, article_id)
    if article is None:
        raise NotFound(f"知识库文章不存在：{article_id}", code="kb_article_not_found")
    return article


def get_version(*, session: Session, version_id: int) -> KbArticleVersion:
    version = session.get(KbArticleVersion, version_id)
    if version is None:
        raise NotFound(f"文章版本不存在：{version_id}", code="kb_version_not_found")
    return version


def history(*, session: Session, article_id: int) -> list[KbArticleVersion]:
    """All versions of an article, newest first."""
    get_article(session=session, article_id=article_id)
    return list(
        session.scalars(
            select(KbArticleVersion)
            .where(KbArticleVersion.article_id == article_id)
            .order_by(KbArticleVersion.version.desc())
        )
    )


def _add_version(
    session: Session, article: KbArticle, number: int, text_: ArticleText, author: User
) -> KbArticleVersion:
    version = KbArticleVersion(
        article_id=article.id,
        version=number,
        title=text_.title,
        question=text_.question,
        answer=text_.answer,
        keywords=list(text_.keywords),
        status=ArticleStatus.DRAFT,
        author_id=author.id,
        created_at=now(),
    )
    session.add(version)
    article.updated_at = now()
    session.flush()
    return version


def create_article(
    *,
    session: Session,
    author: User,
    title: str,
    question: str,
    answer: str,
    keywords: Iterable[str] = (),
    category_code: str | None = None,
    expires_on: date | None = None,
    today: date | None = None,
) -> KbArticleVersion:
    """A new article with its first version as a draft."""
    cleaned = clean_text(title=title, question=question, answer=answer, keywords=keywords)
    cat_id = category_id(session=session, code=category_code)
    _check_expiry(expires_on, today)
    article = KbArticle(
        category_id=cat_id,
        expires_on=expires_on,
        retired=False,
        created_by=author.id,
        created_at=now(),
        use_count=0,
    )
    session.add(article)
    session.flush()
    return _add_version(session, article, 1, cleaned, author)


def _live_article(session: Session, article_id: int) -> KbArticle:
    article = get_article(session=session, article_id=article_id)
    if article.retired:
        raise RuleViolation("文章已下线，不能再修改", code="kb_article_retired")
    return article


def new_version(
    *,
    session: Session,
    article_id: int,
    author: User,
    title: str,
    question: str,
    answer: str,
    keywords: Iterable[str] = (),
) -> KbArticleVersion:
    """An edit: a new draft version. The published version stays served until the new
    one is approved; an older unsubmitted draft is withdrawn (superseded)."""
    cleaned = clean_text(title=title, question=question, answer=answer, keywords=keywords)
    article = _live_article(session, article_id)
    versions = history(session=session, article_id=article.id)
    if any(v.status == ArticleStatus.IN_REVIEW for v in versions):
        raise Conflict("该文章有版本正在审核，请待审核完成后再修改", code="kb_review_pending")
    for old in versions:
        if old.status == ArticleStatus.DRAFT:
            old.status = ArticleStatus.RETIRED
            old.review_note = "被新版本取代"
    return _add_version(session, article, versions[0].version + 1, cleaned, author)


def submit_for_review(*, session: Session, version_id: int, actor: User) -> KbArticleVersion:
    version = get_version(session=session, version_id=version_id)
    _live_article(session, version.article_id)
    if version.status != ArticleStatus.DRAFT:
        raise RuleViolation("只有草稿可以提交审核", code="kb_not_draft")
    version.status = ArticleStatus.IN_REVIEW
    session.flush()
    return version


def review(
    *, session: Session, version_id: int, reviewer: User, approve: bool, note: str = ""
) -> KbArticleVersion:
    """Approve (publish and re-index) or reject a version in review."""
    note = _clean(note, field="note", label="审核意见", limit=MAX_NOTE, required=not approve)
    version = get_version(session=session, version_id=version_id)
    article = _live_article(session, version.article_id)
    if version.status != ArticleStatus.IN_REVIEW:
        raise RuleViolation("该版本不在审核中", code="kb_not_in_review")
    if version.author_id is not None and version.author_id == reviewer.id:
        raise RuleViolation("不能审核自己编写的版本，请由其他人审核", code="kb_self_review")
    version.reviewer_id = reviewer.id
    version.reviewed_at = now()
    version.review_note = note or None
    if not approve:
        version.status = ArticleStatus.REJECTED
        session.flush()
        return version
    if article.published_version_id and article.published_version_id != version.id:
        get_version(
            session=session, version_id=article.published_version_id
        ).status = ArticleStatus.RETIRED
    version.status = ArticleStatus.PUBLISHED
    article.published_version_id = version.id
    article.updated_at = now()
    session.flush()
    write_index(session, [(article.id, version)])
    return version


def retire(*, session: Session, article_id: int, actor: User) -> KbArticle:
    """Take an article out of service and out of search; its versions are kept."""
    article = _live_article(session, article_id)
    for version in history(session=session, article_id=article.id):
        if version.status in (*OPEN_STATUSES, ArticleStatus.PUBLISHED):
            version.status = ArticleStatus.RETIRED
    article.retired = True
    article.updated_at = now()
    session.flush()
    remove_from_index(session, article.id)
    return article


def update_article(
    *,
    session: Session,
    article_id: int,
    actor: User,
    category_code: str | None,
    expires_on: date | None,
    today: date | None = None,
) -> KbArticle:
    """Change an article's category and expiry date (e.g. renew it before it expires)."""
    article = _live_article(session, article_id)
    article.category_id = category_id(session=session, code=category_code)
    _check_expiry(expires_on, today)
    article.expires_on = expires_on
    article.updated_at = now()
    session.flush()
    return article


def record_use(*, session: Session, article_id: int) -> int:
    """An agent used the article's answer; returns the new use count."""
    count = session.execute(
        sql_update(KbArticle)
        .where(KbArticle.id == article_id, KbArticle.published_version_id.is_not(None))
        .values(use_count=KbArticle.use_count + 1)
        .returning(KbArticle.use_count)
    ).scalar()
    if count is None:
        raise NotFound(f"没有已发布的知识库文章：{article_id}", code="kb_article_not_found")
    return int(count)


# --- listing -------------------------------------------------------------------------

LIST_STATUSES = ("published", "in_review", "draft", "rejected", "retired")


def _status(article: KbArticle, latest: KbArticleVersion) -> str:
    if article.retired:
        return "retired"
    if latest.status in OPEN_STATUSES:
        return str(latest.status)
    return "published" if article.published_version_id else "rejected"


def _views(
    session: Session, rows: Sequence[tuple[KbArticle, KbArticleVersion]], today: date, soon: int
) -> list[ArticleView]:
    published_ids = [a.published_version_id for a, _ in rows if a.published_version_id]
    published = {
        v.id: v
        for v in session.scalars(
            select(KbArticleVersion).where(KbArticleVersion.id.in_(published_ids))
        )
    }
    category_ids = {a.category_id for a, _ in rows if a.category_id}
    categories = {
        c.id: c
        for c in session.scalars(
            select(HotlineCategory).where(HotlineCategory.id.in_(category_ids))
        )
    }
    views = []
    for article, latest in rows:
        expires = article.expires_on
        views.append(
            ArticleView(
                article=article,
                latest=latest,
                published=published.get(article.published_version_id or 0),
                category=categories.get(article.category_id or 0),
                status=_status(article, latest),
                expired=expires is not None and expires < today,
                expiring_soon=expires is not None and today <= expires <= today + timedelta(soon),
            )
        )
    return views


def list_articles(
    *,
    session: Session,
    status: str | None = None,
    category_code: str | None = None,
    expiring_within: int | None = None,
    today: date | None = None,
    soon_days: int = 30,
    limit: int = 200,
    offset: int = 0,
) -> list[ArticleView]:
    """Articles with their latest version, newest first. ``status`` is one of
    LIST_STATUSES ("published": served now); ``expiring_within`` days keeps live articles
    expiring by then, including those already expired."""
    today = today or local_today()
    latest_no = (
        select(KbArticleVersion.article_id, func.max(KbArticleVersion.version).label("no"))
        .group_by(KbArticleVersion.article_id)
        .subquery()
    )
    latest = aliased(KbArticleVersion)
    q = (
        select(KbArticle, latest)
        .join(latest_no, latest_no.c.article_id == KbArticle.id)
        .join(latest, and_(latest.article_id == KbArticle.id, latest.version == latest_no.c.no))
    )
    live = and_(~KbArticle.retired, KbArticle.published_version_id.is_not(None))
    if status == "retired":
        q = q.where(KbArticle.retired)
    elif status == "published":
        q = q.where(live)
    elif status in ("draft", "in_review"):
        q = q.where(~KbArticle.retired, latest.status == status)
    elif status == "rejected":
        q = q.where(~KbArticle.retired, latest.status == ArticleStatus.REJECTED)
    elif status:
        raise BadRequest(f"未知的文章状态：{status}", code="unknown_status", allowed=LIST_STATUSES)
    if category_code:
        q = q.where(KbArticle.category_id == category_id(session=session, code=category_code))
    if expiring_within is not None:
        last_day = today + timedelta(days=max(0, expiring_within))
        q = q.where(live, KbArticle.expires_on.is_not(None), KbArticle.expires_on <= last_day)
        q = q.order_by(KbArticle.expires_on, KbArticle.id)
    q = q.order_by(KbArticle.updated_at.desc(), KbArticle.id.desc()).limit(limit).offset(offset)
    rows = [(a, v) for a, v in session.execute(q)]
    return _views(session, rows, today, soon_days if expiring_within is None else expiring_within)


def expiring(
    *, session: Session, within_days: int = 30, today: date | None = None
) -> list[ArticleView]:
    """Served articles that expire within ``within_days`` (or already have): to renew."""
    return list_articles(session=session, expiring_within=within_days, today=today)


def article_view(*, session: Session, article_id: int, today: date | None = None) -> ArticleView:
    article = get_article(session=session, article_id=article_id)
    latest = history(session=session, article_id=article_id)[0]
    return _views(session, [(article, latest)], today or local_today(), 30)[0]
