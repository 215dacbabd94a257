"""DuckDB SQL that derives the fact relations from the raw event rows.

Each query reads the view ``ev`` (hall events of one hall) or ``rev`` (rating events of
one hall) and the dimension tables ``halls`` and ``items``. The definitions here are the
meaning of every measure, so they are spelled out:

* wait — arrival (``tickets.arrived_at``, kept through transfers) to the *first* call;
* handling — the last ``started`` to ``finished``; promised — the final item's minutes;
* busy — the last call to finish or final no-show (time the window was occupied);
* a ticket belongs to the window and staff member of its last call/start/finish/no-show,
  to the item it ended with and that item's department, and to its service day;
* no-show — a ``no_show`` event that did not put the ticket back in the queue;
* on-post time — from ``signed_in``/``resumed`` to the next ``paused``/``signed_out`` of
  the window that day (or closing time), clipped to each opening period in force that day
  (a lunch break is not on-post time); the day's opening periods count as duty time for
  each window and staff member who signed in that day;
* appointments — the last outcome event of each appointment (on time, late, missed …);
* ratings — excluded when an appeal was upheld; a callback or rectification is on time
  when it happened (local day) no later than its due working day;
* work orders (view ``wev``, the city's work-order events) — one row per dispatch (派单 or
  改派) of an order to a lead unit (主办), on the day the order was accepted. The dispatch
  is *current* when it is the order's last one and was not returned (退单 approved) since:
  the order's figures (closed, closed on time, callback, rating) count for the unit of its
  current dispatch only. Signed (签收) is the unit's signature within the current dispatch,
  on time when no later than the order's sign-for deadline; closed on time is the
  ``on_time`` the workflow recorded when closing (办结 no later than the time limit); a
  return is a 退单 request by the unit within the dispatch, whatever the decision. The
  rating (一事一评) is joined when the facts are read, from the city's rating facts, so a
  rating excluded on appeal never counts.
* matters (view ``mev``, matter events of one hall) — one row per matter (办件), on the
  day it was accepted, with the department, item, trips (跑动次数) and promised limit of
  its newest row. *Decided* (办结) — 准予 or 不予 made (``decided_at``); a matter returned
  to the applicant (退回) or still open is not. *On time* — decided no later than the
  promised limit as it stands, which every finished 补正 pause moved later by its working
  days; a matter whose item has no promised limit is decided but not *timed*. *Finished*
  — its result reached the applicant: 已送达 (by post) or 已领取 (at a window). *Ready* —
  the first move to 待领取 or 已寄出 (制证 done, or the refusal written); *handed over* —
  the move to 已送达 or 已领取; the days between are calendar days.
"""

from __future__ import annotations

from govloop.analytics.store import (
    MATTER_STATE_CODES,
    RATING_KIND_CODES,
    WORK_ORDER_KIND_CODES,
    K,
)
from govloop.indicators.measures import MEASURES

_HANDLED = ", ".join(str(K[k]) for k in ("CALLED", "RECALLED", "STARTED", "FINISHED", "NO_SHOW"))

# The issued row carries what is static about a ticket; the other events are folded per
# ticket. Window and staff of the last handling event are packed into one BIGINT so that
# a single arg_max finds both (ids are positive 32-bit integers).
VISITS_SQL = f"""
WITH i AS (
  SELECT ticket_id, hall_id, day, slot, priority AS priority_code, arrived_at, item_id,
    appointment_id IS NOT NULL AS appointment
  FROM ev WHERE kind = {K["ISSUED"]} AND ticket_id IS NOT NULL
), t AS (
  SELECT ticket_id,
    min("at") FILTER (WHERE kind = {K["CALLED"]}) AS first_called,
    max("at") FILTER (WHERE kind = {K["CALLED"]}) AS last_called,
    max("at") FILTER (WHERE kind = {K["STARTED"]}) AS last_started,
    max("at") FILTER (WHERE kind = {K["FINISHED"]}) AS finished_at,
    arg_max(outcome, id) FILTER (WHERE kind = {K["FINISHED"]}) AS outcome,
    max("at") FILTER (WHERE kind = {K["NO_SHOW"]} AND NOT coalesce(requeued, false))
      AS no_show_at,
    arg_max(item_id, id) AS item_id,
    arg_max((CAST(window_id AS BIGINT) << 32) | CAST(staff_id AS BIGINT), id)
      FILTER (WHERE kind IN ({_HANDLED})) AS handled_by,
    count(*) FILTER (WHERE kind = {K["TRANSFERRED"]}) AS transfers,
    count(*) FILTER (WHERE kind = {K["RECALLED"]}) AS recalls,
    bool_or(kind IN ({K["CLOSED"]}, {K["CARRIED_OVER"]})) AS closed,
    bool_or(kind = {K["CANCELLED"]}) AS cancelled
  FROM ev
  WHERE kind BETWEEN {K["CALLED"]} AND {K["CARRIED_OVER"]} AND ticket_id IS NOT NULL
  GROUP BY ticket_id
), v AS (
  SELECT i.*, coalesce(t.item_id, i.item_id) AS final_item_id, t.first_called, t.last_called,
    t.last_started, t.finished_at, t.outcome, t.no_show_at, t.handled_by, t.transfers,
    t.recalls, t.closed, t.cancelled
  FROM i LEFT JOIN t USING (ticket_id)
)
SELECT v.hall_id, v.day, v.slot, v.ticket_id, v.final_item_id AS item_id, it.department_id,
  CAST(v.handled_by >> 32 AS INTEGER) AS window_id,
  CAST(v.handled_by & 4294967295 AS INTEGER) AS staff_id,
  coalesce(v.priority_code = 1, false) AS priority,
  v.appointment,
  epoch(v.first_called - v.arrived_at) AS wait_s,
  v.finished_at IS NOT NULL AS served,
  coalesce(v.finished_at IS NOT NULL AND v.outcome IN (1, 4), false) AS done,
  epoch(v.finished_at - v.last_started) AS handle_s,
  it.promised_s,
  v.no_show_at IS NOT NULL AND v.finished_at IS NULL AS no_show,
  epoch(coalesce(v.finished_at, v.no_show_at) - v.last_called) AS busy_s,
  coalesce(v.transfers, 0) AS transfers, coalesce(v.recalls, 0) AS recalls,
  coalesce(v.closed, false) AS closed, coalesce(v.cancelled, false) AS cancelled
FROM v LEFT JOIN items it ON it.id = v.final_item_id
"""

_WINDOW_KINDS = ", ".join(
    str(K[k]) for k in ("WINDOW_SIGNED_IN", "WINDOW_SIGNED_OUT", "WINDOW_PAUSED", "WINDOW_RESUMED")
)

SESSIONS_SQL = f"""
WITH w AS (
  SELECT hall_id, day, window_id, staff_id, kind, local_at,
    lead(local_at) OVER (PARTITION BY window_id, day ORDER BY id) AS next_at
  FROM ev WHERE kind IN ({_WINDOW_KINDS}) AND window_id IS NOT NULL
), p AS (
  SELECT hall_id, valid_from, valid_to, start_s, end_s,
    sum(end_s - start_s) OVER (PARTITION BY hall_id, valid_from) AS open_s
  FROM hall_periods
), iv AS (
  SELECT w.hall_id, w.day, w.window_id, w.staff_id,
    greatest(w.local_at, w.day + to_seconds(p.start_s)) AS s,
    least(coalesce(w.next_at, w.day + to_seconds(p.end_s)),
          w.day + to_seconds(p.end_s)) AS e,
    CAST(p.open_s AS DOUBLE) AS open_s
  FROM w JOIN p ON p.hall_id = w.hall_id AND w.day >= p.valid_from AND w.day < p.valid_to
  WHERE w.kind IN ({K["WINDOW_SIGNED_IN"]}, {K["WINDOW_RESUMED"]})
)
SELECT hall_id, day, window_id, staff_id,
  sum(greatest(epoch(e - s), 0)) AS signed_s,
  any_value(open_s) AS open_s
FROM iv GROUP BY hall_id, day, window_id, staff_id
"""

_APPOINTMENT_OUTCOMES = {
    K["APPOINTMENT_CHECKED_IN"]: "on_time",
    K["APPOINTMENT_LATE"]: "late",
    K["APPOINTMENT_MISSED"]: "missed",
    K["APPOINTMENT_CANCELLED"]: "cancelled",
}

APPOINTMENTS_SQL = f"""
WITH a AS (
  SELECT appointment_id, any_value(hall_id) AS hall_id, any_value(day) AS day,
    any_value(item_id) AS item_id, arg_max(kind, id) AS last_kind
  FROM ev
  WHERE kind IN ({", ".join(str(k) for k in _APPOINTMENT_OUTCOMES)})
    AND appointment_id IS NOT NULL
  GROUP BY appointment_id
)
SELECT a.hall_id, a.day, a.appointment_id, a.item_id, i.department_id,
  CASE a.last_kind {" ".join(f"WHEN {k} THEN '{v}'" for k, v in _APPOINTMENT_OUTCOMES.items())}
  END AS outcome
FROM a LEFT JOIN items i ON i.id = a.item_id
"""

_R = RATING_KIND_CODES
RATINGS_SQL = f"""
WITH sub AS (
  SELECT rating_id, hall_id, day, slot, item_id, window_id, staff_id, department_id, level,
    real_name
  FROM rev WHERE kind = {_R["rating.submitted"]}
), cs AS (
  SELECT rating_id,
    bool_or(kind = {_R["case.opened"]}) AS has_case,
    any_value(callback_due) AS callback_due,
    any_value(rectification_due) AS rectification_due,
    min(local_at) FILTER (WHERE kind = {_R["case.called_back"]}) AS called_back_at,
    min(local_at) FILTER (WHERE kind = {_R["case.rectified"]}) AS rectified_at,
    bool_or(kind = {_R["case.appeal_upheld"]}) AS excluded
  FROM rev WHERE kind > {_R["rating.submitted"]}
  GROUP BY rating_id
)
SELECT sub.*, coalesce(cs.has_case, false) AS has_case,
  cs.called_back_at IS NOT NULL AS called_back,
  coalesce(CAST(cs.called_back_at AS DATE) <= cs.callback_due, false) AS callback_on_time,
  cs.rectified_at IS NOT NULL AS rectified,
  coalesce(CAST(cs.rectified_at AS DATE) <= cs.rectification_due, false) AS rectified_on_time
FROM sub LEFT JOIN cs USING (rating_id)
WHERE NOT coalesce(cs.excluded, false)
"""

_W = WORK_ORDER_KIND_CODES
_DISPATCHES = f"{_W['order.dispatched']}, {_W['order.redispatched']}"
WORK_ORDERS_SQL = f"""
WITH d AS (
  SELECT hall_id, day, order_id, id AS dispatch_id, department_id,
    lead(id) OVER (PARTITION BY order_id ORDER BY id) AS next_dispatch_id
  FROM wev WHERE kind IN ({_DISPATCHES}) AND department_id IS NOT NULL
), o AS (
  SELECT order_id,
    max(id) FILTER (WHERE kind IN ({_DISPATCHES})) AS last_dispatch_id,
    max(id) FILTER (WHERE kind = {_W["order.return_approved"]}) AS last_return_id,
    min("at") FILTER (WHERE kind = {_W["order.accepted"]}) AS accepted_at,
    max("at") FILTER (WHERE kind = {_W["order.closed"]}) AS closed_at,
    arg_max(on_time, id) FILTER (WHERE kind = {_W["order.closed"]}) AS on_time,
    bool_or(kind = {_W["order.called_back"]}) AS called_back,
    arg_max(reached, id) FILTER (WHERE kind = {_W["order.called_back"]}) AS reached,
    arg_max(rating_id, id) FILTER (WHERE kind = {_W["order.rated"]}) AS rating_id,
    arg_max(sign_due_at, id) AS sign_due_at
  FROM wev GROUP BY order_id
), p AS (
  SELECT d.dispatch_id,
    max(e."at") FILTER (WHERE e.kind = {_W["order.signed"]}) AS signed_at,
    bool_or(e.kind = {_W["order.return_requested"]}) AS return_requested,
    bool_or(e.kind = {_W["order.return_approved"]}) AS return_approved
  FROM d JOIN wev e ON e.order_id = d.order_id AND e.department_id = d.department_id
    AND e.id > d.dispatch_id AND (d.next_dispatch_id IS NULL OR e.id < d.next_dispatch_id)
  WHERE e.kind IN ({_W["order.signed"]}, {_W["order.return_requested"]},
    {_W["order.return_approved"]})
  GROUP BY d.dispatch_id
)
SELECT d.hall_id, d.day, d.order_id, d.dispatch_id, d.department_id,
  d.dispatch_id = o.last_dispatch_id AND coalesce(o.last_return_id < d.dispatch_id, true)
    AS current,
  p.signed_at IS NOT NULL AS signed,
  coalesce(p.signed_at <= o.sign_due_at, false) AS signed_on_time,
  coalesce(p.return_requested, false) AS return_requested,
  coalesce(p.return_approved, false) AS return_approved,
  o.closed_at IS NOT NULL AS closed,
  o.closed_at IS NOT NULL AND coalesce(o.on_time, true) AS closed_on_time,
  coalesce(o.called_back, false) AS called_back,
  coalesce(o.reached, false) AS reached,
  o.rating_id,
  epoch(o.closed_at - o.accepted_at) / 86400.0 AS handle_days
FROM d JOIN o USING (order_id) LEFT JOIN p USING (dispatch_id)
"""

_MS = MATTER_STATE_CODES
MATTERS_SQL = f"""
WITH m AS (
  SELECT matter_id, any_value(hall_id) AS hall_id, any_value(day) AS day,
    arg_max(department_id, id) AS department_id,
    arg_max(item_id, id) AS item_id,
    arg_max(promised_due_at, id) AS promised_due_at,
    arg_max(decided_at, id) AS decided_at,
    arg_max(visits, id) AS visits,
    arg_max(to_state, id) AS state,
    min("at") FILTER (WHERE to_state IN ({_MS["awaiting_pickup"]}, {_MS["posted"]}))
      AS ready_at,
    max("at") FILTER (WHERE to_state IN ({_MS["delivered"]}, {_MS["picked_up"]}))
      AS handed_at
  FROM mev GROUP BY matter_id
)
SELECT hall_id, day, matter_id, department_id, item_id,
  decided_at IS NOT NULL AS decided,
  decided_at IS NOT NULL AND promised_due_at IS NOT NULL AS timed,
  coalesce(decided_at <= promised_due_at, false) AS on_time,
  coalesce(state IN ({_MS["delivered"]}, {_MS["picked_up"]}), false) AS finished,
  coalesce(state = {_MS["delivered"]}, false) AS by_post,
  CAST(coalesce(visits, 0) AS INTEGER) AS visits,
  epoch(handed_at - ready_at) / 86400.0 AS ready_to_hand_days
FROM m
"""

# City-wide facts as one hall sees them: the rows of the departments offering items at
# the hall's windows, relabelled with the hall's id, with the order's rating level when
# the rating still counts. {facts}, {columns} (the facts' columns but hall_id, as w.<name>),
# {ratings}, {halls}, {lo} and {hi} are filled in by the engine. Columns are spelled out
# rather than ``w.* REPLACE (…)`` so that Spark SQL runs the same text (spark_engine.py).
WORK_ORDERS_READ_SQL = """
SELECT h.hall_id, {columns}, r.level AS rating_level
FROM {facts} w
JOIN hall_departments h ON h.department_id = w.department_id
LEFT JOIN (SELECT rating_id, any_value(level) AS level FROM {ratings} GROUP BY rating_id) r
  ON r.rating_id = w.rating_id
WHERE h.hall_id IN ({halls}) AND w.day BETWEEN DATE '{lo}' AND DATE '{hi}'
"""
EMPTY_RATINGS = "(SELECT CAST(NULL AS BIGINT) AS rating_id, CAST(NULL AS TINYINT) AS level LIMIT 0)"

# The visit cube: every additive, parameter-free visits measure summed per hall, day, item,
# window and staff member (about a fifth of the visit rows). Counts and sums of a union
# are sums of the parts, so the engine reads these instead of the visits for them.
CUBE_MEASURES = tuple(
    m for m in MEASURES.values() if m.relation == "visits" and m.additive and not m.params
)
CUBE_SQL = (
    "SELECT hall_id, day, item_id, department_id, window_id, staff_id, "
    + ", ".join(f'{m.sql} AS "m_{m.name}"' for m in CUBE_MEASURES)
    + " FROM visits_built GROUP BY hall_id, day, item_id, department_id, window_id, staff_id"
)

FACTS_SQL = {
    "visits": ("ev", VISITS_SQL),
    "sessions": ("ev", SESSIONS_SQL),
    "appointments": ("ev", APPOINTMENTS_SQL),
    "ratings": ("rev", RATINGS_SQL),
    "work_orders": ("wev", WORK_ORDERS_SQL),
    "matters": ("mev", MATTERS_SQL),
}
# Relations whose facts the export writes directly, without raw rows: device uptime needs
# each device's state carried across partitions (see export.py and ingest/devices.py).
EXPORTED_FACTS = frozenset({"devices"})
# The raw view each source is read through when its facts are built.
SOURCE_VIEWS = {
    "hall_events": "ev",
    "rating_events": "rev",
    "work_order_events": "wev",
    "matter_events": "mev",
}
# How city-wide relations are read for a set of halls.
CITY_READ_SQL = {"work_orders": WORK_ORDERS_READ_SQL}

# The column that identifies each kind of object in a fact relation.
OBJECT_COLUMNS = {
    "department": "department_id",
    "window": "window_id",
    "staff": "staff_id",
    "item": "item_id",
    "device": "device_id",
}
