"""Message templates: one per event, in Chinese, filled from the event's parameters."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from govloop.core.errors import BadRequest


@dataclass(frozen=True)
class Template:
    key: str
    audience: str
    text: str

    @property
    def fields(self) -> frozenset[str]:
        return frozenset(f for _, f, _, _ in string.Formatter().parse(self.text) if f)


@lru_cache
def _catalogue() -> tuple[str, dict[str, Template]]:
    raw = yaml.safe_load(resources.files("govloop.notify").joinpath("templates.yaml").read_text())
    templates = {
        key: Template(key, entry["audience"], entry["text"])
        for key, entry in raw["templates"].items()
    }
    return raw["signature"], templates


def templates() -> dict[str, Template]:
    return _catalogue()[1]


def get(key: str) -> Template:
    found = templates().get(key)
    if found is None:
        raise BadRequest(f"未知的通知模板：{key}", code="unknown_template")
    return found


def render(key: str, params: dict[str, Any], *, signed: bool = True) -> str:
    """The message text; a missing parameter is a bug of the caller, refused by name."""
    template = get(key)
    missing = sorted(template.fields - params.keys())
    if missing:
        raise BadRequest(
            f"通知模板 {key} 缺少参数：{'、'.join(missing)}", code="template_params_missing"
        )
    text = template.text.format(**{k: "" if v is None else v for k, v in params.items()})
    return (_catalogue()[0] + text) if signed else text
