"""The display board fits one screen with any number of items: 30 items at 1920×1080 and
1366×768, the footer on screen, the waiting list paged with the longest queues first."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hall import service
from govloop.hall.models import ServiceItem, Window, window_items
from govloop.org.models import Department, Hall
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server

pytestmark = pytest.mark.browser

ITEMS = 30


def _seed(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        dept = Department(code="D", name="市政务服务管理局")
        hall = Hall(code="BIG", name="市民服务中心", enforce_hours=False)
        s.add_all([dept, hall])
        s.flush()
        items = []
        for n in range(ITEMS):
            item = ServiceItem(
                code=f"I{n:02d}",
                name=f"事项名称较长的政务服务事项第{n + 1}项",
                department_id=dept.id,
                ticket_prefix=chr(ord("A") + n % 26),
                promised_minutes=10,
            )
            s.add(item)
            items.append(item)
        s.flush()
        # ten dedicated windows, three items each: a queue counts for the items sharing it
        for n in range(10):
            window = Window(hall_id=hall.id, number=n + 1, name="专窗", is_general=False)
            s.add(window)
            s.flush()
            for item in items[3 * n : 3 * n + 3]:
                s.execute(window_items.insert().values(window_id=window.id, item_id=item.id))
        # queues of different lengths: item 29 the longest, item 7 next
        for item, count in ((items[29], 6), (items[7], 3), (items[0], 1)):
            for _ in range(count):
                service.issue_ticket(session=s, hall=hall, item=item, channel="api")
    engine.dispose()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    url = f"sqlite:///{tmp_path_factory.mktemp('board') / 'govloop.db'}"
    _seed(url)
    with run_server(url, tmp_path_factory.getbasetemp() / "board.log") as started:
        yield started


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)])
def test_thirty_items_fit_the_screen_and_page_through(base: str, size: tuple[int, int]) -> None:
    from playwright.sync_api import expect, sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    width, height = size
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{base}/halls/BIG/display?rotate=3")
        page.wait_for_selector("[data-waiting-page]:not([hidden])")
        page.screenshot(path=str(SHOTS / f"display-30-items-{width}x{height}.png"))
        assert (
            page.eval_on_selector(".display-foot", "e => e.getBoundingClientRect().bottom")
            <= height
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        card_bottom = page.eval_on_selector(
            ".display-waiting", "e => e.getBoundingClientRect().bottom"
        )
        seen: list[str] = []
        pages = int(page.inner_text("[data-waiting-page]").split("/")[1])
        assert pages >= 2
        for n in range(pages):
            assert page.inner_text("[data-waiting-page]") == f"{n + 1}/{pages}"
            rows = page.locator("[data-waiting-items] tr:not([hidden])")
            bottoms = rows.evaluate_all("rs => rs.map(r => r.getBoundingClientRect().bottom)")
            assert bottoms and max(bottoms) <= card_bottom  # nothing cut off
            seen += rows.evaluate_all("rs => rs.map(r => r.textContent.trim())")
            page.evaluate("window.dispatchEvent(new Event('resize'))")  # no page change
            if n + 1 < pages:
                indicator = page.locator("[data-waiting-page]")
                expect(indicator).to_have_text(f"{n + 2}/{pages}", timeout=8_000)
        browser.close()
    assert len(seen) == ITEMS and len(set(seen)) == ITEMS  # every item, each once
    # the longest queues first: items 28–30 share window 10 with six waiting, items 7–9
    # window 3 with three
    assert [row[-1] for row in seen[:7]] == ["6", "6", "6", "3", "3", "3", "1"]
    assert "第28项" in seen[0] and "第7项" in seen[3]
    assert errors == []
