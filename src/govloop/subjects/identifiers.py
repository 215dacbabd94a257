"""Chinese identifiers: validation with the reason, normalization, and the legacy upgrade.

- Resident ID number, GB 11643-1999: 17 digits + ISO 7064 MOD 11-2 check character, a valid
  birth date and a known administrative region (the region table ships inside python-stdnum,
  historic codes included, since IDs keep the region of issue).
- Unified social credit code, GB 32100-2015: 18 characters over 0-9 A-H J-N P-R T U W-Y,
  MOD 31 check with weights 3^i mod 31. python-stdnum's cn.uscc refuses codes whose first
  character is A, N or Y (registration authorities the standard allows), so the check is ours.
- Organization code, GB 11714-1997: 8 characters + MOD 11 check (X for 10).
- Mobile and landline numbers.

Each ``check_*`` returns an ``IdCheck``: the normalized value and, when invalid, a reason code
and a Chinese message, so a data steward sees why a value was refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
from stdnum import numdb

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARSET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
USCC_AUTHORITIES = frozenset("123456789ANY")

ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?[2-9]\d{6,7}(?:-\d{1,6})?$")


@dataclass(frozen=True)
class IdCheck:
    value: str  # normalized (half-width, no spaces, upper case)
    valid: bool
    reason_code: str | None = None
    reason: str | None = None
    upgraded_from: str | None = None  # the 15-digit number an 18-digit one was derived from

    @classmethod
    def bad(cls, value: str, code: str, reason: str) -> IdCheck:
        return cls(value, False, code, reason)


def clean(value: str) -> str:
    """Full-width → half-width (NFKC), spaces and hyphens typed inside removed, upper case."""
    folded = unicodedata.normalize("NFKC", value or "")
    return re.sub(r"[\s\-]", "", folded).upper()


@lru_cache(maxsize=1)
def _regions() -> numdb.NumDB:
    return numdb.get("cn/loc")


def region_name(code6: str) -> str | None:
    """The county-level region of a 6-digit code, e.g. '北京市朝阳区', or None if unknown."""
    parts = _regions().info(code6)
    props: dict[str, str] = {}
    matched = ""
    for prefix, found in parts:
        if not found:
            break
        matched += prefix
        props.update(found)
    if matched != code6 or "county" not in props:
        return None
    # historic names come as "[1983-1989]南头区办事处,[1990-]南山区": keep the current one
    county = re.sub(r"\[[^\]]*\]", "", props["county"]).split(",")[-1]
    return f"{props.get('province', '')}{county}"


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _birth(digits: str) -> date | None:
    try:
        return date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def upgrade_id15(number15: str) -> str:
    """A 15-digit number (2-digit year, no check) as its 18-digit form."""
    first17 = number15[:6] + "19" + number15[6:]
    return first17 + id_check_char(first17)


def check_resident_id(value: str, *, today: date | None = None) -> IdCheck:
    number = clean(value)
    upgraded_from = None
    if len(number) == 15:
        if not number.isdigit():
            return IdCheck.bad(number, "id_chars", "15 位身份证号码只能由数字组成")
        upgraded_from = number
        number = upgrade_id15(number)
    if len(number) != 18:
        return IdCheck.bad(number, "id_length", f"身份证号码应为 18 位，实际 {len(number)} 位")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return IdCheck.bad(number, "id_chars", "身份证号码前 17 位应为数字，末位为数字或 X")
    born = _birth(number[6:14])
    if born is None or born.year < 1900 or born > (today or date.today()):
        return IdCheck.bad(number, "id_birth_date", f"身份证号码中的出生日期 {number[6:14]} 无效")
    if region_name(number[:6]) is None:
        return IdCheck.bad(number, "id_region", f"身份证号码中的地区码 {number[:6]} 不存在")
    if id_check_char(number[:17]) != number[17]:
        return IdCheck.bad(number, "id_checksum", "身份证号码校验位不正确")
    return IdCheck(number, True, upgraded_from=upgraded_from)


def birth_date_of(id_number: str) -> date | None:
    return _birth(id_number[6:14]) if len(id_number) == 18 else None


def sex_of(id_number: str) -> str | None:
    """The 17th digit: odd for men, even for women."""
    return ("M" if int(id_number[16]) % 2 else "F") if len(id_number) == 18 else None


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body8, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def check_org_code(value: str) -> IdCheck:
    code = clean(value)
    if len(code) != 9:
        return IdCheck.bad(code, "org_length", "组织机构代码应为 9 位（8 位本体 + 1 位校验码）")
    if not re.fullmatch(r"[0-9A-Z]{8}[0-9X]", code):
        return IdCheck.bad(code, "org_chars", "组织机构代码只能由数字和大写字母组成")
    if org_code_check_char(code[:8]) != code[8]:
        return IdCheck.bad(code, "org_checksum", "组织机构代码校验码不正确")
    return IdCheck(code, True)


def check_uscc(value: str) -> IdCheck:
    code = clean(value)
    if len(code) != 18:
        return IdCheck.bad(code, "uscc_length", f"统一社会信用代码应为 18 位，实际 {len(code)} 位")
    bad = sorted({c for c in code if c not in USCC_VALUE})
    if bad:
        return IdCheck.bad(
            code,
            "uscc_chars",
            f"统一社会信用代码含不允许的字符：{'、'.join(bad)}（不用 I O Z S V）",
        )
    if code[0] not in USCC_AUTHORITIES:
        return IdCheck.bad(code, "uscc_authority", f"登记管理部门代码 {code[0]} 不存在")
    if not code[2:8].isdigit():
        return IdCheck.bad(code, "uscc_region", "统一社会信用代码第 3–8 位应为行政区划码")
    if uscc_check_char(code[:17]) != code[17]:
        return IdCheck.bad(code, "uscc_checksum", "统一社会信用代码校验码不正确")
    return IdCheck(code, True)


def normalize_phone(value: str) -> str:
    number = clean(value).replace("(", "").replace(")", "")
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number = number[len(prefix) :]
    return number


def check_mobile(value: str) -> IdCheck:
    number = normalize_phone(value)
    if not MOBILE.match(number):
        return IdCheck.bad(number, "mobile", "手机号码应为 1 开头的 11 位数字")
    return IdCheck(number, True)


def check_landline(value: str) -> IdCheck:
    raw = re.sub(r"[\s()]", "", unicodedata.normalize("NFKC", value or ""))
    for prefix in ("+86", "0086"):
        if raw.startswith(prefix):
            raw = "0" + raw[len(prefix) :].lstrip("-")
    if not LANDLINE.match(raw):
        return IdCheck.bad(raw, "landline", "固定电话应为“区号-号码”，如 010-62345678")
    return IdCheck(raw, True)


def check_phone(value: str) -> IdCheck:
    """A mobile or a landline number, whichever it looks like."""
    mobile = check_mobile(value)
    return mobile if mobile.valid else check_landline(value)


# --- batch checking (vectorised) --------------------------------------------------------------


@dataclass(frozen=True)
class ResidentIdBatch:
    """``check_resident_ids`` result: per input, the normalized value, validity and reason."""

    value: list[str]
    valid: np.ndarray  # bool
    reason_code: list[str | None]


def check_resident_ids(values: Sequence[str], *, today: date | None = None) -> ResidentIdBatch:
    """``check_resident_id`` over a batch, numpy-vectorised for plain 18-character numbers.

    Results are identical to calling ``check_resident_id`` on each value (a test proves it on
    valid and corrupted numbers): anything that is not exactly 17 ASCII digits and a digit or
    X — lower-case x, full-width digits, spaces, 15-digit numbers — goes through the scalar
    check, and region codes are looked up once per distinct code.
    """
    n = len(values)
    out_value = [v if isinstance(v, str) else ("" if v is None else str(v)) for v in values]
    candidates = [v if len(v) == 18 and v.isascii() else "" for v in out_value]
    raw = np.frombuffer(np.asarray(candidates, dtype="S18").tobytes(), dtype=np.uint8)
    chars = raw.reshape(n, 18)
    digits = chars[:, :17] - np.uint8(48)  # wraps around for anything below '0'
    last = chars[:, 17]
    fast = (digits < 10).all(axis=1) & (((last >= 48) & (last <= 57)) | (last == 88))
    reason = np.full(n, None, dtype=object)
    valid = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(~fast).tolist():
        checked = check_resident_id(out_value[i], today=today)
        out_value[i], valid[i], reason[i] = checked.value, checked.valid, checked.reason_code
    if not fast.any():
        return ResidentIdBatch(out_value, valid, reason.tolist())
    # small integers: float32 sums are exact and run on BLAS
    weighted = digits.astype(np.float32)
    year = (weighted[:, 6:10] @ np.asarray([1000, 100, 10, 1], np.float32)).astype(np.int32)
    month = (weighted[:, 10:12] @ np.asarray([10, 1], np.float32)).astype(np.int32)
    day = (weighted[:, 12:14] @ np.asarray([10, 1], np.float32)).astype(np.int32)
    region = (weighted[:, :6].astype(np.float64) @ 10.0 ** np.arange(5, -1, -1)).astype(np.int64)
    check_index = (weighted @ np.asarray(ID_WEIGHTS, np.float32)).astype(np.int64) % 11
    limit = today or date.today()
    born_ok = _valid_dates(year, month, day) & (year >= 1900)
    ymd = year * 10000 + month * 100 + day
    born_ok &= ymd <= limit.year * 10000 + limit.month * 100 + limit.day
    # region codes are looked up once per distinct code
    codes = np.unique(region[fast & born_ok])
    known = [c for c in codes.tolist() if region_name(f"{c:06d}") is not None]
    region_ok = np.isin(region, np.asarray(known, dtype=np.int64))
    expected = np.frombuffer(ID_CHECK.encode("ascii"), dtype=np.uint8)[check_index]
    check_ok = expected == last
    first_failure = np.select(
        [~born_ok, ~region_ok, ~check_ok], ["id_birth_date", "id_region", "id_checksum"], ""
    )
    codes_out = first_failure.astype(object)
    codes_out[first_failure == ""] = None
    valid[fast] = (born_ok & region_ok & check_ok)[fast]
    reason[fast] = codes_out[fast]
    return ResidentIdBatch(out_value, valid, reason.tolist())


def _valid_dates(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days_in = np.asarray([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    ok_month = (month >= 1) & (month <= 12)
    last = days_in[np.clip(month, 0, 12)] + ((month == 2) & leap)
    # date() refuses year 0; years 1..9999 are all four digits here
    return ok_month & (day >= 1) & (day <= last) & (year >= 1)
