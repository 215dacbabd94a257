"""A web process told to stop (SIGTERM) ends its live streams at once, so the hall's screens
reconnect to another process, and exits well within the service manager's grace time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.core.migrate import upgrade
from govloop.serve import GRACEFUL_SHUTDOWN_S
from tests.e2e.conftest import free_port
from tests.factories import make_hall


def test_sigterm_ends_the_streams_and_the_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'govloop.db'}"
    engine = make_engine(url)
    upgrade(engine)
    set_engine(engine)
    with unit_of_work() as s:
        make_hall(s)
    engine.dispose()
    port = free_port()
    env = {**os.environ, "GOVLOOP_DATABASE_URL": url, "GOVLOOP_RUN_JOBS": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "govloop.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.2)
        received: list[str] = []
        ended = threading.Event()

        def watch() -> None:
            with httpx.stream("GET", f"{base}/api/v1/halls/H1/stream", timeout=60) as r:
                for line in r.iter_lines():
                    received.append(line)
            ended.set()

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        deadline = time.monotonic() + 10
        while "event: snapshot" not in received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "event: snapshot" in received, "the stream never opened"
        stopped_at = time.monotonic()
        server.send_signal(signal.SIGTERM)
        assert ended.wait(10), "the live stream stayed open after SIGTERM"
        server.wait(timeout=GRACEFUL_SHUTDOWN_S + 5)
        assert time.monotonic() - stopped_at < GRACEFUL_SHUTDOWN_S
        assert any(line.startswith("retry: ") for line in received)  # reconnect soon
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
