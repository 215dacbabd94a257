"""GET /metrics for Prometheus: with ``GOVLOOP_METRICS_TOKEN`` set, a scraper presents it as
a bearer token; without one, only this machine may scrape (a proxy in front must not pass
/metrics through, and one that does forwards the outside address, which is refused)."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from govloop.core.deps import api_key
from govloop.core.metrics import REGISTRY, token_matches
from govloop.core.settings import get_settings

router = APIRouter(include_in_schema=False)


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", dependencies=[Depends(api_key)])
def metrics(request: Request) -> Response:
    token = get_settings().metrics_token
    presented = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    allowed = (
        token_matches(presented, token)
        if token
        else _loopback(request.client.host if request.client else None)
    )
    if not allowed:
        reason = (
            "需要有效的监控令牌（Authorization: Bearer …）"
            if token
            else "未设置 GOVLOOP_METRICS_TOKEN 时，仅允许本机抓取监控指标"
        )
        return JSONResponse({"error": "metrics_forbidden", "message": reason}, status_code=403)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
