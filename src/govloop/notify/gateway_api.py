"""What Kannel calls: delivery reports (``dlr-url`` of each sent message) and inbound
messages (the ``get-url`` of an ``sms-service``). No user session: a report proves itself
by the HMAC in its URL, an inbound message by the configured token. Refusals are recorded
and answered with a JSON 4xx (``refusals``).

Kannel's escape codes used in the URLs: ``%d`` report type and ``%T`` its time (dlr-url);
``%p`` sender, ``%a`` the whole text, ``%I`` Kannel's message id (get-url). The inbound
answer is an empty body, and the service is configured with ``max-messages = 0`` and
``omit-empty = true``: Kannel sends no reply itself; replies go through the outbox.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from govloop.core.db import get_session
from govloop.core.deps import api_key
from govloop.notify import callbacks
from govloop.notify.channels.kannel import DLR_PATH, INBOUND_PATH

router = APIRouter(tags=["notify-gateway"])
_MAX_BODY = 8 * 1024
# Callbacks of this process inside at once. smsbox fires delivery reports as fast as the
# operator confirms (up to its max-pending-requests, 512 by default); two reports of one
# message lock the same row. Unbounded on PostgreSQL, the requests waiting for a row lock
# held worker threads until the holder's own next hop found none free, and the process
# stalled until the pool timed out (seen in bench notify). Waiting here, in the event loop,
# takes no thread and no connection.
GATEWAY_CONCURRENCY = 16
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def gateway_slot() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()
    slot = _slots.get(loop)
    if slot is None:
        slot = _slots.setdefault(loop, asyncio.Semaphore(GATEWAY_CONCURRENCY))
    async with slot:
        yield


def _dlr(
    session: Session, n: str, s: str, type_: str, ts: str | None, reply: str | None
) -> Response:
    notification = callbacks.record_dlr(
        session, notification_id=n, signature=s, dlr_type=type_, ts=ts, reply=reply
    )
    # a Response, not a dict: a response model would be validated in another worker
    # thread while the transaction is still open
    return JSONResponse({"ok": True, "id": notification.id, "status": str(notification.status)})


@router.get(DLR_PATH, dependencies=[Depends(api_key)])
def kannel_dlr(
    n: str = Query("", max_length=20),
    s: str = Query("", max_length=128),
    type_: str = Query("", alias="type", max_length=8),
    ts: str | None = Query(None, max_length=20),
    reply: str | None = Query(None, max_length=300),
    _slot: None = Depends(gateway_slot, scope="function"),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """A delivery report from Kannel (its ``dlr-url``)."""
    return _dlr(session, n, s, type_, ts, reply)


@router.post(DLR_PATH, dependencies=[Depends(api_key)])
def kannel_dlr_post(
    n: str = Query("", max_length=20),
    s: str = Query("", max_length=128),
    type_: str = Query("", alias="type", max_length=8),
    ts: str | None = Query(None, max_length=20),
    reply: str | None = Query(None, max_length=300),
    _slot: None = Depends(gateway_slot, scope="function"),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The same report, for gateways configured to POST it (parameters in the URL)."""
    return _dlr(session, n, s, type_, ts, reply)


def _inbound(session: Session, token: str, sender: str, text: str, message_id: str) -> Response:
    callbacks.receive_kannel_inbound(
        session, token=token, sender=sender, text=text, message_id=message_id
    )
    return Response(content=b"", status_code=200, media_type="text/plain")


@router.get(INBOUND_PATH, dependencies=[Depends(api_key)])
def kannel_inbound(
    token: str = Query("", max_length=200),
    from_: str = Query("", alias="from", max_length=40),
    text: str = Query("", max_length=2000),
    id_: str = Query("", alias="id", max_length=100),
    _slot: None = Depends(gateway_slot, scope="function"),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """An inbound message (sms-service ``get-url``): ``?token=…&from=%p&text=%a&id=%I``."""
    return _inbound(session, token, from_, text, id_)


async def _posted_text(request: Request) -> str:
    body = await request.body()
    return body[:_MAX_BODY].decode("utf-8", errors="replace")


@router.post(INBOUND_PATH, dependencies=[Depends(api_key)])
def kannel_inbound_post(
    token: str = Query("", max_length=200),
    from_: str = Query("", alias="from", max_length=40),
    id_: str = Query("", alias="id", max_length=100),
    text: str = Depends(_posted_text),
    _slot: None = Depends(gateway_slot, scope="function"),
    session: Session = Depends(get_session, scope="function"),
) -> Response:
    """The same for ``post-url``: the text is the body (``post-url`` sends it as is)."""
    return _inbound(session, token, from_, text, id_)
