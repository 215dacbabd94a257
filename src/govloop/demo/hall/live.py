"""A simulated live day against the real HTTP API, so the demo's display board moves.

While ``govloop demo`` serves the application, a background thread plays citizens and
window staff: tickets are taken every few seconds through ``POST …/tickets``, booked
appointments check in, and each staffed window calls, recalls, starts, finishes, marks
no-shows and now and then transfers, authenticated with its staff's bearer token. Time
is accelerated (a minute of handling takes about a second) but the clock is real, so
everything lands in today's service date. Some windows are left to a human. Missed
appointments are swept by the web process's own timed duties (:mod:`govloop.hall.jobs`).
After a finish, some citizens rate the visit (好差评) through ``POST /api/v1/ratings/…``
with the secret link of the slip they were handed when taking the ticket (staff replies
never carry it), now and then badly, so a new rectification case appears.
"""

from __future__ import annotations

import math
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import numpy as np
from sqlalchemy import select

from govloop.core.clock import now
from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.models import User
from govloop.demo.hall.demand import PRIORITY_MIX as HISTORY_PRIORITY_MIX
from govloop.demo.ratings.citizens import Experience, rating_delay_seconds, rating_input
from govloop.hall import service
from govloop.hall import windows as hall_windows
from govloop.hall.models import (
    ACTIVE_STATUSES,
    CITIZEN_PRIORITY,
    Outcome,
    Ticket,
    TicketStatus,
)
from govloop.org import service as org_service
from govloop.ratings.models import BAD_LEVELS, LEVEL_LABELS, RatingLevel

API = "/api/v1/halls"
RATINGS_API = "/api/v1/ratings/tickets"
DEVICES_API = "/api/devices"
HEARTBEAT_EVERY_S = 30.0  # the hall's devices report in, so /devices shows them online
MEAN_ARRIVAL_GAP_S = 3.5
ARRIVAL_WAVE_S = 420.0  # the arrival rate swells and ebbs over this period
ARRIVAL_WAVE_DEPTH = 0.45
PREFILL_TICKETS = 10
PRIORITY_MIX = [HISTORY_PRIORITY_MIX[c] for c in CITIZEN_PRIORITY]
SECONDS_PER_MINUTE = 1.3  # real seconds of handling per minute of a real case
HANDLING_BOUNDS_S = (4.0, 60.0)
PRIORITY_SHARE = 0.05
ABSENT_SHARE = 0.06
TRANSFER_SHARE = 0.03
BREAK_SHARE = 0.01  # chance an idle window takes a short break instead of calling
CHECK_IN_EVERY_S = (20.0, 45.0)
CHECK_IN_SHARE = 0.75  # of today's appointments; the rest are swept as missed
RATE_SHARE = 0.4  # finished visits the citizen rates
# Added to the history's chance of a bad rating, so a watcher sees a new rectification
# case every few minutes instead of every ten.
EXTRA_BAD = 0.03
RATING_DELAY_MAX_S = 90.0


@dataclass(frozen=True)
class LiveItem:
    code: str
    item_id: int
    department: str
    weight: float
    median_minutes: float
    sigma: float


@dataclass(frozen=True)
class LiveWindow:
    number: int
    staff_id: int
    token: str
    item_ids: frozenset[int] | None  # None: 综合窗口


@dataclass(frozen=True)
class LivePlan:
    hall_code: str
    items: tuple[LiveItem, ...]
    windows: tuple[LiveWindow, ...]
    appointments: tuple[tuple[str, datetime], ...]  # (code, earliest check-in) for today
    devices: tuple[tuple[str, str], ...] = ()  # (device code, its key) of the hall's devices


@dataclass
class _Agent:
    window: LiveWindow
    phase: str = "start"  # start | idle | called | serving | paused | off
    due: float = 0.0
    code: str = ""
    item_id: int = 0
    absent: bool = False
    recalls: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class LiveDay:
    """Drives the hall through the API; ``step`` does whatever is due at time ``t``."""

    def __init__(
        self,
        client: httpx.Client,
        plan: LivePlan,
        *,
        seed: int = 0,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.client = client
        self.plan = plan
        self.rng = np.random.default_rng(seed)
        self.log = log
        self.base = f"{API}/{plan.hall_code}"
        self.items = {i.item_id: i for i in plan.items}
        weights = np.array([i.weight for i in plan.items], dtype=float)
        self.item_p = weights / weights.sum()
        self.agents = [
            _Agent(w, headers={"Authorization": f"Bearer {w.token}"}) for w in plan.windows
        ]
        # The simulated kiosk is signed in as window staff, like a hall's ticket machine with
        # its own token: anonymous callers' per-address ticket limit does not apply to it.
        self.kiosk = self.agents[0] if self.agents else None
        self.pending_check_ins = [
            (code, earliest)
            for code, earliest in plan.appointments
            if self.rng.random() < CHECK_IN_SHARE
        ]
        self.t0 = 0.0
        self.next_arrival = 0.0
        self.next_check_in = 0.0
        self.next_heartbeat = 0.0
        self.counts: dict[str, int] = {}
        # (due, public id, ticket code, rating body), oldest first
        self.pending_ratings: list[tuple[float, str, str, dict[str, Any]]] = []
        # The slips the simulated citizens hold: ticket code → the ticket's secret link.
        self.slips: dict[str, str] = {}

    # -- plumbing --

    def u(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))

    def _post(
        self, path: str, json: dict[str, Any] | None = None, agent: _Agent | None = None
    ) -> tuple[bool, dict[str, Any]]:
        response = self.client.post(
            self.base + path, json=json, headers=agent.headers if agent else None
        )
        body = response.json() if response.content else {}
        action = path.rsplit("/", 1)[-1]
        if response.is_success:
            self.counts[action] = self.counts.get(action, 0) + 1
        return response.is_success, body

    def _window(self, agent: _Agent, action: str, json: dict[str, Any] | None = None) -> Any:
        return self._post(f"/windows/{agent.window.number}/{action}", json, agent)

    # -- the day --

    def begin(self, t: float) -> None:
        """Sign the windows in, clear what an interrupted run left, fill the queue a bit."""
        self.t0 = t
        for agent in self.agents:
            ok, body = self._window(agent, "sign-in")
            if not ok:
                self.log(f"{agent.window.number} 号窗口无法签入：{body.get('message')}")
                agent.phase = "off"
                continue
            for action in ("resume", "start", "finish"):  # leftovers of an earlier run
                self._window(agent, action)
            agent.phase = "idle"
            agent.due = t + self.u(0.5, 3.0)
        for _ in range(PREFILL_TICKETS):
            self._issue()
        self.next_arrival = t + self._gap(t)
        self.next_check_in = t + self.u(*CHECK_IN_EVERY_S) / 3
        self.next_heartbeat = t

    def step(self, t: float) -> None:
        if t >= self.next_heartbeat:
            self._heartbeats()
            self.next_heartbeat = t + HEARTBEAT_EVERY_S
        while t >= self.next_arrival:
            self._issue()
            self.next_arrival += self._gap(self.next_arrival)
        if t >= self.next_check_in:
            self._check_in()
            self.next_check_in = t + self.u(*CHECK_IN_EVERY_S)
        for agent in self.agents:
            if agent.phase != "off" and t >= agent.due:
                self._act(agent, t)
        while self.pending_ratings and self.pending_ratings[0][0] <= t:
            self._rate(*self.pending_ratings.pop(0)[1:])

    def run(self, stop: threading.Event, clock: Callable[[], float] = time.monotonic) -> None:
        self.begin(clock())
        while not stop.is_set():
            self.step(clock())
            stop.wait(0.2)

    def _gap(self, t: float) -> float:
        wave = 1.0 + ARRIVAL_WAVE_DEPTH * math.sin(2 * math.pi * (t - self.t0) / ARRIVAL_WAVE_S)
        return float(self.rng.exponential(MEAN_ARRIVAL_GAP_S / wave))

    def _issue(self) -> None:
        item = self.plan.items[int(self.rng.choice(len(self.plan.items), p=self.item_p))]
        body: dict[str, Any] = {"item_code": item.code}
        if self.rng.random() < PRIORITY_SHARE:
            categories = [c.value for c in CITIZEN_PRIORITY]
            body["priority"] = categories[int(self.rng.choice(len(categories), p=PRIORITY_MIX))]
        ok, slip = self._post("/tickets", body, self.kiosk)
        if ok:
            self._keep_slip(slip)

    def _heartbeats(self) -> None:
        """Every device of the hall reports in over HTTP with its key, as a real one does."""
        moment = now().isoformat()
        for code, key in self.plan.devices:
            self.client.post(
                f"{DEVICES_API}/{code}/heartbeat",
                json={
                    "event_id": f"{code}-{uuid.uuid4().hex[:16]}",
                    "kind": "heartbeat",
                    "occurred_at": moment,
                },
                headers={"X-Device-Key": key},
            )

    def _keep_slip(self, slip: dict[str, Any]) -> None:
        self.slips[str(slip["code"])] = str(slip["public_id"])

    def _check_in(self) -> None:
        moment = now()
        due = [a for a in self.pending_check_ins if a[1] <= moment]
        if not due:
            return
        code, earliest = due[int(self.rng.integers(len(due)))]
        self.pending_check_ins.remove((code, earliest))
        ok, body = self._post("/appointments/check-in", {"code": code})
        if ok:
            self._keep_slip(body["ticket"])
            ticket = body["ticket"]["code"]
            late = "（迟到，按普通号排队）" if body.get("late") else ""
            self.log(f"预约 {code} 签到，取得 {ticket} 号{late}")

    def _act(self, agent: _Agent, t: float) -> None:
        rng = self.rng
        if agent.phase == "paused":
            self._window(agent, "resume")
            agent.phase, agent.due = "idle", t + self.u(0.5, 2.0)
        elif agent.phase == "idle":
            self._call(agent, t)
        elif agent.phase == "called":
            if agent.recalls > 0:
                agent.recalls -= 1
                self._window(agent, "recall")
                agent.due = t + self.u(3.0, 5.0)
            elif agent.absent:
                self._window(agent, "no-show")
                self.log(f"{agent.code} 号过号（{agent.window.number} 号窗口）")
                agent.phase, agent.due = "idle", t + self.u(1.0, 2.0)
            else:
                ok, body = self._window(agent, "start")
                if ok:
                    agent.phase, agent.due = "serving", t + self._handling(agent.item_id)
                elif body.get("error") == "already_started":  # left over, already serving
                    agent.phase, agent.due = "serving", t + self.u(1.0, 2.0)
                else:
                    agent.phase, agent.due = "idle", t + self.u(1.0, 2.0)
        elif agent.phase == "serving":
            target = self._transfer_target(agent)
            if target is not None and rng.random() < TRANSFER_SHARE:
                self._window(agent, "transfer", target)
                self.log(f"{agent.code} 号转移（{agent.window.number} 号窗口 → {target}）")
            else:
                draw = rng.random()
                outcome = (
                    Outcome.NEEDS_DOCUMENTS
                    if draw < 0.08
                    else Outcome.REFERRED
                    if draw < 0.10
                    else Outcome.DONE
                )
                ok, body = self._window(agent, "finish", {"outcome": outcome.value})
                if ok and rng.random() < RATE_SHARE:
                    self._plan_rating(body, t)
            agent.phase, agent.due = "idle", t + self.u(1.0, 4.0)

    def _plan_rating(self, ticket: dict[str, Any], t: float) -> None:
        """The citizen of a just finished ticket will rate it: at the pad in a moment, by
        QR code or the my-ticket page a little later (time runs fast here too). Only a
        citizen holding the slip can: tickets taken before this run are not rated."""
        public_id = self.slips.pop(str(ticket["code"]), None)
        if public_id is None:
            return
        try:
            waited_s = (
                datetime.fromisoformat(ticket["called_at"])
                - datetime.fromisoformat(ticket["arrived_at"])
            ).total_seconds()
        except (KeyError, TypeError, ValueError):
            waited_s = 0.0
        x = Experience(waited_s / SECONDS_PER_MINUTE, str(ticket.get("outcome") or "done"), "api")
        body, _cause = rating_input(self.rng, x, extra_bad=EXTRA_BAD)
        delay = rating_delay_seconds(self.rng, body["channel"]) * SECONDS_PER_MINUTE / 60.0
        due = t + min(delay, RATING_DELAY_MAX_S)
        self.pending_ratings.append((due, public_id, str(ticket["code"]), body))
        self.pending_ratings.sort(key=lambda pending: pending[0])

    def _rate(self, public_id: str, code: str, body: dict[str, Any]) -> None:
        response = self.client.post(f"{RATINGS_API}/{public_id}", json=body)
        if not response.is_success:  # e.g. rated meanwhile at the window's pad
            return
        self.counts["rate"] = self.counts.get("rate", 0) + 1
        level = RatingLevel(body["level"])
        if level in BAD_LEVELS:
            comment = f"：{body['comment']}" if body["comment"] else "，已生成整改工单"
            self.log(f"{code} 号差评「{LEVEL_LABELS[level]}」{comment}")

    def _call(self, agent: _Agent, t: float) -> None:
        if self.rng.random() < BREAK_SHARE:
            ok, _body = self._window(agent, "pause", {"reason": "短暂离开"})
            if ok:
                agent.phase, agent.due = "paused", t + self.u(20.0, 45.0)
                return
        ok, body = self._window(agent, "call-next")
        if ok:
            agent.code, agent.item_id = body["code"], int(body["item_id"])
            agent.absent = self.rng.random() < ABSENT_SHARE
            agent.recalls = (1 + int(self.rng.random() < 0.4)) if agent.absent else 0
            agent.phase, agent.due = "called", t + self.u(2.0, 4.0)
            self.log(body.get("text") or f"请 {agent.code} 号到 {agent.window.number} 号窗口")
            return
        error = body.get("error")
        if error == "window_busy":  # a ticket left over from an interrupted run
            agent.phase, agent.absent, agent.recalls = "called", False, 0
            agent.code = str((body.get("details") or {}).get("current", ""))
        elif error == "window_paused":
            agent.phase = "paused"
        elif error in ("not_your_window", "invalid_token"):
            self.log(f"{agent.window.number} 号窗口已由他人操作，实时模拟不再操作该窗口")
            agent.phase = "off"
        agent.due = t + self.u(1.5, 3.0)

    def _handling(self, item_id: int) -> float:
        item = self.items.get(item_id)
        median = item.median_minutes if item else 10.0
        sigma = item.sigma if item else 0.5
        seconds = median * SECONDS_PER_MINUTE * math.exp(sigma * self.rng.standard_normal())
        return min(max(seconds, HANDLING_BOUNDS_S[0]), HANDLING_BOUNDS_S[1])

    def _transfer_target(self, agent: _Agent) -> dict[str, Any] | None:
        item = self.items.get(agent.item_id)
        if item is None:
            return None
        if agent.window.item_ids is None:  # 综合窗口 → a specialised window of the item
            numbers = [
                a.window.number
                for a in self.agents
                if a.phase != "off" and a.window.item_ids and item.item_id in a.window.item_ids
            ]
            if numbers:
                return {"to_window": numbers[int(self.rng.integers(len(numbers)))]}
            return None
        siblings = [
            i.code for i in self.plan.items if i.department == item.department and i != item
        ]
        if siblings:
            return {"to_item_code": siblings[int(self.rng.integers(len(siblings)))]}
        return None


# --- wiring: wrap-up and the server --------------------------------------------------


def wrap_up(*, hall_code: str, windows: tuple[LiveWindow, ...]) -> int:
    """After the server stopped: finish the live windows' tickets and sign them out.

    Only windows still held by the staff the live day played are touched.
    """
    signed_out = 0
    for live in windows:
        try:
            with unit_of_work() as session:
                hall = org_service.get_hall(session=session, code=hall_code)
                window = service.get_window(session=session, hall=hall, number=live.number)
                actor = session.get(User, live.staff_id)
                if actor is None or window.staff_id != actor.id:
                    continue
                current = session.scalar(
                    select(Ticket).where(
                        Ticket.window_id == window.id, Ticket.status.in_(list(ACTIVE_STATUSES))
                    )
                )
                number = live.number
                if current is not None and current.status == TicketStatus.CALLED:
                    hall_windows.start_service(
                        session=session, hall=hall, window_number=number, actor=actor
                    )
                if current is not None:
                    hall_windows.finish_service(
                        session=session, hall=hall, window_number=number, actor=actor
                    )
                if window.state == "paused":
                    hall_windows.resume(
                        session=session, hall=hall, window_number=number, actor=actor
                    )
                hall_windows.sign_out(session=session, hall=hall, window_number=number, actor=actor)
                signed_out += 1
        except GovloopError:
            continue  # a human changed the window meanwhile; leave it as it is
    return signed_out


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def serve_with_live_day(
    *,
    host: str,
    port: int,
    plan: LivePlan | None,
    seed: int,
    log: Callable[[str], None],
) -> None:
    """Serve the app in the foreground; with a plan, drive a live day until Ctrl-C."""
    import uvicorn

    stop = threading.Event()

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            stop.set()  # the live day stops first; the server then drains and exits
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        "govloop.app:create_app",
        factory=True,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
        proxy_headers=False,  # no proxy in front of the demo: believe no forwarded headers
    )
    server = _Server(config)

    def drive() -> None:
        assert plan is not None
        while not server.started and not stop.is_set():
            time.sleep(0.1)
        if stop.is_set():
            return
        base = f"http://{host}:{port}"
        try:
            with httpx.Client(base_url=base, timeout=10.0) as client:
                LiveDay(client, plan, seed=seed, log=log).run(stop)
        except httpx.TransportError as exc:
            if not stop.is_set():
                log(f"实时模拟中断：{exc}")

    thread = threading.Thread(target=drive, name="demo-live-day", daemon=True) if plan else None
    if thread is not None:
        thread.start()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=15)
        if plan is not None:
            wrap_up(hall_code=plan.hall_code, windows=plan.windows)
