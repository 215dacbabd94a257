"""The web kit every domain's pages use: who is viewing, the permission a page needs, rendering
with the domain's labels, htmx detection, refusing a form, and pagination."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from govloop.core.auth import Permission
from govloop.core.db import get_session
from govloop.core.deps import optional_user, require
from govloop.core.errors import GovloopError, RecordedRefusal
from govloop.core.models import User
from govloop.web.templating import render


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


async def posted_form(request: Request) -> FormData:
    """The posted form, read on the event loop, so a handler that works with the database can
    be a plain function (run in the thread pool) and never block the loop."""
    return await request.form()


def staff_page(permission: Permission) -> Callable[..., User]:
    """Page dependency: the signed-in user holding ``permission``.

    The viewer is resolved first, so a refusal is rendered with the header of the person who
    is signed in.
    """
    check = require(permission)

    def dependency(viewer: User | None = Depends(page_user), user: User = Depends(check)) -> User:
        return user

    return dependency


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


Renderer = Callable[..., HTMLResponse]


def page_renderer(
    defaults: Mapping[str, Any],
    per_request: Callable[[Request], Mapping[str, Any]] | None = None,
) -> Renderer:
    """A domain's ``page(request, template, *, status_code=200, **context)``: the template
    rendered with the domain's labels (``defaults``) and what ``per_request`` reads from the
    request (a notice named in the query, the configured time zone)."""

    def page(
        request: Request, name: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        shown = {**defaults, **(per_request(request) if per_request else {}), **context}
        return render(request, name, shown, status_code=status_code)

    return page


def refuse(session: Session, exc: GovloopError, show: Callable[..., Response]) -> Response:
    """A refused form action: roll the attempt back (nothing of it is kept), then show the
    form again with the reason and the refusal's status. ``show`` renders after the rollback,
    so what it reads is the stored state. A recorded refusal is kept instead: its audit
    entry commits with the page."""
    if not isinstance(exc, RecordedRefusal):
        session.rollback()
    return show(error=exc.message, status_code=exc.status_code)


@dataclass(frozen=True)
class Pagination:
    """One page of a long list (pages count from 1)."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def pages(self, total: int) -> int:
        return max((total + self.per_page - 1) // self.per_page, 1)
