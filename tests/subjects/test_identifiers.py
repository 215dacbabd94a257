"""Identifier checks: known-valid codes pass; every single-character error and every
adjacent transposition of a valid code is caught."""

from __future__ import annotations

from datetime import date

import pytest

from govloop.subjects import identifiers as ids

VALID_IDS = [
    "11010519491231002X",  # the example of GB 11643-1999
    "440305199001011234"[:17] + ids.id_check_char("44030519900101123"),
    "51010719851130702" + ids.id_check_char("51010719851130702"),
]
VALID_USCC = [
    "91350100M000100Y43",
    # registration authorities A, N and Y are valid (python-stdnum refuses them)
    "N1110105MB0000000" + ids.uscc_check_char("N1110105MB0000000"),
    "Y1440305MC0000000" + ids.uscc_check_char("Y1440305MC0000000"),
    "A1110000MD0000000" + ids.uscc_check_char("A1110000MD0000000"),
]


def _single_errors(code: str, alphabet: str):  # type: ignore[no-untyped-def]
    for i, original in enumerate(code):
        for c in alphabet:
            if c != original:
                yield code[:i] + c + code[i + 1 :]


def _transpositions(code: str):  # type: ignore[no-untyped-def]
    for i in range(len(code) - 1):
        if code[i] != code[i + 1]:
            yield code[:i] + code[i + 1] + code[i] + code[i + 2 :]


@pytest.mark.parametrize("number", VALID_IDS)
def test_valid_resident_ids_pass_and_every_error_is_caught(number: str) -> None:
    assert ids.check_resident_id(number).valid
    errors = list(_single_errors(number, "0123456789X")) + list(_transpositions(number))
    missed = [e for e in errors if ids.check_resident_id(e).valid]
    assert len(errors) > 180 and missed == []


@pytest.mark.parametrize("code", VALID_USCC)
def test_valid_credit_codes_pass_and_every_error_is_caught(code: str) -> None:
    assert ids.check_uscc(code).valid, ids.check_uscc(code)
    errors = list(_single_errors(code, ids.USCC_CHARSET)) + list(_transpositions(code))
    missed = [e for e in errors if ids.check_uscc(e).valid]
    assert len(errors) > 500 and missed == []


def test_organization_code_inside_the_credit_code() -> None:
    assert ids.check_org_code("M000100Y-4").valid
    # MOD 11 over 36 symbols cannot catch every letter swap (M and 0 differ by 22 ≡ 0 mod 11);
    # it catches every digit error and every transposition of unequal digits
    errors = list(_single_errors("73640004X", "0123456789")) + list(_transpositions("73640004X"))
    assert ids.check_org_code("73640004X").valid
    assert [e for e in errors if ids.check_org_code(e).valid] == []
    assert ids.check_org_code("M000100Y5").reason_code == "org_checksum"


def test_reasons_name_the_problem() -> None:
    assert ids.check_resident_id("1101051949123100").reason_code == "id_length"
    assert ids.check_resident_id("11010519491331002X").reason_code == "id_birth_date"
    assert ids.check_resident_id("99999919491231002X").reason_code == "id_region"
    assert ids.check_resident_id("11010519491231002Y").reason_code == "id_chars"
    assert ids.check_resident_id("110105194912310021").reason_code == "id_checksum"
    future = ids.check_resident_id("110105203001010012", today=date(2026, 12, 4))
    assert future.reason_code == "id_birth_date"
    assert ids.check_uscc("91350100M000100Y4O").reason_code == "uscc_chars"
    assert ids.check_uscc("B1350100M000100Y43").reason_code == "uscc_authority"
    assert "校验" in (ids.check_uscc("91350100M000100Y44").reason or "")


def test_full_width_spaces_and_lower_case_are_normalized() -> None:
    check = ids.check_resident_id("１１０１０５ 1949 1231 002x")
    assert check.valid and check.value == "11010519491231002X"


def test_fifteen_digit_numbers_are_upgraded() -> None:
    check = ids.check_resident_id("110105491231002")
    assert check.valid and check.value == "11010519491231002X"
    assert check.upgraded_from == "110105491231002"
    assert ids.birth_date_of(check.value) == date(1949, 12, 31)
    assert ids.sex_of(check.value) == "F"


def test_region_names_come_from_the_shipped_table() -> None:
    assert ids.region_name("110105") == "北京市朝阳区"
    assert ids.region_name("440305") == "广东省南山区"
    assert ids.region_name("999999") is None


def test_phone_numbers() -> None:
    assert ids.check_phone("+86 138-0013-8000").value == "13800138000"
    assert ids.check_mobile("12800138000").reason_code == "mobile"
    assert ids.check_phone("010-62345678").valid
    assert ids.check_phone("(0755)86001234").valid
    assert not ids.check_phone("12345").valid
