"""Application settings, read from the environment (prefix ``GOVLOOP_``)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVLOOP_", env_file=".env", extra="ignore")

    environment: str = "development"
    database_url: str = f"sqlite:///{Path('var') / 'govloop.db'}"
    secret_key: str = DEV_SECRET
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    # Login rate limiting (core/ratelimit.py): failed sign-ins allowed inside the window per
    # username (from browsers without that user's device cookie) and per device cookie;
    # login_ip_max_failures per client address, whatever the username.
    login_max_failures: int = 5
    login_window_seconds: int = 900
    login_ip_max_failures: int = 20
    # Where rate-limit counters live: memory:// (one process) or redis://host:port/db.
    rate_limit_storage: str = "memory://"
    rate_limit_enabled: bool = True
    # Overrides of the named limits in core/ratelimit.py, e.g. {"tickets": "60/minute"}.
    rate_limits: dict[str, str] = {}
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or networks);
    # empty: the client address is the socket peer.
    trusted_proxies: str = ""
    # Holidays declared for years the chinese-calendar package does not know yet (ISO dates).
    extra_holidays: list[str] = []
    extra_workdays: list[str] = []
    session_max_age_seconds: int = 12 * 3600
    # Run timed duties (missed appointments, closing time) inside the web process.
    run_jobs: bool = True
    # Bearer token a Prometheus scraper presents at /metrics; empty: this machine only.
    metrics_token: str = ""
    # Log lines: "json" (one object per line, for a log shipper) or "console"; and the level.
    log_format: str = "console"
    log_level: str = "INFO"
    # Retention: hall and hotline events older than this many days move from the database to
    # Parquet archives in the data directory (0: keep them all); the access log likewise.
    retention_days: int = Field(default=400, ge=0)
    audit_retention_days: int = Field(default=400, ge=0)
    # Incremental indicator refresh (export new events, recompute touched periods).
    indicator_refresh_seconds: float = 300
    # Ingest limits: bytes of one push request, of one uploaded file, records of one push.
    # Any request body (forms, JSON) not covered by a route's own limit below.
    max_request_bytes: int = 8 * 1024 * 1024
    ingest_max_body_bytes: int = 5 * 1024 * 1024
    ingest_max_upload_bytes: int = 100 * 1024 * 1024
    ingest_max_rows: int = 10_000
    # Notifications. Where govloop is reached from outside (links in messages, the gateway's
    # delivery reports and inbound messages, courier pushes).
    public_base_url: str = "http://127.0.0.1:8000"
    # SMS gateway: "simulated" (nothing leaves the machine; development and demo) or
    # "kannel" (Kannel's sendsms interface; delivery reports come back to govloop).
    sms_gateway: str = "simulated"
    kannel_sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    kannel_username: str = "govloop"
    kannel_password: str = ""
    kannel_sender: str = "12345"
    # Kannel's sms-service calls govloop's inbound URL with this token (empty: refused).
    kannel_inbound_token: str = ""
    # Email: "simulated" or "smtp".
    email_gateway: str = "simulated"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_sender: str = "noreply@govloop.local"
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    # Messages to one citizen's phone or address, at most (limits syntax).
    notify_citizen_caps: str = "5 per hour;20 per day"
    # Attempts before a message goes to the dead-letter list.
    notify_max_attempts: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def refuse_default_secret(self) -> Settings:
        if self.environment != "development" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "GOVLOOP_SECRET_KEY must be set outside development (the default is public)"
            )
        return self

    @field_validator("rate_limits")
    @classmethod
    def valid_limits(cls, value: dict[str, str]) -> dict[str, str]:
        from limits import parse_many

        for limit in value.values():
            parse_many(limit)  # ValueError names what it cannot read
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def valid_proxies(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                ipaddress.ip_network(entry.strip(), strict=False)  # ValueError names it
        return value

    @property
    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [
            ipaddress.ip_network(e.strip(), strict=False)
            for e in self.trusted_proxies.split(",")
            if e.strip()
        ]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class AnalyticsSettings(BaseSettings):
    """Where the analytics store lives and what DuckDB may use. Read at call time (not
    cached like ``get_settings``) so a command, a benchmark or a test can point the store
    elsewhere; ``.env`` is honoured like every other setting."""

    model_config = SettingsConfigDict(env_prefix="GOVLOOP_", env_file=".env", extra="ignore")

    # The analytics store (Parquet files read by DuckDB or Spark).
    data_dir: Path = Path("var") / "data"
    # DuckDB resources: the machine is shared, so stay within two threads and a few GB.
    duckdb_threads: int = 2
    duckdb_memory_limit: str = "3GB"


def analytics_settings() -> AnalyticsSettings:
    return AnalyticsSettings()


@lru_cache
def get_settings() -> Settings:
    return Settings()
