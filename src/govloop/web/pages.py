"""Shared pages: sign-in, sign-out, language switch and the home page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop.core.auth import authenticate
from govloop.core.db import get_session
from govloop.core.deps import csrf_protect, optional_user, public
from govloop.core.errors import GovloopError
from govloop.core.i18n import SUPPORTED
from govloop.core.models import User
from govloop.hall.overview import hall_directory
from govloop.web.templating import render

# sign-in, sign-out, language and the home page are for everyone
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect), Depends(public)])


def page_user(
    request: Request,
    user: User | None = Depends(optional_user),
    session: Session = Depends(get_session, scope="function"),
) -> User | None:
    if user is not None and user in session:
        # Detached with its attributes loaded: a rollback (a refused action) must not
        # expire the viewer that the error page's header still shows.
        session.expunge(user)
    request.state.user = user
    return user


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths, so the login form cannot become an open redirect.
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or urlparse(target).netloc
    ):
        return "/"
    return target


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    user: User | None = Depends(page_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return render(request, "home.html", {"halls": hall_directory(session=session)})


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: str = "/", user: User | None = Depends(page_user)
) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    client = request.client.host if request.client else "unknown"
    try:
        user = authenticate(
            session=session, username=username.strip(), password=password, client=client
        )
    except GovloopError as exc:
        request.state.user = None
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": exc.message, "username": username},
            status_code=exc.status_code,
        )
    csrf = request.session.get("csrf")
    request.session.clear()  # new session on login: no fixation
    request.session.update({"user_id": user.id, "csrf": csrf})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{locale}")
def switch_language(locale: str, request: Request, next: str = "/") -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in SUPPORTED:
        response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="lax")
    return response


def page_context(**kwargs: Any) -> dict[str, Any]:
    return kwargs
