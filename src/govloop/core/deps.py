"""Route dependencies: the current user, permissions, CSRF protection, and the markers by
which a route declares who may use it (see ``core.access_rules``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from govloop.core import accounts
from govloop.core.access_rules import API_KEY, PUBLIC, SECRET_LINK, SIGNED_IN, declares, perm
from govloop.core.auth import Permission, Role, has_permission, user_for_token
from govloop.core.db import get_session
from govloop.core.errors import NotAuthenticated, PasswordChangeRequired, PermissionDenied
from govloop.core.models import User
from govloop.core.ratelimit import client_ip

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# The signed session cookie's key for the sign-in session id (core/accounts.py).
SESSION_KEY = "sid"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


async def csrf_protect(request: Request) -> None:
    """Cookie-authenticated unsafe requests must echo the session's CSRF token.

    Requests without a session cookie carry no ambient authority (bearer tokens,
    anonymous API clients), so there is nothing to forge.
    """
    if request.method not in UNSAFE_METHODS or _bearer(request) or not request.session:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise PermissionDenied("页面已过期，请刷新后重试（CSRF 校验失败）", code="csrf_failed")


# what a user who still holds a one-time password may reach: the page that replaces it
PASSWORD_CHANGE_PATHS = ("/account/password", "/logout", "/lang/")


def _one_time_password_checked(request: Request, user: User) -> User:
    if user.must_change_password and not request.url.path.startswith(PASSWORD_CHANGE_PATHS):
        raise PasswordChangeRequired(
            "请先修改一次性密码，再使用系统", code="password_change_required"
        )
    return user


def optional_user(
    request: Request, session: Session = Depends(get_session, scope="function")
) -> User | None:
    token = _bearer(request)
    if token:
        user = user_for_token(session=session, token=token)
        if user is None:
            raise NotAuthenticated("API 令牌无效或已吊销", code="invalid_token")
        return _one_time_password_checked(request, user)
    raw = request.session.get(SESSION_KEY)
    if not raw:
        return None
    found = accounts.session_user(session=session, raw=str(raw))
    if found is None:  # signed out elsewhere, revoked, expired or deactivated
        request.session.clear()
        return None
    user, row = found
    request.state.session_id = row.id
    return _one_time_password_checked(request, user)


def begin_session(request: Request, session: Session, user: User) -> None:
    """Sign the browser in as ``user`` with a new server-side session."""
    csrf = request.session.get("csrf")
    raw = accounts.start_session(
        session=session,
        user=user,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    request.session.clear()  # a new cookie session on sign-in: no fixation
    request.session.update({SESSION_KEY: raw, "csrf": csrf})


def end_session(request: Request, session: Session) -> None:
    """Sign the browser out: its server-side session ends, so a copy of the cookie is
    worthless too."""
    raw = request.session.get(SESSION_KEY)
    if raw:
        accounts.end_session(session=session, raw=str(raw))
    request.session.clear()


@declares(SIGNED_IN)
async def current_user(user: User | None = Depends(optional_user)) -> User:
    # async: no I/O here, so no hop to the thread pool
    if user is None:
        raise NotAuthenticated("请先登录", code="not_authenticated")
    return user


# Whether a user may act in a hall (by code): their memberships limit them. Halls are the
# org domain's: it installs the check when the app is made.
HallScope = Callable[[Session, int, str], bool]
_hall_scope: list[HallScope] = []


def limit_halls(lookup: HallScope) -> None:
    _hall_scope[:] = [lookup]


def _check_hall(request: Request, session: Session, user: User) -> None:
    """A staff member who belongs to some halls acts in those only; the administrator and
    staff with no hall membership (city-wide roles) in every hall."""
    code = request.path_params.get("hall_code")
    if code is None or not _hall_scope or user.role == Role.ADMIN:
        return
    if not _hall_scope[0](session, user.id, code):
        raise PermissionDenied("您不属于该服务大厅，不能查看或操作它", code="not_your_hall")


class PermissionCheck:
    """The dependency ``require(permission)`` returns: the signed-in user holding it, in a
    hall they belong to when the route is about one hall.

    ``permission`` and ``access_rule`` tell introspection what the route declares.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.access_rule = perm(permission)

    def __call__(
        self,
        request: Request,
        user: User = Depends(current_user),
        # the request's unit of work (optional_user's already): no second connection
        session: Session = Depends(get_session, scope="function"),
    ) -> User:
        if not has_permission(user, self.permission):
            raise PermissionDenied("您没有执行此操作的权限", code="permission_denied")
        _check_hall(request, session, user)
        return user

    def __repr__(self) -> str:
        return f"require({self.permission})"


def require(permission: Permission) -> PermissionCheck:
    return PermissionCheck(permission)


# --- declarations of routes without a user guard ------------------------------------------
# They check nothing: they state, where the route is written, that it is meant to be open
# (router-wide with ``APIRouter(dependencies=[Depends(public)])``, or per route with
# ``@router.get(..., dependencies=[Depends(public)])``).


@declares(PUBLIC)
async def public() -> None:
    """Open to anyone, signed in or not."""


@declares(SECRET_LINK)
async def secret_link() -> None:
    """Open to whoever holds the unguessable link or code given to one citizen (a ticket's
    ``public_id``, an appointment code); the route finds nothing without it."""


@declares(API_KEY)
async def api_key() -> None:
    """For partner systems: the endpoint itself checks the key the caller presents and
    refuses (403) without a valid one; no user session is involved."""
