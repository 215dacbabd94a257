"""Every page under the strict Content-Security-Policy, in real Chromium, for every role.

The demo builders seed a small realistic world (a fortnight of hall history, a week of
12345 orders, the data platform, purpose-bound access and the field workbench) plus a
little of today (tickets waiting, windows calling). A real uvicorn server serves it. The
anonymous citizen visits the public pages; each demo role signs in and visits the pages its
navigation reaches (the top navigation and the home page's tiles, then one page of each
kind linked from those; the public pages, the same for staff apart from the header, are
left to the citizen). Some pages are also used: the citizen takes a ticket at the kiosk,
books an appointment, follows the ticket, opens a rating link, tracks a hotline request,
reports one online (answers from the knowledge base shown while typing) and asks who used
their data; window staff identify the applicant (case data), a hotline agent types a
report (routing and answers suggested), the data steward opens a tag and a dead letter,
field staff open a task.

On every page the test collects ``securitypolicyviolation`` events (an init script records
them to ``window`` and reports them to the test), console errors, uncaught page errors and
failed same-origin requests. It fails listing every page with a CSP violation, a 5xx answer
or a use that did not work; the rest (4xx, console errors, a page wider than the phone) is
printed. Desktop (1440×900) and phone (390×844) screenshots of each page go to
``test-artifacts/screenshots/csp-sweep/``, the server's log to
``test-artifacts/csp-sweep-uvicorn.log``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from govloop.hall import windows as hall_windows
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SHOTS, run_server

pytestmark = pytest.mark.browser

SEED = 2026
HALL_DAYS = 16  # two working weeks: the forecast and staffing pages need ten open days
HOTLINE_DAYS = 7
SWEEP_SHOTS = SHOTS / "csp-sweep"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
MAX_SHOT_HEIGHT = 4000  # px of a long page worth looking at

# label, demo username (None: an anonymous citizen), pages to start from besides "/"
ROLES: list[tuple[str, str | None, tuple[str, ...]]] = [
    ("citizen", None, ()),
    ("window-staff", "staff02", ("/halls/DEMO/windows/2", "/halls/DEMO/windows/2/pad")),
    ("hall-manager", "manager", ()),
    ("hotline-agent", "agent1", ()),
    ("department-handler", "dept-cg", ()),
    ("data-steward", "steward", ()),
    ("auditor", "auditor", ()),
    ("field-staff", "field1", ("/field/",)),
    ("admin", "admin", ()),
]
DEPTH = 2  # "/" is 0; the navigation is 1; one page of each kind it links to is 2
SKIP = re.compile(
    r"^/(api|static|lang|logout|docs|redoc)(/|$)|\.(xlsx|pdf|csv|json|webmanifest|js)$"
)
INIT_SCRIPT = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  const entry = `${e.effectiveDirective} blocked ${e.blockedURI || '(inline)'}`
    + ` at ${e.sourceFile || '?'}:${e.lineNumber}` + (e.sample ? ` «${e.sample}»` : '');
  window.__csp.push(entry);
  if (window.__cspReport) window.__cspReport(entry);
});
"""


def kind_of(path: str) -> str:
    """One page of each kind: numbers, dotted keys and device codes are placeholders."""
    parts = []
    for part in path.strip("/").split("/"):
        if re.fullmatch(r"\d+|[\w-]*\.[\w.-]+|[A-Z0-9]+(-[A-Z0-9]+)+", part):
            part = "{id}"
        parts.append(part)
    return "/" + "/".join(parts)


@dataclass
class Citizen:
    ticket: str  # public id of a ticket waiting today
    finished: str  # public id of a finished, unrated visit
    order: tuple[str, str]  # hotline order number and phone, answered and not rated
    person: tuple[str, str, str]  # id number, name, phone with entries in /my-data


def _seed(url: str) -> Citizen:
    from govloop.core.clock import now
    from govloop.core.db import make_engine
    from govloop.core.migrate import upgrade
    from govloop.demo.hall import seed as hall_demo
    from govloop.demo.hotline import seed as hotline_demo
    from govloop.demo.platform import STEPS
    from govloop.hall import service
    from govloop.hall.models import Ticket, TicketStatus
    from govloop.hotline.models import DONE_STATUSES, WorkOrder
    from govloop.ratings.models import Rating

    engine = make_engine(url)
    upgrade(engine)
    make_session = sessionmaker(engine, expire_on_commit=False)

    def unit(work: Callable[[Session], Any]) -> Any:
        with make_session() as s, s.begin():
            return work(s)

    def history(s: Session) -> int:
        world = hall_demo.seed_catalogue(session=s)
        hall_demo.generate_history(session=s, world=world, days=HALL_DAYS, seed=SEED)
        return world.hall.id

    hall_id = unit(history)
    unit(lambda s: hotline_demo.build(session=s, now=now(), seed=SEED, days=HOTLINE_DAYS))
    person = None
    for _label, step in STEPS:
        line = unit(lambda s, step=step: step(s, SEED, hall_id))
        # the access step names a citizen to try /my-data with: name, id number, phone
        person = person or re.search(r"([^\s：:]+) (\d{17}[\dX]) (1\d{10})", line)
    assert person, "the access demo names no citizen for /my-data"

    def today(s: Session) -> str:
        """Citizens waiting, three windows calling (window 2 is the signed-in staff's)."""
        world = hall_demo.load_world(session=s)
        assert world is not None
        waiting = [
            service.issue_ticket(session=s, hall=world.hall, item=world.items[code])
            for code in ("GA01", "RS01", "YB01", "GA01", "SJ01", "RS01", "GA01")
        ]
        for number in (1, 2, 3):
            staff = world.staff(number)
            hall_windows.sign_in(session=s, hall=world.hall, window_number=number, actor=staff)
            hall_windows.call_next(session=s, hall=world.hall, window_number=number, actor=staff)
        return waiting[-1].public_id

    waiting = unit(today)

    def finds(s: Session) -> tuple[str, tuple[str, str]]:
        rated = select(Rating.ticket_id).where(Rating.ticket_id.is_not(None))
        finished = s.scalars(
            select(Ticket.public_id)
            .where(Ticket.status == TicketStatus.FINISHED, Ticket.id.not_in(rated))
            .order_by(Ticket.id.desc())
            .limit(1)
        ).one()
        order = s.execute(
            select(WorkOrder.number, WorkOrder.caller_phone)
            .where(
                WorkOrder.status.in_(list(DONE_STATUSES)),
                WorkOrder.rating_id.is_(None),
                WorkOrder.caller_phone.is_not(None),
            )
            .order_by(WorkOrder.id.desc())
            .limit(1)
        ).one()
        return finished, (order[0], order[1])

    finished, order = unit(finds)
    engine.dispose()
    return Citizen(
        ticket=waiting,
        finished=finished,
        order=order,
        person=(person.group(2), person.group(1), person.group(3)),
    )


@dataclass
class Server:
    url: str
    citizen: Citizen
    seed_seconds: float


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    db_path = tmp_path_factory.mktemp("e2e-csp") / "govloop.db"
    url = f"sqlite:///{db_path}"
    started = time.monotonic()
    citizen = _seed(url)
    seeded = time.monotonic() - started
    # kept with the screenshots: a 5xx is explained there; a busy machine starts slowly
    log = SHOTS.parent / "csp-sweep-uvicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with run_server(url, log, timeout=90) as base:
        yield Server(url=base, citizen=citizen, seed_seconds=seeded)


@dataclass
class Visit:
    role: str
    url: str
    status: int | None = None
    csp: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # same-origin 4xx/5xx and blocked loads
    act_error: str | None = None  # what the page could not be used for
    phone_width: int | None = None  # the page's width on a phone, when wider than the phone

    @property
    def broken(self) -> bool:
        server_errors = [f for f in self.failed if re.match(r"5\d\d ", f)]
        return bool(self.csp or server_errors or self.act_error) or (self.status or 0) >= 500

    @property
    def noisy(self) -> bool:
        return bool(
            self.csp
            or self.failed
            or self.page_errors
            or self.console
            or self.act_error
            or self.phone_width
        )

    def lines(self) -> list[str]:
        out = [f"{self.role:<19} {self.status} {self.url}"]
        out += [f"    CSP      {c}" for c in self.csp]
        out += [f"    request  {f}" for f in self.failed]
        out += [f"    error    {e}" for e in self.page_errors]
        out += [f"    console  {c}" for c in self.console if "Content Security Policy" not in c]
        out += [f"    use      {self.act_error}"] if self.act_error else []
        if self.phone_width:
            out += [
                f"    layout   {self.phone_width} px wide on the {PHONE['width']} px phone"
                " (resized from the desktop: a chart may have kept its width)"
            ]
        return out


Act = Callable[[Any], None]


class Sweep:
    """One browser context per role; what happens is filed under the page being visited."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.origin = urlparse(base).netloc
        self.visits: list[Visit] = []
        self.shot: set[str] = set()  # pages already photographed
        self.current: Visit | None = None

    def context(self) -> Any:
        context = self.browser.new_context(
            viewport=DESKTOP,
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            geolocation={"latitude": 30.27415, "longitude": 120.15515, "accuracy": 15},
            permissions=["geolocation"],
        )
        # violations reach the test even when the page navigates away right after
        context.expose_binding("__cspReport", lambda _source, entry: self.file("csp", entry))
        context.add_init_script(INIT_SCRIPT)

        def on_response(response: Any) -> None:
            if response.status >= 400 and urlparse(response.url).netloc == self.origin:
                self.file("failed", f"{response.status} {response.url}")

        def on_failed(request: Any) -> None:
            error = request.failure or ""
            if "ERR_ABORTED" not in error:  # a page left while it was still loading
                self.file("failed", f"{error} {request.url}")

        def on_console(msg: Any) -> None:
            if msg.type == "error":
                self.file("console", msg.text)

        context.on("response", on_response)
        context.on("requestfailed", on_failed)
        context.on("console", on_console)
        context.on("weberror", lambda e: self.file("page_errors", str(e.error)))
        return context

    def file(self, kind: str, entry: str) -> None:
        if self.current is not None:
            getattr(self.current, kind).append(entry)

    def visit(
        self, page: Any, role: str, path: str, act: Act | None = None, shot: str | None = None
    ) -> Visit:
        visit = Visit(role=role, url=path)
        self.visits.append(visit)
        started = time.monotonic()
        self.current = visit
        response = page.goto(self.base + path, wait_until="load")
        visit.status = response.status if response else None
        self.settle(page)
        if act is not None:
            try:
                act(page)
            except Exception as exc:  # the page did not do what a user asks of it
                visit.act_error = f"{act.__name__}: {str(exc).splitlines()[0]}"
            self.settle(page)
        self.screenshots(page, role, path, shot)
        if not visit.csp:  # Chromium also logs each violation; counted once, if missed above
            visit.csp = [c for c in visit.console if "Content Security Policy" in c]
        print(f"{time.monotonic() - started:5.1f} s  {visit.status}  {role:<18} {path}", flush=True)
        if visit.noisy:
            print("\n".join(visit.lines()[1:]), flush=True)
        return visit

    def settle(self, page: Any) -> None:
        # Deferred scripts, charts and htmx "load" requests; the display's live feed and
        # the polling panels never go idle, so the wait is capped.
        from playwright.sync_api import Error as PlaywrightError

        with contextlib.suppress(PlaywrightError):
            page.wait_for_load_state("networkidle", timeout=1500)
        page.wait_for_timeout(self.chart_wait(page))

    def chart_wait(self, page: Any) -> int:
        """Milliseconds for ECharts to draw (and animate) the page's charts."""
        return 500 if page.evaluate("!!document.querySelector('[_echarts_instance_]')") else 100

    def screenshots(self, page: Any, role: str, path: str, shot: str | None) -> None:
        kind = kind_of(urlparse(path).path)
        if shot is None:
            shot = re.sub(r"[^\w-]+", "_", (kind.strip("/") or "home").replace("{id}", "id"))
            shot = f"{role}-{shot}" if kind == "/" else shot
        if shot in self.shot:
            return
        if self.current is not None and self.current.status == 200:
            self.shot.add(shot)  # a refused page is photographed again when a role opens it
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.wait_for_timeout(self.chart_wait(page))  # charts follow the resize
            width, height = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            if label == "phone" and width > size["width"] and self.current is not None:
                # measured after a resize from the desktop: a chart may keep a wider size
                self.current.phone_width = width
            height = min(height, MAX_SHOT_HEIGHT)
            page.screenshot(
                path=str(SWEEP_SHOTS / f"{shot}-{label}.png"),
                full_page=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": height},
            )
        page.set_viewport_size(DESKTOP)

    def links(self, page: Any) -> list[str]:
        out = []
        for href in page.eval_on_selector_all("a[href]", "els => els.map((a) => a.href)"):
            url = urlparse(href)
            if url.netloc == self.origin and not SKIP.search(url.path):
                out.append(url.path + (f"?{url.query}" if url.query else ""))
        return out

    def crawl(
        self, page: Any, role: str, starts: tuple[str, ...], seen: set[str], public: set[str]
    ) -> list[str]:
        """Breadth first from the home page. A kind of page deeper than the navigation is
        visited once, by the first role that reaches it; the public pages render the same
        for staff apart from the header, so the citizen visits them."""
        own: set[str] = set()
        frontier = [(path, 1) for path in starts] + [("/", 0)]
        visited = []
        while frontier:
            path, depth = frontier.pop(0)
            kind = kind_of(urlparse(path).path)
            if kind in own or (depth > 1 and kind in seen) or kind in public:
                continue
            own.add(kind)
            visit = self.visit(page, role, path)
            visited.append(path)
            if visit.status == 200:  # a refused page is left for a role that may open it
                seen.add(kind)
                if depth < DEPTH:
                    frontier += [(link, depth + 1) for link in self.links(page)]
        return visited

    def sign_in(self, page: Any, username: str) -> None:
        self.current = None
        page.goto(f"{self.base}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "govloop-demo")
        with page.expect_navigation():
            page.click("form[action='/login'] button[type=submit]")
        assert "/login" not in page.url, f"{username} could not sign in"


def uses(world: Citizen) -> dict[str, list[tuple[str, str, Act | None]]]:
    """Pages in use, per role: (path, screenshot name, what the user does there)."""
    from playwright.sync_api import expect

    def take_ticket(p: Any) -> None:
        p.locator("button[data-item-code]").first.click()
        expect(p.locator("#slip-modal .slip-code")).to_be_visible(timeout=10_000)
        expect(p.locator("#slip-modal .slip-qr svg")).to_be_visible()
        p.wait_for_timeout(400)  # the dialog's entry animation

    def book_appointment(p: Any) -> None:
        p.select_option("select[name=item]", "GA01")
        with p.expect_navigation():  # a service and a day chosen: the slots are shown
            p.locator("form[method=get] label.day:not(.day-off)").last.click()
        p.locator("input[name=slot_start]:not([disabled])").first.check(force=True)
        p.fill("input[name=name]", "王小明")
        p.fill("input[name=phone]", "13800138000")
        with p.expect_navigation():
            p.get_by_role("button", name="确认预约").click()
        expect(p.locator("main")).to_contain_text("预约成功")

    def ask_my_data(p: Any) -> None:
        id_number, name, phone = world.person
        p.fill("input[name=id_number]", id_number)
        p.fill("input[name=name]", name)
        p.fill("input[name=phone]", phone)
        with p.expect_navigation():
            p.locator("main form button[type=submit]").first.click()
        expect(p.locator("main table")).to_be_visible()

    def identify_applicant(p: Any) -> None:
        p.fill("#case-data input[name=id_number]", world.person[0])
        p.locator("#case-data form[hx-post$='/case-data/applicant'] button[type=submit]").click()
        expect(p.locator("#case-data table")).to_be_visible(timeout=10_000)

    def type_a_report(p: Any) -> None:
        # an input method commits the words, then a key is released: htmx asks for a route
        p.fill("textarea[name=content]", "小区门口的路灯坏了一个多月，晚上很黑")
        p.press("textarea[name=content]", "End")
        expect(p.locator("#route-suggestion")).not_to_be_empty(timeout=10_000)

    def report_online(p: Any) -> None:
        p.fill("textarea[name=content]", "小区门口的路灯坏了一个多月，晚上很黑，请尽快修理")
        # answers from the knowledge base while the citizen types (智能交互)
        expect(p.locator(".kb-answers .kb-hit").first).to_be_visible(timeout=10_000)
        p.fill("input[name=caller_phone]", "13800138000")
        with p.expect_navigation():
            p.locator("main form button[type=submit]").first.click()
        expect(p.locator("[data-order-number]")).to_be_visible()

    def open_first(prefix: str) -> Act:
        def open_first_link(p: Any) -> None:
            with p.expect_navigation():
                p.locator(f"main a[href^='{prefix}']").first.click()

        return open_first_link

    def open_a_task(p: Any) -> None:
        p.locator("a[href^='#/task/']").first.click()
        expect(p.locator("#view form")).to_be_visible(timeout=10_000)

    number, phone = world.order
    return {
        "citizen": [
            ("/halls/DEMO/kiosk", "citizen-kiosk-slip", take_ticket),
            ("/halls/DEMO/appointments", "citizen-appointment-booked", book_appointment),
            (f"/t/{world.ticket}", "citizen-ticket-link", None),
            (f"/r/{world.finished}", "citizen-rate-visit", None),
            (f"/hotline/track?number={number}&phone={phone}", "citizen-track-found", None),
            ("/hotline/report", "citizen-report-done", report_online),
            ("/my-data", "citizen-my-data-found", ask_my_data),
        ],
        "window-staff": [
            ("/halls/DEMO/windows/2", "window-staff-case-data", identify_applicant),
        ],
        "hotline-agent": [
            ("/hotline/orders/new", "hotline-agent-suggestion", type_a_report),
        ],
        "data-steward": [
            ("/tags", "data-steward-tag", open_first("/tags/")),
            (
                "/ingest/dead-letters",
                "data-steward-dead-letter",
                open_first("/ingest/dead-letters/"),
            ),
        ],
        "field-staff": [
            ("/field/", "field-staff-task", open_a_task),
        ],
    }


@pytest.mark.timeout(600)  # about three minutes; the margin is for a busy machine
def test_every_page_keeps_to_the_content_security_policy(server: Server) -> None:
    from playwright.sync_api import sync_playwright

    SWEEP_SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SWEEP_SHOTS.glob("*.png"):
        old.unlink()
    started = time.monotonic()
    per_role: dict[str, list[str]] = {}
    in_use = uses(server.citizen)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        sweep = Sweep(browser, server.url)
        seen: set[str] = set()
        public: set[str] = set()
        try:
            for role, username, starts in ROLES:
                context = sweep.context()
                page = context.new_page()
                if username:
                    sweep.sign_in(page, username)
                per_role[role] = sweep.crawl(page, role, starts, seen, public)
                for path, shot, act in in_use.get(role, []):
                    sweep.visit(page, role, path, act, shot=shot)
                    per_role[role].append(f"{path} ({shot})")
                if username is None:
                    public = {kind_of(urlparse(p).path) for p in per_role[role]} - {"/"}
                sweep.current = None
                context.close()
        finally:
            browser.close()
    elapsed = time.monotonic() - started

    print(f"\nseeded in {server.seed_seconds:.0f} s, swept in {elapsed:.0f} s")
    for role, paths in per_role.items():
        print(f"{role} ({len(paths)}): {' '.join(paths)}")
    print("\n".join(line for v in sweep.visits if v.noisy for line in v.lines()))
    broken = [v for v in sweep.visits if v.broken]
    assert not broken, "pages with a CSP violation, a 5xx or that could not be used:\n" + (
        "\n".join(line for v in broken for line in v.lines())
    )
