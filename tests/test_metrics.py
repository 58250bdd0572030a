"""Operators' view: ``/metrics`` in Prometheus' format (open to this machine, or to the bearer of
``RUTIN_METRICS_TOKEN``), request ids, and JSON log lines."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from conftest import Person, publish
from prometheus_client.parser import text_string_to_metric_families

from engine.base.clock import ManualClock
from engine.core import Engine
from engine.service import audit
from webapp import logs

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(text: str, name: str) -> float:
    return _samples(text)[(name, ())]


def test_the_figures_follow_the_service(client: Any, people: dict[str, Person], engine: Engine,
                                        clock: ManualClock) -> None:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    before = r.get_data(as_text=True)
    assert _value(before, "rutin_cases_started_total") == 0
    assert _value(before, "rutin_audit_last_clean_timestamp_seconds") == 0
    publish(client, people, "review.bpmn")
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 1}}, headers=people["hanna"].headers)
    [task] = r.get_json()["open_tasks"]
    client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"kommentar": "ok"}},
                headers=people["greta"].headers)
    [decision] = client.get(f"/api/cases/{r.get_json()['id']}", headers=people["admin"].headers
                            ).get_json()["open_tasks"]
    client.post(f"/api/tasks/{decision['id']}/claim", headers=people["hanna"].headers)
    r = client.patch(f"/api/tasks/{decision['id']}", json={"due": "2026-03-02T10:00:00+01:00"},
                     headers=people["hanna"].headers)
    assert r.status_code == 200, r.get_json()
    assert _value(client.get("/metrics").get_data(as_text=True), "rutin_tasks_overdue_open") == 0
    clock.advance(timedelta(hours=2))
    checked = audit.verify_all(engine)
    assert checked["clean"]
    text = client.get("/metrics").get_data(as_text=True)
    assert _value(text, "rutin_cases_started_total") == 1
    assert _value(text, "rutin_cases_completed_total") == 0
    assert _value(text, "rutin_tasks_completed_total") == 1
    assert _value(text, "rutin_tasks_overdue_open") == 1
    assert _value(text, "rutin_incidents_open") == 0
    assert _value(text, "rutin_escalations_sent_total") == 0
    assert _value(text, "rutin_timer_lag_seconds") >= 0
    assert _value(text, "rutin_outbox_backlog") >= 0
    assert _value(text, "rutin_audit_last_clean_timestamp_seconds") == clock.now().timestamp()
    latency = _samples(text)
    key = ("rutin_http_request_duration_seconds_count",
           (("method", "POST"), ("route", "/api/tasks/<task_id>/complete")))
    assert latency[key] >= 1


def test_only_this_machine_reads_them_without_a_token(client: Any, engine: Engine) -> None:
    r = client.get("/metrics", environ_base=REMOTE)
    assert r.status_code == 403 and "rutin_" not in r.get_data(as_text=True)
    r = client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"})  # a proxy on this machine passed it on
    assert r.status_code == 403 and "rutin_" not in r.get_data(as_text=True)
    assert client.get("/metrics").status_code == 200


def test_the_token_opens_them_from_anywhere_and_nothing_else_does(app: Any, engine: Engine) -> None:
    engine.settings = dataclasses.replace(engine.settings, metrics_token="skrap-hemlighet-1")
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer fel"}, {"Authorization": "Basic skrap-hemlighet-1"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and "rutin_" not in r.get_data(as_text=True)
    r = client.get("/metrics", headers={"Authorization": "Bearer skrap-hemlighet-1"}, environ_base=REMOTE)
    assert r.status_code == 200 and "rutin_cases_started_total" in r.get_data(as_text=True)


def test_each_request_has_an_id(client: Any) -> None:
    given = client.get("/api/openapi.json", headers={"X-Request-Id": "proxy-7f3a.1"})
    assert given.headers["X-Request-Id"] == "proxy-7f3a.1"
    for bad in ("bad id; X-Evil: 1", "x" * 65, "<script>"):
        made = client.get("/api/openapi.json", headers={"X-Request-Id": bad})
        assert made.headers["X-Request-Id"] != bad and len(made.headers["X-Request-Id"]) == 32


def test_json_logs_carry_time_level_logger_message_request_and_user(app: Any, people: dict[str, Person],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    logs.configure("json")
    logs.configure("json")  # once per process
    assert len(root.handlers) == 1
    with app.test_request_context("/api/tasks", headers={"X-Request-Id": "req-42"}):
        app.preprocess_request()
        from flask import g

        g.actor = people["hanna"].actor
        logging.getLogger("engine.test").warning("uppgift %s", "klar")
    logging.getLogger("engine.test").info("utanför en begäran")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "engine.test" and first["message"] == "uppgift klar"
    assert (first["request_id"], first["user"], first["path"]) == ("req-42", "hanna", "/api/tasks")
    assert first["time"].endswith("+00:00")
    assert second["message"] == "utanför en begäran" and "request_id" not in second
