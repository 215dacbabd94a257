"""Purpose-bound access: which subjects a case concerns, the grants staff hold while a case
is open, and the tamper-evident audit log with its signed checkpoints."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.clock import now
from govloop.core.db import Base, JSONType, UTCDateTime


class CaseType(enum.StrEnum):
    TICKET = "ticket"  # a visit at a hall window
    WORK_ORDER = "work_order"  # a 12345 hotline order
    FIELD_TASK = "field_task"  # a task of the mobile workbench
    MATTER = "matter"  # 办件: an application after the window, at its department


class GrantStatus(enum.StrEnum):
    PENDING = "pending"  # a break-glass request waiting for a second person's approval
    ACTIVE = "active"
    ENDED = "ended"


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class AlertKind(enum.StrEnum):
    BREAK_GLASS = "break_glass"  # data served at once
    APPROVAL_REQUESTED = "approval_requested"  # a break-glass request waits for approval
    LIMIT_REACHED = "limit_reached"  # refused: too many requests within the hour
    ROLE_REFUSED = "role_refused"  # refused: the role may not break glass


class CaseSubject(Base):
    """A subject (master record) a case concerns: the applicant, the enterprise, …"""

    __tablename__ = "access_case_subjects"
    __table_args__ = (UniqueConstraint("case_type", "case_id", "master_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_type: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int] = mapped_column(Integer)
    master_id: Mapped[int] = mapped_column(ForeignKey("subject_masters.id"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="applicant")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Grant(Base):
    """Access to the subjects of one case, for one staff member, while the case is open."""

    __tablename__ = "access_grants"
    __table_args__ = (
        Index("ix_access_grants_staff_status", "staff_id", "status"),
        Index("ix_access_grants_staff_opened", "staff_id", "opened_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_type: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(Integer)  # None for break-glass
    case_label: Mapped[str] = mapped_column(String(200))  # e.g. "A012 社保卡申领"
    policy_key: Mapped[str] = mapped_column(String(64))  # the policy entry that applied
    purpose: Mapped[str] = mapped_column(String(200))
    subject_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    # subject kind → {"full": [...], "masked": [...]}
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=GrantStatus.ACTIVE, index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # the key that encrypts copies of the case data held by the staff member's device;
    # served only while the grant is active
    device_key: Mapped[str] = mapped_column(String(64))
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    review_status: Mapped[str | None] = mapped_column(String(16))  # pending / accepted / misuse
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(500))
    # second-person approval of a break-glass request beyond the policy's threshold
    approval_status: Mapped[str | None] = mapped_column(String(16))  # None: not needed
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(500))


class AccessAlert(Base):
    """Something an auditor must see now: a break-glass use or request, or a refused one.
    Repeated refusals of one kind for one staff member add to the open alert's count."""

    __tablename__ = "access_alerts"
    __table_args__ = (Index("ix_access_alerts_staff_kind", "staff_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("access_grants.id"))
    subject_id: Mapped[int | None] = mapped_column(Integer)  # a master record id, never values
    detail: Mapped[str] = mapped_column(String(500))
    count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    acknowledgement: Mapped[str | None] = mapped_column(String(500))
