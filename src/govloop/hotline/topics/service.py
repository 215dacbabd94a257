"""Hot topics (舆情 / 热点): clusters of similar new orders, and surges by category or area.

**Clusters** (:func:`cluster_day`). The orders created on one local day are tokenized with
jieba (the routing tokenizer) without stopwords, numbers and one-character words, and
weighted by TF-IDF whose IDF also sees the week before, so the words a category is always
described with weigh little and what is new today (a compound's name, an incident) a lot.
Average-linkage agglomerative clustering on cosine distance, cut at
``topics_detect.CLUSTER_DISTANCE``, needs no number of clusters and does not chain loosely
related orders together. A group becomes a topic when it has ``min_size`` orders from
``min_size`` different callers (ten calls from one person are a repeat call, not a topic)
and is new: as many orders that similar are improbable on the days of the week before
(upper tail below ``CLUSTER_ALPHA``). It is labelled by its top terms and its dominant
category and district.

**Surges** (:func:`detect_surges`). Every category and every district is tested: the day's
count against the previous ``history_days`` days of the same kind (working day or rest
day, from the official calendar), scaled by the weekday's share of all orders and by the
day's own level (the median count/baseline over all series, never below 1: the first
working day after a holiday is busy for everyone). The test is the negative binomial
upper tail whose variance holds the overdispersion the baseline days show (when a
dispersion test finds any) and the uncertainty of a mean from few days. Some 30 series
are tested every day, so the per-test threshold is Bonferroni's ``FAMILY_ALPHA / m`` with
FAMILY_ALPHA = 1 %: at most about one false alarm day in a hundred if the model holds.
A surge also needs ``MIN_SURGE_COUNT`` orders and ``MIN_SURGE_RATIO`` × the baseline, so
1 → 3 never alarms. A day still running is compared with whole past days, which can only
delay an alarm, never raise a false one.

**Alerts** (:func:`scan_day`). Both are stored as :class:`TopicAlert` rows, one per (day,
kind, key); scanning again updates them. A cluster found again keeps its alert and key
(matched by shared orders) even if its top terms shift. A scan never deletes an alert
nor its acknowledgement: a manager may have acted on it. :func:`run_daily` is the timed
job.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from govloop.core.calendar import is_workday
from govloop.core.clock import local_today, now
from govloop.core.errors import BadRequest, Conflict, NotFound
from govloop.core.models import User
from govloop.hotline.models import (
    TopicAlert,
    TopicAlertKind,
    WorkOrder,
)
from govloop.hotline.orders import journal
from govloop.hotline.topics.detect import (
    MIN_CLUSTER_SIZE,
    TOP_TERMS,
    assess_day,
    find_clusters,
    reference_days,
    topic_tokens,
)
from govloop.hotline.topics.queries import category_names, day_bounds, dominant, local_day

# ---- parameters ----------------------------------------------------------------------

BACKGROUND_DAYS = 7  # the IDF also sees the week before the day
MAX_BACKGROUND = 3000  # most recent orders of that week
MAX_BLOCK = 3000  # above this many orders a day is clustered per category (memory: n²)
HISTORY_DAYS = 28
MAX_ALERT_ORDERS = 500  # order ids kept on one alert
JOB_INTERVAL_S = 300

_scan_lock = threading.Lock()
_last_scans: dict[tuple[str, date], tuple[Any, ...]] = {}


# ---- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicCluster:
    order_ids: list[int]
    terms: list[str]
    callers: int
    cohesion: float  # mean cosine similarity of the orders to their centroid
    baseline: float | None  # similar orders on an ordinary day (the week before)
    p_value: float | None
    category_code: str | None  # dominant (≥ half of the orders), else None
    category_name: str | None
    district: str | None  # dominant, else None

    @property
    def size(self) -> int:
        return len(self.order_ids)

    @property
    def key(self) -> str:
        return ("、".join(self.terms[:3]) or f"#{self.order_ids[0]}")[:100]

    @property
    def label(self) -> str:
        parts = [p for p in ("、".join(self.terms[:3]), self.category_name, self.district) if p]
        return " · ".join(parts)[:200]


@dataclass(frozen=True)
class Surge:
    kind: TopicAlertKind  # SURGE_CATEGORY or SURGE_DISTRICT
    key: str  # category code or district
    label: str  # category name or district
    count: int
    baseline: float  # expected count of the day
    p_value: float
    reference_days: int
    order_ids: list[int] = field(default_factory=list)
    terms: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.count / self.baseline if self.baseline > 0 else math.inf


@dataclass
class ScanResult:
    day: date
    clusters: list[TopicCluster]
    surges: list[Surge]
    created: int = 0
    updated: int = 0
    alerts: list[TopicAlert] = field(default_factory=list)


# ---- clusters --------------------------------------------------------------------------


def _background(session: Session, start: datetime) -> dict[date, list[list[str]]]:
    """Token lists of the orders of the ``BACKGROUND_DAYS`` before ``start``, per day; when
    capped at ``MAX_BACKGROUND`` orders, the oldest (partly read) day is left out."""
    rows = session.execute(
        select(WorkOrder.created_at, WorkOrder.title, WorkOrder.content)
        .where(
            WorkOrder.created_at >= start - timedelta(days=BACKGROUND_DAYS),
            WorkOrder.created_at < start,
        )
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())
        .limit(MAX_BACKGROUND + 1)
    ).all()
    capped = len(rows) > MAX_BACKGROUND
    by_day: dict[date, list[list[str]]] = defaultdict(list)
    for created_at, title, content in rows[:MAX_BACKGROUND]:
        by_day[local_day(created_at)].append(topic_tokens(title, content))
    if capped and by_day:
        del by_day[min(by_day)]
    return dict(by_day)


def cluster_day(
    *, session: Session, day: date, min_size: int = MIN_CLUSTER_SIZE
) -> list[TopicCluster]:
    """Topics among the orders created on local ``day``: new groups of similar orders."""
    start, end = day_bounds(day)
    rows = session.execute(
        select(
            WorkOrder.id,
            WorkOrder.title,
            WorkOrder.content,
            WorkOrder.category_id,
            WorkOrder.district,
            WorkOrder.caller_phone,
        )
        .where(WorkOrder.created_at >= start, WorkOrder.created_at < end)
        .order_by(WorkOrder.id)
    ).all()
    if len(rows) < min_size:
        return []
    background = _background(session, start)
    categories = category_names(session)
    blocks: list[list[int]] = [list(range(len(rows)))]
    if len(rows) > MAX_BLOCK:
        by_category: dict[int, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            by_category[row.category_id or 0].append(i)
        blocks = [by_category[k] for k in sorted(by_category)]
    docs = [topic_tokens(r.title, r.content) for r in rows]
    clusters = []
    for block in blocks:
        for group in find_clusters([docs[i] for i in block], background, min_size=min_size):
            chosen = [rows[block[m]] for m in group.members]
            callers = len({r.caller_phone or f"#{r.id}" for r in chosen})
            if callers < min_size:
                continue  # one caller ringing again and again is not a hot topic
            category_id = dominant([r.category_id for r in chosen])
            category = categories.get(category_id) if category_id else None
            clusters.append(
                TopicCluster(
                    order_ids=[r.id for r in chosen],
                    terms=group.terms,
                    callers=callers,
                    cohesion=group.cohesion,
                    baseline=group.baseline,
                    p_value=group.p_value,
                    category_code=category[0] if category else None,
                    category_name=category[1] if category else None,
                    district=dominant([r.district for r in chosen]),
                )
            )
    clusters.sort(key=lambda c: (-c.size, c.order_ids[0]))
    return clusters


# ---- surges ----------------------------------------------------------------------------


def _series_counts(
    session: Session, day: date, history_days: int
) -> tuple[
    list[date],
    dict[date, int],
    dict[tuple[str, Any], Counter[date]],
    dict[tuple[str, Any], list[int]],
]:
    """Per-day counts over the window ending with ``day``: totals and each series'."""
    start, end = day_bounds(day - timedelta(days=history_days), history_days + 1)
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.created_at, WorkOrder.category_id, WorkOrder.district).where(
            WorkOrder.created_at >= start, WorkOrder.created_at < end
        )
    ).all()
    totals: Counter[date] = Counter()
    series: dict[tuple[str, Any], Counter[date]] = defaultdict(Counter)
    today_ids: dict[tuple[str, Any], list[int]] = defaultdict(list)
    for order_id, created_at, category_id, district in rows:
        d = local_day(created_at)
        totals[d] += 1
        for key in (("category", category_id), ("district", district)):
            if key[1] is None:
                continue
            series[key][d] += 1
            if d == day:
                today_ids[key].append(order_id)
    days = sorted(totals)
    return days, dict(totals), series, today_ids


def detect_surges(*, session: Session, day: date, history_days: int = HISTORY_DAYS) -> list[Surge]:
    """Categories and districts with significantly more orders on ``day`` than usual."""
    seen_days, totals, series, today_ids = _series_counts(session, day, history_days)
    past = [d for d in seen_days if d < day]
    if not past:
        return []
    # Days before the first order in the window are before the hotline went live.
    reference = reference_days(day, past[0], is_workday)
    categories = category_names(session)
    surges = []
    tests = assess_day(day, series, totals, reference)
    for test in sorted(tests, key=lambda t: (t.key[0], str(t.key[1]))):
        if not test.surge:
            continue
        dimension, value = test.key
        if dimension == "category":
            code, name = categories.get(value, (str(value), str(value)))
            kind_, key, label = TopicAlertKind.SURGE_CATEGORY, code, name
        else:
            kind_, key, label = TopicAlertKind.SURGE_DISTRICT, str(value), str(value)
        surges.append(
            Surge(
                kind=kind_,
                key=key[:100],
                label=label[:200],
                count=test.count,
                baseline=test.baseline,
                p_value=test.p_value,
                reference_days=len(reference),
                order_ids=sorted(today_ids[(dimension, value)])[:MAX_ALERT_ORDERS],
            )
        )
    if not surges:
        return []
    words = _day_words(session, day)
    return [dataclasses.replace(x, terms=distinctive_terms(x.order_ids, words)) for x in surges]


def _day_words(session: Session, day: date) -> dict[int, set[str]]:
    start, end = day_bounds(day)
    rows = session.execute(
        select(WorkOrder.id, WorkOrder.title, WorkOrder.content).where(
            WorkOrder.created_at >= start, WorkOrder.created_at < end
        )
    )
    return {order_id: set(topic_tokens(title, content)) for order_id, title, content in rows}


def distinctive_terms(order_ids: Sequence[int], words: dict[int, set[str]]) -> list[str]:
    """What a surge's orders talk about more than the day's other orders: words used by at
    least a fifth of them, ranked by their count there times their IDF over the day."""
    inside: Counter[str] = Counter(w for i in order_ids for w in words.get(i, ()))
    day: Counter[str] = Counter(w for ws in words.values() for w in ws)
    n = len(words)
    scored = [
        (-k * math.log((n + 1) / (day[w] + 1)), w)
        for w, k in inside.items()
        if k * 5 >= len(order_ids) and k >= 2
    ]
    return [w for _score, w in sorted(scored)[:TOP_TERMS]]


# ---- alerts ----------------------------------------------------------------------------


def _overlap(a: Sequence[int], b: Sequence[int]) -> float:
    if not a or not b:
        return 0.0
    return len(set(a) & set(b)) / min(len(a), len(b))


def _store(
    session: Session,
    alert: TopicAlert | None,
    *,
    day: date,
    kind: TopicAlertKind,
    key: str,
    values: dict[str, Any],
) -> tuple[TopicAlert, bool]:
    """Update ``alert`` or insert a new one; a concurrent scan's row is updated instead."""
    if alert is None:
        try:
            with session.begin_nested():
                alert = TopicAlert(day=day, kind=kind, key=key, created_at=now(), **values)
                session.add(alert)
                session.flush()
            return alert, True
        except IntegrityError:
            alert = session.scalar(
                select(TopicAlert).where(
                    TopicAlert.day == day, TopicAlert.kind == kind, TopicAlert.key == key
                )
            )
            assert alert is not None
    for name, value in values.items():
        setattr(alert, name, value)
    return alert, False


def find(
    *, session: Session, day: date, min_size: int = MIN_CLUSTER_SIZE
) -> tuple[list[TopicCluster], list[Surge]]:
    """The day's clusters and surges (reads only)."""
    if day > local_today():
        raise BadRequest(f"不能检测未来的日期：{day}", code="future_day")
    clusters = cluster_day(session=session, day=day, min_size=min_size)
    return clusters, detect_surges(session=session, day=day)


def scan_day(*, session: Session, day: date, min_size: int = MIN_CLUSTER_SIZE) -> ScanResult:
    """Find the day's clusters and surges and store them as alerts (idempotent)."""
    clusters, surges = find(session=session, day=day, min_size=min_size)
    return store_found(session=session, day=day, clusters=clusters, surges=surges)


def store_found(
    *, session: Session, day: date, clusters: list[TopicCluster], surges: list[Surge]
) -> ScanResult:
    """Store what :func:`find` found as the day's alerts (idempotent)."""
    result = ScanResult(day=day, clusters=clusters, surges=surges)
    existing = list(
        session.scalars(
            select(TopicAlert)
            .where(TopicAlert.day == day)
            .order_by(TopicAlert.id)
            .with_for_update()
        )
    )
    by_key = {(a.kind, a.key): a for a in existing}
    unmatched = [a for a in existing if a.kind == TopicAlertKind.CLUSTER]
    for cluster in clusters:
        # The same topic found again keeps its alert (and key) even if its terms shifted.
        best = max(unmatched, key=lambda a: _overlap(a.order_ids, cluster.order_ids), default=None)
        if best is not None and _overlap(best.order_ids, cluster.order_ids) >= 0.5:
            unmatched.remove(best)
            key = best.key
        else:
            best = None
            key, n = cluster.key, 2
            while (TopicAlertKind.CLUSTER, key) in by_key:
                key, n = f"{cluster.key[:96]}#{n}", n + 1
        alert, created = _store(
            session,
            best,
            day=day,
            kind=TopicAlertKind.CLUSTER,
            key=key,
            values={
                "label": cluster.label,
                "count": cluster.size,
                "baseline": cluster.baseline,
                "p_value": cluster.p_value,
                "order_ids": cluster.order_ids[:MAX_ALERT_ORDERS],
                "terms": cluster.terms,
            },
        )
        by_key[(alert.kind, alert.key)] = alert
        result.alerts.append(alert)
        result.created += created
        result.updated += not created
    for surge in surges:
        alert, created = _store(
            session,
            by_key.get((surge.kind, surge.key)),
            day=day,
            kind=surge.kind,
            key=surge.key,
            values={
                "label": surge.label,
                "count": surge.count,
                "baseline": surge.baseline,
                "p_value": surge.p_value,
                "order_ids": surge.order_ids,
                "terms": surge.terms,
            },
        )
        by_key[(alert.kind, alert.key)] = alert
        result.alerts.append(alert)
        result.created += created
        result.updated += not created
    session.flush()
    return result


def get_alert(session: Session, alert_id: int, *, for_update: bool = False) -> TopicAlert:
    stmt = select(TopicAlert).where(TopicAlert.id == alert_id)
    if for_update:
        stmt = stmt.with_for_update()
    alert = session.scalar(stmt)
    if alert is None:
        raise NotFound(f"热点提醒 {alert_id} 不存在", code="alert_not_found")
    return alert


def acknowledge(*, session: Session, alert_id: int, actor: User) -> TopicAlert:
    """A center manager has seen the alert: who and when are recorded."""
    journal.require_center(actor)
    alert = get_alert(session, alert_id, for_update=True)
    if alert.acknowledged_at is not None:
        raise Conflict("该热点提醒已确认", code="already_acknowledged")
    alert.acknowledged_by = actor.id
    alert.acknowledged_at = now()
    session.flush()
    return alert


def _ordered(stmt: Any) -> Any:
    return stmt.order_by(TopicAlert.day.desc(), TopicAlert.created_at.desc(), TopicAlert.id.desc())


def alerts_for_day(
    *, session: Session, day: date, unacknowledged_only: bool = False
) -> list[TopicAlert]:
    stmt = select(TopicAlert).where(TopicAlert.day == day)
    if unacknowledged_only:
        stmt = stmt.where(TopicAlert.acknowledged_at.is_(None))
    return list(session.scalars(_ordered(stmt)))


def recent_alerts(
    *,
    session: Session,
    days: int = 7,
    unacknowledged_only: bool = False,
    today: date | None = None,
) -> list[TopicAlert]:
    """Alerts of the last ``days`` local days (today included), newest first."""
    if days < 1:
        raise BadRequest("天数至少为 1", code="bad_days")
    first = (today or local_today()) - timedelta(days=days - 1)
    stmt = select(TopicAlert).where(TopicAlert.day >= first)
    if unacknowledged_only:
        stmt = stmt.where(TopicAlert.acknowledged_at.is_(None))
    return list(session.scalars(_ordered(stmt)))


# ---- the timed job ---------------------------------------------------------------------


def _fingerprint(session: Session, day: date) -> tuple[Any, ...]:
    """What a scan of ``day`` depends on: the orders of its window and its alerts."""
    start, end = day_bounds(day - timedelta(days=HISTORY_DAYS), HISTORY_DAYS + 1)
    orders = session.execute(
        select(
            func.count(WorkOrder.id), func.max(WorkOrder.id), func.sum(WorkOrder.category_id)
        ).where(WorkOrder.created_at >= start, WorkOrder.created_at < end)
    ).one()
    alerts = session.scalar(select(func.count(TopicAlert.id)).where(TopicAlert.day == day))
    return (*orders, alerts)


def forget_scans() -> None:
    """Make the next :func:`run_daily` scan again (tests, after restoring a database)."""
    with _scan_lock:
        _last_scans.clear()


@dataclass(frozen=True)
class DueScan:
    """What the timed job found for one day, before storing it."""

    day: date
    clusters: list[TopicCluster]
    surges: list[Surge]
    seen: tuple[Any, ...]  # the day's fingerprint when its orders were read


def find_due(*, session: Session, today: date) -> list[DueScan]:
    """The read half of the timed job: yesterday (orders of its last hours) and today so
    far, each unless its orders have not changed since this process last scanned it."""
    found = []
    bind = str(session.get_bind().engine.url)
    for day in (today - timedelta(days=1), today):
        before = _fingerprint(session, day)
        with _scan_lock:
            if _last_scans.get((bind, day)) == before:
                continue
        clusters, surges = find(session=session, day=day)
        found.append(DueScan(day, clusters, surges, before))
    return found


def store_due(*, session: Session, found: list[DueScan], today: date) -> list[ScanResult]:
    """The write half: store the alerts, and remember what was scanned."""
    results = []
    bind = str(session.get_bind().engine.url)
    for due in found:
        results.append(
            store_found(session=session, day=due.day, clusters=due.clusters, surges=due.surges)
        )
        after = _fingerprint(session, due.day)
        # the orders as they were read, the alerts as stored: orders that came in since
        # the reading make the next run scan again
        with _scan_lock:
            _last_scans[(bind, due.day)] = (*due.seen[:-1], after[-1])
            for stale in [k for k in _last_scans if k[1] < today - timedelta(days=1)]:
                del _last_scans[stale]
    return results


def run_daily(*, session: Session, today: date) -> list[ScanResult]:
    """The timed job in one transaction. A day whose orders have not changed since this
    process last scanned it is skipped, so running every few minutes costs two small
    queries when nothing happened."""
    return store_due(session=session, found=find_due(session=session, today=today), today=today)
