"""Data quality of the subject sources along GB/T 36344-2018's six dimensions.

Every sub-metric is X = A / B for one source, table (declared schema) and field, with a
sample of failing rows; each run is stored, so trends show over runs. The same checks give
the problem list each source department gets back (问题数据反馈清单).

    规范性 normativity    the value arrived in the standard format (no full-width characters,
                         spaces or lower-case check letters that had to be normalized)
    完整性 completeness   the field is filled
    准确性 accuracy       identifiers pass their checks; birth date and sex agree with the ID
    一致性 consistency    the value agrees with the master record's surviving value
    时效性 timeliness     the record was updated within the freshness window
    可访问性 accessibility the source's rows were delivered and stored, not rejected
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.ingest import records as ingest_records
from govloop.ingest.records import StoredRecord
from govloop.subjects import identifiers as ids
from govloop.subjects.models import QualityResult, QualityRun, SubjectLink, SubjectMaster
from govloop.subjects.survivorship import config

DIMENSIONS = {
    "normativity": "规范性",
    "completeness": "完整性",
    "accuracy": "准确性",
    "consistency": "一致性",
    "timeliness": "时效性",
    "accessibility": "可访问性",
}
FRESH_DAYS = 365
SAMPLES = 5

ID_FIELDS = {"id_number", "legal_rep_id_number"}
CODE_FIELDS = {"credit_code", "enterprise_credit_code"}


@dataclass(frozen=True)
class Problem:
    record: StoredRecord
    field: str
    dimension: str
    value: Any
    problem: str


@dataclass
class Tally:
    passed: int = 0
    total: int = 0
    failures: list[Problem] = field(default_factory=list)

    def count(self, ok: bool, problem: Problem | None = None) -> None:
        self.total += 1
        if ok:
            self.passed += 1
        elif problem is not None:
            self.failures.append(problem)


def _accuracy(field_name: str, value: str, payload: dict[str, Any]) -> str | None:
    """The problem with a value, or None when it is right."""
    if field_name in ID_FIELDS:
        check = ids.check_resident_id(value)
        return None if check.valid else check.reason
    if field_name in CODE_FIELDS:
        check = ids.check_uscc(value)
        return None if check.valid else check.reason
    if field_name == "phone":
        check = ids.check_phone(value)
        return None if check.valid else check.reason
    id_check = ids.check_resident_id(str(payload.get("id_number") or ""))
    if field_name == "birth_date" and id_check.valid:
        born = ids.birth_date_of(id_check.value)
        if born and value != born.isoformat():
            return f"与身份证号码中的出生日期 {born.isoformat()} 不一致"
    if field_name == "sex" and id_check.valid and value != ids.sex_of(id_check.value):
        return "与身份证号码中的性别不一致"
    return None


ACCURACY_FIELDS = ID_FIELDS | CODE_FIELDS | {"phone", "birth_date", "sex"}
FORMAT_FIELDS = ID_FIELDS | CODE_FIELDS | {"phone", "project_code"}


def _metrics(
    record: StoredRecord,
    fields: tuple[str, ...],
    master_values: dict[str, Any] | None,
    today: date,
) -> Iterator[tuple[str, str, str, bool, Any, str]]:
    """(field, dimension, metric, ok, value, problem) for one record."""
    payload = record.payload
    for name in fields:
        value = payload.get(name)
        filled = value not in (None, "")
        yield name, "completeness", "filled", filled, value, "未填写"
        if not filled:
            continue
        text = str(value)
        if name in FORMAT_FIELDS:
            changed = name in record.changes
            yield (
                name,
                "normativity",
                "standard_format",
                not changed,
                record.changes.get(name, [text])[0],
                "格式不规范（全角字符、空格或小写校验位，入库时已规范化）",
            )
        if name in ACCURACY_FIELDS:
            issue = _accuracy(name, text, payload)
            yield name, "accuracy", "passes_checks", issue is None, text, issue or ""
        if master_values is not None and name in master_values:
            agrees = master_values[name] == text
            yield (
                name,
                "consistency",
                "agrees_with_master",
                agrees,
                text,
                f"与主题库的取值“{master_values[name]}”不一致",
            )
    updated = payload.get("updated_at")
    if updated:
        stamp = datetime.fromisoformat(str(updated)).date()
        fresh = (today - stamp) <= timedelta(days=FRESH_DAYS)
        yield "updated_at", "timeliness", "updated_within_year", fresh, updated, "超过一年未更新"


@dataclass
class SourceReport:
    source_key: str
    department: str | None
    table: str
    records: int
    tallies: dict[tuple[str, str, str], Tally]
    delivered: Tally


def assess(*, session: Session, today: date | None = None) -> list[SourceReport]:
    """Compute every sub-metric for every subject source (nothing is stored)."""
    today = today or now().date()
    cfg = config()
    masters = _master_values_by_record(session)
    reports: dict[str, SourceReport] = {}
    for kind in cfg.kinds.values():
        for record in ingest_records.iter_records(session=session, schema_name=kind.schema):
            report = reports.get(record.source_key)
            if report is None:
                report = reports[record.source_key] = SourceReport(
                    record.source_key,
                    record.department,
                    kind.schema,
                    0,
                    defaultdict(Tally),
                    Tally(),
                )
            report.records += 1
            for name, dimension, metric, ok, value, problem in _metrics(
                record, kind.fields, masters.get(record.id), today
            ):
                report.tallies[(name, dimension, metric)].count(
                    ok, None if ok else Problem(record, name, dimension, value, problem)
                )
    for key, report in reports.items():
        delivery = ingest_records.delivery_counts(session=session, source_key=key)
        report.delivered = Tally(delivery["stored"], delivery["received"])
    return sorted(reports.values(), key=lambda r: r.source_key)


def _master_values_by_record(session: Session) -> dict[int, dict[str, Any]]:
    rows = session.execute(
        select(SubjectLink.record_id, SubjectMaster.attributes).join(
            SubjectMaster, SubjectMaster.id == SubjectLink.master_id
        )
    ).all()
    return {record_id: dict(attributes or {}) for record_id, attributes in rows}


def _sample(problem: Problem) -> dict[str, Any]:
    return {
        "record_id": problem.record.id,
        "record_key": problem.record.event_id,
        "file_name": problem.record.file_name,
        "row_number": problem.record.row_number,
        "value": None if problem.value is None else str(problem.value),
        "problem": problem.problem,
    }


def run_assessment(*, session: Session, today: date | None = None) -> QualityRun:
    """Assess and store the results as one run."""
    reports = assess(session=session, today=today)
    run = QualityRun(started_at=now(), records=sum(r.records for r in reports))
    session.add(run)
    session.flush()
    scores = []
    for report in reports:
        items = [
            *report.tallies.items(),
            (("*", "accessibility", "stored_of_received"), report.delivered),
        ]
        for (name, dimension, metric), tally in items:
            score = tally.passed / tally.total if tally.total else None
            session.add(
                QualityResult(
                    run_id=run.id,
                    source_key=report.source_key,
                    table_name=report.table,
                    field=name,
                    dimension=dimension,
                    metric=metric,
                    passed=tally.passed,
                    total=tally.total,
                    score=score,
                    samples=[_sample(p) for p in tally.failures[:SAMPLES]],
                )
            )
        scores.append(source_score(report))
    known = [s for s in scores if s is not None]
    run.score = sum(known) / len(known) if known else None
    session.flush()
    return run


def dimension_scores(report: SourceReport) -> dict[str, float | None]:
    """Per dimension: A / B over all of its sub-metrics."""
    passed: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for (_, dimension, _), tally in report.tallies.items():
        passed[dimension] += tally.passed
        total[dimension] += tally.total
    passed["accessibility"] += report.delivered.passed
    total["accessibility"] += report.delivered.total
    return {d: (passed[d] / total[d] if total[d] else None) for d in DIMENSIONS}


def source_score(report: SourceReport) -> float | None:
    known = [s for s in dimension_scores(report).values() if s is not None]
    return sum(known) / len(known) if known else None


# --- stored runs: latest results and trends ------------------------------------------------


def latest_run(*, session: Session) -> QualityRun | None:
    return session.scalar(select(QualityRun).order_by(QualityRun.id.desc()).limit(1))


def results_of(*, session: Session, run_id: int) -> list[QualityResult]:
    return list(
        session.scalars(
            select(QualityResult)
            .where(QualityResult.run_id == run_id)
            .order_by(QualityResult.source_key, QualityResult.field, QualityResult.dimension)
        )
    )


def summarize(results: list[QualityResult]) -> dict[str, dict[str, float | None]]:
    """source → dimension → X over the run's stored sub-metrics (A and B summed)."""
    passed: dict[tuple[str, str], int] = defaultdict(int)
    total: dict[tuple[str, str], int] = defaultdict(int)
    for r in results:
        passed[(r.source_key, r.dimension)] += r.passed
        total[(r.source_key, r.dimension)] += r.total
    out: dict[str, dict[str, float | None]] = defaultdict(dict)
    for (source, dimension), b in total.items():
        out[source][dimension] = passed[(source, dimension)] / b if b else None
    return dict(out)


def trend(*, session: Session, limit: int = 20) -> list[tuple[QualityRun, dict[str, float]]]:
    """The last runs, oldest first, with each source's overall score."""
    runs = list(session.scalars(select(QualityRun).order_by(QualityRun.id.desc()).limit(limit)))[
        ::-1
    ]
    out = []
    for run in runs:
        per_source = summarize(results_of(session=session, run_id=run.id))
        overall = {}
        for source, dims in per_source.items():
            known = [v for v in dims.values() if v is not None]
            if known:
                overall[source] = sum(known) / len(known)
        out.append((run, overall))
    return out


ProblemFilter = Callable[[Problem], bool]


def problems_by_source(
    *, session: Session, today: date | None = None
) -> dict[str, tuple[str | None, list[Problem]]]:
    """Every failing value (not just samples), grouped by source: the feedback list."""
    out: dict[str, tuple[str | None, list[Problem]]] = {}
    for report in assess(session=session, today=today):
        problems = [p for tally in report.tallies.values() for p in tally.failures]
        problems.sort(key=lambda p: (p.record.id, p.field))
        out[report.source_key] = (report.department, problems)
    return out
