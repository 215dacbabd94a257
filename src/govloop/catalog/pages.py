"""Routes of the data platform (filled in by the module's owner)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
