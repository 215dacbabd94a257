"""Builds the FastAPI application from the domains' routers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from govloop import __version__
from govloop.access import web as access_web
from govloop.actions import web as actions_web
from govloop.audit import group as audit_group
from govloop.audit import keys as audit_keys
from govloop.catalog import web as catalog_web
from govloop.core import access_rules, health, idempotency, logs, metrics_api, route_gate
from govloop.core import openapi as openapi_doc
from govloop.core.bodies import RequestSizeLimitMiddleware
from govloop.core.db import get_engine, try_job_lock, unit_of_work
from govloop.core.deps import limit_halls, public
from govloop.core.errors import GovloopError, NotAuthenticated, PasswordChangeRequired
from govloop.core.idempotency import IdempotentReplay
from govloop.core.input_guard import InputGuard, check_request
from govloop.core.jobs import Job, every
from govloop.core.listen import start_listening
from govloop.core.logs import AccessLog
from govloop.core.metrics import register_gauges, timed_duty, use_sessions
from govloop.core.request_locale import RequestLocale
from govloop.core.security_headers import SecurityHeadersMiddleware, request_id_of
from govloop.core.settings import get_settings
from govloop.field import web as field_web
from govloop.hall import web as hall_web
from govloop.home import web as home_web
from govloop.hotline import web as hotline_web
from govloop.indicators import web as indicators_web
from govloop.ingest import web as ingest_web
from govloop.insight import web as insight_web
from govloop.matters import web as matters_web
from govloop.notify import web as notify_web
from govloop.org import service as org_service
from govloop.ratings import web as ratings_web
from govloop.retention import web as retention_web
from govloop.setup import web as setup_web
from govloop.subjects import web as subjects_web
from govloop.web.templating import STATIC_DIR, render

API_PREFIXES = ("/api/", "/open311/")
log = logging.getLogger(__name__)


# In the order their routes are mounted: an earlier router wins a path both could match.
DOMAINS = (
    home_web,
    setup_web,
    hall_web,
    ratings_web,
    indicators_web,
    insight_web,
    actions_web,
    hotline_web,
    matters_web,
    notify_web,
    ingest_web,
    catalog_web,
    subjects_web,
    field_web,
    access_web,
    retention_web,
)


def _purge_idempotency_keys() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "idempotency-keys"):
            idempotency.purge_expired(session)


# duties of the application's own tables (not a domain's)
CORE_JOBS = [Job("idempotency keys", _purge_idempotency_keys, every(3600), every(120))]


def all_jobs() -> list[Job]:
    return [job for domain in DOMAINS for job in domain.JOBS] + CORE_JOBS


async def _job_loop(
    job: Callable[[], None], interval: float, name: str, first_delay: float
) -> None:
    """Run a timed duty forever; errors are logged, never fatal."""
    await asyncio.sleep(first_delay)
    while True:
        try:
            await to_thread.run_sync(timed_duty, name, job)
        except Exception:
            log.exception("%s failed", name)
        await asyncio.sleep(interval)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    tasks = []
    # commits in other processes wake this one's live screens (PostgreSQL)
    listener = await to_thread.run_sync(start_listening, get_engine())
    if app.state.run_jobs:
        for job in all_jobs():
            loop = _job_loop(job.run, job.interval_s(), job.name, job.first_delay_s())
            tasks.append(asyncio.create_task(loop))
    yield
    if listener is not None:
        await to_thread.run_sync(listener.close)
    await to_thread.run_sync(audit_group.close_all)  # the access log's appender connections
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def replay_answer(_request: Request, exc: Exception) -> Response:
    """A retried write: the answer the first attempt got (nothing is done again)."""
    assert isinstance(exc, IdempotentReplay)
    return JSONResponse(
        exc.body, status_code=exc.status_code, headers={"Idempotent-Replayed": "true"}
    )


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIXES) or "application/json" in request.headers.get(
        "accept", ""
    )


def _error_page(request: Request, status: int, message: str) -> Response:
    if not hasattr(request.state, "user"):
        request.state.user = None
    if request.headers.get("hx-request"):
        return render(request, "_error.html", {"message": message}, status_code=status)
    return render(request, "error.html", {"message": message, "status": status}, status_code=status)


async def handle_govloop_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GovloopError)
    if wants_json(request):
        # a refusal is about this caller at this moment: no cache may keep and replay it
        headers = {"Cache-Control": "no-store"} | exc.headers
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)
    if isinstance(exc, NotAuthenticated) and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(str(request.url.path))}", status_code=303)
    if isinstance(exc, PasswordChangeRequired) and request.method == "GET":
        target = f"/account/password?next={quote(str(request.url.path))}"
        return RedirectResponse(target, status_code=303)
    response = _error_page(request, exc.status_code, exc.message)
    response.headers.update(exc.headers)
    return response


def _describe(errors: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "problem": e.get("msg"),
        }
        for e in errors
    ]


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = _describe(list(exc.errors()))
    message = "请求参数不正确：" + "；".join(f"{f['field']}（{f['problem']}）" for f in fields)
    if wants_json(request):
        return JSONResponse(
            {"error": "invalid_request", "message": message, "details": {"fields": fields}},
            status_code=422,
        )
    return _error_page(request, 422, "填写的内容不正确，请检查后重试")


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "页面或资源不存在", 405: "不支持的请求方式"}
    message = messages.get(exc.status_code, str(exc.detail))
    headers = openapi_doc.allow_headers(request, exc)
    if wants_json(request):
        return JSONResponse(
            {"error": f"http_{exc.status_code}", "message": message},
            status_code=exc.status_code,
            headers=headers,
        )
    page = _error_page(request, exc.status_code, message)
    page.headers.update(headers or {})
    return page


# SQLSTATE classes that mean "the database cannot take this now", not "this input is wrong":
# 08 connection, 53 insufficient resources (disk full), 57 operator intervention (shutdown),
# 25006 read-only transaction (a standby or a server set read-only).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57", "25006")


def _database_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    return False


def _failure(request: Request, status: int, code: str, message: str) -> Response:
    request_id = request_id_of(request.scope)
    if wants_json(request):
        return JSONResponse(
            {"error": code, "message": message, "request_id": request_id}, status_code=status
        )
    return _error_page(request, status, f"{message}（请求编号 {request_id}）")


async def handle_database_error(request: Request, exc: Exception) -> Response:
    """The database failed (down, read-only, full, or a commit that did not go through):
    nothing was acknowledged, so say so plainly and ask for a retry."""
    request_id = request_id_of(request.scope)
    if not _database_unavailable(exc):
        return await handle_unexpected_error(request, exc)
    log.error(
        "database unavailable: request_id=%s %s %s: %s",
        request_id,
        request.method,
        request.url.path,
        exc.__class__.__name__,
        exc_info=exc,
    )
    response = _failure(
        request, 503, "database_unavailable", "数据库暂时不可用，操作未完成，请稍后重试"
    )
    response.headers["Retry-After"] = "5"
    return response


async def handle_unexpected_error(request: Request, exc: Exception) -> Response:
    log.error(
        "unhandled error: request_id=%s %s %s",
        request_id_of(request.scope),
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return _failure(request, 500, "internal_error", "服务器内部错误，操作未完成")


def create_app(run_jobs: bool | None = None) -> FastAPI:
    settings = get_settings()
    if settings.log_format == "json":  # each web worker process configures its own logs
        logs.configure(settings.log_format, settings.log_level)
    limit_halls(org_service.may_act_in_hall)  # staff act in the halls they belong to
    if settings.environment != "development":
        audit_keys.require_signing_key()  # no audit signing key: refuse to start
    app = FastAPI(
        title="govloop",
        version=__version__,
        docs_url=None,  # served below from the package's own copy of Swagger UI
        openapi_url="/api/openapi.json",
        # FastAPI's other defaults are pages built from a CDN script (/redoc) and an inline
        # one (/docs/oauth2-redirect, for OAuth2 flows the API does not have): the CSP
        # refuses both, and /api/docs, its one exempt page, documents the API.
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
        dependencies=[Depends(check_request)],
    )
    app.state.run_jobs = settings.run_jobs if run_jobs is None else run_jobs

    app.add_middleware(RequestLocale, default=settings.default_locale)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="govloop_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.environment == "production",
    )
    app.add_middleware(InputGuard)
    app.add_exception_handler(IdempotentReplay, replay_answer)
    app.add_exception_handler(GovloopError, handle_govloop_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(DBAPIError, handle_database_error)
    app.add_exception_handler(PoolTimeout, handle_database_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
    # Every request body is capped while it streams in: a route's own limit, else the default.
    app.add_middleware(
        RequestSizeLimitMiddleware,
        default=lambda: get_settings().max_request_bytes,
        routes=lambda: [d.route for d in access_rules.declarations(app)],
    )
    # inside SecurityHeaders, where the request id is set: the access line and the latency
    app.add_middleware(AccessLog)
    app.add_middleware(SecurityHeadersMiddleware)
    use_sessions(lambda: unit_of_work(readonly=True))
    for domain in DOMAINS:
        for name, gauges in getattr(domain, "GAUGES", []):
            register_gauges(name, gauges)
    app.include_router(metrics_api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for domain in DOMAINS:
        for router in domain.ROUTERS:
            app.include_router(router)

    openapi_doc.install(app)

    @app.get("/api/docs", include_in_schema=False, dependencies=[Depends(public)])
    def api_docs() -> HTMLResponse:
        """The API's reference, with Swagger UI from the package: halls run on closed
        networks, where a CDN is out of reach."""
        return get_swagger_ui_html(
            openapi_url="/api/openapi.json",
            title="govloop API",
            swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/healthz", include_in_schema=False, dependencies=[Depends(public)])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (see /readyz for the database)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False, dependencies=[Depends(public)])
    def readyz() -> JSONResponse:
        """Readiness: the database answers, takes writes and is at the migrations' head."""
        result = health.check(get_engine())
        return JSONResponse(
            {"status": "ready" if result.ready else "not_ready", "checks": result.checks},
            status_code=200 if result.ready else 503,
        )

    route_gate.install(app)  # last: every router is included
    return app
