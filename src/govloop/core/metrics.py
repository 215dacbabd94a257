"""Prometheus metrics: request latency per route, the timed duties, and what each domain
reports at scrape time (queues, dead letters, the audit chain).

One registry of govloop's own (not the library's global one), so several applications in
one process (tests) share the instruments. Domains register a ``Gauges`` function: it reads
with the scrape's read-only session and returns the gauge families to expose.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

log = logging.getLogger("govloop.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS = Histogram(
    "govloop_request_seconds",
    "Time to answer a request, by route template.",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DUTY_SECONDS = Histogram(
    "govloop_duty_seconds",
    "Duration of a timed duty's run.",
    ["duty"],
    registry=REGISTRY,
    buckets=(0.01, 0.1, 0.5, 1, 5, 15, 60, 300),
)
DUTY_LAST_SUCCESS = Gauge(
    "govloop_duty_last_success_timestamp_seconds",
    "When a timed duty last finished without an error (Unix time).",
    ["duty"],
    registry=REGISTRY,
)
DUTY_FAILURES = Counter(
    "govloop_duty_failures", "Runs of a timed duty that raised.", ["duty"], registry=REGISTRY
)

Gauges = Callable[[Session], list[GaugeMetricFamily]]
_GAUGES: list[tuple[str, Gauges]] = []
_session_factory: Callable[[], Any] | None = None


def register_gauges(name: str, gauges: Gauges) -> None:
    """A domain's figures read at scrape time (e.g. hall: tickets waiting per hall)."""
    if all(existing != name for existing, _ in _GAUGES):
        _GAUGES.append((name, gauges))


def use_sessions(factory: Callable[[], Any]) -> None:
    """Where the scrape reads: a context manager giving a read-only session."""
    global _session_factory
    _session_factory = factory


class _DomainCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        if _session_factory is None:
            return
        for name, gauges in _GAUGES:
            try:
                with _session_factory() as session:
                    yield from gauges(session)
            except Exception:  # one domain's failure must not hide the others' figures
                log.exception("metrics of %s failed", name)


REGISTRY.register(_DomainCollector())


def timed_duty(name: str, run: Callable[[], None]) -> None:
    """Run a duty, recording its duration, last success and failures; re-raises."""
    started = time.perf_counter()
    try:
        run()
    except Exception:
        DUTY_FAILURES.labels(name).inc()
        raise
    finally:
        DUTY_SECONDS.labels(name).observe(time.perf_counter() - started)
    DUTY_LAST_SUCCESS.labels(name).set(time.time())


def token_matches(presented: str | None, expected: str) -> bool:
    return bool(presented) and hmac.compare_digest(str(presented), expected)


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """A request's latency, labelled by its route's template (not the URL, so ids do not
    multiply the series); unmatched paths share one label. A live stream lasts as long as
    the screen stays open: it is no latency and is left out."""
    template = route or "unmatched"
    if not template.endswith("/stream"):
        REQUEST_SECONDS.labels(method, template, f"{status // 100}xx").observe(seconds)
