"""Going live, only through the browser: an empty database and a first administrator made
by ``govloop init``; the administrator uploads a 事项清单 workbook, adds a window and an
item by hand, sets a quota, opens today in the hall's calendar and creates a clerk and a
manager; a kiosk issues a ticket for the new item, the clerk (after replacing the one-time
password) calls and finishes it at the new window, and the manager's live page counts it.

Screenshots of the console pages (desktop and phone) go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from govloop.core.clock import local_today
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server
from tests.setup.workbooks import with_rows, workbook

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "First-Key-2026"
# open around the clock, every day: the test may run at any hour
HALLS = [("CITY", "市民中心政务服务大厅", "市民大道 1 号", "00:00-23:59", "周六,周日")]
WINDOWS = [("CITY", 1, "综合受理 1 号窗", "综合", "SB01,GA01")]


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    folder = tmp_path_factory.mktemp("golive")
    url = f"sqlite:///{folder / 'govloop.db'}"
    env = {"GOVLOOP_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    init = subprocess.run(
        [sys.executable, "-m", "govloop.cli", "init", "--username", "admin", "--password-stdin"],
        input=ADMIN_PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    assert "已创建管理员 admin" in init.stdout
    again = subprocess.run(
        [sys.executable, "-m", "govloop.cli", "init", "--password-stdin"],
        input=ADMIN_PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1 and "已有用户" in again.stdout
    book = folder / "事项清单.xlsx"
    book.write_bytes(workbook(with_rows(HALLS=HALLS, WINDOWS=WINDOWS, QUOTAS=[], USERS=[])))
    with run_server(url, folder / "uvicorn.log") as base:
        yield base, book


def test_a_centre_goes_live_from_an_empty_database(empty_server: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, book = empty_server
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def new_page(width: int, height: int):  # type: ignore[no-untyped-def]
            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
            return page

        def sign_in(page, username: str, password: str, next_path: str) -> None:  # type: ignore[no-untyped-def]
            page.goto(f"{base}/login?next={next_path}")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.get_by_role("button", name="登录").click()

        def save_row(page, kind: str, values: dict[int, str], selects: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
            page.goto(f"{base}/admin/config/{kind}")
            for index, value in values.items():
                page.fill(f"[data-row-form] [name=col{index}]", value)
            for index, value in selects.items():
                page.select_option(f"[data-row-form] [name=col{index}]", value)
            page.locator("[data-row-form] button[type=submit]").click()

        try:
            admin = new_page(1440, 1000)
            sign_in(admin, "admin", ADMIN_PASSWORD, "/admin")
            expect(admin).to_have_url(re.compile(r"/admin$"))
            expect(admin.locator("body")).to_contain_text("尚未配置任何内容")

            # the whole catalogue from one workbook
            admin.goto(f"{base}/admin/catalogue")
            admin.set_input_files("input[name=files]", str(book))
            admin.get_by_role("button", name="检查并导入").click()
            expect(admin.locator("[data-imported=applied]")).to_be_visible()
            expect(admin.locator("[data-sheet=事项]")).to_contain_text("2")
            admin.screenshot(path=str(SHOTS / "console-import.png"), full_page=True)

            # one item and one window by hand, a quota, today open in the hall's calendar
            save_row(
                admin,
                "items",
                {
                    0: "SB02",
                    1: "失业保险金申领",
                    2: "RSJ",
                    3: "C",
                    4: "15",
                    5: "5",
                    6: "20",
                    7: "不收费",
                    8: "身份证；离职证明",
                },
                {9: "是"},
            )
            expect(admin.locator("[data-notice]")).to_contain_text("已保存")
            expect(admin.locator("[data-rows=items]")).to_contain_text("失业保险金申领")
            admin.screenshot(path=str(SHOTS / "console-items.png"), full_page=True)
            save_row(admin, "windows", {1: "2", 2: "失业保险专窗", 4: "SB02"}, {3: "专窗"})
            expect(admin.locator("[data-rows=windows]")).to_contain_text("失业保险专窗")
            save_row(admin, "quotas", {1: "SB02", 3: "09:00-09:30", 4: "4"}, {2: "周一"})
            expect(admin.locator("[data-rows=quotas]")).to_contain_text("SB02")
            admin.goto(f"{base}/admin/config/halls")
            calendar = admin.locator("[data-calendar=CITY]")
            calendar.locator("[name=extra]").fill(local_today().isoformat())
            calendar.get_by_role("button", name="保存").click()
            expect(admin.locator("[data-notice]")).to_contain_text("已保存")

            # staff: a clerk and a manager, each with a one-time password shown once
            passwords = {}
            for username, name, role in (
                ("clerk9", "赵晓", "window_staff"),
                ("boss9", "钱敏", "hall_manager"),
            ):
                save_row(admin, "users", {0: username, 1: name, 3: "RSJ"}, {2: role, 4: "CITY"})
                passwords[username] = admin.locator(f"[data-password={username}]").inner_text()
            admin.screenshot(path=str(SHOTS / "console-users.png"), full_page=True)
            admin.goto(f"{base}/admin")
            expect(admin.locator("[data-count=item] .kpi-num")).to_have_text("3")
            expect(admin.locator("[data-changes]")).to_contain_text("失业保险金申领")
            admin.screenshot(path=str(SHOTS / "console.png"), full_page=True)
            phone = new_page(390, 844)
            sign_in(phone, "admin", ADMIN_PASSWORD, "/admin/config/windows")
            phone.screenshot(path=str(SHOTS / "console-windows-phone.png"), full_page=True)

            # a citizen takes a ticket for the item added by hand
            kiosk = new_page(1366, 1024)
            kiosk.goto(f"{base}/halls/CITY/kiosk")
            kiosk.locator("button[data-item-code='SB02']").click()
            slip = kiosk.locator("#slip-modal .slip-code")
            expect(slip).to_be_visible(timeout=10_000)
            code = slip.inner_text().strip()
            assert re.fullmatch(r"C\d{3}", code), code

            # the clerk replaces the one-time password, then serves it at the new window
            clerk = new_page(1366, 900)
            sign_in(clerk, "clerk9", passwords["clerk9"], "/halls/CITY/windows/2")
            expect(clerk).to_have_url(re.compile(r"/account/password"))
            clerk.screenshot(path=str(SHOTS / "password-change.png"))
            clerk.fill("input[name=current]", passwords["clerk9"])
            clerk.fill("input[name=new]", "clerk-Own-2026")
            clerk.fill("input[name=repeat]", "clerk-Own-2026")
            clerk.get_by_role("button", name="保存新密码").click()
            expect(clerk).to_have_url(re.compile(r"/halls/CITY/windows/2$"))
            clerk.get_by_role("button", name="签入本窗口").click()
            clerk.get_by_role("button", name="叫下一号").click()
            expect(clerk.locator(".current-code")).to_have_text(code)
            clerk.get_by_role("button", name="开始办理").click()
            clerk.get_by_role("button", name="办结", exact=True).click()
            expect(clerk.locator(".notice")).to_contain_text(f"{code} 已办结")

            # the manager's live page counts it
            manager = new_page(1440, 1000)
            sign_in(manager, "boss9", passwords["boss9"], "/halls/CITY/manage")
            manager.fill("input[name=current]", passwords["boss9"])
            manager.fill("input[name=new]", "boss-Own-2026")
            manager.fill("input[name=repeat]", "boss-Own-2026")
            manager.get_by_role("button", name="保存新密码").click()
            expect(manager).to_have_url(re.compile(r"/halls/CITY/manage$"))
            finished = manager.locator(".kpi", has_text="今日办结").locator(".kpi-num")
            expect(finished).to_have_text("1")
            manager.screenshot(path=str(SHOTS / "golive-manager.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
