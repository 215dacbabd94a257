"""The configuration console's routers."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every
from govloop.setup import action_pages, api, hotline_pages, pages, schedule

SCHEDULE_INTERVAL_S = 300.0


def _apply_scheduled() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "setup-scheduled"):
            schedule.apply_due(session=session)


ROUTERS: list[APIRouter] = [
    api.router,
    pages.router,
    action_pages.router,
    hotline_pages.router,
    hotline_pages.api,
]
JOBS: list[Job] = [
    Job("scheduled configuration", _apply_scheduled, every(SCHEDULE_INTERVAL_S), every(20))
]
