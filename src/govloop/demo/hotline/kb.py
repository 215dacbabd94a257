"""Knowledge-base articles for the demo and the benchmark, in Simplified Chinese.

Articles are written from a small table of matters (事项): how-to answers, materials,
office hours, fees and policies for services, and scope, handling time and rules for
complaints. The demo gets ≈150 city-wide articles published through the review workflow;
they send callers to the demo hall and quote its name, address, phone and opening hours from
:data:`govloop.demo.city.HALL`, the facts the hall seed configures the hall with. The
benchmark gets tens of thousands of street- and town-level variants (matter × scenario ×
aspect × place, the places being the demo city's 街道 and 乡镇), written in bulk with
SQLAlchemy Core.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, now
from govloop.core.models import User
from govloop.demo import city
from govloop.demo.hall import seed as hall_seed
from govloop.hotline.kb import service as kb
from govloop.hotline.kb.search import optimize_index, write_index
from govloop.hotline.models import ArticleStatus, HotlineCategory, KbArticle, KbArticleVersion

BATCH = 2000


@dataclass(frozen=True)
class Matter:
    name: str  # 事项 or 诉求 as the knowledge base titles it
    ask: str  # how a caller says it
    category: str | None
    office: str
    scenarios: tuple[str, ...]
    items: tuple[str, ...]  # materials to bring, or facts a caller should give
    fee: str
    days: int
    online: str
    basis: str
    rule: str
    keywords: tuple[str, ...]
    service: bool = True


def _m(*fields: Any, service: bool = True) -> Matter:
    name, ask, cat, office, scen, items, fee, days, online, basis, rule, words = fields
    return Matter(
        name, ask, cat, office, tuple(scen.split("、")), tuple(items.split("、")), fee, days,
        online, basis, rule, tuple(words.split("、")), service,
    )  # fmt: skip


APP = "本市政务服务网、“i市民”APP"
MATTERS: tuple[Matter, ...] = (
    _m("住房公积金提取", "提取公积金", "GJJ-FUND", "住房公积金管理中心", "购房、租房、离职",
       "本人身份证原件、本人银行卡、购房合同或租房备案证明、购房发票",
       "提取住房公积金不收取任何费用", 3, "“i公积金”APP、" + APP, "住房公积金管理条例",
       "职工购买、建造、翻建、大修自住住房或租房自住的，可以提取本人住房公积金账户内的存储余额",
       "公积金、提取、住房公积金"),
    _m("住房公积金贷款", "申请公积金贷款", "GJJ-FUND", "住房公积金管理中心",
       "首套房、二套房、组合贷款",
       "借款人及配偶身份证、婚姻状况证明、购房合同、首付款发票、收入证明",
       "公积金贷款不收取手续费，抵押登记费按不动产登记标准缴纳", 15, APP, "住房公积金管理条例",
       "连续足额缴存住房公积金满6个月且无未结清公积金贷款的职工，可申请住房公积金个人住房贷款",
       "公积金贷款、贷款额度、首付"),
    _m("社保卡补办", "补办社保卡", "RS-SOCIAL", "人力资源和社会保障局", "遗失、损坏、换发第三代",
       "本人身份证原件、近期免冠证件照（可现场拍摄）", "遗失补办工本费20元，损坏换卡和到期换发免费",
       1, "“掌上12333”APP、" + APP, "社会保障卡管理办法",
       "社保卡遗失后应先办理挂失，挂失后可在合作银行网点即时制卡", "社保卡、挂失、补卡"),
    _m("失业保险金申领", "领失业金", "RS-SOCIAL", "人力资源和社会保障局",
       "合同到期、单位解除、个人首次申领",
       "本人身份证、社保卡、解除或终止劳动合同证明", "申领失业保险金不收取任何费用", 5,
       "“掌上12333”APP、" + APP, "失业保险条例",
       "非因本人意愿中断就业、参保缴费满1年并已办理失业登记的，可申领失业保险金",
       "失业金、失业保险、失业登记"),
    _m("异地就医备案", "办异地就医备案", "YB-MEDINS", "医疗保障局",
       "异地长期居住、临时外出就医、异地转诊",
       "医保电子凭证或社保卡、异地居住证明或转诊证明", "备案不收取费用", 1,
       "国家医保服务平台APP、" + APP, "关于进一步做好基本医疗保险跨省异地就医直接结算工作的通知",
       "办理备案后，在备案地定点医药机构就医可直接结算，无需垫付后回参保地报销",
       "异地就医、备案、医保、直接结算"),
    _m("门诊慢特病认定", "申请慢特病", "YB-MEDINS", "医疗保障局", "高血压、糖尿病、恶性肿瘤",
       "医保电子凭证或社保卡、近一年病历和检查报告、诊断证明", "认定不收取费用", 10, APP,
       "基本医疗保险门诊慢特病管理办法",
       "经认定的慢特病患者在定点医疗机构门诊就医，费用按规定比例报销", "慢特病、门诊、报销、医保"),
    _m("新生儿落户", "给孩子上户口", "GA-HUKOU", "公安局（户政）", "随父落户、随母落户、非婚生育",
       "出生医学证明、父母双方户口簿和身份证、结婚证", "新生儿落户不收取费用", 1,
       "“公安服务”APP、" + APP, "户口登记条例",
       "婴儿出生后一个月以内，由户主、亲属或抚养人向常住地户口登记机关申报出生登记",
       "落户、户口、新生儿、出生登记"),
    _m("居住证", "办居住证", "GA-HUKOU", "公安局（户政）", "务工、就学、投靠亲属",
       "本人身份证、居住登记证明、劳动合同或就读证明、租房合同或房产证明", "首次办理居住证免费",
       15, "“公安服务”APP、" + APP, "居住证暂行条例",
       "在本市居住半年以上、有合法稳定就业或住所或连续就读的，可以申领居住证",
       "居住证、暂住证、居住登记"),
    _m("二手房过户登记", "办二手房过户", "BDC-REG", "不动产登记中心",
       "买卖过户、继承过户、赠与过户",
       "买卖双方身份证、不动产权证书、存量房买卖合同、完税凭证",
       "住宅登记费每件80元，证书工本费首本免费",
       5, "不动产“一窗办”平台、" + APP, "不动产登记暂行条例",
       "转移登记实行交易、税务、登记“一窗受理”，材料齐全的5个工作日内办结",
       "过户、不动产、房产证、转移登记"),
    _m("最低生活保障申请", "申请低保", "MZ-AID", "民政局", "城市低保、农村低保、单人保",
       "户口簿、家庭成员身份证、家庭收入和财产情况说明、授权核对经济状况的书面声明",
       "申请低保不收取任何费用", 30, APP, "社会救助暂行办法",
       "共同生活的家庭成员人均收入低于当地低保标准且财产状况符合规定的，可申请最低生活保障",
       "低保、救助、困难家庭"),
    _m("高龄津贴申领", "领高龄补贴", "MZ-AID", "民政局", "80至89周岁、90至99周岁、百岁老人",
       "老人身份证、户口簿、本人银行卡", "申领高龄津贴不收取费用", 20, APP,
       "关于建立经济困难的高龄失能等老年人补贴制度的通知",
       "本市户籍年满80周岁的老年人按月发放高龄津贴，年龄段越高标准越高",
       "高龄补贴、高龄津贴、老人"),
    _m("义务教育入学登记", "给孩子报名上学", "JY-SCHOOL", "教育局",
       "小学一年级、初中一年级、随迁子女",
       "儿童户口簿、出生医学证明、房产证明或租房备案、预防接种证", "公办学校义务教育阶段免收学费",
       20, "本市义务教育招生平台", "中华人民共和国义务教育法",
       "适龄儿童按户籍和实际居住地相对就近入学，随迁子女凭居住证按积分安排入学",
       "入学、学位、招生、报名"),
    _m("出生医学证明", "办出生证明", "WJ-MEDICAL", "卫生健康委员会", "首次签发、补发、换发",
       "父母双方身份证、住院分娩记录、结婚证（可选）", "首次签发免费，补发按规定收取工本费", 1,
       APP, "中华人民共和国母婴保健法", "出生医学证明由助产机构签发，遗失后可向原签发机构申请补发",
       "出生证明、出生医学证明、助产"),
    _m("用水过户", "办水费过户", "SW-WATER", "自来水公司", "买卖过户、租户变更、户名更正",
       "新户主身份证、不动产权证书或租赁合同、最近一期水费缴费凭证", "过户免费，需结清原户欠费", 3,
       "自来水公司微信公众号、" + APP, "城市供水条例", "用水过户须结清原户名下全部水费后办理",
       "水费、过户、自来水"),
    _m("居民用电过户", "办电费过户", "GD-POWER", "供电公司", "买卖过户、继承过户、户名更正",
       "新户主身份证、不动产权证书、原户主结清电费凭证", "过户不收取费用", 2,
       "“网上国网”APP、" + APP, "供电营业规则",
       "居民用电过户应结清原户电费，过户后新户主承担用电责任",
       "电费、过户、用电、电表"),
    _m("燃气开户", "开通燃气", "RQ-GAS", "燃气公司", "新房开户、二手房过户、恢复供气",
       "户主身份证、不动产权证书或购房合同、燃气表编号",
       "开户安装按物价部门核定标准收费，点火通气免费",
       3, "燃气公司微信公众号、" + APP, "城镇燃气管理条例",
       "开户后由燃气公司上门安全检查并点火通气，用户不得私自改装燃气设施",
       "燃气、开户、天然气、点火"),
    _m("噪音扰民", "反映噪音扰民", "CG-NOISE", "城市管理局", "夜间施工、广场舞、商铺音响",
       "噪音发生的具体地址、发生时段、持续时间、噪音来源", "", 5, "12345热线、" + APP,
       "中华人民共和国噪声污染防治法",
       "夜间22时至次日6时禁止在噪声敏感建筑物集中区域进行产生噪声的建筑施工作业，抢修抢险除外",
       "噪音、噪声、施工扰民、广场舞", service=False),
    _m("道路设施损坏", "反映路面坑洼", "CG-ROAD", "城市管理局", "路面坑洼、井盖缺失、路灯不亮",
       "损坏设施的具体路段或门牌号、损坏情况、现场照片", "", 3, "12345热线、" + APP,
       "城市道路管理条例", "城市道路及附属设施损坏的，养护单位应及时设置警示标志并限期修复",
       "路面、井盖、路灯、坑洼", service=False),
    _m("占道经营", "投诉占道经营", "CG-STALL", "城市管理局", "流动摊贩、店外经营、夜市占道",
       "占道经营的具体位置、时间段、经营类型", "", 5, "12345热线、" + APP,
       "城市市容和环境卫生管理条例",
       "未经批准不得占用城市道路、桥梁、广场等公共场所摆摊设点", "占道、摆摊、流动摊贩",
       service=False),
    _m("垃圾清运不及时", "反映垃圾没人清", "CG-GARBAGE", "城市管理局",
       "生活垃圾满溢、建筑垃圾堆放、垃圾分类",
       "垃圾堆放的具体位置、堆放时间、垃圾种类", "", 2, "12345热线、" + APP, "城市生活垃圾管理办法",
       "生活垃圾应日产日清，环卫作业单位应按规定频次清运", "垃圾、清运、垃圾桶、异味",
       service=False),
    _m("餐饮油烟污染", "投诉饭店油烟", "HB-POLLUTION", "生态环境局", "餐饮油烟、露天烧烤、异味扰民",
       "污染源名称和地址、排放时段、对周边的影响", "", 5, "12345热线、" + APP,
       "中华人民共和国大气污染防治法",
       "排放油烟的餐饮服务业经营者应当安装油烟净化设施并保持正常使用", "油烟、异味、烧烤",
       service=False),
    _m("物业服务纠纷", "投诉物业", "ZJ-PROPERTY", "住房和城乡建设局",
       "电梯故障、物业费争议、公共部位维修",
       "小区名称和楼栋、物业公司名称、问题发生时间、已与物业沟通的情况", "", 5, "12345热线、" + APP,
       "物业管理条例", "物业服务企业应当按照物业服务合同约定提供服务，业主有权就服务质量提出投诉",
       "物业、电梯、物业费、小区", service=False),
    _m("房屋质量问题", "反映新房漏水", "ZJ-CONSTRUCTION", "住房和城乡建设局",
       "交房漏水、墙体开裂、延期交房",
       "楼盘名称和房号、开发商名称、问题照片、购房合同约定", "", 10, "12345热线、" + APP,
       "建设工程质量管理条例", "在保修期内发生的质量问题，施工单位应当履行保修义务",
       "漏水、开裂、交房、开发商", service=False),
    _m("公交线路和班次", "建议增加公交班次", "JT-BUS", "交通运输局", "增开线路、班次间隔、站点设置",
       "线路编号、站点名称、乘车时段、具体建议", "", 10, "12345热线、" + APP, "城市公共交通条例",
       "公交线路和班次调整由交通运输部门根据客流调查统筹安排", "公交、线路、班次、站台",
       service=False),
    _m("出租车拒载绕路", "投诉出租车", "JT-TAXI", "交通运输局", "拒载、绕路、不打表",
       "车牌号、乘车时间、上下车地点、发票或支付记录", "", 5, "12345热线、" + APP,
       "巡游出租汽车经营服务管理规定", "出租汽车驾驶员不得拒载、议价、途中甩客或故意绕道行驶",
       "出租车、网约车、拒载、绕路", service=False),
    _m("停水", "反映停水", "SW-WATER", "自来水公司", "突发停水、水压不足、水质浑浊",
       "停水的小区和楼栋、开始时间、影响户数", "", 1, "12345热线、自来水公司服务热线",
       "城市供水条例", "因工程施工需要停水的，供水企业应提前24小时通知用户", "停水、水压、水质",
       service=False),
    _m("拖欠工资", "讨要被拖欠的工资", "RS-WAGE", "人力资源和社会保障局",
       "农民工欠薪、离职结算、加班费",
       "用人单位名称和地址、劳动合同或工作证明、欠薪月份和金额", "", 5, "12345热线、" + APP,
       "保障农民工工资支付条例", "用人单位应当按照约定按时足额支付工资，不得克扣或者无故拖欠",
       "欠薪、工资、讨薪、劳动合同", service=False),
    _m("预付卡退费纠纷", "投诉预付卡不退钱", "SJ-CONSUMER", "市场监督管理局",
       "健身房预付卡、美容美发会员卡、教育培训",
       "商家名称和地址、购卡凭证、消费记录、与商家协商情况", "", 7, "12345热线、全国12315平台",
       "中华人民共和国消费者权益保护法",
       "经营者以预收款方式提供服务的，未按约定提供的应当退还预付款",
       "预付卡、退款、健身房、消费", service=False),
)  # fmt: skip

SERVICE_ASPECTS = ("所需材料", "办理流程", "办理地点和时间", "收费标准", "政策依据")
ISSUE_ASPECTS = ("受理范围", "处理流程和时限", "反映时需提供的信息", "相关规定")
QUESTIONS = {
    "所需材料": ("办理{name}需要带哪些材料？", "{ask}要准备什么材料？"),
    "办理流程": ("{ask}的流程是怎样的？", "怎么{ask}，多久能办好？"),
    "办理地点和时间": ("{ask}去哪里办，几点上班？", "{name}在哪个窗口办理？"),
    "收费标准": ("{name}收费吗？", "{ask}要交多少钱？"),
    "政策依据": ("{name}有什么政策规定？", "{ask}需要满足什么条件？"),
    "受理范围": ("{ask}归哪个部门管？", "哪些情况可以{ask}？"),
    "处理流程和时限": ("{ask}以后多久有人处理？", "{name}的处理流程是什么？"),
    "反映时需提供的信息": ("{ask}要说清楚哪些情况？", "{ask}需要提供什么信息？"),
    "相关规定": ("{name}有什么法律规定？", "{ask}有依据吗？"),
}
PROBE_ENDINGS = {
    "所需材料": "要带哪些材料",
    "办理流程": "办理流程是什么",
    "办理地点和时间": "在哪里办 办公时间",
    "收费标准": "收费标准是多少",
    "政策依据": "有什么政策依据",
    "受理范围": "受理范围是什么",
    "处理流程和时限": "处理时限多久",
    "反映时需提供的信息": "反映时要提供哪些信息",
    "相关规定": "有什么相关规定",
}
# Street offices (街道) and towns (镇, 乡) of the demo city: the benchmark's places
PLACES = tuple(d.name + sub for d in city.DISTRICTS for sub in d.subdistricts)
PLACE_DISTRICTS: dict[str, city.District] = {
    d.name + sub: d for d in city.DISTRICTS for sub in d.subdistricts
}
TIPS = (
    "",
    "周一上午和月初办事人数较多，建议错峰前往或提前网上预约。",
    "老年人、残疾人等群众可走绿色通道，行动不便的可申请上门服务。",
    "如有疑问，可向大厅导办员咨询或拨打12345热线。",
    "材料可在线预审，预审通过后到窗口“只跑一次”。",
)
# Hours of the street offices' and towns' own service centres (便民服务中心), which keep
# their own; city-wide articles send callers to the demo hall and state its hours.
LOCAL_HOURS = (
    "周一至周五 8:30-12:00、14:00-17:30（法定节假日除外）",
    "周一至周五 8:30-12:00、13:30-17:30，周六上午 9:00-12:00 延时服务",
    "工作日 9:00-17:30，中午不休息",
)
# Offices with their own windows in the demo hall; other matters go to its 综合窗口.
HALL_OFFICES = frozenset(name for _code, name, _prefix in hall_seed.DEPARTMENTS)
HOURS_ASPECT = "办理地点和时间"


@dataclass(frozen=True)
class ArticleSpec:
    title: str
    question: str
    answer: str
    keywords: tuple[str, ...]
    category_code: str | None
    expires_on: date | None = None
    probe: str = ""  # a caller's query this article should answer (benchmark recall)


def hall_place(office: str) -> tuple[str, str, str, str]:
    """(where, address, hours, phone) of a city-wide matter: the demo hall, as configured."""
    window = f"{office}窗口" if office in HALL_OFFICES else f"综合窗口（{office}事项）"
    hall = city.HALL
    return f"{hall.name}{window}", hall.address, hall.hours_text(), hall.phone


def _answer(m: Matter, aspect: str, scenario: str, place: str, r: random.Random) -> str:
    # Places stand between punctuation, so the tokenizer sees a few hundred distinct runs.
    if place:
        roads = PLACE_DISTRICTS[place].roads
        where = f"{place}便民服务中心"
        address = f"{r.choice(roads)}{r.randint(1, 399)}号"
        hours = r.choice(LOCAL_HOURS)
        phone = f"{r.choice('68')}{r.randint(1000000, 9999999)}"
    else:
        where, address, hours, phone = hall_place(m.office)
    local = f"{place}范围内的诉求由属地街道（乡镇）配合核实。" if place else ""
    items = "；".join(f"{i}. {x}" for i, x in enumerate(m.items, 1))
    case = f"（{scenario}）" if scenario else ""
    days = max(1, m.days + r.choice((-1, 0, 0, 1)))
    texts = {
        "所需材料": f"办理{m.name}{case}需提交以下材料：{items}。材料齐全的当场受理；"
        f"委托他人代办的，另需提供代办人身份证和授权委托书。",
        "办理流程": f"{m.name}{case}办理流程：1. 通过{m.online}在线申请，或到窗口（{where}）"
        f"取号提交材料；2. 窗口受理并审核；3. 审核通过后{days}个工作日内办结，结果以短信通知。",
        HOURS_ASPECT: f"{m.name}的办理地点：{where}，地址：{address}。"
        f"办公时间：{hours}。咨询电话：{phone}，也可拨打12345热线。",
        "收费标准": f"{m.fee}。如遇收费与公示标准不符，可拨打12345热线或向{m.office}反映。",
        "政策依据": f"根据《{m.basis}》，{m.rule}。{m.name}{case}的具体条件以{m.office}公布为准。",
        "受理范围": f"{m.name}类诉求（如{'、'.join(m.scenarios)}）由{m.office}牵头处理。"
        f"{local}紧急情况请直接拨打110。",
        "处理流程和时限": f"热线受理后1个工作日内派至{m.office}，{local}"
        f"承办单位一般在{days}个工作日内核实处理并答复，办结后热线回访。",
        "反映时需提供的信息": f"反映{m.name}{case}时请说明：{items}。可通过{m.online}上传现场照片，"
        f"信息越具体处理越快。",
        "相关规定": f"根据《{m.basis}》，{m.rule}。对违反规定的行为，{m.office}依法责令改正。",
    }
    return texts[aspect] + r.choice(TIPS)


def _spec(
    m: Matter, aspect: str, scenario: str, place: str, r: random.Random, expires_on: date | None
) -> ArticleSpec:
    case = f"（{scenario}）" if scenario else ""
    question = r.choice(QUESTIONS[aspect]).format(name=m.name, ask=m.ask)
    probe = f"{place} {scenario}{m.name} {PROBE_ENDINGS[aspect]}".strip()
    return ArticleSpec(
        title=(f"【{place}】" if place else "") + f"{m.name}{case}{aspect}",
        question=(f"我在{place}，" if place else "") + question,
        answer=_answer(m, aspect, scenario, place, r),
        keywords=m.keywords + ((scenario,) if scenario else ()),
        category_code=m.category,
        expires_on=expires_on,
        probe=probe,
    )


def _aspects(m: Matter) -> tuple[str, ...]:
    return SERVICE_ASPECTS if m.service else ISSUE_ASPECTS


def demo_articles(*, seed: int = 7, today: date | None = None) -> list[ArticleSpec]:
    """≈150 city-wide articles: every aspect of every matter, and one more scenario each."""
    r = random.Random(seed)
    today = today or local_today()
    specs = []
    for m in MATTERS:
        for aspect in _aspects(m):
            # Fee and policy texts are reviewed yearly; a few come due soon for the demo.
            expires = None
            if aspect in ("收费标准", "政策依据", "相关规定"):
                expires = today + timedelta(days=r.choice((12, 25, 90, 180, 365)))
            specs.append(_spec(m, aspect, "", "", r, expires))
        specs.append(_spec(m, _aspects(m)[0], m.scenarios[1], "", r, None))
    return specs


def generate_articles(seed: int, count: int, today: date | None = None) -> list[ArticleSpec]:
    """``count`` distinct place-level articles (matter × scenario × aspect × place).

    About 5 % have already expired and 15 % expire later, so search must filter them."""
    combos = [(m, s, a) for m in MATTERS for s in m.scenarios for a in _aspects(m)]
    total = len(combos) * len(PLACES)
    if count > total:
        raise ValueError(f"at most {total} distinct articles, asked for {count}")
    r = random.Random(seed)
    today = today or local_today()
    specs = []
    for n in r.sample(range(total), count):
        (m, scenario, aspect), place = combos[n % len(combos)], PLACES[n // len(combos)]
        roll = r.random()
        expires = None
        if roll < 0.05:
            expires = today - timedelta(days=r.randint(1, 300))
        elif roll < 0.20:
            expires = today + timedelta(days=r.randint(1, 720))
        specs.append(_spec(m, aspect, scenario, place, r, expires))
    return specs


CALLER_QUERIES = (
    "怎么提取公积金", "公积金", "社保卡丢了怎么办", "失业金怎么领", "异地就医备案",
    "孩子刚出生怎么上户口", "居住证要多久能办好", "二手房过户要交多少钱", "低保申请条件",
    "老人高龄补贴怎么领", "小孩上小学报名要什么材料", "出生证明丢了能补办吗", "水费过户",
    "燃气开户收费吗", "楼下饭店油烟太大了", "晚上工地施工太吵睡不着", "路上有个井盖没了很危险",
    "小区门口有人摆摊占道", "垃圾桶满了好几天没人清", "物业不管电梯坏了", "新房交房就漏水找谁",
    "希望增加公交班次", "出租车司机绕路还拒载", "家里突然停水了", "老板拖欠工资三个月不发",
    "健身房跑路预付卡退不了钱", "公积金贷款额度怎么算", "医保门诊慢特病怎么申请报销",
    "我想问一下办理居住证需要什么条件和材料，在哪里办", "电费过户",
)  # fmt: skip


def caller_queries(seed: int, count: int) -> list[str]:
    """Typical queries as citizens type them and agents hear them, short and long."""
    r = random.Random(seed)
    out = []
    for _ in range(count):
        q = r.choice(CALLER_QUERIES)
        out.append(f"我住在{r.choice(PLACES)}，{q}" if r.random() < 0.3 else q)
    return out


# --- writing -------------------------------------------------------------------------


def seed_demo_articles(*, session: Session, author: User, reviewer: User) -> int:
    """Write and publish the demo articles through the review workflow; 0 if the knowledge
    base already has articles."""
    if session.scalar(select(KbArticle.id).limit(1)) is not None:
        return 0
    known = set(session.scalars(select(HotlineCategory.code)))
    specs = demo_articles()
    for spec in specs:
        version = kb.create_article(
            session=session,
            author=author,
            title=spec.title,
            question=spec.question,
            answer=spec.answer,
            keywords=spec.keywords,
            category_code=spec.category_code if spec.category_code in known else None,
            expires_on=spec.expires_on,
        )
        kb.submit_for_review(session=session, version_id=version.id, actor=author)
        kb.review(session=session, version_id=version.id, reviewer=reviewer, approve=True)
    return len(specs)


def _batches(items: Sequence[ArticleSpec], size: int) -> Iterator[Sequence[ArticleSpec]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _new_ids(session: Session, table: str, n: int) -> list[int]:
    """Reserve ``n`` primary keys: from the sequence on PostgreSQL; on SQLite after the
    largest id, which is safe because the unit of work already holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
                ),
                {"t": table, "n": n},
            )
        )
    first = (session.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1
    return list(range(first, first + n))


def bulk_load(
    *,
    session: Session,
    specs: Sequence[ArticleSpec],
    author_id: int | None = None,
    reviewer_id: int | None = None,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Insert published articles, their first versions and index rows in batches, then
    tidy the index; returns the article ids in the order of ``specs``. For benchmarks and
    bulk imports only: no review happens, the rows are written as already approved."""
    categories = {
        code: id_ for code, id_ in session.execute(select(HotlineCategory.code, HotlineCategory.id))
    }
    articles_t = cast(Table, KbArticle.__table__)
    versions_t = cast(Table, KbArticleVersion.__table__)
    ids: list[int] = []
    for chunk in _batches(specs, batch):
        moment = now()
        article_ids = _new_ids(session, "kb_articles", len(chunk))
        version_ids = _new_ids(session, "kb_article_versions", len(chunk))
        rows = list(zip(article_ids, version_ids, chunk, strict=True))
        session.execute(
            insert(articles_t),
            [
                {
                    "id": aid,
                    "category_id": categories.get(s.category_code or ""),
                    "expires_on": s.expires_on,
                    "retired": False,
                    "created_by": author_id,
                    "created_at": moment,
                    "updated_at": moment,
                    "use_count": 0,
                }
                for aid, _vid, s in rows
            ],
        )
        session.execute(
            insert(versions_t),
            [
                {
                    "id": vid,
                    "article_id": aid,
                    "version": 1,
                    "title": s.title,
                    "question": s.question,
                    "answer": s.answer,
                    "keywords": list(s.keywords),
                    "status": ArticleStatus.PUBLISHED,
                    "author_id": author_id,
                    "created_at": moment,
                    "reviewer_id": reviewer_id,
                    "reviewed_at": moment,
                }
                for aid, vid, s in rows
            ],
        )
        # The article points at its version only once both rows exist (PostgreSQL checks).
        session.execute(
            text("UPDATE kb_articles SET published_version_id = :v WHERE id = :a"),
            [{"a": aid, "v": vid} for aid, vid, _s in rows],
        )
        write_index(session, [(aid, s) for aid, _vid, s in rows], replace=False)
        ids.extend(article_ids)
        if progress:
            progress(len(ids))
    optimize_index(session)
    return ids
