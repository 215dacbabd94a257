"""End to end in real Chromium: a citizen takes a ticket at the kiosk, window staff call it,
and the display board shows the call.

A real uvicorn server runs in a subprocess on a free loopback port against a migrated
temporary SQLite database with a small demo-like hall. Screenshots of every page go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time as clock_time

import pytest
from sqlalchemy.orm import sessionmaker

from govloop.core import calendar
from govloop.core.auth import Role
from govloop.core.clock import local_today
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.hall.models import AppointmentQuota, ServiceItem, Window, window_items
from govloop.org.models import Department, Hall
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser

HALL = "DEMO"

# item code → (name, prefix, department)
ITEMS = {
    "SB-CARD": ("社会保障卡申领", "A", "人社"),
    "SB-PENSION": ("养老保险关系转移", "A", "人社"),
    "BDC-REG": ("不动产登记", "B", "自然资源"),
    "GJJ-DRAW": ("住房公积金提取", "C", "公积金"),
    "CRJ-PASS": ("出入境证件办理", "D", "公安"),
}
DEPARTMENTS = {
    "人社": "市人力资源和社会保障局",
    "自然资源": "市自然资源和规划局",
    "公积金": "市住房公积金管理中心",
    "公安": "市公安局出入境管理支队",
}
WINDOWS: dict[int, list[str] | None] = {
    1: ["SB-CARD", "SB-PENSION"],
    2: ["BDC-REG"],
    3: ["GJJ-DRAW"],
    4: ["CRJ-PASS"],
    5: None,
}


@dataclass
class Server:
    url: str
    booking_day: str


def _seed(url: str) -> str:
    """A demo-like hall; returns a bookable working day (ISO)."""
    engine = make_engine(url)
    upgrade(engine)
    make_session = sessionmaker(engine, expire_on_commit=False)
    with make_session() as s, s.begin():
        depts = {}
        for key, name in DEPARTMENTS.items():
            depts[key] = Department(code=key, name=name)
            s.add(depts[key])
        s.flush()
        hall = Hall(code=HALL, name="市民服务中心", enforce_hours=False)
        s.add(hall)
        items = {}
        for code, (name, prefix, dept) in ITEMS.items():
            items[code] = ServiceItem(
                code=code,
                name=name,
                department_id=depts[dept].id,
                ticket_prefix=prefix,
                promised_minutes=12,
            )
            s.add(items[code])
        s.flush()
        for number, codes in WINDOWS.items():
            window = Window(
                hall_id=hall.id,
                number=number,
                name=f"{number}号窗口",
                is_general=codes is None,
            )
            s.add(window)
            s.flush()
            for c in codes or []:
                s.execute(window_items.insert().values(window_id=window.id, item_id=items[c].id))
        for code in ITEMS:
            for start, end in ((clock_time(9), clock_time(10)), (clock_time(14), clock_time(15))):
                s.add(
                    AppointmentQuota(
                        hall_id=hall.id,
                        item_id=items[code].id,
                        weekday=None,
                        slot_start=start,
                        slot_end=end,
                        capacity=5,
                    )
                )
        make_user(s, "staff1")
        make_user(s, "manager", Role.HALL_MANAGER)
        for number in (2, 3):
            colleague = make_user(s, f"staff{number}")
            hall_windows.sign_in(session=s, hall=hall, window_number=number, actor=colleague)
        # Some citizens are already waiting for the other windows.
        for code in ("BDC-REG", "BDC-REG", "GJJ-DRAW", "CRJ-PASS"):
            service.issue_ticket(session=s, hall=hall, item=items[code], channel="api")
    engine.dispose()
    return calendar.next_workday(local_today()).isoformat()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    db_path = tmp_path_factory.mktemp("e2e") / "govloop.db"
    url = f"sqlite:///{db_path}"
    booking_day = _seed(url)
    with run_server(url, tmp_path_factory.getbasetemp() / "uvicorn.log") as base:
        yield Server(url=base, booking_day=booking_day)


def test_kiosk_ticket_is_called_and_shown_on_the_display(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    base = server.url

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
        )

        def new_page(width: int, height: int):  # type: ignore[no-untyped-def]
            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            return page

        try:
            # The display board, connected to the live feed.
            display = new_page(1920, 1080)
            display.goto(f"{base}/halls/{HALL}/display")
            expect(display.locator("[data-live-status].live-ok")).to_be_visible(timeout=10_000)
            expect(display.locator(".display-call-text")).to_have_text("请耐心等候叫号")

            # A citizen takes a ticket at the kiosk, in the priority lane.
            kiosk = new_page(1366, 1024)
            kiosk.goto(f"{base}/halls/{HALL}/kiosk")
            expect(kiosk.get_by_text("请点击要办理的事项取号")).to_be_visible()
            kiosk.screenshot(path=str(SHOTS / "kiosk.png"), full_page=True)
            kiosk.locator(".lane-option", has_text="老年人").click()
            kiosk.locator("button[data-item-code='SB-CARD']").click()
            slip = kiosk.locator("#slip-modal .slip-code")
            expect(slip).to_be_visible(timeout=10_000)
            code = slip.inner_text().strip()
            assert re.fullmatch(r"A\d{3}", code), code
            expect(kiosk.locator("#slip-modal")).to_contain_text("社会保障卡申领")
            expect(kiosk.locator("#slip-modal")).to_contain_text("预计等候")
            expect(kiosk.locator("#slip-modal .slip-qr svg")).to_be_visible()
            kiosk.wait_for_timeout(400)  # the dialog's entry animation
            kiosk.screenshot(path=str(SHOTS / "slip.png"))
            short_link = kiosk.locator("#slip-modal .slip-url").get_attribute("href")
            assert short_link and short_link.startswith("/t/")
            kiosk.locator("#slip-modal button[data-close-slip]").click()
            expect(kiosk.locator("#slip-modal")).to_be_hidden()

            # A refused request shows the server's message in the dialog; nothing is issued.
            kiosk.locator("button[data-item-code='CRJ-PASS']").evaluate("b => b.value = 'NOPE'")
            kiosk.locator("button[data-item-code='CRJ-PASS']").click()
            expect(kiosk.locator("#slip-modal .alert-error")).to_have_text("未找到事项：NOPE")
            kiosk.locator("#slip-modal button[data-close-slip]").click()

            # Window staff sign in, sign in to window 1 and call the ticket.
            staff = new_page(1366, 900)
            staff.goto(f"{base}/halls/{HALL}/windows/1")
            expect(staff).to_have_url(re.compile(r"/login\?next="))
            staff.fill("input[name=username]", "staff1")
            staff.fill("input[name=password]", PASSWORD)
            staff.screenshot(path=str(SHOTS / "login.png"))
            staff.get_by_role("button", name="登录").click()
            expect(staff).to_have_url(re.compile(rf"/halls/{HALL}/windows/1$"))
            staff.get_by_role("button", name="签入本窗口").click()
            call_button = staff.get_by_role("button", name="叫下一号")
            expect(call_button).to_be_enabled()
            started = time.monotonic()
            call_button.click()
            expect(staff.locator(".current-code")).to_have_text(code)

            expected = f"请 {code} 号到 1 号窗口"
            expect(display.locator("[data-current-call]")).to_have_text(expected, timeout=5_000)
            latency = time.monotonic() - started
            # From the click (which includes the window's own request) to the board: the
            # live feed itself wakes within 0.25 s of the commit.
            assert latency < 3.0, f"display showed the call after {latency:.2f}s"
            expect(display.locator("[data-recent-calls] tr").first).to_contain_text(code)
            expect(display.locator(".window-tile.state-serving .window-code")).to_have_text(code)
            staff.screenshot(path=str(SHOTS / "window.png"), full_page=True)
            display.screenshot(path=str(SHOTS / "display.png"))

            # The citizen's phone shows where to go.
            phone = new_page(390, 844)
            phone.goto(f"{base}{short_link}")
            expect(phone.locator(".callout-go")).to_contain_text(expected)
            phone.screenshot(path=str(SHOTS / "my-ticket.png"), full_page=True)

            # Staff start serving; the phone updates by itself.
            staff.get_by_role("button", name="开始办理").click()
            expect(phone.locator(".callout-info")).to_contain_text(
                "正在 1 号窗口办理", timeout=8_000
            )
            expect(phone.locator(".callout-go")).to_have_count(0)

            # Errors from HTMX actions appear as a toast with the service's message.
            staff.get_by_role("button", name="办结", exact=True).click()
            expect(staff.locator(".notice")).to_contain_text(f"{code} 已办结")
            staff.evaluate(
                "() => htmx.ajax('POST', location.pathname + '/recall',"
                " {target: '#window-panel', swap: 'outerHTML'})"
            )
            expect(staff.locator(".toast-error")).to_contain_text("窗口当前没有叫到的号")

            # Another citizen follows a ticket by its link and gives it up there; by its
            # number alone the page only shows where it stands.
            kiosk.locator("button[data-item-code='GJJ-DRAW']").click()
            expect(slip).to_be_visible(timeout=10_000)
            other = slip.inner_text().strip()
            other_link = kiosk.locator("#slip-modal .slip-url").get_attribute("href")
            kiosk.locator("#slip-modal button[data-close-slip]").click()
            by_number = new_page(390, 844)
            by_number.goto(f"{base}/halls/{HALL}/my-ticket?code={other}")
            expect(by_number.locator(".ticket-panel[data-status=waiting]")).to_be_visible()
            expect(by_number.locator("[data-cancel-ticket]")).to_have_count(0)
            for width, height, name in ((1440, 900, "desktop"), (390, 844, "phone")):
                mine = new_page(width, height)
                mine.goto(f"{base}{other_link}")
                expect(mine.locator("[data-cancel-ticket]")).to_be_visible()
                mine.screenshot(path=str(SHOTS / f"my-ticket-waiting-{name}.png"), full_page=True)
            mine.once("dialog", lambda dialog: dialog.accept())
            mine.locator("[data-cancel-ticket]").click()
            expect(mine.locator(".ticket-panel[data-status=cancelled]")).to_contain_text(
                "取号人本人取消"
            )
            mine.screenshot(path=str(SHOTS / "my-ticket-cancelled.png"), full_page=True)
            # The other page following that ticket learns it by itself.
            expect(by_number.locator(".ticket-panel[data-status=cancelled]")).to_be_visible(
                timeout=8_000
            )

            # The hall manager's console, with both charts drawn.
            manager = new_page(1440, 1000)
            manager.goto(f"{base}/login?next=/halls/{HALL}/manage")
            manager.fill("input[name=username]", "manager")
            manager.fill("input[name=password]", PASSWORD)
            manager.get_by_role("button", name="登录").click()
            expect(manager).to_have_url(re.compile(rf"/halls/{HALL}/manage$"))
            expect(manager.locator("#chart-waiting svg")).to_be_visible(timeout=10_000)
            expect(manager.locator("#chart-arrivals svg")).to_be_visible()
            expect(manager.locator(".kpis")).to_contain_text("等候人数")
            manager.wait_for_timeout(600)  # let the charts' entry animation finish
            manager.screenshot(path=str(SHOTS / "manager.png"), full_page=True)

            # Booking an appointment for the next working day.
            citizen = new_page(1280, 900)
            citizen.goto(f"{base}/halls/{HALL}/appointments?item=SB-CARD&day={server.booking_day}")
            expect(citizen.locator(".slot").first).to_contain_text("09:00")
            citizen.locator(".slot").first.click()
            citizen.fill("input[name=name]", "张三")
            citizen.fill("input[name=phone]", "13800138000")
            citizen.screenshot(path=str(SHOTS / "appointments.png"), full_page=True)
            citizen.get_by_role("button", name="确认预约").click()
            expect(citizen.locator("[data-appointment-code]")).to_have_text(
                re.compile(r"^[0-9A-F]{8}$")
            )
            citizen.screenshot(path=str(SHOTS / "appointment-booked.png"), full_page=True)
            booked = citizen.locator("[data-appointment-code]").inner_text().strip()

            # Checking in at the kiosk on the wrong day is refused with the reason.
            kiosk.get_by_role("tab", name="预约签到").click()
            for key in booked:
                kiosk.locator(f".keypad[data-keypad='#checkin-code'] [data-key='{key}']").click()
            expect(kiosk.locator("#checkin-code")).to_have_value(booked)
            kiosk.screenshot(path=str(SHOTS / "kiosk-check-in.png"))
            kiosk.get_by_role("button", name="签到", exact=True).click()
            expect(kiosk.locator("#slip-modal .alert-error")).to_contain_text("请当天签到")

            english = new_page(1366, 1024)
            english.goto(f"{base}/lang/en?next=/halls/{HALL}/kiosk")
            expect(english.get_by_text("Tap the service you came for")).to_be_visible()
            english.screenshot(path=str(SHOTS / "kiosk-en.png"), full_page=True)

            home = new_page(1280, 900)
            home.goto(f"{base}/")
            expect(home.locator(".hall-card").first).to_contain_text("市民服务中心")
            expect(home.locator(".hotline-card")).to_contain_text("政务服务便民热线")
            home.screenshot(path=str(SHOTS / "home.png"), full_page=True)
        finally:
            browser.close()

    assert errors == [], errors
