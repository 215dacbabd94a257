"""Rules of the mobile workbench: tasks, devices and submissions.

A device is registered by its user and refused on every call once a manager revoked it
(the refusal is recorded in the access log). A submission is idempotent by the id the
device gave it; one based on an older version of its task than the current one (the task
changed or was closed meanwhile) is stored as a conflict and reported back, never applied.
Refusals are recorded in the access log and raised as ``RecordedRefusal`` (like
access.service); the unit of work commits the entry before the refusal is answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.access import service as access
from govloop.core.clock import now
from govloop.core.errors import NotFound, RecordedRefusal, RuleViolation
from govloop.core.models import User
from govloop.field import forms
from govloop.field.models import (
    FieldDevice,
    FieldPhoto,
    FieldSubmission,
    FieldTask,
    SubmissionStatus,
    TaskStatus,
    TaskType,
)

CASE_TYPE = "field_task"
DEVICE_ID = re.compile(r"^[A-Za-z0-9-]{16,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
TYPE_LABELS: dict[str, str] = {
    TaskType.INSPECTION.value: "执法检查",
    TaskType.VISIT.value: "上门走访",
    TaskType.SURVEY.value: "入户调查",
}


@dataclass(frozen=True)
class TaskCase:
    """A task as the access core sees it."""

    open: bool
    assignee_id: int | None
    task_type: str
    label: str


@dataclass
class SubmitResult:
    submission: FieldSubmission
    created: bool  # False: the same client id was sent before (a retry)


_deny = access.deny


def _where(task: FieldTask) -> dict[str, Any]:
    return {"case_type": CASE_TYPE, "case_id": task.id, "case_label": task_label(task)}


# --- tasks ---------------------------------------------------------------------------------


def task_label(task: FieldTask) -> str:
    return f"{task.number} {TYPE_LABELS.get(task.task_type, task.task_type)} {task.title}"


def get_task(*, session: Session, task_id: int) -> FieldTask:
    task = session.get(FieldTask, task_id)
    if task is None:
        raise NotFound(f"未找到任务 {task_id}", code="unknown_task")
    return task


def task_case(*, session: Session, task_id: int) -> TaskCase:
    task = get_task(session=session, task_id=task_id)
    return TaskCase(
        open=task.status == TaskStatus.OPEN,
        assignee_id=task.assignee_id,
        task_type=task.task_type,
        label=task_label(task),
    )


def create_task(
    *,
    session: Session,
    task_type: str,
    title: str,
    assignee: User | None,
    address: str | None = None,
    due: datetime | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> FieldTask:
    if task_type not in set(TaskType):
        raise RuleViolation(f"未知的任务类型：{task_type}", code="unknown_task_type")
    title = title.strip()
    if not title or len(title) > 200:
        raise RuleViolation("任务标题不能为空且不超过 200 个字", code="invalid_title")
    last = session.scalar(select(func.max(FieldTask.id))) or 0
    task = FieldTask(
        number=f"FT-{last + 1:04d}",
        task_type=task_type,
        title=title,
        assignee_id=assignee.id if assignee else None,
        status=TaskStatus.OPEN,
        due=due,
        address=address,
        latitude=latitude,
        longitude=longitude,
        created_at=now(),
        version=1,
    )
    session.add(task)
    session.flush()
    return task


def tasks_for(*, session: Session, user: User, include_closed: bool = False) -> list[FieldTask]:
    query = select(FieldTask).where(FieldTask.assignee_id == user.id)
    if not include_closed:
        query = query.where(FieldTask.status == TaskStatus.OPEN)
    return list(
        session.scalars(query.order_by(FieldTask.due.is_(None), FieldTask.due, FieldTask.id))
    )


def task_for_user(*, session: Session, user: User, task_id: int) -> FieldTask:
    """The user's own task; another staff member's task is refused and recorded."""
    task = get_task(session=session, task_id=task_id)
    if task.assignee_id != user.id:
        raise _deny(session, user, "not_your_case", "该任务不由您办理", **_where(task))
    return task


def update_task(
    *,
    session: Session,
    task: FieldTask,
    title: str | None = None,
    address: str | None = None,
    due: datetime | None = None,
    assignee: User | None = None,
) -> FieldTask:
    """A dispatcher changes a task: devices holding the old version will conflict."""
    if task.status != TaskStatus.OPEN:
        raise RuleViolation("任务已结束，不能修改", code="task_closed")
    if title is not None:
        task.title = title.strip()[:200] or task.title
    if address is not None:
        task.address = address
    if due is not None:
        task.due = due
    if assignee is not None:
        task.assignee_id = assignee.id
    task.version += 1
    session.flush()
    return task


def complete_task(*, session: Session, task: FieldTask) -> FieldTask:
    return _close_task(session, task, TaskStatus.DONE)


def cancel_task(*, session: Session, task: FieldTask) -> FieldTask:
    return _close_task(session, task, TaskStatus.CANCELLED)


def _close_task(session: Session, task: FieldTask, status: str) -> FieldTask:
    if task.status != TaskStatus.OPEN:
        raise RuleViolation("任务已结束", code="task_closed")
    task.status = status
    task.closed_at = now()
    task.version += 1
    session.flush()
    # the case is closed: its data is no longer served, and devices purge their copies
    access.end_grants_of_case(session=session, case_type="field_task", case_id=task.id)
    return task


# --- devices -------------------------------------------------------------------------------


def _own_device(session: Session, user: User, device_id: str | None) -> FieldDevice | None:
    """The user's device with this id. Another person's device with the same id is not
    looked at: unknown and someone else's give the same answer."""
    if not device_id:
        return None
    return session.scalar(
        select(FieldDevice).where(
            FieldDevice.user_id == user.id, FieldDevice.device_id == device_id
        )
    )


def register_device(
    *, session: Session, user: User, device_id: str, name: str, user_agent: str | None
) -> FieldDevice:
    if not DEVICE_ID.match(device_id or ""):
        raise RuleViolation("设备标识格式不正确", code="invalid_device_id")
    name = (name or "").strip()[:100] or "未命名设备"
    device = _own_device(session, user, device_id)
    stamp = now()
    if device is not None:
        if device.revoked:
            raise _revoked(session, user)
        device.last_seen = stamp
        return device
    device = FieldDevice(
        device_id=device_id,
        user_id=user.id,
        name=name,
        user_agent=(user_agent or "")[:300] or None,
        registered_at=stamp,
        last_seen=stamp,
        revoked=False,
    )
    session.add(device)
    session.flush()
    access.record(
        session,
        user,
        "device_registered",
        detail=f"device={device.id} {name}"[:500],
    )
    return device


def _revoked(session: Session, user: User) -> RecordedRefusal:
    return _deny(session, user, "device_revoked", "本设备已被管理员停用，不能再访问任务和办件数据")


def check_device(*, session: Session, user: User, device_id: str | None) -> FieldDevice:
    """The user's registered, not revoked device; any other is refused and recorded."""
    device = _own_device(session, user, device_id)
    if device is None:
        raise _deny(session, user, "device_unregistered", "本设备尚未登记，请重新打开工作台")
    if device.revoked:
        raise _revoked(session, user)
    device.last_seen = now()
    return device


def list_devices(*, session: Session) -> list[tuple[FieldDevice, User]]:
    rows = session.execute(
        select(FieldDevice, User)
        .join(User, User.id == FieldDevice.user_id)
        .order_by(FieldDevice.revoked, FieldDevice.last_seen.desc(), FieldDevice.id)
    ).all()
    return [(d, u) for d, u in rows]


def revoke_device(*, session: Session, device_pk: int, manager: User) -> FieldDevice:
    """Stop a device; its user's live grants end too, so its keys are no longer served."""
    device = session.get(FieldDevice, device_pk)
    if device is None:
        raise NotFound(f"未找到设备 {device_pk}", code="unknown_device")
    if device.revoked:
        raise RuleViolation("该设备已停用", code="device_already_revoked")
    device.revoked = True
    device.revoked_by = manager.id
    device.revoked_at = now()
    access.record(
        session,
        manager,
        "device_revoked",
        detail=f"device={device.id} user={device.user_id} {device.name}"[:500],
    )
    owner = session.get(User, device.user_id)
    if owner is not None:
        access.end_grants_of_user(session=session, user=owner, reason="device_revoked")
    session.flush()
    return device


# --- grants as the device holds them -------------------------------------------------------


def live_grants(*, session: Session, user: User, grant_ids: list[int]) -> dict[int, bool]:
    """Which of the grants a device holds data for are still live (others: wipe)."""
    out = {}
    stamp = now()
    for grant_id in grant_ids[:100]:
        try:
            grant = access.grant_status(session=session, user=user, grant_id=grant_id)
        except NotFound:
            out[grant_id] = False
            continue
        out[grant_id] = grant.status == "active" and grant.expires_at > stamp
    return out


def confirm_purge(
    *, session: Session, user: User, device: FieldDevice, task_id: int | None, reason: str
) -> None:
    """The device reports it wiped its copy of a case's data."""
    access.record(
        session,
        user,
        "purge_confirmed",
        case_type=CASE_TYPE if task_id else None,
        case_id=task_id,
        detail=f"device={device.id} reason={reason}"[:500],
    )


# --- submissions ---------------------------------------------------------------------------


def _captured(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise RuleViolation("采集时间格式不正确", code="invalid_captured_at") from None
    if stamp.tzinfo is None:
        raise RuleViolation("采集时间须带时区", code="invalid_captured_at")
    return stamp


def submit(
    *,
    session: Session,
    user: User,
    device: FieldDevice,
    task_id: int,
    client_id: str,
    base_version: int,
    values: Any,
    captured_at: str | None = None,
) -> SubmitResult:
    """Store what the device collected; complete the task unless it changed meanwhile."""
    if not CLIENT_ID.match(client_id or ""):
        raise RuleViolation("提交编号格式不正确", code="invalid_client_id")
    previous = session.scalar(
        select(FieldSubmission).where(
            FieldSubmission.user_id == user.id, FieldSubmission.client_id == client_id
        )
    )
    if previous is not None:
        if previous.task_id != task_id:
            raise RuleViolation("提交编号已用于其他任务", code="client_id_reused")
        return SubmitResult(previous, created=False)
    task = task_for_user(session=session, user=user, task_id=task_id)
    clean = forms.validate(forms.form_for(task.task_type), values)
    stamp = now()
    conflict = None
    if task.status != TaskStatus.OPEN:
        state = "已办结" if task.status == TaskStatus.DONE else "已撤销"
        conflict = f"任务在您提交前{state}（当前版本 {task.version}，您的版本 {base_version}）"
    elif base_version != task.version:
        conflict = f"任务在您离线期间被修改（当前版本 {task.version}，您的版本 {base_version}）"
    submission = FieldSubmission(
        task_id=task.id,
        device_id=device.id,
        user_id=user.id,
        client_id=client_id,
        base_version=base_version,
        data=clean.data,
        location=clean.location or None,
        captured_at=_captured(captured_at),
        submitted_at=stamp,
        status=SubmissionStatus.CONFLICT if conflict else SubmissionStatus.STORED,
        conflict_detail=conflict,
    )
    session.add(submission)
    session.flush()
    for photo in clean.photos:
        session.add(
            FieldPhoto(
                submission_id=submission.id,
                field=photo.field,
                content_type="image/jpeg",
                size=len(photo.content),
                sha256=photo.sha256,
                content=photo.content,
            )
        )
    if conflict is None:
        complete_task(session=session, task=task)
    session.flush()
    return SubmitResult(submission, created=True)


def submissions_of(*, session: Session, task_id: int) -> list[FieldSubmission]:
    return list(
        session.scalars(
            select(FieldSubmission)
            .where(FieldSubmission.task_id == task_id)
            .order_by(FieldSubmission.id)
        )
    )


def photo_count(*, session: Session, submission_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(FieldPhoto)
            .where(FieldPhoto.submission_id == submission_id)
        )
        or 0
    )
