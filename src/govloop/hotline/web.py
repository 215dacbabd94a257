"""The hotline's routers and timed duties, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.clock import local_today
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every
from govloop.hotline import (
    api,
    citizen_pages,
    dashboard_api,
    dashboard_pages,
    kb_api,
    kb_pages,
    open311_api,
    pages,
    topics,
    topics_api,
    topics_pages,
    workflow,
)

# How often the deadline sweep runs (seconds).
DEADLINE_SWEEP_S = 30.0


def _sweep_deadlines() -> None:
    """Flag orders whose time limit is close or past (the supervision list reads them)."""
    with unit_of_work() as session:
        if try_job_lock(session, "hotline-jobs"):
            workflow.sweep_deadlines(session=session)


def _scan_hot_topics() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "hotline-topics"):
            topics.run_daily(session=session, today=local_today())


ROUTERS: list[APIRouter] = [
    api.router,
    pages.router,
    citizen_pages.router,
    kb_api.router,
    kb_pages.router,
    topics_api.router,
    topics_pages.router,
    dashboard_api.router,
    dashboard_pages.router,
    open311_api.router,
]
JOBS: list[Job] = [
    Job("hotline jobs", _sweep_deadlines, every(DEADLINE_SWEEP_S), every(5)),
    Job("hot topics", _scan_hot_topics, every(topics.JOB_INTERVAL_S), every(60)),
]
