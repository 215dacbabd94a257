"""Entity ids of tags and the knowledge graph: ``<type>:<key>``, e.g. ``person:3501…``."""

from __future__ import annotations

import re

from govloop.core.errors import BadRequest
from govloop.core.i18n import N_

# type → label; the order is the order of the graph's categories (legend, colours)
ENTITY_TYPES: dict[str, str] = {
    "person": N_("Person"),
    "enterprise": N_("Enterprise"),
    "project": N_("Project"),
    "item": N_("Service item"),
    "department": N_("Department"),
    "hall": N_("Service hall"),
    "window": N_("Window"),
    "staff": N_("Staff"),
    "order": N_("Work order"),
}
KEY_RE = re.compile(r"^[0-9A-Za-z_.\-]{1,128}$")


def entity_id(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def parse_entity(
    value: str | None, *, subject_types: tuple[str, ...] | None = None
) -> tuple[str, str]:
    """Split and check an entity id; a malformed one is a clear 400, never a guess."""
    text = (value or "").strip()
    kind, sep, key = text.partition(":")
    if not sep or not kind or not key:
        raise BadRequest(
            "实体标识格式应为“类型:编号”，例如 person:350102195503120019，"
            f"收到：{text or '（空）'}",
            code="malformed_entity",
        )
    allowed = subject_types or tuple(ENTITY_TYPES)
    if kind not in allowed:
        raise BadRequest(f"未知的实体类型：{kind}", code="unknown_entity_type", types=list(allowed))
    if not KEY_RE.match(key):
        raise BadRequest(f"实体编号含有不允许的字符：{key[:40]}", code="malformed_entity")
    return kind, key.upper() if kind in ("person", "enterprise") else key


def mask_id_number(value: str | None) -> str:
    """Show a resident ID or phone as its first 4 and last 4 characters only."""
    if not value:
        return ""
    return value if len(value) <= 8 else value[:4] + "*" * (len(value) - 8) + value[-4:]
