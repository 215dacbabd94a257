"""What citizens of the demo hall say about a visit: level, tags, comment, channel.

A rating turns worse after a long wait, when the citizen was told to bring more documents
(一次性告知) or was referred elsewhere; the same model rates the history's visits
(:mod:`govloop.demo.ratings.history`) and the live day's (:mod:`govloop.demo.hall.live`).
Pure computation, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from govloop.demo.people import GIVEN, MOBILE_PREFIXES, SURNAMES
from govloop.ratings.models import Dimension, RatingChannel

# --- model parameters ----------------------------------------------------------------

RATED_SHARE = 0.38  # of finished visits; a bad experience makes a rating more likely …
RATED_SHARE_UNHAPPY = 0.55  # … up to this
CHANNEL_MIX = {RatingChannel.PAD: 0.68, RatingChannel.QR: 0.20, RatingChannel.MY_TICKET: 0.12}
MOBILE_TICKET_MY_TICKET = 0.35  # 手机取号: the my-ticket page is already open
DIMENSION_SHARE = {RatingChannel.PAD: 0.5, RatingChannel.QR: 0.3, RatingChannel.MY_TICKET: 0.3}
REAL_NAME_SHARE = 0.6
COMMENT_SHARE = {1: 0.95, 2: 0.85, 3: 0.25, 4: 0.06, 5: 0.08}

# Probability of a bad rating: a small base (a curt word, a bad day: "attitude") plus
# what the visit brought: waiting past WAIT_OK_MIN, documents still missing (一次性告知),
# a referral elsewhere. 基本满意 follows the same causes, more leniently.
BAD_ATTITUDE = 0.013
BAD_PER_WAIT_UNIT = 0.05  # per WAIT_UNIT_MIN minutes waited past WAIT_OK_MIN
BAD_NEEDS_DOCUMENTS = 0.11
BAD_REFERRED = 0.04
BASIC_BASE = 0.04
BASIC_PER_WAIT_UNIT = 0.10
BASIC_NEEDS_DOCUMENTS = 0.16
BASIC_REFERRED = 0.08
WAIT_OK_MIN = 20.0
WAIT_UNIT_MIN = 60.0
VERY_SATISFIED_SHARE = 0.74  # of the satisfied (4–5) ratings after a smooth visit
VERY_DISSATISFIED_SHARE = 0.35  # of the bad ratings

# What went wrong: the citizen's tags and comments, and the unit's rectification
# (evidence and result) that :mod:`govloop.demo.ratings.history` records for it.
GOOD_TAGS = ("热情周到", "高效快捷", "一次办好", "耐心细致", "指引清晰", "环境整洁")
CAUSES: dict[str, dict[str, Any]] = {
    "wait": {
        "tags": ("等候太久", "效率偏低"),
        "comments": (
            "排队等了一个多小时，窗口开得太少。",
            "高峰期只开了两个窗口，等了太久。",
            "取号时说等二十分钟，结果等了一个小时。",
            "叫号太慢，中间好几个窗口都没人。",
        ),
        "evidence": "调取当日排队数据，高峰时段等候超过 1 小时；"
        "已调整午休轮岗，高峰时段增开综合窗口",
        "result": "已向群众致歉并说明原因；高峰时段增开弹性窗口，等候时长明显缩短",
    },
    "documents": {
        "tags": ("材料要求不清", "多次跑腿"),
        "comments": (
            "材料要求没有一次性说清楚，还得再跑一趟。",
            "网上办事指南和窗口要求的材料不一致。",
            "缺一份证明，之前电话咨询时没人提醒。",
            "告知单写得不清楚，不知道去哪里开证明。",
        ),
        "evidence": "对照办事指南核查，告知单未列明需补充的证明及开具单位；"
        "已修订办事指南和一次性告知单",
        "result": "已向群众致歉并协助预约补件，事项已办结；同类事项告知单已更新",
    },
    "referred": {
        "tags": ("多次跑腿", "解释不清"),
        "comments": (
            "让我去别的部门办，来回跑了好几个窗口。",
            "窗口说不归他们管，也没说清楚该去哪里。",
        ),
        "evidence": "核实为跨部门事项，首问窗口未做好引导；已明确首问负责和跨部门转办流程",
        "result": "已安排专人全程引导办结，并对窗口人员进行首问负责制培训",
    },
    "attitude": {
        "tags": ("态度不好", "解释不清"),
        "comments": (
            "工作人员态度生硬，问两句就不耐烦。",
            "窗口人员解释问题很敷衍，说话语气很冲。",
            "办事过程中工作人员一直在看手机。",
        ),
        "evidence": "调阅窗口录音录像，工作人员答复生硬、解释不充分；"
        "已约谈当事人并开展服务规范培训",
        "result": "当事人已向群众当面致歉，群众表示认可；纳入本月窗口考评",
    },
}
BASIC_COMMENTS = (
    "整体还行，就是等得有点久。",
    "办得挺快，但材料清单可以再清楚些。",
    "工作人员还算耐心，希望多开几个窗口。",
)
GOOD_COMMENTS = (
    "办事效率很高，点赞！",
    "工作人员很耐心，谢谢！",
    "一次就办好了，很方便。",
    "预约后基本不用排队，体验很好。",
)

# --- ratings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Experience:
    """What a citizen's rating depends on: the wait and how the visit ended."""

    waited_minutes: float
    outcome: str  # done | needs_documents | referred
    ticket_channel: str = "kiosk"  # kiosk | mobile | appointment | api

    @property
    def wait_units(self) -> float:
        return min(max(self.waited_minutes - WAIT_OK_MIN, 0.0) / WAIT_UNIT_MIN, 2.0)

    @property
    def unhappy(self) -> bool:
        return self.wait_units > 0.5 or self.outcome != "done"


def pick(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def weighted(rng: np.random.Generator, weights: dict[Any, float]) -> Any:
    keys = list(weights)
    p = np.array([weights[k] for k in keys])
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _citizen(rng: np.random.Generator) -> tuple[str, str]:
    name = pick(rng, SURNAMES) + "".join(
        pick(rng, GIVEN) for _ in range(1 + int(rng.random() < 0.7))
    )
    return name, pick(rng, MOBILE_PREFIXES) + f"{int(rng.integers(10**8)):08d}"


def _level(rng: np.random.Generator, x: Experience, extra_bad: float) -> tuple[int, str | None]:
    """The level and, below 满意, what went wrong (None: nothing in particular)."""
    units = x.wait_units
    docs = float(x.outcome == "needs_documents")
    referred = float(x.outcome == "referred")
    bad = {
        "wait": BAD_PER_WAIT_UNIT * units,
        "documents": BAD_NEEDS_DOCUMENTS * docs,
        "referred": BAD_REFERRED * referred,
        "attitude": BAD_ATTITUDE + extra_bad,
    }
    basic = {
        "wait": BASIC_PER_WAIT_UNIT * units,
        "documents": BASIC_NEEDS_DOCUMENTS * docs,
        "referred": BASIC_REFERRED * referred,
        None: BASIC_BASE,
    }
    p_bad, p_basic = sum(bad.values()), sum(basic.values())
    draw = rng.random()
    if draw < p_bad:
        level = 1 if rng.random() < VERY_DISSATISFIED_SHARE else 2
        return level, weighted(rng, bad)
    if draw < p_bad + p_basic:
        return 3, weighted(rng, basic)
    very = VERY_SATISFIED_SHARE - 0.25 * units
    return (5 if rng.random() < very else 4), None


def _dimension_scores(rng: np.random.Generator, level: int, x: Experience) -> dict[str, int]:
    penalty = {
        Dimension.RESPONSIVENESS: 1.2 * x.wait_units,
        Dimension.RELIABILITY: 1.0 if x.outcome == "needs_documents" else 0.0,
    }
    return {
        d.value: int(np.clip(round(level + rng.normal(0.0, 0.45) - penalty.get(d, 0.0)), 1, 5))
        for d in Dimension
    }


def _tags(rng: np.random.Generator, level: int, cause: str | None, x: Experience) -> list[str]:
    if level >= 4:
        if rng.random() < 0.45:
            return []
        pool = list(GOOD_TAGS)
        if x.outcome != "done":
            pool.remove("一次办好")
        if x.wait_units > 0:
            pool.remove("高效快捷")
        chosen = rng.choice(len(pool), size=1 + int(rng.random() < 0.4), replace=False)
        return [pool[int(i)] for i in sorted(chosen)]
    if cause is None or (level == 3 and rng.random() < 0.5):
        return []
    tags = CAUSES[cause]["tags"]
    return list(tags[: 1 + int(level <= 2 and rng.random() < 0.5)])


def _comment(rng: np.random.Generator, level: int, cause: str | None) -> str:
    if rng.random() >= COMMENT_SHARE[level]:
        return ""
    if level <= 2 and cause is not None:
        return str(pick(rng, CAUSES[cause]["comments"]))
    return str(pick(rng, BASIC_COMMENTS if level == 3 else GOOD_COMMENTS))


def _channel(rng: np.random.Generator, x: Experience) -> str:
    if x.ticket_channel == "mobile" and rng.random() < MOBILE_TICKET_MY_TICKET:
        return RatingChannel.MY_TICKET.value
    return str(weighted(rng, CHANNEL_MIX).value)


def rating_input(
    rng: np.random.Generator, x: Experience, *, extra_bad: float = 0.0
) -> tuple[dict[str, Any], str | None]:
    """What a citizen submits after the visit ``x`` (the API's rating body) and, for a
    rating below 满意, the cause. ``extra_bad`` adds to the chance of a bad rating."""
    level, cause = _level(rng, x, extra_bad)
    channel = _channel(rng, x)
    with_scores = rng.random() < DIMENSION_SHARE[RatingChannel(channel)]
    body: dict[str, Any] = {
        "level": level,
        "channel": channel,
        "dimension_scores": _dimension_scores(rng, level, x) if with_scores else {},
        "tags": _tags(rng, level, cause, x),
        "comment": _comment(rng, level, cause),
    }
    if rng.random() < REAL_NAME_SHARE:
        body["citizen_name"], body["citizen_phone"] = _citizen(rng)
    return body, cause


def rating_delay_seconds(rng: np.random.Generator, channel: str) -> float:
    """Time from finish to rating: seconds at the pad, minutes to hours by QR or phone."""
    if channel == RatingChannel.PAD:
        return float(rng.uniform(8, 90))
    median = 15 * 60 if channel == RatingChannel.QR else 40 * 60
    return min(median * float(np.exp(rng.normal(0.0, 1.0))), 20 * 3600)
