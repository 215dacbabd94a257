"""A generated (seeded) Chinese population and its records as several departments hold them.

Persons get a surname drawn by real frequency, a one- or two-character given name (a few
minority names with an interpunct), a birth date, a sex consistent with their resident ID
number (valid: region code, birth date, sequence, MOD 11-2 check character), a mobile phone
and an address (province / city / district / street / 小区 / 栋 / 单元 / 室).

Each person is then held by one to four departments, each record carrying the errors that
departments really make: a similar-character or homophone typo in the name, traditional
characters, full-width digits, day and month swapped, one digit wrong in the birth date,
missing fields, an ID number with one wrong digit (so it fails the check), a new phone, a
new address, spaces inside the name. The truth is ``person_id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from govloop.subjects.identifiers import id_check_char

# (surname, share of the population in %) — the most common surnames, 2020 census order
SURNAMES: tuple[tuple[str, float], ...] = tuple(
    (s, float(w))
    for s, w in (
        pair.split(":")
        for pair in [
            "王:7.25",
            "李:7.19",
            "张:6.86",
            "刘:5.38",
            "陈:4.53",
            "杨:3.08",
            "赵:2.29",
            "黄:2.23",
            "周:1.89",
            "吴:2.05",
            "徐:1.66",
            "孙:1.54",
            "胡:1.31",
            "朱:1.37",
            "高:1.06",
            "林:1.13",
            "何:1.14",
            "郭:1.15",
            "马:1.45",
            "罗:1.01",
            "梁:0.92",
            "宋:0.77",
            "郑:0.97",
            "谢:0.83",
            "韩:0.71",
            "唐:0.77",
            "冯:0.69",
            "于:0.54",
            "董:0.57",
            "萧:0.05",
            "程:0.47",
            "曹:0.66",
            "袁:0.55",
            "邓:0.69",
            "许:0.74",
            "傅:0.12",
            "沈:0.40",
            "曾:0.63",
            "彭:0.64",
            "吕:0.44",
            "苏:0.45",
            "卢:0.38",
            "蒋:0.53",
            "蔡:0.52",
            "贾:0.27",
            "丁:0.42",
            "魏:0.45",
            "薛:0.20",
            "叶:0.48",
            "阎:0.05",
            "余:0.51",
            "潘:0.54",
            "杜:0.49",
            "戴:0.14",
            "夏:0.26",
            "钟:0.35",
            "汪:0.31",
            "田:0.58",
            "任:0.42",
            "姜:0.37",
            "范:0.31",
            "方:0.25",
            "石:0.29",
            "姚:0.38",
            "谭:0.33",
            "廖:0.28",
            "邹:0.24",
            "熊:0.23",
            "金:0.30",
            "陆:0.33",
            "郝:0.15",
            "孔:0.13",
            "白:0.24",
            "崔:0.35",
            "康:0.12",
            "毛:0.16",
            "邱:0.22",
            "秦:0.23",
            "江:0.22",
            "史:0.18",
            "顾:0.16",
            "侯:0.19",
            "邵:0.15",
            "孟:0.23",
            "龙:0.19",
            "万:0.15",
            "段:0.20",
            "雷:0.19",
            "钱:0.15",
            "汤:0.13",
            "尹:0.21",
            "黎:0.17",
            "易:0.12",
            "常:0.12",
            "武:0.14",
            "乔:0.11",
            "贺:0.17",
            "赖:0.11",
            "龚:0.15",
            "文:0.11",
            "单:0.04",
            "欧阳:0.04",
            "司马:0.01",
            "诸葛:0.01",
            "上官:0.01",
        ]
    )
)
MALE_CHARS = list(
    "伟强磊军洋勇杰涛明超斌辉刚健波鹏华飞宇浩俊峰建国志平东亮文晨博坤昊凯鑫宏海林"
    "军荣帅旭阳振翔锋晓成龙德庆思远子轩宁毅春雷泽瑞嘉诚天佳"
)
FEMALE_CHARS = list(
    "芳娜敏静丽艳娟霞秀英玲桂兰红梅琳燕婷雪慧佳颖倩欣悦怡雯洁晶璐琪萍丹蕾薇莉莹"
    "月春晓婉宁嘉思梦瑶婧馨妍然露凤云华"
)
MINORITY_NAMES = (
    "买买提·艾力",
    "阿依古丽·吐尔逊",
    "古丽娜尔·买买提",
    "艾尔肯·阿不都",
    "扎西·次仁",
    "格桑·卓玛",
    "巴特尔·乌力吉",
    "热依拉·阿布拉",
)
# similar-looking characters and homophones that clerks really type instead
SIMILAR = {
    "伟": "玮炜苇",
    "丽": "莉俐",
    "明": "鸣铭",
    "华": "桦骅",
    "军": "君钧",
    "静": "晶婧靖",
    "敏": "民珉",
    "杰": "洁捷",
    "芳": "方舫",
    "娟": "鹃涓",
    "强": "蔷墙",
    "磊": "垒",
    "洋": "阳扬",
    "勇": "永咏",
    "艳": "燕彦",
    "涛": "滔韬",
    "斌": "彬",
    "玲": "琳铃",
    "霞": "侠",
    "平": "萍苹",
    "刚": "钢纲",
    "辉": "晖徽",
    "鹏": "朋",
    "林": "琳霖",
    "红": "虹宏",
    "建": "健键",
    "文": "雯汶",
    "海": "梅",
    "宇": "雨羽",
    "博": "搏",
    "晨": "辰",
    "浩": "皓昊",
    "俊": "骏峻",
    "峰": "锋",
    "婷": "亭",
    "雪": "雷",
    "慧": "惠蕙",
    "颖": "影莹",
    "倩": "茜",
    "怡": "仪",
    "琪": "淇",
    "萍": "平",
    "丹": "舟",
    "莉": "丽",
    "春": "椿",
    "嘉": "佳",
    "思": "丝",
    "瑶": "遥",
    "王": "汪",
    "张": "章",
    "李": "理",
    "陈": "程",
    "杨": "扬",
}
# (ID region code, province, city, district) — codes in the GB/T 2260 table
REGIONS: tuple[tuple[str, str, str, str], ...] = (
    ("110105", "北京市", "", "朝阳区"),
    ("110108", "北京市", "", "海淀区"),
    ("310115", "上海市", "", "浦东新区"),
    ("310104", "上海市", "", "徐汇区"),
    ("120101", "天津市", "", "和平区"),
    ("500103", "重庆市", "", "渝中区"),
    ("440106", "广东省", "广州市", "天河区"),
    ("440305", "广东省", "深圳市", "南山区"),
    ("440604", "广东省", "佛山市", "禅城区"),
    ("330106", "浙江省", "杭州市", "西湖区"),
    ("330212", "浙江省", "宁波市", "鄞州区"),
    ("320102", "江苏省", "南京市", "玄武区"),
    ("320506", "江苏省", "苏州市", "吴中区"),
    ("510107", "四川省", "成都市", "武侯区"),
    ("420106", "湖北省", "武汉市", "武昌区"),
    ("610113", "陕西省", "西安市", "雁塔区"),
    ("370102", "山东省", "济南市", "历下区"),
    ("370212", "山东省", "青岛市", "崂山区"),
    ("410105", "河南省", "郑州市", "金水区"),
    ("430104", "湖南省", "长沙市", "岳麓区"),
    ("350203", "福建省", "厦门市", "思明区"),
    ("350102", "福建省", "福州市", "鼓楼区"),
    ("210102", "辽宁省", "沈阳市", "和平区"),
    ("230102", "黑龙江省", "哈尔滨市", "道里区"),
    ("530102", "云南省", "昆明市", "五华区"),
    ("450103", "广西壮族自治区", "南宁市", "青秀区"),
    ("340104", "安徽省", "合肥市", "蜀山区"),
    ("360102", "江西省", "南昌市", "东湖区"),
    ("130102", "河北省", "石家庄市", "长安区"),
    ("140105", "山西省", "太原市", "小店区"),
    ("520102", "贵州省", "贵阳市", "南明区"),
    ("620102", "甘肃省", "兰州市", "城关区"),
    ("650102", "新疆维吾尔自治区", "乌鲁木齐市", "天山区"),
    ("460105", "海南省", "海口市", "秀英区"),
)
STREETS = list(
    [
        "人民",
        "解放",
        "建设",
        "中山",
        "和平",
        "文化",
        "胜利",
        "新华",
        "长江",
        "黄河",
        "学府",
        "光明",
        "幸福",
        "青年",
        "东风",
    ]
)
STREET_KINDS = ("路", "街", "大道")
COMPOUNDS = list(
    [
        "阳光",
        "锦绣",
        "翠苑",
        "金地",
        "万科",
        "保利",
        "绿城",
        "碧桂园",
        "龙湖",
        "华府",
        "景苑",
        "花园",
        "丽都",
        "御景",
    ]
)
COMPOUND_KINDS = ("小区", "花园", "家园", "公寓")
DEPARTMENTS = ("公安", "社保", "民政", "卫健")
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "180",
    "181",
    "182",
    "185",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
]
_FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


@dataclass(frozen=True)
class ErrorRates:
    """Probability of each error in one department's record of a person."""

    name_typo: float = 0.05
    traditional: float = 0.06
    full_width: float = 0.05
    name_spaces: float = 0.02
    day_month_swap: float = 0.02
    birth_digit: float = 0.02
    missing_birth: float = 0.03
    missing_phone: float = 0.08
    missing_address: float = 0.05
    missing_id: float = 0.10
    id_digit: float = 0.03
    new_phone: float = 0.08
    moved: float = 0.08


def _pick(rng: np.random.Generator, options: list[str] | tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]


def generate_persons(n: int, *, seed: int = 7) -> pd.DataFrame:
    """``n`` distinct persons with their true attributes (one row per person)."""
    rng = np.random.default_rng(seed)
    surnames = [s for s, _ in SURNAMES]
    weights = np.asarray([w for _, w in SURNAMES])
    sex = np.where(rng.random(n) < 0.5, "M", "F")
    surname = np.asarray(surnames, dtype=object)[
        rng.choice(len(surnames), n, p=weights / weights.sum())
    ]
    male = sex == "M"
    first = np.where(male, _pick(rng, MALE_CHARS, n), _pick(rng, FEMALE_CHARS, n))
    second = np.where(male, _pick(rng, MALE_CHARS, n), _pick(rng, FEMALE_CHARS, n))
    two_chars = rng.random(n) < 0.8
    name = surname + first + np.where(two_chars, second, "")
    minority = rng.random(n) < 0.005
    name[minority] = _pick(rng, MINORITY_NAMES, int(minority.sum()))

    days = rng.integers(0, (pd.Timestamp("2010-12-31") - pd.Timestamp("1940-01-01")).days, n)
    birth = pd.Timestamp("1940-01-01") + pd.to_timedelta(days, unit="D")
    birth_iso = birth.strftime("%Y-%m-%d").to_numpy(dtype=object)
    region = rng.integers(0, len(REGIONS), n)
    codes = np.asarray([r[0] for r in REGIONS], dtype=object)[region]
    seq = rng.integers(0, 100, n)
    # 17th digit: odd for men, even for women
    sex_digit = rng.integers(0, 5, n) * 2 + np.where(male, 1, 0)
    ymd = birth.strftime("%Y%m%d").to_numpy(dtype=object)
    first17 = [f"{c}{d}{s:02d}{x}" for c, d, s, x in zip(codes, ymd, seq, sex_digit, strict=True)]
    id_number = [f + id_check_char(f) for f in first17]
    phone = _phones(rng, n)
    address = _addresses(rng, region)
    return pd.DataFrame(
        {
            "person_id": np.arange(n),
            "name": name,
            "birth_date": birth_iso,
            "sex": sex,
            "id_number": id_number,
            "phone": phone,
            "address": address,
        }
    )


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = _pick(rng, MOBILE_PREFIXES, n)
    rest = rng.integers(0, 100_000_000, n)
    return np.asarray([f"{p}{r:08d}" for p, r in zip(prefixes, rest, strict=True)], dtype=object)


def _addresses(rng: np.random.Generator, region: np.ndarray) -> np.ndarray:
    n = len(region)
    street = _pick(rng, STREETS, n) + _pick(rng, STREET_KINDS, n)
    number = rng.integers(1, 400, n)
    compound = _pick(rng, COMPOUNDS, n) + _pick(rng, COMPOUND_KINDS, n)
    building = rng.integers(1, 30, n)
    unit = rng.integers(1, 6, n)
    room = rng.integers(1, 33, n) * 100 + rng.integers(1, 5, n)
    out = []
    for r, s, no, c, b, u, rm in zip(
        region, street, number, compound, building, unit, room, strict=True
    ):
        _, province, city, district = REGIONS[r]
        out.append(f"{province}{city}{district}{s}{no}号{c}{b}号楼{u}单元{rm}室")
    return np.asarray(out, dtype=object)


def _typo(name: str, rng: np.random.Generator) -> str:
    spots = [i for i, ch in enumerate(name) if ch in SIMILAR]
    if not spots:
        return name
    i = spots[int(rng.integers(0, len(spots)))]
    options = SIMILAR[name[i]]
    return name[:i] + options[int(rng.integers(0, len(options)))] + name[i + 1 :]


def _to_traditional(texts: np.ndarray) -> np.ndarray:
    import opencc

    converter = opencc.OpenCC("s2t")
    return np.asarray([converter.convert(t) for t in texts], dtype=object)


def _swap_day_month(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{y}-{d}-{m}" if int(d) <= 12 and d != m else iso


def _wrong_digit(text: str, rng: np.random.Generator, positions: range) -> str:
    i = int(rng.integers(positions.start, positions.stop))
    digit = text[i]
    new = str((int(digit) + int(rng.integers(1, 10))) % 10) if digit.isdigit() else "1"
    return text[:i] + new + text[i + 1 :]


def department_records(
    persons: pd.DataFrame,
    *,
    seed: int = 11,
    mean_records: float = 2.0,
    rates: ErrorRates | None = None,
) -> pd.DataFrame:
    """The records departments hold: each person in 1..4 departments, with realistic errors.

    Columns: record_key, source, name, birth_date, sex, phone, address, id_number, person_id.
    """
    rates = rates or ErrorRates()
    rng = np.random.default_rng(seed)
    n = len(persons)
    # how many departments know each person: 1 + binomial, capped at the department count
    extra = np.minimum(rng.binomial(len(DEPARTMENTS) - 1, (mean_records - 1) / 3, n), 3)
    counts = 1 + extra
    idx = np.repeat(np.arange(n), counts)
    # distinct departments per person: a random permutation prefix
    order = np.argsort(rng.random((n, len(DEPARTMENTS))), axis=1)
    within = np.concatenate([np.arange(c) for c in counts]) if n else np.zeros(0, int)
    source = np.asarray(DEPARTMENTS, dtype=object)[order[idx, within]]
    rec = persons.iloc[idx].reset_index(drop=True).copy()
    m = len(rec)
    rec.insert(0, "source", source)
    rec.insert(0, "record_key", [f"{s}-{i:07d}" for s, i in zip(source, range(m), strict=True)])

    def mask(p: float) -> np.ndarray:
        return rng.random(m) < p

    names = rec["name"].to_numpy(dtype=object).copy()
    typo = mask(rates.name_typo)
    names[typo] = [_typo(x, rng) for x in names[typo]]
    spaced = mask(rates.name_spaces)
    names[spaced] = [" ".join(x) if "·" not in x else x.replace("·", " · ") for x in names[spaced]]
    trad = mask(rates.traditional)
    names[trad] = _to_traditional(names[trad])

    birth = rec["birth_date"].to_numpy(dtype=object).copy()
    swap = mask(rates.day_month_swap)
    birth[swap] = [_swap_day_month(b) for b in birth[swap]]
    digit = mask(rates.birth_digit)
    # a typo that makes an impossible date is kept as typed: the normalizer refuses it
    birth[digit] = [_wrong_digit(b, rng, range(8, 10)) for b in birth[digit]]

    ids = rec["id_number"].to_numpy(dtype=object).copy()
    bad_id = mask(rates.id_digit)
    ids[bad_id] = [_wrong_digit(x, rng, range(0, 17)) for x in ids[bad_id]]

    phones = rec["phone"].to_numpy(dtype=object).copy()
    new_phone = mask(rates.new_phone)
    phones[new_phone] = _phones(rng, int(new_phone.sum()))
    addresses = rec["address"].to_numpy(dtype=object).copy()
    moved = mask(rates.moved)
    addresses[moved] = _addresses(rng, rng.integers(0, len(REGIONS), int(moved.sum())))
    # the same address written without the province and with 栋 for 号楼
    short = mask(0.3)
    addresses[short] = [_shorten(a) for a in addresses[short]]
    addresses[trad] = _to_traditional(addresses[trad])

    wide = mask(rates.full_width)
    for column in (phones, ids, birth, addresses):
        column[wide] = [x.translate(_FULL_WIDTH) for x in column[wide]]
    birth[mask(rates.missing_birth)] = None
    phones[mask(rates.missing_phone)] = None
    addresses[mask(rates.missing_address)] = None
    ids[mask(rates.missing_id)] = None

    rec["name"] = names
    rec["birth_date"] = birth
    rec["id_number"] = ids
    rec["phone"] = phones
    rec["address"] = addresses
    sex = rec["sex"].to_numpy(dtype=object).copy()
    # some departments write 男/女
    chinese_sex = mask(0.3)
    sex[chinese_sex] = np.where(sex[chinese_sex] == "M", "男", "女")
    rec["sex"] = sex
    return rec[
        [
            "record_key",
            "source",
            "name",
            "birth_date",
            "sex",
            "phone",
            "address",
            "id_number",
            "person_id",
        ]
    ]


def _shorten(address: str) -> str:
    for _, province, _, _ in REGIONS:
        if address.startswith(province) and province.endswith("省"):
            address = address[len(province) :]
            break
    return address.replace("号楼", "栋")


def population(n_persons: int, *, seed: int = 7, mean_records: float = 2.0) -> pd.DataFrame:
    """Department records of ``n_persons`` generated persons (truth in ``person_id``)."""
    return department_records(
        generate_persons(n_persons, seed=seed), seed=seed + 1, mean_records=mean_records
    )


__all__ = ["ErrorRates", "department_records", "generate_persons", "population"]
