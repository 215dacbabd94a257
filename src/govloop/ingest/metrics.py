"""Ingest's figures for Prometheus: rows waiting in the dead letters, per source."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.ingest.models import DeadLetter, DeadLetterStatus


def ingest_gauges(session: Session) -> list[GaugeMetricFamily]:
    dead = GaugeMetricFamily(
        "govloop_ingest_dead_letters_open",
        "Rows kept as dead letters and not yet replayed or discarded.",
        labels=["source"],
    )
    for source, count in session.execute(
        select(DeadLetter.source_key, func.count())
        .where(DeadLetter.status == DeadLetterStatus.OPEN)
        .group_by(DeadLetter.source_key)
    ):
        dead.add_metric([source], count)
    return [dead]
