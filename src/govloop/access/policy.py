"""The minimum-necessary field policy (policy.yaml) and the masking rules (脱敏)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from govloop.core.auth import Role
from govloop.core.errors import RuleViolation


@dataclass(frozen=True)
class MaskRule:
    keep_start: int
    keep_end: int

    def apply(self, value: str) -> str:
        text = str(value)
        n = len(text)
        if n <= 1:
            return "*" * n
        if n <= self.keep_start + self.keep_end:  # too short to keep both ends: first only
            return text[0] + "*" * (n - 1)
        end = text[n - self.keep_end :] if self.keep_end else ""
        return text[: self.keep_start] + "*" * (n - self.keep_start - self.keep_end) + end


@dataclass(frozen=True)
class FieldSet:
    full: frozenset[str]
    masked: frozenset[str]

    def as_dict(self) -> dict[str, list[str]]:
        return {"full": sorted(self.full), "masked": sorted(self.masked)}

    @property
    def all(self) -> frozenset[str]:
        return self.full | self.masked


@dataclass(frozen=True)
class BreakGlassRules:
    """Who may break glass, how often, and when a second person must approve first."""

    roles: frozenset[str]
    max_per_hour: int  # requests per person in any rolling hour; more are refused
    approval_after: int  # requests per person in the approval window served without approval
    approval_window_hours: int
    approvers: frozenset[str]  # roles that may approve (never the requester)
    approval_wait_minutes: int  # an undecided request lapses after this


@dataclass(frozen=True)
class Policy:
    grant_minutes: dict[str, int]
    masking: dict[str, MaskRule]
    field_types: dict[str, str]
    cases: dict[str, dict[str, Any]]
    break_glass: dict[str, FieldSet]
    break_glass_rules: BreakGlassRules

    def fields_for(self, case_type: str, key: str | None) -> tuple[str, dict[str, FieldSet]]:
        """(the policy entry that applies, subject kind → fields). ``key`` is the item code,
        or the task type; an item code also matches its department prefix (GA01 → GA)."""
        spec = self.cases.get(case_type)
        if spec is None:
            raise RuleViolation(f"未配置的办件类型：{case_type}", code="unknown_case_type")
        items = spec.get("items") or {}
        if key:
            for candidate in (key, key.rstrip("0123456789").rstrip("-")):
                if candidate in items:
                    return f"{case_type}:{candidate}", _field_sets(items[candidate])
        return f"{case_type}:default", _field_sets(spec.get("default") or {})

    def mask(self, field: str, value: Any) -> Any:
        rule = self.masking.get(self.field_types.get(field, ""))
        if value is None:
            return None
        if rule is None:  # a masked field without a rule: hide it entirely
            return "*" * min(len(str(value)), 8)
        return rule.apply(str(value))


def _field_sets(spec: dict[str, Any]) -> dict[str, FieldSet]:
    return {
        kind: FieldSet(frozenset(v.get("full") or ()), frozenset(v.get("masked") or ()))
        for kind, v in spec.items()
    }


def _break_glass_rules(spec: dict[str, Any]) -> BreakGlassRules:
    rules = BreakGlassRules(
        roles=frozenset(str(r) for r in spec["roles"]),
        max_per_hour=int(spec["max_per_hour"]),
        approval_after=int(spec["approval_after"]),
        approval_window_hours=int(spec["approval_window_hours"]),
        approvers=frozenset(str(r) for r in spec["approvers"]),
        approval_wait_minutes=int(spec["approval_wait_minutes"]),
    )
    if rules.max_per_hour < 1 or rules.approval_after < 0 or rules.approval_window_hours < 1:
        raise RuleViolation("紧急查看的次数限制配置无效", code="bad_break_glass_rules")
    if not rules.approvers:
        raise RuleViolation("紧急查看必须配置审批人角色", code="bad_break_glass_rules")
    unknown = sorted((rules.roles | rules.approvers) - {r.value for r in Role})
    if unknown:
        raise RuleViolation(f"紧急查看配置了未知角色：{'、'.join(unknown)}", code="unknown_role")
    return rules


def parse(text: str) -> Policy:
    raw = yaml.safe_load(text)
    return Policy(
        grant_minutes={k: int(v) for k, v in raw["grant_minutes"].items()},
        masking={
            k: MaskRule(int(v["keep_start"]), int(v["keep_end"])) for k, v in raw["masking"].items()
        },
        field_types=dict(raw["field_types"]),
        cases=dict(raw["cases"]),
        break_glass=_field_sets(raw["break_glass"]),
        break_glass_rules=_break_glass_rules(raw["break_glass_rules"]),
    )


@lru_cache(maxsize=1)
def policy() -> Policy:
    return parse(resources.files("govloop.access").joinpath("policy.yaml").read_text("utf-8"))


def policy_text() -> str:
    return resources.files("govloop.access").joinpath("policy.yaml").read_text("utf-8")
