"""Jinja2 environment shared by every domain's pages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from govloop import __version__
from govloop.core.auth import Permission, has_permission
from govloop.core.clock import to_local
from govloop.core.deps import CSRF_FIELD, csrf_token
from govloop.core.i18n import get_locale, gettext_, ngettext_
from govloop.web import navigation

TEMPLATE_DIRS = [Path(__file__).resolve().parent / "templates"]
STATIC_DIR = Path(__file__).resolve().parent / "static"


def add_template_dir(path: Path) -> None:
    if path not in TEMPLATE_DIRS:
        TEMPLATE_DIRS.append(path)
        _loader.searchpath.append(str(path))


def local_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    return to_local(value).strftime(fmt) if value else ""


_loader = FileSystemLoader([str(p) for p in TEMPLATE_DIRS])
_env = Environment(loader=_loader, autoescape=True, extensions=["jinja2.ext.i18n"])
_env.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
templates = Jinja2Templates(env=_env)
templates.env.filters["local_time"] = local_time
templates.env.globals["version"] = __version__
templates.env.globals["Permission"] = Permission


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    ctx = {
        "request": request,
        "locale": get_locale(),
        "csrf_token": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "user": user,
        "can": (lambda perm: user is not None and has_permission(user, perm)),
    }
    ctx.update(context or {})
    hall = ctx.get("hall")
    hall_code = hall.get("code") if isinstance(hall, dict) else getattr(hall, "code", None)
    items = navigation.items_for(user, hall_code)
    ctx["nav_items"] = items
    ctx["nav_active"] = lambda item: navigation.active(item, request.url.path, items)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
