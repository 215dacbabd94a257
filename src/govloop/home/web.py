"""Pages that belong to no domain: home, sign-in, the admin overview."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.home import account_pages, admin_pages, pages

ROUTERS: list[APIRouter] = [pages.router, account_pages.router, admin_pages.router]
JOBS: list[Job] = []
