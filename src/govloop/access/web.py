"""The access routers and timed duties (ending grants, signing the audit log's head), for the
application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.access import api, pages, service
from govloop.audit import log as audit
from govloop.audit.metrics import audit_gauges
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every

# How often grants are checked for a closed case or a passed time limit (seconds).
GRANT_SWEEP_S = 30.0
# How often the audit log's head is signed (a checkpoint an auditor can anchor), seconds.
AUDIT_CHECKPOINT_S = 3600.0


def _end_grants() -> None:
    """End data grants whose case closed or whose time limit passed."""
    with unit_of_work() as session:
        if try_job_lock(session, "access-sweep"):
            service.sweep(session=session)


def _checkpoint_audit() -> None:
    """Sign the audit log's head, so a truncation after it can be told by any anchor."""
    with unit_of_work() as session:
        if try_job_lock(session, "audit-checkpoint"):
            audit.checkpoint_now(session=session)


ROUTERS: list[APIRouter] = [api.router, pages.router]
JOBS: list[Job] = [
    Job("access sweep", _end_grants, every(GRANT_SWEEP_S), every(10)),
    Job("audit checkpoint", _checkpoint_audit, every(AUDIT_CHECKPOINT_S), every(60)),
]
GAUGES = [("audit", audit_gauges)]
