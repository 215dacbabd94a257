"""The hotline's routers and timed duties, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.clock import local_today
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every
from govloop.hotline.dashboard import api as dashboard_api
from govloop.hotline.dashboard import pages as dashboard_pages
from govloop.hotline.kb import api as kb_api
from govloop.hotline.kb import pages as kb_pages
from govloop.hotline.open311 import api as open311_api
from govloop.hotline.orders import api, citizen_pages, pages, workflow
from govloop.hotline.topics import api as topics_api
from govloop.hotline.topics import pages as topics_pages
from govloop.hotline.topics import service as topics

# How often the deadline sweep runs (seconds).
DEADLINE_SWEEP_S = 30.0


def _sweep_deadlines() -> None:
    """Flag orders whose time limit is close or past (the supervision list reads them)."""
    with unit_of_work() as session:
        if try_job_lock(session, "hotline-jobs"):
            workflow.sweep_deadlines(session=session)


def _scan_hot_topics() -> None:
    """Clustering a day's orders takes seconds of CPU: it reads in a transaction of its own,
    so on SQLite intake does not wait for the write lock meanwhile; storing is short."""
    today = local_today()
    with unit_of_work(readonly=True) as session:
        found = topics.find_due(session=session, today=today)
    if not found:
        return
    with unit_of_work() as session:
        if try_job_lock(session, "hotline-topics"):
            topics.store_due(session=session, found=found, today=today)


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
