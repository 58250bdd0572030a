"""The lists' free-text search reads a case's search text, kept when the case is written: found
by a value of its data in any case (ö = Ö, ß = ss), never by a field's name, LIKE's own
wildcards taken as written; the text follows the data as it changes."""

from __future__ import annotations

from conftest import Person
from test_pages_errors import ANSOKAN
from test_pages_forms import YTTRANDE

from engine.authority.identity import SYSTEM
from engine.base.search_text import search_text
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks
from engine.service import inbox as task_lists


def _found(engine: Engine, text: str) -> set[str]:
    return {c["id"] for c in cases.list_cases(engine, SYSTEM, search=text)["items"]}


def test_a_case_is_found_by_its_data_as_it_changes(engine: Engine, people: dict[str, Person]) -> None:
    processes.deploy(engine, SYSTEM, ANSOKAN, "ansokan.bpmn")
    processes.deploy(engine, SYSTEM, YTTRANDE, "yttrande.bpmn")
    case = cases.start_case(engine, SYSTEM, "ansokan", {"sokande": "Örjan Straße", "belopp": 900}, "YT-7")
    other = cases.start_case(engine, SYSTEM, "ansokan", {"sokande": "Anna 50%_rabatt"}, "YT-8")
    assert _found(engine, "örjan") == _found(engine, "ÖRJAN") == {case["id"]}
    assert _found(engine, "strasse") == {case["id"]}  # folded as casefold() folds: ß = ss
    assert _found(engine, "900") == {case["id"]}
    assert _found(engine, "yt-8") == {other["id"]}
    assert _found(engine, "sokande") == set()  # a field's name is not what is searched
    assert _found(engine, "50%_") == {other["id"]} and _found(engine, "5%r") == set()  # wildcards as written
    case = cases.start_case(engine, SYSTEM, "yttrande", {}, "YT-9")
    step = case["open_tasks"][0]["id"]
    tasks.claim(engine, people["hanna"].actor, step)
    assert task_lists.list_tasks(engine, people["hanna"].actor, search="yt-9")["total"] == 1
    tasks.complete(engine, people["hanna"].actor, step, {"motivering": "Bygget följer detaljplanen"})
    assert _found(engine, "detaljplanen") == {case["id"]}


def test_the_search_text_is_bounded_and_leaves_out_yes_and_no() -> None:
    assert search_text("BN-1", {"a": True, "b": [{"c": "Djup"}], "d": None}) == "bn-1\ndjup"
    assert len(search_text(None, {"lang": "x" * 50_000})) == 20_000
