"""What the audit console shows for an entry's action, outcome, fields and detail: words an
auditor reads, not the codes the log stores."""

from __future__ import annotations

import re

from govloop.core.i18n import N_
from govloop.core.i18n import gettext_ as _

ACTION_LABELS = {
    "read": N_("Read case data"),
    "denied": N_("Refused"),
    "grant_opened": N_("Access opened for a case"),
    "grant_ended": N_("Access ended"),
    "break_glass": N_("Break-glass access"),
    "bg_requested": N_("Break-glass requested"),
    "bg_approved": N_("Break-glass approved"),
    "bg_refused": N_("Break-glass refused"),
    "reviewed": N_("Break-glass reviewed"),
    "alert_acknowledged": N_("Acknowledged an alert"),
    "device_registered": N_("Field device registered"),
    "device_revoked": N_("Field device revoked"),
    "device_unregistered": N_("Field device removed"),
    "key_issued": N_("Case data key issued to a field device"),
    "purge_confirmed": N_("Field device confirmed the case data wiped"),
    "subject.split": N_("Master record split"),
    "subject.move": N_("Record moved to another master"),
    "subject.not_same": N_("Records marked as different people"),
}
OUTCOME_LABELS = {"ok": N_("Done"), "denied": N_("Refused")}
# reasons an access ended, and review verdicts, as the log stores them
REASON_LABELS = {
    "case_closed": N_("the case was closed"),
    "expired": N_("its time ran out"),
    "signed_out": N_("the staff member signed out"),
    "accepted": N_("justified"),
    "misuse": N_("misuse"),
}
_PAIR = re.compile(r"^([a-z_]+)=(\S+)$")


def action_label(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def outcome_label(outcome: str) -> str:
    return _(OUTCOME_LABELS[outcome]) if outcome in OUTCOME_LABELS else outcome


def detail_text(detail: str | None, case_labels: dict[str, str]) -> str:
    """``subjects=1 policy=ticket:BDC`` → “对象 1 个 · 规则：大厅办件（BDC）”; a refusal's
    ``code: message`` → the message; a known reason → its words; anything else as stored."""
    if not detail:
        return ""
    if detail in REASON_LABELS:
        return _(REASON_LABELS[detail])
    code, sep, message = detail.partition(": ")
    if sep and re.fullmatch(r"[a-z_]+", code):
        return message
    if not any(_PAIR.match(token) for token in detail.split()):
        return detail
    parts = []
    for token in detail.split():
        pair = _PAIR.match(token)
        if pair is None:
            parts.append(token)
        elif pair.group(1) == "subjects":
            parts.append(_("%(n)s subjects") % {"n": pair.group(2)})
        elif pair.group(1) == "policy":
            kind, _sep, scope = pair.group(2).partition(":")
            label = _(case_labels[kind]) if kind in case_labels else kind
            parts.append(_("rule: %(rule)s") % {"rule": f"{label}（{scope}）" if scope else label})
        elif pair.group(1) == "device":
            parts.append(_("device #%(n)s") % {"n": pair.group(2)})
        elif pair.group(1) == "reason" and pair.group(2) in REASON_LABELS:
            parts.append(_(REASON_LABELS[pair.group(2)]))
        else:
            parts.append(token)
    return " · ".join(parts)
