"""The demo's one city: 澜江市, fictional, and every place the demo data names.

Every demo builder takes its places from here: the hall and its address, the hotline's
districts, roads and street offices, the addresses of persons, households, enterprises and
projects, the field tasks and the knowledge base. No other city, district or county appears
in demo data (``tests/demo/test_city.py`` scans a built demo for names that are not here).

The city, its districts and its counties are names that the national division table
(GB/T 2260, as shipped with python-stdnum, historic names included) does not hold, so the
demo cannot be read as a real place. 高新区 and 经开区 are the usual development zones.

ID numbers and credit codes must carry a region code the validators know, so the districts
borrow the county-level codes of one real prefecture (3501xx); those codes are never shown
as place names. Map centres are made-up coordinates near the same area.

The demo hall's public facts (name, address, phone, opening hours) live here as well: the
hall seed configures the hall from them and the knowledge base quotes them, so the two can
never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import time

CITY = "澜江市"
CITY_SHORT = "澜江"  # as in firm names: 澜江明湖物流有限公司
CITY_CODE = "350100"  # prefecture-level code, as in project codes 2026-350100-…


@dataclass(frozen=True)
class District:
    name: str  # 澜城区, 青山县
    code: str  # county-level region code of its residents' ID numbers and its firms' codes
    lat: float  # map centre (WGS-84)
    long: float
    weight: int  # relative population: how often its people call, visit and are registered
    roads: tuple[str, ...]  # roads of its street addresses
    subdistricts: tuple[str, ...]  # its 街道 (districts) or 镇 and 乡 (counties)

    @property
    def full_name(self) -> str:
        return CITY + self.name


def _split(text: str, suffix: str = "") -> tuple[str, ...]:
    return tuple(part + suffix for part in text.split("、"))


DISTRICTS: tuple[District, ...] = (
    District(
        "澜城区", "350102", 26.082, 119.296, 20,
        _split("江滨大道、府前路、中山路、解放路、文庙街、西门路、仓前路"),
        _split(
            "府前、江滨、文庙、西门、东门、南门、北门、仓前、学前、书院、状元、水井、盐仓、"
            "朝阳、解放、人民、太平、望江、柳巷、古城、双井、鼓亭",
            "街道",
        ),
    ),
    District(
        "明湖区", "350103", 26.053, 119.314, 18,
        _split("明湖路、湖滨路、湖东路、荷花路、新华路、春晖路"),
        _split(
            "明湖、湖滨、湖东、湖西、湖心、荷花、莲塘、柳岸、新华、建设、光明、幸福、和平、"
            "长安、春晖、翠屏、桂花、紫荆、金桥、沿湖、渔港、芦洲",
            "街道",
        ),
    ),
    District(
        "西岭区", "350104", 26.035, 119.262, 16,
        _split("西岭路、松林路、龙泉路、凤凰路、云岭大道、石门路"),
        _split(
            "西岭、岭南、岭北、松林、枫林、龙泉、凤凰、石门、云岭、青峰、翠峰、半山、梅园、"
            "竹园、桃园、杏坛、育才、向阳",
            "街道",
        ),
    ),
    District(
        "高新区", "350105", 26.110, 119.330, 9,
        _split("科创大道、创新路、软件园路、智谷路、数港路、未来大道"),
        _split("科创、创新、软件园、智谷、未来、数港、芯城、云谷", "街道"),
    ),
    District(
        "经开区", "350111", 26.000, 119.430, 8,
        _split("港前大道、工业路、物流大道、临港路、金港路、会展路"),
        _split("港前、工业园、物流园、临港、金港、会展、保税、海湾", "街道"),
    ),
    District(
        "青山县", "350121", 26.160, 119.180, 11,
        _split("青山大道、人民路、石桥路、龙潭路、双溪路、城关路"),
        _split(
            "城关镇、青山镇、石桥镇、龙潭镇、双溪镇、大坪镇、高峰镇、茶园镇、溪口镇、新店镇、"
            "洋中镇、竹林镇、黄土镇、三岔镇、水口镇、马坑乡、上洋乡、下坂乡、岭头乡、柏林乡、"
            "横坑乡、长岭乡"
        ),
    ),
    District(
        "白云县", "350122", 26.210, 119.420, 8,
        _split("白云大道、云峰路、仙岩路、桐林路、建设路、百丈路"),
        _split(
            "白云镇、云峰镇、仙岩镇、桐林镇、塘下镇、百丈镇、葛岭镇、双峰镇、云台镇、龙门镇、"
            "金坑乡、梨园乡、松岗乡、雾岭乡、茶坪乡、石壁乡、杉洋乡、大洋乡、中坪乡、高山乡"
        ),
    ),
    District(
        "桃溪县", "350123", 25.920, 119.350, 10,
        _split("桃溪路、碧水路、杏林路、清溪路、洪塘路、新桥路"),
        _split(
            "桃溪镇、溪头镇、碧水镇、杏林镇、清溪镇、洪塘镇、渡头镇、新桥镇、上塘镇、下洋镇、"
            "凤岗镇、李坑乡、溪尾乡、梅坑乡、坪山乡、花桥乡、东坑乡、西坑乡、岩前乡、官田乡"
        ),
    ),
)  # fmt: skip
BY_NAME: dict[str, District] = {d.name: d for d in DISTRICTS}
WEIGHTS: tuple[int, ...] = tuple(d.weight for d in DISTRICTS)
# The city's landmarks, for firm, compound and project names
LANDMARKS = ("澜江", "明湖", "西岭", "江滨", "澜湾", "凤鸣", "桃溪", "青山", "白云", "云岭")


def district(name: str) -> District:
    return BY_NAME[name]


def address(d: District, road: str, number: int, rest: str = "", *, city: bool = True) -> str:
    """'澜江市明湖区湖滨路12号3幢502室' (without the city when ``city`` is false)."""
    return f"{CITY if city else ''}{d.name}{road}{number}号{rest}"


# --- the demo hall -------------------------------------------------------------------

WEEKDAY_NAMES = {6: "周六", 7: "周日"}


@dataclass(frozen=True)
class HallFacts:
    name: str
    district: str
    road: str
    number: int
    phone: str  # the hall's enquiry line (a local number; the hotline is 12345)
    periods: tuple[tuple[time, time], ...]  # opening periods of a working day
    weekend_days: tuple[int, ...]  # ISO weekdays served beyond the working days

    @property
    def address(self) -> str:
        return f"{CITY}{self.district}{self.road} {self.number} 号"

    @property
    def hours_cell(self) -> str:
        """The 事项清单 cell of the opening hours: '09:00-17:00'."""
        return ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in self.periods)

    @property
    def weekend_cell(self) -> str:
        """The 事项清单 cell of the weekend days: '否', '周六' or '周六,周日'."""
        return ",".join(WEEKDAY_NAMES[d] for d in self.weekend_days) or "否"

    def hours_text(self) -> str:
        return hours_text(self.periods, self.weekend_days)


def hours_text(periods: Sequence[tuple[time, time]], weekend_days: Sequence[int] = ()) -> str:
    """Opening hours as the knowledge base states them:
    '周一至周五 9:00-17:00，中午不休息（法定节假日除外）'."""
    spans = "、".join(f"{a.hour}:{a:%M}-{b.hour}:{b:%M}" for a, b in periods)
    lunch = "，中午不休息" if len(periods) == 1 else ""
    weekend = "".join(f"，{WEEKDAY_NAMES[d]} {spans}" for d in sorted(weekend_days))
    return f"周一至周五 {spans}{lunch}{weekend}（法定节假日除外）"


# The hall serves without a lunch break: its windows take lunch in turns (the simulated day
# pauses half the windows at 11:45 and the other half at 12:30).
HALL = HallFacts(
    name=f"{CITY}政务服务中心",
    district="澜城区",
    road="江滨大道",
    number=100,
    phone="66012345",
    periods=((time(9, 0), time(17, 0)),),
    weekend_days=(),
)


def place_names() -> frozenset[str]:
    """Every city, district and county name the demo may use."""
    return frozenset({CITY, *BY_NAME})


__all__ = [
    "BY_NAME",
    "CITY",
    "CITY_CODE",
    "CITY_SHORT",
    "DISTRICTS",
    "HALL",
    "LANDMARKS",
    "WEIGHTS",
    "District",
    "HallFacts",
    "address",
    "district",
    "hours_text",
    "place_names",
]
