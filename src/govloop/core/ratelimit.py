"""Rate limits over the ``limits`` library: named rules, counters in memory or Redis
(``GOVLOOP_RATE_LIMIT_STORAGE``), the client's address behind trusted proxies only, and
FastAPI dependencies that refuse with 429 and ``Retry-After``.

Two ways of counting: :func:`consume` spends one request of the budget (ticket issuing,
submissions), while :func:`check` + :func:`hit` count only failed attempts (sign-in and
look-ups that a guesser fails far more often than a citizen does). Counters are shared by
every worker when the storage is Redis; with ``memory://`` each process counts alone.
If the storage cannot be reached the request is let through and the failure logged: an
outage of the counter store must not close the service hall.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from govloop.core.errors import TooManyRequests
from govloop.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
KEY_PREFIX = "govloop"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Rule:
    """A named limit. ``default`` gives the limit string (``"5/minute;50/hour"``) from the
    settings; ``GOVLOOP_RATE_LIMITS`` may override it by name."""

    name: str
    default: str | Callable[[Settings], str]
    message: str
    code: str = "rate_limited"

    def items(self) -> list[RateLimitItem]:
        settings = get_settings()
        default = self.default if isinstance(self.default, str) else self.default(settings)
        return _parse(settings.rate_limits.get(self.name) or default)


@lru_cache(maxsize=64)
def _parse(value: str) -> list[RateLimitItem]:
    return parse_many(value)


def _login_failures(s: Settings) -> str:
    return f"{s.login_max_failures} per {s.login_window_seconds} seconds"


LOGIN_MESSAGE = "登录失败次数过多，请稍后再试"
# Failed sign-ins from one address, whatever the username: stops password spraying.
LOGIN_IP = Rule(
    "login_ip",
    lambda s: f"{s.login_ip_max_failures} per {s.login_window_seconds} seconds",
    LOGIN_MESSAGE,
    "login_rate_limited",
)
# Failed sign-ins for one username from browsers without its device cookie, and from one
# device cookie (see core/auth.authenticate for why the two are separate).
LOGIN_USER = Rule("login_user", _login_failures, LOGIN_MESSAGE, "login_rate_limited")
LOGIN_DEVICE = Rule("login_device", _login_failures, LOGIN_MESSAGE, "login_rate_limited")
# Failed identity checks of the citizen's data tracker (/my-data), per address.
MY_DATA = Rule("my_data", _login_failures, "核实失败次数过多，请稍后再试")
# Failed order look-ups (/hotline/track and its rating form), per address.
HOTLINE_TRACK = Rule("hotline_track", "10 per 15 minutes", "查询失败次数过多，请稍后再试")
# Failed look-ups of a matter's progress (办件编号 + phone), per address: numbers are
# sequential, so without a limit a known phone is enough to find the other half.
MATTER_TRACK = Rule("matter_track", "10 per 15 minutes", "查询失败次数过多，请稍后再试")
# Citizens' reports through the web and H5 forms, per address (mobile carriers put many
# phones behind one address, so the budget is not tight).
HOTLINE_REPORT = Rule("hotline_report", "5 per minute;30 per hour", "提交过于频繁，请稍后再试")
# Public ticket issuing (kiosk page and API) by anonymous callers, per address.
TICKETS = Rule("tickets", "20 per minute;200 per hour", "取号过于频繁，请稍后再试")
# Open311 service request submissions, per address (partner apps may need an override).
OPEN311_WRITE = Rule("open311_write", "30 per minute;300 per hour", "提交过于频繁，请稍后再试")
RULES = (
    LOGIN_IP,
    LOGIN_USER,
    LOGIN_DEVICE,
    MY_DATA,
    HOTLINE_TRACK,
    MATTER_TRACK,
    HOTLINE_REPORT,
    TICKETS,
    OPEN311_WRITE,
)


# --- storage ------------------------------------------------------------------------------


@dataclass
class _Backend:
    uri: str
    key_prefix: str
    storage: Storage
    limiter: MovingWindowRateLimiter


_lock = threading.Lock()
_backend: _Backend | None = None
_override: tuple[str, str] | None = None


def _build(uri: str, key_prefix: str) -> _Backend:
    options: dict[str, float | str | bool] = {}
    if uri.startswith(("redis", "rediss", "valkey")):
        options["key_prefix"] = key_prefix
    if uri.startswith(("redis://", "rediss://")):
        # a request waits at most this long for a counter store that stopped answering
        options.update(socket_timeout=0.5, socket_connect_timeout=0.5)
    storage = storage_from_string(uri, wrap_exceptions=True, **options)
    if not isinstance(storage, Storage):  # an async storage (async+redis://…) is of no use here
        raise ValueError(f"GOVLOOP_RATE_LIMIT_STORAGE must name a synchronous storage: {uri}")
    return _Backend(uri, key_prefix, storage, MovingWindowRateLimiter(storage))


def _current() -> _Backend:
    global _backend
    uri, prefix = _override or (get_settings().rate_limit_storage, KEY_PREFIX)
    with _lock:
        if _backend is None or (_backend.uri, _backend.key_prefix) != (uri, prefix):
            _backend = _build(uri, prefix)
        return _backend


def use_storage(uri: str | None, key_prefix: str = KEY_PREFIX) -> None:
    """Count in another store (tests); ``None`` returns to the configured one."""
    global _override, _backend
    with _lock:
        _override = (uri, key_prefix) if uri else None
        _backend = None


def reset() -> None:
    """Forget every counter of the current store (tests)."""
    backend = _current()
    try:
        backend.storage.reset()
    except StorageError:
        log.warning("rate limit storage %s could not be reset", backend.uri)


# --- counting -----------------------------------------------------------------------------


def _refusal(
    limiter: MovingWindowRateLimiter, rule: Rule, key: str, spent: list[RateLimitItem]
) -> TooManyRequests:
    reset_at = max(limiter.get_window_stats(item, rule.name, key).reset_time for item in spent)
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return TooManyRequests(
        _with_wait(rule.message, retry_after), code=rule.code, retry_after=retry_after
    )


def _with_wait(message: str, seconds: int) -> str:
    """“请稍后再试” made precise: people locked out want to know for how long."""
    wait = f"{seconds} 秒" if seconds < 60 else f"{math.ceil(seconds / 60)} 分钟"
    if "请稍后再试" in message:
        return message.replace("请稍后再试", f"请 {wait}后再试")
    return f"{message}（{wait}后可再试）"


def _storage_failed(rule: Rule, exc: StorageError) -> None:
    log.warning("rate limit %s not applied: storage unavailable (%s)", rule.name, exc)


def check(rule: Rule, key: str) -> None:
    """Refuse when the budget of ``key`` is spent; counts nothing."""
    if not get_settings().rate_limit_enabled:
        return
    limiter = _current().limiter
    try:
        spent = [item for item in rule.items() if not limiter.test(item, rule.name, key)]
        if spent:
            raise _refusal(limiter, rule, key, spent)
    except StorageError as exc:
        _storage_failed(rule, exc)


def hit(rule: Rule, key: str) -> None:
    """Count one (failed) attempt of ``key``; never refuses."""
    if not get_settings().rate_limit_enabled:
        return
    limiter = _current().limiter
    try:
        for item in rule.items():
            limiter.hit(item, rule.name, key)
    except StorageError as exc:
        _storage_failed(rule, exc)


def consume(rule: Rule, key: str) -> None:
    """Spend one request of the budget of ``key``; refuse when none is left."""
    if not get_settings().rate_limit_enabled:
        return
    limiter = _current().limiter
    try:
        spent = [item for item in rule.items() if not limiter.hit(item, rule.name, key)]
        if spent:
            raise _refusal(limiter, rule, key, spent)
    except StorageError as exc:
        _storage_failed(rule, exc)


def clear(rule: Rule, key: str) -> None:
    if not get_settings().rate_limit_enabled:
        return
    limiter = _current().limiter
    try:
        for item in rule.items():
            limiter.clear(item, rule.name, key)
    except StorageError as exc:
        _storage_failed(rule, exc)


# --- the client's address -----------------------------------------------------------------


def _address(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip(request: Request) -> str:
    """Who is asking: the socket peer, or, when the peer is a trusted proxy, the first
    address in X-Forwarded-For (read from the right) that is not a trusted proxy.

    Forwarded headers from any other peer are ignored, so a client cannot pick its own
    address. An IPv6 client counts as its /64, the block one subscriber is given.
    """
    peer = request.client.host if request.client else ""
    address = _address(peer)
    networks = get_settings().trusted_networks
    if address is None:
        return peer or "unknown"

    def trusted(a: IPAddress) -> bool:
        return any(a.version == n.version and a in n for n in networks)

    if networks and trusted(address):
        hops = ",".join(request.headers.getlist("x-forwarded-for")).split(",")
        for hop in reversed([h for h in hops if h.strip()]):
            forwarded = _address(hop)
            if forwarded is None:  # garbage: stop at the last proxy that we trust
                break
            address = forwarded
            if not trusted(address):
                break
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


# --- dependencies -------------------------------------------------------------------------


def per_client(rule: Rule) -> Callable[[Request], None]:
    """A route dependency: each request spends one of the client address's budget."""

    def dependency(request: Request) -> None:
        consume(rule, client_ip(request))

    dependency.__name__ = f"rate_limit_{rule.name}"
    return dependency


@dataclass(frozen=True)
class ClientLimit:
    """One rule bound to the client's address, for routes that count in their own body
    (to count failures only, or to answer a refusal on their own page)."""

    rule: Rule
    key: str

    def spend(self) -> None:
        """Spend one request; refuse when none is left."""
        consume(self.rule, self.key)

    def check(self) -> None:
        """Refuse when the failures allowed are used up; counts nothing."""
        check(self.rule, self.key)

    def failed(self) -> None:
        """Count a failure. Successes reset nothing, so a right answer of one's own
        cannot clear the count between guesses."""
        hit(self.rule, self.key)


def for_client(rule: Rule) -> Callable[[Request], ClientLimit]:
    """A route dependency giving the route a :class:`ClientLimit` for the client."""

    def dependency(request: Request) -> ClientLimit:
        return ClientLimit(rule, client_ip(request))

    dependency.__name__ = f"client_limit_{rule.name}"
    return dependency
