"""Normalization of names, addresses, phones, dates and sex before linkage."""

from __future__ import annotations

import pytest

from govloop.subjects import normalize as nz


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("張偉", "张伟"),
        ("张 伟", "张伟"),
        ("　陳麗華　", "陈丽华"),
        ("买买提·艾力", "买买提艾力"),
        ("买买提•艾力", "买买提艾力"),
        ("ＡＢＣ", "ABC"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_name(raw: str | None, expected: str | None) -> None:
    assert nz.normalize_name(raw) == expected


def test_pinyin_reads_homophones_alike_and_surnames_as_surnames() -> None:
    assert nz.name_pinyin("张伟") == nz.name_pinyin("张玮") == "zhangwei"
    assert nz.name_pinyin("曾伟") == "zengwei"
    assert nz.name_pinyin("单丽") == "shanli"
    assert nz.surname_pinyin("欧阳娜") == "ouyang"
    assert nz.split_surname("欧阳娜") == ("欧阳", "娜")
    assert nz.name_pinyin("李明") != nz.name_pinyin("李敏")


def test_normalize_address_unifies_variants() -> None:
    full = "廣東省廣州市天河區體育西路１２號陽光小區3号楼2单元502室"
    short = "广州市天河区体育西路12号阳光小区3栋2单元502"
    assert nz.normalize_address(full) == nz.normalize_address(short)
    assert nz.normalize_address(short) == "天河区体育西路12号阳光小区3栋2单元502"
    # municipalities: the city prefix goes, the district stays
    assert nz.normalize_address("北京市朝阳区建国路1号") == "朝阳区建国路1号"
    assert nz.normalize_address("广西壮族自治区南宁市青秀区民族大道1号") == "青秀区民族大道1号"
    assert nz.normalize_address("  ") is None


def test_normalize_phone_keeps_only_valid_numbers() -> None:
    assert nz.normalize_phone_or_none("+86 138-1234-5678") == "13812345678"
    assert nz.normalize_phone_or_none("１３８１２３４５６７８") == "13812345678"
    assert nz.normalize_phone_or_none("010-62345678") == "01062345678"
    assert nz.normalize_phone_or_none("12345") is None
    assert nz.normalize_phone_or_none(None) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-05-01", "1990-05-01"),
        ("1990/5/1", "1990-05-01"),
        ("19900501", "1990-05-01"),
        ("１９９０年５月１日", "1990-05-01"),
        ("1990-02-30", None),
        ("soon", None),
        (None, None),
    ],
)
def test_normalize_date(raw: str | None, expected: str | None) -> None:
    assert nz.normalize_date(raw) == expected


def test_normalize_sex_and_id() -> None:
    assert [nz.normalize_sex(v) for v in ("男", "F", "2", "x", None)] == ["M", "F", "F", None, None]
    assert nz.valid_resident_id("11010519491231002x") == "11010519491231002X"
    assert nz.valid_resident_id("110105194912310021") is None
