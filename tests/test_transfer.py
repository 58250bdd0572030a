"""Handing a case over to another unit: its open steps land there, a taken step is given back,
the history says who, from where, to where and why; only the unit's manager or an admin may."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FIXTURES, PASSWORD, fixture_bytes, sign_in
from test_authority import ITEMS

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import Conflict, Forbidden, InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation
from engine.service import cases, inbox, org_data, tasks, transfer


@pytest.fixture
def case(engine: Engine) -> dict[str, Any]:
    """A bygglov case of Bygglovsenheten whose first step bea has taken."""
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "emil", ["Enhetschef"], unit="miljo")
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    started = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN 2026-7", org_unit="bygglov")
    tasks.claim(engine, identity.get_actor(engine, "bea"), started["open_tasks"][0]["id"])
    return started


def _actor(engine: Engine, name: str) -> Any:
    return identity.get_actor(engine, name)


def test_the_units_manager_hands_the_case_over_and_its_step_goes_to_the_new_unit(
        engine: Engine, case: dict[str, Any]) -> None:
    task_id = case["open_tasks"][0]["id"]
    moved = transfer.transfer_case(engine, _actor(engine, "bert"), case["id"], "miljo", "Gäller strandskydd")
    assert moved["org_unit"] == "miljo"
    [step] = moved["open_tasks"]
    assert (step["id"], step["assignee"]) == (task_id, None)  # bea's claim is given back
    # The role is now offered in Miljöenheten: its handler takes the step, Bygglovsenheten's no longer can.
    with pytest.raises(Forbidden):
        tasks.claim(engine, _actor(engine, "bo"), task_id)
    assert [t["id"] for t in inbox.list_tasks(engine, _actor(engine, "mia"))["items"]] == [task_id]
    assert inbox.list_tasks(engine, _actor(engine, "bea"))["items"] == []
    # Miljöenheten's manager sees it among the unit's tasks; Bygglovsenheten's no longer does.
    assert [t["id"] for t in inbox.list_tasks(engine, _actor(engine, "emil"), unit="mine")["items"]] == [task_id]
    assert inbox.list_tasks(engine, _actor(engine, "bert"), unit="mine")["items"] == []
    done = tasks.complete(engine, _actor(engine, "mia"), task_id, {})
    # The next step is created in the new unit too.
    [nxt] = done["case"]["open_tasks"]
    assert tasks.claim(engine, _actor(engine, "mia"), nxt["id"])["assignee"] == "mia"
    [event] = [e for e in cases.get_case(engine, SYSTEM, case["id"])["history"] if e["type"] == "case_transferred"]
    assert (event["actor"], event["data"]["from"], event["data"]["to"], event["data"]["reason"]) == (
        "bert", "bygglov", "miljo", "Gäller strandskydd")
    assert event["data"]["tasks"] == [{"task_id": task_id, "name": "Granska ansökan", "unit": "miljo", "assignee": None,
                                       "released_from": "bea"}]
    # Now Miljöenheten's manager answers for it, and Bygglovsenheten's no longer does.
    with pytest.raises(Forbidden):
        transfer.transfer_case(engine, _actor(engine, "bert"), case["id"], "bygglov", "Tillbaka")
    back = transfer.transfer_case(engine, _actor(engine, "emil"), case["id"], "bygglov", "Fel enhet")
    assert back["org_unit"] == "bygglov"


def test_only_the_units_manager_or_an_admin_may_and_a_refusal_changes_nothing(
        engine: Engine, case: dict[str, Any]) -> None:
    before = cases.get_case(engine, SYSTEM, case["id"])
    for who in ("bea", "emil", "rut"):  # a handler, another unit's manager, the auditor
        with pytest.raises(Forbidden):
            transfer.transfer_case(engine, _actor(engine, who), case["id"], "miljo", "Fel enhet")
    bert = _actor(engine, "bert")
    for unit, reason in (("finns-inte", "Fel enhet"), ("miljo", "  "), ("bygglov", "Samma"), (None, "x")):
        with pytest.raises(InvalidInput):
            transfer.transfer_case(engine, bert, case["id"], unit, reason)
    after = cases.get_case(engine, SYSTEM, case["id"])
    assert (after["org_unit"], len(after["history"]), after["open_tasks"][0]["assignee"]) == (
        "bygglov", len(before["history"]), "bea")
    identity.add_user(engine, "alice", ["admin"])
    assert transfer.transfer_case(engine, _actor(engine, "alice"), case["id"], "kansli", "Till KS")["org_unit"] == "kansli"


def test_a_finished_case_is_not_handed_over(engine: Engine, case: dict[str, Any]) -> None:
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, _actor(engine, "alice"), _actor(engine, "adam"), ITEMS)  # for the decision
    tasks.unclaim(engine, _actor(engine, "bea"), case["open_tasks"][0]["id"])
    step, turn = case["open_tasks"][0], 0
    while step is not None:  # bo and bea by turns: the decision and the dispatch need two people
        # the decision's output mapping records `beslut` from the decider's `utfall`
        answers = {"utfall": "bifall"} if step["name"] == "Beslut om lov" else {}
        done = tasks.complete(engine, _actor(engine, ("bo", "bea")[turn % 2]), step["id"], answers,
                              no_conflict_of_interest=True)
        step, turn = (done["case"]["open_tasks"] or [None])[0], turn + 1
    assert cases.get_case(engine, SYSTEM, case["id"])["status"] == "completed"
    with pytest.raises(Conflict):
        transfer.transfer_case(engine, _actor(engine, "bert"), case["id"], "miljo", "För sent")


def test_over_the_api(engine: Engine, client: Any, case: dict[str, Any]) -> None:
    token = identity.issue_token(engine, "bert")
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post(f"/api/cases/{case['id']}/transfer", json={"unit": "miljo", "reason": "Strandskydd"}, headers=auth)
    assert r.status_code == 200 and r.get_json()["org_unit"] == "miljo"
    r = client.post(f"/api/cases/{case['id']}/transfer", json={"unit": "nowhere", "reason": "x"},
                    headers={"Authorization": f"Bearer {identity.issue_token(engine, 'emil')}"})
    assert r.status_code == 422 and "nowhere" in r.get_json()["detail"]
    r = client.post(f"/api/cases/{case['id']}/transfer", json={"unit": "bygglov"}, headers=auth)
    assert r.status_code in (403, 422)


def test_on_the_case_page(engine: Engine, client: Any, case: dict[str, Any]) -> None:
    for name in ("bert", "bea"):
        identity.set_password(engine, name, PASSWORD)
    bea = sign_in(client, "bea")
    assert "Lämna över ärendet" not in client.get(f"/cases/{case['id']}").get_data(as_text=True)  # a handler
    client.post("/logout", data={"csrf": bea})
    csrf = sign_in(client, "bert")
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "Lämna över ärendet" in page and '<option value="miljo">Miljöenheten</option>' in page
    assert '<option value="bygglov">' not in page  # not to where it already lies
    empty = client.post(f"/cases/{case['id']}/lamna-over", data={"csrf": csrf, "unit": "miljo", "reason": ""})
    assert empty.status_code == 422 and "varför" in empty.get_data(as_text=True)
    done = client.post(f"/cases/{case['id']}/lamna-over",
                       data={"csrf": csrf, "unit": "miljo", "reason": "Gäller strandskydd"}, follow_redirects=True)
    # The case has left bert's unit: he lands on his case list, told where it went.
    assert done.status_code == 200 and done.request.path == "/cases"
    assert "Ärendet är överlämnat till Miljöenheten." in done.get_data(as_text=True)
    assert client.get(f"/cases/{case['id']}").status_code == 403
    identity.set_password(engine, "emil", PASSWORD)
    sign_in(client, "emil")
    text = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "<dd>Miljöenheten</dd>" in text
    assert "Från Bygglovsenheten till Miljöenheten. Skäl: Gäller strandskydd" in text
    assert '<option value="bygglov">Bygglovsenheten</option>' in text  # now Miljöenheten's manager's to hand on
