"""The administrator's user pages (``/admin/users``): every account with its live sign-in
sessions and API tokens; deactivate and activate, set a new password, end sessions and
revoke tokens. Administrators only (``users.manage``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core import accounts
from govloop.core.auth import ROLE_LABELS, Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect
from govloop.core.errors import BadRequest, GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.web.kit import refuse, staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

NOTICES = {
    "deactivated": N_("The account was deactivated; its sessions and API tokens have ended."),
    "activated": N_("The account can sign in again."),
    "password": N_(
        "The one-time password is set; every session of the account has ended. The user must"
        " choose their own password at the next sign-in."
    ),
    "session": N_("The session has ended."),
    "sessions": N_("Every session of the account has ended."),
    "token": N_("The API token was revoked."),
}


admin_page = staff_page(Permission.USERS_MANAGE)


def _back(user_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/users/{user_id}?done={done}", status_code=303)


def _detail(
    request: Request,
    session: Session,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    done = request.query_params.get("done")
    context: dict[str, Any] = {
        "account": user,
        "role_labels": ROLE_LABELS,
        "sessions": accounts.live_sessions(session=session, user=user),
        "tokens": accounts.tokens(session=session, user=user),
        "current_session": getattr(request.state, "session_id", None),
        "notice": _(NOTICES[done]) if done in NOTICES else None,
        "error": error,
    }
    return render(request, "admin/user.html", context, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    rows = accounts.user_rows(session=session)
    return render(request, "admin/users.html", {"rows": rows, "role_labels": ROLE_LABELS})


@router.get("/admin/users/{user_id}", response_class=HTMLResponse)
def user_page(
    request: Request,
    user_id: int,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _detail(request, session, accounts.get_user(session=session, user_id=user_id))


@router.post("/admin/users/{user_id}/deactivate")
def deactivate(
    user_id: int,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    user = accounts.get_user(session=session, user_id=user_id)
    accounts.deactivate(session=session, user=user, actor=admin)
    return _back(user_id, "deactivated")


@router.post("/admin/users/{user_id}/activate")
def activate(
    user_id: int,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    accounts.activate(
        session=session, user=accounts.get_user(session=session, user_id=user_id), actor=admin
    )
    return _back(user_id, "activated")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def set_password(
    request: Request,
    user_id: int,
    password: str = Form("", max_length=200),
    repeat: str = Form("", max_length=200),
    admin: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    user = accounts.get_user(session=session, user_id=user_id)
    try:
        if password != repeat:
            raise BadRequest(_("The two passwords differ"), code="passwords_differ")
        accounts.set_password(
            session=session, user=user, password=password, actor=admin, one_time=True
        )
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _detail(request, session, user, **shown))
    return _back(user_id, "password")


@router.post("/admin/users/{user_id}/sessions/revoke")
def end_sessions(
    user_id: int,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    user = accounts.get_user(session=session, user_id=user_id)
    accounts.revoke_sessions(session=session, user=user)
    return _back(user_id, "sessions")


@router.post("/admin/users/{user_id}/sessions/{session_id}/revoke")
def end_session(
    user_id: int,
    session_id: int,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    user = accounts.get_user(session=session, user_id=user_id)
    accounts.revoke_session(session=session, user=user, session_id=session_id)
    return _back(user_id, "session")


@router.post("/admin/users/{user_id}/tokens/{token_id}/revoke")
def revoke_token(
    user_id: int,
    token_id: int,
    admin: User = Depends(admin_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    user = accounts.get_user(session=session, user_id=user_id)
    accounts.revoke_token(session=session, user=user, token_id=token_id)
    return _back(user_id, "token")
