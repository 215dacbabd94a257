"""The signed-in user's own account: choosing a new password (required after a one-time
password from an administrator or an import)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core import accounts
from govloop.core.db import get_session
from govloop.core.deps import csrf_protect, current_user
from govloop.core.errors import GovloopError
from govloop.core.models import User
from govloop.home.pages import safe_next
from govloop.web.kit import page_user
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


def _password_page(
    request: Request, user: User, next: str, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    context = {"account": user, "next": safe_next(next), "error": error}
    return render(request, "account/password.html", context, status_code=status_code)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(
    request: Request,
    next: str = "/",
    viewer: User | None = Depends(page_user),
    user: User = Depends(current_user),
) -> Response:
    return _password_page(request, user, next)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    current: str = Form("", max_length=200),
    new: str = Form("", max_length=200),
    repeat: str = Form("", max_length=200),
    next: str = Form("/", max_length=500),
    viewer: User | None = Depends(page_user),
    user: User = Depends(current_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    account = session.merge(user)  # page_user detached the viewer
    try:
        accounts.change_own_password(
            session=session,
            user=account,
            current=current,
            new=new,
            repeat=repeat,
            keep_session=getattr(request.state, "session_id", None),
        )
    except GovloopError as exc:
        session.rollback()
        return _password_page(request, user, next, error=exc.message, status_code=exc.status_code)
    return RedirectResponse(safe_next(next), status_code=303)
