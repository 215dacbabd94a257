"""The hall's figures for Prometheus, read at scrape time: who waits and for how long, the
pace of calls, and the screens following each hall live in this process."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, now
from govloop.hall.live import hub
from govloop.hall.models import EventKind, HallEvent, Ticket, TicketStatus
from govloop.org.models import Hall


def hall_gauges(session: Session) -> list[GaugeMetricFamily]:
    at = now()
    codes = {hall_id: code for hall_id, code in session.execute(select(Hall.id, Hall.code))}
    waiting = GaugeMetricFamily(
        "govloop_hall_tickets_waiting", "Tickets waiting in the hall now.", labels=["hall"]
    )
    longest = GaugeMetricFamily(
        "govloop_hall_longest_wait_seconds",
        "How long the earliest ticket still waiting has waited.",
        labels=["hall"],
    )
    rows = session.execute(
        select(Ticket.hall_id, func.count(), func.min(Ticket.issued_at))
        .where(Ticket.service_date == local_today(), Ticket.status == TicketStatus.WAITING)
        .group_by(Ticket.hall_id)
    ).all()
    seen = {hall_id: (count, first) for hall_id, count, first in rows}
    for hall_id, code in codes.items():
        count, first = seen.get(hall_id, (0, None))
        waiting.add_metric([code], count)
        longest.add_metric([code], (at - first).total_seconds() if first else 0.0)
    calls = GaugeMetricFamily(
        "govloop_hall_calls_last_minute", "Tickets called in the last minute.", labels=["hall"]
    )
    called = {
        hall_id: count
        for hall_id, count in session.execute(
            select(HallEvent.hall_id, func.count())
            .where(HallEvent.kind == EventKind.CALLED, HallEvent.at >= at - timedelta(minutes=1))
            .group_by(HallEvent.hall_id)
        )
    }
    for hall_id, code in codes.items():
        calls.add_metric([code], called.get(hall_id, 0))
    screens = GaugeMetricFamily(
        "govloop_sse_clients", "Live screens (SSE) connected to this process.", labels=["hall"]
    )
    for hall_id, feed in list(hub.feeds.items()):
        screens.add_metric([codes.get(hall_id, str(hall_id))], len(feed.subscribers))
    return [waiting, longest, calls, screens]
