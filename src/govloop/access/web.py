"""The access routers and timed duty (ending grants), for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.access import api, pages, service
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every

# How often grants are checked for a closed case or a passed time limit (seconds).
GRANT_SWEEP_S = 30.0


def _end_grants() -> None:
    """End data grants whose case closed or whose time limit passed."""
    with unit_of_work() as session:
        if try_job_lock(session, "access-sweep"):
            service.sweep(session=session)


ROUTERS: list[APIRouter] = [api.router, pages.router]
JOBS: list[Job] = [Job("access sweep", _end_grants, every(GRANT_SWEEP_S), every(10))]
