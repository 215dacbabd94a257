"""The configuration console's routers."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.setup import action_pages, api, hotline_pages, pages

ROUTERS: list[APIRouter] = [
    api.router,
    pages.router,
    action_pages.router,
    hotline_pages.router,
    hotline_pages.api,
]
JOBS: list[Job] = []
