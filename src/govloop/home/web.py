"""Pages that belong to no domain: home, sign-in, the admin overview."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.home import admin_pages, pages

ROUTERS: list[APIRouter] = [pages.router, admin_pages.router]
JOBS: list[Job] = []
