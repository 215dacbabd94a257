"""A seeded generator of realistic 12345 hotline orders (Simplified Chinese).

Used by the demo, the routing benchmark and the hot-topic detector's tests. Every order
is built from one category's own phrasing: several titles and ≥ 8 content templates per
category, filled with residential compounds (小区), streets, shops, companies, times and
amounts, wrapped in colloquial openings or an agent's note style, and — for about a
third of the orders — a sentence borrowed from a neighbouring category (the property
complaint that also mentions the water pressure), so that keyword rules alone are not
enough to route them.

The department of an order is always its category's default unit from the dispatch
catalogue. Real centers re-dispatch a share of orders to street offices; the generator
leaves that out on purpose so that the department accuracy measured on generated orders
means "did the model find the unit the catalogue names".

A :class:`Surge` adds orders about one concrete incident on one day (one compound, one
theme, near-identical wording from many callers), as a hot topic looks in real data.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from govloop.demo import city
from govloop.hotline.catalogue import CategorySpec, load_catalogue
from govloop.hotline.models import Channel, OrderType, Urgency

# The demo city runs on Beijing time whatever the server's settings say.
CITY_TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Surge:
    """``extra`` more orders on ``day`` about one theme (default: the category's own)."""

    day: date
    category_code: str
    district: str | None = None
    extra: int = 20
    theme: str | None = None


@dataclass(frozen=True)
class GeneratedOrder:
    created_at: datetime  # UTC
    channel: str
    order_type: str
    urgency: str
    title: str
    content: str
    category_code: str
    department_code: str
    district: str
    address: str
    caller_name: str
    caller_phone: str
    caller_email: str | None
    confidential: bool
    lat: float
    long: float
    theme: str | None = None  # the surge theme when a Surge injected this order


# district → (centre lat, centre long, roads), from the demo city
DISTRICTS: dict[str, tuple[float, float, tuple[str, ...]]] = {
    d.name: (d.lat, d.long, d.roads) for d in city.DISTRICTS
}
_DISTRICT_WEIGHTS = city.WEIGHTS

# How often each category is called about, relative to the others.
CATEGORY_WEIGHTS = {
    "CG-NOISE": 7, "CG-ROAD": 4, "CG-STALL": 3, "CG-GARBAGE": 5, "HB-POLLUTION": 4,
    "ZJ-PROPERTY": 8, "ZJ-CONSTRUCTION": 4, "JT-BUS": 4, "JT-TAXI": 3, "JY-SCHOOL": 5,
    "WJ-MEDICAL": 4, "SW-WATER": 6, "GD-POWER": 4, "RQ-GAS": 3, "RS-WAGE": 6,
    "RS-SOCIAL": 6, "YB-MEDINS": 5, "SJ-CONSUMER": 7, "GA-HUKOU": 4, "GJJ-FUND": 4,
    "MZ-AID": 3, "BDC-REG": 3,
}  # fmt: skip
_URGENT_SHARE = {"RQ-GAS": 0.15, "SW-WATER": 0.1, "GD-POWER": 0.1, "CG-ROAD": 0.08}
_OTHER_TYPES = {
    OrderType.COMPLAINT: (OrderType.REPORT, OrderType.ENQUIRY, OrderType.SUGGESTION),
    OrderType.REPORT: (OrderType.COMPLAINT, OrderType.HELP),
    OrderType.ENQUIRY: (OrderType.HELP, OrderType.COMPLAINT, OrderType.SUGGESTION),
    OrderType.HELP: (OrderType.COMPLAINT, OrderType.ENQUIRY),
    OrderType.SUGGESTION: (OrderType.COMPLAINT, OrderType.ENQUIRY),
    OrderType.PRAISE: (OrderType.SUGGESTION,),
}
_CHANNELS = (Channel.PHONE, Channel.WEB, Channel.H5, Channel.EMAIL, Channel.OPEN311)
_CHANNEL_WEIGHTS = (65, 12, 15, 3, 5)
# Arrivals by local hour and weekday (Monday first).
_HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 4, 7, 8, 7.5,
    5, 5, 7, 7.5, 7, 6, 4, 3.5, 3, 2.5, 1.5, 0.8,
)  # fmt: skip
_DAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.95, 0.6, 0.5)

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶"
    "程苏魏吕丁沈姚卢姜崔钟谭陆汪范金石廖贾夏方邹熊邱江薛雷侯龙陶黎顾毛龚万严戴"
)
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌鑫晨宇欣怡浩然子轩梓涵雨萱"
)
_COMPOUND_A = (
    "金桂", "锦绣", "万科", "阳光", "翠湖", "书香", "江景", "保利", "春晓", "中海",
    "明珠", "紫荆", "丽都", "碧水", "金地", "华润", *city.LANDMARKS[:4],
)  # fmt: skip
_COMPOUND_B = (
    "天鹅湾", "锦江", "香榭", "城市", "滨江", "御园", "半岛", "山水", "文苑", "丽景",
    "湖畔", "观邸", "华庭", "新城", "悦府", "凤凰",
)  # fmt: skip
_COMPOUND_C = ("花园", "小区", "新村", "家园", "华府", "公寓", "苑", "一期", "二期", "名都")
_SHOP_A = ("老陈", "阿明", "林记", "佳佳", "好邻居", "美乐", "优品", "鑫源", "福满多", "家乐")
_SHOP_B = (
    "烧烤店", "面馆", "超市", "便利店", "健身房", "美容店", "水果店", "手机店", "火锅店",
    "奶茶店", "药店", "洗车店", "餐厅", "服装店",
)  # fmt: skip
_COMPANY_A = ("恒信", "鑫达", "华宇", "澜发", "宏图", "永盛", "顺通", "博远", "中立", "嘉和")
_COMPANY_B = (
    "建筑工程", "科技", "物流", "电子", "餐饮管理", "贸易", "装饰工程", "保安服务",
    "家政服务", "机械制造",
)  # fmt: skip
_POOLS: dict[str, tuple[str, ...]] = {
    "t": (
        "昨天", "昨天晚上", "今天上午", "今天一早", "前天", "上周", "这几天", "最近",
        "上个月", "本月初", "周末", "上周五", "前几天", "今年以来",
    ),
    "dur": ("两天", "三天", "一个星期", "十来天", "半个月", "一个多月", "两个月", "半年", "一年多"),
    "hour": (
        "晚上十点", "晚上十一点", "半夜十二点", "凌晨一点", "凌晨两点", "早上五点", "早上六点",
    ),
    "job": ("保安", "服务员", "装修工", "快递员", "厨师", "销售", "仓管", "司机", "电工", "保洁"),
    "hosp": (
        "市第一医院", "市第二医院", "市人民医院", "市中医院", "市妇幼保健院", "市中心医院",
        "儿童医院", "区人民医院", "社区卫生服务中心",
    ),
    "dept": ("儿科", "急诊科", "骨科", "眼科", "口腔科", "妇产科", "皮肤科", "心内科"),
    "vaccine": ("流感疫苗", "九价HPV疫苗", "水痘疫苗", "狂犬疫苗", "百白破疫苗"),
    "school": (
        "实验小学", "中心小学", "第三中学", "第十九中学", "外国语学校", "实验幼儿园",
        "第一中心小学", "附属小学",
    ),
}  # fmt: skip


class _Slots(dict[str, str]):
    """Slot values for one order, drawn on first use so title and content agree."""

    def __init__(self, rng: random.Random, district: str, street: str, compound: str) -> None:
        super().__init__(d=district, s=street, c=compound)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        rng = self.rng
        if key in _POOLS:
            value = rng.choice(_POOLS[key])
        elif key == "s2":
            value = rng.choice([s for s in DISTRICTS[self["d"]][2] if s != self["s"]])
        elif key == "b":
            value = rng.choice((f"{rng.randint(1, 30)}号楼", f"{rng.randint(1, 20)}栋", "")) or (
                f"{rng.randint(1, 20)}栋{rng.randint(1, 4)}单元"
            )
        elif key == "shop":
            value = rng.choice(_SHOP_A) + rng.choice(_SHOP_B)
        elif key == "food":
            value = rng.choice(_SHOP_A) + rng.choice(("火锅店", "面馆", "烧烤店", "餐厅", "小吃店"))
        elif key == "store":
            value = rng.choice(_SHOP_A) + rng.choice(("超市", "便利店", "生鲜店", "商场"))
        elif key == "prefix":
            value = rng.choice(_SHOP_A)
        elif key == "co":
            value = f"{rng.choice(_COMPANY_A)}{rng.choice(_COMPANY_B)}有限公司"
        elif key == "amt":
            value = str(rng.choice((rng.randint(50, 999), rng.randint(10, 99) * 100)))
        elif key == "n":
            value = str(rng.randint(2, 9))
        elif key == "mins":
            value = str(rng.choice((20, 30, 40, 50, 60)))
        elif key == "people":
            value = str(rng.randint(1, 6) * 10)
        elif key == "age":
            value = str(rng.randint(80, 98))
        elif key == "bus":
            value = f"{rng.randint(1, 199)}路"
        elif key == "plate":
            value = "".join(rng.choice("0123456789") for _ in range(4))
        else:
            raise KeyError(key)
        self[key] = value
        return value


def _compound(rng: random.Random) -> str:
    return rng.choice(_COMPOUND_A) + rng.choice(_COMPOUND_B) + rng.choice(_COMPOUND_C)


def _name(rng: random.Random) -> str:
    surname = rng.choice(_SURNAMES)
    if rng.random() < 0.2:  # many callers give only a form of address
        return surname + rng.choice(("女士", "先生"))
    return surname + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(("13", "15", "18", "17", "19", "14", "16"))
    return prefix + "".join(rng.choice("0123456789") for _ in range(9))


def _fallback_topic(spec: CategorySpec) -> Topic:
    """Plain phrasing for a category added to the catalogue without its own templates."""
    words = spec.keywords or (spec.name,)
    return Topic(
        theme=words[0],
        titles=(f"{spec.name}问题", "{c}" + words[0] + "问题"),
        contents=tuple(f"{{c}}附近{w}的问题{{t}}一直没有解决，影响很大。" for w in words),
        requests=("请相关部门核实处理。",),
        asides=(f"还有{words[0]}的问题。",),
    )


def _colloquial(rng: random.Random, text: str) -> str:
    """Callers seldom use the catalogue's words: swap some for everyday ones."""
    for word, others in COLLOQUIAL.items():
        if word in text and rng.random() < 0.4:
            text = text.replace(word, rng.choice(others))
    return text


def _arrival_slots(start: datetime, end: datetime) -> tuple[list[datetime], list[float]]:
    """Local hour starts between start and end with their arrival weights (cumulative)."""
    hour = start.astimezone(CITY_TZ).replace(minute=0, second=0, microsecond=0)
    slots: list[datetime] = []
    cumulative: list[float] = []
    total = 0.0
    while hour < end:
        covered = min(hour + timedelta(hours=1), end) - max(hour, start)
        share = covered.total_seconds() / 3600
        if share > 0:
            total += _HOUR_WEIGHTS[hour.hour] * _DAY_WEIGHTS[hour.weekday()] * share
            slots.append(hour)
            cumulative.append(total)
        hour = (hour.astimezone(UTC) + timedelta(hours=1)).astimezone(CITY_TZ)
    return slots, cumulative


def _arrival(rng: random.Random, slots: list[datetime], cum: list[float], lo: datetime,
             hi: datetime) -> datetime:  # fmt: skip
    hour = rng.choices(slots, cum_weights=cum)[0]
    moment = hour + timedelta(seconds=rng.uniform(0, 3600))
    return min(max(moment, lo), hi - timedelta(microseconds=1)).astimezone(UTC)


def _content(
    rng: random.Random, spec: CategorySpec, topic: Topic, slots: _Slots, channel: str
) -> tuple[str, str]:
    """Title and content of one ordinary (not surge) order."""
    sentences = [rng.choice(topic.contents)]
    request = rng.choice(topic.requests if rng.random() < 0.7 else GENERIC_REQUESTS)
    borderline = [text for text, codes in BORDERLINE if spec.code in codes]
    if borderline and rng.random() < 0.08:
        # A matter on the line between two categories: the agent's pick is the label.
        sentences = [rng.choice(borderline)]
        request = rng.choice(GENERIC_REQUESTS)
    elif rng.random() < 0.35:  # callers often raise a second, related point
        second = rng.choice(topic.contents)
        if second != sentences[0]:
            sentences.append(second)
    neighbours = [n for n in NEIGHBOURS.get(spec.code, ()) if n in TOPICS]
    if neighbours and rng.random() < 0.35:
        aside = rng.choice(TOPICS[rng.choice(neighbours)].asides)
        lead = rng.choice(("另外", "还有，", "而且", ""))
        sentences.insert(rng.randint(1, len(sentences)), lead + aside)
    sentences += rng.sample(DETAILS, k=rng.choices((0, 1, 2), weights=(50, 35, 15))[0])
    if channel == Channel.PHONE and rng.random() < 0.6:  # the agent's note
        text = rng.choice(AGENT_OPENINGS) + "".join(sentences) + "诉求：" + request
    else:
        text = rng.choice(CITIZEN_OPENINGS) + "".join(sentences) + request
    text = _colloquial(rng, text.format_map(slots))
    if len(text) < 30:
        text += DETAILS[0].format_map(slots)
    if len(text) > 300:
        text = text[:300].rsplit("。", 1)[0] + "。"

    # Agents title an order from a stock phrase, the caller's first words, or the category.
    first_clause = re.split("[，。？！]", sentences[0].format_map(slots))[0]
    draw = rng.random()
    if (draw < 0.3 or request in GENERIC_REQUESTS) and 6 <= len(first_clause) <= 30:
        title = first_clause
    elif draw < 0.85:
        title = rng.choice(topic.titles).format_map(slots)
    else:
        title = rng.choice(("{d}{name}问题", "关于{name}的诉求", "{name}")).format(
            d=slots["d"], name=spec.name
        )
    return title[:40], text


def _order(rng: random.Random, spec: CategorySpec, created_at: datetime, district: str,
           *, theme: str | None = None, compound: str | None = None) -> GeneratedOrder:  # fmt: skip
    topic = TOPICS.get(spec.code) or _fallback_topic(spec)
    lat0, long0, streets = DISTRICTS[district]
    street = rng.choice(streets)
    slots = _Slots(rng, district, street, compound or _compound(rng))
    channel = rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS)[0]
    if theme is None:
        title, content = _content(rng, spec, topic, slots, channel)
    else:
        slots["theme"] = theme
        title = "{c}{theme}".format_map(slots)
        content = (rng.choice(SURGE_CONTENTS) + rng.choice(topic.requests)).format_map(slots)
    default_type = OrderType(spec.order_type)
    order_type = default_type
    if rng.random() < 0.2:
        order_type = rng.choice(_OTHER_TYPES[default_type])
    urgent = rng.random() < _URGENT_SHARE.get(spec.code, 0.035)
    email = None
    if channel == Channel.EMAIL or (channel != Channel.PHONE and rng.random() < 0.3):
        email = f"{rng.randint(10_000_000, 2_999_999_999)}@" + rng.choice(
            ("qq.com", "163.com", "126.com", "foxmail.com")
        )
    return GeneratedOrder(
        created_at=created_at,
        channel=str(channel),
        order_type=str(order_type),
        urgency=str(Urgency.URGENT if urgent else Urgency.NORMAL),
        title=title[:40],
        content=content,
        category_code=spec.code,
        department_code=spec.department,
        district=district,
        address=f"{street}{rng.randint(1, 399)}号{slots['c']}",
        caller_name=_name(rng),
        caller_phone=_phone(rng),
        caller_email=email,
        confidential=rng.random() < 0.05,
        lat=round(lat0 + rng.uniform(-0.02, 0.02), 6),
        long=round(long0 + rng.uniform(-0.02, 0.02), 6),
        theme=theme,
    )


def generate_orders(
    *,
    seed: int,
    count: int,
    start: datetime,
    end: datetime,
    surges: Sequence[Surge] = (),
) -> list[GeneratedOrder]:
    """``count`` orders arriving between ``start`` and ``end`` plus every surge's extra
    orders, sorted by arrival. The same arguments always give the same orders."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if not start < end:
        raise ValueError("start must be before end")
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)
    catalogue = load_catalogue()
    specs = catalogue.categories
    weights = [CATEGORY_WEIGHTS.get(s.code, 3) for s in specs]
    districts = list(DISTRICTS)
    slots, cum = _arrival_slots(start, end)
    orders = []
    for _ in range(count):
        spec = rng.choices(specs, weights=weights)[0]
        district = rng.choices(districts, weights=_DISTRICT_WEIGHTS)[0]
        orders.append(_order(rng, spec, _arrival(rng, slots, cum, start, end), district))
    for surge in surges:
        # A surge has its own random stream, so adding one leaves the base orders alone.
        srng = random.Random(f"{seed}:{surge.day}:{surge.category_code}:{surge.theme}")
        spec = catalogue.category(surge.category_code)
        district = surge.district or srng.choices(districts, weights=_DISTRICT_WEIGHTS)[0]
        theme = surge.theme or (TOPICS.get(spec.code) or _fallback_topic(spec)).theme
        compound = _compound(srng)
        day_start = datetime.combine(surge.day, time(7), CITY_TZ)
        day_slots, day_cum = _arrival_slots(day_start, day_start + timedelta(hours=16))
        for _ in range(surge.extra):
            at = _arrival(srng, day_slots, day_cum, day_start, day_start + timedelta(hours=16))
            orders.append(_order(srng, spec, at, district, theme=theme, compound=compound))
    orders.sort(key=lambda o: o.created_at)
    return orders


# ---- phrase tables -------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """How citizens talk about one category: {slots} are filled per order."""

    theme: str  # a surge's default incident
    titles: tuple[str, ...]
    contents: tuple[str, ...]
    requests: tuple[str, ...]
    asides: tuple[str, ...]  # a passing mention inside a neighbouring category's order


def _t(theme: str, titles: str, contents: str, requests: str, asides: str) -> Topic:
    """One topic from '|'-separated phrase lists (keeps the tables readable)."""

    def split(text: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in text.split("|") if p.strip())

    return Topic(theme, split(titles), split(contents), split(requests), split(asides))


TOPICS: dict[str, Topic] = {
    "CG-NOISE": _t(
        "夜间施工噪音",
        "{c}附近夜间施工噪音扰民|{s}广场舞音响声音过大|{c}楼下商铺音响扰民"
        "|反映{s}工地夜间施工|{c}{b}装修噪音问题|{s}酒吧夜间噪音扰民",
        "{c}旁边的工地{t}一直在施工，{hour}了还在打桩，根本睡不着。"
        "|{s}{shop}门口每天放音响招揽顾客，声音特别大，附近居民意见很大。"
        "|{c}楼下广场每天晚上都有人跳广场舞，音响开得很响，一直到{hour}才结束。"
        "|{c}{b}有户人家{t}装修，电钻声从早响到晚，周末也不停。"
        "|{s}有家酒吧每天营业到凌晨，唱歌喝酒吵吵闹闹，家里老人小孩都休息不好。"
        "|{s}沿线{t}夜间施工，机器轰鸣，施工方说有夜间施工许可，想核实一下。"
        "|{c}地下车库的排风机组运转声音很大，低层住户晚上被吵得睡不着。"
        "|{c}对面的KTV低音炮震得窗户都在响，{hour}以后还没停，找过他们没用。"
        "|{s}有辆收废品的车每天用大喇叭循环喊话，{hour}就开始了，非常扰民。"
        "|{c}楼上住户经常半夜拍球、拖动家具，声音很大，沟通过几次都没效果。",
        "希望相关部门管一管，还居民一个安静的休息环境。|请执法人员晚上来现场查看一下。"
        "|希望核实施工是否办理了夜间施工许可。|请依法查处噪声扰民行为。",
        "晚上也很吵，睡不好觉。|附近工地施工的噪音也很大。|楼下的音响声音也开得很大。",
    ),
    "CG-ROAD": _t(
        "路面塌陷",
        "{s}路面坑洼不平|{s}井盖破损存在安全隐患|{c}门口路灯不亮|{s}人行道砖松动破损"
        "|{s}护栏被撞坏未修复|{s}路面塌陷",
        "{s}靠近{c}的路段坑坑洼洼，一下雨就积水，电动车经过很容易摔倒。"
        "|{s}和{s2}交叉口有个井盖松动了，车子压过去哐哐响，晚上很危险。"
        "|{c}门口到{s}这一段的路灯{dur}都不亮了，晚上黑漆漆的，老人出门不方便。"
        "|{s}人行道的地砖很多都翘起来了，{t}有个老人在那里绊倒了。"
        "|{s}中间的隔离护栏被车撞倒了，{dur}了还没人来修，行人随意横穿马路。"
        "|{s}{shop}门前的路面塌陷了一个大坑，已经有车轮陷进去。"
        "|{s}的盲道被破坏得很严重，有几段直接断掉了，盲人根本没法走。"
        "|{c}附近新修的路才用了几个月，{t}已经开裂起皮，怀疑工程质量有问题。"
        "|{s}天桥的台阶有几块石板碎了，扶手也松动，上下桥的人很多，存在隐患。"
        "|{s}有个雨水井盖不见了，只用一个锥桶挡着，晚上很容易掉下去。",
        "请尽快安排人员修复。|希望先设置警示标志，再尽快维修。|麻烦相关部门来看一下。"
        "|请市政部门尽快处理，以免发生事故。",
        "门口的路面也坑坑洼洼的。|路灯也坏了好久。|路边的井盖也松了。",
    ),
    "CG-STALL": _t(
        "夜市占道",
        "{s}流动摊贩占道经营|{c}门口夜市乱摆摊|{s}商铺占用人行道经营|{s}早市占道影响通行"
        "|{shop}占道摆放桌椅",
        "{c}门口每天晚上都有很多流动摊贩摆摊，人行道全占了，行人只能走机动车道。"
        "|{s}{shop}把桌椅摆到人行道上做生意，{hour}以后更是摆到路边，影响通行。"
        "|{s}早上有个自发的早市，卖菜的把整条路都占了，车子根本开不过去。"
        "|{s}每天晚上有夜市，烧烤摊烟熏火燎，摊位一直摆到马路中间。"
        "|{c}对面的水果店把货架堆到店外两三米，城管来过一次，走了又摆出来。"
        "|{s}地铁口有很多卖小吃的三轮车，早晚高峰堵住出入口，很不安全。"
        "|{s}有几家汽修店长期在人行道上修车，满地油污，行人要绕着走。"
        "|{c}门口消防通道被卖东西的小商贩占了，万一有火情消防车进不来。"
        "|{s}{school}门口放学时很多小摊贩卖零食，卫生没有保障，还堵住了校门。",
        "希望城管加强巡查，规范经营秩序。|请相关部门依法处理占道经营。"
        "|能不能划定固定的摊位区域？|希望城管来现场执法。",
        "门口还有摆摊的占道经营。|路边的流动摊贩也很多。|人行道也被商铺占了。",
    ),
    "CG-GARBAGE": _t(
        "垃圾未清运",
        "{c}垃圾长时间未清运|{s}垃圾桶满溢异味大|{s}建筑垃圾乱倒|{c}垃圾分类点管理不善"
        "|{s}路边垃圾堆积",
        "{c}的垃圾{dur}没有人来清运了，垃圾桶满得溢出来，天热了臭气熏天。"
        "|{s}路边有人偷倒建筑垃圾，已经堆成一座小山，{t}又多了好几车。"
        "|{c}{b}旁边的垃圾分类投放点没人管，垃圾扔得满地都是，蚊蝇很多。"
        "|{s}{shop}门口的垃圾桶{t}一直没人清理，汤汤水水流了一地。"
        "|{s}绿化带里被人丢了很多装修垃圾和旧家具，{dur}了也没有人清走。"
        "|{c}的垃圾车每天{hour}来收垃圾，声音很大，而且沿路掉垃圾。"
        "|{s}河边的空地成了垃圾场，周边居民都往那里扔生活垃圾，夏天味道很大。"
        "|{c}的垃圾中转站就建在{b}窗户底下，臭味很重，能不能挪个位置？"
        "|{s}公共厕所旁边的垃圾堆了很久，老鼠到处跑，环境卫生太差。",
        "请环卫部门尽快安排清运。|希望加强保洁频次。|麻烦派人来清理一下。|希望查处乱倒垃圾的行为。",
        "周边垃圾也没人清运。|垃圾桶天天满溢。|楼下垃圾堆了好几天。",
    ),
    "HB-POLLUTION": _t(
        "工厂排放废气",
        "{s}饭店油烟直排扰民|{co}夜间偷排废气|{s}河道有污水直排|{c}附近工厂烟尘污染"
        "|{s}洗车店污水乱排",
        "{c}楼下的{food}没有装油烟净化设备，油烟直接往楼上排，窗户都不敢开。"
        "|{s}附近的{co}{t}晚上偷偷排放废气，气味刺鼻，闻了头晕恶心。"
        "|{s}边上的内河有个排污口一直往河里排黑水，河水发臭，鱼死了不少。"
        "|{c}旁边的工厂烟囱每天冒黑烟，阳台上晾的衣服都是一层灰。"
        "|{s}有家洗车店把污水直接排到雨水井里，路面泡沫一片。"
        "|{c}附近有家小作坊在焚烧塑料和电线，{t}浓烟滚滚，味道非常难闻。"
        "|{s}的搅拌站粉尘很大，周边居民家里天天都是灰，小孩咳嗽不断。"
        "|{co}的厂区{t}有刺激性气味飘到{c}，怀疑是在偷排化学废气。"
        "|{s}一家养殖场的粪水直接排到附近的沟渠，整片区域都是恶臭。",
        "请环保部门来检测一下，依法查处。|希望尽快查处偷排行为。|请相关部门核实是否有环评手续。",
        "空气里还有一股刺鼻的异味。|旁边饭店的油烟也很大。|附近河水也发黑发臭。",
    ),
    "ZJ-PROPERTY": _t(
        "电梯故障",
        "{c}物业不作为|{c}电梯频繁故障|{c}物业费收费不合理|{c}维修基金使用问题|{c}物业服务质量差",
        "{c}{b}的电梯{t}坏了好几次，有一次还困了人，物业一直说在等配件。"
        "|{c}物业费每平方米涨了{n}毛钱，没有开业主大会也没有公示，业主都不认可。"
        "|{c}的物业只收钱不干活，楼道几个月没人打扫，门禁坏了也不修。"
        "|{c}想动用维修基金修屋顶漏水，物业和业委会互相推诿，{dur}了没进展。"
        "|{c}物业擅自把公共绿地改成停车位出租，收益去哪了也不公开。"
        "|{c}换了新物业，老物业赖着不走，还把监控室锁了，两边吵得不可开交。"
        "|{c}{b}消防栓里的水枪都不见了，灭火器也过期了，跟物业反映了没人管。"
        "|{c}的物业保安态度很差，{t}还和业主发生了冲突，希望管一管。"
        "|{c}物业乱收停车费，外来车辆随便进，业主自己反而没有车位停。"
        "|{c}业委会选举过程不公开，物业在里面插手，业主对结果意见很大。",
        "希望住建部门督促物业整改。|请相关部门监督物业公司履行合同。|希望有关部门介入协调。",
        "跟小区物业反映过，没人理。|物业也不管。|电梯也经常坏。",
    ),
    "ZJ-CONSTRUCTION": _t(
        "延期交房",
        "{c}开发商逾期交房|{c}新房漏水墙体开裂|{s}违建问题|{c}交房质量问题|{s}工地安全隐患",
        "我在{c}买的房子合同约定{t}交房，到现在已经逾期{dur}了，开发商一直拖着。"
        "|{c}交房不到一年，{b}好几户卫生间漏水、墙体开裂，开发商不肯维修。"
        "|{c}顶楼有业主私自加建了一层阳光房，属于违建，影响楼下采光和安全。"
        "|{s}的工地围挡倒了一大片，塔吊下面没有任何防护，行人从下面走很危险。"
        "|{c}交房时发现实际面积比合同少了{n}个平方，开发商说在误差范围内。"
        "|{c}交房时配套的幼儿园和会所都没有建，和开发商宣传的不一样。"
        "|{c}{b}外墙瓷砖{t}掉下来好几块，差点砸到人，开发商和物业互相推责任。"
        "|{s}有一栋老房子在私自加盖楼层，没有任何手续，担心房子结构出问题。"
        "|{c}新房的窗户密封不好，一下雨就渗水，开发商派人修了三次还是漏。",
        "请住建部门督促开发商履行合同。|希望相关部门查处违建。|请派人来检查工程质量。",
        "开发商交房时就有漏水问题。|旁边还有个工地在施工。|楼顶还有人搭了违建。",
    ),
    "JT-BUS": _t(
        "公交线路调整",
        "建议优化{bus}公交线路|{bus}公交班次太少|{bus}公交司机服务态度差"
        "|建议在{s}增设公交站台|{s}地铁站出口问题",
        "{bus}公交车早高峰班次太少，在{s}站等了{mins}分钟都没来一辆，建议加密班次。"
        "|{bus}的司机{t}开车特别猛，急刹车好几次，车上老人差点摔倒。"
        "|{c}附近几千户居民没有一条公交线路经过，最近的站台要走二十分钟。"
        "|{bus}调整线路后不再经过{s}，上班族和学生出行很不方便，希望恢复原线路。"
        "|{s}公交站台的候车亭被拆了{dur}一直没有重建，下雨天只能站在雨里等车。"
        "|地铁{n}号线{s}站只开了一个出口，早晚高峰人挤人，建议尽快开通其他出口。"
        "|{bus}末班车太早了，晚上九点以后就没车了，下夜班的人回不了家。"
        "|{bus}公交车到站不停，司机直接开过去了，站台上好几个人都在招手。"
        "|建议在{s}和{s2}路口增设一个公交站，现在两个站之间距离太远。",
        "希望交通部门研究一下。|请公交公司核实处理。|希望能采纳这个建议。",
        "附近公交站台也离得很远。|坐公交很不方便。|公交班次也太少。",
    ),
    "JT-TAXI": _t(
        "出租车拒载",
        "出租车司机拒载|网约车绕路多收费|出租车不打表|{s}出租车议价|网约车司机态度恶劣",
        "{t}在{s}打了一辆出租车，车牌尾号{plate}，司机听说要去{d}直接拒载。"
        "|用手机叫了网约车从{c}到{s}，平时几十块，这次司机绕路收了我{amt}元。"
        "|在火车站坐出租车，司机不肯打表，一口价要{amt}元，明显宰客。"
        "|{t}坐的网约车司机一路打电话，我提醒他注意安全，他就赶我下车。"
        "|{s}晚上有很多出租车扎堆议价，不打表，去哪都要多加钱。"
        "|坐出租车把手机落在车上了，车牌尾号是{plate}，希望帮忙找一下司机。"
        "|网约车平台显示的车牌和实际来接我的车不一致，司机也不是同一个人。"
        "|出租车司机在车上抽烟，我说了他还不高兴，后来故意把我放在半路。"
        "|在机场排队坐出租车，司机嫌路程太近拒绝载客，还说排了几个小时的队。",
        "请运管部门查处。|希望核实后对司机进行处理。|要求退还多收的车费。",
        "叫出租车也经常被拒载。|网约车也经常绕路。",
    ),
    "JY-SCHOOL": _t(
        "学区划分调整",
        "咨询{school}入学条件|{c}学区划分问题|{school}课后服务收费|校外培训机构跑路"
        "|孩子入学学位问题",
        "孩子今年要上一年级，我们在{c}有房但户口不在这里，能不能在{school}入学？"
        "|{c}今年学区划分突然调整，原来对口{school}，现在改成很远的学校。"
        "|{school}的课后服务每个月收{amt}元，是自愿的吗？老师说不参加就要自己接。"
        "|给孩子在{s}的一家培训机构报了课，交了{amt}元，{t}机构突然关门了。"
        "|我们是随迁子女，积分入学需要准备哪些材料？在哪里可以查询学位情况？"
        "|{school}{t}要求家长在指定的地方买校服和教辅，价格偏高，不知道合不合规。"
        "|孩子在{school}被同学欺负，和班主任反映了，学校处理得很敷衍。"
        "|{school}下午三点半就放学，双职工家庭根本接不了孩子。"
        "|想咨询一下小升初的招生政策，{d}今年的学位是不是比较紧张？"
        "|{school}食堂的饭菜质量很差，孩子回家说吃不饱，希望加强管理。",
        "希望教育局给个答复。|请相关部门核实处理。|麻烦告知具体的政策。",
        "孩子上学的学校也要调整。|还要考虑孩子入学的问题。",
    ),
    "WJ-MEDICAL": _t(
        "医院挂号难",
        "{hosp}挂号难|{hosp}医生服务态度差|投诉{hosp}乱收费|{hosp}就诊等候时间过长"
        "|咨询{vaccine}接种",
        "{hosp}的号太难挂了，网上一放号几秒钟就没了，现场也挂不到，怀疑有号贩子。"
        "|{t}带孩子去{hosp}{dept}看病，医生态度很差，问两句就不耐烦。"
        "|我母亲在{hosp}住院，出院时发现费用清单里有很多没有用过的药和检查。"
        "|在{hosp}{dept}从早上八点排到中午十二点才看上，看病只有{n}分钟。"
        "|想问一下孩子的{vaccine}在哪里可以打，社区卫生服务中心说没有苗。"
        "|家里老人在{hosp}做完手术后出现感染，医院说是正常并发症。"
        "|{hosp}的停车场{t}根本进不去，急诊病人都送不进来，希望改善一下。"
        "|社区的家庭医生签约后从来没有联系过我们，签约有什么用？"
        "|{hosp}的医生在门诊推荐我们去外面药店买药，说医院没有这个药。",
        "希望卫健委调查处理。|请相关部门核实并给个说法。|希望医院改进服务。",
        "去医院看病也很麻烦。|在医院挂号也挂不上。",
    ),
    "SW-WATER": _t(
        "停水",
        "{c}突然停水|{c}水压太低|{c}自来水发黄|{s}水管爆管|{c}水费异常",
        "{c}从{t}开始停水，事先没有任何通知，到现在还没来水，家里没水用。"
        "|{c}{b}高层的水压一直很低，{n}楼以上白天基本没水，洗澡都成问题。"
        "|{c}的自来水{t}出来是黄色的，还有一股铁锈味，不知道还能不能喝。"
        "|{s}靠近{c}的地方水管爆了，水一直往外冒，路面都淹了，请赶快关阀门。"
        "|我家{t}的水费突然比平时多了好几倍，家里就两个人，怀疑水表有问题。"
        "|{c}二次供水水箱{dur}没清洗过了，水里有杂质，物业说归自来水公司管。"
        "|{c}的水表在楼道里被冻裂了，一直在漏水，请自来水公司来换一下。"
        "|{c}每天晚上八点以后就没水，第二天早上才恢复，已经持续{dur}了。"
        "|新房想开户装水表，不知道需要带什么材料去自来水营业厅办理。",
        "希望尽快恢复供水。|请自来水公司派人检测水质。|希望查明原因并给出处理时间。",
        "前几天还停水了。|家里水压也不稳定。",
    ),
    "GD-POWER": _t(
        "停电",
        "{c}频繁停电|{c}电压不稳|{c}电费异常|{s}变压器问题|{c}突然停电",
        "{c}{t}突然停电了，已经{n}个小时，冰箱里的东西都坏了，也没有任何通知。"
        "|{c}{b}的电压一直不稳定，晚上灯一闪一闪的，空调都启动不了。"
        "|我家这个月的电费比上个月多了{amt}元，用电习惯没变，怀疑电表有问题。"
        "|{c}家里老是跳闸，电工说是进户线的问题，要找供电公司处理。"
        "|{s}路边的变压器嗡嗡响，有时候还冒火花，离{c}很近，担心有危险。"
        "|{c}{dur}已经停了好几次电了，每次都是晚上，小孩写作业都没法写。"
        "|{c}的电动车充电桩{t}一直用不了，显示欠费，可我们刚交过钱。"
        "|{s}的电线被大树压断了，耷拉在路边，行人很容易碰到，非常危险。"
        "|想问一下新装修的房子要办理增容，需要去哪个供电营业厅办？",
        "请供电公司尽快抢修。|希望查清原因，减少停电。|请派人来检查线路。",
        "还老是停电。|电压也不稳。",
    ),
    "RQ-GAS": _t(
        "燃气泄漏",
        "{c}疑似燃气泄漏|{c}开通燃气问题|燃气费收费异常|{c}燃气管道改造|燃气公司服务问题",
        "{c}{b}楼道里{t}有一股很浓的煤气味，不知道是哪家漏气了，大家都很担心。"
        "|{c}交房{dur}了还没开通天然气，燃气公司说管道没验收，只能用电磁炉。"
        "|我家这个月燃气费{amt}元，平时只有几十块，燃气表读数明显不对。"
        "|燃气公司上门安检的人说我家燃气灶不合格，要买他们指定的产品，很贵。"
        "|{c}老旧小区燃气管道改造，施工队把管子装在窗户外面，很不安全。"
        "|家里燃气热水器打不着火，燃气表显示有气，请派人来检查一下。"
        "|{c}燃气公司收取开户费{amt}元，请问这个费用是合理的吗？"
        "|燃气卡充值后插进表里没有反应，去营业厅排了很久的队也没解决。"
        "|{s}路边施工把燃气管道挖破了，现在满街都是气味，请赶快派人处理。",
        "请燃气公司立即派人来检查。|希望尽快开通燃气。|请核实收费是否合理。",
        "楼道里还有燃气味。|家里的燃气也还没开通。",
    ),
    "RS-WAGE": _t(
        "工地欠薪",
        "{co}拖欠工资|农民工讨薪|{co}拖欠加班费|{co}不签劳动合同|{c}工地欠薪",
        "我在{co}做{job}，公司已经拖欠了我{n}个月的工资共{amt}元，老板一直说没钱。"
        "|我们是在{c}工地干活的农民工，{people}多个人的工钱被包工头拖欠了。"
        "|{co}每天让我们加班到晚上十点，加班费一分都不给，说工资里已经包含了。"
        "|我在{co}上了{dur}的班，公司一直不跟我签劳动合同，现在说辞退就辞退。"
        "|{co}{t}突然宣布解散，员工的工资和补偿金都没结清，老板也找不到了。"
        "|我从{co}离职已经{dur}了，公司还扣着我最后一个月的工资{amt}元不给。"
        "|我在{food}当{job}，说好的月薪{amt}元，实际只发了一半，说是试用期。"
        "|{co}以各种理由扣我们工资，迟到一次扣两百，请病假也扣全勤，这合法吗？"
        "|装修队老板拖欠我们{n}个师傅的工钱，一共{amt}元，电话也不接了。",
        "希望劳动监察部门帮我们讨回工资。|请人社部门介入处理。|希望依法维护我们的权益。",
        "公司还拖欠工资。|工资也一直没发。",
    ),
    "RS-SOCIAL": _t(
        "社保卡补办",
        "咨询养老保险缴费|社保卡补办问题|失业金申领咨询|社保缴费基数问题|咨询退休手续",
        "我是灵活就业人员，想问一下养老保险每个月最低要缴多少钱，在哪里办理？"
        "|我的社保卡{t}丢了，想问补办要带什么材料，多久能拿到新卡？"
        "|我{t}被公司辞退了，缴了{n}年社保，请问可以领多少个月的失业金？"
        "|公司按最低基数给我们缴社保，和实际工资差了很多，这样合规吗？"
        "|我明年就满六十岁了，办理退休需要准备哪些材料，养老金大概能领多少？"
        "|我之前在外省缴了{n}年养老保险，现在回来工作，社保关系怎么转过来？"
        "|公司{dur}没有给我缴社保了，但每个月工资条上还是扣了社保的钱。"
        "|在网上社保服务平台查不到我{t}的缴费记录，是不是公司漏缴了？"
        "|请问退休人员的养老金今年什么时候调整，调整的标准是什么？",
        "麻烦告知具体的办理流程。|请社保部门核实一下。|希望尽快答复。",
        "社保也没给我缴。|还想问一下社保的事。",
    ),
    "YB-MEDINS": _t(
        "医保系统故障",
        "咨询异地就医备案|医保报销比例问题|医保卡无法使用|门诊统筹报销咨询|住院费用医保报销",
        "我父亲要去外地的大医院看病，想问异地就医备案在网上怎么办，报销比例是多少？"
        "|我在{hosp}住院花了{amt}元，医保只报了一小部分，想问报销比例怎么算的。"
        "|{t}去药店买药，医保卡刷不了，说是卡被冻结了，我一直有正常缴费。"
        "|门诊统筹每年的报销额度是多少？在社区医院看病和大医院报销一样吗？"
        "|孩子的城乡居民医保{t}没来得及缴，现在补缴还来得及吗？"
        "|我在外地急诊住院没有提前备案，回来后手工报销需要准备哪些材料？"
        "|医保个人账户的钱可以给家里人用吗？怎么绑定家庭共济？"
        "|{hosp}说有些药在医保目录外要自费，我想查一下医保目录。"
        "|慢性病门诊特殊病种怎么申请？高血压和糖尿病能不能纳入？",
        "麻烦告知办理流程。|希望医保局给个解释。|请相关部门核实处理。",
        "看病的医保报销也有问题。|医保卡也用不了。",
    ),
    "SJ-CONSUMER": _t(
        "健身房跑路",
        "{shop}预付卡无法退款|投诉{shop}销售过期食品|{s}健身房关门跑路|网购假货维权|{shop}虚假宣传",
        "我在{s}的{shop}办了一张{amt}元的预付卡，{t}店突然关门了，钱还没用完。"
        "|在{store}买的牛奶回家发现已经过期{n}天了，商家只肯退钱不肯赔偿。"
        "|{s}的健身房{t}突然停业了，我们几十个会员交的年费都退不回来。"
        "|在{prefix}手机店买了一部手机，用了{n}天就坏了，商家说是人为损坏不给退换。"
        "|{store}宣传买一送一，结账的时候却按原价收费，明显是价格欺诈。"
        "|{c}附近的{store}缺斤少两，买一斤只有八两，其他顾客也遇到过。"
        "|在{food}吃饭吃出了异物，吃完后还拉肚子，商家态度还很恶劣。"
        "|在美容店办卡时说好了可以退，现在要退款商家说要扣{n}成手续费。"
        "|装修公司收了{amt}元定金之后一直不开工，要求退定金也不退。",
        "希望市场监管部门帮忙维权。|要求商家退款并赔偿。|请依法查处商家。",
        "商家也不给退款。|买的东西还是过期的。",
    ),
    "GA-HUKOU": _t(
        "身份证办理",
        "咨询落户条件|身份证补办咨询|居住证办理问题|户口迁移咨询|新生儿落户咨询",
        "我在本市买了房子，想把户口迁过来，请问落户需要哪些条件和材料？"
        "|我的身份证{t}丢了，马上要出差坐高铁，请问临时身份证在哪里办？"
        "|外地人在这边上班{n}年了，想办居住证，需要社保和租房合同吗？"
        "|孩子刚出生，爸爸是外地户口，妈妈是本地户口，新生儿落户随谁比较好？"
        "|去派出所办户口迁移，窗口说材料不全，来回跑了{n}趟，每次说的都不一样。"
        "|身份证快过期了，人在外地能不能异地换领？需要多长时间？"
        "|家里老人去世后要注销户口，需要带哪些证明去哪里办理？"
        "|{d}派出所户籍窗口每天只放几十个号，早上七点去排队都轮不上。"
        "|我的户籍信息里出生日期登记错了，想更正需要哪些证明材料？",
        "麻烦告知办理流程和材料。|希望派出所改进服务。|请尽快答复。",
        "还要去派出所迁户口。|身份证也还没办好。",
    ),
    "GJJ-FUND": _t(
        "公积金系统升级",
        "公积金提取咨询|公积金贷款问题|单位未缴存公积金|公积金异地转移|咨询公积金租房提取",
        "我想用公积金付首付，请问买新房可以提取公积金吗？需要带什么材料？"
        "|我在{c}买了二手房，申请公积金贷款{dur}了还没批下来，想问进度。"
        "|我在{co}上班，公司一直没有给员工缴存公积金，这个合法吗？"
        "|我从外地调回来工作，之前缴的公积金怎么转移到这边？"
        "|租房可以提取公积金吗？每年能提取多少？在网上可以办吗？"
        "|公积金贷款最高可以贷多少？我和爱人都缴了{n}年，月缴存额是{amt}元。"
        "|我已经离职了，公积金账户封存了，现在可以一次性提取吗？"
        "|我想提前还一部分公积金贷款，需要去哪里办理，有没有违约金？"
        "|公司给我们的公积金缴存比例只有百分之五，工资条上却写着百分之十二。",
        "麻烦告知办理流程。|请公积金中心核实处理。|希望尽快答复。",
        "还打算用公积金贷款。|公积金也要提取出来。",
    ),
    "MZ-AID": _t(
        "养老院服务",
        "咨询低保申请条件|高龄补贴发放问题|{c}附近养老院问题|困难家庭救助申请|残疾人补贴咨询",
        "我家老人今年{age}岁了，听说有高龄补贴，但是一直没有收到，想问怎么申请。"
        "|我丈夫生病失去劳动能力，家里就靠我打零工，请问能不能申请低保？"
        "|{c}附近的养老院护工对老人态度很差，{t}去看望发现老人身上有淤青。"
        "|我有残疾证，想问每个月的残疾人两项补贴是多少，怎么领取？"
        "|我们是困难家庭，孩子上大学的学费交不起，有没有临时救助可以申请？"
        "|社区的老年食堂{t}突然不开了，很多独居老人吃饭成了问题。"
        "|{d}有没有公办养老院？排队要多久？收费标准是什么？"
        "|我家的低保{t}被取消了，社区说是因为家里有车，但那辆车早就报废了。"
        "|楼下住着一位{age}岁的独居老人，没人照顾，有时候好几天都不出门。",
        "希望民政部门帮帮我们。|请相关部门核实情况。|麻烦告知申请流程。",
        "家里还有老人需要照顾。|家庭本身也比较困难。",
    ),
    "BDC-REG": _t(
        "房产证迟迟未办",
        "{c}房产证迟迟未办理|不动产过户咨询|抵押登记问题|咨询产权变更|{c}不动产证办理问题",
        "{c}交房已经{dur}了，房产证到现在还没办下来，开发商说在等审批。"
        "|我想把房子过户给孩子，是赠与好还是买卖好？需要交哪些税费？"
        "|房贷已经还清了，银行给了结清证明，注销抵押登记要去哪里办？"
        "|父母去世后留下一套房子，兄弟姐妹继承过户需要准备哪些材料？"
        "|二手房买卖已经网签了，去不动产登记中心办理过户，预约要等{n}天。"
        "|结婚后想在产权证上加上配偶的名字，请问怎么办理，要不要交契税？"
        "|{c}是拆迁安置房，安置了{n}年还办不了不动产权证，想知道卡在哪里。"
        "|登记中心窗口说我的材料缺一份证明，可是网上公布的清单里没有这一项。"
        "|想查询一下我名下有几套房产，可以在网上打印不动产查询证明吗？",
        "请不动产登记中心核实处理。|麻烦告知办理流程。|希望尽快给我们办理。",
        "房产证也还没办下来。|还涉及房子过户的事。",
    ),
}

# Matters on the line between two categories; centers file them under either.
BORDERLINE: tuple[tuple[str, tuple[str, str]], ...] = (
    ("{c}的二次供水水箱{dur}没清洗，水里有杂质，物业和自来水公司互相推。",
     ("SW-WATER", "ZJ-PROPERTY")),
    ("{c}地下室的水管漏水，物业说是自来水公司的管子，自来水公司说是小区内部的。",
     ("ZJ-PROPERTY", "SW-WATER")),
    ("孩子在{s}的培训机构报了课，机构突然关门，交的{amt}元学费退不回来。",
     ("JY-SCHOOL", "SJ-CONSUMER")),
    ("{c}交房{dur}了还办不了房产证，开发商说是配套没有验收。", ("BDC-REG", "ZJ-CONSTRUCTION")),
    ("公司{dur}没给我们缴社保了，工资也拖了两个月没发。", ("RS-WAGE", "RS-SOCIAL")),
    ("在{hosp}住院，出院结算时医保报的比说好的少很多，医院也解释不清。",
     ("YB-MEDINS", "WJ-MEDICAL")),
    ("{s}的饭店晚上在门口摆桌子烧烤，油烟很大，一直闹到{hour}。", ("CG-STALL", "HB-POLLUTION")),
    ("{c}旁边的工地夜里拉渣土，车开过去轰隆隆的，路上掉得都是土。",
     ("CG-NOISE", "CG-GARBAGE")),
    ("{c}楼道里的电表箱烧了，整栋楼没电，物业说要等供电公司来。", ("GD-POWER", "ZJ-PROPERTY")),
    ("网约车司机多收了我{amt}元，比平台显示的多，平台客服也不处理。",
     ("JT-TAXI", "SJ-CONSUMER")),
    ("{s}路边垃圾桶旁边污水横流，臭气熏天，苍蝇乱飞。", ("CG-GARBAGE", "HB-POLLUTION")),
    ("想问{school}的学位，我们家户口是{t}才迁进来的，年限够不够？", ("JY-SCHOOL", "GA-HUKOU")),
    ("老人{age}岁了，住院的钱报销以后还是负担不起，有没有什么救助？", ("MZ-AID", "YB-MEDINS")),
    ("我在{co}上班，单位一直没给缴公积金，也没有缴社保。", ("GJJ-FUND", "RS-SOCIAL")),
    ("{s}的路面被挖开埋燃气管道，{dur}了也没回填，晚上很危险。", ("CG-ROAD", "RQ-GAS")),
    ("{s}有家小饭馆卫生很差，厨房的脏水直接排到门口。", ("SJ-CONSUMER", "HB-POLLUTION")),
    ("{c}门口的马路晚上有人飙车，轰油门的声音很大。", ("CG-NOISE", "JT-BUS")),
    ("我家老人办了退休，可是医保待遇一直没转过来。", ("RS-SOCIAL", "YB-MEDINS")),
    ("{c}楼下的商铺私自改成了饭店，天天排油烟，晚上还很吵。", ("HB-POLLUTION", "CG-NOISE")),
    ("我们{c}的公共部位改造，开发商留下的问题一直没人修。", ("ZJ-PROPERTY", "ZJ-CONSTRUCTION")),
)  # fmt: skip
# Everyday words for the catalogue's terms.
COLLOQUIAL: dict[str, tuple[str, ...]] = {
    "停水": ("没水", "断水"), "停电": ("没电", "断电"), "噪音": ("噪声", "动静"),
    "物业": ("物管",), "出租车": ("的士", "出租"), "网约车": ("滴滴", "快车"),
    "公交车": ("公交", "巴士"), "燃气": ("天然气", "煤气"), "户口": ("户籍",),
    "社保": ("社会保险",), "医保": ("医疗保险",), "工资": ("工钱", "薪水"),
    "开发商": ("开发公司", "地产商"), "投诉": ("反映",),
    "拖欠": ("欠着", "拖着"), "报销": ("报账", "报"), "退款": ("退钱",),
    "违建": ("违章建筑", "乱搭乱建"), "油烟": ("烟气", "油烟味"), "漏水": ("渗水",),
    "养老院": ("敬老院",),
}  # fmt: skip
# Which categories' matters come up together in one call.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "CG-NOISE": ("ZJ-CONSTRUCTION", "CG-STALL", "HB-POLLUTION", "ZJ-PROPERTY"),
    "CG-ROAD": ("CG-GARBAGE", "JT-BUS", "SW-WATER"),
    "CG-STALL": ("CG-NOISE", "CG-GARBAGE", "SJ-CONSUMER"),
    "CG-GARBAGE": ("HB-POLLUTION", "ZJ-PROPERTY", "CG-STALL"),
    "HB-POLLUTION": ("CG-GARBAGE", "CG-NOISE"),
    "ZJ-PROPERTY": ("SW-WATER", "GD-POWER", "CG-GARBAGE", "ZJ-CONSTRUCTION"),
    "ZJ-CONSTRUCTION": ("CG-NOISE", "ZJ-PROPERTY", "BDC-REG", "RS-WAGE"),
    "JT-BUS": ("JT-TAXI", "CG-ROAD"),
    "JT-TAXI": ("JT-BUS", "SJ-CONSUMER"),
    "JY-SCHOOL": ("GA-HUKOU", "BDC-REG", "SJ-CONSUMER"),
    "WJ-MEDICAL": ("YB-MEDINS",),
    "SW-WATER": ("ZJ-PROPERTY", "GD-POWER"),
    "GD-POWER": ("ZJ-PROPERTY", "SW-WATER"),
    "RQ-GAS": ("ZJ-PROPERTY", "SJ-CONSUMER"),
    "RS-WAGE": ("RS-SOCIAL", "ZJ-CONSTRUCTION"),
    "RS-SOCIAL": ("YB-MEDINS", "RS-WAGE", "GA-HUKOU"),
    "YB-MEDINS": ("WJ-MEDICAL", "RS-SOCIAL"),
    "SJ-CONSUMER": ("CG-STALL", "WJ-MEDICAL"),
    "GA-HUKOU": ("JY-SCHOOL", "BDC-REG", "RS-SOCIAL"),
    "GJJ-FUND": ("BDC-REG", "RS-SOCIAL"),
    "MZ-AID": ("RS-SOCIAL", "YB-MEDINS"),
    "BDC-REG": ("GJJ-FUND", "ZJ-CONSTRUCTION", "GA-HUKOU"),
}

CITIZEN_OPENINGS = (
    "", "", "您好，", "你好，", "您好！", "我想反映一下，", "我要投诉，", "请问一下，",
    "我想咨询一下，", "喂，你好，我是{d}的，", "我是{c}的业主，", "我住在{s}附近，",
    "麻烦问一下，", "我想反映个情况：", "你好，我反映个问题，",
)  # fmt: skip
AGENT_OPENINGS = (
    "市民来电反映：", "来电人反映：", "市民来电称：", "来电人称：", "市民反映：",
    "市民来电咨询：", "来电反映：",
)  # fmt: skip
DETAILS = (
    "已经打过好几次电话了。", "这个问题反映过不止一次了。", "附近很多居民都有意见。",
    "我是{c}{b}的住户。", "联系电话就是来电号码。", "可以随时联系我。",
    "之前找过社区，社区说管不了。", "希望这次能有个结果。", "具体位置在{s}附近。",
    "请不要透露我的个人信息。", "我们家里有老人和小孩。", "在网上留言过，一直没人回复。",
    "事情从{t}开始，一直没人处理。", "现场照片我可以提供。", "如果还不解决，我们会继续反映。",
)  # fmt: skip
GENERIC_REQUESTS = (
    "请相关部门核实处理。", "希望尽快解决。", "望尽快答复。", "麻烦帮忙协调一下，谢谢。",
    "希望有关部门重视。", "请尽快处理。",
)  # fmt: skip
# A surge: many callers about one incident ({theme}) at one compound, in near-identical words.
SURGE_CONTENTS = (
    "{c}从{t}开始出现{theme}的情况，到现在还没有解决，也没有看到任何通知。",
    "反映{c}{theme}的问题，小区里很多住户都在打电话。",
    "我是{c}的住户，{theme}已经好几个小时了，家里老人小孩都受影响。",
    "{c}这边{theme}，邻居们都在群里说，希望赶紧派人来看看。",
    "{d}{c}{theme}，请问什么时候能解决？",
)
