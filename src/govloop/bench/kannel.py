"""A real Kannel on this machine, for the notification benchmark and the tests: bearerbox
with two fake SMSC connections, smsbox with a sendsms user and an sms-service, and
Kannel's own ``fakesmsc`` (``kannel-extras``) acting as the operator.

* ``main`` (fake SMSC) carries every outgoing message to one ``fakesmsc`` that prints
  each one it receives ("Got message N: <from to coding text>"): the messages that reached
  the operator are counted there, so a message sent twice or never is seen.
* ``mo`` (fake SMSC, ``allowed-smsc-id = mo-only``, so no outgoing message goes there)
  takes inbound messages injected by a short-lived ``fakesmsc -m 1``; smsbox hands them
  to govloop's inbound URL (the sms-service ``get-url``).

The fake SMSC reports delivery as soon as the message is written to ``fakesmsc``
(type 1 "delivered", and type 8 "accepted by the SMSC" when the mask asks for it).
bearerbox keeps accepted messages in a store file, so stopping and starting the gateway
loses none. Stopping bearerbox
(SIGTERM) also ends smsbox and ``fakesmsc``; ``start`` brings all three back.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

import httpx
from fastapi import FastAPI

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
BINARIES = (BEARERBOX, SMSBOX, FAKESMSC)
USERNAME = "govloop"
PASSWORD = "bench-sendsms"
SENDER = "12345"

_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) ?(.*)>\s*$")


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if not os.access(b, os.X_OK)]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def decode_fake_text(coding: str, data: str) -> str:
    """The text of a message as ``fakesmsc`` prints it (UCS-2 and binary url-encoded)."""
    if coding == "text":
        return data
    raw = unquote_to_bytes(data.replace("+", " "))
    if coding in ("ucs-2", "ucs2"):
        return raw.decode("utf-16-be", errors="replace")
    return raw.decode("utf-8", errors="replace")


@dataclass
class Received:
    sender: str
    receiver: str
    text: str


@dataclass
class KannelGateway:
    folder: Path
    inbound_url: str = ""  # govloop's inbound endpoint (with its token); "" = none
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    generation: int = 0  # how many times the gateway was started (fakesmsc logs per start)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.ports:
            self.ports = {
                name: free_port() for name in ("admin", "smsbox", "main", "mo", "sendsms")
            }

    # --- configuration -------------------------------------------------------------------

    @property
    def conf_path(self) -> Path:
        return self.folder / "kannel.conf"

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    def write_conf(self) -> Path:
        f, p = self.folder, self.ports
        service = ""
        if self.inbound_url:
            sep = "&" if "?" in self.inbound_url else "?"
            get_url = f"{self.inbound_url}{sep}from=%p&text=%a&id=%I"
            service = f"""
group = sms-service
keyword = default
catch-all = true
get-url = "{get_url}"
# govloop answers with an empty body and sends replies through its outbox
max-messages = 0
omit-empty = true
"""
        self.conf_path.write_text(
            f"""# written by govloop's Kannel harness
group = core
admin-port = {p["admin"]}
admin-password = bench-admin
admin-allow-ip = "127.0.0.1"
smsbox-port = {p["smsbox"]}
box-allow-ip = "127.0.0.1"
log-file = "{f}/bearerbox.log"
log-level = 1
access-log = "{f}/access.log"
store-type = file
store-location = "{f}/store"
store-dump-freq = 5
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = main
port = {p["main"]}
connect-allow-ip = 127.0.0.1

group = smsc
smsc = fake
smsc-id = mo
port = {p["mo"]}
connect-allow-ip = 127.0.0.1
allowed-smsc-id = mo-only

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {p["smsbox"]}
sendsms-port = {p["sendsms"]}
sendsms-interface = 127.0.0.1
log-file = "{f}/smsbox.log"
log-level = 1
mo-recode = true
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 10
concatenation = true
{service}""",
            encoding="utf-8",
        )
        return self.conf_path

    # --- processes -----------------------------------------------------------------------

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.out").open("ab")
        try:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()
        self.procs[name] = proc
        return proc

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for name, proc in self.procs.items():
                if proc.poll() is not None and name != "mo":
                    raise RuntimeError(f"kannel {name} exited ({proc.returncode}): {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"kannel: {what} not ready in {timeout} s: {self.tail()}")
            time.sleep(0.05)

    def fake_log(self, generation: int) -> Path:
        return self.folder / f"fakesmsc-{generation}.out"

    def start(self) -> None:
        if self.generation == 0:
            self.write_conf()
        self.generation += 1
        self._spawn("bearerbox", [BEARERBOX, str(self.conf_path)])
        self._wait("bearerbox", lambda: _port_open(self.ports["smsbox"]))
        self._spawn("smsbox", [SMSBOX, str(self.conf_path)])
        self._wait("smsbox", lambda: _port_open(self.ports["sendsms"]))
        log = self.fake_log(self.generation).open("ab")
        try:
            self.procs["fakesmsc"] = subprocess.Popen(
                [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["main"]), "-m", "0", "x y nop"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self._wait("the operator (fakesmsc)", self._operator_connected)

    def _operator_connected(self) -> bool:
        try:
            r = httpx.get(
                f"http://127.0.0.1:{self.ports['admin']}/status.txt",
                params={"password": "bench-admin"},
                timeout=1,
            )
        except httpx.HTTPError:
            return False
        online = re.search(rf"FAKE:{self.ports['main']}\s*\(online", r.text) is not None
        return online and "No boxes connected" not in r.text

    def running(self) -> bool:
        proc = self.procs.get("bearerbox")
        return proc is not None and proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """bearerbox first (it tells smsbox to go and closes the operator's connection),
        then whatever is left."""
        order = ["bearerbox", "smsbox", "fakesmsc", "mo"]
        for name in order:
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs.clear()

    def tail(self, chars: int = 1500) -> str:
        parts = []
        for name in ("bearerbox.log", "smsbox.log", "bearerbox.out", "smsbox.out"):
            path = self.folder / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(parts)

    # --- the operator ---------------------------------------------------------------------

    def received(self) -> list[Received]:
        """Every message the operator received, over every start of the gateway."""
        found: list[Received] = []
        for generation in range(1, self.generation + 1):
            path = self.fake_log(generation)
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                m = _GOT.search(line)
                if m:
                    found.append(Received(m[1], m[2], decode_fake_text(m[3], m[4])))
        return found

    def inject(self, sender: str, text: str, receiver: str = SENDER, timeout: float = 15) -> None:
        """An inbound message from a phone: one ``fakesmsc -m 1`` on the ``mo`` link."""
        data = quote(text.encode("utf-8"), safe="")
        log_path = self.folder / "mo.out"
        start = log_path.stat().st_size if log_path.exists() else 0
        proc = self._spawn(
            "mo",
            [
                *(FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["mo"])),
                *("-i", "0", "-m", "1", f"{sender} {receiver} data {data}"),
            ],
        )
        deadline = time.monotonic() + timeout
        try:
            while "sent message 1" not in log_path.read_text(errors="replace")[start:]:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"fakesmsc could not inject: {self.tail()}")
                time.sleep(0.05)
            time.sleep(0.2)  # the line is on its way to bearerbox
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.procs.pop("mo", None)


def duplicates_and_counts(
    received: list[Received], key: re.Pattern[str]
) -> tuple[Counter[str], int]:
    """Messages received per key (found in the text by ``key``'s first group)."""
    counts: Counter[str] = Counter()
    unkeyed = 0
    for r in received:
        m = key.search(r.text)
        if m:
            counts[m[1]] += 1
        else:
            unkeyed += 1
    return counts, unkeyed


# --- govloop for the gateway to call back ---------------------------------------------


live_govloop_pids: list[int] = []  # the running servers (the bench reads their CPU time)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def live_govloop(
    database_url: str, folder: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> Iterator[str]:
    """uvicorn with the application and the gateway's endpoints, on a free port."""
    port = free_port()
    full_env = {
        **os.environ,
        "GOVLOOP_DATABASE_URL": database_url,
        "GOVLOOP_RUN_JOBS": "false",
        "GOVLOOP_RATE_LIMIT_ENABLED": "0",
        **(env or {}),
    }
    cmd = [
        *(sys.executable, "-m", "uvicorn", "govloop.bench.kannel:make_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        *("--no-access-log", "--timeout-graceful-shutdown", "3"),
        *("--timeout-keep-alive", "75"),
    ]
    log_path = folder / "govloop.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        probe = httpx.Client(timeout=1)  # one client: each new one builds an SSL context
        while True:
            if proc.poll() is not None:
                probe.close()
                raise RuntimeError(
                    f"govloop exited: {log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                if probe.get(f"{base}/healthz").status_code == 200:
                    probe.close()
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"govloop did not answer /healthz within {timeout} s")
            time.sleep(0.2)
        live_govloop_pids.append(proc.pid)
        yield base
    finally:
        with contextlib.suppress(ValueError):
            live_govloop_pids.remove(proc.pid)
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_app() -> FastAPI:
    """The application, with the gateway's endpoints mounted if ``app.py`` does not yet."""
    from govloop.app import create_app
    from govloop.notify import gateway_api
    from govloop.notify.channels.kannel import DLR_PATH

    app = create_app(run_jobs=False)
    if not any(getattr(r, "path", "") == DLR_PATH for r in app.routes):
        app.include_router(gateway_api.router)
    return app
