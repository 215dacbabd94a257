"""The ingest and device routers, for the application to mount."""

from __future__ import annotations

from fastapi import APIRouter

from govloop.core.jobs import Job
from govloop.ingest import api, pages
from govloop.ingest.devices import api as devices_api
from govloop.ingest.devices import pages as devices_pages
from govloop.ingest.metrics import ingest_gauges

ROUTERS: list[APIRouter] = [api.router, pages.router, devices_api.router, devices_pages.router]
JOBS: list[Job] = []
GAUGES = [("ingest", ingest_gauges)]
