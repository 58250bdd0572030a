"""Starting a case is an authority: only holders of a process's starter roles, in the unit the
case is placed in (or above it, or across the group), and administrators, start one.

Each probe tries to start a case as someone who may not, through the API and through the pages'
start form, and asserts the refusal (403, "Du har ingen roll som får starta ärenden i processen
…" in Swedish) and that nothing was written: no case, no history, no task, no timer. The process
names its starter (Registrator) in each dialect Rutin reads; the probes also try the lane's role
where a declaration overrides it, a draft that would let everyone start, and names that are
expressions.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PASSWORD, Person, fixture_bytes, publish, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.core import Engine
from engine.service import org_data

REFUSAL = "Du har ingen roll som får starta ärenden i processen"
PROCESS = '<bpmn:process id="seq3" name="Tre steg" isExecutable="true"'
NAMESPACES = {
    "camunda": 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"',
    "flowable": 'xmlns:flowable="http://flowable.org/bpmn"',
    "activiti": 'xmlns:activiti="http://activiti.org/bpmn"',
    "rutin": 'xmlns:rutin="https://rutin.example/bpmn"',
    "zeebe": 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"',
    "spiffworkflow": 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"',
}


def _process(key: str, ns: str, attributes: str = "", extension: str = "") -> bytes:
    """seq3 (its start in the lane Handläggare) as `key`, with starter declarations added."""
    text = fixture_bytes("seq3.bpmn").decode()
    if NAMESPACES[ns] not in text:  # seq3 declares camunda's already (its forms); XML refuses a namespace twice
        text = text.replace("<bpmn:definitions ", f"<bpmn:definitions {NAMESPACES[ns]} ", 1)
    opened = f"{PROCESS}{attributes}>" + (f"<bpmn:extensionElements>{extension}</bpmn:extensionElements>"
                                          if extension else "")
    text = text.replace(PROCESS + ">", opened, 1).replace('id="seq3"', f'id="{key}"', 1)
    return text.encode()


# Registrator, declared in every dialect that can say who starts a case.
DECLARATIONS: dict[str, bytes] = {
    "camunda": _process("reg", "camunda", ' camunda:candidateStarterGroups="Registrator"'),
    "flowable": _process("reg", "flowable", ' flowable:candidateStarterGroups="Registrator"'),
    "activiti": _process("reg", "activiti", ' activiti:candidateStarterGroups="Registrator"'),
    "rutin-attribute": _process("reg", "rutin", ' rutin:starterRoles="Registrator"'),
    "zeebe-property": _process("reg", "zeebe", extension='<zeebe:properties><zeebe:property '
                                                         'name="rutin:starterRoles" value="Registrator"/></zeebe:properties>'),
    "spiffworkflow-property": _process("reg", "spiffworkflow", extension=(
        '<spiffworkflow:properties><spiffworkflow:property name="rutin:starterRoles" value="Registrator"/>'
        '</spiffworkflow:properties>')),
}

ORG = {
    "units": [{"id": "forv", "name": "Förvaltningen", "manager_role": "Förvaltningschef"},
              {"id": "enhet", "name": "Enheten", "parent": "forv", "manager_role": "Enhetschef"},
              {"id": "annan", "name": "Andra enheten", "parent": "forv"}],
    "people": [{"name": "rebecka", "roles": [{"role": "Registrator", "unit": "enhet"}]},
               {"name": "roger", "roles": [{"role": "Registrator", "unit": "annan"}]},
               {"name": "chef", "roles": [{"role": "Enhetschef", "unit": "enhet"}, {"role": "Handläggare",
                                                                                     "unit": "enhet"}]},
               {"name": "rut", "roles": ["auditor"]}],
}


@pytest.fixture
def office(engine: Engine, client: Any, people: dict[str, Person]) -> dict[str, Person]:
    """reg (seq3 whose starter is Registrator, by Camunda's attribute) is published; the
    registrar rebecka holds the role in Enheten, roger in Andra enheten."""
    org_data.import_data(engine, ORG)
    publish(client, people, DECLARATIONS["camunda"])
    for name in ("rebecka", "roger", "chef", "rut"):
        people[name] = Person(name, identity.issue_token(engine, name), identity.get_actor(engine, name))
    return people


def _start(client: Any, person: Person, endpoint: str, key: str, unit: str | None, csrf: str = "") -> tuple[int, str]:
    """Start a case through the API, or the pages' start form (signed in already, with `csrf`)."""
    if endpoint == "api":
        body: dict[str, Any] = {"data": {}, **({"org_unit": unit} if unit else {})}
        r = client.post(f"/api/processes/{key}/cases", json=body, headers=person.headers)
        return r.status_code, (r.get_json() or {}).get("detail", "")
    r = client.post(f"/processes/{key}/cases", data={"csrf": csrf, "business_key": "", "org_unit": unit or ""})
    return r.status_code, r.get_data(as_text=True)


# (who, the unit they try to start the case in, why they may not)
ATTEMPTS = [
    ("stina", "enhet", "a stranger, with no role at all"),
    ("greta", None, "another role (granskare), across the group"),
    ("designer", None, "a process designer"),
    ("owner", None, "the process owner, who answers for the process but does not register its cases"),
    ("chef", "enhet", "the unit's manager, and a handler of the lane's role there: the declaration decides"),
    ("roger", "enhet", "a registrar of a sibling unit"),
    ("rebecka", "forv", "a registrar of the unit below, in the administration above it"),
    ("rebecka", None, "a registrar of a unit, for a case that has no unit"),
    ("rut", "enhet", "an auditor"),
]


@pytest.mark.parametrize("endpoint", ["api", "page"])
@pytest.mark.parametrize(("who", "unit", "why"), ATTEMPTS, ids=[f"{w}-{u or 'no-unit'}" for w, u, _ in ATTEMPTS])
def test_only_starters_start_cases(engine: Engine, client: Any, office: dict[str, Person], who: str,
                                   unit: str | None, why: str, endpoint: str) -> None:
    csrf = ""
    if endpoint == "page":
        identity.set_password(engine, who, PASSWORD)
        csrf = sign_in(client, who)
    before = db_state(engine)
    status, text = _start(client, office[who], endpoint, "reg", unit, csrf)
    assert status == 403, why
    assert (REFUSAL + " Tre steg" in text) or (who == "rut" and "rollen revisor" in text) \
        or "Du har ingen roll i enheten" in text or (who == "stina" and identity.NO_ROLE in text), (why, text[:300])
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("dialect", list(DECLARATIONS))
def test_a_declared_starter_role_overrides_the_lane_in_every_dialect(
        engine: Engine, client: Any, people: dict[str, Person], dialect: str) -> None:
    """hanna holds the start's lane role (Handläggare) across the group; the diagram says only
    Registrator starts its cases, whichever dialect says it."""
    publish(client, people, DECLARATIONS[dialect])
    starters = client.get("/api/processes/reg", headers=people["hanna"].headers).get_json()["starters"]
    assert starters["roles"] == ["Registrator"], starters  # the declaration reached the model
    before = db_state(engine)
    status, detail = _start(client, people["hanna"], "api", "reg", None)
    assert status == 403 and detail.startswith(REFUSAL + " Tre steg.") and "Registrator" in detail
    assert_no_effect(before, db_state(engine))


def test_a_draft_that_lets_everyone_start_changes_nothing_until_approved(
        engine: Engine, client: Any, office: dict[str, Person]) -> None:
    from conftest import deploy

    everyone = _process("reg", "rutin", ' rutin:starterRoles="*"')
    assert deploy(client, office["designer"], everyone).status_code == 201
    before = db_state(engine)
    status, detail = _start(client, office["greta"], "api", "reg", None)
    assert status == 403 and detail.startswith(REFUSAL)
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("declared", ['camunda:candidateStarterGroups="${grupp}"',
                                      'camunda:candidateStarterUsers="${initiator}"',
                                      'camunda:candidateStarterUsers="hugo"'],
                         ids=["group-expression", "user-expression", "another-user"])
def test_starters_named_by_expression_or_another_person_let_nobody_else_in(
        engine: Engine, client: Any, people: dict[str, Person], declared: str) -> None:
    """A name that is an expression names nobody (there is no case to evaluate it against yet);
    the lane does not come back in its place, and naming hugo does not admit hanna."""
    publish(client, people, _process("reg", "camunda", " " + declared))
    before = db_state(engine)
    status, detail = _start(client, people["hanna"], "api", "reg", None)
    assert status == 403 and detail.startswith(REFUSAL)
    assert_no_effect(before, db_state(engine))


def test_a_refused_start_leaves_no_timer_behind(engine: Engine, client: Any, people: dict[str, Person]) -> None:
    """A process whose first step has a due date and whose case has a statutory deadline: a
    refused start leaves neither a deadline nor an escalation row."""
    publish(client, people, "case_clock.bpmn")
    before = db_state(engine)
    r = client.post("/api/processes/lov/cases", json={"data": {}}, headers=people["greta"].headers)
    assert r.status_code == 403 and r.get_json()["detail"].startswith(REFUSAL)
    assert_no_effect(before, db_state(engine))
