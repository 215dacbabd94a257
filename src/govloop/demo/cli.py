"""`govloop demo` (a working center on the embedded database) and `govloop devices simulate`."""

from __future__ import annotations

import json
import os
import random
import secrets
import time
from pathlib import Path

import typer
from rich.console import Console

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.demo.devices import simulation_messages
from govloop.ingest.devices import service
from govloop.ingest.devices.mqtt import TOPIC_PREFIX, publish_messages

console = Console()


DEMO_SECRET_FILE = Path("var") / "secret_key"
DEMO_LOG_FILE = Path("var") / "demo.log"
# libraries that talk while the demo is built (Splink training its model, Spark)
CHATTY_LOGGERS = ("splink", "py4j", "pyspark")


def libraries_log_to_file(path: Path = DEMO_LOG_FILE) -> Path:
    """Library warnings go to the demo's log file, not between the summary and the logins
    (which must be the last thing on the screen)."""
    import logging
    import warnings

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.handlers = [handler]
    warnings_logger.propagate = False
    warnings.simplefilter("default")
    return path


def demo_secret(path: Path = DEMO_SECRET_FILE) -> str:
    """The demo's own secret key: random, made once and kept (readable by its owner only),
    so that demo sign-ins survive a restart without the public development secret."""
    if path.exists():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            path.chmod(0o600)
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret + "\n")
    path.chmod(0o600)  # also when the file was there, empty, with other bits
    return secret


def demo(
    days: int = typer.Option(90, min=1, max=366, help="Days of history before today."),
    reset: bool = typer.Option(False, "--reset", help="Drop every table and build anew."),
    serve_app: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the app afterwards (--no-serve: seed only)."
    ),
    live: bool = typer.Option(
        True, "--live/--no-live", help="Drive a simulated live day while serving."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to serve on."),
    port: int = typer.Option(8000, help="Port to serve on."),
    seed: int = typer.Option(2026, help="Random seed of the history (same seed, same data)."),
) -> None:
    """Build the demo hall with 90 days of history (visits, 好差评 ratings and their
    rectification cases, a SERVQUAL survey, matters with their parcels and messages) and
    serve it with a live day."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

    from govloop.core.clock import local_today, now, to_local
    from govloop.core.db import get_engine
    from govloop.core.migrate import upgrade
    from govloop.core.settings import DEV_SECRET, get_settings
    from govloop.demo.hall import live as demo_live
    from govloop.demo.hall import seed as demo_data

    if get_settings().environment != "development":
        console.print("[red]演示数据只用于开发环境（GOVLOOP_ENVIRONMENT=development）[/red]")
        raise typer.Exit(1)
    if serve_app and not demo_live.port_is_free(host, port):
        console.print(f"[red]端口 {port} 已被占用：请先停止占用它的程序，或用 --port 换一个[/red]")
        raise typer.Exit(1)
    if serve_app and get_settings().secret_key == DEV_SECRET:
        # the demo signs its cookies with a key of its own, never the public one
        os.environ["GOVLOOP_SECRET_KEY"] = demo_secret()
        get_settings.cache_clear()
    libraries_log_to_file()
    engine = get_engine()
    if reset:
        demo_data.drop_everything(engine)
    upgrade(engine)
    labels = {
        "simulate": "模拟历史工作日",
        "write": "批量写入数据库",
        "ratings": "好差评与差评整改",
    }
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*Progress.get_default_columns()[:1], *columns, console=console) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
            bar.update(tasks[phase], completed=done, total=total)

        try:
            with unit_of_work() as session:
                world = demo_data.load_world(session=session)
                created = world is None
                if world is None:
                    world = demo_data.seed_catalogue(session=session)
                else:
                    demo_data.close_stale_days(session=session, world=world, today=local_today())
                report = demo_data.generate_history(
                    session=session, world=world, days=days, seed=seed, progress=progress
                )
        except GovloopError as exc:
            console.print(f"[red]错误：{exc.message}[/red]")
            raise typer.Exit(1) from exc
    console.print(demo_data.summary_table(report, created=created, seed=seed))
    from govloop.insight import watch

    with console.status("异常检测（运营分析）…"), unit_of_work() as session:
        scan = watch.scan(session=session, hall_code=demo_data.HALL_CODE)
    console.print(f"运营分析：发现异常 {scan.found} 个（新增 {scan.new} 个）")
    from govloop.demo.hotline import seed as hotline_demo

    with console.status("12345 热线：工单、知识库、派单模型与热点…"), unit_of_work() as session:
        hotline = hotline_demo.build(session=session, now=now(), seed=seed)
    console.print(hotline_demo.summary_line(hotline))
    from govloop.demo.platform import STEPS

    for label, step in STEPS:
        with console.status(f"{label}…"), unit_of_work() as session:
            world = demo_data.load_world(session=session)
            assert world is not None
            console.print(step(session, seed, world.hall.id))
    from govloop.demo.devices import issue_pad_keys

    with unit_of_work() as session:
        pads = issue_pad_keys(session=session)
    if not serve_app:
        console.print(demo_data.login_table())
        console.print(hotline_demo.login_table(hotline))
        return
    plan = None
    if live:
        with unit_of_work() as session:
            world = demo_data.load_world(session=session)
            assert world is not None
            plan = demo_data.live_plan(
                session=session, world=world, device_keys={code: key for _n, code, key in pads}
            )
    base = f"http://{host}:{port}"
    console.print(
        f"[bold green]服务地址 {base}[/bold green]  大屏 {base}/halls/{demo_data.HALL_CODE}/display"
        f"  API 文档 {base}/api/docs"
    )
    console.print(
        f"差评整改 {base}/ratings/cases?hall={demo_data.HALL_CODE}"
        f"  SERVQUAL 问卷 {base}/surveys（以 manager 登录）"
    )
    console.print(
        f"12345 热线 {base}/hotline（以 agent1 登录）  市民网上反映 {base}/hotline/report\n"
        f"运营分析 {base}/insight?hall={demo_data.HALL_CODE}"
        f"  最佳办事时间 {base}/best-time/{demo_data.HALL_CODE}"
    )
    console.print(
        f"数据平台（以 steward 登录）：数据接入 {base}/ingest  主题库 {base}/subjects"
        f"  数据质量 {base}/subjects/quality  数据目录 {base}/catalog  知识图谱 {base}/graph\n"
        f"大厅设备 {base}/devices（manager）  访问审计 {base}/access/audit（auditor）"
        f"  最小必要清单 {base}/access/policy  谁查看了我的数据 {base}/my-data"
        f"  移动工作台 {base}/field（field1）"
    )
    console.print(
        f"办件（以 dept-sj、dept-bdc 等承办人登录）{base}/matters"
        f"  办件进度查询 {base}/matters/track  短信通知记录 {base}/notify/log（admin）"
    )
    if pads:
        number, code, key = pads[0]
        console.print(
            f"评价器 {base}/halls/{demo_data.HALL_CODE}/windows/{number}/pad"
            f"  配对：设备编码 {code}  设备密钥 {key}"
            f"（其余窗口的评价器密钥：govloop devices issue-key PJQ-0N）"
        )
    if plan is not None:
        console.print(
            "[green]实时模拟已开始：大屏上会不断有取号、叫号和办结；办结后群众会评价，"
            "差评即时生成整改工单；大厅设备按时上报心跳。按 Ctrl-C 结束。[/green]"
        )
    # the logins last: they are what a visitor looks for
    console.print(demo_data.login_table())
    console.print(hotline_demo.login_table(hotline))

    def log(message: str) -> None:
        console.print(f"[dim]{to_local(now()):%H:%M:%S}[/dim] {message}")

    demo_live.serve_with_live_day(host=host, port=port, plan=plan, seed=seed, log=log)
    console.print("[yellow]演示已停止。[/yellow]")


def simulate_devices(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(1883, "--port"),
    prefix: str = typer.Option(TOPIC_PREFIX, "--prefix"),
    hall: str | None = typer.Option(None, "--hall", help="Only this hall's devices"),
    rounds: int = typer.Option(
        10, "--rounds", help="Heartbeat rounds to publish (0: until Ctrl-C)"
    ),
    interval: float = typer.Option(5.0, "--interval", help="Seconds between rounds"),
    malformed: bool = typer.Option(False, "--malformed", help="Also publish one broken payload"),
    seed: int = typer.Option(7, "--seed"),
) -> None:
    """Publish realistic traffic of the registered devices to the broker (QoS 1)."""
    try:
        with unit_of_work(readonly=True) as s:
            hall_id = service.hall_id_for_code(session=s, code=hall) if hall else None
            fleet = [
                (d.code, d.kind)
                for d in service.list_devices(session=s, hall_id=hall_id)
                if not d.revoked
            ]
    except GovloopError as exc:
        console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    if not fleet:
        console.print(
            "[red]没有已登记的设备：先运行 govloop devices register 或 govloop demo[/red]"
        )
        raise typer.Exit(1)
    rng = random.Random(seed)
    sent = 0
    done = 0
    try:
        while rounds == 0 or done < rounds:
            batch = [
                (f"{prefix}/devices/{code}/events", json.dumps(body, ensure_ascii=False))
                for code, body in simulation_messages(fleet, rng)
            ]
            if malformed and done == 0:
                batch.append((f"{prefix}/devices/{fleet[0][0]}/events", "{broken json"))
            sent += publish_messages(batch, host=host, port=port)
            done += 1
            console.print(f"第 {done} 轮：已发布 {len(batch)} 条（累计 {sent}）")
            if rounds == 0 or done < rounds:
                time.sleep(interval)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        console.print(f"[red]无法连接 MQTT 代理 {host}:{port}：{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"共发布 {sent} 条消息（{len(fleet)} 台设备）")
