"""Retention's timed duties: archiving old events, and creating the coming months'
partitions on PostgreSQL. Retention serves no pages."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.clock import local_today
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job, every
from govloop.core.settings import analytics_settings, get_settings
from govloop.retention import service

DAY_S = 24 * 3600.0


def _archive_old_events() -> None:
    settings = get_settings()
    if not settings.retention_days:
        return
    with unit_of_work() as session:
        if try_job_lock(session, "retention"):
            service.run(
                session=session,
                days=settings.retention_days,
                audit_days=settings.audit_retention_days or None,
                data_dir=analytics_settings().data_dir,
            )


def _create_partitions() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "partitions"):
            service.ensure_partitions(session, local_today())


ROUTERS: list[APIRouter] = []
JOBS: list[Job] = [
    Job("partitions", _create_partitions, every(DAY_S), every(30)),
    Job("retention", _archive_old_events, every(DAY_S), every(900)),
]
