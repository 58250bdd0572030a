"""The view a person last chose on the inbox and the case list is remembered per person, opened
on next time, cleared by "Återställ"; a stored view is validated as a query is, and one
person's view never reaches another's (Flask's test client, over HTTP)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import PASSWORD, Person, sign_in
from test_pages import BIDRAG

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, saved_views, tasks
from engine.store.view_models import SavedView


def _rows(page: str, attr: str = "data-task-id") -> list[str]:
    return re.findall(rf'<tr (?:class="[^"]*" )?{attr}="([^"]+)"', page)


def _stored(engine: Engine, name: str, page: str = "inbox") -> dict[str, Any] | None:
    with engine.db.read() as s:
        row = s.get(SavedView, (name, page))
        return None if row is None else dict(row.params)


def _world(engine: Engine, people: dict[str, Person]) -> tuple[str, str]:
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    plain = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-1")["open_tasks"][0]["id"]
    mine = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-2")["open_tasks"][0]["id"]
    tasks.claim(engine, people["hanna"].actor, mine)
    for name in ("hanna", "hugo"):
        identity.set_password(engine, name, PASSWORD)
    return plain, mine


def test_the_inbox_opens_on_the_view_last_chosen_until_it_is_reset(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    plain, mine = _world(engine, people)
    sign_in(client)
    assert _rows(client.get("/").get_data(as_text=True)) == [mine]
    chosen = client.get("/?visa=all&q=bid-1&sortera=due&ordning=desc").get_data(as_text=True)
    assert _rows(chosen) == [plain] and "Ditt urval sparas till nästa gång." in chosen
    assert _stored(engine, "hanna") == {"visa": "all", "sortera": "due", "ordning": "desc", "q": "bid-1"}

    again = client.get("/").get_data(as_text=True)
    assert _rows(again) == [plain]
    assert "Visar ditt senaste urval." in again and 'value="bid-1"' in again
    assert re.search(r'aria-current="page" data-view="all"', again)
    # the page number is not part of the view
    client.get("/?visa=all&sida=2")
    assert _stored(engine, "hanna") == {"visa": "all"}

    reset = client.get("/?aterstall=1")
    assert reset.status_code == 302 and reset.headers["Location"].endswith("/")
    assert _stored(engine, "hanna") is None
    opened = client.get("/").get_data(as_text=True)
    assert _rows(opened) == [mine] and "data-saved-view" not in opened


def test_one_persons_view_never_reaches_anothers(engine: Engine, people: dict[str, Person], client: Any) -> None:
    _plain, mine = _world(engine, people)
    sign_in(client)
    client.get("/?visa=all&q=bid-2")
    other = client.application.test_client()
    sign_in(other, "hugo")
    theirs = other.get("/").get_data(as_text=True)
    assert re.search(r'aria-current="page" data-view="mine"', theirs) and "data-saved-view" not in theirs
    other.get("/?aterstall=1")  # hugo's reset leaves hanna's view alone
    assert _stored(engine, "hanna") == {"visa": "all", "q": "bid-2"}
    assert _rows(client.get("/").get_data(as_text=True)) == [mine]


def test_a_view_is_kept_only_as_the_page_offers_it(engine: Engine, people: dict[str, Person], client: Any) -> None:
    _world(engine, people)
    sign_in(client)
    # unknown names, values the controls do not offer, an overlong search: dropped or capped
    client.get("/?visa=hemlig&sortera=id&ordning=sideways&process=finns-inte&roll=admin&enhet=annan"
               "&forfaller=igar&ovrigt=x&q=" + "a" * 5000)
    assert _stored(engine, "hanna") == {"q": "a" * 200}
    client.get("/?visa=all&process=bidrag&roll=handläggare&forfaller=snart")
    assert _stored(engine, "hanna") == {"visa": "all", "process": "bidrag", "roll": "handläggare",
                                        "forfaller": "snart"}
    # a stored row that says more than a query could (written around the page) is read as a query is
    hanna = people["hanna"].actor
    with engine.db.write() as s:
        s.get(SavedView, ("hanna", "inbox")).params = {"visa": "hemlig", "q": ["lista"], "sortera": 7,
                                                       "process": "<script>"}
    page = client.get("/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r'aria-current="page" data-view="mine"', text) and "<script>" not in text
    assert saved_views.get(engine, hanna, "inbox") == {"visa": "hemlig", "process": "<script>"}


def test_the_store_refuses_what_no_page_would_keep(engine: Engine, people: dict[str, Person]) -> None:
    hanna = people["hanna"].actor
    for bad in ({f"k{i}": "v" for i in range(13)}, {"q": "x" * 201}, {"q": 5}, {"x" * 21: "v"}):
        with pytest.raises(InvalidInput, match="Vyn"):
            saved_views.remember(engine, hanna, "inbox", bad)
    assert _stored(engine, "hanna") is None


def test_the_case_list_remembers_its_view_too(engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    one = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-7")
    two = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-8")
    identity.set_password(engine, "admin", PASSWORD)
    sign_in(client, "admin")
    assert set(_rows(client.get("/cases").get_data(as_text=True), "data-case-id")) == {one["id"], two["id"]}
    client.get("/cases?status=active&q=bid-8")
    assert _stored(engine, "admin", "cases") == {"status": "active", "q": "bid-8"}
    assert _rows(client.get("/cases").get_data(as_text=True), "data-case-id") == [two["id"]]
    # the "Alla" tab and "Rensa" are choices too: the list then opens on everything
    cleared = client.get("/cases?status=alla").get_data(as_text=True)
    assert set(_rows(cleared, "data-case-id")) == {one["id"], two["id"]}
    assert _stored(engine, "admin", "cases") is None
    client.get("/cases?q=bid-7")
    assert client.get("/cases?aterstall=1").status_code == 302
    assert set(_rows(client.get("/cases").get_data(as_text=True), "data-case-id")) == {one["id"], two["id"]}
