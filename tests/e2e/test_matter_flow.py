"""办件 end to end in real Chromium, on SQLite and PostgreSQL.

A window clerk serves a ticket and accepts the application (受理并登记办件), the
department's handler takes the matter through review, 补正 (the clock stops), the decision
and the certificate and hands it to the courier (the local simulator: the hall has an
address), and the citizen follows it on a phone like a parcel. Bad input on the 受理 form
is refused in Chinese with what was typed kept; a wrong phone gets the same answer as an
unknown number.

A second test visits every matters page as each role that sees it, on a desktop and a
phone, over matters seeded in every state (overdue, 补正, in transit, delivered after a
failed attempt, a returned parcel): each page must show Chinese only and fit the phone.
Screenshots go to ``test-artifacts/screenshots/matters/<database>/``.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker

from govloop.core import calendar
from govloop.core.auth import Role
from govloop.core.clock import frozen, local_today, local_tz
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hall import service as hall_service
from govloop.hall.models import ServiceItem, Window, window_items
from govloop.matters import service, workflow
from govloop.matters.delivery import registry, shipping, simulator, tracking
from govloop.matters.models import Matter, MatterSource
from govloop.org.models import Department, DepartmentMember, Hall
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server
from tests.e2e.sweep_text import VISIBLE_TEXT_JS, untranslated
from tests.e2e.test_page_sweep import postgres_database
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser

HALL = "DEMO"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CHECK_WORD = "e2e-simulator-check-word"
APPLICANT_PHONE = "13800138000"
NO_MATCH = "办件编号与手机号不匹配，请核对后重试"


@dataclass
class Server:
    url: str
    database: str
    seeded: dict[str, tuple[str, str]]  # what it shows → (matter number, applicant's phone)
    shots: Path


def _workday_back(count: int) -> date:
    day = local_today()
    for _ in range(count):
        day -= timedelta(days=1)
        while not calendar.is_workday(day):
            day -= timedelta(days=1)
    return day


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(int(hour), int(hour % 1 * 60)), tzinfo=local_tz())


def _seed(url: str, sim_state: Path) -> dict[str, tuple[str, str]]:
    """The hall, its clerk, the department's handler, the administrator, a citizen waiting
    for window 1, and matters in every state a page can show (accepted days ago)."""
    engine = make_engine(url)
    upgrade(engine)
    make_session = sessionmaker(engine, expire_on_commit=False)
    seeded: dict[str, tuple[str, str]] = {}
    sim = simulator.SimulatedSf(
        partner_id=registry.SIMULATOR_PARTNER, check_word=CHECK_WORD, state_path=sim_state
    )
    courier = registry.simulator_courier(sim)
    registry.install(courier, sim)
    try:
        with make_session() as s, s.begin():
            rs = Department(code="RS", name="市人力资源和社会保障局")
            gjj = Department(code="GJJ", name="市住房公积金管理中心")
            s.add_all([rs, gjj])
            s.flush()
            hall = Hall(
                code=HALL,
                name="市民服务中心",
                enforce_hours=False,
                address="杭州市上城区解放东路18号市民中心一楼",
            )
            s.add(hall)
            card = ServiceItem(
                code="SB-CARD",
                name="社会保障卡申领",
                department_id=rs.id,
                ticket_prefix="A",
                promised_minutes=12,
                promised_days=5,
                statutory_days=20,
                by_post=True,
                materials=["居民身份证", "社会保障卡申领登记表", "近期免冠一寸照片"],
            )
            draw = ServiceItem(
                code="GJJ-DRAW",
                name="住房公积金提取",
                department_id=gjj.id,
                ticket_prefix="C",
                promised_minutes=10,
                promised_days=3,
                materials=["居民身份证", "提取申请书"],
            )
            s.add_all([card, draw])
            s.flush()
            for number, item in ((1, card), (2, draw)):
                window = Window(hall_id=hall.id, number=number, name=f"{number}号窗口")
                s.add(window)
                s.flush()
                s.execute(window_items.insert().values(window_id=window.id, item_id=item.id))
            make_user(s, "staff1")
            handler = make_user(s, "handler", Role.DEPARTMENT_HANDLER)
            make_user(s, "admin", Role.ADMIN)
            s.add(DepartmentMember(user_id=handler.id, department_id=rs.id))
            s.flush()
            for _ in range(2):  # one for the flow, one for the pages' screenshots
                hall_service.issue_ticket(session=s, hall=hall, item=card)

            def open_one(
                key: str, item: ServiceItem, back: int, phone: str, **applicant: Any
            ) -> Matter:
                with frozen(_at(_workday_back(back), 9.5)):
                    matter = service.open_matter(
                        session=s,
                        item=item,
                        applicant=service.Applicant(
                            name=applicant.pop("name", "李秀英"),
                            phone=phone,
                            materials=["居民身份证", "社会保障卡申领登记表"],
                            **applicant,
                        ),
                        source=MatterSource.WINDOW,
                        actor=None,
                        hall=hall,
                    )
                seeded[key] = (matter.number, phone)
                return matter

            def step(back: int, hour: float, act: Any) -> None:
                with frozen(_at(_workday_back(back), hour)):
                    act()

            def to_certifying(m: Matter, back: int, correction: bool = False) -> None:
                step(back, 10, lambda: workflow.start_review(session=s, matter=m, actor=handler))
                if correction:
                    step(
                        back,
                        15,
                        lambda: workflow.request_correction(
                            session=s,
                            matter=m,
                            actor=handler,
                            materials=["户口簿复印件", "近期免冠一寸照片"],
                            note="照片不符合要求",
                        ),
                    )
                    back -= 1
                    step(
                        back,
                        11,
                        lambda: workflow.receive_correction(
                            session=s, matter=m, actor=handler, in_person=True
                        ),
                    )
                step(
                    back,
                    14,
                    lambda: workflow.decide(
                        session=s, matter=m, actor=handler, granted=True, note=""
                    ),
                )
                step(
                    back, 16, lambda: workflow.start_certificate(session=s, matter=m, actor=handler)
                )

            def post(m: Matter, back: int, fate: str, days_on_road: float) -> None:
                sim.steer(fate)
                shipped = _at(_workday_back(back), 10.25)
                with frozen(shipped):
                    shipping.ship(session=s, matter=m, actor=handler)
                moment = min(shipped + timedelta(days=days_on_road), datetime.now(local_tz()))
                with frozen(moment):
                    for push in sim.due_pushes(moment):
                        tracking.receive_push(
                            session=s, code=courier.code, headers=push.headers, body=push.body
                        )
                        sim.acknowledge(push)

            overdue = open_one("overdue", card, 9, "13800000001", name="王建国")
            step(8, 10, lambda: workflow.start_review(session=s, matter=overdue, actor=handler))
            correction = open_one("correction", card, 3, "13800000002", name="赵敏")
            step(2, 10, lambda: workflow.start_review(session=s, matter=correction, actor=handler))
            step(
                1,
                15,
                lambda: workflow.request_correction(
                    session=s,
                    matter=correction,
                    actor=handler,
                    materials=["户口簿复印件"],
                    note="",
                ),
            )
            home = "浙江省杭州市西湖区文三路90号东部软件园3号楼502室"
            transit = open_one(
                "transit",
                card,
                6,
                "13800000003",
                name="陈静",
                delivery_method="post",
                delivery_address=home,
            )
            to_certifying(transit, 5)
            post(transit, 1, "normal", 0.4)
            delivered = open_one(
                "delivered",
                card,
                12,
                "13800000004",
                name="欧阳娜娜",
                delivery_method="post",
                delivery_address=home,
            )
            to_certifying(delivered, 11, correction=True)
            post(delivered, 7, "failed_once", 12)
            returned = open_one(
                "returned",
                card,
                12,
                "13800000005",
                name="周杰",
                delivery_method="post",
                delivery_address="浙江省杭州市余杭区五常大道1号",
            )
            to_certifying(returned, 11)
            post(returned, 9, "returned", 14)
            pickup = open_one("pickup", card, 4, "13800000006", name="孙丽")
            to_certifying(pickup, 3)
            step(1, 10, lambda: workflow.result_ready(session=s, matter=pickup, actor=handler))
            open_one("other-department", draw, 1, "13800000007", name="钱多多")
    finally:
        registry.install(None)
        engine.dispose()
    return seeded


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    database = request.param
    tmp = tmp_path_factory.mktemp(f"matters-{database}")
    sim_state = tmp / "courier-simulator.json"
    with contextlib.ExitStack() as stack:
        if database == "sqlite":
            url = f"sqlite:///{tmp / 'govloop.db'}"
        else:
            url = stack.enter_context(postgres_database())
        seeded = _seed(url, sim_state)
        # the server's courier is the simulator sharing the seed's state (waybill numbers)
        patch = stack.enter_context(pytest.MonkeyPatch.context())
        patch.setitem(os.environ, "GOVLOOP_COURIER_KIND", "simulator")
        patch.setitem(os.environ, "GOVLOOP_COURIER_SIMULATOR_STATE", str(sim_state))
        patch.setitem(os.environ, "GOVLOOP_COURIER_SIMULATOR_CHECK_WORD", CHECK_WORD)
        shots = SHOTS / "matters" / database
        shots.mkdir(parents=True, exist_ok=True)
        with run_server(url, shots / "uvicorn.log", timeout=90) as base:
            yield Server(url=base, database=database, seeded=seeded, shots=shots)


class Browser:
    """Pages of one Chromium; errors of every page are collected."""

    def __init__(self, pw: Any, base: str, shots: Path) -> None:
        self.browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        self.base = base
        self.shots = shots
        self.errors: list[str] = []

    def page(self, phone: bool = False) -> Any:
        context = self.browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
            has_touch=phone,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        page = context.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))
        return page

    def sign_in(self, page: Any, username: str, next_path: str) -> None:
        from playwright.sync_api import expect

        page.goto(f"{self.base}/login?next={next_path}")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(re.compile(re.escape(next_path) + "$"))

    def shot(self, page: Any, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.browser.close()


def fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width} px wide on a 390 px phone"


def chinese_only(page: Any) -> None:
    found = untranslated(page.evaluate(VISIBLE_TEXT_JS))
    assert not found, f"{page.url} shows untranslated text: {found}"


@pytest.mark.timeout(300)
def test_a_matter_from_the_window_to_the_citizens_phone(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        b = Browser(pw, server.url, server.shots)
        try:
            # (a) the clerk serves the ticket and opens the 受理 form from the window page
            clerk = b.page()
            b.sign_in(clerk, "staff1", f"/halls/{HALL}/windows/1")
            clerk.get_by_role("button", name="签入本窗口").click()
            clerk.get_by_role("button", name="叫下一号").click()
            clerk.get_by_role("button", name="开始办理").click()
            accept = clerk.locator("a[data-accept-matter]")
            expect(accept).to_have_text("受理并登记办件")
            b.shot(clerk, "flow-window-serving")
            with clerk.expect_navigation():
                accept.click()
            expect(clerk.locator("h1")).to_have_text("受理并登记办件")
            expect(clerk.locator("main")).to_contain_text("社会保障卡申领")

            # (d) a bad phone: refused in Chinese, and what was typed is still there
            clerk.fill("input[name=applicant_name]", "王小明")
            clerk.fill("input[name=applicant_phone]", "1380013")
            clerk.locator("input[name=materials][value='近期免冠一寸照片']").uncheck()
            clerk.fill("input[name=materials_extra]", "户口簿，结婚证")
            clerk.check("input[name=delivery_method][value=post]")
            clerk.fill("input[name=delivery_address]", "浙江省杭州市拱墅区湖墅南路88号")
            with clerk.expect_navigation():
                clerk.get_by_role("button", name="受理并登记办件").click()
            expect(clerk.locator(".alert-error")).to_have_text(
                "请填写申请人的 11 位手机号（用于查询进度和接收通知）"
            )
            expect(clerk.locator("input[name=applicant_name]")).to_have_value("王小明")
            expect(clerk.locator("input[name=applicant_phone]")).to_have_value("1380013")
            expect(clerk.locator("input[name=materials][value='居民身份证']")).to_be_checked()
            expect(
                clerk.locator("input[name=materials][value='近期免冠一寸照片']")
            ).not_to_be_checked()
            expect(clerk.locator("input[name=materials_extra]")).to_have_value("户口簿，结婚证")
            expect(clerk.locator("input[name=delivery_method][value=post]")).to_be_checked()
            expect(clerk.locator("input[name=delivery_address]")).to_have_value(
                "浙江省杭州市拱墅区湖墅南路88号"
            )
            chinese_only(clerk)
            b.shot(clerk, "flow-accept-bad-phone")

            # … corrected, the matter is registered and the window page names its number
            clerk.fill("input[name=applicant_phone]", APPLICANT_PHONE)
            with clerk.expect_navigation():
                clerk.get_by_role("button", name="受理并登记办件").click()
            expect(clerk).to_have_url(re.compile(rf"/halls/{HALL}/windows/1\?accepted=\d+$"))
            notice = clerk.locator("[data-matter-accepted]")
            expect(notice).to_contain_text("已受理，办件编号：")
            found = re.search(r"办件编号：(\d+)", notice.inner_text())
            assert found, notice.inner_text()
            number = found.group(1)
            b.shot(clerk, "flow-window-accepted")

            # (b) the department's handler takes it from the workbench to the courier
            handler = b.page()
            b.sign_in(handler, "handler", "/matters")
            row = handler.locator(f"tr[data-matter='{number}']")
            expect(row).to_contain_text("社会保障卡申领")
            expect(row).to_contain_text("已受理")
            with handler.expect_navigation():
                row.get_by_role("link", name=number).click()
            expect(handler.locator("h1")).to_contain_text(number)

            def act(name: str, **fields: str) -> None:
                form = handler.locator(f"form[data-action='{name}']")
                for field_name, value in fields.items():
                    form.locator(f"[name={field_name}]").fill(value)
                with handler.expect_navigation():
                    form.locator("button[type=submit]").click()
                expect(handler.locator(".alert-error")).to_have_count(0)

            act("review")
            expect(handler.locator("[data-matter-summary] [data-state]")).to_have_text("审查中")
            act("correction", materials="户口簿复印件，近期免冠一寸照片", note="照片为翻拍件")
            expect(handler.locator("[data-matter-summary] [data-state]")).to_have_text("待补正")
            expect(handler.locator("[data-clock=stopped]")).to_have_text("补正中（计时暂停）")
            expect(handler.locator("[data-timeline]")).to_contain_text("户口簿复印件")
            b.shot(handler, "flow-detail-correction")
            act("correction-received")
            expect(handler.locator("[data-clock=stopped]")).to_have_count(0)
            act("grant")
            expect(handler.locator("[data-matter-summary] [data-state]")).to_have_text("准予许可")
            act("certify")
            expect(handler.locator("[data-matter-summary] [data-state]")).to_have_text("制证中")
            with handler.expect_navigation():
                handler.locator("form[data-ship] button").click()
            expect(handler.locator(".alert-error")).to_have_count(0)
            expect(handler.locator("[data-matter-summary] [data-state]")).to_have_text("已寄出")
            parcel = handler.locator("[data-shipment]")
            waybill = parcel.get_attribute("data-shipment") or ""
            assert simulator.valid_waybill(waybill), waybill
            expect(parcel).to_contain_text(waybill)
            chinese_only(handler)
            b.shot(handler, "flow-detail-posted")

            # (c) the citizen follows it on a phone: a timeline, the latest step marked
            phone = b.page(phone=True)
            phone.goto(f"{server.url}/matters/track")
            phone.fill("input[name=number]", number)
            phone.fill("input[name=phone]", APPLICANT_PHONE)
            with phone.expect_navigation():
                phone.get_by_role("button", name="查询").click()
            track = phone.locator("[data-track]")
            expect(track).to_contain_text("社会保障卡申领")
            expect(track.locator("[data-state]")).to_have_text("已寄出")
            steps = track.locator(".tracker li")
            expect(steps.first).to_have_class(re.compile(r"\btracker-latest\b"))
            expect(steps.first).to_contain_text("结果已寄出")
            expect(steps.first).to_contain_text(waybill)
            expect(track.locator(".tracker-latest")).to_have_count(1)
            assert steps.count() >= 7  # accepted, review, 补正, review again, granted, 制证, posted
            expect(steps.last).to_contain_text("申请已受理")
            expect(track).to_contain_text("需补充：户口簿复印件、近期免冠一寸照片")
            expect(track).not_to_contain_text("照片为翻拍件")  # the department's note stays inside
            fits_the_phone(phone)
            chinese_only(phone)
            b.shot(phone, "flow-track-phone")

            # a wrong phone gets the same answer as an unknown number
            answers = []
            for wrong_number, wrong_phone in (
                (number, "13912345678"),
                ("20990101" + "9" * 7, APPLICANT_PHONE),
            ):
                phone.fill("input[name=number]", wrong_number)
                phone.fill("input[name=phone]", wrong_phone)
                with phone.expect_navigation():
                    phone.get_by_role("button", name="查询").click()
                expect(phone.locator("[data-track]")).to_have_count(0)
                answers.append(phone.locator(".alert-error").inner_text().strip())
            assert answers == [NO_MATCH, NO_MATCH], answers
            fits_the_phone(phone)
            b.shot(phone, "flow-track-no-match-phone")
        finally:
            b.close()
    assert b.errors == [], b.errors


@pytest.mark.timeout(300)
def test_every_matters_page_as_each_role_on_desktop_and_phone(server: Server) -> None:
    """Each page a role sees, in every state seeded: Chinese only, no wider than a phone."""
    from playwright.sync_api import expect, sync_playwright

    seeded = server.seeded

    def serve(clerk: Any) -> None:
        """The window signed in and a ticket being served (the flow may have done it)."""
        accept = clerk.locator("a[data-accept-matter]")
        sign_in = clerk.get_by_role("button", name="签入本窗口")
        call, start = (clerk.get_by_role("button", name=n) for n in ("叫下一号", "开始办理"))
        if sign_in.count():
            sign_in.click()
            expect(call).to_be_visible()
        if not accept.count() and not start.count():
            call.click()
        if not accept.count():
            start.click()
        expect(accept).to_be_visible()

    with sync_playwright() as pw:
        b = Browser(pw, server.url, server.shots)
        try:
            for viewport in ("desktop", "phone"):
                on_phone = viewport == "phone"

                def look(page: Any, name: str, viewport: str = viewport) -> None:
                    expect(page.locator("main")).to_be_visible()
                    (chinese_only if viewport == "desktop" else fits_the_phone)(page)
                    b.shot(page, f"{name}-{viewport}")

                handler = b.page(phone=on_phone)
                b.sign_in(handler, "handler", "/matters")
                rows = handler.locator("tr[data-matter]")
                # the overdue matter stands out; another department's is not on this workbench
                overdue = handler.locator(f"tr[data-matter='{seeded['overdue'][0]}']")
                expect(overdue).to_have_class(re.compile(r"\brow-alert\b"))
                expect(overdue.locator("[data-clock]")).to_have_text("逾期")
                expect(
                    handler.locator(f"tr[data-matter='{seeded['other-department'][0]}']")
                ).to_have_count(0)
                look(handler, "handler-workbench")
                handler.goto(f"{server.url}/matters?state=correction")
                expect(rows).to_have_count(1)
                look(handler, "handler-workbench-correction")
                for key in ("overdue", "correction", "transit", "delivered", "returned", "pickup"):
                    handler.goto(f"{server.url}/matters/{seeded[key][0]}")
                    expect(handler.locator("h1")).to_contain_text(seeded[key][0])
                    look(handler, f"handler-detail-{key}")
                handler.goto(f"{server.url}/matters/{seeded['transit'][0]}")
                with handler.expect_navigation():
                    handler.locator("[data-contact] button").click()
                expect(handler.locator("[data-contact]")).to_contain_text(seeded["transit"][1])
                look(handler, "handler-detail-contact-shown")
                handler.context.close()

                admin = b.page(phone=on_phone)
                b.sign_in(admin, "admin", "/matters")
                expect(
                    admin.locator(f"tr[data-matter='{seeded['other-department'][0]}']")
                ).to_have_count(1)
                expect(admin.locator("main")).to_contain_text("各部门在办的办件")
                expect(
                    admin.locator(f"tr[data-matter='{seeded['other-department'][0]}']")
                ).to_contain_text("市住房公积金管理中心")
                look(admin, "admin-workbench")
                admin.goto(f"{server.url}/matters/{seeded['other-department'][0]}")
                look(admin, "admin-detail-other-department")
                admin.context.close()

                citizen = b.page(phone=on_phone)
                citizen.goto(f"{server.url}/matters/track")
                look(citizen, "citizen-track-empty")
                for key in ("transit", "delivered", "returned", "correction", "pickup"):
                    number, phone = seeded[key]
                    citizen.goto(f"{server.url}/matters/track?number={number}&phone={phone}")
                    expect(citizen.locator("[data-track]")).to_be_visible()
                    expect(citizen.locator(".tracker-latest")).to_have_count(1)
                    look(citizen, f"citizen-track-{key}")
                number, phone = seeded["delivered"]
                citizen.goto(f"{server.url}/matters/track?number={number}&phone={phone}")
                expect(citizen.locator("form[data-rate]")).to_be_visible()
                expect(citizen.locator("[data-state]")).to_have_text("已送达")
                number, phone = seeded["returned"]
                citizen.goto(f"{server.url}/matters/track?number={number}&phone={phone}")
                expect(citizen.locator("[data-state]")).to_have_text("待领取")
                expect(citizen.locator(".tracker")).to_contain_text("退回")
                citizen.context.close()

                clerk = b.page(phone=on_phone)
                b.sign_in(clerk, "staff1", f"/halls/{HALL}/windows/1")
                serve(clerk)
                look(clerk, "clerk-window-serving")
                with clerk.expect_navigation():
                    clerk.locator("a[data-accept-matter]").click()
                expect(clerk.locator("form[data-accept-form]")).to_be_visible()
                look(clerk, "clerk-accept-form")
                clerk.context.close()
        finally:
            b.close()
    assert b.errors == [], b.errors
