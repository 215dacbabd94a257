"""Pages of the hotline knowledge base (知识库) for agents and editors, and the suggestion
fragment that intake forms load while someone types (智能交互).

Routes are thin: parse the form, authorize through a dependency, call the knowledge-base
service, render. A refused action rolls the unit of work back and shows the page again
with the service's message and what was typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import Permission, has_permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, public
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hotline.kb import service as kb
from govloop.org import service as org_service
from govloop.web.kit import page_renderer, page_user, refuse, staff_page

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

EXPIRING_DAYS = 30
SUGGESTIONS = 5
# The textarea a "use this answer" button fills: an element id, nothing else.
TARGET = re.compile(r"#[A-Za-z][\w-]{0,63}")
STATUS_LABELS = {
    "published": N_("Published"),
    "in_review": N_("In review"),
    "draft": N_("Draft"),
    "rejected": N_("Not approved"),
    "retired": N_("Retired"),
}
NOTICES = {
    "created": N_("Article created as a draft; submit it for review when it is ready"),
    "version": N_(
        "New version saved as a draft; the published version is served until it is approved"
    ),
    "submitted": N_("Submitted for review"),
    "approved": N_("Approved and published"),
    "rejected": N_("Version rejected"),
    "retired": N_("Article retired; it is no longer suggested"),
    "settings": N_("Category and expiry date saved"),
}


# a signed-in agent or editor (the header shows the viewer)
_editor = staff_page(Permission.HOTLINE_HANDLE)


page = page_renderer({"status_labels": STATUS_LABELS, "expiring_days": EXPIRING_DAYS})


def _date(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(_("Please enter dates as YYYY-MM-DD"), code="bad_date") from None


# --- suggestions while typing ----------------------------------------------------------


@router.get("/hotline/kb/suggest", response_class=HTMLResponse, dependencies=[Depends(public)])
def suggest(
    request: Request,
    q: str = Query("", max_length=200),
    target: str = Query("", max_length=65),
    category: str = Query("", max_length=32),
    viewer: User | None = Depends(page_user),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    """HTMX fragment: served articles matching what is typed. Agents get a "use this
    answer" button that fills the textarea ``target``; citizens read the answer."""
    category_id = kb.category_id(session=session, code=category or None)
    hits = kb.search(session=session, query=q, limit=SUGGESTIONS, category_id=category_id)
    staff = viewer is not None and has_permission(viewer, Permission.HOTLINE_HANDLE)
    return page(
        request,
        "hotline/kb/_suggest.html",
        hits=hits,
        query=q.strip(),
        staff=staff,
        target=target if TARGET.fullmatch(target) else "",
    )


# --- list, create --------------------------------------------------------------------


@router.get("/hotline/kb", response_class=HTMLResponse)
def article_list(
    request: Request,
    status: str = Query("", max_length=16),
    category: str = Query("", max_length=32),
    expiring: bool = False,
    user: User = Depends(_editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    views = kb.list_articles(
        session=session,
        status=status or None,
        category_code=category or None,
        expiring_within=EXPIRING_DAYS if expiring else None,
        soon_days=EXPIRING_DAYS,
    )
    return page(
        request,
        "hotline/kb/list.html",
        views=views,
        categories=kb.categories(session=session),
        filters={"status": status, "category": category, "expiring": expiring},
        expiring_count=len(kb.expiring(session=session, within_days=EXPIRING_DAYS)),
    )


def _form_page(
    request: Request,
    session: Session,
    *,
    form: dict[str, str],
    view: kb.ArticleView | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "hotline/kb/form.html",
        status_code=status_code,
        form=form,
        view=view,
        error=error,
        categories=kb.categories(session=session),
        limits={"title": kb.MAX_TITLE, "question": kb.MAX_QUESTION, "answer": kb.MAX_ANSWER},
    )


@router.get("/hotline/kb/new", response_class=HTMLResponse)
def new_form(
    request: Request,
    user: User = Depends(_editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _form_page(request, session, form={})


@router.post("/hotline/kb/new", response_class=HTMLResponse)
def create(
    request: Request,
    title: str = Form("", max_length=1000),
    question: str = Form("", max_length=10_000),
    answer: str = Form("", max_length=50_000),
    keywords: str = Form("", max_length=2000),
    category: str = Form("", max_length=32),
    expires_on: str = Form("", max_length=10),
    user: User = Depends(_editor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {
        "title": title,
        "question": question,
        "answer": answer,
        "keywords": keywords,
        "category": category,
        "expires_on": expires_on,
    }
    try:
        version = kb.create_article(
            session=session,
            author=user,
            title=title,
            question=question,
            answer=answer,
            keywords=kb.split_keywords(keywords),
            category_code=category or None,
            expires_on=_date(expires_on),
        )
    except GovloopError as exc:
        return refuse(
            session, exc, lambda **shown: _form_page(request, session, form=form, **shown)
        )
    return RedirectResponse(f"/hotline/kb/{version.article_id}?done=created", status_code=303)


# --- one article ---------------------------------------------------------------------


def _article_page(
    request: Request,
    session: Session,
    article_id: int,
    user: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = kb.article_view(session=session, article_id=article_id)
    versions = kb.history(session=session, article_id=article_id)
    people = [v.author_id for v in versions] + [v.reviewer_id for v in versions]
    return page(
        request,
        "hotline/kb/article.html",
        status_code=status_code,
        view=view,
        versions=versions,
        names=org_service.user_names(session=session, ids=people),
        categories=kb.categories(session=session),
        notice=notice,
        error=error,
        form=form or {},
        viewer_id=user.id,
    )


@router.get("/hotline/kb/{article_id}", response_class=HTMLResponse)
def article(
    request: Request,
    article_id: int,
    done: str = Query("", max_length=16),
    user: User = Depends(_editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    notice = _(NOTICES[done]) if done in NOTICES else None
    return _article_page(request, session, article_id, user, notice=notice)


def _act(
    request: Request,
    session: Session,
    article_id: int,
    user: User,
    done: str,
    form: dict[str, str],
    run: Callable[[], object],
) -> Response:
    try:
        run()
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **refusal: _article_page(
                request,
                session,
                article_id,
                user,
                form=form,
                **refusal,
            ),
        )
    return RedirectResponse(f"/hotline/kb/{article_id}?done={done}", status_code=303)


@router.get("/hotline/kb/{article_id}/edit", response_class=HTMLResponse)
def edit_form(
    request: Request,
    article_id: int,
    user: User = Depends(_editor),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    view = kb.article_view(session=session, article_id=article_id)
    latest = view.latest
    form = {
        "title": latest.title,
        "question": latest.question,
        "answer": latest.answer,
        "keywords": "、".join(latest.keywords),
    }
    return _form_page(request, session, form=form, view=view)


@router.post("/hotline/kb/{article_id}/edit", response_class=HTMLResponse)
def edit(
    request: Request,
    article_id: int,
    title: str = Form("", max_length=1000),
    question: str = Form("", max_length=10_000),
    answer: str = Form("", max_length=50_000),
    keywords: str = Form("", max_length=2000),
    user: User = Depends(_editor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    form = {"title": title, "question": question, "answer": answer, "keywords": keywords}
    try:
        kb.new_version(
            session=session,
            article_id=article_id,
            author=user,
            title=title,
            question=question,
            answer=answer,
            keywords=kb.split_keywords(keywords),
        )
    except GovloopError as exc:
        return refuse(
            session,
            exc,
            lambda **shown: _form_page(
                request,
                session,
                form=form,
                view=kb.article_view(session=session, article_id=article_id),
                **shown,
            ),
        )
    return RedirectResponse(f"/hotline/kb/{article_id}?done=version", status_code=303)


@router.post("/hotline/kb/{article_id}/versions/{version_id}/submit", response_class=HTMLResponse)
def submit(
    request: Request,
    article_id: int,
    version_id: int,
    user: User = Depends(_editor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    def run() -> object:
        _own_version(session, article_id, version_id)
        return kb.submit_for_review(session=session, version_id=version_id, actor=user)

    return _act(request, session, article_id, user, "submitted", {}, run)


@router.post("/hotline/kb/{article_id}/versions/{version_id}/review", response_class=HTMLResponse)
def review(
    request: Request,
    article_id: int,
    version_id: int,
    decision: str = Form("", max_length=8),
    note: str = Form("", max_length=2000),
    user: User = Depends(_editor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    def run() -> object:
        if decision not in ("approve", "reject"):
            raise BadRequest(_("Please choose to approve or reject"), code="decision")
        _own_version(session, article_id, version_id)
        return kb.review(
            session=session,
            version_id=version_id,
            reviewer=user,
            approve=decision == "approve",
            note=note,
        )

    done = "approved" if decision == "approve" else "rejected"
    return _act(request, session, article_id, user, done, {"decision": decision, "note": note}, run)


@router.post("/hotline/kb/{article_id}/retire", response_class=HTMLResponse)
def retire(
    request: Request,
    article_id: int,
    user: User = Depends(_editor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return _act(
        request,
        session,
        article_id,
        user,
        "retired",
        {},
        lambda: kb.retire(session=session, article_id=article_id, actor=user),
    )


@router.post("/hotline/kb/{article_id}/settings", response_class=HTMLResponse)
def settings(
    request: Request,
    article_id: int,
    category: str = Form("", max_length=32),
    expires_on: str = Form("", max_length=10),
    user: User = Depends(_editor),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    def run() -> object:
        return kb.update_article(
            session=session,
            article_id=article_id,
            actor=user,
            category_code=category or None,
            expires_on=_date(expires_on),
        )

    form = {"category": category, "expires_on": expires_on}
    return _act(request, session, article_id, user, "settings", form, run)


def _own_version(session: Session, article_id: int, version_id: int) -> None:
    """The version in the URL belongs to the article in the URL."""
    if kb.get_version(session=session, version_id=version_id).article_id != article_id:
        raise BadRequest(_("This version belongs to another article"), code="other_article")
