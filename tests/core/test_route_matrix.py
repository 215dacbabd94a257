"""The role × route matrix: every route declares who may use it, and this table says who should.

``TABLE`` is the specification, written by a person: for every route (``"METHOD /path"``)
the access it is meant to have. ``WHO`` spells out which callers each access admits — every
role and the anonymous caller. The tests check that

* every API route declares exactly one rule (``govloop.core.access_rules``);
* every route is in the table and every row is a route that declares what the row says;
* over the live application on each database, with one user per role (bearer tokens, so no
  CSRF) and an anonymous caller, each route refuses (401/403, or for an anonymous page a
  303 to the sign-in page) everyone the table does not admit — never a 2xx — and refuses
  nobody it admits (404, 409 or 422 are expected: path parameters are placeholders and
  bodies are empty); nothing answers 5xx.

A new route fails until it declares its access and has a row here. A row in
``PENDING_FIXES`` describes a fix not merged yet: its tests are expected to fail
(``xfail(strict=True)``), and once the fix lands they pass and the row must leave the set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sse_starlette import EventSourceResponse
from starlette.routing import Mount, Route

from govloop.app import create_app
from govloop.core import access_rules, auth, ratelimit
from govloop.core.access_rules import API_KEY, DEVICE_KEY, PUBLIC, SECRET_LINK, SIGNED_IN, perm
from govloop.core.auth import ROLE_PERMISSIONS, Permission, Role, issue_api_token
from govloop.core.db import set_engine, unit_of_work
from govloop.hall.waits import clear_stats_cache
from govloop.ingest.devices import service as devices
from govloop.ingest.pipeline import create_source
from govloop.org.models import Department, DepartmentMember
from tests.conftest import _wipe
from tests.factories import make_user

USERS = perm(Permission.USERS_MANAGE)
CONFIG = perm(Permission.CONFIG_MANAGE)
MANAGE = perm(Permission.HALL_MANAGE)
VIEW = perm(Permission.HALL_VIEW)
OPERATE = perm(Permission.WINDOW_OPERATE)
HOTLINE = perm(Permission.HOTLINE_HANDLE)
STEWARD = perm(Permission.DATA_STEWARD)
AUDIT = perm(Permission.AUDIT_READ)
FIELD = perm(Permission.FIELD_WORK)
MATTER = perm(Permission.MATTER_HANDLE)

ANONYMOUS = "anonymous"
ADMIN, HALL_MANAGER, WINDOW_STAFF = "admin", "hall_manager", "window_staff"
HOTLINE_AGENT, DEPARTMENT_HANDLER = "hotline_agent", "department_handler"
DATA_STEWARD, AUDITOR, FIELD_STAFF = "data_steward", "auditor", "field_staff"
ROLES = frozenset(
    {
        ADMIN,
        HALL_MANAGER,
        WINDOW_STAFF,
        HOTLINE_AGENT,
        DEPARTMENT_HANDLER,
        DATA_STEWARD,
        AUDITOR,
        FIELD_STAFF,
    }
)
CALLERS = (ANONYMOUS, *sorted(ROLES))

# Who each access admits. The auditor reads (hall.view, audit.read) and changes nothing but
# the reviews that are its office; machine credentials admit no person at all.
WHO: dict[str, frozenset[str]] = {
    PUBLIC: ROLES | {ANONYMOUS},
    SECRET_LINK: ROLES | {ANONYMOUS},  # the link is the authority: no link, nothing found
    SIGNED_IN: ROLES,
    API_KEY: frozenset(),
    DEVICE_KEY: frozenset(),
    USERS: frozenset({ADMIN}),
    CONFIG: frozenset({ADMIN}),
    MANAGE: frozenset({ADMIN, HALL_MANAGER}),
    OPERATE: frozenset({ADMIN, HALL_MANAGER, WINDOW_STAFF}),
    VIEW: frozenset({ADMIN, HALL_MANAGER, WINDOW_STAFF, AUDITOR}),
    HOTLINE: frozenset({ADMIN, HOTLINE_AGENT, DEPARTMENT_HANDLER}),
    STEWARD: frozenset({ADMIN, DATA_STEWARD}),
    AUDIT: frozenset({ADMIN, AUDITOR}),
    FIELD: frozenset({ADMIN, FIELD_STAFF}),
    MATTER: frozenset({ADMIN, DEPARTMENT_HANDLER}),
}

TABLE: dict[str, str] = {
    # sign-in and the home page
    "GET /": PUBLIC,
    "GET /login": PUBLIC,
    "POST /login": PUBLIC,
    "POST /logout": PUBLIC,
    "GET /lang/{locale}": PUBLIC,
    # service hall: the public queue, the window, the manager
    "GET /api/v1/halls/{hall_code}": PUBLIC,
    "GET /api/v1/halls/{hall_code}/items": PUBLIC,
    "POST /api/v1/halls/{hall_code}/tickets": PUBLIC,
    "GET /api/v1/halls/{hall_code}/tickets/{code}": PUBLIC,
    # a ticket code (A001) is guessable: the citizen cancels through the ticket's secret link,
    # the window on the citizen's behalf
    "POST /api/v1/halls/{hall_code}/tickets/{code}/cancel": OPERATE,
    "POST /api/v1/halls/{hall_code}/close-day": MANAGE,
    "POST /api/v1/halls/{hall_code}/carry-over": MANAGE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/sign-in": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/sign-out": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/pause": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/resume": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/call-next": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/recall": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/start": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/finish": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/no-show": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/transfer": OPERATE,
    "GET /api/v1/halls/{hall_code}/appointment-slots": PUBLIC,
    "POST /api/v1/halls/{hall_code}/appointments": PUBLIC,
    "POST /api/v1/halls/{hall_code}/appointments/check-in": SECRET_LINK,  # appointment code
    "POST /api/v1/halls/{hall_code}/appointments/{code}/cancel": SECRET_LINK,
    "GET /api/v1/halls/{hall_code}/stream": PUBLIC,
    "GET /halls/{hall_code}/kiosk": PUBLIC,
    "POST /halls/{hall_code}/kiosk/tickets": PUBLIC,
    "POST /halls/{hall_code}/kiosk/check-in": SECRET_LINK,
    "GET /halls/{hall_code}/display": PUBLIC,
    "GET /halls/{hall_code}/my-ticket": PUBLIC,
    "GET /halls/{hall_code}/my-ticket/panel": PUBLIC,
    "GET /t/{public_id}": SECRET_LINK,
    "POST /t/{public_id}/cancel": SECRET_LINK,
    "GET /api/v1/tickets/{public_id}": SECRET_LINK,
    "POST /api/v1/tickets/{public_id}/cancel": SECRET_LINK,
    "GET /t/{public_id}/panel": SECRET_LINK,
    "GET /halls/{hall_code}/windows/{number}": OPERATE,
    "GET /halls/{hall_code}/windows/{number}/panel": OPERATE,
    "POST /halls/{hall_code}/windows/{number}/{action}": OPERATE,
    "GET /halls/{hall_code}/manage": MANAGE,
    "GET /halls/{hall_code}/manage/live": MANAGE,
    "POST /halls/{hall_code}/manage/close-day": MANAGE,
    "POST /halls/{hall_code}/manage/sweep-appointments": MANAGE,
    "GET /halls/{hall_code}/appointments": PUBLIC,
    "POST /halls/{hall_code}/appointments": PUBLIC,
    "POST /halls/{hall_code}/appointments/cancel": SECRET_LINK,
    # ratings: citizens rate by link; callbacks, rectification and appeals are the hall
    # staff's (not the auditor's), closing and reviewing appeals the manager's
    "POST /api/v1/ratings/tickets/{public_id}": SECRET_LINK,
    "POST /api/v1/ratings/matters": HOTLINE,
    "GET /api/v1/ratings/figures": VIEW,
    "GET /api/v1/ratings/cases": VIEW,
    "GET /api/v1/ratings/cases/{case_id}": VIEW,
    "POST /api/v1/ratings/cases/{case_id}/callback": OPERATE,
    "POST /api/v1/ratings/cases/{case_id}/rectify": OPERATE,
    "POST /api/v1/ratings/cases/{case_id}/close": MANAGE,
    "POST /api/v1/ratings/cases/{case_id}/appeal": OPERATE,
    "POST /api/v1/ratings/cases/{case_id}/review": MANAGE,
    "POST /api/v1/surveys": MANAGE,
    "POST /api/v1/surveys/{code}/publish": MANAGE,
    "POST /api/v1/surveys/{code}/close": MANAGE,
    "GET /api/v1/surveys/{code}": PUBLIC,
    "POST /api/v1/surveys/{code}/responses": PUBLIC,
    "GET /api/v1/surveys/{code}/gaps": VIEW,
    "GET /api/v1/surveys/halls/{hall_code}/gaps": VIEW,
    # the window's rating pad shows the served ticket's rating link: the registered pad only
    "GET /halls/{hall_code}/windows/{number}/pad": DEVICE_KEY,
    "GET /halls/{hall_code}/windows/{number}/pad/panel": DEVICE_KEY,
    "POST /halls/{hall_code}/windows/{number}/pad/rate": DEVICE_KEY,
    "POST /halls/{hall_code}/windows/{number}/pad/pair": DEVICE_KEY,
    "GET /r/{public_id}": SECRET_LINK,
    "POST /r/{public_id}": SECRET_LINK,
    "GET /ratings/cases": VIEW,
    "GET /ratings/cases/{case_id}": VIEW,
    "POST /ratings/cases/{case_id}/callback": OPERATE,
    "POST /ratings/cases/{case_id}/rectify": OPERATE,
    "POST /ratings/cases/{case_id}/close": MANAGE,
    "POST /ratings/cases/{case_id}/appeal": OPERATE,
    "POST /ratings/cases/{case_id}/review": MANAGE,
    "GET /surveys/{code}": PUBLIC,
    "POST /surveys/{code}": PUBLIC,
    "GET /surveys": MANAGE,
    "POST /surveys": MANAGE,
    "POST /surveys/{code}/publish": MANAGE,
    "POST /surveys/{code}/close": MANAGE,
    # indicators and insight: the framework (how performance is measured) is published
    "GET /api/v1/indicators/framework": PUBLIC,
    "GET /api/v1/indicators/scores": VIEW,
    "GET /api/v1/indicators/drilldown": VIEW,
    "GET /indicators/scorecards": VIEW,
    "GET /indicators/drilldown": VIEW,
    "GET /indicators/scorecards.xlsx": VIEW,
    "GET /indicators/scorecards.pdf": VIEW,
    "GET /api/v1/halls/{hall_code}/demand": VIEW,
    "GET /api/v1/halls/{hall_code}/demand/compare": VIEW,
    "GET /api/v1/halls/{hall_code}/anomalies": VIEW,
    "GET /api/v1/halls/{hall_code}/anomalies/{anomaly_id:int}": VIEW,
    "POST /api/v1/halls/{hall_code}/anomalies/scan": MANAGE,
    "GET /insight": VIEW,
    "GET /insight/{hall_code}": VIEW,
    "GET /insight/{hall_code}/demand": VIEW,
    "GET /insight/{hall_code}/compare": VIEW,
    "GET /insight/{hall_code}/anomalies": VIEW,
    "POST /insight/{hall_code}/anomalies/scan": MANAGE,
    "GET /insight/{hall_code}/anomalies/{anomaly_id}": VIEW,
    "GET /api/v1/halls/{hall_code}/forecast": VIEW,
    "GET /api/v1/halls/{hall_code}/staffing": VIEW,
    "PUT /api/v1/halls/{hall_code}/staffing/target": MANAGE,
    "GET /api/v1/halls/{hall_code}/best-time": PUBLIC,  # when to come, for citizens
    "GET /insight/{hall_code}/forecast": VIEW,
    "GET /insight/{hall_code}/staffing": VIEW,
    "POST /insight/{hall_code}/staffing/target": MANAGE,
    "GET /best-time/{hall_code}": PUBLIC,
    "GET /api/v1/halls/{hall_code}/recommendations": VIEW,
    "GET /insight/{hall_code}/recommendations": VIEW,
    # improvement actions: the hall manager's
    "GET /api/v1/halls/{hall_code}/actions": MANAGE,
    "POST /api/v1/halls/{hall_code}/actions": MANAGE,
    "GET /api/v1/halls/{hall_code}/actions/{action_id}": MANAGE,
    "POST /api/v1/halls/{hall_code}/actions/{action_id}/start": MANAGE,
    "POST /api/v1/halls/{hall_code}/actions/{action_id}/complete": MANAGE,
    "POST /api/v1/halls/{hall_code}/actions/{action_id}/cancel": MANAGE,
    "POST /api/v1/halls/{hall_code}/actions/{action_id}/effect": MANAGE,
    "POST /api/v1/halls/{hall_code}/anomalies/{anomaly_id}/assessment": MANAGE,
    "GET /insight/{hall_code}/loop": MANAGE,
    "POST /insight/{hall_code}/anomalies/{anomaly_id}/assess": MANAGE,
    "POST /insight/{hall_code}/actions": MANAGE,
    "GET /insight/{hall_code}/actions/{action_id}": MANAGE,
    "POST /insight/{hall_code}/actions/{action_id}/start": MANAGE,
    "POST /insight/{hall_code}/actions/{action_id}/complete": MANAGE,
    "POST /insight/{hall_code}/actions/{action_id}/cancel": MANAGE,
    "POST /insight/{hall_code}/actions/{action_id}/measure": MANAGE,
    # hotline: agents and department handlers; citizens report, track and rate by order
    # number and phone; Open311 clients read freely and submit with their api_key
    "POST /api/v1/hotline/orders": HOTLINE,
    "GET /api/v1/hotline/orders": HOTLINE,
    "GET /api/v1/hotline/orders/{order_id}": HOTLINE,
    "GET /api/v1/hotline/orders/{order_id}/duplicates": HOTLINE,
    "GET /api/v1/hotline/suggest": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/dispatch": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/sign": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/progress": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/return": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/return-review": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/answer": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/reject-answer": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/close": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/direct-answer": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/supervise": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/callback": HOTLINE,
    "POST /api/v1/hotline/orders/{order_id}/merge": HOTLINE,
    "GET /hotline": HOTLINE,
    "GET /hotline/orders/new": HOTLINE,
    "GET /hotline/orders/suggest": HOTLINE,
    "POST /hotline/orders/new": HOTLINE,
    "GET /hotline/orders": HOTLINE,
    "GET /hotline/orders/{order_id}": HOTLINE,
    "POST /hotline/orders/{order_id}/act/{action}": HOTLINE,
    "GET /hotline/report": PUBLIC,
    "GET /m/hotline": PUBLIC,
    "POST /hotline/report": PUBLIC,
    # matters (办件): 受理 at the window, the department's workbench, the citizen's tracker
    "GET /halls/{hall_code}/windows/{number}/matters/new": OPERATE,
    "POST /halls/{hall_code}/windows/{number}/matters/new": OPERATE,
    "POST /api/v1/halls/{hall_code}/windows/{number}/accept": OPERATE,
    "GET /matters": MATTER,
    "GET /matters/{number}": MATTER,
    "POST /matters/{number}/contact": MATTER,
    "POST /matters/{number}/actions/{action}": MATTER,
    "POST /matters/{number}/delivery": MATTER,
    "POST /matters/{number}/ship": MATTER,
    "GET /api/v1/matters": MATTER,
    "GET /api/v1/matters/{number}": MATTER,
    "POST /api/v1/matters/{number}/actions/{action}": MATTER,
    "POST /api/v1/matters/{number}/delivery": MATTER,
    "POST /api/v1/matters/{number}/ship": MATTER,
    "POST /api/v1/couriers/{code}/push": API_KEY,
    # the SMS gateway's delivery reports and inbound messages (signed / token, no session)
    "GET /api/v1/notify/kannel/dlr": API_KEY,
    "POST /api/v1/notify/kannel/dlr": API_KEY,
    "GET /api/v1/notify/kannel/inbound": API_KEY,
    "POST /api/v1/notify/kannel/inbound": API_KEY,
    "GET /matters/track": PUBLIC,
    "POST /matters/track/delivery": PUBLIC,
    "POST /matters/track/rate": PUBLIC,
    "GET /api/v1/public/matters/{number}": PUBLIC,
    "GET /hotline/track": PUBLIC,
    "POST /hotline/track/rate": PUBLIC,
    "GET /api/v1/hotline/kb/suggest": PUBLIC,
    "GET /api/v1/hotline/kb/search": HOTLINE,
    "GET /api/v1/hotline/kb/articles": HOTLINE,
    "GET /api/v1/hotline/kb/expiring": HOTLINE,
    "POST /api/v1/hotline/kb/articles": HOTLINE,
    "GET /api/v1/hotline/kb/articles/{article_id}": HOTLINE,
    "PATCH /api/v1/hotline/kb/articles/{article_id}": HOTLINE,
    "POST /api/v1/hotline/kb/articles/{article_id}/versions": HOTLINE,
    "POST /api/v1/hotline/kb/articles/{article_id}/retire": HOTLINE,
    "POST /api/v1/hotline/kb/articles/{article_id}/use": HOTLINE,
    "POST /api/v1/hotline/kb/versions/{version_id}/submit": HOTLINE,
    "POST /api/v1/hotline/kb/versions/{version_id}/review": HOTLINE,
    "GET /hotline/kb/suggest": PUBLIC,
    "GET /hotline/kb": HOTLINE,
    "GET /hotline/kb/new": HOTLINE,
    "POST /hotline/kb/new": HOTLINE,
    "GET /hotline/kb/{article_id}": HOTLINE,
    "GET /hotline/kb/{article_id}/edit": HOTLINE,
    "POST /hotline/kb/{article_id}/edit": HOTLINE,
    "POST /hotline/kb/{article_id}/versions/{version_id}/submit": HOTLINE,
    "POST /hotline/kb/{article_id}/versions/{version_id}/review": HOTLINE,
    "POST /hotline/kb/{article_id}/retire": HOTLINE,
    "POST /hotline/kb/{article_id}/settings": HOTLINE,
    "GET /api/v1/hotline/topics": HOTLINE,
    "POST /api/v1/hotline/topics/{alert_id}/acknowledge": HOTLINE,
    "GET /hotline/topics": HOTLINE,
    "POST /hotline/topics/scan": HOTLINE,
    "POST /hotline/topics/{alert_id}/acknowledge": HOTLINE,
    "GET /api/v1/hotline/dashboard": HOTLINE,
    "GET /hotline/dashboard": HOTLINE,
    "GET /open311/v2/discovery.{fmt}": PUBLIC,
    "GET /open311/v2/services.{fmt}": PUBLIC,
    "GET /open311/v2/services/{service_code}.{fmt}": PUBLIC,
    "POST /open311/v2/requests.{fmt}": API_KEY,
    "GET /open311/v2/requests.{fmt}": PUBLIC,
    "GET /open311/v2/requests/{service_request_id}.{fmt}": PUBLIC,
    "GET /open311/v2/tokens/{token}.{fmt}": PUBLIC,
    "DELETE /open311/v2/{path:path}": PUBLIC,
    "GET /open311/v2/{path:path}": PUBLIC,
    "HEAD /open311/v2/{path:path}": PUBLIC,
    "OPTIONS /open311/v2/{path:path}": PUBLIC,
    "PATCH /open311/v2/{path:path}": PUBLIC,
    "POST /open311/v2/{path:path}": PUBLIC,
    "PUT /open311/v2/{path:path}": PUBLIC,
    # data platform: the data steward's; systems push with their source key, devices send
    # heartbeats with their credential
    "POST /api/ingest/{source_key}/batch": API_KEY,
    "GET /api/ingest/sources": STEWARD,
    "POST /api/ingest/sources/{source_key}/files": STEWARD,
    "GET /api/ingest/runs": STEWARD,
    "GET /api/ingest/runs/{run_id}": STEWARD,
    "GET /api/ingest/dead-letters": STEWARD,
    "GET /api/ingest/dead-letters/{dead_letter_id:int}": STEWARD,
    "POST /api/ingest/dead-letters/replay": STEWARD,
    "POST /api/ingest/dead-letters/{dead_letter_id}/discard": STEWARD,
    "GET /ingest": STEWARD,
    "POST /ingest/upload": STEWARD,
    "GET /ingest/runs/{run_id}": STEWARD,
    "GET /ingest/dead-letters": STEWARD,
    "GET /ingest/dead-letters/{dead_letter_id}": STEWARD,
    "POST /ingest/dead-letters/replay": STEWARD,
    "POST /ingest/dead-letters/{dead_letter_id}/replay": STEWARD,
    "POST /ingest/dead-letters/{dead_letter_id}/discard": STEWARD,
    "GET /api/devices": VIEW,
    "POST /api/devices": MANAGE,
    "GET /api/devices/{code}": VIEW,
    "POST /api/devices/{code}/revoke": MANAGE,
    "POST /api/devices/{code}/key": MANAGE,
    "POST /api/devices/{code}/heartbeat": DEVICE_KEY,
    "GET /devices": VIEW,
    "POST /devices": MANAGE,
    "GET /api/docs": PUBLIC,
    "GET /devices/{code}": VIEW,
    "POST /devices/{code}/revoke": MANAGE,
    "GET /api/catalog/datasets": STEWARD,
    "GET /api/catalog/datasets/{key}": STEWARD,
    "POST /api/catalog/profile": STEWARD,
    "GET /api/tags": STEWARD,
    "POST /api/tags/compute": STEWARD,
    "GET /api/tags/{code}/subjects": STEWARD,
    "GET /api/subjects/tags": STEWARD,
    "GET /api/graph/neighborhood": STEWARD,
    "GET /api/graph/path": STEWARD,
    "GET /api/graph/search": STEWARD,
    "GET /catalog": STEWARD,
    "POST /catalog/profile": STEWARD,
    "GET /catalog/{key}": STEWARD,
    "GET /tags": STEWARD,
    "POST /tags/compute": STEWARD,
    "GET /tags/{code}": STEWARD,
    "GET /graph": STEWARD,
    "GET /api/v1/subjects/masters": STEWARD,
    "GET /api/v1/subjects/masters/{master_id}": STEWARD,
    "GET /api/v1/subjects/conflicts": STEWARD,
    "POST /api/v1/subjects/conflicts/{conflict_id}/resolve": STEWARD,
    "POST /api/v1/subjects/link": STEWARD,
    "GET /api/v1/subjects/quality": STEWARD,
    "GET /api/v1/subjects/check/{kind}/{value}": STEWARD,
    # mending master records: split, move, "not the same person", the suspected wrong merges
    "POST /api/v1/subjects/masters/{master_id}/split": STEWARD,
    "POST /api/v1/subjects/records/{record_id}/move": STEWARD,
    "POST /api/v1/subjects/not-same": STEWARD,
    "GET /api/v1/subjects/suspicious": STEWARD,
    "GET /subjects": STEWARD,
    "POST /subjects/link": STEWARD,
    "GET /subjects/conflicts": STEWARD,
    "POST /subjects/conflicts/{conflict_id}/resolve": STEWARD,
    "GET /subjects/quality": STEWARD,
    "POST /subjects/quality/run": STEWARD,
    "GET /subjects/quality/feedback/{source_key}.xlsx": STEWARD,
    "GET /subjects/{master_id}": STEWARD,
    "GET /subjects/suspicious": STEWARD,
    "POST /subjects/{master_id}/split": STEWARD,
    "POST /subjects/{master_id}/records/{record_id}/move": STEWARD,
    "POST /subjects/{master_id}/not-same": STEWARD,
    # field workbench: field staff; its devices are registered and revoked by a manager
    "POST /api/v1/field/devices": FIELD,
    "GET /api/v1/field/tasks": FIELD,
    "GET /api/v1/field/tasks/{task_id}": FIELD,
    "POST /api/v1/field/tasks/{task_id}/grant": FIELD,
    "GET /api/v1/field/case": FIELD,
    "GET /api/v1/field/key": FIELD,
    "POST /api/v1/field/grants/status": FIELD,
    "POST /api/v1/field/tasks/{task_id}/submissions": FIELD,
    "POST /api/v1/field/purged": FIELD,
    "GET /api/v1/field/devices": MANAGE,
    "POST /api/v1/field/devices/{device_pk}/revoke": MANAGE,
    "GET /field": PUBLIC,
    "GET /field/": FIELD,
    "GET /field/manifest.webmanifest": PUBLIC,
    "GET /field/sw.js": PUBLIC,
    "POST /field/logout": PUBLIC,
    "GET /field/devices": MANAGE,
    "POST /field/devices/{device_pk}/revoke": MANAGE,
    # purpose-bound access: grants for the case one holds (the service checks the case);
    # emergency access for hall staff, never for the auditor who reviews it
    "POST /api/v1/access/grants": SIGNED_IN,
    "GET /api/v1/access/data": SIGNED_IN,
    "GET /api/v1/access/key": SIGNED_IN,
    "POST /api/v1/access/cases/{case_type}/{case_id}/applicant": SIGNED_IN,
    # the policy names who may break glass and who approves (access/policy.yaml): the
    # route admits any signed-in user and the service refuses the others, recording it
    "POST /api/v1/access/break-glass": SIGNED_IN,
    "GET /api/v1/access/break-glass/mine": SIGNED_IN,
    "GET /api/v1/access/break-glass/requests": SIGNED_IN,
    "POST /api/v1/access/break-glass/{grant_id}/approval": SIGNED_IN,
    "GET /access/break-glass/approvals": SIGNED_IN,
    "POST /access/break-glass/{grant_id}/approval": SIGNED_IN,
    "GET /api/v1/access/alerts": AUDIT,
    "POST /api/v1/access/alerts/{alert_id}/acknowledge": AUDIT,
    "POST /access/alerts/{alert_id}/acknowledge": AUDIT,
    "POST /halls/{hall_code}/windows/{number}/case-data/break-glass": OPERATE,
    "GET /halls/{hall_code}/windows/{number}/case-data/break-glass/{grant_id}": OPERATE,
    "GET /api/v1/access/policy": PUBLIC,
    "GET /api/v1/access/audit/verify": AUDIT,
    "GET /api/v1/access/activity": AUDIT,
    "POST /api/v1/access/break-glass/{grant_id}/review": AUDIT,
    "GET /access/policy": PUBLIC,
    "GET /access/audit": AUDIT,
    "POST /access/audit/anchor": AUDIT,
    "POST /access/break-glass/{grant_id}/review": AUDIT,
    "GET /my-data": PUBLIC,
    "POST /my-data": PUBLIC,
    # the citizen's opt-out on the tracker: the signed token of the verification just done
    # is the authority (no token, nothing changes)
    "POST /my-data/notifications": PUBLIC,
    "GET /halls/{hall_code}/windows/{number}/case-data": OPERATE,
    "POST /halls/{hall_code}/windows/{number}/case-data/applicant": OPERATE,
    # one's own account
    "GET /account/password": SIGNED_IN,
    "POST /account/password": SIGNED_IN,
    # the configuration console
    "GET /admin": CONFIG,
    "GET /admin/catalogue": CONFIG,
    "POST /admin/catalogue": CONFIG,
    "GET /admin/catalogue/template.xlsx": CONFIG,
    "GET /admin/catalogue/export.xlsx": CONFIG,
    "GET /admin/changes": CONFIG,
    "GET /api/v1/admin/catalogue/template": CONFIG,
    "GET /api/v1/admin/catalogue/export": CONFIG,
    "POST /api/v1/admin/catalogue/import": CONFIG,
    "GET /api/v1/admin/changes": CONFIG,
    "GET /insight/{hall_code}/actions/{action_id}/apply": MANAGE,
    "POST /insight/{hall_code}/actions/{action_id}/apply": MANAGE,
    "GET /admin/hotline": CONFIG,
    "POST /admin/hotline/categories": CONFIG,
    "POST /admin/hotline/categories/{code}/archive": CONFIG,
    "POST /admin/hotline/time-limits": CONFIG,
    "GET /api/v1/admin/hotline/categories": CONFIG,
    "PUT /api/v1/admin/hotline/categories/{code}": CONFIG,
    "GET /api/v1/admin/hotline/time-limits": CONFIG,
    "PUT /api/v1/admin/hotline/time-limits": CONFIG,
    "POST /admin/config/scheduled/{change_id}/cancel": CONFIG,
    "GET /admin/config/{kind}": CONFIG,
    "POST /admin/config/{kind}": CONFIG,
    "POST /admin/config/{kind}/archive": CONFIG,
    "POST /admin/config/halls/calendar": CONFIG,
    "GET /api/v1/admin/config/{kind}": CONFIG,
    "PUT /api/v1/admin/config/{kind}": CONFIG,
    "POST /api/v1/admin/config/{kind}/archive": CONFIG,
    # notifications: the administrator's log, its API and the dead-letter retry
    "GET /notify/log": CONFIG,
    "POST /notify/log/{notification_id}/retry": CONFIG,
    "GET /api/v1/notifications": CONFIG,
    "GET /api/v1/notifications/{notification_id}": CONFIG,
    "POST /api/v1/notifications/{notification_id}/retry": CONFIG,
    # probes and administration (last: the account rows may deactivate the admin)
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": API_KEY,
    "GET /admin/users": USERS,
    "GET /admin/users/{user_id}": USERS,
    "POST /admin/users/{user_id}/deactivate": USERS,
    "POST /admin/users/{user_id}/activate": USERS,
    "POST /admin/users/{user_id}/password": USERS,
    "POST /admin/users/{user_id}/sessions/revoke": USERS,
    "POST /admin/users/{user_id}/sessions/{session_id}/revoke": USERS,
    "POST /admin/users/{user_id}/tokens/{token_id}/revoke": USERS,
}

# Rows whose route does not behave as the table says yet, each waiting for a fix that is
# under way elsewhere. Their tests are strict xfails: when the fix lands they pass, fail as
# "XPASS(strict)", and the row must be removed from here.
PENDING_FIXES: dict[str, str] = {}

# Event streams never end: their guard is checked by the declaration, not by a request.
STREAMS = {"GET /api/v1/halls/{hall_code}/stream"}

# Routes FastAPI or Starlette add themselves; they carry no dependencies, so they are
# declared here.
NON_API_ROUTES: dict[str, str] = {
    "GET /api/openapi.json": PUBLIC,
    "MOUNT /static": PUBLIC,
}

# Refusals by the route's own finer rules, met with placeholder input, are not the guard's:
# by row, the error codes an admitted caller may get (PAGE: a page re-shown with the message).
# Any other 401/403 to an admitted caller fails, and so does a guard's own code
# (ROUTE_GUARD_CODES) whatever this says.
PAGE = "(page)"
SERVICE_REFUSALS: dict[str, frozenset[str]] = {
    # break-glass: roles the policy does not name, and approvers only for approvals
    "POST /api/v1/access/break-glass": frozenset({"break_glass_not_allowed"}),
    **dict.fromkeys(
        [
            "GET /api/v1/access/break-glass/requests",
            "POST /api/v1/access/break-glass/{grant_id}/approval",
            "GET /access/break-glass/approvals",
            "POST /access/break-glass/{grant_id}/approval",
        ],
        frozenset({"not_an_approver"}),
    ),
    # the placeholder credentials are wrong: 401 and the form again
    "POST /login": frozenset({PAGE}),
    # the hotline centre's work (hotline.journal.CENTER_ROLES): agents, not department handlers
    **dict.fromkeys(
        [
            "GET /api/v1/hotline/orders/{order_id}/duplicates",
            "GET /hotline/orders/new",
            "POST /api/v1/hotline/topics/{alert_id}/acknowledge",
            "POST /hotline/topics/scan",
            "POST /hotline/topics/{alert_id}/acknowledge",
        ],
        frozenset({"center_only"}),
    ),
    "POST /hotline/orders/new": frozenset({PAGE}),  # center_only, on the form
    # the field API answers only a device its user registered (X-Device-Id)
    **dict.fromkeys(
        [
            "GET /api/v1/field/tasks",
            "GET /api/v1/field/tasks/{task_id}",
            "POST /api/v1/field/tasks/{task_id}/grant",
            "GET /api/v1/field/case",
            "GET /api/v1/field/key",
        ],
        frozenset({"device_unregistered"}),
    ),
    # case data and its key are read with a grant's token (X-Grant-Token)
    "GET /api/v1/access/data": frozenset({"bad_grant_token"}),
    "GET /api/v1/access/key": frozenset({"bad_grant_token"}),
}

# Path parameters by name; any other is 1. DEMO is the ingest source and the device the
# fixture registers (so the key checks are reached); there is no hall DEMO.
PLACEHOLDERS = {
    "hall_code": "DEMO",
    "code": "DEMO",
    "public_id": "DEMO",
    "source_key": "DEMO",
    "key": "DEMO",
    "service_code": "DEMO",
    "token": "DEMO",
    "fmt": "json",
    "locale": "en",
    "path": "nothing-here",
    "action": "call-next",
    "case_type": "ticket",
    "kind": "resident_id",
}
ROUTE_GUARD_CODES = {"not_authenticated", "invalid_token", "permission_denied", "csrf_failed"}

APP = create_app(run_jobs=False)
DECLARATIONS = access_rules.declarations(APP)
DECLARED = {d.key: d for d in DECLARATIONS}


def _rows(*, live: bool) -> list[Any]:
    return [
        pytest.param(
            row,
            id=row,
            marks=[pytest.mark.xfail(strict=True, reason=PENDING_FIXES[row])]
            if row in PENDING_FIXES
            else [],
        )
        for row in TABLE
        if not (live and row in STREAMS)
    ]


# --- the declarations ---------------------------------------------------------------------


def test_roles_hold_the_permissions_the_table_assumes():
    assert {r.value for r in Role} == ROLES
    for permission in Permission:
        holders = {r.value for r in Role if permission in ROLE_PERMISSIONS[r]}
        assert WHO[perm(permission)] == holders, permission


def test_every_route_declares_exactly_one_rule():
    wrong = [
        f"{d.key} ({d.endpoint}) declares {', '.join(d.rules) or 'nothing'}"
        for d in DECLARATIONS
        if len(d.rules) != 1
    ]
    assert not wrong, (
        "every route declares exactly one access rule — a require(...) or current_user guard, "
        "or Depends(public) / Depends(secret_link) / Depends(api_key) (govloop.core.deps):\n"
        + "\n".join(wrong)
    )
    assert len(DECLARED) == len(DECLARATIONS), "two routes share a method and path"


def test_every_route_is_in_the_table():
    missing = [
        f'    "{d.key}": {d.rules[0] if d.rules else "?"!r},'
        for d in DECLARATIONS
        if d.key not in TABLE
    ]
    assert not missing, "routes missing from TABLE (declared rule shown):\n" + "\n".join(missing)
    others = set()
    for route in APP.routes:
        if isinstance(route, Mount):
            others.add(f"MOUNT {route.path}")
        elif isinstance(route, Route) and not isinstance(route, APIRoute):
            others.update(f"{m} {route.path}" for m in route.methods or () if m != "HEAD")
    assert others == set(NON_API_ROUTES)


def test_table_rules_are_known():
    assert set(TABLE.values()) <= set(WHO), set(TABLE.values()) - set(WHO)
    assert set(PENDING_FIXES) <= set(TABLE)
    assert set(SERVICE_REFUSALS) <= set(TABLE)
    assert not set().union(*SERVICE_REFUSALS.values()) & ROUTE_GUARD_CODES


def test_event_streams_are_listed():
    def streams(route: APIRoute) -> bool:
        returns = route.endpoint.__annotations__.get("return")
        return returns in (StreamingResponse, EventSourceResponse) or returns in (
            "StreamingResponse",
            "EventSourceResponse",
        )

    assert {d.key for d in DECLARATIONS if streams(d.route)} == STREAMS


@pytest.mark.parametrize("row", _rows(live=False))
def test_route_declares_what_the_table_says(row: str):
    declared = DECLARED.get(row)
    if declared is None:
        pytest.fail(f"TABLE has a row for {row}, but there is no such route")
    assert declared.rules == (TABLE[row],), f"{row} ({declared.endpoint})"


# --- the live application -----------------------------------------------------------------


@dataclass
class Live:
    engine: Engine
    client: TestClient
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module")
def live(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The application on one database: one user per role with an API token, the ingest
    source and the device the placeholders name."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVLOOP_DATA_DIR", str(tmp_path_factory.mktemp("route-matrix")))
        # unknown usernames are verified against this hash: the tests' cheap parameters too
        mp.setattr(auth, "_DUMMY_HASH", auth.hash_password("dummy"))
        set_engine(engine)
        clear_stats_cache()
        ratelimit.reset()
        headers: dict[str, dict[str, str]] = {ANONYMOUS: {}}
        with unit_of_work() as s:
            for role in Role:
                user = make_user(s, f"matrix-{role.value}", role)
                if role is Role.DEPARTMENT_HANDLER:
                    handler_id = user.id  # a handler acts for a department
                token = issue_api_token(session=s, user=user, name="route matrix")
                headers[role.value] = {
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                }
            create_source(
                session=s, key="DEMO", name="矩阵测试", kind="http", schema_name="hall_event"
            )
            devices.register_device(session=s, code="DEMO", kind="rating_pad", name="矩阵测试")
            department = Department(code="DEMO", name="矩阵测试部门")
            s.add(department)
            s.flush()
            s.add(DepartmentMember(user_id=handler_id, department_id=department.id))
        try:
            # one event loop for all requests (the app runs no timed duties)
            with TestClient(APP, raise_server_exceptions=False) as client:
                yield Live(engine, client, headers)
        finally:
            set_engine(None)
            _wipe(engine)
            clear_stats_cache()


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PLACEHOLDERS.get(m.group(1), "1"), path)


def _refused(caller: str, method: str, status: int, location: str) -> bool:
    if status in (401, 403):
        return True
    # a page asks an anonymous visitor to sign in
    return (
        caller == ANONYMOUS
        and method in ("GET", "HEAD")
        and status == 303
        and location.startswith("/login?next=")
    )


def _error_code(response: Any) -> str:
    if "json" not in response.headers.get("content-type", ""):
        return PAGE
    try:
        body = response.json()
    except ValueError:  # HEAD
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""


@pytest.mark.parametrize("row", _rows(live=True))
def test_callers_get_what_the_table_says(live: Live, row: str):
    if row not in DECLARED:
        pytest.fail(f"TABLE has a row for {row}, but there is no such route")
    set_engine(live.engine)  # in case another module's test ran in between
    method, path = row.split(" ", 1)
    url = _url(path)
    admitted = WHO[TABLE[row]]
    problems = []
    for caller in CALLERS:
        live.client.cookies.clear()  # every caller comes without a session
        response = live.client.request(
            method, url, headers=live.headers[caller], follow_redirects=False
        )
        status = response.status_code
        refused = _refused(caller, method, status, response.headers.get("location", ""))
        code = _error_code(response)
        said = f"{status} {code}"
        if status >= 500:
            problems.append(f"{caller}: server error {said}")
        elif (
            caller in admitted
            and refused
            and (code in ROUTE_GUARD_CODES or code not in SERVICE_REFUSALS.get(row, ()))
        ):
            problems.append(f"{caller} is admitted but was refused: {said}")
        elif caller not in admitted and not refused:
            problems.append(f"{caller} is not admitted but got {said}")
    assert not problems, f"{method} {url} ({TABLE[row]}):\n" + "\n".join(problems)


def test_non_api_routes_answer_anyone():
    client = TestClient(APP)
    for key in NON_API_ROUTES:
        kind, path = key.split(" ", 1)
        url = path if kind != "MOUNT" else f"{path}/favicon.svg"
        assert client.get(url).status_code == 200, key
