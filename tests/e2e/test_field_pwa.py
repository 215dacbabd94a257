"""The mobile workbench in real Chromium, on a phone-sized page: open a task and see its
case data (minimum necessary, masked), fill the form offline and watch it sync when the
network returns; then watch the device copy of a case disappear when its grant expires.

A real uvicorn server runs against a migrated temporary SQLite database seeded with the
field test world; the test reads the same database to check what reached the server.
Screenshots go to ``test-artifacts/screenshots/field-*.png``.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from govloop.access.models import Grant
from govloop.audit.models import AuditEntry
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.field.forms import MAX_PHOTO_BYTES
from govloop.field.models import FieldPhoto, FieldSubmission, FieldTask
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server
from tests.factories import PASSWORD
from tests.field.helpers import PERSON, make_world

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# reads the app's encrypted case store: what a thief with the phone's storage would see
READ_CASES = """() => new Promise((resolve) => {
  const req = indexedDB.open('govloop-field');
  req.onsuccess = () => {
    const db = req.result;
    if (!db.objectStoreNames.contains('cases')) { db.close(); resolve([]); return; }
    const q = db.transaction('cases').objectStore('cases').getAll();
    q.onsuccess = () => {
      db.close();
      resolve(q.result.map((r) => ({
        taskId: r.taskId,
        grantId: r.grantId,
        bytes: r.ct.byteLength,
        text: new TextDecoder('utf-8').decode(r.ct),
      })));
    };
  };
})"""

READ_DEVICE_ID = """() => new Promise((resolve) => {
  const req = indexedDB.open('govloop-field');
  req.onsuccess = () => {
    const q = req.result.transaction('meta').objectStore('meta').get('deviceId');
    q.onsuccess = () => { req.result.close(); resolve(q.result); };
  };
})"""


@dataclass
class Server:
    url: str
    engine: Engine
    visit_id: int
    inspection_id: int

    def session(self) -> Session:
        return sessionmaker(self.engine, expire_on_commit=False)()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    db_path = tmp_path_factory.mktemp("e2e-field") / "govloop.db"
    url = f"sqlite:///{db_path}"
    engine = make_engine(url)
    upgrade(engine)
    with sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        world = make_world(s)
        ids = (world.visit.id, world.inspection.id)
    with run_server(url, tmp_path_factory.getbasetemp() / "uvicorn-field.log") as base:
        yield Server(base, engine, ids[0], ids[1])
    engine.dispose()


def _camera_photo(path: Path) -> Path:
    """A 12-megapixel-like photo, far above what the server accepts: the app downscales."""
    rng = random.Random(3)
    image = Image.new("RGB", (2400, 1800), (120, 140, 160))
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.randrange(2400), rng.randrange(1800)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle([x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 200)], fill=colour)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95)
    path.write_bytes(buf.getvalue())
    return path


def _sign_in(browser, base: str):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        geolocation={"latitude": 30.27415, "longitude": 120.15515, "accuracy": 15},
        permissions=["geolocation"],
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/field/")
    page.fill("input[name=username]", "field1")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/field/")
    expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=15_000)
    return context, page, errors


def test_form_filled_offline_syncs_when_back_online(server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    photo = _camera_photo(tmp_path / "IMG_0001.jpg")
    assert photo.stat().st_size > MAX_PHOTO_BYTES
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context, page, errors = _sign_in(browser, server.url)
            expect(page.locator(".task")).to_have_count(2)
            expect(page.locator("h1")).to_have_text("我的任务")
            expect(page.locator("#net")).to_have_text("在线")
            page.screenshot(path=str(SHOTS / "field-tasks.png"), full_page=True)

            page.click(f"li[data-task='{server.visit_id}'] a")
            case = page.locator("[data-case][data-case-state='shown']")
            expect(case).to_contain_text(PERSON["name"])
            expect(case).to_contain_text("330106********002X")  # masked per policy
            expect(case).not_to_contain_text(PERSON["bank_card"])  # never granted
            stored = page.evaluate(READ_CASES)
            assert len(stored) == 1 and stored[0]["taskId"] == server.visit_id
            # the device copy is ciphertext: no name, no phone number in the bytes
            assert PERSON["name"] not in stored[0]["text"]
            assert PERSON["phone"] not in stored[0]["text"] and stored[0]["bytes"] > 100
            page.screenshot(path=str(SHOTS / "field-case.png"), full_page=True)
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")

            context.set_offline(True)
            expect(page.locator("#net")).to_have_text("离线")
            form = page.locator("#task-form")
            form.locator("select[name=met_in_person]").select_option("见到本人")
            form.locator("select[name=living_condition]").select_option("一般")
            form.locator("textarea[name=needs]").fill("希望社区提供助餐和定期体检服务")
            form.locator("input[name=safety_checked]").check()
            form.locator("input[data-photo=photos]").set_input_files(str(photo))
            expect(form.locator(".thumbs img")).to_have_count(1, timeout=10_000)
            form.get_by_role("button", name="获取当前位置").click()
            expect(form.locator("[data-location=location]")).to_contain_text("已定位 30.27415")
            page.screenshot(path=str(SHOTS / "field-form-offline.png"), full_page=True)
            form.get_by_role("button", name="提交并办结").click()

            expect(page.locator(".queued")).to_have_text("已保存在本机，等待同步")
            expect(page.locator("#queuebar [data-state=pending]")).to_have_text("待同步 1")
            with server.session() as s:
                assert s.scalars(select(FieldSubmission)).all() == []
            page.screenshot(path=str(SHOTS / "field-queued.png"), full_page=True)

            # the installed app still opens with no network: shell from the service worker,
            # task list and queue from the encrypted IndexedDB stores
            page.reload()
            expect(page.locator("body[data-ready='1']")).to_be_attached(timeout=10_000)
            expect(page.locator("#net")).to_have_text("离线")
            expect(page.locator("[data-case-state=locked]")).to_contain_text("密钥只保存在内存中")
            expect(page.locator("#queuebar [data-state=pending]")).to_have_text("待同步 1")
            expect(page.locator("#task-form")).to_have_count(0)  # already recorded, once
            page.screenshot(path=str(SHOTS / "field-offline-reload.png"), full_page=True)

            context.set_offline(False)
            expect(page.locator("#queuebar [data-state=synced]")).to_have_text(
                "已同步 1", timeout=10_000
            )
            expect(page.locator("[data-case-state=wiped]")).to_contain_text("任务已办结")
            assert page.evaluate(READ_CASES) == []
            page.screenshot(path=str(SHOTS / "field-synced.png"), full_page=True)
            with server.session() as s:
                sub = s.scalars(select(FieldSubmission)).one()
                assert sub.status == "stored" and sub.data["met_in_person"] == "见到本人"
                assert sub.location == {
                    "location": {
                        "source": "gps",
                        "lat": 30.27415,
                        "lng": 120.15515,
                        "accuracy": 15.0,
                    }
                }
                photo_row = s.scalars(select(FieldPhoto)).one()
                assert photo_row.size <= 200 * 1024 and photo_row.content[:2] == b"\xff\xd8"
                assert s.get(FieldTask, server.visit_id).status == "done"  # type: ignore[union-attr]

            # sign-out wipes the device (the app's own cleanup, then Clear-Site-Data)
            page.click("#logout")
            page.wait_for_url(f"{server.url}/login?next=/field/")
            assert page.evaluate(READ_CASES) == []
            assert page.evaluate("navigator.serviceWorker.getRegistrations()") == []
            assert errors == []
        finally:
            browser.close()


def test_case_data_disappears_when_the_grant_expires(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context, page, errors = _sign_in(browser, server.url)
            page.click(f"li[data-task='{server.inspection_id}'] a")
            expect(page.locator("[data-case-state='shown']")).to_contain_text("杭州鑫源餐饮")
            assert len(page.evaluate(READ_CASES)) == 1

            # the grant's time limit passes on the server
            with server.session() as s, s.begin():
                grant = s.scalars(
                    select(Grant).where(
                        Grant.case_id == server.inspection_id, Grant.status == "active"
                    )
                ).one()
                grant.expires_at = datetime.now(UTC) - timedelta(seconds=1)
                grant_id = grant.id
            # the app re-checks its grants whenever the network comes back
            context.set_offline(True)
            context.set_offline(False)
            wiped = page.locator("[data-case-state=wiped]")
            expect(wiped).to_have_text("授权已结束，本机上的办件数据已清除。", timeout=10_000)
            assert page.evaluate(READ_CASES) == []
            page.screenshot(path=str(SHOTS / "field-grant-expired.png"), full_page=True)
            with server.session() as s:
                assert s.get(Grant, grant_id).end_reason == "expired"  # type: ignore[union-attr]
            page.wait_for_timeout(300)  # the purge confirmation is sent in the background
            with server.session() as s:
                purged = s.scalars(
                    select(AuditEntry).where(AuditEntry.action == "purge_confirmed")
                ).all()
                assert [p.case_id for p in purged][-1] == server.inspection_id

            # a manager revokes the phone on the device page: the app is refused and wipes itself
            device_id = page.evaluate(READ_DEVICE_ID)
            desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            manager = desk.new_page()
            manager.goto(f"{server.url}/login?next=/field/devices")
            manager.fill("input[name=username]", "fieldmgr")
            manager.fill("input[name=password]", PASSWORD)
            manager.click("main button[type=submit]")
            row = manager.locator(f"tr[data-device-id='{device_id}']")
            expect(row).to_contain_text("使用中")
            manager.screenshot(path=str(SHOTS / "field-devices.png"), full_page=True)
            row.get_by_role("button", name="停用").click()
            expect(row).to_contain_text("已停用")
            page.reload()
            expect(page.locator("#banner")).to_have_text("本设备已被管理员停用，本机数据已清除。")
            page.screenshot(path=str(SHOTS / "field-revoked.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
