"""The 22-item SERVQUAL questionnaire (Parasuraman, Zeithaml & Berry, 1988), adapted to a
government service hall, and its gap scores (perception − expectation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.ratings.models import Dimension, Survey, SurveyResponse, SurveyStatus

SCALE = (1, 7)

# (number, dimension, zh, en)
ITEMS: list[tuple[int, Dimension, str, str]] = [
    (
        1,
        Dimension.TANGIBLES,
        "大厅设施设备现代、好用（取号机、自助终端等）",
        "Up-to-date equipment (kiosks, self-service terminals)",
    ),
    (
        2,
        Dimension.TANGIBLES,
        "大厅环境整洁舒适，标识清楚",
        "Clean, comfortable hall with clear signs",
    ),
    (3, Dimension.TANGIBLES, "工作人员着装规范、仪容整洁", "Staff are neat and properly dressed"),
    (
        4,
        Dimension.TANGIBLES,
        "办事指南、告知单等材料清楚易懂",
        "Service guides and notices are clear",
    ),
    (5, Dimension.RELIABILITY, "承诺的办理时限能够兑现", "Promised completion times are kept"),
    (
        6,
        Dimension.RELIABILITY,
        "遇到问题时，工作人员真心帮助解决",
        "Staff sincerely help solve problems",
    ),
    (7, Dimension.RELIABILITY, "第一次就能把事情办对", "Matters are handled right the first time"),
    (8, Dimension.RELIABILITY, "在承诺的时间提供服务", "Service is provided at the promised time"),
    (9, Dimension.RELIABILITY, "办理结果和记录准确无误", "Results and records are accurate"),
    (
        10,
        Dimension.RESPONSIVENESS,
        "工作人员明确告知办理进度和完成时间",
        "Staff say exactly when things will be done",
    ),
    (
        11,
        Dimension.RESPONSIVENESS,
        "工作人员及时提供服务，等候时间短",
        "Prompt service, short waits",
    ),
    (12, Dimension.RESPONSIVENESS, "工作人员总是乐于帮助群众", "Staff are always willing to help"),
    (13, Dimension.RESPONSIVENESS, "工作人员再忙也会及时回应诉求", "Staff respond even when busy"),
    (14, Dimension.ASSURANCE, "工作人员的言行让人信赖", "Staff behaviour instils confidence"),
    (
        15,
        Dimension.ASSURANCE,
        "办事过程让人放心，个人信息安全",
        "Transactions feel safe; personal data is protected",
    ),
    (16, Dimension.ASSURANCE, "工作人员始终礼貌待人", "Staff are consistently courteous"),
    (
        17,
        Dimension.ASSURANCE,
        "工作人员业务熟练，能解答问题",
        "Staff have the knowledge to answer questions",
    ),
    (18, Dimension.EMPATHY, "能为群众提供个性化关注", "Individual attention is given"),
    (
        19,
        Dimension.EMPATHY,
        "办公时间方便群众（含延时、预约服务）",
        "Convenient opening hours (incl. extended hours, appointments)",
    ),
    (
        20,
        Dimension.EMPATHY,
        "工作人员给予群众个别关照（如老弱病残孕）",
        "Personal care for those who need it (elderly, disabled, pregnant)",
    ),
    (21, Dimension.EMPATHY, "以群众利益为重", "Citizens' best interests at heart"),
    (
        22,
        Dimension.EMPATHY,
        "工作人员理解群众的具体需求",
        "Staff understand citizens' specific needs",
    ),
]


def questionnaire() -> dict[str, Any]:
    return {
        "scale": list(SCALE),
        "items": [{"no": n, "dimension": d.value, "zh": zh, "en": en} for n, d, zh, en in ITEMS],
    }


def create_survey(*, session: Session, code: str, title: str, hall_id: int | None) -> Survey:
    if not re.fullmatch(r"[A-Za-z0-9_-]{2,32}", code):
        raise BadRequest(
            "问卷编码只能包含字母、数字、下划线和短横线（2–32 位）", code="invalid_code"
        )
    if session.scalar(select(Survey.id).where(Survey.code == code)):
        raise Conflict(f"问卷编码已存在：{code}", code="survey_exists")
    survey = Survey(
        code=code,
        title=title.strip() or code,
        hall_id=hall_id,
        status=SurveyStatus.DRAFT,
        questionnaire=questionnaire(),
    )
    session.add(survey)
    session.flush()
    return survey


def get_survey(*, session: Session, code: str) -> Survey:
    survey = session.scalar(select(Survey).where(Survey.code == code))
    if survey is None:
        raise NotFound(f"未找到问卷：{code}", code="survey_not_found")
    return survey


def publish(*, session: Session, survey: Survey) -> Survey:
    if survey.status != SurveyStatus.DRAFT:
        raise RuleViolation("只有草稿状态的问卷可以发布", code="not_draft")
    survey.status, survey.published_at = SurveyStatus.PUBLISHED, now()
    return survey


def close(*, session: Session, survey: Survey) -> Survey:
    if survey.status != SurveyStatus.PUBLISHED:
        raise RuleViolation("只有已发布的问卷可以关闭", code="not_published")
    survey.status, survey.closed_at = SurveyStatus.CLOSED, now()
    return survey


def validate_answers(
    survey: Survey, answers: dict[str, dict[str, Any]]
) -> dict[str, dict[str, int]]:
    lo, hi = survey.questionnaire["scale"]
    numbers = {str(i["no"]) for i in survey.questionnaire["items"]}
    clean: dict[str, dict[str, int]] = {}
    missing = sorted(numbers - set(answers), key=int)
    if missing:
        raise BadRequest(
            f"还有 {len(missing)} 题未作答：第 {', '.join(missing)} 题",
            code="incomplete",
            missing=missing,
        )
    for no, pair in answers.items():
        if no not in numbers:
            raise BadRequest(f"问卷没有第 {no} 题", code="unknown_item")
        values = {}
        for key in ("e", "p"):
            value = pair.get(key) if isinstance(pair, dict) else None
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise BadRequest(
                    f"第 {no} 题的{'期望' if key == 'e' else '感知'}分须为 {lo}–{hi} 的整数",
                    code="out_of_scale",
                )
            values[key] = value
        clean[no] = values
    return clean


def submit(
    *, session: Session, survey: Survey, answers: dict[str, dict[str, Any]]
) -> SurveyResponse:
    if survey.status != SurveyStatus.PUBLISHED:
        raise RuleViolation("问卷未在发布中", code="survey_not_open")
    response = SurveyResponse(
        survey_id=survey.id,
        hall_id=survey.hall_id,
        submitted_at=now(),
        answers=validate_answers(survey, answers),
    )
    session.add(response)
    session.flush()
    return response


@dataclass(frozen=True)
class GapScores:
    responses: int
    items: dict[int, dict[str, float]]  # no → {expectation, perception, gap}
    dimensions: dict[str, dict[str, float]]
    overall_gap: float | None


def gap_scores(
    *,
    session: Session,
    survey_ids: list[int] | None = None,
    hall_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> GapScores:
    """Mean P − E per item, per dimension (mean of its items) and overall (mean of dimensions)."""
    stmt = select(SurveyResponse, Survey.questionnaire).join(
        Survey, Survey.id == SurveyResponse.survey_id
    )
    if survey_ids is not None:
        stmt = stmt.where(SurveyResponse.survey_id.in_(survey_ids))
    if hall_id is not None:
        stmt = stmt.where(SurveyResponse.hall_id == hall_id)
    if start is not None:
        stmt = stmt.where(SurveyResponse.submitted_at >= start)
    if end is not None:
        stmt = stmt.where(SurveyResponse.submitted_at < end)
    sums: dict[int, list[float]] = {}
    dim_of: dict[int, str] = {}
    rows = session.execute(stmt).all()
    for response, q in rows:
        for item in q["items"]:
            dim_of[item["no"]] = item["dimension"]
        for no, pair in response.answers.items():
            acc = sums.setdefault(int(no), [0.0, 0.0, 0.0])
            acc[0] += pair["e"]
            acc[1] += pair["p"]
            acc[2] += 1
    items = {
        no: {"expectation": e / n, "perception": p / n, "gap": (p - e) / n}
        for no, (e, p, n) in sorted(sums.items())
    }
    dimensions: dict[str, dict[str, float]] = {}
    for dim in Dimension:
        nos = [no for no, d in dim_of.items() if d == dim.value and no in items]
        if nos:
            dimensions[dim.value] = {
                key: sum(items[no][key] for no in nos) / len(nos)
                for key in ("expectation", "perception", "gap")
            }
    overall = sum(d["gap"] for d in dimensions.values()) / len(dimensions) if dimensions else None
    return GapScores(responses=len(rows), items=items, dimensions=dimensions, overall_gap=overall)
