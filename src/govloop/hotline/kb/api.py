"""JSON API of the hotline knowledge base (``/api/v1/hotline/kb``).

Suggestions for citizens are public and show served articles only; everything else is
for agents and editors (``hotline.handle``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public, require
from govloop.core.models import User
from govloop.hotline.kb import service as kb
from govloop.hotline.kb.schemas import (
    ArticleIn,
    ArticleSettingsIn,
    ReviewIn,
    VersionIn,
    article_out,
    hit_out,
    version_out,
)

router = APIRouter(
    prefix="/api/v1/hotline/kb", tags=["hotline"], dependencies=[Depends(csrf_protect)]
)
editor = require(Permission.HOTLINE_HANDLE)


@router.get("/suggest", dependencies=[Depends(public)])
def suggest(
    q: str = Query("", max_length=200),
    category: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=5, ge=1, le=10),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """智能交互: published answers for what a citizen is typing (public)."""
    category_id = kb.category_id(session=session, code=category)
    hits = kb.search(session=session, query=q, limit=limit, category_id=category_id)
    return {"query": q, "suggestions": [hit_out(h, staff=False) for h in hits]}


@router.get("/search")
def search(
    q: str = Query("", max_length=200),
    category: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=5, ge=1, le=50),
    user: User = Depends(editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    """Suggestions for agents while they type, with the version and score to record."""
    category_id = kb.category_id(session=session, code=category)
    hits = kb.search(session=session, query=q, limit=limit, category_id=category_id)
    return {"query": q, "hits": [hit_out(h, staff=True) for h in hits]}


@router.get("/articles")
def list_articles(
    status: str | None = Query(default=None, max_length=16),
    category: str | None = Query(default=None, max_length=32),
    expiring_within: int | None = Query(default=None, ge=0, le=3650),
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
    user: User = Depends(editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    views = kb.list_articles(
        session=session,
        status=status,
        category_code=category,
        expiring_within=expiring_within,
        limit=limit,
        offset=offset,
    )
    return [article_out(v) for v in views]


@router.get("/expiring")
def expiring(
    days: int = Query(default=30, ge=0, le=3650),
    user: User = Depends(editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    """Served articles expiring within ``days`` (or already expired): to renew or retire."""
    return [article_out(v) for v in kb.expiring(session=session, within_days=days)]


@router.post("/articles", status_code=201)
def create_article(
    body: ArticleIn,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    version = kb.create_article(
        session=session,
        author=user,
        title=body.title,
        question=body.question,
        answer=body.answer,
        keywords=body.keywords,
        category_code=body.category_code,
        expires_on=body.expires_on,
    )
    view = kb.article_view(session=session, article_id=version.article_id)
    return article_out(view, [version])


@router.get("/articles/{article_id}")
def get_article(
    article_id: int,
    user: User = Depends(editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> dict[str, Any]:
    view = kb.article_view(session=session, article_id=article_id)
    return article_out(view, kb.history(session=session, article_id=article_id))


@router.patch("/articles/{article_id}")
def update_article(
    article_id: int,
    body: ArticleSettingsIn,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    kb.update_article(
        session=session,
        article_id=article_id,
        actor=user,
        category_code=body.category_code,
        expires_on=body.expires_on,
    )
    return article_out(kb.article_view(session=session, article_id=article_id))


@router.post("/articles/{article_id}/versions", status_code=201)
def new_version(
    article_id: int,
    body: VersionIn,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """An edit: a new draft version; the published one is served until this is approved."""
    version = kb.new_version(
        session=session,
        article_id=article_id,
        author=user,
        title=body.title,
        question=body.question,
        answer=body.answer,
        keywords=body.keywords,
    )
    return version_out(version)


@router.post("/articles/{article_id}/retire")
def retire(
    article_id: int,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    kb.retire(session=session, article_id=article_id, actor=user)
    return article_out(kb.article_view(session=session, article_id=article_id))


@router.post("/articles/{article_id}/use")
def record_use(
    article_id: int,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """An agent used the article's answer (the intake form's "use this answer")."""
    return {
        "article_id": article_id,
        "use_count": kb.record_use(session=session, article_id=article_id),
    }


@router.post("/versions/{version_id}/submit")
def submit_for_review(
    version_id: int,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    return version_out(kb.submit_for_review(session=session, version_id=version_id, actor=user))


@router.post("/versions/{version_id}/review")
def review(
    version_id: int,
    body: ReviewIn,
    user: User = Depends(editor),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    """Approve (publish) or reject with a note; nobody reviews their own version."""
    version = kb.review(
        session=session,
        version_id=version_id,
        reviewer=user,
        approve=body.approve,
        note=body.note,
    )
    return version_out(version)
