"""The hall's routers and timed duties, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every
from govloop.hall import api, appointment_pages, case_data_pages, manage_pages, pages, stream
from govloop.hall import jobs as hall_jobs
from govloop.hall.metrics import hall_gauges


def _run_hall_jobs() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "hall-jobs"):
            hall_jobs.run_all_halls(session=session)


ROUTERS: list[APIRouter] = [
    api.router,
    api.citizen_router,
    stream.router,
    pages.router,
    manage_pages.router,
    appointment_pages.router,
    case_data_pages.router,
]
JOBS: list[Job] = [Job("hall jobs", _run_hall_jobs, every(hall_jobs.JOB_INTERVAL_S), every(0))]
GAUGES = [("hall", hall_gauges)]
