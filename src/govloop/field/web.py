"""The field workbench's routers, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.field import api, pages

ROUTERS: list[APIRouter] = [api.router, pages.router]
JOBS: list[Job] = []
