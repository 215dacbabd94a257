"""Actions and assessments: validation (clear errors, nothing changed), the life cycle and
its event log, the loop's anomaly → action links, and the effect measured on a synthetic
store with a known effect and on a simulated hall history — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from govloop.actions import assessments, measurement, service
from govloop.actions import effect as fx
from govloop.actions import scope as action_scope
from govloop.actions import views as action_views
from govloop.actions.models import Action, ActionStatus, LoopEvent
from govloop.actions.schemas import ActionIn, ScopeIn
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.indicators.analytics import DailyMeasures, daily_measures, indicator_shape
from govloop.indicators.framework import default_framework
from govloop.insight.models import Anomaly, AnomalyStatus
from govloop.org import service as org_service
from tests.factories import HallWorld, make_hall

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 2026-11-23, 10:00 in Shanghai
TODAY = date(2026, 11, 23)
START = date(2026, 11, 9)  # a Monday two weeks earlier


# --- helpers shared with the page tests --------------------------------------------------------


@pytest.fixture
def world(db) -> HallWorld:
    with frozen(MONDAY), unit_of_work() as s:
        return make_hall(s)


def action_in(world: HallWorld, **overrides: object) -> ActionIn:
    data: dict[str, object] = {
        "title": "周一上午加开窗口",
        "kind": "open_windows",
        "decision": "周一 9:00–11:00 由 3 号综合窗口专办社保业务",
        "owner_id": world.manager.id if world.manager else None,
        "starts_on": TODAY,
        "due_date": TODAY + timedelta(days=14),
        "scope": ScopeIn(items=["SB01"]),
        "indicators": ["wait_mean"],
    }
    data.update(overrides)
    return ActionIn.model_validate(data)


def counts() -> tuple[int, int]:
    with unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(Action)) or 0,
            s.scalar(select(func.count()).select_from(LoopEvent)) or 0,
        )


def create(world: HallWorld, **overrides: object) -> int:
    with frozen(MONDAY), unit_of_work() as s:
        hall = org_service.get_hall(session=s, code=world.hall.code)
        actor = s.get(User, world.manager.id)  # type: ignore[union-attr]
        action = service.create_action(
            session=s, hall=hall, data=action_in(world, **overrides), actor=actor
        )
        return action.id


def run(world: HallWorld, step: str, action_id: int, **kwargs: object) -> Action:
    with frozen(MONDAY), unit_of_work() as s:
        hall = org_service.get_hall(session=s, code=world.hall.code)
        action = service.get_action(session=s, hall=hall, action_id=action_id)
        actor = s.get(User, world.manager.id)  # type: ignore[union-attr]
        module = measurement if step == "measure_effect" else service
        getattr(module, step)(session=s, action=action, actor=actor, **kwargs)
        return action


def add_anomaly(
    world: HallWorld,
    *,
    status: str = AnomalyStatus.OPEN,
    indicator: str = "wait_mean",
    day: date = date(2026, 11, 16),
    hall_id: int | None = None,
) -> int:
    with unit_of_work() as s:
        anomaly = Anomaly(
            hall_id=hall_id or world.hall.id,
            indicator_code=indicator,
            object_kind="hall",
            object_id=hall_id or world.hall.id,
            day=day,
            method="tail_test",
            series_kind="mean",
            direction="spike",
            worse=True,
            observed=31.5,
            expected=12.0,
            p_value=1e-6,
            score=6.0,
            status=status,
            comment="周一排队过长" if status != AnomalyStatus.OPEN else "",
        )
        s.add(anomaly)
        s.flush()
        return anomaly.id


def events(action_id: int | None = None, anomaly_id: int | None = None) -> list[LoopEvent]:
    with unit_of_work() as s:
        query = select(LoopEvent).order_by(LoopEvent.id)
        if action_id is not None:
            query = query.where(LoopEvent.action_id == action_id)
        if anomaly_id is not None:
            query = query.where(LoopEvent.anomaly_id == anomaly_id)
        return list(s.scalars(query))


# --- creating actions -------------------------------------------------------------------------


def test_create_action_records_the_decision_and_logs_it(world):
    action_id = create(
        world,
        scope=ScopeIn(items=["SB01"], slots=["9:30", "09:00", "09:00"], weekdays=[4, 0, 0]),
        indicators=["wait_mean", "served_within_20", "wait_mean"],
        recommendation={"source": "staffing", "windows": 1},
    )
    with unit_of_work() as s:
        action = s.get(Action, action_id)
        assert action is not None
        assert action.status == ActionStatus.PLANNED and action.hall_id == world.hall.id
        assert action.scope == {
            "items": ["SB01"],
            "windows": [],
            "slots": ["09:00", "09:30"],
            "weekdays": [0, 4],
        }
        assert action.indicators == ["wait_mean", "served_within_20"]
        assert action.recommendation == {"source": "staffing", "windows": 1}
        assert action.owner_id == world.manager.id and action.created_by == world.manager.id
    logged = events(action_id)
    assert [e.kind for e in logged] == ["action.created"]
    assert logged[0].actor_id == world.manager.id
    assert logged[0].detail["indicators"] == ["wait_mean", "served_within_20"]
    assert logged[0].detail["not_measurable"] == {}


BAD_INPUT = [
    ({"title": "  "}, BadRequest, "title_required"),
    ({"kind": "magic"}, BadRequest, "unknown_kind"),
    ({"decision": ""}, BadRequest, "decision_required"),
    ({"owner_id": None}, BadRequest, "owner_required"),
    ({"owner_id": 9999}, NotFound, "owner_not_found"),
    ({"starts_on": None}, BadRequest, "start_required"),
    ({"ends_on": TODAY - timedelta(days=1)}, BadRequest, "end_before_start"),
    ({"due_date": TODAY - timedelta(days=1)}, BadRequest, "due_before_start"),
    ({"scope": ScopeIn(items=["XX99"])}, NotFound, "item_not_found"),
    ({"scope": ScopeIn(windows=[42])}, NotFound, "window_not_found"),
    ({"scope": ScopeIn(slots=["9:15"])}, BadRequest, "invalid_slot"),
    ({"scope": ScopeIn(slots=["08:00"])}, BadRequest, "slot_outside_hours"),
    ({"scope": ScopeIn(weekdays=[7])}, BadRequest, "invalid_weekday"),
    ({"indicators": []}, RuleViolation, "no_measurable_indicator"),
    ({"indicators": ["nope"]}, NotFound, "indicator_not_found"),
    ({"indicators": ["waiting"]}, NotFound, "indicator_not_found"),  # a group, not a leaf
    ({"indicators": ["device_uptime"]}, RuleViolation, "no_measurable_indicator"),
    ({"indicators": ["on_post_rate"]}, RuleViolation, "no_measurable_indicator"),
    (
        {"scope": ScopeIn(slots=["09:00"]), "indicators": ["on_post_rate"]},
        RuleViolation,
        "no_measurable_indicator",
    ),
    ({"anomaly_id": 999}, NotFound, "anomaly_not_found"),
    ({"recommendation": {"text": "x" * 20_000}}, BadRequest, "recommendation_too_long"),
]


@pytest.mark.parametrize(("overrides", "error", "code"), BAD_INPUT)
def test_bad_input_is_refused_with_a_reason_and_changes_nothing(world, overrides, error, code):
    before = counts()
    with pytest.raises(error) as info:
        create(world, **overrides)
    assert info.value.code == code
    assert info.value.message  # a sentence for people, not a stack trace
    assert counts() == before


def test_no_measurable_indicator_explains_each_reason(world):
    with pytest.raises(RuleViolation) as info:
        create(world, indicators=["device_uptime", "on_post_rate"])  # item scope
    message = info.value.message
    assert "设备完好率" in message and "数据来源" in message
    assert "窗口人员在岗率" in message and "不适用于单个事项" in message
    assert set(info.value.details["reasons"]) == {"device_uptime", "on_post_rate"}
    with pytest.raises(RuleViolation) as info:
        create(world, scope=ScopeIn(slots=["09:00"]), indicators=["on_post_rate"])
    assert "时段" in info.value.message


def test_an_action_keeps_its_unmeasurable_indicators_when_one_can_be_measured(world):
    action_id = create(world, indicators=["device_uptime", "wait_mean"])
    detail = events(action_id)[0].detail
    assert list(detail["not_measurable"]) == ["device_uptime"]


def test_scope_by_windows_compares_with_the_other_windows(world):
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        scope = action_scope.resolve_scope(session=s, hall=hall, scope=ScopeIn(windows=[3, 1]))
        lenient = action_scope.resolve_scope(
            session=s, hall=hall, scope={"items": ["SB01", "GONE"]}, strict=False
        )
    assert scope.unit == "window" and scope.windows == [1, 3]
    assert sorted(scope.treated.values()) == ["1 号窗口 1号窗口", "3 号窗口 3号窗口"]
    assert list(scope.control.values()) == ["2 号窗口 2号窗口"]
    assert lenient.unit == "item" and lenient.items == ["SB01"]
    assert lenient.unknown == ["item:GONE"]


# --- the life cycle ---------------------------------------------------------------------------


def test_life_cycle_start_complete_with_the_event_log(world):
    action_id = create(world, starts_on=START, ends_on=TODAY + timedelta(days=30))
    run(world, "start_action", action_id, on=START + timedelta(days=1), note="已排班")
    with pytest.raises(Conflict) as info:
        run(world, "start_action", action_id)
    assert info.value.code == "invalid_transition" and "实施中" in info.value.message
    action = run(world, "complete_action", action_id)
    # started a day late: the effect is measured from the real start
    assert action.starts_on == START + timedelta(days=1)
    # carried out before its planned end: it ends that day
    assert action.status == ActionStatus.COMPLETED and action.ends_on == TODAY
    for step, kwargs in (("complete_action", {}), ("cancel_action", {"reason": "不再需要"})):
        with pytest.raises(Conflict):
            run(world, step, action_id, **kwargs)
    logged = events(action_id)
    assert [e.kind for e in logged] == ["action.created", "action.started", "action.completed"]
    assert logged[1].detail["planned_start"] == START.isoformat()
    assert logged[1].detail["note"] == "已排班"
    assert logged[2].detail["planned_end"] == (TODAY + timedelta(days=30)).isoformat()


def test_refused_transitions_change_nothing(world):
    action_id = create(world)
    before = counts()
    with pytest.raises(BadRequest):
        run(world, "start_action", action_id, on=TODAY + timedelta(days=1))  # the future
    with pytest.raises(Conflict):
        run(world, "complete_action", action_id)  # never started
    with pytest.raises(BadRequest) as info:
        run(world, "cancel_action", action_id, reason=" ")
    assert info.value.code == "reason_required"
    with pytest.raises(RuleViolation) as info:
        run(world, "measure_effect", action_id)
    assert info.value.code == "action_not_started"
    assert counts() == before
    run(world, "cancel_action", action_id, reason="改为预约分流")
    with pytest.raises(Conflict):
        run(world, "start_action", action_id)
    assert events(action_id)[-1].detail == {"reason": "改为预约分流", "previous_status": "planned"}


# --- assessments and the loop -----------------------------------------------------------------


def assess(world: HallWorld, anomaly_id: int, reasonable: bool, comment: str = "", **kw):
    with frozen(MONDAY), unit_of_work() as s:
        actor = s.get(User, world.manager.id)  # type: ignore[union-attr]
        return assessments.assess_anomaly(
            session=s,
            anomaly_id=anomaly_id,
            reasonable=reasonable,
            comment=comment,
            actor=actor,
            **kw,
        ).status


def test_assessment_needs_a_reason_when_unreasonable_and_is_logged(world):
    anomaly_id = add_anomaly(world)
    with pytest.raises(BadRequest) as info:
        assess(world, anomaly_id, reasonable=False, comment=" ")
    assert info.value.code == "comment_required"
    assert events(anomaly_id=anomaly_id) == []
    with unit_of_work() as s:
        assert s.get(Anomaly, anomaly_id).status == AnomalyStatus.OPEN

    assert assess(world, anomaly_id, reasonable=True) == AnomalyStatus.REASONABLE
    assert assess(world, anomaly_id, False, "窗口排班不足") == AnomalyStatus.UNREASONABLE
    logged = events(anomaly_id=anomaly_id)
    assert [e.kind for e in logged] == ["anomaly.assessed", "anomaly.assessed"]
    assert logged[0].detail["reassessed"] is False
    assert logged[1].detail["previous_status"] == "reasonable" and logged[1].detail["reassessed"]
    with unit_of_work() as s:
        anomaly = s.get(Anomaly, anomaly_id)
        assert anomaly.comment == "窗口排班不足" and anomaly.assessed_by == world.manager.id
        assert anomaly.assessed_at == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_an_anomaly_of_another_hall_is_not_found(world):
    anomaly_id = add_anomaly(world)
    with pytest.raises(NotFound):
        assess(world, anomaly_id, True, hall_id=world.hall.id + 1)


def test_unreasonable_anomalies_wait_for_an_action_until_one_answers_them(world):
    open_id = add_anomaly(world)
    reasonable_id = add_anomaly(world, status=AnomalyStatus.REASONABLE, day=date(2026, 11, 17))
    with pytest.raises(RuleViolation) as info:
        create(world, anomaly_id=open_id)
    assert info.value.code == "anomaly_not_assessed"
    with pytest.raises(RuleViolation) as info:
        create(world, anomaly_id=reasonable_id)
    assert info.value.code == "anomaly_reasonable"

    assess(world, open_id, False, "社保窗口不足")

    def waiting() -> list[int]:
        with unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="H1")
            overview = action_views.loop_overview(session=s, hall=hall)
            return [a.id for a in overview["needing_action"]]

    assert waiting() == [open_id]
    action_id = create(world, anomaly_id=open_id)
    assert waiting() == []
    assert events(action_id)[0].anomaly_id == open_id
    run(world, "cancel_action", action_id, reason="方案调整")
    assert waiting() == [open_id]  # a cancelled action answers nothing
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        action = service.get_action(session=s, hall=hall, action_id=action_id)
        kinds = [e["kind"] for e in action_views.timeline(session=s, action=action)]
    assert kinds == ["anomaly.assessed", "action.created", "action.cancelled"]


def test_draft_from_an_anomaly_targets_its_indicator(world):
    anomaly_id = add_anomaly(world, status=AnomalyStatus.UNREASONABLE)
    arrivals_id = add_anomaly(
        world, status=AnomalyStatus.UNREASONABLE, indicator="arrivals", day=date(2026, 11, 18)
    )
    with frozen(MONDAY), unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        draft = action_views.draft_from_anomaly(session=s, hall=hall, anomaly_id=anomaly_id)
        other = action_views.draft_from_anomaly(session=s, hall=hall, anomaly_id=arrivals_id)
    assert draft["indicators"] == ["wait_mean"] and draft["anomaly_id"] == anomaly_id
    assert "平均等候时长" in draft["title"] and draft["decision"] == "周一排队过长"
    assert draft["starts_on"] == "2026-11-23" and draft["due_date"] == "2026-12-07"
    assert other["indicators"] == []  # arrivals are not an indicator of the framework


# --- the effect on a synthetic store with a known effect ------------------------------------------


def synthetic_measures(
    world: HallWorld, *, effect_minutes: float, closed: set[date] = frozenset(), seed: int = 5
):
    """daily_measures stand-in: items SB01 (treated) and GS01 share a daily shock; after
    START, SB01's mean wait moves by ``effect_minutes``."""
    rng = np.random.default_rng(seed)
    framework = default_framework()
    shapes = {leaf.code: indicator_shape(leaf) for leaf in framework.leaves()}
    items = {code: item.id for code, item in world.items.items()}

    def fake(*, session, hall_id, days, kinds, by_slot=False, store=None):
        assert hall_id == world.hall.id
        rows = []
        for day in days:
            if day.weekday() >= 5:
                continue
            shock = rng.normal(0, 4.0)
            hall_open = day not in closed
            rows.append(
                {"object_kind": "hall", "object_id": hall_id, "m_tickets": 80.0 * hall_open}
            )
            for code, base in (("SB01", 14.0), ("GS01", 10.0)):
                called = 40.0
                wait = max(base + shock + rng.normal(0, 1.0), 0.5)
                if code == "SB01" and day >= START:
                    wait += effect_minutes
                rows.append(
                    {
                        "object_kind": "item",
                        "object_id": items[code],
                        "m_tickets": called,
                        "m_called": called if hall_open else np.nan,
                        "m_wait_s_sum": wait * 60 * called if hall_open else np.nan,
                    }
                )
            for row in rows[-3:]:
                row.update(hall_id=hall_id, period_start=day, period_end=day)
        frame = pd.DataFrame(rows)
        frame["wait_mean"] = frame["m_wait_s_sum"] / frame["m_called"] / 60
        frame["_volume"] = frame["m_tickets"]
        if by_slot:  # everything happens between 09:00 and 09:30
            frame["slot"] = 18
        return DailyMeasures(framework, shapes, frame)

    return fake


def test_measure_effect_recovers_a_known_effect_against_the_other_items(world, monkeypatch):
    monkeypatch.setattr(measurement, "daily_measures", synthetic_measures(world, effect_minutes=-5))
    action_id = create(world, starts_on=START, indicators=["wait_mean", "device_uptime"])
    run(world, "start_action", action_id, on=START)
    action = run(world, "measure_effect", action_id)
    effect = action.effect
    assert effect is not None and action.effect_measured_at is not None
    assert effect["unit"] == "item" and effect["control"] == ["GS01 事项GS01"]
    assert effect["before"] == {"start": "2026-10-12", "end": "2026-11-08"}
    assert effect["after"]["end"] == "2026-11-22"  # up to yesterday
    wait, device = effect["indicators"]
    assert wait["status"] == "measured" and wait["method"] == "did"
    assert wait["ci_low"] <= -5 <= wait["ci_high"] and wait["ci_high"] < 0
    assert wait["verdict"] == "improved" and wait["improvement"] is True  # lower is better
    assert (wait["before_days"], wait["after_days"]) == (20, 10)
    assert device["status"] == "not_measurable" and "数据来源" in device["reason"]
    assert effect["summary"]["improved"] == 1 and effect["summary"]["not_measurable"] == 1
    logged = events(action_id)[-1]
    assert logged.kind == "action.effect_measured"
    assert logged.detail["indicators"]["wait_mean"]["verdict"] == "improved"


def test_no_effect_closed_days_and_weekdays(world, monkeypatch):
    holiday = date(2026, 10, 21)
    monkeypatch.setattr(
        measurement, "daily_measures", synthetic_measures(world, effect_minutes=0, closed={holiday})
    )
    action_id = create(world, starts_on=START)
    run(world, "start_action", action_id, on=START)
    wait = run(world, "measure_effect", action_id).effect["indicators"][0]
    assert wait["ci_low"] <= 0 <= wait["ci_high"] and wait["verdict"] == "no_clear_change"
    assert wait["before_days"] == 19  # the closed day is left out, not counted as zero

    mondays = create(world, starts_on=START, scope=ScopeIn(items=["SB01"], weekdays=[0]))
    run(world, "start_action", mondays, on=START)
    wait = run(world, "measure_effect", mondays).effect["indicators"][0]
    # four Mondays before, two after: an honest "not enough data", no number
    assert wait["status"] == "not_enough_data" and wait["effect"] is None
    assert wait["reason_code"] == "too_few_days_after" and wait["after_days"] == 2


def test_hall_wide_actions_use_the_seasonal_expectation(world, monkeypatch):
    monkeypatch.setattr(measurement, "daily_measures", synthetic_measures(world, effect_minutes=0))
    action_id = create(world, starts_on=START, scope=ScopeIn())
    run(world, "start_action", action_id, on=START)
    effect = run(world, "measure_effect", action_id).effect
    assert effect["unit"] == "hall" and effect["control"] == []
    # the synthetic store has no hall-level wait rows: no data, said so
    assert effect["indicators"][0]["reason_code"] == "no_data"


# --- the effect on a simulated hall history -----------------------------------------------------

HISTORY_NOW = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # Tuesday, noon in Shanghai


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def small_demo(monkeypatch):
    """The demo hall cut to six items and four windows, so 45 days simulate in seconds."""
    from govloop.core import auth
    from govloop.demo.hall import seed as demo

    keep = {"GA01", "GA02", "RS01", "RS02", "SJ01", "SJ02"}
    monkeypatch.setattr(demo, "DEPARTMENTS", tuple(d for d in demo.DEPARTMENTS if d[0] in "GARSJ"))
    monkeypatch.setattr(demo, "ITEMS", tuple(i for i in demo.ITEMS if i[0] in keep))
    monkeypatch.setattr(
        demo,
        "WINDOWS",
        (
            (1, "综合窗口", None, "王芳"),
            (3, "公安户政", ("GA",), "张伟"),
            (4, "人社服务", ("RS",), "刘洋"),
            (6, "企业开办", ("SJ",), "杨帆"),
        ),
    )
    digest = auth.hash_password(demo.DEMO_PASSWORD)
    monkeypatch.setattr(auth, "hash_password", lambda _password, **_: digest)
    return demo


@pytest.fixture
def history(db, data_dir, small_demo):
    with frozen(HISTORY_NOW), unit_of_work() as s:
        world = small_demo.seed_catalogue(session=s)
        small_demo.generate_history(session=s, world=world, days=45, seed=7)
        return {"hall_id": world.hall.id, "manager_id": world.manager.id}


def test_effect_on_a_simulated_history_matches_a_hand_computation(history):
    today = date(2026, 11, 24)

    def act(scope: ScopeIn, start: date, indicators: list[str]) -> dict:
        with frozen(HISTORY_NOW), unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="DEMO")
            actor = s.get(User, history["manager_id"])
            data = ActionIn(
                title="身份证业务分流",
                decision="GA01 改由综合窗口优先办理",
                owner_id=actor.id,
                starts_on=start,
                due_date=start + timedelta(days=14),
                scope=scope,
                indicators=indicators,
            )
            action = service.create_action(session=s, hall=hall, data=data, actor=actor)
            service.start_action(session=s, action=action, actor=actor, on=start)
            return measurement.measure_effect(session=s, action=action, actor=actor)

    report = act(ScopeIn(items=["GA01"]), START, ["wait_mean", "on_time_completion"])
    wait, on_time = report["indicators"]
    assert wait["status"] == on_time["status"] == "measured"
    assert wait["method"] == "did" and wait["ci_low"] <= wait["effect"] <= wait["ci_high"]
    assert wait["before_days"] >= 15 and wait["after_days"] >= 10
    assert len(report["control"]) == 5  # the hall's other items

    # By hand from the store: daily mean wait of GA01 and of the other items (summed
    # seconds over summed called tickets), on open days; DiD of the daily gaps.
    window = fx.periods(START, None, today)
    with unit_of_work() as s:
        frame = daily_measures(
            session=s, hall_id=history["hall_id"], days=window.days(), kinds=["item", "hall"]
        ).frame
        ga01 = hall_service.get_item(session=s, code="GA01").id
    hall_rows = frame[frame["object_kind"] == "hall"]
    open_days = set(hall_rows.loc[hall_rows["m_tickets"] > 0, "period_start"])
    items = frame[(frame["object_kind"] == "item") & frame["period_start"].isin(open_days)]

    def mean_wait(rows: pd.DataFrame) -> pd.Series:
        sums = rows.groupby("period_start")[["m_wait_s_sum", "m_called"]].sum()
        return sums["m_wait_s_sum"] / sums["m_called"] / 60

    gap = (
        mean_wait(items[items["object_id"] == ga01]) - mean_wait(items[items["object_id"] != ga01])
    ).dropna()
    before = gap[[d < START for d in gap.index]]
    after = gap[[d >= START for d in gap.index]]
    assert (len(before), len(after)) == (wait["before_days"], wait["after_days"])
    assert wait["effect"] == pytest.approx(after.mean() - before.mean(), abs=1e-5)

    # Hall-wide, started the day before yesterday: one open day after the start.
    late = act(ScopeIn(), today - timedelta(days=2), ["wait_mean", "device_uptime"])
    assert late["unit"] == "hall"
    assert late["indicators"][0]["status"] == "not_enough_data"
    assert late["indicators"][0]["reason_code"] == "too_few_days_after"
    assert late["indicators"][0]["effect"] is None
    assert late["indicators"][1]["status"] == "not_measurable"
