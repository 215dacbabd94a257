"""End to end in real Chromium: the administrator's 短信/通知记录 page and the citizen's
messages with the opt-out on /my-data, on a desktop and a phone-sized screen. Every status
is in words, recipients are masked and the simulated gateway is said plainly.

Screenshots go to ``test-artifacts/screenshots/notify-*.png`` and ``my-data-*.png``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from govloop.core.auth import create_user
from govloop.core.clock import frozen
from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.core.migrate import upgrade
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, SHOTS, free_port
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

ID = "11010519491231002X"
PHONE = "13800138000"
SCREENS = {"desktop": (1366, 900), "phone": (390, 844)}
PARAMS: dict[str, dict[str, str]] = {
    "matter_accepted": {"number": "BJ20261205-0012", "item": "社会保障卡申领", "due": "12月11日"},
    "matter_ready": {"number": "BJ20261205-0012", "item": "社会保障卡申领", "hall": "市民中心"},
    "order_accepted": {"number": "20261206-0031"},
    "waybill_sent": {"number": "BJ20261204-0007", "courier": "顺丰速运", "waybill": "SF1234567890"},
    "staff_order_dispatched": {
        "number": "20261206-0031",
        "category": "噪声扰民",
        "department": "城管局",
        "due": "12月8日",
    },
}


def app_factory() -> Any:
    """The application with the notification service mounted (once app.py mounts it, as is)."""
    from govloop.app import create_app
    from govloop.notify import web as notify_web

    app = create_app(run_jobs=False)
    if not any(getattr(r, "path", "") == "/notify/log" for r in app.routes):
        for router in notify_web.ROUTERS:
            app.include_router(router)
    return app


def _seed(url: str) -> None:
    from govloop.notify import dispatch, outbox
    from govloop.notify.models import Notification
    from govloop.subjects.models import SubjectMaster

    engine = make_engine(url)
    upgrade(engine)
    set_engine(engine)
    try:
        with unit_of_work() as s:
            create_user(session=s, username="admin", password=PASSWORD, role="admin")
            attributes = {"name": "张三", "id_number": ID, "phone": PHONE}
            s.add(
                SubjectMaster(
                    kind="person",
                    identifier=ID,
                    display_name="张三",
                    attributes=attributes | {"email": "zhangsan@example.cn"},
                    provenance={},
                )
            )
        rows = [
            ("matter_accepted", PHONE, "sms"),
            ("order_accepted", "zhangsan@example.cn", "email"),
            ("matter_ready", PHONE, "sms"),
            ("staff_order_dispatched", "13700001111", "sms"),
            ("waybill_sent", "13612340000", "sms"),
        ]
        ids = []
        with frozen(datetime.now(UTC) - timedelta(hours=12)) as clock:
            for i, (template, to, channel) in enumerate(rows):
                with unit_of_work() as s:
                    n = outbox.enqueue(
                        session=s,
                        event_key=f"e2e:{i}",
                        template=template,
                        to=to,
                        params=PARAMS[template],
                        channel=channel,
                    )
                    ids.append(n.id)
                clock.advance(hours=2)
            dispatch.drain()
        with unit_of_work() as s:
            for i in (0, 1, 3):
                n = s.get(Notification, ids[i])
                n.status, n.delivered_at = "delivered", n.sent_at
            dead = s.get(Notification, ids[4])
            dead.status, dead.reason = "dead", "rejected"
            dead.last_error = "HTTP 403: the gateway refused the number"
    finally:
        set_engine(None)
        engine.dispose()


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    folder = tmp_path_factory.mktemp("e2e-notify")
    url = f"sqlite:///{folder / 'govloop.db'}"
    _seed(url)
    port = free_port()
    env = {
        **os.environ,
        "GOVLOOP_DATABASE_URL": url,
        "GOVLOOP_ENVIRONMENT": "development",
        "GOVLOOP_SMS_GATEWAY": "simulated",
        "GOVLOOP_EMAIL_GATEWAY": "simulated",
    }
    with (folder / "uvicorn.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.e2e.test_notify_pages:app_factory",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120  # a busy machine starts slowly
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start (exit {proc.poll()}), see {log.name}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


CODES = re.compile(r"\b(queued|sent|delivered|dead|suppressed|rejected|order_accepted|sms)\b")


def test_the_log_and_the_tracker_on_desktop_and_phone(base_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for screen, (width, height) in SCREENS.items():
            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base_url}/login?next=/notify/log")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page).to_have_url(re.compile(r"/notify/log$"))
            expect(page.locator('[data-gateway="sms"]')).to_contain_text("模拟网关")
            expect(page.locator("[data-dead-list]")).to_contain_text("被网关拒收")
            text = page.locator("main, body").first.inner_text()
            assert "138****8000" in text and PHONE not in text
            assert not CODES.search(text.replace("https://", "")), CODES.search(text)
            page.screenshot(path=str(SHOTS / f"notify-log-{screen}.png"), full_page=True)
            if screen == "phone":  # the last pass: send the dead letter again
                page.locator("[data-dead] button").first.click()
                expect(page.locator("[data-notice]")).to_contain_text("已重新排队")
            context.close()

            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{base_url}/my-data")
            page.fill("input[name=id_number]", ID)
            page.fill("input[name=name]", "张三")
            page.fill("input[name=phone]", PHONE)
            page.locator("form.card button[type=submit]").click()
            messages = page.locator("[data-messages]")
            expect(messages).to_contain_text("结果可领取")
            expect(messages).to_contain_text("已送达")
            expect(messages).to_contain_text("z***@example.cn")
            assert "13700001111" not in page.content() and "137****1111" not in page.content()
            page.screenshot(path=str(SHOTS / f"my-data-{screen}.png"), full_page=True)
            page.locator('form[data-choice="sms"] button').click()
            expect(page.locator("[data-notice]")).to_have_text("已退订短信通知")
            expect(page.locator('form[data-choice="sms"]')).to_have_attribute(
                "data-opted-out", "yes"
            )
            page.locator('form[data-choice="sms"] button').click()
            expect(page.locator("[data-notice]")).to_have_text("已恢复接收短信通知")
            context.close()
        browser.close()
    assert errors == []
