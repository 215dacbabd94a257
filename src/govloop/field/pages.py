"""Pages of the mobile workbench: the installable app shell (with its manifest and service
worker), sign-out that wipes the device, and the managers' device list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from govloop import __version__
from govloop.access import service as access
from govloop.core.auth import Permission
from govloop.core.db import get_session
from govloop.core.deps import csrf_protect, end_session, optional_user, public
from govloop.core.i18n import gettext_ as _
from govloop.core.models import User
from govloop.field import service
from govloop.web import kit
from govloop.web.templating import STATIC_DIR, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
ASSETS = STATIC_DIR / "field"
# wipes the HTTP cache, the service worker's caches, IndexedDB, local storage and the
# service worker registration of this origin (the app also wipes its stores itself first)
CLEAR_SITE_DATA = '"cache", "storage"'


staff_page = kit.staff_page(Permission.FIELD_WORK)


manager_page = kit.staff_page(Permission.HALL_MANAGE)


@router.get("/field", dependencies=[Depends(public)])
def field_root() -> Response:
    return RedirectResponse("/field/", status_code=307)


@router.get("/field/", response_class=HTMLResponse)
def app_shell(request: Request, user: User = Depends(staff_page)) -> Response:
    response = render(request, "field/app.html", {"version": __version__})
    # the service worker refreshes its copy on every online visit
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/field/manifest.webmanifest", dependencies=[Depends(public)])
def manifest() -> Response:
    return JSONResponse(
        {
            "name": _("Field workbench") + " · govloop",
            "short_name": _("Field workbench"),
            "lang": "zh-CN",
            "start_url": "/field/",
            "scope": "/field/",
            "display": "standalone",
            "background_color": "#f4f6f9",
            "theme_color": "#b8262b",
            "icons": [
                {"src": "/static/field/icon-192.png", "sizes": "192x192", "type": "image/png"},
                {"src": "/static/field/icon-512.png", "sizes": "512x512", "type": "image/png"},
                {"src": "/static/field/icon.svg", "sizes": "any", "type": "image/svg+xml"},
            ],
        },
        media_type="application/manifest+json",
    )


@router.get("/field/sw.js", dependencies=[Depends(public)])
def service_worker() -> Response:
    # served under /field/ so its scope is /field/; the version names its cache, so an
    # upgrade replaces the cached shell
    source = (ASSETS / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", __version__)
    return Response(source, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


@router.post("/field/logout", dependencies=[Depends(public)])
def logout(
    request: Request,
    user: User | None = Depends(optional_user),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """End the user's grants (their device keys stop being served) and wipe the device."""
    if user is not None:
        access.end_grants_of_user(session=session, user=user, reason="signed_out")
    end_session(request, session)
    headers = {"Clear-Site-Data": CLEAR_SITE_DATA, "Cache-Control": "no-store"}
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"signed_out": True, "next": "/login?next=/field/"}, headers=headers)
    return RedirectResponse("/login?next=/field/", status_code=303, headers=headers)


@router.get("/field/devices", response_class=HTMLResponse)
def devices_page(
    request: Request,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    return render(request, "field/devices.html", {"rows": service.list_devices(session=session)})


@router.post("/field/devices/{device_pk}/revoke")
def revoke_device(
    device_pk: int,
    user: User = Depends(manager_page),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    service.revoke_device(session=session, device_pk=device_pk, manager=user)
    return RedirectResponse("/field/devices", status_code=303)
