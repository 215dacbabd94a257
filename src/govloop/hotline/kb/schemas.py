"""Request and response shapes of the knowledge-base API.

Lengths here only bound the payload; the service checks the real limits and answers in
the app's error format with its own codes (``title_too_long``, ``html_not_allowed``…).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from govloop.hotline.kb.service import ArticleView, KbHit
from govloop.hotline.models import KbArticleVersion


class VersionIn(BaseModel):
    title: str = Field(max_length=1000, description="at most 100 characters")
    question: str = Field(max_length=10_000, description="at most 1000 characters")
    answer: str = Field(max_length=50_000, description="at most 5000 characters")
    keywords: list[str] = Field(default_factory=list, max_length=100)


class ArticleIn(VersionIn):
    category_code: str | None = Field(default=None, max_length=32)
    expires_on: date | None = None


class ArticleSettingsIn(BaseModel):
    category_code: str | None = Field(default=None, max_length=32)
    expires_on: date | None = None


class ReviewIn(BaseModel):
    approve: bool
    note: str = Field(default="", max_length=10_000, description="required to reject")


def version_out(v: KbArticleVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "article_id": v.article_id,
        "version": v.version,
        "status": v.status,
        "title": v.title,
        "question": v.question,
        "answer": v.answer,
        "keywords": list(v.keywords),
        "author_id": v.author_id,
        "created_at": v.created_at.isoformat(),
        "reviewer_id": v.reviewer_id,
        "reviewed_at": v.reviewed_at.isoformat() if v.reviewed_at else None,
        "review_note": v.review_note,
    }


def article_out(
    view: ArticleView, versions: list[KbArticleVersion] | None = None
) -> dict[str, Any]:
    a = view.article
    body: dict[str, Any] = {
        "id": a.id,
        "status": view.status,
        "category": view.category.code if view.category else None,
        "category_name": view.category.name if view.category else None,
        "expires_on": a.expires_on.isoformat() if a.expires_on else None,
        "expired": view.expired,
        "expiring_soon": view.expiring_soon,
        "use_count": a.use_count,
        "created_at": a.created_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
        "published": version_out(view.published) if view.published else None,
        "pending": version_out(view.pending) if view.pending else None,
    }
    if versions is not None:
        body["versions"] = [version_out(v) for v in versions]
    return body


def hit_out(hit: KbHit, *, staff: bool) -> dict[str, Any]:
    """A search hit; citizens get the served text only, agents also what to record."""
    body: dict[str, Any] = {
        "article_id": hit.article_id,
        "title": hit.title,
        "answer": hit.answer,
        "snippet": hit.snippet,
        "category": hit.category,
    }
    if staff:
        body |= {
            "version_id": hit.version_id,
            "score": hit.score,
            "category_code": hit.category_code,
        }
    return body
