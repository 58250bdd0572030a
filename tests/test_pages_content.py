"""What the pages say, over HTTP (Flask's test client): a case's statutory deadline is the same
whichever door its receipt date came in by, and a task page shows the case beside the task."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import PASSWORD, ROOT, Person, sign_in

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases

WORKFLOWS = ROOT / "workflows"


class TickingClock(ManualClock):
    """A clock that moves a millisecond each time it is read, as the real one does between two
    reads in one request (a manual clock answers the same instant, and hides what that changes)."""

    def now(self) -> datetime:
        """The clock's instant, one millisecond on from the last."""
        return self.advance(timedelta(milliseconds=1))


@pytest.fixture
def clock() -> ManualClock:
    """Monday 7 December 2026, a clock that ticks."""
    return TickingClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


# -- 1. the deadline does not depend on the door ------------------------------------------------------


def test_a_bygglov_registered_through_the_pages_has_the_deadline_of_one_started_through_the_api(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, (WORKFLOWS / "bygglov.bpmn").read_bytes(), "bygglov.bpmn")
    # through the API: the receipt date with the start data
    api = client.post("/api/processes/bygglov/cases", json={"data": {"inkom": "2026-09-01"}, "business_key": "BN-API"},
                      headers=people["admin"].headers)
    assert api.status_code == 201, api.get_json()
    by_api = api.get_json()["deadline"]
    # through the pages: started bare, the receipt date entered in "Registrera ansökan"
    identity.set_password(engine, "admin", PASSWORD)
    token = sign_in(client, "admin")
    started = client.post("/processes/bygglov/cases", data={"csrf": token, "business_key": "BN-SIDA"})
    assert started.status_code == 302
    case_id = started.headers["Location"].rsplit("/", 1)[1]
    [step] = cases.get_case(engine, SYSTEM, case_id)["open_tasks"]
    page = client.get(f"/tasks/{step['id']}").get_data(as_text=True)
    done = client.post(f"/tasks/{step['id']}/complete",
                       data={"csrf": _csrf(page), "inkom": "2026-09-01", "fastighet": "Exempelby 1:2"})
    assert done.status_code == 302, done.get_data(as_text=True)
    by_pages = cases.get_case(engine, SYSTEM, case_id)["deadline"]

    assert by_api["deadline"] == by_pages["deadline"] == "2026-11-10T22:59:59+00:00"  # ten weeks from 1 Sept
    assert by_pages["late_by_s"] > 0 and by_pages["time_left_s"] == 0
    shown = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "2026-11-10" in shown and "2027-02-15" not in shown
    history = cases.get_case(engine, SYSTEM, case_id)["history"]
    assert "case_clock_recounted" in {e["type"] for e in history}
    assert "case_clock_not_recounted" not in {e["type"] for e in history}
