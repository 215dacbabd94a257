"""The insight routers and timed duties (indicator refresh, then the anomaly watch), for the
application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.jobs import Job
from govloop.core.settings import get_settings
from govloop.indicators import service as indicator_service
from govloop.insight import api, pages, recommend_pages, watch
from govloop.insight.planning import api as planning_api
from govloop.insight.planning import pages as planning_pages


def _refresh_indicators() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "indicator-refresh"):
            indicator_service.refresh(session=session, settle_seconds=5)
    # new figures may hold anomalies: watch them as soon as they are stored
    with unit_of_work(readonly=True) as reader:
        found = watch.find_all(session=reader)
    with unit_of_work() as session:
        if try_job_lock(session, "anomaly-scan"):
            for hall in found:
                watch.store(session=session, found=hall)


def _refresh_interval() -> float:
    return float(get_settings().indicator_refresh_seconds)


ROUTERS: list[APIRouter] = [
    api.router,
    pages.router,
    planning_api.router,
    planning_pages.router,
    recommend_pages.api_router,
    recommend_pages.router,
]
# The first refresh waits one interval: a restart is not a reason to recompute.
JOBS: list[Job] = [
    Job("indicator refresh", _refresh_indicators, _refresh_interval, _refresh_interval)
]
