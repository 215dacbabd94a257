"""End to end in real Chromium: a visit finished at the window appears on the window's
rating pad, the citizen taps 不满意, and the hall manager finds the new rectification
case; rating by link from "my ticket", the manager's overdue panel and the SERVQUAL
survey with its gap chart.

Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.ingest.devices import service as devices
from govloop.ingest.models import DeviceKind
from govloop.org.models import Hall
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server
from tests.e2e.test_hall_flow import HALL, _seed
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    folder = tmp_path_factory.mktemp("e2e-ratings")
    url = f"sqlite:///{folder / 'govloop.db'}"
    _seed(url)
    engine = make_engine(url)
    set_engine(engine)
    try:
        with unit_of_work() as s:
            hall = s.scalar(select(Hall).where(Hall.code == HALL))
            assert hall is not None
            pad = devices.register_device(
                session=s,
                code="PJQ-01",
                kind=DeviceKind.RATING_PAD,
                name="1号窗口评价器",
                hall_id=hall.id,
            )
            PAD_KEYS["PJQ-01"] = devices.issue_device_key(session=s, device=pad)
    finally:
        set_engine(None)
        engine.dispose()
    with run_server(url, folder / "uvicorn.log") as base:
        yield base


PAD_KEYS: dict[str, str] = {}


def test_pad_rating_opens_a_case_the_manager_sees(base_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    base = base_url

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def new_page(width: int, height: int, touch: bool = False):  # type: ignore[no-untyped-def]
            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                has_touch=touch,
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            return page

        def sign_in(page, username: str, next_path: str) -> None:  # type: ignore[no-untyped-def]
            page.goto(f"{base}/login?next={next_path}")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(re.compile(re.escape(next_path.split("?")[0])))

        try:
            # The tablet facing the citizen at window 1: unpaired, it shows nothing but the
            # pairing form; the manager pairs it once with the pad's code and key.
            pad = new_page(1280, 800, touch=True)
            pad.goto(f"{base}/halls/{HALL}/windows/1/pad")
            expect(pad.locator("#pad-body[data-pad-state=unpaired]")).to_be_visible()
            pad.screenshot(path=str(SHOTS / "pad-unpaired.png"))
            pad.fill("input[name=device_code]", "PJQ-01")
            pad.fill("input[name=device_key]", PAD_KEYS["PJQ-01"])
            pad.get_by_role("button", name="配对此评价器").click()
            expect(pad.locator("#pad-body[data-pad-state=idle]")).to_be_visible()
            expect(pad.locator(".pad-idle h1")).to_have_text("欢迎您对我们的服务进行评价")
            expect(pad.locator("[data-live-status].live-ok")).to_be_visible(timeout=10_000)
            pad.screenshot(path=str(SHOTS / "pad-idle.png"))

            # A citizen takes a ticket; window staff call, serve and finish it.
            kiosk = new_page(1366, 1024)
            kiosk.goto(f"{base}/halls/{HALL}/kiosk")
            kiosk.locator("button[data-item-code='SB-CARD']").click()
            slip = kiosk.locator("#slip-modal .slip-code")
            expect(slip).to_be_visible(timeout=10_000)
            code = slip.inner_text().strip()
            kiosk.locator("#slip-modal button[data-close-slip]").click()

            staff = new_page(1366, 900)
            sign_in(staff, "staff1", f"/halls/{HALL}/windows/1")
            staff.get_by_role("button", name="签入本窗口").click()
            staff.get_by_role("button", name="叫下一号").click()
            expect(staff.locator(".current-code")).to_have_text(code)
            staff.get_by_role("button", name="开始办理").click()
            staff.get_by_role("button", name="办结", exact=True).click()
            expect(staff.locator(".notice")).to_contain_text(f"{code} 已办结")

            # The pad shows the finished visit by itself.
            expect(pad.locator("#pad-body[data-pad-state=form]")).to_be_visible(timeout=8_000)
            expect(pad.locator(".pad-visit")).to_contain_text(code)
            expect(pad.locator(".pad-visit")).to_contain_text("社会保障卡申领")
            pad.screenshot(path=str(SHOTS / "pad-form.png"))

            # The citizen taps 不满意, picks a reason and leaves a number for the callback.
            pad.locator(".level-2").tap()
            pad.locator(".tag-option", has_text="等候太久").tap()
            pad.fill("textarea[name=comment]", "排队时间太长，希望增加窗口")
            pad.fill("input[name=phone]", "13800138000")
            expect(pad.locator(".level-2 input")).to_be_checked()
            pad.screenshot(path=str(SHOTS / "pad-bad-rating.png"))
            pad.get_by_role("button", name="提交评价").tap()
            expect(pad.locator(".rate-thanks h2")).to_have_text("感谢您的评价！")
            expect(pad.locator(".rate-thanks")).to_contain_text("1 个工作日内回访")
            pad.screenshot(path=str(SHOTS / "pad-thanks.png"))
            # …and returns to idle by itself.
            expect(pad.locator("#pad-body[data-pad-state=idle]")).to_be_visible(timeout=15_000)

            # The hall manager sees the new case, with the figures and the chart.
            manager = new_page(1440, 1000)
            sign_in(manager, "manager", "/ratings/cases")
            row = manager.locator(".cases-table tbody tr").first
            expect(row).to_contain_text("不满意")
            expect(row).to_contain_text("待回访")
            expect(row).to_contain_text("市人力资源和社会保障局")
            expect(row).to_contain_text(code)
            expect(manager.locator("[data-figure=bad_rate]")).to_have_text("100.0%")
            expect(manager.locator("#chart-levels svg")).to_be_visible(timeout=10_000)
            manager.wait_for_timeout(600)  # the chart's entry animation
            manager.screenshot(path=str(SHOTS / "rating-cases.png"), full_page=True)

            # The case page: record the callback.
            row.locator("a").first.click()
            expect(manager.locator("h1")).to_contain_text("差评整改工单")
            expect(manager.locator(".rating-comment")).to_have_text("排队时间太长，希望增加窗口")
            manager.fill("textarea[name=note]", "已电话回访，群众反映高峰期等候时间长，已致歉")
            manager.get_by_role("button", name="记录回访").click()
            expect(manager.locator(".notice")).to_have_text("已记录回访")
            expect(manager.locator("form[data-action=rectify]")).to_be_visible()
            manager.screenshot(path=str(SHOTS / "rating-case.png"), full_page=True)

            # The manager's console flags the open case.
            manager.goto(f"{base}/halls/{HALL}/manage")
            expect(manager.locator("[data-rectification] [data-open-cases]")).to_have_text("1")
            manager.locator("[data-rectification]").scroll_into_view_if_needed()
            manager.screenshot(path=str(SHOTS / "manager-rectification.png"), full_page=True)

            # A second visit is rated from the citizen's phone, through "my ticket".
            kiosk.locator("button[data-item-code='SB-PENSION']").click()
            expect(slip).to_be_visible(timeout=10_000)
            short_link = kiosk.locator("#slip-modal .slip-url").get_attribute("href")
            kiosk.locator("#slip-modal button[data-close-slip]").click()
            staff.get_by_role("button", name="叫下一号").click()
            staff.get_by_role("button", name="开始办理").click()
            staff.get_by_role("button", name="办结", exact=True).click()
            phone = new_page(390, 844, touch=True)
            phone.goto(f"{base}{short_link}")
            phone.locator("[data-rate-link]").tap()
            expect(phone.locator(".rate-form")).to_be_visible()
            phone.locator(".level-5").tap()
            for dim in ("tangibles", "reliability", "responsiveness", "assurance", "empathy"):
                phone.locator(f"label[for=dim-{dim}-5]").tap()
            phone.locator("label[for=dim-tangibles-4]").tap()
            phone.locator(".tag-option", has_text="高效快捷").tap()
            phone.screenshot(path=str(SHOTS / "rate-link.png"), full_page=True)
            phone.get_by_role("button", name="提交评价").tap()
            expect(phone.locator(".rate-thanks h2")).to_have_text("感谢您的评价！")
            phone.goto(f"{base}{short_link.replace('/t/', '/r/')}")
            expect(phone.locator(".rate-message")).to_contain_text("您已评价过本次服务")

            # SERVQUAL: the manager creates and publishes a survey; a citizen answers it.
            manager.goto(f"{base}/surveys")
            manager.fill("input[name=code]", "Q4")
            manager.fill("input[name=title]", "四季度服务质量调查")
            manager.select_option("form[action='/surveys'] select[name=hall]", HALL)
            manager.get_by_role("button", name="创建草稿").click()
            expect(manager.locator(".notice")).to_have_text("问卷已创建为草稿")
            manager.locator("tr[data-survey=Q4]").get_by_role("button", name="发布").click()
            expect(manager.locator(".notice")).to_have_text("问卷已发布")

            citizen = new_page(1024, 900)
            citizen.goto(f"{base}/surveys/Q4")
            expect(citizen.locator(".survey-item")).to_have_count(22)
            for no in range(1, 23):
                if no in (7, 15):
                    continue
                citizen.locator(f"#q-{no} input[name=e_{no}][value='6']").check(force=True)
                perception = "3" if no in (10, 11) else "5"
                citizen.locator(f"#q-{no} input[name=p_{no}][value='{perception}']").check(
                    force=True
                )
            citizen.locator("#q-7 input[name=e_7][value='7']").check(force=True)
            citizen.get_by_role("button", name="提交问卷").click()
            expect(citizen.locator(".alert-error")).to_contain_text("还有 2 题未作答：第 7, 15 题")
            expect(citizen.locator(".survey-missing")).to_have_count(2)
            citizen.locator("#q-7").scroll_into_view_if_needed()
            citizen.screenshot(path=str(SHOTS / "survey-incomplete.png"))
            citizen.locator("#q-7 input[name=p_7][value='6']").check(force=True)
            citizen.locator("#q-15 input[name=e_15][value='7']").check(force=True)
            citizen.locator("#q-15 input[name=p_15][value='6']").check(force=True)
            citizen.get_by_role("button", name="提交问卷").click()
            expect(citizen.locator(".survey-done")).to_contain_text("感谢您的参与")

            manager.goto(f"{base}/surveys?survey=Q4#gaps")
            expect(manager.locator("[data-gap-item]")).to_have_count(22)
            expect(manager.locator("#chart-gaps svg")).to_be_visible(timeout=10_000)
            expect(manager.locator("#chart-radar svg")).to_be_visible()
            manager.wait_for_timeout(800)
            manager.screenshot(path=str(SHOTS / "surveys.png"), full_page=True)
            citizen.goto(f"{base}/surveys/Q4")
            citizen.screenshot(path=str(SHOTS / "survey.png"))
        finally:
            browser.close()

    assert errors == [], errors
