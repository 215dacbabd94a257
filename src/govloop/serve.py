"""`govloop serve`: the web application under uvicorn."""

from __future__ import annotations

import ipaddress

import typer
from rich.console import Console

console = Console()
GRACEFUL_SHUTDOWN_S = 15  # within the deploy kit's TimeoutStopSec and stop_grace_period (20 s)


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

    from govloop.core import logs
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
    logs.configure(settings.log_format, settings.log_level)
    uvicorn.run(
        "govloop.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through govloop's log configuration
        access_log=False,  # one line per request comes from govloop's AccessLog
        # on SIGTERM: stop accepting, let requests in flight finish, end the live streams
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # X-Forwarded-For/-Proto are believed only from the configured proxies; uvicorn's
        # default would believe any local process.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )
