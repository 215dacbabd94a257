"""Data catalog, tag and knowledge-graph tables: measured dataset profiles, batch tag runs
and the tag assignments of the latest run.

The knowledge graph has no table: it is built from the source tables on demand
(see ``catalog/sources.py``), so it can never drift from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class DatasetProfile(Base):
    """One measurement of a dataset: rows, newest row and the share passing its checks."""

    __tablename__ = "catalog_profiles"
    __table_args__ = (Index("ix_catalog_profiles_dataset_measured", "dataset_key", "measured_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_key: Mapped[str] = mapped_column(String(100))
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    rows: Mapped[int] = mapped_column(Integer)
    passed: Mapped[int] = mapped_column(Integer)
    # None when the dataset has no rows: an empty table has no quality to speak of
    score: Mapped[float | None] = mapped_column(Float)
    newest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # [{"code", "passed", "failed"}] per check, in declaration order
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class TagRun(Base):
    """One batch evaluation of the tag rules (tags.yaml)."""

    __tablename__ = "catalog_tag_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    rules_sha256: Mapped[str] = mapped_column(String(64))
    # tag code → subjects tagged
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    subjects_scanned: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)


class TagAssignment(Base):
    """A subject carries a tag, per the latest run, with the evidence the rule found."""

    __tablename__ = "catalog_tag_assignments"
    __table_args__ = (
        Index("ix_catalog_tag_assignments_tag", "tag_code", "subject_key"),
        Index("ix_catalog_tag_assignments_subject", "subject_type", "subject_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("catalog_tag_runs.id"), index=True)
    tag_code: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(128))
    subject_label: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
