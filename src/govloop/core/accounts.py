"""User lifecycle: server-side sign-in sessions, deactivation, password resets and the
revocation of sessions and API tokens.

A signed-in browser holds a random session id inside the signed session cookie; the
server keeps only its SHA-256 in ``user_sessions``. Signing out ends that one session (the
user's other browsers stay signed in); deactivating a user or setting a new password ends
all of them, so a copied cookie stops working at once instead of at its expiry.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from govloop.core.auth import (
    TOUCH_EVERY,
    check_password_strength,
    hash_password,
    token_digest,
    verify_password,
    wall_now,
)
from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.models import ApiToken, User, UserSession
from govloop.core.settings import get_settings

log = logging.getLogger("govloop.security")
# Ended sessions are kept this long (the administrator's page shows only live ones).
KEEP_ENDED = timedelta(days=30)


# --- users ----------------------------------------------------------------------------------


def get_user(*, session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", code="user_not_found")
    return user


def find_user(*, session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"用户不存在：{username.strip()[:64]}", code="user_not_found")
    return user


@dataclass(frozen=True)
class UserRow:
    user: User
    sessions: int  # live sign-in sessions
    tokens: int  # API tokens not revoked


def user_rows(*, session: Session) -> list[UserRow]:
    moment = wall_now()
    live_sessions = dict(
        session.execute(
            select(UserSession.user_id, func.count())
            .where(UserSession.revoked_at.is_(None), UserSession.expires_at > moment)
            .group_by(UserSession.user_id)
        ).all()
    )
    live_tokens = dict(
        session.execute(
            select(ApiToken.user_id, func.count())
            .where(~ApiToken.revoked)
            .group_by(ApiToken.user_id)
        ).all()
    )
    users = session.scalars(select(User).order_by(User.active.desc(), User.username)).all()
    return [UserRow(u, live_sessions.get(u.id, 0), live_tokens.get(u.id, 0)) for u in users]


def deactivate(*, session: Session, user: User, actor: User | None = None) -> tuple[int, int]:
    """Stop the user signing in and end every session and API token they have (a later
    activation does not bring them back). Returns (sessions, tokens) ended."""
    if actor is not None and actor.id == user.id:
        raise RuleViolation("不能停用自己的账号", code="cannot_deactivate_self")
    user.active = False
    ended = revoke_sessions(session=session, user=user, reason="deactivated")
    tokens = revoke_tokens(session=session, user=user)
    log.info("user %s deactivated by %s", user.username, actor.username if actor else "cli")
    return ended, tokens


def activate(*, session: Session, user: User, actor: User | None = None) -> None:
    user.active = True
    log.info("user %s activated by %s", user.username, actor.username if actor else "cli")


def set_password(
    *,
    session: Session,
    user: User,
    password: str,
    actor: User | None = None,
    one_time: bool = False,
) -> int:
    """Set a new password and end every session of the user; returns how many ended. An
    administrator's reset is a one-time password (``one_time``): the user must replace it at
    the next sign-in."""
    check_password_strength(password, username=user.username)
    user.password_hash = hash_password(password, one_time=one_time)
    user.must_change_password = one_time
    ended = revoke_sessions(session=session, user=user, reason="password_changed")
    log.info("password of %s set by %s", user.username, actor.username if actor else "cli")
    return ended


# --- sessions -------------------------------------------------------------------------------


def start_session(
    *, session: Session, user: User, ip: str | None = None, user_agent: str | None = None
) -> str:
    """A new sign-in session; returns the id for the cookie (stored only hashed)."""
    moment = wall_now()
    raw = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            user_id=user.id,
            token_hash=token_digest(raw),
            created_at=moment,
            last_seen_at=moment,
            expires_at=moment + timedelta(seconds=get_settings().session_max_age_seconds),
            ip=(ip or None) and ip[:64],
            user_agent=(user_agent or None) and user_agent[:200],
        )
    )
    cutoff = moment - KEEP_ENDED
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.expires_at < cutoff, UserSession.revoked_at < cutoff),
        )
    )
    session.flush()
    return raw


def session_user(*, session: Session, raw: str) -> tuple[User, UserSession] | None:
    """The user of a live session id, or None (unknown, ended, expired, user inactive)."""
    row = session.scalar(select(UserSession).where(UserSession.token_hash == token_digest(raw)))
    moment = wall_now()
    if row is None or row.revoked_at is not None or row.expires_at <= moment:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if moment - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = moment
    return user, row


def end_session(*, session: Session, raw: str) -> None:
    """Sign-out: this session only."""
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == token_digest(raw), UserSession.revoked_at.is_(None))
        .values(revoked_at=wall_now(), revoked_reason="signed_out")
    )


def live_sessions(*, session: Session, user: User) -> list[UserSession]:
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > wall_now(),
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def revoke_sessions(*, session: Session, user: User, reason: str = "revoked") -> int:
    """End every live session of the user; returns how many."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=wall_now(), revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_session(*, session: Session, user: User, session_id: int) -> None:
    row = session.get(UserSession, session_id)
    if row is None or row.user_id != user.id:
        raise NotFound("该登录会话不存在", code="session_not_found")
    if row.revoked_at is None:
        row.revoked_at = wall_now()
        row.revoked_reason = "revoked"
        log.info("session %s of %s revoked", row.id, user.username)


# --- API tokens -----------------------------------------------------------------------------


def tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked, ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def revoke_token(*, session: Session, user: User, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("该 API 令牌不存在", code="token_not_found")
    if not row.revoked:
        row.revoked = True
        row.revoked_at = wall_now()
        log.info("token %s (%s) of %s revoked", row.id, row.name, user.username)
    return row


def revoke_tokens(*, session: Session, user: User) -> int:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ~ApiToken.revoked)
        .values(revoked=True, revoked_at=wall_now())
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def change_own_password(
    *, session: Session, user: User, current: str, new: str, repeat: str, keep_session: int | None
) -> int:
    """The user replaces their password (a one-time one, or their own): the current one must
    be right, the new one must differ and meet the policy. Every other session ends; the
    one in use (``keep_session``) stays signed in. Returns how many ended."""
    if not verify_password(user.password_hash, current):
        raise BadRequest("当前密码不正确", code="wrong_password")
    if new != repeat:
        raise BadRequest("两次输入的新密码不一致", code="passwords_differ")
    if new == current:
        raise BadRequest("新密码不能与当前密码相同", code="same_password")
    check_password_strength(new, username=user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    stmt = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep_session is not None:
        stmt = stmt.where(UserSession.id != keep_session)
    result = session.execute(
        stmt.values(revoked_at=wall_now(), revoked_reason="password_changed").execution_options(
            synchronize_session="fetch"
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
