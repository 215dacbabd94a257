"""The steps staff take on a matter, by name, for the API and the pages alike."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from govloop.core.errors import NotFound
from govloop.core.models import User
from govloop.matters import workflow
from govloop.matters.models import Matter
from govloop.matters.models import MatterState as S

# name → (label, what it does)
Step = Callable[[Session, Matter, User, str, list[str], bool], object]

ACTIONS: dict[str, tuple[str, Step]] = {
    "review": (
        "开始审查",
        lambda s, m, u, note, mats, inp: workflow.start_review(session=s, matter=m, actor=u),
    ),
    "correction": (
        "要求补正",
        lambda s, m, u, note, mats, inp: workflow.request_correction(
            session=s, matter=m, actor=u, materials=mats, note=note
        ),
    ),
    "correction-received": (
        "补正材料已收到",
        lambda s, m, u, note, mats, inp: workflow.receive_correction(
            session=s, matter=m, actor=u, in_person=inp
        ),
    ),
    "grant": (
        "准予许可",
        lambda s, m, u, note, mats, inp: workflow.decide(
            session=s, matter=m, actor=u, granted=True, note=note
        ),
    ),
    "refuse": (
        "不予许可",
        lambda s, m, u, note, mats, inp: workflow.decide(
            session=s, matter=m, actor=u, granted=False, note=note
        ),
    ),
    "certify": (
        "开始制证",
        lambda s, m, u, note, mats, inp: workflow.start_certificate(session=s, matter=m, actor=u),
    ),
    "ready": (
        "结果待领取",
        lambda s, m, u, note, mats, inp: workflow.result_ready(session=s, matter=m, actor=u),
    ),
    "hand-over": (
        "已领取",
        lambda s, m, u, note, mats, inp: workflow.hand_over(session=s, matter=m, actor=u),
    ),
    "return": (
        "退回申请",
        lambda s, m, u, note, mats, inp: workflow.return_application(
            session=s, matter=m, actor=u, reason=note
        ),
    ),
}


def run(
    *,
    session: Session,
    matter: Matter,
    actor: User,
    action: str,
    note: str = "",
    materials: list[str] | None = None,
    in_person: bool = False,
) -> None:
    found = ACTIONS.get(action)
    if found is None:
        raise NotFound(f"未知的操作：{action}", code="unknown_action", allowed=list(ACTIONS))
    found[1](session, matter, actor, note, materials or [], in_person)


def available(matter: Matter) -> list[tuple[str, str]]:
    """The actions the machine allows from the matter's state (who may is checked on use)."""
    targets = workflow.TRANSITIONS.get(matter.state, frozenset())
    by_target = {
        # the usual next step first (the page's primary button)
        "review": S.REVIEWING if matter.state != S.CORRECTION else None,
        "correction-received": S.REVIEWING if matter.state == S.CORRECTION else None,
        "grant": S.GRANTED,
        "refuse": S.REFUSED,
        "correction": S.CORRECTION,
        "certify": S.CERTIFYING,
        "ready": S.AWAITING_PICKUP if matter.state != S.POSTED else None,
        "hand-over": S.PICKED_UP,
        "return": S.RETURNED,
    }
    if matter.delivery_method == "post":
        # a result to be posted goes to the courier (the page's own button), not to 待领取
        by_target["ready"] = None
    return [(name, ACTIONS[name][0]) for name, to in by_target.items() if to in targets]
