"""Demo data of the data platform, in dependency order: department records through the
ingest pipeline, hall devices, the catalog and tags, master records and their quality, then
a month of purpose-bound access, the field workbench, then matters (办件) with their
parcels and messages. Each step is idempotent."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from sqlalchemy.orm import Session

from govloop.core.errors import GovloopError

Step = tuple[str, Callable[[Session, int, int], str]]


def _ingest(session: Session, seed: int, hall_id: int) -> str:
    from govloop.demo import ingest as demo

    return demo.seed_demo(session=session, seed=seed)


def _devices(session: Session, seed: int, hall_id: int) -> str:
    from govloop.demo import devices as devices_demo

    return devices_demo.seed_demo(session=session, seed=seed)


def _catalog(session: Session, seed: int, hall_id: int) -> str:
    from govloop.demo import catalog as demo

    return demo.seed_demo(session=session, seed=seed)


# Homophones a clerk types for a name heard at the counter
HOMOPHONES = {
    "华": "化",
    "明": "铭",
    "伟": "炜",
    "丽": "莉",
    "军": "君",
    "杰": "洁",
    "英": "瑛",
    "芳": "方",
    "娜": "那",
    "静": "靜",
    "强": "強",
    "玉": "钰",
    "敏": "闵",
    "平": "萍",
}


def _marriage_register(session: Session, seed: int) -> None:
    """A civil-affairs register that spells some names differently from the police's
    household register: the conflicts a data steward decides."""
    import random

    from govloop.ingest import pipeline
    from govloop.ingest import records as ingest_records
    from govloop.ingest.pipeline import RawRow

    key = "mz-marriage"
    try:
        pipeline.get_source(session=session, key=key)
        return
    except GovloopError:
        pass
    source = pipeline.create_source(
        session=session,
        key=key,
        name="婚姻登记信息",
        kind="file",
        schema_name="person_record",
        department="市民政局",
        owner="婚姻登记处",
    )
    rng = random.Random(seed)
    rows: list[RawRow] = []
    for record in ingest_records.iter_records(session=session, schema_name="person_record"):
        payload = record.payload
        name = str(payload.get("name") or "")
        if record.source_key != "ga-population" or not payload.get("id_number"):
            continue
        if name[-1:] in HOMOPHONES and rng.random() < 0.5:
            variant = name[:-1] + HOMOPHONES[name[-1]]
            rows.append(
                RawRow(
                    {
                        "record_id": f"HY{len(rows) + 1:05d}",
                        "name": variant,
                        "id_number": payload["id_number"],
                        "sex": payload.get("sex"),
                    },
                    len(rows) + 2,
                )
            )
        if len(rows) >= 12:
            break
    run = pipeline.start_run(
        session=session, source=source, channel="file", file_name="婚姻登记_202611.csv"
    )
    pipeline.ingest_rows(session=session, source=source, run=run, rows=rows)
    pipeline.finish_run(session=session, run=run)


# the departments of the household records, as sources of the demo
HOUSEHOLD_SOURCES = {
    "公安": ("ga-household", "公安户籍家庭成员", "市公安局"),
    "社保": ("rs-household", "社保参保家庭成员", "市人社局"),
    "民政": ("mz-household", "民政救助家庭成员", "市民政局"),
    "卫健": ("wj-patients", "医院就诊人员", "市卫健委"),
    "教育": ("jy-students", "中小学学籍", "市教育局"),
}


def _household_registers(session: Session, seed: int) -> None:
    """Records of a few hundred families as five departments hold them: households sharing
    an address and a phone, twins, popular names, people who moved, hospitals and schools
    without ID numbers — what the person linkage must keep apart."""
    from govloop.demo.households import household_population
    from govloop.ingest import pipeline
    from govloop.ingest.pipeline import RawRow

    if _source_exists(session, "ga-household"):
        return
    records = household_population(400, seed=seed)
    fields = ("name", "birth_date", "sex", "phone", "address", "id_number")
    for department, group in records.groupby("source"):
        key, name, owner = HOUSEHOLD_SOURCES[str(department)]
        source = pipeline.create_source(
            session=session,
            key=key,
            name=name,
            kind="file",
            schema_name="person_record",
            department=owner,
        )
        rows = [
            RawRow(
                {"record_id": r["record_key"], **{f: r[f] for f in fields if r[f]}},
                i + 2,
            )
            for i, r in enumerate(group.to_dict("records"))
        ]
        run = pipeline.start_run(
            session=session, source=source, channel="file", file_name=f"{name}_202611.csv"
        )
        pipeline.ingest_rows(session=session, source=source, run=run, rows=rows)
        pipeline.finish_run(session=session, run=run)


def _source_exists(session: Session, key: str) -> bool:
    from govloop.ingest import pipeline

    try:
        pipeline.get_source(session=session, key=key)
    except GovloopError:
        return False
    return True


def _subjects(session: Session, seed: int, hall_id: int) -> str:
    from govloop.subjects import linking, quality

    _marriage_register(session, seed)
    _household_registers(session, seed)
    reports = linking.run_all(session=session)
    run = quality.run_assessment(session=session)
    linked = sum(r.records for r in reports)
    masters = sum(r.new_masters for r in reports)
    score = f"{run.score:.1%}" if run.score is not None else "—"
    return f"主题库：关联 {linked} 条部门记录，新建 {masters} 个主记录；数据质量综合得分 {score}"


def _access(session: Session, seed: int, hall_id: int) -> str:
    from govloop.demo import access as demo

    result = demo.seed_demo(session=session, seed=seed, hall_id=hall_id)
    line = result.summary()
    if result.citizen:
        id_number, name, phone = result.citizen
        line += f"\n  “谁查看了我的数据” /my-data 试用：{name} {id_number} {phone}"
    return line


def _field(session: Session, seed: int, hall_id: int) -> str:
    try:
        demo = import_module("govloop.demo.field")
    except ModuleNotFoundError:
        return "移动工作台：未安装"
    return str(demo.seed_demo(session=session, seed=seed))


def _matters(session: Session, seed: int, hall_id: int) -> str:
    from govloop.demo import matters as demo
    from govloop.indicators import service as indicator_service

    line = demo.run(session, seed, hall_id)
    # the scorecards were refreshed with the hall's history, before any matter existed:
    # once more, so 承诺时限内办结率 and the other matter figures show from the start
    indicator_service.refresh(session=session, grains=("month",))
    return line


STEPS: list[Step] = [
    ("数据接入", _ingest),
    ("大厅设备", _devices),
    ("数据目录与标签", _catalog),
    ("主题库与数据质量", _subjects),
    ("数据授权与审计", _access),
    ("移动工作台", _field),
    ("办件、邮寄与短信通知", _matters),
]
