"""``GET /metrics``: the service's figures and request latencies in Prometheus' text format.

Who may read it: with ``RUTIN_METRICS_TOKEN`` set, a request that brings that token
(``Authorization: Bearer <token>``); without one, only a client on this machine (a loopback
address, and no ``Forwarded``/``X-Forwarded-For`` header, which would mean a proxy on this machine
passed it on from elsewhere). Not an administrator's sign-in: a Prometheus server cannot sign in
through the municipality's identity provider, and an administrator's API token given to it would
let whoever reads the scrape configuration do everything an administrator may; a token that opens
this one address only risks the figures. The figures name no case and no person.

The domain figures are read from the database at each scrape (`engine.service.operations`), so
every process reports the same ones. Request latencies are measured in the web process that served
the request; with several web processes (``rutin serve --workers``) each writes its samples to
``PROMETHEUS_MULTIPROC_DIR`` (set by ``rutin serve``) and a scrape adds them all up.

Imports inside functions: prometheus-client's `multiprocess` collector is imported only when
several web processes share their figures (``PROMETHEUS_MULTIPROC_DIR`` is set).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engine.base.errors import Forbidden, Unauthorized
from engine.service import operations

bp = Blueprint("metrics", __name__)

REQUEST_SECONDS = Histogram(
    "rutin_http_request_duration_seconds", "Tid att besvara en begäran, per väg och metod.",
    ["route", "method"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


class DomainCollector(Collector):
    """The engine's figures as Prometheus metrics, read when scraped."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """One reading of the figures (`engine.service.operations.figures`)."""
        f = operations.figures(self.app.extensions["rutin"])
        for name, doc, value in (
                ("rutin_cases_started", "Startade ärenden.", f.cases_started),
                ("rutin_cases_completed", "Avslutade ärenden.", f.cases_completed),
                ("rutin_tasks_completed", "Slutförda uppgifter.", f.tasks_completed),
                ("rutin_escalations_sent", "Eskaleringssteg som har skickats.", f.escalations_sent)):
            yield CounterMetricFamily(name, doc, value=value)
        for name, doc, gauge in (
                ("rutin_tasks_overdue_open", "Öppna uppgifter som har passerat förfallodatum.", f.tasks_overdue_open),
                ("rutin_incidents_open", "Ärenden som står still på ett fel (incident).", f.incidents_open),
                ("rutin_timer_lag_seconds", "Hur länge den äldsta förfallna timern har väntat.", f.timer_lag_s),
                ("rutin_outbox_backlog", "E-post som väntar på att skickas.", f.outbox_backlog)):
            yield GaugeMetricFamily(name, doc, value=gauge)
        yield GaugeMetricFamily("rutin_audit_last_clean_timestamp_seconds",
                                "När en kontroll av historiken senast var utan anmärkning (Unix-tid; 0 om aldrig).",
                                value=f.audit_last_clean.timestamp() if f.audit_last_clean else 0.0)


def _registry(app: Flask) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # only with several web processes

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(DomainCollector(app))
    return registry


def _through_proxy() -> bool:
    return "Forwarded" in request.headers or "X-Forwarded-For" in request.headers


def may_read() -> None:
    """Refuse a scrape that brings neither the metrics token nor comes from this machine."""
    token = current_app.extensions["rutin"].settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise Unauthorized("Ange mätvärdestoken i huvudet Authorization: Bearer <token> (RUTIN_METRICS_TOKEN).")
        return
    try:
        loopback = ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        loopback = False
    if not loopback or _through_proxy():
        raise Forbidden("Mätvärdena visas bara för den här datorn; sätt RUTIN_METRICS_TOKEN för att hämta dem "
                        "från en annan.")


@bp.get("/metrics")
def metrics() -> Response:
    """The figures and latencies, for Prometheus."""
    may_read()
    registry = current_app.extensions["rutin.metrics"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def install(app: Flask) -> None:
    """Time every request by its route, and serve ``/metrics``."""
    app.extensions["rutin.metrics"] = _registry(app)

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.teardown_request
    def _observe(_exc: Any) -> None:
        started = g.pop("metrics_started", None)
        if started is None:
            return
        route = request.url_rule.rule if request.url_rule is not None else "(okänd)"
        REQUEST_SECONDS.labels(route=route, method=request.method).observe(time.perf_counter() - started)

    app.register_blueprint(bp)
