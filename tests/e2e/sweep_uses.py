"""What each role does on the pages it uses, in the page sweep: the citizen takes a ticket
at the kiosk, books an appointment, follows the ticket, opens a rating link, tracks a hotline
request, reports one online (answers from the knowledge base shown while typing), follows a
matter (办件) like a parcel and asks who used their data; window staff identify the applicant
(case data) and open the 受理 form for the ticket they serve, the hall manager opens an
anomaly and an action of the closed loop, a hotline agent types a report (routing and answers
suggested) and edits an article, the data steward opens a tag and a dead letter, field staff
open a task."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from tests.e2e.sweep_world import Citizen

Act = Callable[[Any], None]


def uses(world: Citizen) -> dict[str, list[tuple[str, str, Act | None]]]:
    """Pages in use, per role: (path, screenshot name, what the user does there)."""
    from playwright.sync_api import expect

    phones = itertools.count(8000)

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
        # one booking per phone and day: each visit books for another citizen
        p.fill("input[name=phone]", f"1380013{next(phones):04d}")
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

    def open_accept_form(p: Any) -> None:
        start = p.get_by_role("button", name="开始办理")
        if start.count():  # the ticket is called: serve it
            start.click()
        with p.expect_navigation():
            p.locator("a[data-accept-matter]").click()
        expect(p.locator("form[data-accept-form]")).to_be_visible()

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

    def edit_an_article(p: Any) -> None:
        with p.expect_navigation():
            p.locator("main a[href^='/hotline/kb/']:not([href$='/new'])").first.click()
        with p.expect_navigation():
            p.locator("main a[href$='/edit']").first.click()
        expect(p.locator("main form textarea").first).to_be_visible()

    def open_a_task(p: Any) -> None:
        p.locator("a[href^='#/task/']").first.click()
        expect(p.locator("#view form")).to_be_visible(timeout=10_000)

    number, phone = world.order
    matter_track: list[tuple[str, str, Act | None]] = []
    if world.matter:
        matter, applicant = world.matter
        matter_track.append(
            (f"/matters/track?number={matter}&phone={applicant}", "citizen-matter-track", None)
        )
    return {
        "citizen": [
            ("/halls/DEMO/kiosk", "citizen-kiosk-slip", take_ticket),
            ("/halls/DEMO/appointments", "citizen-appointment-booked", book_appointment),
            (f"/t/{world.ticket}", "citizen-ticket-link", None),
            (f"/r/{world.finished}", "citizen-rate-visit", None),
            (f"/hotline/track?number={number}&phone={phone}", "citizen-track-found", None),
            ("/hotline/report", "citizen-report-done", report_online),
            *matter_track,
            ("/my-data", "citizen-my-data-found", ask_my_data),
        ],
        "window-staff": [
            ("/halls/DEMO/windows/2", "window-staff-case-data", identify_applicant),
            ("/halls/DEMO/windows/2", "window-staff-accept-matter", open_accept_form),
        ],
        "hall-manager": [
            (
                "/insight/DEMO/anomalies",
                "hall-manager-anomaly",
                open_first("/insight/DEMO/anomalies/"),
            ),
            ("/insight/DEMO/loop", "hall-manager-action", open_first("/insight/DEMO/actions/")),
        ],
        "hotline-agent": [
            ("/hotline/orders/new", "hotline-agent-suggestion", type_a_report),
            ("/hotline/kb", "hotline-agent-kb-edit", edit_an_article),
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
