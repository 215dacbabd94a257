"""The subject databases' routers, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.subjects import api, pages

ROUTERS: list[APIRouter] = [api.router, pages.router]
JOBS: list[Job] = []
