"""Normalization of person attributes before record linkage.

Departments type the same person differently: full-width digits from Chinese input methods,
traditional characters (Hong Kong / Taiwan residents, older systems), spaces or an interpunct
inside minority names (买买提·艾力), "3号楼" against "3栋", a province prefix or none. Linkage
compares the normalized forms; the originals are never changed.

- Names: NFKC (full → half width), traditional → simplified (OpenCC ``t2s``), spaces and
  interpuncts removed; ``name_pinyin`` gives a tone-less pinyin key so homophones
  (张伟 / 张玮) still compare as close.
- Addresses: NFKC, traditional → simplified, building words unified (号楼 / 幢 / 座 → 栋),
  the province and prefecture-level city prefix removed (many records start at the district).
- Phones: ``identifiers.normalize_phone``; an invalid number normalizes to None.
- Dates: ISO ``YYYY-MM-DD`` from the common written forms, or None.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

import opencc
from pypinyin import Style, lazy_pinyin

from govloop.subjects.identifiers import check_phone, check_resident_id

# interpuncts typed between the parts of minority names, in their many code points
_NAME_DROP = re.compile(r"[\s·•‧・∙⋅.\-_]")
# surnames whose reading differs from the character's most common reading
SURNAME_READINGS = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "朴": "piao",
    "盖": "ge",
    "缪": "miao",
    "乐": "yue",
    "尉迟": "yuchi",
    "万俟": "moqi",
}
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "万俟",
        "端木",
        "轩辕",
    ]
)
_BUILDING = re.compile(r"(\d+)\s*(?:号楼|幢|座|号栋|栋楼)")
_ROOM = re.compile(r"(\d+)(?:室|房|号房)$")
_PROVINCE = re.compile(r"^(?:[^省市区]{2,3}省|[^区]{2,8}自治区)")
_CITY = re.compile(r"^(?:[^市区县路街镇]{2,7}?(?:市|自治州|地区|盟))(?=.{2,})")
_SPACES = re.compile(r"\s+")
_DATE = re.compile(r"^(\d{4})\D?(\d{1,2})\D?(\d{1,2})\D?$")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return str(_t2s().convert(text))


def normalize_name(value: str | None) -> str | None:
    """'張 偉' → '张伟', '买买提·艾力' → '买买提艾力'; empty → None."""
    if value is None:
        return None
    folded = unicodedata.normalize("NFKC", str(value))
    name = _NAME_DROP.sub("", to_simplified(folded)).upper()
    return name or None


def split_surname(name: str) -> tuple[str, str]:
    """(surname, given name) of a normalized Chinese name; compound surnames recognised."""
    if name[:2] in COMPOUND_SURNAMES and len(name) > 2:
        return name[:2], name[2:]
    return name[:1], name[1:]


@lru_cache(maxsize=200_000)
def name_pinyin(name: str) -> str:
    """Tone-less pinyin of a normalized name, surname read as a surname: '曾伟' → 'zengwei'.

    Latin letters (FEBRL-style or transliterated names) pass through lower-cased.
    """
    surname, given = split_surname(name)
    head = SURNAME_READINGS.get(surname) or "".join(lazy_pinyin(surname, style=Style.NORMAL))
    tail = "".join(lazy_pinyin(given, style=Style.NORMAL))
    return (head + tail).lower().replace("ü", "v")


def surname_pinyin(name: str) -> str:
    surname, _ = split_surname(name)
    return SURNAME_READINGS.get(surname) or "".join(lazy_pinyin(surname, style=Style.NORMAL))


def normalize_address(value: str | None) -> str | None:
    """'廣東省廣州市天河區體育西路１２號 3号楼' → '天河区体育西路12号3栋'; empty → None."""
    if value is None:
        return None
    text = _SPACES.sub("", to_simplified(unicodedata.normalize("NFKC", str(value))))
    if not text:
        return None
    text = _BUILDING.sub(r"\1栋", text)
    text = _ROOM.sub(r"\1", text)
    text = _PROVINCE.sub("", text)
    text = _CITY.sub("", text)
    return text or None


def normalize_phone_or_none(value: str | None) -> str | None:
    """The normalized phone number when it is a valid mobile or landline, else None."""
    if value is None or not str(value).strip():
        return None
    checked = check_phone(str(value))
    return checked.value.replace("-", "") if checked.valid else None


def valid_resident_id(value: str | None) -> str | None:
    """The normalized 18-character resident ID when valid (15-digit ones upgraded), else None."""
    if value is None or not str(value).strip():
        return None
    checked = check_resident_id(str(value))
    return checked.value if checked.valid else None


def normalize_date(value: object) -> str | None:
    """ISO date from a date, '1990-05-01', '1990/5/1', '19900501', '１９９０年５月１日'."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = _DATE.match(text.replace("年", "-").replace("月", "-").replace("日", ""))
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def normalize_sex(value: object) -> str | None:
    """'M' / 'F' from 男/女, M/F, 1/2 (GB/T 2261.1), male/female; anything else None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if text in {"男", "m", "male", "1", "男性"}:
        return "M"
    if text in {"女", "f", "female", "2", "女性"}:
        return "F"
    return None
