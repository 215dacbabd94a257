"""The registry of named measures that indicator formulas compose.

A measure is one aggregate over one *fact relation* that the engine derives from the
event log:

* ``visits`` — one row per ticket (from ``hall_events``), attributed to the window and
  staff member who last handled it, the item it ended with and that item's department;
* ``sessions`` — one row per window, staff member and day: signed-in time inside opening
  hours (from ``window.*`` events in ``hall_events``);
* ``appointments`` — one row per appointment that reached an outcome (``hall_events``);
* ``ratings`` — one row per rating that was not excluded on appeal (from
  ``rating_events``), with its rectification case;
* ``devices`` — device availability: one row per hall, device and day with the seconds it
  was online and the seconds it should have been (the hall's opening hours), written by the
  export from the device registry's ``device_events``;
* ``work_orders`` — one row per dispatch (派单 / 改派) of a 12345 work order to a lead unit
  (from ``work_order_events``), counted on the day the order was accepted (see facts.py);
* ``matters`` — one row per matter (办件) accepted at the hall (from ``matter_events``),
  counted on the day it was accepted, with its decision, trips and delivery (see facts.py).
  A matter applied for online or pushed by a department's system belongs to no hall.

Each relation knows the objects it can be grouped by and whether it has a 30-minute slot.

The hotline serves the whole city, not one hall, so ``work_orders`` is *city-wide*: it is
measured per department only. A hall's department scorecard shows, for each department
offering items at the hall's windows, that department's city-wide hotline figures; the
hall's own row has none (the hall does not run the hotline), so hotline indicators never
change a hall-level score. The city-wide totals are on the hotline dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OBJECT_KINDS = ("hall", "department", "window", "staff", "item", "device")


@dataclass(frozen=True)
class Relation:
    name: str
    event_table: str
    objects: frozenset[str]
    slotted: bool
    city_wide: bool = False  # stored under the pseudo hall CITY, shared by every hall


RELATIONS: dict[str, Relation] = {
    r.name: r
    for r in (
        Relation(
            "visits",
            "hall_events",
            frozenset({"hall", "department", "window", "staff", "item"}),
            True,
        ),
        Relation("sessions", "hall_events", frozenset({"hall", "window", "staff"}), False),
        Relation("appointments", "hall_events", frozenset({"hall", "department", "item"}), False),
        Relation(
            "ratings",
            "rating_events",
            frozenset({"hall", "department", "window", "staff", "item"}),
            True,
        ),
        Relation("devices", "device_events", frozenset({"hall", "device"}), False),
        Relation("work_orders", "work_order_events", frozenset({"department"}), False, True),
        Relation("matters", "matter_events", frozenset({"hall", "department", "item"}), False),
    )
}

EVENT_TABLES = frozenset(r.event_table for r in RELATIONS.values())


@dataclass(frozen=True)
class Param:
    name: str
    low: float
    high: float
    integer: bool = False


@dataclass(frozen=True)
class Measure:
    name: str
    relation: str
    sql: str  # an aggregate over the relation; parameters as {name}
    description: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    @property
    def additive(self) -> bool:
        """Counts and sums: the measure of a union of groups is the sum of theirs."""
        return self.sql.startswith(("count(", "sum("))

    def render(self, values: tuple[float, ...]) -> str:
        return self.sql.format(
            **{p.name: repr(float(v)) for p, v in zip(self.params, values, strict=True)}
        )


def _m(name: str, relation: str, sql: str, description: str, *params: Param) -> Measure:
    return Measure(name, relation, sql, description, tuple(params))


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        # --- visits (one row per ticket) ----------------------------------------------
        _m("tickets", "visits", "count(*)", "tickets issued"),
        _m("called", "visits", "count(wait_s)", "tickets called at least once"),
        _m("served", "visits", "count(*) FILTER (WHERE served)", "tickets finished"),
        _m("done", "visits", "count(*) FILTER (WHERE done)", "finished done or accepted (受理)"),
        _m("wait_s_sum", "visits", "sum(wait_s)", "seconds from arrival to first call"),
        _m(
            "wait_quantile",
            "visits",
            "quantile_cont(wait_s, {q}) / 60.0",
            "quantile q of the wait, minutes (linear interpolation)",
            Param("q", 0.0, 1.0),
        ),
        _m(
            "wait_within",
            "visits",
            "count(*) FILTER (WHERE wait_s <= {minutes} * 60)",
            "tickets called within the given minutes of arrival",
            Param("minutes", 0.0, 1440.0),
        ),
        _m(
            "priority_called",
            "visits",
            "count(wait_s) FILTER (WHERE priority)",
            "priority-lane (绿色通道) tickets called",
        ),
        _m(
            "priority_wait_s_sum",
            "visits",
            "sum(wait_s) FILTER (WHERE priority)",
            "wait of priority-lane tickets, seconds",
        ),
        _m(
            "appointment_called",
            "visits",
            "count(wait_s) FILTER (WHERE appointment)",
            "tickets from appointments called",
        ),
        _m(
            "appointment_wait_s_sum",
            "visits",
            "sum(wait_s) FILTER (WHERE appointment)",
            "wait of tickets from appointments, seconds",
        ),
        _m("handle_s_sum", "visits", "sum(handle_s)", "seconds from last start to finish"),
        _m(
            "promised_s_sum",
            "visits",
            "sum(promised_s) FILTER (WHERE served)",
            "promised handling seconds of the finished tickets",
        ),
        _m(
            "on_time",
            "visits",
            "count(*) FILTER (WHERE served AND handle_s <= promised_s)",
            "tickets finished within the item's promised minutes",
        ),
        _m("no_shows", "visits", "count(*) FILTER (WHERE no_show)", "tickets ended as no-show"),
        _m("transfers", "visits", "sum(transfers)", "transfers"),
        _m(
            "transferred",
            "visits",
            "count(*) FILTER (WHERE transfers > 0)",
            "tickets transferred at least once",
        ),
        _m("recalls", "visits", "sum(recalls)", "recalls"),
        _m(
            "recalled",
            "visits",
            "count(*) FILTER (WHERE recalls > 0)",
            "tickets recalled at least once",
        ),
        _m(
            "unserved",
            "visits",
            "count(*) FILTER (WHERE closed OR cancelled)",
            "tickets cancelled or closed at the end of the day unserved",
        ),
        _m(
            "busy_s_sum",
            "visits",
            "sum(busy_s)",
            "seconds windows were busy: last call to finish or no-show",
        ),
        # --- sessions (window × staff × day) -------------------------------------------
        _m(
            "signed_in_s",
            "sessions",
            "sum(signed_s)",
            "signed-in, not paused seconds inside opening hours",
        ),
        _m(
            "on_duty_s",
            "sessions",
            "sum(open_s)",
            "opening seconds of the days a window / staff member was signed in",
        ),
        # --- appointments -----------------------------------------------------------------
        _m(
            "appointments_due",
            "appointments",
            "count(*) FILTER (WHERE outcome IN ('on_time', 'late', 'missed'))",
            "appointments that came due (checked in, late or missed)",
        ),
        _m(
            "appointments_on_time",
            "appointments",
            "count(*) FILTER (WHERE outcome = 'on_time')",
            "appointments checked in on time",
        ),
        _m(
            "appointments_late",
            "appointments",
            "count(*) FILTER (WHERE outcome = 'late')",
            "appointments checked in late",
        ),
        _m(
            "appointments_missed",
            "appointments",
            "count(*) FILTER (WHERE outcome = 'missed')",
            "appointments missed",
        ),
        # --- ratings ----------------------------------------------------------------------
        _m("ratings", "ratings", "count(*)", "ratings (appeal-excluded ones left out)"),
        _m("satisfied", "ratings", "count(*) FILTER (WHERE level >= 3)", "基本满意 or better"),
        _m("very_satisfied", "ratings", "count(*) FILTER (WHERE level = 5)", "非常满意"),
        _m("bad", "ratings", "count(*) FILTER (WHERE level <= 2)", "不满意 or worse"),
        _m("level_sum", "ratings", "sum(level)", "sum of rating levels (1–5)"),
        _m(
            "real_name_bad",
            "ratings",
            "count(*) FILTER (WHERE level <= 2 AND real_name)",
            "real-name bad ratings",
        ),
        _m(
            "real_name_bad_called_back",
            "ratings",
            "count(*) FILTER (WHERE level <= 2 AND real_name AND called_back)",
            "real-name bad ratings whose citizen was called back",
        ),
        _m("cases", "ratings", "count(*) FILTER (WHERE has_case)", "rectification cases opened"),
        _m(
            "cases_called_back",
            "ratings",
            "count(*) FILTER (WHERE has_case AND called_back)",
            "cases with a callback",
        ),
        _m(
            "callbacks_on_time",
            "ratings",
            "count(*) FILTER (WHERE has_case AND callback_on_time)",
            "callbacks made by their due working day",
        ),
        _m(
            "rectified",
            "ratings",
            "count(*) FILTER (WHERE has_case AND rectified)",
            "cases rectified",
        ),
        _m(
            "rectified_on_time",
            "ratings",
            "count(*) FILTER (WHERE has_case AND rectified_on_time)",
            "cases rectified by their due working day",
        ),
        # --- work orders (one row per dispatch to a lead unit; see facts.py) ------------
        _m("hotline_dispatches", "work_orders", "count(*)", "dispatches to the unit as lead"),
        _m(
            "hotline_orders",
            "work_orders",
            "count(*) FILTER (WHERE current)",
            "orders the unit currently leads",
        ),
        _m(
            "hotline_closed",
            "work_orders",
            "count(*) FILTER (WHERE current AND closed)",
            "orders closed (办结)",
        ),
        _m(
            "hotline_closed_on_time",
            "work_orders",
            "count(*) FILTER (WHERE current AND closed AND closed_on_time)",
            "orders closed within their time limit",
        ),
        _m(
            "hotline_signed",
            "work_orders",
            "count(*) FILTER (WHERE current AND signed)",
            "orders the unit signed for (签收)",
        ),
        _m(
            "hotline_signed_on_time",
            "work_orders",
            "count(*) FILTER (WHERE current AND signed_on_time)",
            "orders signed for by the sign-for deadline",
        ),
        _m(
            "hotline_callbacks",
            "work_orders",
            "count(*) FILTER (WHERE current AND called_back)",
            "closed orders called back (回访), reached or not",
        ),
        _m(
            "hotline_callbacks_reached",
            "work_orders",
            "count(*) FILTER (WHERE current AND reached)",
            "closed orders whose citizen was reached on the (last) callback",
        ),
        _m(
            "hotline_returns",
            "work_orders",
            "count(*) FILTER (WHERE return_requested)",
            "dispatches the unit asked to return (退单)",
        ),
        _m(
            "hotline_returns_approved",
            "work_orders",
            "count(*) FILTER (WHERE return_approved)",
            "returns the center approved",
        ),
        _m(
            "hotline_rated",
            "work_orders",
            "count(rating_level) FILTER (WHERE current)",
            "orders rated (appeal-excluded ratings left out)",
        ),
        _m(
            "hotline_satisfied",
            "work_orders",
            "count(*) FILTER (WHERE current AND rating_level >= 3)",
            "orders rated 基本满意 or better",
        ),
        _m(
            "hotline_handle_days_sum",
            "work_orders",
            "sum(handle_days) FILTER (WHERE current AND closed)",
            "days from acceptance to closing of the closed orders",
        ),
        # --- matters (one row per matter, on its day of acceptance; see facts.py) --------
        _m("matters", "matters", "count(*)", "matters accepted (受理)"),
        _m(
            "matters_decided",
            "matters",
            "count(*) FILTER (WHERE decided)",
            "matters decided (办结: 准予 or 不予)",
        ),
        _m(
            "matters_decided_timed",
            "matters",
            "count(*) FILTER (WHERE timed)",
            "matters decided that have a promised limit (承诺时限)",
        ),
        _m(
            "matters_on_time",
            "matters",
            "count(*) FILTER (WHERE timed AND on_time)",
            "matters decided by their promised limit (补正 pauses not counted)",
        ),
        _m(
            "matters_finished",
            "matters",
            "count(*) FILTER (WHERE finished)",
            "matters whose result reached the applicant (已送达 or 已领取)",
        ),
        _m(
            "matters_visits_sum",
            "matters",
            "sum(visits) FILTER (WHERE finished)",
            "trips (跑动次数) of the finished matters",
        ),
        _m(
            "matters_one_trip",
            "matters",
            "count(*) FILTER (WHERE finished AND visits <= 1)",
            "finished matters with no trip or one (最多跑一次)",
        ),
        _m(
            "matters_by_post",
            "matters",
            "count(*) FILTER (WHERE finished AND by_post)",
            "finished matters whose result was delivered by post (已送达)",
        ),
        _m(
            "matters_handed_over",
            "matters",
            "count(ready_to_hand_days) FILTER (WHERE finished)",
            "finished matters with a moment the result was ready (制证 done)",
        ),
        _m(
            "matters_ready_to_hand_days_sum",
            "matters",
            "sum(ready_to_hand_days) FILTER (WHERE finished)",
            "days from the result ready (制证 done) to delivered or collected",
        ),
        # --- devices (from the device registry, ingest/devices.py) --------------------------
        _m("device_up_s", "devices", "sum(up_s)", "seconds devices were up"),
        _m("device_expected_s", "devices", "sum(expected_s)", "seconds devices should be up"),
    )
}
