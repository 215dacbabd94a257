"""Roles, permissions, password hashing, sign-in with its rate limits, and API tokens."""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from govloop.core import ratelimit
from govloop.core.errors import BadRequest, Conflict, NotAuthenticated
from govloop.core.i18n import N_
from govloop.core.models import ApiToken, User

# Last-seen and last-used times are written at most this often (not on every request).
TOUCH_EVERY = timedelta(seconds=60)


def wall_now() -> datetime:
    """Real time for credentials (sessions, tokens): they expire in real time even while a
    simulation or a test moves the application's clock (``core.clock.now``)."""
    return datetime.now(UTC)


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
    CONFIG_MANAGE = "config.manage"
    HALL_MANAGE = "hall.manage"
    HALL_VIEW = "hall.view"
    WINDOW_OPERATE = "hall.window.operate"
    HOTLINE_HANDLE = "hotline.handle"
    DATA_STEWARD = "data.steward"
    AUDIT_READ = "audit.read"
    FIELD_WORK = "field.work"
    MATTER_HANDLE = "matter.handle"  # 办件: review, decide, certify, post


# what pages call each role (English msgids, translated where shown)
ROLE_LABELS: dict[str, str] = {
    Role.ADMIN: N_("System administrator"),
    Role.HALL_MANAGER: N_("Hall manager"),
    Role.WINDOW_STAFF: N_("Window staff member"),
    Role.HOTLINE_AGENT: N_("Hotline agent"),
    Role.DEPARTMENT_HANDLER: N_("Department handler"),
    Role.DATA_STEWARD: N_("Data steward"),
    Role.AUDITOR: N_("Auditor"),
    Role.FIELD_STAFF: N_("Field staff member"),
}


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.HALL_MANAGER: frozenset(
        {Permission.HALL_MANAGE, Permission.HALL_VIEW, Permission.WINDOW_OPERATE}
    ),
    Role.WINDOW_STAFF: frozenset({Permission.HALL_VIEW, Permission.WINDOW_OPERATE}),
    Role.HOTLINE_AGENT: frozenset({Permission.HOTLINE_HANDLE}),
    Role.DEPARTMENT_HANDLER: frozenset({Permission.HOTLINE_HANDLE, Permission.MATTER_HANDLE}),
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
# One-time passwords (a new account, an administrator's reset) are 12 random characters,
# about 69 bits, and must be replaced at the first sign-in: key stretching adds little to
# that, and an import may create hundreds of accounts at once (400 full hashes cost ~45 s
# of CPU on two cores). The person's own password gets the full parameters.
_one_time_hasher = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
# Verified against when the username is unknown, so timing does not reveal which users exist.
_DUMMY_HASH = _hasher.hash("dummy-password-for-timing")


def hash_password(password: str, *, one_time: bool = False) -> str:
    return (_one_time_hasher if one_time else _hasher).hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


COMMON_PASSWORDS = frozenset(
    {
        "12345678",
        "123456789",
        "1234567890",
        "password",
        "password1",
        "qwerty123",
        "11111111",
        "88888888",
        "abc12345",
        "a1234567",
        "admin123",
        "admin@123",
        "iloveyou",
        "woaini1314",
        "1qaz2wsx",
        "qwertyuiop",
        "00000000",
        "66666666",
        "p@ssw0rd",
        "passw0rd",
    }
)


def check_password_strength(password: str, *, username: str | None = None) -> None:
    """The password policy: at least 8 characters of at least two kinds (letters, digits,
    other), not one of the passwords everyone tries first, and not the user name."""
    if len(password) < 8:
        raise BadRequest("密码至少 8 个字符", code="weak_password")
    kinds = (
        any(c.isalpha() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    if sum(kinds) < 2:
        raise BadRequest("密码须包含字母、数字、符号中的至少两类", code="weak_password")
    if password.casefold() in COMMON_PASSWORDS:
        raise BadRequest("该密码过于常见，请换一个", code="weak_password")
    if username and username.casefold() in password.casefold():
        raise BadRequest("密码不能包含用户名", code="weak_password")


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    one_time: bool = False,
) -> User:
    username = username.strip()
    if not username or len(username) > 64:
        raise BadRequest("用户名不能为空且不超过 64 个字符", code="invalid_username")
    check_password_strength(password, username=username)
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
        password_hash=hash_password(password, one_time=one_time),
        role=role,
        must_change_password=one_time,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(
    *, session: Session, username: str, password: str, client: str, device: str | None = None
) -> User:
    """The user whose password this is, or ``NotAuthenticated`` (same for every reason).

    ``client`` is the caller's address; ``device`` the id of a device cookie that this
    browser got by signing in as this very user before (web/pages.py), if any.

    Failed attempts are limited so that guessing is slow without handing a stranger the
    power to lock the real user out:

    * per address, whatever the username: one address cannot spray a password over many
      accounts;
    * per username, for browsers without that user's device cookie: many addresses cannot
      share the guessing of one account;
    * per device cookie, instead of the two above: the user's usual browser keeps working
      while the username's budget is spent by someone else, and a stolen device cookie
      gives only a small budget of its own (OWASP's "device cookies" scheme).

    Only a correct password clears the username's (and device's) count; the address's
    count stays, so logging in to one's own account does not buy more guesses.
    """
    name_key = username.strip().casefold()[:64]
    counted = (
        [(ratelimit.LOGIN_DEVICE, device)]
        if device
        else [(ratelimit.LOGIN_IP, client), (ratelimit.LOGIN_USER, name_key)]
    )
    for rule, key in counted:
        ratelimit.check(rule, key)
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is not None and user.must_change_password:
        # a one-time password's hash is light: take the usual time, so the answer's timing
        # does not tell that this account has never been signed in to
        verify_password(_DUMMY_HASH, password)
    if not user or not ok or not user.active:
        for rule, key in counted:
            ratelimit.hit(rule, key)
        raise NotAuthenticated("用户名或密码错误", code="invalid_credentials")
    ratelimit.clear(ratelimit.LOGIN_USER, name_key)
    if device:
        ratelimit.clear(ratelimit.LOGIN_DEVICE, device)
    user.last_login_at = wall_now()
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(*, session: Session, user: User, name: str) -> str:
    token = "gl_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=token_digest(token)))
    session.flush()
    return token


_TOKEN_AND_HOLDER = (
    select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("digest"), ~ApiToken.revoked)
)


def user_for_token(*, session: Session, token: str) -> User | None:
    # token and holder in one query: every device request runs this
    found = session.execute(_TOKEN_AND_HOLDER, {"digest": token_digest(token)}).first()
    if found is None:
        return None
    row, user = found
    if not user.active:
        return None
    moment = wall_now()
    if row.last_used_at is None or moment - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = moment
    return user
