"""Demo data of the data platform, in dependency order: department records through the
ingest pipeline, hall devices, the catalog and tags, master records and their quality, then
a month of purpose-bound access and the field workbench. Each step is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from sqlalchemy.orm import Session

Step = tuple[str, Callable[[Session, int, int], str]]


def _ingest(session: Session, seed: int, hall_id: int) -> str:
    from govloop.ingest import demo

    return demo.seed_demo(session=session, seed=seed)


def _devices(session: Session, seed: int, hall_id: int) -> str:
    from govloop.ingest import devices_demo

    return devices_demo.seed_demo(session=session, seed=seed)


def _catalog(session: Session, seed: int, hall_id: int) -> str:
    from govloop.catalog import demo

    return demo.seed_demo(session=session, seed=seed)


def _subjects(session: Session, seed: int, hall_id: int) -> str:
    from govloop.subjects import linking, quality

    reports = linking.run_all(session=session)
    run = quality.run_assessment(session=session)
    linked = sum(r.records for r in reports)
    masters = sum(r.new_masters for r in reports)
    score = f"{run.score:.1%}" if run.score is not None else "—"
    return f"主题库：关联 {linked} 条部门记录，新建 {masters} 个主记录；数据质量综合得分 {score}"


def _access(session: Session, seed: int, hall_id: int) -> str:
    from govloop.access import demo

    result = demo.seed_demo(session=session, seed=seed, hall_id=hall_id)
    line = result.summary()
    if result.citizen:
        id_number, name, phone = result.citizen
        line += f"\n  “谁查看了我的数据” /my-data 试用：{name} {id_number} {phone}"
    return line


def _field(session: Session, seed: int, hall_id: int) -> str:
    try:
        demo = import_module("govloop.field.demo")
    except ModuleNotFoundError:
        return "移动工作台：未安装"
    return str(demo.seed_demo(session=session, seed=seed))


STEPS: list[Step] = [
    ("数据接入", _ingest),
    ("大厅设备", _devices),
    ("数据目录与标签", _catalog),
    ("主题库与数据质量", _subjects),
    ("数据授权与审计", _access),
    ("移动工作台", _field),
]
