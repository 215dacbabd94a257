"""What the demo centre promises for the items that become matters (承诺件): the statutory and
promised time limits in working days, the materials an applicant brings, whether the result
may be posted and whether the item can be applied for online.

Items not listed here are settled at the window (即办件: a fee paid, an invoice issued, a
record looked up) and open no matter. The limits follow what Chinese centres publish: the
promise is a fraction of the law's limit (不动产登记 30 → 5, 营业执照 15 → 3). Results that
are a certificate or licence (居民身份证, 社保卡, 营业执照, 不动产权证书, 食品经营许可证)
may be posted; results the citizen must sign for in person (a loan contract), endorse in
their household register or that follow a home visit (低保) may not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MatterTerms:
    statutory_days: int
    promised_days: int
    materials: tuple[str, ...]
    by_post: bool
    online: bool = False
    fee: str = "不收费"
    # reasons a department gives when it refuses (不予许可) or returns (退回) an application
    refusals: tuple[str, ...] = ()


TERMS: dict[str, MatterTerms] = {
    "GA01": MatterTerms(
        60, 10, ("居民户口簿", "现场采集的相片和指纹"), by_post=True, fee="工本费 20 元",
        refusals=("户籍信息与人口信息系统记载不一致，请先办理户籍信息更正",),
    ),
    "GA02": MatterTerms(
        60, 10, ("原居民身份证（换领）", "居民户口簿", "现场采集的相片"), by_post=True,
        fee="换领 20 元，补领 40 元",
        refusals=("申请补领的身份证仍在有效期内且未挂失",),
    ),
    "GA03": MatterTerms(
        20, 5, ("准予迁入证明", "居民户口簿", "居民身份证"), by_post=False,
        refusals=("迁入地址不符合落户条件（合法稳定住所证明不全）",),
    ),
    "RS01": MatterTerms(
        20, 10, ("居民身份证", "近期免冠彩色相片"), by_post=True, online=True,
        refusals=("原社会保障卡未挂失，不能补卡",),
    ),
    "RS03": MatterTerms(
        10, 5, ("居民身份证", "解除劳动合同证明", "银行卡"), by_post=False, online=True,
        refusals=("失业前累计缴纳失业保险费不满一年", "属本人自愿离职，不符合申领条件"),
    ),
    "RS04": MatterTerms(
        20, 15, ("居民身份证", "居民户口簿", "职工档案", "银行卡"), by_post=False,
        refusals=("累计缴费年限不满 15 年，未达到按月领取条件",),
    ),
    "YB03": MatterTerms(
        15, 10, ("医保电子凭证或社会保障卡", "二级以上医院的诊断证明", "近半年病历和检查报告"),
        by_post=False, online=True,
        refusals=("病情不符合门诊慢特病认定标准",),
    ),
    "YB04": MatterTerms(
        20, 10, ("居民身份证", "出生医学证明", "住院病历（出院记录）"), by_post=False, online=True,
        refusals=("生育前连续缴纳生育保险不满 9 个月",),
    ),
    "SJ01": MatterTerms(
        15, 3,
        ("公司登记（备案）申请书", "公司章程", "股东主体资格证明", "法定代表人任职文件",
         "住所使用证明"),
        by_post=True, online=True,
        refusals=("企业名称与已登记的同行业企业名称近似", "住所为规划用途住宅，不能作为经营场所"),
    ),
    "SJ02": MatterTerms(
        15, 3, ("变更登记申请书", "股东会决议", "修改后的公司章程", "营业执照正副本"),
        by_post=True, online=True,
        refusals=("变更事项涉及前置许可，未提交许可文件",),
    ),
    "SJ03": MatterTerms(
        15, 3, ("注销登记申请书", "清算报告", "清税证明", "营业执照正副本"),
        by_post=True, online=True,
        refusals=("企业存在未结清的税款，未取得清税证明",),
    ),
    "SJ04": MatterTerms(
        20, 10, ("食品经营许可申请书", "营业执照", "经营场所平面图", "食品安全管理制度"),
        by_post=True, online=True,
        refusals=("现场核查：经营场所与污染源距离不符合要求",),
    ),
    "BDC01": MatterTerms(
        30, 5, ("不动产权证书", "买卖合同", "完税凭证", "双方身份证明"), by_post=True,
        fee="住宅 80 元/件",
        refusals=("房屋已被法院查封，不能办理转移登记",),
    ),
    "BDC02": MatterTerms(
        30, 3, ("不动产权证书", "借款合同和抵押合同", "双方身份证明"), by_post=True,
        fee="住宅 80 元/件",
        refusals=("抵押物已设定居住权，抵押合同未作约定",),
    ),
    "BDC03": MatterTerms(
        30, 20, ("遗失声明（公告满 15 个工作日）", "居民身份证"), by_post=True, fee="工本费 10 元",
        refusals=("登记簿记载的权利人与申请人不一致",),
    ),
    "GJJ02": MatterTerms(
        15, 10, ("借款人身份证明", "婚姻状况证明", "购房合同", "首付款凭证", "收入证明"),
        by_post=False,
        refusals=("连续足额缴存不满 6 个月", "借款人有未结清的公积金贷款"),
    ),
    "MZ02": MatterTerms(
        30, 20, ("低保申请书", "家庭成员身份证明", "家庭收入和财产情况说明", "授权核对声明"),
        by_post=False,
        refusals=("家庭人均收入高于本市最低生活保障标准", "家庭拥有两套以上住房"),
    ),
    "MZ03": MatterTerms(
        20, 15, ("残疾人证", "居民户口簿", "银行卡"), by_post=False,
        refusals=("残疾等级不符合重度残疾人护理补贴条件",),
    ),
}  # fmt: skip


def catalogue_columns(code: str) -> tuple[str, str, str, str, str, str]:
    """The 事项清单 cells of an item: 法定时限, 承诺时限, 收费标准, 申请材料, 可网办, 可邮寄
    (empty limits and 否 for an item settled at the window)."""
    t = TERMS.get(code)
    if t is None:
        return ("", "", "", "", "否", "否")
    yes = {True: "是", False: "否"}
    return (
        str(t.statutory_days),
        str(t.promised_days),
        t.fee,
        "；".join(t.materials),
        yes[t.online],
        yes[t.by_post],
    )
