"""Who a person record says it is, and when two records cannot be one person.

The linkage only *estimates* that two records are the same person; these rules are what it
*guarantees*. Two records are never in one master when:

- they carry two different valid resident ID numbers;
- one is a man and the other a woman, and at least one of the two sexes comes from a valid
  ID number (the ID encodes it; a stated sex alone may be mistyped);
- both have a birth date and the dates differ by more than a typo explains (one digit
  wrong, two adjacent digits swapped, or day and month swapped);
- a data steward marked them "not the same person".

Beside the guarantees, ``name_level`` and ``dob_level`` grade how well two records agree on
the attributes that identify a person; household attributes (a shared phone or address)
only count once these agree (see ``linkage.py`` and ``clustering.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from govloop.subjects import normalize as nz

NameLevel = Literal["exact", "homophone", "one_char", "far", "missing"]
DobLevel = Literal["exact", "swap", "typo", "far", "missing"]


@dataclass(frozen=True)
class PersonKey:
    """The identity-bearing attributes of one record, normalized."""

    key: str
    name: str | None = None
    name_py: str | None = None
    dob: str | None = None  # ISO date
    sex: str | None = None  # "M" / "F"
    sex_from_id: bool = False
    id_number: str | None = None  # a valid resident ID number only

    @property
    def surname_py(self) -> str | None:
        return nz.surname_pinyin(self.name) if self.name else None


def person_key(key: str, payload: dict[str, Any]) -> PersonKey:
    """Normalize one record's payload (name, birth_date, sex, id_number)."""
    name = nz.normalize_name(_text(payload.get("name")))
    id_number = nz.valid_resident_id(_text(payload.get("id_number")))
    dob = nz.normalize_date(payload.get("birth_date"))
    sex = nz.normalize_sex(payload.get("sex"))
    sex_from_id = False
    if id_number:
        # the ID is checked (region, date, check character): its date and sex win over the
        # stated ones, which are the likelier typos
        dob = f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"
        sex = "M" if int(id_number[16]) % 2 else "F"
        sex_from_id = True
    return PersonKey(
        key=key,
        name=name,
        name_py=nz.name_pinyin(name) if name else None,
        dob=dob,
        sex=sex,
        sex_from_id=sex_from_id,
        id_number=id_number,
    )


def from_columns(
    key: str,
    *,
    name: str | None,
    name_py: str | None,
    dob: str | None,
    sex: str | None,
    id_number: str | None,
) -> PersonKey:
    """A PersonKey from columns already normalized (``linkage.prepare_persons``)."""
    return PersonKey(
        key=key,
        name=name or None,
        name_py=name_py or None,
        dob=dob or None,
        sex=sex or None,
        sex_from_id=bool(id_number),
        id_number=id_number or None,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def edit_distance_at_most_one(a: str, b: str) -> bool:
    """Damerau–Levenshtein distance ≤ 1 (one substitution, insertion, deletion or adjacent
    transposition)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if la < lb else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


def dob_level(a: str | None, b: str | None) -> DobLevel:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    if a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return "swap"
    if edit_distance_at_most_one(a.replace("-", ""), b.replace("-", "")):
        return "typo"
    return "far"


def name_level(a: PersonKey, b: PersonKey) -> NameLevel:
    if not a.name or not b.name:
        return "missing"
    if a.name == b.name:
        return "exact"
    if a.name_py and a.name_py == b.name_py:
        return "homophone"
    if edit_distance_at_most_one(a.name, b.name):
        return "one_char"
    return "far"


def hard_conflict(a: PersonKey, b: PersonKey) -> str | None:
    """Why these two records can never be one person, or None."""
    if a.id_number and b.id_number and a.id_number != b.id_number:
        return "two_valid_ids"
    if a.sex and b.sex and a.sex != b.sex and (a.sex_from_id or b.sex_from_id):
        return "sex"
    if dob_level(a.dob, b.dob) == "far":
        return "birth_date"
    return None


def identity_agrees(a: PersonKey, b: PersonKey) -> bool:
    """Name and birth date agree well enough for household attributes (phone, address) to
    count as evidence of one person; otherwise those are what a family shares.

    The same valid ID agrees whatever else differs. Otherwise the names must be equal after
    normalization (traditional characters, spaces, full-width forms) or read the same in
    pinyin (homophone typos), the sexes must not differ, and the birth dates must be equal or
    one typo apart (or missing on a side). A name one character apart is not enough: that is
    what a parent and child (张伟 / 张伟明), two siblings with one-character given names
    (张伟 / 张强) and twins (李思远 / 李思明) look like.
    """
    if a.id_number and a.id_number == b.id_number:
        return True
    if hard_conflict(a, b):
        return False
    if a.sex and b.sex and a.sex != b.sex:
        return False
    return name_level(a, b) in ("exact", "homophone")


# the reasons, in the words a steward reads
CONFLICT_LABELS = {
    "two_valid_ids": "两个不同的有效身份证号码",
    "sex": "性别不一致（至少一方来自有效身份证号码）",
    "birth_date": "出生日期相差超出录入错误可解释的范围",
    "not_same": "数据管理员已判定不是同一人",
}
