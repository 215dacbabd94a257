"""The matters domain's routers and timed duties, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every
from govloop.matters import api, ingest_consumer, pages, sweep
from govloop.matters.delivery import callback_api
from govloop.matters.delivery import jobs as delivery_jobs

# How often the deadline sweep runs (seconds).
DEADLINE_SWEEP_S = 60.0


def _sweep_deadlines() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "matters-deadlines"):
            sweep.sweep(session=session)


# citizen pages first: /matters/track must not be read as the matter numbered "track"
ROUTERS: list[APIRouter] = [
    pages.citizen_router,
    api.router,
    pages.router,
    callback_api.router,
]
JOBS: list[Job] = [
    Job("matter deadlines", _sweep_deadlines, every(DEADLINE_SWEEP_S), every(20)),
    # department records → matters, every 10 s (job lock "matters-ingest")
    ingest_consumer.JOB,
    *delivery_jobs.JOBS,
]
