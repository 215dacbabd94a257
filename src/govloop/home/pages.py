"""Shared pages: sign-in, sign-out, language switch and the home page."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from govloop.core.auth import authenticate
from govloop.core.db import get_session
from govloop.core.deps import begin_session, csrf_protect, end_session, public
from govloop.core.errors import GovloopError
from govloop.core.i18n import SUPPORTED
from govloop.core.models import User
from govloop.core.ratelimit import client_ip
from govloop.core.settings import get_settings
from govloop.hall.overview import hall_directory
from govloop.web.kit import page_user
from govloop.web.templating import render

# sign-in, sign-out, language and the home page are for everyone
router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect), Depends(public)])

# A browser that signed in successfully keeps a signed cookie naming (by a hash) the users
# it signed in as; its failed sign-ins as those users are counted per device rather than
# per username (core/auth.authenticate), so a stranger cannot lock them out of it.
DEVICE_COOKIE = "govloop_device"
DEVICE_MAX_AGE = 180 * 24 * 3600
DEVICE_USERS = 10


def _device_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="govloop.login-device")


def _user_tag(username: str) -> str:
    """A keyed hash: the cookie does not tell who signed in on this browser."""
    key = get_settings().secret_key.encode()
    name = username.strip().casefold().encode()
    return hmac.new(key, name, hashlib.sha256).hexdigest()[:16]


def _device(request: Request) -> tuple[str, list[str]] | None:
    """The device cookie's id and user tags, if the cookie is genuine and not too old."""
    value = request.cookies.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        data = _device_signer().loads(value, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str):
        return None
    tags = data.get("u")
    return data["d"], [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def _remember_device(response: Response, device: tuple[str, list[str]] | None, user: User) -> None:
    device_id, tags = device or (secrets.token_urlsafe(16), [])
    tag = _user_tag(user.username)
    tags = [tag, *(t for t in tags if t != tag)][:DEVICE_USERS]
    value = _device_signer().dumps({"d": device_id, "u": tags})
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_MAX_AGE,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=get_settings().environment == "production",
    )


def safe_next(target: str | None) -> str:
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
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    device = _device(request)
    known = device is not None and _user_tag(username) in device[1]
    try:
        user = authenticate(
            session=session,
            username=username.strip(),
            password=password,
            client=client_ip(request),
            device=device[0] if device and known else None,
        )
    except GovloopError as exc:
        request.state.user = None
        page = render(
            request,
            "login.html",
            {"next": safe_next(next), "error": exc.message, "username": username},
            status_code=exc.status_code,
        )
        page.headers.update(exc.headers)
        return page
    begin_session(request, session, user)
    target = safe_next(next)
    if user.must_change_password:  # a one-time password: the user chooses their own first
        target = f"/account/password?next={quote(target)}"
    response = RedirectResponse(target, status_code=303)
    _remember_device(response, device, user)
    return response


@router.post("/logout")
def logout(request: Request, session: Session = Depends(get_session, scope="function")) -> Response:
    end_session(request, session)
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{locale}")
def switch_language(locale: str, request: Request, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in SUPPORTED:
        response.set_cookie("lang", locale, max_age=365 * 24 * 3600, samesite="lax")
    return response


def page_context(**kwargs: Any) -> dict[str, Any]:
    return kwargs
