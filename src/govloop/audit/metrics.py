"""The audit log's figures for Prometheus: how long the chain is and how old its last signed
checkpoint (an old one leaves recent entries open to an unseen truncation)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.audit.models import AuditCheckpoint, AuditEntry
from govloop.core.clock import now


def audit_gauges(session: Session) -> list[GaugeMetricFamily]:
    length = GaugeMetricFamily("govloop_audit_chain_length", "Entries in the audit log.")
    length.add_metric([], session.scalar(select(func.max(AuditEntry.seq))) or 0)
    age = GaugeMetricFamily(
        "govloop_audit_last_checkpoint_age_seconds",
        "Seconds since the audit log's head was last signed (absent: never signed).",
    )
    last = session.scalar(select(func.max(AuditCheckpoint.at)))
    if last is not None:
        age.add_metric([], (now() - last).total_seconds())
    return [length, age]
