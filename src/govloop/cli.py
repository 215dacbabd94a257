"""The `govloop` command: one sub-command group per domain."""

from __future__ import annotations

import typer

from govloop.access.cli import audit_app
from govloop.analytics.cli import export_records
from govloop.backup import backup, restore
from govloop.bench.cli import bench_app
from govloop.bench.requests import bench_requests
from govloop.catalog.cli import catalog_app
from govloop.core.cli import db_app, users_app
from govloop.demo.cli import demo, simulate_devices
from govloop.doctor import doctor
from govloop.hall.cli import hall_app
from govloop.hotline.cli import app as hotline_app
from govloop.hotline.open311.cli import app as open311_app
from govloop.indicators.cli import indicators_app
from govloop.ingest.cli import ingest_app
from govloop.ingest.devices.cli import devices_app
from govloop.insight.cli import insight_app
from govloop.matters.cli import matters_app
from govloop.notify.cli import notify_app
from govloop.retention.cli import retention_app
from govloop.serve import serve
from govloop.setup.cli import init, org_app
from govloop.subjects.cli import subjects_app
from govloop.worker import worker

app = typer.Typer(help="govloop — 政务服务数字化运营平台", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(org_app, name="org")
app.command("init")(init)
app.add_typer(hall_app, name="hall")
app.add_typer(bench_app, name="bench")
bench_app.command("requests")(bench_requests)
app.add_typer(indicators_app, name="indicators")
app.add_typer(insight_app, name="insight")
app.add_typer(hotline_app, name="hotline")
app.add_typer(matters_app, name="matters")
app.add_typer(notify_app, name="notify")
hotline_app.add_typer(open311_app, name="open311")
app.add_typer(ingest_app, name="ingest", help="数据接入：文件、HTTP、MQTT、死信、运行记录")
app.add_typer(devices_app, name="devices", help="设备登记、心跳与在线率")
app.add_typer(subjects_app, name="subjects")
app.add_typer(audit_app, name="audit")
app.add_typer(retention_app, name="retention")
app.add_typer(catalog_app, name="catalog", help="数据目录、标签与知识图谱")
app.command("demo")(demo)
devices_app.command("simulate")(simulate_devices)
ingest_app.command("export")(export_records)
app.command("serve")(serve)
app.command("worker")(worker)
app.command("doctor")(doctor)
app.command("backup")(backup)
app.command("restore")(restore)

if __name__ == "__main__":
    app()
