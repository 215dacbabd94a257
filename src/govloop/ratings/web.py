"""The ratings' routers, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.ratings import api, pages, survey_api

ROUTERS: list[APIRouter] = [api.router, survey_api.router, pages.router]
JOBS: list[Job] = []
