"""The data-collection forms declared per task type (forms.yaml) and the server-side check
of what a device submits against them: every problem is reported per field, in Chinese,
and nothing is stored while any remains."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from PIL import Image, UnidentifiedImageError

from govloop.core.errors import RuleViolation

FORMS_FILE = Path(__file__).with_name("forms.yaml")
FIELD_TYPES = {"text", "textarea", "number", "select", "checkbox", "date", "photo", "location"}
# the app downscales to about 200 KB; the margin covers phones whose encoder overshoots
MAX_PHOTO_BYTES = 300_000
DEFAULT_TEXT_LENGTH = 200
DATA_URL = re.compile(r"^data:image/jpeg;base64,(?P<data>[A-Za-z0-9+/=\s]+)$")


@dataclass(frozen=True)
class FormField:
    name: str
    type: str
    label: str
    required: bool = False
    options: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    max_count: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "required": self.required,
            "options": list(self.options),
            "min": self.min,
            "max": self.max,
            "max_length": self.max_length,
            "max_count": self.max_count,
        }


@dataclass(frozen=True)
class Form:
    task_type: str
    label: str
    fields: tuple[FormField, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_type": self.task_type,
            "label": self.label,
            "fields": [f.as_dict() for f in self.fields],
        }


@dataclass
class Photo:
    field: str
    content: bytes
    sha256: str


@dataclass
class CleanSubmission:
    data: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=dict)
    photos: list[Photo] = field(default_factory=list)


def _load(raw: dict[str, Any]) -> dict[str, Form]:
    out = {}
    for task_type, spec in raw.items():
        fields = []
        for f in spec["fields"]:
            if f["type"] not in FIELD_TYPES:
                raise ValueError(
                    f"forms.yaml: {task_type}.{f['name']} has unknown type {f['type']}"
                )
            if f["type"] == "select" and not f.get("options"):
                raise ValueError(f"forms.yaml: {task_type}.{f['name']} needs options")
            fields.append(
                FormField(
                    name=f["name"],
                    type=f["type"],
                    label=f["label"],
                    required=bool(f.get("required", False)),
                    options=tuple(str(o) for o in f.get("options", ())),
                    min=f.get("min"),
                    max=f.get("max"),
                    max_length=f.get("max_length"),
                    max_count=int(f.get("max_count", 1)),
                )
            )
        out[task_type] = Form(task_type, spec["label"], tuple(fields))
    return out


@lru_cache(maxsize=1)
def forms() -> dict[str, Form]:
    return _load(yaml.safe_load(FORMS_FILE.read_text(encoding="utf-8")))


def form_for(task_type: str) -> Form:
    try:
        return forms()[task_type]
    except KeyError:
        raise RuleViolation(f"未声明任务类型“{task_type}”的表单", code="unknown_form") from None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _photo(f: FormField, value: Any) -> tuple[list[Photo], str | None]:
    if not isinstance(value, list):
        return [], "照片格式不正确"
    if len(value) > f.max_count:
        return [], f"最多 {f.max_count} 张照片"
    photos = []
    for n, item in enumerate(value, 1):
        match = DATA_URL.match(item) if isinstance(item, str) else None
        if match is None:
            return [], f"第 {n} 张照片不是 JPEG 图片"
        try:
            content = base64.b64decode(match["data"], validate=False)
        except (binascii.Error, ValueError):
            return [], f"第 {n} 张照片已损坏"
        if len(content) > MAX_PHOTO_BYTES:
            size, limit = len(content) // 1024, MAX_PHOTO_BYTES // 1024
            return [], f"第 {n} 张照片过大（{size} KB，上限 {limit} KB）"
        try:
            with Image.open(io.BytesIO(content)) as image:
                kind = image.format
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError):
            return [], f"第 {n} 张照片已损坏"
        if kind != "JPEG":
            return [], f"第 {n} 张照片不是 JPEG 图片"
        photos.append(Photo(f.name, content, hashlib.sha256(content).hexdigest()))
    return photos, None


def _location(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    if not isinstance(value, dict):
        return None, "位置格式不正确"
    source = value.get("source")
    if source == "gps":
        try:
            lat, lng = float(value["lat"]), float(value["lng"])
            accuracy = float(value.get("accuracy") or 0)
        except (KeyError, TypeError, ValueError):
            return None, "定位坐标不正确"
        if not (-90 <= lat <= 90 and -180 <= lng <= 180) or accuracy < 0:
            return None, "定位坐标超出范围"
        return {"source": "gps", "lat": lat, "lng": lng, "accuracy": accuracy}, None
    if source == "manual":
        text = str(value.get("text") or "").strip()
        if not text:
            return None, "请填写所在位置"
        if len(text) > 200:
            return None, "位置描述不能超过 200 个字"
        return {"source": "manual", "text": text}, None
    return None, "位置来源只能是定位或手动填写"


def _scalar(f: FormField, value: Any) -> tuple[Any, str | None]:
    if f.type in ("text", "textarea"):
        if not isinstance(value, str):
            return None, "应为文字"
        text = value.strip()
        limit = f.max_length or DEFAULT_TEXT_LENGTH
        if len(text) > limit:
            return None, f"不能超过 {limit} 个字（当前 {len(text)} 个）"
        return text, None
    if f.type == "number":
        if isinstance(value, bool):
            return None, "应为数字"
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None, "应为数字"
        if number != number or number in (float("inf"), float("-inf")):
            return None, "应为数字"
        if f.min is not None and number < f.min:
            return None, f"不能小于 {f.min:g}"
        if f.max is not None and number > f.max:
            return None, f"不能大于 {f.max:g}"
        return int(number) if number.is_integer() else number, None
    if f.type == "select":
        if value not in f.options:
            return None, f"只能选择：{'、'.join(f.options)}"
        return value, None
    if f.type == "checkbox":
        if not isinstance(value, bool):
            return None, "应为勾选或不勾选"
        return value, None
    if f.type == "date":
        try:
            return date.fromisoformat(str(value)).isoformat(), None
        except ValueError:
            return None, "日期格式应为 YYYY-MM-DD"
    return None, "未知的字段类型"


def validate(form: Form, values: Any) -> CleanSubmission:
    """The cleaned submission, or RuleViolation naming every problem by field."""
    if not isinstance(values, dict):
        raise RuleViolation("表单内容格式不正确", code="invalid_form")
    errors: dict[str, str] = {}
    known = {f.name for f in form.fields}
    for name in sorted(set(values) - known):
        errors[name] = "表单中没有这一项"
    clean = CleanSubmission()
    for f in form.fields:
        value = values.get(f.name)
        if _empty(value) or (f.type == "checkbox" and value is False and f.required):
            if f.required:
                errors[f.name] = "请勾选" if f.type == "checkbox" else "必填"
            elif f.type == "checkbox":
                clean.data[f.name] = False
            continue
        if f.type == "photo":
            photos, problem = _photo(f, value)
            clean.photos.extend(photos)
            if not problem:
                clean.data[f.name] = [p.sha256 for p in photos]
        elif f.type == "location":
            place, problem = _location(value)
            if place is not None:
                clean.location[f.name] = place
        else:
            cleaned, problem = _scalar(f, value)
            if problem is None:
                clean.data[f.name] = cleaned
        if problem:
            errors[f.name] = problem
    if errors:
        labels = {f.name: f.label for f in form.fields}
        summary = "；".join(f"{labels.get(k, k)}：{v}" for k, v in errors.items())
        raise RuleViolation(f"表单有误，未保存：{summary}", code="invalid_form", fields=errors)
    return clean
