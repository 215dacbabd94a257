"""The statistics behind hot topics, free of the database: order words, clusters of
similar texts that are new against the days before, and the upper tail of a day's count.

See :mod:`govloop.hotline.topics.service` for how they are used and why.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.feature_extraction.text import TfidfVectorizer

from govloop.hotline.orders import routing

MIN_CLUSTER_SIZE = 5
# Chance of any false surge alarm on a day, over all series (Bonferroni). On demo_orders
# (22 categories, 6 districts) it gave 1 false alarm in 516 days at 100 orders a day and
# none in 184 days at 500 a day.
FAMILY_ALPHA = 0.01
MIN_SURGE_COUNT = 5
MIN_SURGE_RATIO = 1.5
MIN_REFERENCE_DAYS = 4
WEEKDAY_FACTOR_RANGE = (2 / 3, 3 / 2)
MIN_LEVEL_SERIES = 5  # series with a baseline ≥ 1 needed to measure a day's level
MAX_DAY_LEVEL = 3.0
OVERDISPERSION_ALPHA = 0.05
# Average cosine distance at which clusters stop merging (similarity ≥ 0.45 on average).
# Tuned on demo_orders at 100–1000 orders a day: 0.45 lets template look-alikes through,
# 0.7 merges an incident into its category's background.
CLUSTER_DISTANCE = 0.55
# A cluster is new when that many similar orders on an ordinary day have at most this chance.
CLUSTER_ALPHA = 1e-4
TOP_TERMS = 5

# Words of any 12345 order: the caller's and the agent's formulas (single characters are
# dropped anyway).
_STOPWORD_TEXT = """
    没有 我们 你们 他们 这个 那个 这些 那些 这边 那边 这里 那里 一个 一些 一下 一直 已经 现在
    今天 昨天 前天 明天 目前 之前 以后 以前 时候 什么 怎么 怎么办 为什么 哪里 哪个 多少 可以
    可能 能不能 是否 是不是 需要 要求 希望 请求 请问 麻烦 问一下 咨询 反映 反应 来电 来电人
    市民 诉求 表示 情况 问题 事情 处理 解决 核实 落实 相关 相关部门 有关部门 部门 尽快 及时
    马上 帮忙 帮助 非常 特别 比较 十分 严重 影响 导致 造成 因为 所以 但是 可是 而且 并且 或者
    还是 如果 虽然 然后 另外 还有 以及 关于 对于 根据 通过 进行 给予 予以 您好 你好 谢谢 感谢
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[\u4e00-\u9fffa-z]")


# ---- words and clusters ----------------------------------------------------------------


def topic_tokens(title: str | None, content: str | None) -> list[str]:
    """Content words of an order: no stopwords, numbers, punctuation or single characters."""
    return [
        t
        for t in routing.tokenize(routing.order_text(title, content))
        if len(t) > 1 and t not in STOPWORDS and _WORD.search(t) and not t.startswith("<")
    ]


def _vectorize(
    docs: Sequence[Sequence[str]], background: Sequence[Sequence[str]]
) -> tuple[Any, Any, Any]:
    """L2-normalised TF-IDF rows of ``docs`` and of ``background``, and the words; the IDF
    is fitted on both, so the words of every day weigh little."""
    vectorizer = TfidfVectorizer(
        analyzer=lambda tokens: tokens, sublinear_tf=True, norm="l2", lowercase=False
    )
    vectorizer.fit([*background, *docs])
    x = vectorizer.transform(list(docs))
    bg = vectorizer.transform(list(background)) if background else None
    return x, bg, vectorizer.get_feature_names_out()


@dataclass(frozen=True)
class Group:
    """Similar documents found by :func:`find_clusters`."""

    members: list[int]  # indices into the day's documents
    terms: list[str]
    cohesion: float  # mean cosine similarity to the centroid
    baseline: float | None  # similar documents expected on a day, from the background
    p_value: float | None  # chance of this many or more on an ordinary day


def find_clusters(
    docs: Sequence[Sequence[str]],
    background: Mapping[date, Sequence[Sequence[str]]] | None = None,
    *,
    distance: float = CLUSTER_DISTANCE,
    min_size: int = MIN_CLUSTER_SIZE,
) -> list[Group]:
    """Groups of ≥ ``min_size`` similar documents, biggest first, that are new: as many
    documents that similar are improbable on the ``background`` days (per-day token lists
    of the days before). Pure and deterministic."""
    keep = [i for i, d in enumerate(docs) if d]
    if len(keep) < max(min_size, 2):
        return []
    background = background or {}
    bg_days = sorted(background)
    bg_docs = [doc for d in bg_days for doc in background[d]]
    bg_day_of = np.array([i for i, d in enumerate(bg_days) for _ in background[d]], dtype=int)
    x, bg, names = _vectorize([docs[i] for i in keep], bg_docs)
    similarity = (x @ x.T).toarray()
    dist = np.clip(1.0 - similarity, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")
    labels = fcluster(tree, t=distance, criterion="distance")
    groups: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels):
        groups[int(label)].append(row)
    found = []
    for rows in groups.values():
        if len(rows) < min_size:
            continue
        members = x[rows]
        centroid = np.asarray(members.mean(axis=0)).ravel()
        unit = centroid / (float(np.linalg.norm(centroid)) or 1.0)
        to_centroid = np.asarray(members @ unit).ravel()
        baseline = p_value = None
        if bg is not None and bg_days:
            # Background orders that would have joined the group: their average cosine
            # similarity to the members (= dot product with the mean) passes the cut.
            similar = np.asarray(bg @ centroid).ravel() >= 1.0 - distance
            per_day = np.bincount(bg_day_of[similar], minlength=len(bg_days)).tolist()
            baseline, p_value = upper_tail(len(rows), per_day)
            if p_value > CLUSTER_ALPHA or len(rows) < MIN_SURGE_RATIO * baseline:
                continue  # as many such orders come every day: not a new topic
        present = np.asarray((members > 0).sum(axis=0)).ravel()
        # Top terms: heaviest in the centroid among the words at least half the orders use.
        ranked = np.lexsort((names, -centroid))
        terms = [str(names[j]) for j in ranked if present[j] * 2 >= len(rows)][:TOP_TERMS]
        found.append(
            Group(
                members=[keep[r] for r in rows],
                terms=terms,
                cohesion=round(float(to_centroid.mean()), 3),
                baseline=None if baseline is None else round(baseline, 3),
                p_value=p_value,
            )
        )
    found.sort(key=lambda g: (-len(g.members), g.members[0]))
    return found


# ---- counts --------------------------------------------------------------------------


def upper_tail(count: int, reference: Sequence[int], factor: float = 1.0) -> tuple[float, float]:
    """(expected count, P(X ≥ count)) for a day whose past days of the same kind had the
    ``reference`` counts, the expectation scaled by ``factor`` (weekday effect).

    X is negative binomial with mean μ = factor · (Σ reference + ½) / n and variance
    (μ + φμ²)(1 + 1/n): φ is the overdispersion the reference days show beyond Poisson
    (method of moments, when a dispersion test finds any), and (1 + 1/n) adds the
    uncertainty of a mean from n days. With no overdispersion and many days this is the
    Poisson tail."""
    n = len(reference)
    mean = sum(reference) / n
    mu = factor * (sum(reference) + 0.5) / n
    phi = 0.0
    if n > 1 and mean > 0:
        variance = float(np.var(reference, ddof=1))
        # Overdispersion only when the reference days show it (dispersion test, 5 %):
        # estimated from noise alone it would cost power for nothing.
        if stats.chi2.sf((n - 1) * variance / mean, n - 1) < OVERDISPERSION_ALPHA:
            phi = max(0.0, (variance - mean) / mean**2)
    # variance = μ + a·μ² with a = 1/(nμ) + φ(1 + 1/n)
    a = 1 / (n * mu) + phi * (1 + 1 / n)
    r = 1 / a
    p_value = float(stats.nbinom.sf(count - 1, r, r / (r + mu)))
    return mu, p_value


@dataclass(frozen=True)
class SeriesTest:
    key: Any  # the series, as given
    count: int
    baseline: float  # expected count of the day
    p_value: float
    surge: bool


def reference_days(day: date, first: date, is_workday: Callable[[date], bool]) -> list[date]:
    """Days from ``first`` up to ``day`` (excluded) of the same kind as ``day``: working
    days for a working day, rest days (weekends, holidays) for a rest day."""
    kind = is_workday(day)
    days = (first + timedelta(days=i) for i in range((day - first).days))
    return [d for d in days if is_workday(d) == kind]


def weekday_factor(day: date, reference: Sequence[date], totals: Mapping[date, int]) -> float:
    """How much busier ``day``'s weekday is than the average reference day, from all
    orders (many more than any one series has); 1 without two same weekdays to go by."""
    same = [d for d in reference if d.weekday() == day.weekday()]
    base = sum(totals.get(d, 0) for d in reference) / len(reference) if reference else 0
    if len(same) < 2 or base <= 0:
        return 1.0
    factor = sum(totals.get(d, 0) for d in same) / len(same) / base
    return min(max(factor, WEEKDAY_FACTOR_RANGE[0]), WEEKDAY_FACTOR_RANGE[1])


def day_level(
    day: date,
    series: Mapping[Any, Mapping[date, int]],
    reference: Sequence[date],
    factor: float,
) -> float:
    """How much busier ``day`` is across the board than its baselines say: the median of
    count / baseline over the series (robust to a few surging ones), never below 1. The
    first working day after a holiday is busy for every category; only what stands out
    from the day's own level is a surge. A day still running is never scaled down."""
    ratios = []
    for counts in series.values():
        base = factor * sum(counts.get(d, 0) for d in reference) / len(reference)
        if base >= 1:
            ratios.append(counts.get(day, 0) / base)
    if len(ratios) < MIN_LEVEL_SERIES:
        return 1.0
    return min(max(float(np.median(ratios)), 1.0), MAX_DAY_LEVEL)


def assess_day(
    day: date,
    series: Mapping[Any, Mapping[date, int]],
    totals: Mapping[date, int],
    reference: Sequence[date],
) -> list[SeriesTest]:
    """Test every series' count on ``day`` against its ``reference`` days (scaled by the
    weekday and the day's level). A surge needs p ≤ FAMILY_ALPHA / (number of series), at
    least MIN_SURGE_COUNT orders and MIN_SURGE_RATIO × the baseline. Series below
    MIN_SURGE_COUNT cannot be a surge and are not returned."""
    if len(reference) < MIN_REFERENCE_DAYS:
        return []
    factor = weekday_factor(day, reference, totals)
    factor *= day_level(day, series, reference, factor)
    threshold = FAMILY_ALPHA / max(len(series), 1)
    tests = []
    for key, counts in series.items():
        count = counts.get(day, 0)
        if count < MIN_SURGE_COUNT:
            continue
        mu, p_value = upper_tail(count, [counts.get(d, 0) for d in reference], factor)
        surge = p_value <= threshold and count >= MIN_SURGE_RATIO * mu
        tests.append(SeriesTest(key, count, round(mu, 3), p_value, surge))
    return tests
