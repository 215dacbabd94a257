"""The closed loop's routers, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.actions import action_pages, api, pages
from govloop.core.jobs import Job

ROUTERS: list[APIRouter] = [api.router, pages.router, action_pages.router]
JOBS: list[Job] = []
