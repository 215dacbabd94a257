"""A small field world: two field staff members, a manager, tasks linked to subjects."""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass

from PIL import Image
from sqlalchemy.orm import Session

from govloop.access import cases
from govloop.core.auth import Role
from govloop.core.models import User
from govloop.field import service
from govloop.field.models import FieldDevice, FieldTask
from govloop.subjects.models import SubjectMaster
from tests.factories import make_user

PERSON = {
    "name": "王秀英",
    "id_number": "33010619450312002X",
    "phone": "13905710123",
    "address": "杭州市西湖区文三路88号3幢502室",
    "birth_date": "1945-03-12",
    "sex": "女",
    "bank_card": "6222020200112233445",
}
ENTERPRISE = {
    "name": "杭州鑫源餐饮管理有限公司",
    "credit_code": "91330106MA2B3C4D5E",
    "legal_rep_name": "陈国强",
    "legal_rep_id_number": "330105197803150031",
    "address": "杭州市拱墅区湖墅南路18号",
}
DEVICE_1 = "dev-aaaaaaaa-1111-2222-3333-444444444444"
DEVICE_2 = "dev-bbbbbbbb-1111-2222-3333-444444444444"


@dataclass
class FieldWorld:
    staff: User
    other: User
    manager: User
    visit: FieldTask
    inspection: FieldTask
    others_task: FieldTask
    person: SubjectMaster
    enterprise: SubjectMaster
    device: FieldDevice


def make_world(s: Session) -> FieldWorld:
    staff = make_user(s, "field1", Role.FIELD_STAFF)
    other = make_user(s, "field2", Role.FIELD_STAFF)
    manager = make_user(s, "fieldmgr", Role.HALL_MANAGER)
    person = SubjectMaster(
        kind="person",
        identifier=PERSON["id_number"],
        display_name=PERSON["name"],
        attributes=PERSON,
        provenance={},
    )
    enterprise = SubjectMaster(
        kind="enterprise",
        identifier=ENTERPRISE["credit_code"],
        display_name=ENTERPRISE["name"],
        attributes=ENTERPRISE,
        provenance={},
    )
    s.add_all([person, enterprise])
    s.flush()
    visit = service.create_task(
        session=s, task_type="visit", title="独居老人季度走访", assignee=staff, address="文三路"
    )
    inspection = service.create_task(
        session=s, task_type="inspection", title="食品经营场所日常检查", assignee=staff
    )
    others = service.create_task(session=s, task_type="survey", title="入户调查", assignee=other)
    for task, master in ((visit, person), (inspection, enterprise), (others, person)):
        cases.attach_subject(
            session=s, case_type="field_task", case_id=task.id, master_id=master.id
        )
    device = service.register_device(
        session=s, user=staff, device_id=DEVICE_1, name="测试手机", user_agent="pytest"
    )
    assert isinstance(device, FieldDevice)
    return FieldWorld(staff, other, manager, visit, inspection, others, person, enterprise, device)


def jpeg_data_url(size: tuple[int, int] = (64, 48)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, (180, 40, 40)).save(buf, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def noise_jpeg_data_url() -> str:
    """A photo the app failed to downscale: random noise does not compress."""
    buf = io.BytesIO()
    Image.frombytes("RGB", (560, 560), random.Random(7).randbytes(560 * 560 * 3)).save(
        buf, "JPEG", quality=95
    )
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def visit_values(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "met_in_person": "见到本人",
        "living_condition": "一般",
        "needs": "希望增加助餐服务",
        "safety_checked": True,
        "next_visit": "2026-12-20",
        "photos": [jpeg_data_url()],
        "location": {"source": "gps", "lat": 30.2741, "lng": 120.1551, "accuracy": 12},
    }
    values.update(overrides)
    return values
