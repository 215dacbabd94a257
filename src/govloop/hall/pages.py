"""Server-rendered pages of the service hall."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from govloop.core.deps import csrf_protect

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])
