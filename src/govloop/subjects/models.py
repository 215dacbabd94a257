"""Subject databases (主题库): master records per person, enterprise and project, the source
records linked to them, conflicts for data stewards, and data-quality runs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class SubjectKind(enum.StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"
    PROJECT = "project"


class LinkMethod(enum.StrEnum):
    IDENTIFIER = "identifier"  # a valid ID number / credit code / project code
    PROBABILISTIC = "probabilistic"  # Splink match probability over name, birth date, …
    NEW = "new"  # first record of a new master
    STEWARD = "steward"  # moved by a data steward


class ConflictStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class SubjectMaster(Base):
    """One person, enterprise or project. Ids are never reused or renumbered."""

    __tablename__ = "subject_masters"
    __table_args__ = (UniqueConstraint("kind", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    # the validated identifier that links deterministically (None: linked by probability)
    identifier: Mapped[str | None] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200))
    # surviving value per field, and where each came from:
    # field → {"value", "record_id", "source", "observed_at", "rule"}
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SubjectLink(Base):
    """A source record (an ingest record) belongs to one master."""

    __tablename__ = "subject_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("ingest_records.id"), unique=True)
    master_id: Mapped[int] = mapped_column(ForeignKey("subject_masters.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    probability: Mapped[float | None] = mapped_column(Float)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SubjectConflict(Base):
    """Two or more sources disagree on a field of a master: a data steward decides.

    The decision is remembered: while the candidate values stay the same, survivorship
    keeps the chosen value; a new candidate value reopens the question."""

    __tablename__ = "subject_conflicts"
    __table_args__ = (Index("ix_subject_conflicts_master_field", "master_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    master_id: Mapped[int] = mapped_column(ForeignKey("subject_masters.id"))
    field: Mapped[str] = mapped_column(String(64))
    # [{"value", "record_id", "source", "observed_at"}]
    candidates: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    candidates_key: Mapped[str] = mapped_column(String(64))  # hash of the sorted values
    status: Mapped[str] = mapped_column(String(16), default=ConflictStatus.OPEN, index=True)
    decided_value: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class QualityRun(Base):
    """One data-quality assessment (GB/T 36344-2018) over the subject source records."""

    __tablename__ = "quality_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    records: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Float)


class QualityResult(Base):
    """One sub-metric of one field of one source: X = A / B, with samples of failing rows."""

    __tablename__ = "quality_results"
    __table_args__ = (Index("ix_quality_results_run_source", "run_id", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("quality_runs.id", ondelete="CASCADE"))
    source_key: Mapped[str] = mapped_column(String(64))
    table_name: Mapped[str] = mapped_column(String(64))  # the declared schema
    field: Mapped[str] = mapped_column(String(64))
    dimension: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64))
    passed: Mapped[int] = mapped_column(Integer)  # A
    total: Mapped[int] = mapped_column(Integer)  # B
    score: Mapped[float | None] = mapped_column(Float)  # X = A / B (None when B = 0)
    # failing rows: [{"record_id", "row": {...}, "value", "problem"}] (a sample)
    samples: Mapped[list[Any]] = mapped_column(JSONType, default=list)


class DecisionKind(enum.StrEnum):
    SPLIT = "split"  # a steward split a master
    MOVE = "move"  # a steward moved a record to another master
    NOT_SAME = "not_same"  # a steward marked two records as different people
    AUTO_SPLIT = "auto_split"  # linkage split a master that broke a hard constraint
    REFUSED = "refused"  # linkage refused a match that would break a hard constraint
    RELINK = "relink"  # a full relink moved records to the master they agree with


class SubjectCannotLink(Base):
    """Two source records that are never in one master ("not the same person").

    Stored with the smaller record id first; every later linkage run respects it."""

    __tablename__ = "subject_cannot_links"
    __table_args__ = (UniqueConstraint("record_a", "record_b"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_a: Mapped[int] = mapped_column(ForeignKey("ingest_records.id"), index=True)
    record_b: Mapped[int] = mapped_column(ForeignKey("ingest_records.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SubjectDecision(Base):
    """Every change to which records make up a master, by a steward or by the linkage itself,
    with its reason: the history a steward reads on the master's page."""

    __tablename__ = "subject_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    master_id: Mapped[int] = mapped_column(ForeignKey("subject_masters.id"), index=True)
    # the other master involved (the new part of a split, the target of a move), if any
    other_master_id: Mapped[int | None] = mapped_column(ForeignKey("subject_masters.id"))
    record_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    reason: Mapped[str] = mapped_column(String(500))
    # None: decided by the linkage (automatic), otherwise the steward
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
