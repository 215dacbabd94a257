"""The configuration console's routers."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.setup import api, pages

ROUTERS: list[APIRouter] = [api.router, pages.router]
JOBS: list[Job] = []
