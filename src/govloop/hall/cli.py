"""Hall CLI: `govloop hall …`, `govloop serve`, `govloop demo`, `govloop bench hall`."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import typer
from rich.console import Console

from govloop.core.db import unit_of_work
from govloop.core.errors import GovloopError
from govloop.hall import appointments
from govloop.org import service as org_service

console = Console()
hall_app = typer.Typer(help="Service hall operations.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (print JSON).", no_args_is_help=True)


@hall_app.command("sweep-appointments")
def sweep_appointments(hall: str = typer.Argument(..., help="Hall code")) -> None:
    """Mark appointments whose slot has passed without check-in as missed."""
    try:
        with unit_of_work() as session:
            missed = appointments.sweep_missed(
                session=session, hall=org_service.get_hall(session=session, code=hall)
            )
    except GovloopError as exc:
        console.print(f"[red]错误：{exc.message}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"missed: {len(missed)}")


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the web application (behind a reverse proxy: set GOVLOOP_TRUSTED_PROXIES)."""
    import uvicorn

    from govloop.core.settings import DEV_SECRET, get_settings

    settings = get_settings()
    if settings.secret_key == DEV_SECRET and not is_loopback(host):
        # Anyone can sign session cookies with the public development secret.
        console.print(
            f"拒绝在 {host} 上提供服务：仍在使用公开的开发密钥。\n"
            "请先设置 GOVLOOP_SECRET_KEY 为随机长字符串，例如\n"
            "  export GOVLOOP_SECRET_KEY=\"$(python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')\"\n"
            "或只在本机地址上运行（--host 127.0.0.1）。",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    proxies = settings.trusted_proxies.strip()
    uvicorn.run(
        "govloop.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # X-Forwarded-For/-Proto are believed only from the configured proxies; uvicorn's
        # default would believe any local process.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )


DEMO_SECRET_FILE = Path("var") / "secret_key"


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
    rectification cases, a SERVQUAL survey) and serve it with a live day."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn

    from govloop.core.clock import local_today, now, to_local
    from govloop.core.db import get_engine
    from govloop.core.migrate import upgrade
    from govloop.core.settings import DEV_SECRET, get_settings
    from govloop.hall import demo as demo_data
    from govloop.hall import demo_live

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
    from govloop.hotline import demo as hotline_demo

    with console.status("12345 热线：工单、知识库、派单模型与热点…"), unit_of_work() as session:
        hotline = hotline_demo.build(session=session, now=now(), seed=seed)
    console.print(hotline_demo.summary_line(hotline))
    from govloop.demo_platform import STEPS

    for label, step in STEPS:
        with console.status(f"{label}…"), unit_of_work() as session:
            world = demo_data.load_world(session=session)
            assert world is not None
            console.print(step(session, seed, world.hall.id))
    from govloop.ingest.devices_demo import issue_pad_keys

    with unit_of_work() as session:
        pads = issue_pad_keys(session=session)
    console.print(demo_data.login_table())
    console.print(hotline_demo.login_table(hotline))
    if not serve_app:
        return
    plan = None
    if live:
        with unit_of_work() as session:
            world = demo_data.load_world(session=session)
            assert world is not None
            plan = demo_data.live_plan(session=session, world=world)
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
            "差评即时生成整改工单。按 Ctrl-C 结束。[/green]"
        )

    def log(message: str) -> None:
        console.print(f"[dim]{to_local(now()):%H:%M:%S}[/dim] {message}")

    demo_live.serve_with_live_day(host=host, port=port, plan=plan, seed=seed, log=log)
    console.print("[yellow]演示已停止。[/yellow]")


@bench_app.command("hall")
def bench_hall(
    backend: str = typer.Option("sqlite", help="sqlite or postgresql"),
    windows: int = typer.Option(50, min=1, help="Windows, each driven by one client"),
    kiosks: int = typer.Option(10, min=1, help="Concurrent kiosks issuing tickets"),
    tickets: int = typer.Option(20000, min=1, help="Tickets to issue"),
    workers: int = typer.Option(
        0, min=0, help="uvicorn worker processes (0: 1 on SQLite, one per CPU on PostgreSQL)"
    ),
    items: int = typer.Option(8, min=2, max=24, help="Service items"),
    service_ms: float = typer.Option(300.0, min=1, help="Mean handling time per ticket (ms)"),
    load: float = typer.Option(1.0, min=0.05, help="Arrival rate / nominal window capacity"),
    patience_s: float = typer.Option(30.0, min=0.1, help="Mean citizen patience (s)"),
    seed: int = typer.Option(1, help="Random seed of the load"),
    client: str = typer.Option("lean", help="HTTP client of kiosks and windows: lean or httpx"),
    postgres_url: str | None = typer.Option(
        None, help="Server for --backend postgresql (default: GOVLOOP_TEST_POSTGRES_URL)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object to stdout"),
) -> None:
    """Drive a real server with concurrent kiosks, windows and a display; print the figures."""
    import json

    from rich.table import Table

    from govloop.hall.bench import BenchConfig, run_bench

    if backend not in ("sqlite", "postgresql"):
        raise typer.BadParameter("--backend must be sqlite or postgresql")
    if client not in ("lean", "httpx"):
        raise typer.BadParameter("--client must be lean or httpx")
    config = BenchConfig(
        backend=backend,
        windows=windows,
        kiosks=kiosks,
        tickets=tickets,
        workers=workers,
        items=items,
        service_ms=service_ms,
        load=load,
        patience_s=patience_s,
        seed=seed,
        client=client,
    )
    if postgres_url:
        config.postgres_url = postgres_url
    result = run_bench(config, Console(stderr=True))
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
        return
    table = Table(title=f"bench hall — {backend}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else str(value)
        )
    console.print(table)


@hall_app.command("run-jobs")
def run_jobs() -> None:
    """Run the timed duties once: missed appointments, closing the queue after hours."""
    from govloop.hall.jobs import run_all_halls

    with unit_of_work() as session:
        for report in run_all_halls(session=session):
            closed = sum(len(v) for v in report["closed"].values())
            missed = len(report["missed"])
            console.print(f"{report['hall']}: missed appointments {missed}, closed {closed}")
