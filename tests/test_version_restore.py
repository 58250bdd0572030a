"""Restoring a published version: its bytes uploaded again are a new draft, recorded as a restoration."""

from __future__ import annotations

from typing import Any

from conftest import Person, deploy, fixture_bytes, publish

V2 = fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1")
V3 = fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg uno")


def _version(client: Any, people: dict[str, Person], number: int) -> dict[str, Any]:
    r = client.get(f"/api/processes/seq3/versions/{number}", headers=people["admin"].headers)
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def test_a_superseded_versions_bytes_make_a_draft_recorded_as_its_restoration(
        client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    publish(client, people, V2)
    r = deploy(client, people["designer"], "seq3.bpmn")
    assert r.status_code == 201, r.get_json()
    [proc] = r.get_json()["processes"]
    assert proc["version"] == 3 and proc["status"] == "draft" and proc["created"] is True
    events = [(e["type"], e["data"]) for e in _version(client, people, 3)["history"]]
    assert ("version_restored", {"restores_version": 1}) in events
    approved = client.post("/api/processes/seq3/versions/3/approve", json={}, headers=people["owner"].headers)
    assert approved.status_code == 200, approved.get_json()
    case = client.post("/api/processes/seq3/cases", json={}, headers=people["admin"].headers).get_json()
    assert case["version"] == 3 and case["open_tasks"][0]["name"] == "Steg ett"


def test_identical_to_the_published_version_stays_a_no_op(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    publish(client, people, V2)
    again = deploy(client, people["designer"], V2)
    assert again.status_code == 200 and again.get_json()["processes"][0]["created"] is False
    versions = client.get("/api/processes/seq3", headers=people["admin"].headers).get_json()["versions"]
    assert len(versions) == 2
    assert all(e["type"] != "version_restored" for e in _version(client, people, 2)["history"])


def test_a_new_upload_is_not_called_a_restoration(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    r = deploy(client, people["designer"], V2)
    assert r.status_code == 201
    assert all(e["type"] != "version_restored" for e in _version(client, people, 2)["history"])


def test_a_stale_drafts_bytes_make_a_new_draft_that_can_be_approved(
        client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    assert deploy(client, people["designer"], V2).get_json()["processes"][0]["version"] == 2  # left waiting
    publish(client, people, V3)  # version 3 published past it: version 2 can never be approved
    stale = client.post("/api/processes/seq3/versions/2/approve", json={}, headers=people["owner"].headers)
    assert stale.status_code == 409
    r = deploy(client, people["designer"], V2)
    assert r.status_code == 201, r.get_json()
    [proc] = r.get_json()["processes"]
    assert proc["version"] == 4 and proc["status"] == "draft"
    assert _version(client, people, 2)["status"] == "superseded"
    approved = client.post("/api/processes/seq3/versions/4/approve", json={}, headers=people["owner"].headers)
    assert approved.status_code == 200, approved.get_json()
    case = client.post("/api/processes/seq3/cases", json={}, headers=people["admin"].headers).get_json()
    assert case["version"] == 4 and case["open_tasks"][0]["name"] == "Steg 1"
