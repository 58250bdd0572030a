"""No request answers 5xx: every operation of the served OpenAPI description (/api/openapi.json),
fuzzed by schemathesis against the WSGI app with valid and invalid path, query and body values,
as an administrator and as a plain handler; and each answer's status and media type are among
those the description gives for the operation.

The database holds an organisation, a published process with a case and its open task, an
absence, a delegation item and a notification, and each operation is fuzzed once with their real
ids in its path (so the handler runs past its 404) and once with whatever schemathesis makes of
the path. Generation is derandomized and the budget per operation fixed (`RUTIN_SCHEMA_EXAMPLES`
raises it for a longer search), so a run is reproducible and takes about a minute on SQLite.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from conftest import FIXTURES, Person, publish
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks

from engine.authority import identity
from engine.core import Engine
from engine.routing import accounts, notifications

EXAMPLES = int(os.environ.get("RUTIN_SCHEMA_EXAMPLES", "6"))
CONTRACT = [checks.status_code_conformance, checks.content_type_conformance]


def _seed(client: Any, people: dict[str, Person], engine: Engine) -> dict[str, str]:
    """Something real behind each kind of id in the API's paths."""
    admin = people["admin"].headers
    org = client.put("/api/org", data=(FIXTURES / "org.yaml").read_bytes(),
                     headers={**admin, "Content-Type": "application/yaml"})
    assert org.status_code == 200, org.get_json()
    assert publish(client, people, "seq3.bpmn").status_code == 201
    case = client.post("/api/processes/seq3/cases", json={"business_key": "BN-1"}, headers=admin).get_json()
    absence = client.post("/api/absences", json={"user": "hanna", "from": "2026-04-01T00:00:00Z",
                                                 "to": "2026-04-10T00:00:00Z"}, headers=admin).get_json()
    item = client.post("/api/delegation/items", json={"number": "1.1", "title": "Beslut", "delegate_role":
                                                      "Handläggare", "process_key": "seq3"}, headers=admin)
    assert item.status_code == 201, item.get_json()
    rule = client.post("/api/retention/rules", json={
        "process_key": "seq3", "action": "gallras", "years": 2, "decision_ref": "KS 2025/117",
        "decision_body": "Kommunstyrelsen", "decision_date": "2025-06-10"}, headers=admin)
    assert rule.status_code == 201, rule.get_json()
    with engine.db.write() as s:
        notifications.notify(s.connection(), engine.clock.now(), ["hanna", "admin"], kind="reminder",
                             subject="Påminnelse", body="Steg ett väntar", dedupe="schema-test")
        notification = s.execute(sa.text("SELECT min(id) FROM notifications")).scalar_one()
    # someone else's token (revoking the caller's own would end the run's authentication)
    identity.issue_token(engine, "hugo", label="schema")
    token = accounts.list_tokens(engine, identity.SYSTEM, user="hugo")["items"][0]["id"]
    return {"token_id": str(token), "key": "seq3", "number": "1", "case_id": case["id"], "task_id": case["open_tasks"][0]["id"],
            "unit_id": "bygglov", "absence_id": str(absence["id"]), "item_id": str(item.get_json()["id"]),
            "notification_id": str(notification), "name": "svar",
            "rule_id": str(rule.get_json()["id"]), "delivery_id": "999", "measure": "within_deadline_share"}


def _fuzz(strategy: Any, check: Callable[[Any], None]) -> None:
    """`check` each case `strategy` makes, within the fixed budget, in a reproducible order."""

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def run(case: Any) -> None:
        check(case)

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid in an operation without parameters
        run()


@pytest.mark.parametrize("who", ["admin", "hanna"])
def test_no_operation_answers_5xx(app: Any, client: Any, people: dict[str, Person], engine: Engine,
                                  caplog: pytest.LogCaptureFixture, who: str) -> None:
    ids = _seed(client, people, engine)
    headers = people[who].headers
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    failures: list[str] = []
    caplog.set_level(logging.ERROR, logger="webapp.problems")

    def check(case: Any, mode: GenerationMode) -> None:
        caplog.clear()
        r = case.call(headers=headers)
        where = (f"{who} {mode.value} {case.method} {case.formatted_path} query={case.query!r} "
                 f"body={str(case.body)[:200]!r}")
        if r.status_code >= 500:
            logged = "; ".join(str(rec.exc_info[1]) for rec in caplog.records if rec.exc_info)
            failures.append(f"{where}: {r.status_code} {logged[:300]}")
            return
        try:  # the description is the integrators' contract: its statuses and media types hold
            case.validate_response(r, checks=CONTRACT)
        except BaseException as exc:  # schemathesis reports a group of failed checks
            failures.append(f"{where}: {r.status_code} not as described: {str(exc).splitlines()[:4]}")

    for result in schema.get_all_operations():
        operation = result.ok()
        names = [p.name for p in operation.path_parameters]
        real = {n: ids[n] for n in names}
        runs = [(GenerationMode.POSITIVE, real), (GenerationMode.NEGATIVE, real)]
        if names:
            runs.append((GenerationMode.POSITIVE, None))
        for mode, path in runs:
            _fuzz(operation.as_strategy(generation_mode=mode, path_parameters=path), partial(check, mode=mode))
    assert not failures, "\n".join(failures[:40])
