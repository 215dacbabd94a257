"""``govloop devices``: the device registry, the MQTT listener and a traffic simulator."""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from types import FrameType
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.ingest.devices import service
from govloop.ingest.devices.mqtt import CLIENT_ID, TOPIC_PREFIX, DeviceListener

devices_app = typer.Typer(no_args_is_help=True)
console = Console()


def _fail(exc: GovloopError) -> NoReturn:
    console.print(f"[red]{exc.message}[/red]")
    raise typer.Exit(1)


def _pct(day: service.DeviceDay | None) -> str:
    return f"{day.uptime:.1%}" if day is not None and day.uptime is not None else "–"


@devices_app.command("list")
def list_command(hall: str | None = typer.Option(None, "--hall", help="Hall code")) -> None:
    """Devices with their state, last heartbeat and uptime (today, 30 days)."""
    try:
        with unit_of_work(readonly=True) as s:
            hall_id = service.hall_id_for_code(session=s, code=hall) if hall else None
            view = service.overview(session=s, hall_id=hall_id)
            table = Table("编码", "名称", "类型", "大厅", "状态", "最近心跳", "今日在线率", "30天")
            for r in view.rows:
                d = r.device
                state = (
                    "已注销"
                    if d.revoked
                    else ("[green]在线[/green]" if d.online else "[red]离线[/red]")
                )
                table.add_row(
                    d.code,
                    d.name,
                    service.kind_label(d.kind),
                    r.hall_name or "",
                    state,
                    d.last_seen_at.astimezone().strftime("%m-%d %H:%M:%S")
                    if d.last_seen_at
                    else "",
                    _pct(r.today),
                    _pct(r.month),
                )
    except GovloopError as exc:
        _fail(exc)
    console.print(table)
    console.print(f"在线 {view.online} 台，离线 {view.offline} 台，已注销 {view.revoked} 台")


@devices_app.command("register")
def register(
    code: str = typer.Argument(..., help="Device code, e.g. QHJ-01"),
    kind: str = typer.Option(
        ..., "--kind", help="ticket_machine, rating_pad, self_service, display"
    ),
    name: str = typer.Option(..., "--name"),
    hall: str | None = typer.Option(None, "--hall", help="Hall code"),
    heartbeat: int = typer.Option(60, "--heartbeat", help="Expected heartbeat interval, seconds"),
) -> None:
    """Register a device."""
    try:
        with unit_of_work() as s:
            device, key = service.register_with_key(
                session=s,
                code=code,
                kind=kind,
                name=name,
                hall_code=hall,
                heartbeat_seconds=heartbeat,
            )
            registered = device.code, device.name
    except GovloopError as exc:
        _fail(exc)
    # printed once committed: a key is never shown for a device that was not stored
    console.print(
        f"已登记设备 {registered[0]}（{registered[1]}），"
        f"主题 {TOPIC_PREFIX}/devices/{registered[0]}/events"
    )
    console.print(f"设备密钥（HTTP 心跳请求头 X-Device-Key，只显示这一次）：{key}")


@devices_app.command("issue-key")
def issue_key(code: str = typer.Argument(...)) -> None:
    """Issue a new key for a device's HTTP messages (the old one stops working)."""
    try:
        with unit_of_work() as s:
            device = service.get_device(session=s, code=code)
            key = service.issue_device_key(session=s, device=device)
            console.print(f"设备 {device.code} 的新密钥（只显示这一次，旧密钥已失效）：{key}")
    except GovloopError as exc:
        _fail(exc)


@devices_app.command("revoke")
def revoke(
    code: str = typer.Argument(...),
    reason: str = typer.Option(..., "--reason"),
) -> None:
    """Revoke a device: its messages go to the dead letters from now on."""
    try:
        with unit_of_work() as s:
            device = service.revoke_device(session=s, code=code, reason=reason, actor="cli")
            console.print(f"已注销设备 {device.code}")
    except GovloopError as exc:
        _fail(exc)


@devices_app.command("sweep")
def sweep() -> None:
    """Mark offline every device whose heartbeat is more than 3 intervals late."""
    with unit_of_work() as s:
        swept = service.sweep_offline(session=s)
        for device in swept:
            console.print(f"{device.code} 心跳超时，已标记离线")
    console.print(f"标记离线 {len(swept)} 台")


@devices_app.command("listen")
def listen(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(1883, "--port"),
    client_id: str = typer.Option(
        CLIENT_ID, "--client-id", help="Fixed: the broker keeps the session"
    ),
    prefix: str = typer.Option(TOPIC_PREFIX, "--prefix"),
    username: str | None = typer.Option(
        None, "--username", envvar="GOVLOOP_MQTT_USERNAME", help="User name at the broker"
    ),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="GOVLOOP_MQTT_PASSWORD",
        help="Password at the broker (prefer the environment variable: not in ps output)",
    ),
    tls_ca: Path | None = typer.Option(
        None,
        "--tls-ca",
        envvar="GOVLOOP_MQTT_TLS_CA",
        exists=True,
        dir_okay=False,
        help="Connect over TLS, checking the broker against this CA file",
    ),
) -> None:
    """Receive device messages from the broker until Ctrl-C (persistent session, QoS 1)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    listener = DeviceListener(
        host=host,
        port=port,
        client_id=client_id,
        prefix=prefix,
        username=username,
        password=password,
        tls_ca=str(tls_ca) if tls_ca else None,
    )

    def stop(_signum: int, _frame: FrameType | None) -> None:
        console.print("正在停止：处理已收到的消息后断开……")
        listener.stop(timeout=0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    console.print(
        f"监听 {host}:{port} 主题 {prefix}/devices/+/events|heartbeat（客户端 {client_id}）"
    )
    listener.start()
    last, reported = 0, time.monotonic()
    while listener.running():
        time.sleep(0.5)
        if listener.stats.committed != last and time.monotonic() - reported >= 10:
            last, reported = listener.stats.committed, time.monotonic()
            console.print(f"已处理 {last} 条")
    c = listener.stats.counts
    console.print(
        f"已处理 {listener.stats.committed} 条：存储 {c.stored}，"
        f"重复 {c.duplicates}，拒收 {c.rejected}"
    )
    if listener.error is not None:
        console.print(f"[red]监听出错：{listener.error!r}（未确认的消息将由代理重新投递）[/red]")
        raise typer.Exit(1)
