"""Where couriers push tracking events: ``POST /api/v1/couriers/{code}/push``. No user
session: each push proves itself by its courier's signature (``tracking.receive_push``);
refusals are recorded and answered with a JSON 4xx, a push taken with the courier's own
success answer (SF: ``{"return_code": "0000", "return_msg": "成功"}``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from govloop.core.bodies import LimitedRoute, body_limit
from govloop.core.db import get_session
from govloop.core.deps import api_key
from govloop.matters.delivery import tracking

router = APIRouter(prefix="/api/v1/couriers", tags=["couriers"], route_class=LimitedRoute)
MAX_PUSH_BYTES = 256 * 1024


async def _push_body(request: Request) -> bytes:
    # the route's body limit applies while it streams in
    return await request.body()


async def _headers(request: Request) -> dict[str, str]:
    return dict(request.headers)


@router.post("/{code}/push", dependencies=[Depends(api_key)])
@body_limit(lambda: MAX_PUSH_BYTES)
def courier_push(
    code: str,
    body: bytes = Depends(_push_body),
    headers: dict[str, str] = Depends(_headers),
    session: Session = Depends(get_session, scope="function"),
) -> dict[str, str]:
    """A tracking push from a courier (SF: 路由推送, form-encoded, signed)."""
    return tracking.receive_push(session=session, code=code, headers=headers, body=body)
