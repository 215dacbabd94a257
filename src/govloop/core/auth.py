"""Roles, permissions, password hashing and login rate limiting."""

from __future__ import annotations

import enum
import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.errors import BadRequest, Conflict, NotAuthenticated, TooManyRequests
from govloop.core.models import ApiToken, User
from govloop.core.settings import get_settings


class Role(enum.StrEnum):
    ADMIN = "admin"
    HALL_MANAGER = "hall_manager"
    WINDOW_STAFF = "window_staff"
    HOTLINE_AGENT = "hotline_agent"
    DEPARTMENT_HANDLER = "department_handler"
    DATA_STEWARD = "data_steward"
    AUDITOR = "auditor"
    FIELD_STAFF = "field_staff"


class Permission(enum.StrEnum):
    USERS_MANAGE = "users.manage"
    HALL_MANAGE = "hall.manage"
    HALL_VIEW = "hall.view"
    WINDOW_OPERATE = "hall.window.operate"
    HOTLINE_HANDLE = "hotline.handle"
    DATA_STEWARD = "data.steward"
    AUDIT_READ = "audit.read"
    FIELD_WORK = "field.work"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.HALL_MANAGER: frozenset(
        {Permission.HALL_MANAGE, Permission.HALL_VIEW, Permission.WINDOW_OPERATE}
    ),
    Role.WINDOW_STAFF: frozenset({Permission.HALL_VIEW, Permission.WINDOW_OPERATE}),
    Role.HOTLINE_AGENT: frozenset({Permission.HOTLINE_HANDLE}),
    Role.DEPARTMENT_HANDLER: frozenset({Permission.HOTLINE_HANDLE}),
    Role.DATA_STEWARD: frozenset({Permission.DATA_STEWARD}),
    Role.AUDITOR: frozenset({Permission.AUDIT_READ, Permission.HALL_VIEW}),
    Role.FIELD_STAFF: frozenset({Permission.FIELD_WORK}),
}


def has_permission(user: User, permission: Permission) -> bool:
    try:
        role = Role(user.role)
    except ValueError:
        return False
    return user.active and permission in ROLE_PERMISSIONS[role]


_hasher = PasswordHasher()
# Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = _hasher.hash("dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class LoginRateLimiter:
    """Counts failed logins per key in a sliding window; in-process by design."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, window: float) -> deque[float]:
        q = self._failures[key]
        cutoff = time.monotonic() - window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def check(self, key: str) -> None:
        s = get_settings()
        with self._lock:
            if len(self._prune(key, s.login_window_seconds)) >= s.login_max_failures:
                raise TooManyRequests("登录失败次数过多，请稍后再试", code="login_rate_limited")

    def record_failure(self, key: str) -> None:
        with self._lock:
            self._failures[key].append(time.monotonic())

    def reset(self, key: str | None = None) -> None:
        with self._lock:
            if key is None:
                self._failures.clear()
            else:
                self._failures.pop(key, None)


login_limiter = LoginRateLimiter()


def create_user(
    *, session: Session, username: str, password: str, role: str, display_name: str | None = None
) -> User:
    username = username.strip()
    if not username or len(username) > 64:
        raise BadRequest("用户名不能为空且不超过 64 个字符", code="invalid_username")
    if len(password) < 8:
        raise BadRequest("密码至少 8 个字符", code="weak_password")
    try:
        Role(role)
    except ValueError:
        raise BadRequest(
            f"未知角色：{role}", code="unknown_role", roles=[r.value for r in Role]
        ) from None
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"用户名已存在：{username}", code="username_taken")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(*, session: Session, username: str, password: str, client: str) -> User:
    key = f"{client}:{username}"
    login_limiter.check(key)
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if not user or not ok or not user.active:
        login_limiter.record_failure(key)
        raise NotAuthenticated("用户名或密码错误", code="invalid_credentials")
    login_limiter.reset(key)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(*, session: Session, user: User, name: str) -> str:
    token = "gl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=_token_digest(token)))
    session.flush()
    return token


def user_for_token(*, session: Session, token: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(token), ~ApiToken.revoked)
    )
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user and user.active else None
