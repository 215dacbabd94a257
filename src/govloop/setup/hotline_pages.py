"""The console's hotline page (``/admin/hotline``): categories with their dispatch unit and
keywords, and the time limits; with the REST API beside it. Administrators only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Permission
from govloop.core.db import get_readonly_session, get_session
from govloop.core.deps import csrf_protect, require
from govloop.core.errors import GovloopError
from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.hotline.models import OrderType, Urgency
from govloop.org.models import Department
from govloop.setup import hotline
from govloop.web.kit import refuse, staff_page
from govloop.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
api = APIRouter(
    prefix="/api/v1/admin/hotline", tags=["admin"], dependencies=[Depends(csrf_protect)]
)
configurer_page = staff_page(Permission.CONFIG_MANAGE)
configurer = require(Permission.CONFIG_MANAGE)
DONE = {"saved": N_("Saved."), "archived": N_("Archived. It stays in the history and the figures.")}


def _page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    done = request.query_params.get("done")
    context = {
        "categories": hotline.categories(session),
        "limits": hotline.time_limits(session),
        "departments": list(
            session.scalars(
                select(Department).where(Department.archived.is_(False)).order_by(Department.code)
            )
        ),
        "type_names": hotline.TYPE_NAMES,
        "urgency_names": hotline.URGENCY_NAMES,
        "error": error,
        "notice": _(DONE[done]) if done in DONE else None,
    }
    return render(request, "setup/hotline.html", context, status_code=status_code)


@router.get("/admin/hotline", response_class=HTMLResponse)
def hotline_page(
    request: Request,
    user: User = Depends(configurer_page),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> Response:
    return _page(request, session)


@router.post("/admin/hotline/categories", response_class=HTMLResponse)
def category_form(
    request: Request,
    code: str = Form("", max_length=32),
    name: str = Form("", max_length=100),
    group: str = Form("", max_length=100),
    department: str = Form("", max_length=32),
    order_type: str = Form("help", max_length=16),
    keywords: str = Form("", max_length=2000),
    public: str = Form(""),
    user: User = Depends(configurer_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        hotline.save_category(
            session=session,
            code=code,
            name=name,
            group=group,
            department=department,
            order_type=order_type,
            keywords=keywords,
            public=bool(public),
            actor=user,
            source="console",
        )
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _page(request, session, **shown))
    return RedirectResponse("/admin/hotline?done=saved", status_code=303)


@router.post("/admin/hotline/categories/{code}/archive", response_class=HTMLResponse)
def category_archive(
    request: Request,
    code: str,
    user: User = Depends(configurer_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        hotline.archive_category(session=session, code=code, actor=user, source="console")
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _page(request, session, **shown))
    return RedirectResponse("/admin/hotline?done=archived", status_code=303)


@router.post("/admin/hotline/time-limits", response_class=HTMLResponse)
def time_limit_form(
    request: Request,
    order_type: str = Form("", max_length=16),
    urgency: str = Form("", max_length=16),
    category: str = Form("", max_length=32),
    sign_days: int = Form(1, ge=0, le=30),
    handle_days: int = Form(5, ge=1, le=365),
    warn_hours: int = Form(24, ge=1, le=240),
    user: User = Depends(configurer_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    try:
        hotline.save_time_limit(
            session=session,
            order_type=order_type,
            urgency=urgency,
            category=category,
            sign_days=sign_days,
            handle_days=handle_days,
            warn_hours=warn_hours,
            actor=user,
            source="console",
        )
    except GovloopError as exc:
        return refuse(session, exc, lambda **shown: _page(request, session, **shown))
    return RedirectResponse("/admin/hotline?done=saved", status_code=303)


# --- the API -------------------------------------------------------------------------------


class CategoryIn(BaseModel):
    name: str = Field(max_length=100)
    group: str = Field(default="", max_length=100)
    department: str = Field(max_length=32)
    order_type: OrderType = OrderType.HELP
    keywords: list[str] = Field(default_factory=list, max_length=50)
    public: bool = True


class TimeLimitIn(BaseModel):
    order_type: OrderType
    urgency: Urgency = Urgency.NORMAL
    category: str = Field(default="", max_length=32)
    sign_days: int = Field(ge=0, le=30)
    handle_days: int = Field(ge=1, le=365)
    warn_hours: int = Field(default=24, ge=1, le=240)


@api.get("/categories")
def list_categories(
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "name": c.name,
            "group": c.group_name,
            "department": department,
            "order_type": c.default_type,
            "keywords": c.keywords,
            "public": c.public,
            "active": c.active,
        }
        for c, department in hotline.categories(session)
    ]


@api.put("/categories/{code}")
def put_category(
    code: str,
    body: CategoryIn,
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    category = hotline.save_category(
        session=session,
        code=code,
        name=body.name,
        group=body.group,
        department=body.department,
        order_type=body.order_type.value,
        keywords=",".join(body.keywords),
        public=body.public,
        actor=user,
        source="api",
    )
    return {"code": category.code, "active": category.active}


@api.get("/time-limits")
def list_time_limits(
    user: User = Depends(configurer),
    session: Session = Depends(get_readonly_session, scope="function"),
) -> list[dict[str, Any]]:
    return hotline.time_limits(session)


@api.put("/time-limits")
def put_time_limit(
    body: TimeLimitIn,
    user: User = Depends(configurer),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, Any]:
    limit = hotline.save_time_limit(
        session=session,
        order_type=body.order_type.value,
        urgency=body.urgency.value,
        category=body.category,
        sign_days=body.sign_days,
        handle_days=body.handle_days,
        warn_hours=body.warn_hours,
        actor=user,
        source="api",
    )
    return {
        "order_type": limit.order_type,
        "urgency": limit.urgency,
        "sign_days": limit.sign_working_days,
        "handle_days": limit.handle_working_days,
        "warn_hours": limit.warn_hours,
    }
