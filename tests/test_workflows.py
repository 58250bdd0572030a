"""The shipped library: every process in workflows/ runs from start to end with the demo
organisation, each step done by a demo person who holds the role (and, for decisions, the
delegation) for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT
from lxml import etree

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import Forbidden
from engine.core import Engine
from engine.routing import delegation, notifications
from engine.service import cases, demo, tasks
from engine.store.models import HumanTask

WORKFLOWS = ROOT / "workflows"
FILLERS = {"string": "Enligt rutinen", "long": 120, "boolean": True, "date": "2026-03-02"}
# Fields that name a person who does later steps, or a moment: a demo person, a time.
BY_ID = {"ansvarig": "hanna", "atgardsansvarig": "maja", "upptackt": "2026-03-02 08:30"}

# Who starts each in the demo: a holder of its starter role (roles.yaml), in the case's unit; a
# deviation anyone may report (maja, a carer at Solgården).
STARTED_BY = {"avvikelsehantering": "maja", "begaran_allman_handling": "rebecka", "synpunkter_klagomal": "kalle",
              "gdpr_registerutdrag": "rebecka", "bygglov": "ada"}

# (process, unit the case belongs to, choices by decision name in the order they are met)
RUNS = [
    ("avvikelsehantering", "aldreomsorg", {"Särskild anmälningsplikt?": ["Lex Sarah"],
                                           "Var åtgärderna effektiva?": ["Nej, utred igen", "Ja"]}),
    ("begaran_allman_handling", "kansli", {"Kan handlingarna lämnas ut?": ["Nej, helt eller delvis"],
                                           "Begär sökanden myndighetens beslut?": ["Ja"]}),
    ("synpunkter_klagomal", "kansli", {"Är synpunkten en avvikelse?": ["Ja"]}),
    ("gdpr_registerutdrag", "kansli", {"Behövs förlängning?": ["Ja"]}),
    ("bygglov", "bygglov", {"Är ansökan komplett?": ["Nej", "Ja"], "Har sökanden kompletterat?": ["Ja"],
                            "Behövs grannehörande?": ["Ja"],
                            "Behövs förlängd handläggningstid?": ["Nej"]}),
]


@pytest.fixture
def town(engine: Engine) -> dict[str, identity.Actor]:
    demo.load(engine, WORKFLOWS)
    return {a.name: a for a in identity.list_users(engine) if a.name not in {"admin", "admin2"}}


def _fill(task: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in task.get("form", []):
        if field["type"] == "enum":
            data[field["id"]] = field["options"][0]["id"]
        elif field["id"] in BY_ID:
            data[field["id"]] = BY_ID[field["id"]]
        else:
            data[field["id"]] = FILLERS.get(field["type"], "x")
    if task["name"] == "Bedöm behov av korrigerande åtgärd":
        data["korrigerande_atgard"] = True
    return data


def _do(engine: Engine, people: dict[str, identity.Actor], task: dict[str, Any], choice: str | None) -> tuple[str, Any]:
    """Complete the task as the first demo person allowed to; return who did it and the result."""
    order = sorted(people.items(), key=lambda item: item[0] != task.get("assignee"))  # the assignee first
    for name, person in order:
        try:
            result = tasks.complete(engine, person, task["id"], None if choice else _fill(task), choice,
                                    no_conflict_of_interest=True if task.get("decision_authority") else None)
        except Forbidden:
            continue
        return name, result
    raise AssertionError(f"no demo person may do {task['name']!r} ({task['role']})")


def test_every_shipped_file_is_a_real_diagram() -> None:
    files = sorted(WORKFLOWS.glob("*.bpmn"))
    assert len(files) >= 3
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    for f in files:
        tree = etree.parse(str(f))
        nodes = {e.get("id") for e in tree.xpath("//bpmn:process/*[@id and not(self::bpmn:laneSet) and "
                                                 "not(self::bpmn:sequenceFlow) and not(self::bpmn:documentation)]",
                                                 namespaces=ns)}
        shapes = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNShape", namespaces=ns)}
        edges = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNEdge", namespaces=ns)}
        flows = {e.get("id") for e in tree.xpath("//bpmn:sequenceFlow", namespaces=ns)}
        laned = {e.text for e in tree.xpath("//bpmn:flowNodeRef", namespaces=ns)}
        assert nodes <= shapes and flows <= edges and nodes <= laned, f.name


@pytest.mark.parametrize(("key", "unit", "plan"), RUNS, ids=[r[0] for r in RUNS])
def test_each_shipped_process_runs_from_start_to_end(engine: Engine, town: dict[str, Any], key: str, unit: str,
                                                    plan: dict[str, list[str]]) -> None:
    choices = {k: list(v) for k, v in plan.items()}
    # the day of receipt, where the process counts a statutory deadline from it (a documented case field)
    received = "rutin:caseDeadlineFrom" in engine.model(_version_id(engine, key)).properties
    case = cases.start_case(engine, town[STARTED_BY[key]], key, {"inkom": "2026-03-02"} if received else {}, f"DEMO-{key}",
                            org_unit=unit)
    doers = []
    for _ in range(60):
        if not case["open_tasks"]:
            waiting = engine.scheduler  # a timer (e.g. the neighbours' three weeks) is all that is left
            engine.clock.advance(timedelta(weeks=3, days=1))  # type: ignore[attr-defined]
            waiting.tick()
            case = cases.get_case(engine, SYSTEM, case["id"])
            if case["status"] == "completed":
                break
            continue
        task = case["open_tasks"][0]
        choice = None
        if task["kind"] == "decision":
            queue = choices.get(task["name"])
            choice = queue.pop(0) if queue else task["options"][0]["name"]
        who, result = _do(engine, town, task, choice)
        doers.append((task["name"], who))
        case = result["case"]
        assert case["status"] != "incident", case["incident"]
        if case["status"] == "completed":
            break
    full = cases.get_case(engine, SYSTEM, case["id"])
    assert full["status"] == "completed", [t["name"] for t in full["open_tasks"]]
    assert full["history_intact"]
    assert all(not queue for queue in choices.values()), choices  # every planned path was taken
    assert len(doers) >= 5


def test_demo_processes_own_the_units_roles_yaml_gives_them(engine: Engine, town: dict[str, Any]) -> None:
    from engine.authority import org

    assert org.get_process_unit(engine, "bygglov")["unit"] == "bygglov"
    assert org.get_process_unit(engine, "begaran_allman_handling")["source"] == "owner"
    assert org.get_process_unit(engine, "avvikelsehantering")["unit"] is None  # the reporter's unit, at start
    case = cases.start_case(engine, town["ada"], "bygglov", {"inkom": "2026-03-02"}, "BN-2026-1")
    assert case["org_unit"] == "bygglov"
    # Routed in the unit: the first step goes to the unit's administrator, not to the role group-wide only.
    [task] = case["open_tasks"]
    with engine.db.read() as s:
        row = s.get(HumanTask, task["id"])
        assert row is not None and row.org_unit_id == "bygglov"
        assert any(c.endswith("@bygglov") for c in row.candidates), row.candidates


def test_the_shipped_processes_name_who_starts_them_as_roles_yaml_says(engine: Engine,
                                                                        town: dict[str, Any]) -> None:
    """Each diagram names its starter roles, roles.yaml lists them, and the demo's holders of
    them may start a case where the process places it while someone else may not."""
    import yaml

    from engine.catalogue import processes, starting

    listed = yaml.safe_load((WORKFLOWS / "roles.yaml").read_text(encoding="utf-8"))["processes"]
    for key, entry in listed.items():
        found = processes.get_process(engine, key)["starters"]
        assert (["*"] if found["everyone"] else found["roles"]) == entry["starters"], key
        version = processes.get_process(engine, key)["versions"][0]["id"]
        unit = entry.get("unit")
        assert starting.may_start(engine, town[STARTED_BY[key]], version, unit), key
        if not found["everyone"]:
            assert not starting.may_start(engine, town["maja"], version, unit), key  # a carer starts no bygglov
        assert not starting.may_start(engine, town["revisor"], version, unit), key  # nor does the auditor


# --- The shipped processes against the domain reference (sections 2–5) -------------------------

STO = ZoneInfo("Europe/Stockholm")


def _at(text: str) -> datetime:
    """A Swedish wall-clock time ("2026-03-02 10:00") as an instant."""
    return datetime.fromisoformat(text).replace(tzinfo=STO).astimezone(UTC)


def _open(engine: Engine, case_id: str, name: str) -> dict[str, Any]:
    case = cases.get_case(engine, SYSTEM, case_id)
    found = [t for t in case["open_tasks"] if t["name"] == name]
    assert found, (name, [t["name"] for t in case["open_tasks"]])
    return found[0]


def _local(instant: str | None) -> str | None:
    return None if instant is None else datetime.fromisoformat(instant).astimezone(STO).strftime("%Y-%m-%d %H:%M")


def _step(engine: Engine, town: dict[str, Any], case_id: str, name: str, who: str, data: dict[str, Any] | None = None,
          choice: str | None = None) -> dict[str, Any]:
    task = _open(engine, case_id, name)
    decision = bool(task.get("decision_authority") or task.get("decision_under_ordinance"))
    tasks.complete(engine, town[who], task["id"], data if choice is None else None, choice,
                   no_conflict_of_interest=True if decision else None)
    return cases.get_case(engine, SYSTEM, case_id)


def _bygglov(engine: Engine, town: dict[str, Any], key: str) -> str:
    case = cases.start_case(engine, town["ada"], "bygglov", {"inkom": "2026-03-02"}, key)
    _step(engine, town, case["id"], "Registrera ansökan", "ada", {"inkom": "2026-03-02", "fastighet": "Exempelby 1:1"})
    return str(case["id"])


def test_bygglov_waiting_for_completion_restarts_the_clock_and_is_due_on_the_reply_date(
        engine: Engine, town: dict[str, Any]) -> None:
    model_step = next(st for st in engine.model(_version_id(engine, "bygglov")).steps.values()
                      if st.element_id == "Task_vanta")
    assert model_step.properties.get("rutin:restartsCaseClock") == "true"
    assert model_step.properties.get("rutin:restartWithin") == "P3W"
    assert "rutin:pausesCaseClock" not in model_step.properties
    cid = _bygglov(engine, town, "BN-K1")
    engine.clock.set(_at("2026-03-12 10:00"))  # type: ignore[attr-defined]  # day 10: within three weeks
    _step(engine, town, cid, "Kompletthetskontroll", "bea", {})
    _step(engine, town, cid, "Är ansökan komplett?", "bea", choice="Nej")
    _step(engine, town, cid, "Förelägg om komplettering", "bea", {"svarsdatum": "2026-04-10"})
    assert _local(_open(engine, cid, "Vänta på komplettering")["due"]) == "2026-04-10 23:59"
    engine.clock.set(_at("2026-04-09 10:00"))  # type: ignore[attr-defined]
    engine.scheduler.tick()
    case = _step(engine, town, cid, "Vänta på komplettering", "bea", {})
    # PBL 9 kap. 27 §: the ten weeks run from the day the deficiency was remedied (engine: the
    # lead's rutin:restartsCaseClock).
    assert _local(case["deadline"]["deadline"]) == "2026-06-18 23:59"


def test_bygglov_applicant_who_never_completes_is_dismissed_by_the_delegate(engine: Engine,
                                                                            town: dict[str, Any]) -> None:
    cid = _bygglov(engine, town, "BN-K2")
    _step(engine, town, cid, "Kompletthetskontroll", "bea", {})
    _step(engine, town, cid, "Är ansökan komplett?", "bea", choice="Nej")
    _step(engine, town, cid, "Förelägg om komplettering", "bea", {"svarsdatum": "2026-03-30"})
    engine.clock.set(_at("2026-03-31 10:00"))  # type: ignore[attr-defined]
    engine.scheduler.tick()
    _step(engine, town, cid, "Vänta på komplettering", "bea", {})
    gateway = _open(engine, cid, "Har sökanden kompletterat?")
    assert [o["name"] for o in gateway["options"]] == ["Ja", "Nej, avvisa eller avskriv"]
    assert gateway["due"] is not None
    _step(engine, town, cid, "Har sökanden kompletterat?", "bea", choice="Nej, avvisa eller avskriv")
    dismiss = _open(engine, cid, "Avvisa eller avskriva ansökan?")
    assert dismiss["delegation_item"] == "F.2.2" and dismiss["due"] is not None
    with pytest.raises(Forbidden):  # a decision under the ordinance: not the administrator's
        tasks.complete(engine, town["ada"], dismiss["id"], {"avvisning": "avvisas"}, None, no_conflict_of_interest=True)
    _step(engine, town, cid, "Avvisa eller avskriva ansökan?", "bea", {"avvisning": "avvisas"})
    _step(engine, town, cid, "Expediera och kungör beslutet", "ada", {})
    case = _step(engine, town, cid, "Anmäl delegationsbeslutet till nämnden", "ada", {})
    assert case["status"] == "completed"
    report = delegation.report(engine, SYSTEM, committee="Byggnadsnämnden")
    assert [(r["item"], r["business_key"], r["decided_by"]) for r in report] == [("F.2.2", "BN-K2", "bea")]


def test_bygglov_extension_is_decided_before_the_original_deadline(engine: Engine, town: dict[str, Any]) -> None:
    cid = _bygglov(engine, town, "BN-F1")
    _step(engine, town, cid, "Kompletthetskontroll", "bea", {})
    _step(engine, town, cid, "Är ansökan komplett?", "bea", choice="Ja")
    names = {t["name"]: t for t in cases.get_case(engine, SYSTEM, cid)["open_tasks"]}
    # Open beside the review from the start: due seven weeks after receipt (reference §4.3 step 6);
    # the review is due in week six, counted from receipt.
    assert _local(names["Behövs förlängd handläggningstid?"]["due"]) == "2026-04-20 23:59"
    assert _local(names["Granskning och remisser"]["due"]) == "2026-04-13 23:59"
    engine.clock.set(_at("2026-04-15 10:00"))  # type: ignore[attr-defined]  # week seven
    engine.scheduler.tick()
    _step(engine, town, cid, "Behövs förlängd handläggningstid?", "bea", choice="Ja")
    assert _local(_open(engine, cid, "Beslut om förlängd handläggningstid")["due"]) == "2026-05-04 23:59"
    case = _step(engine, town, cid, "Beslut om förlängd handläggningstid", "bea", {})
    assert case["deadline"]["extended"] is True
    assert _local(case["deadline"]["deadline"]) == "2026-07-20 23:59"  # 2 March + 20 weeks
    # The review goes on; the decision on the lov waits for both branches.
    _step(engine, town, cid, "Granskning och remisser", "bea", {})
    _step(engine, town, cid, "Behövs grannehörande?", "bea", choice="Nej")
    assert _open(engine, cid, "Beslut om lov")


def test_bygglov_decision_is_due_by_the_statutory_deadline(engine: Engine, town: dict[str, Any]) -> None:
    cid = _bygglov(engine, town, "BN-T1")
    _step(engine, town, cid, "Kompletthetskontroll", "bea", {})
    _step(engine, town, cid, "Är ansökan komplett?", "bea", choice="Ja")
    _step(engine, town, cid, "Behövs förlängd handläggningstid?", "bea", choice="Nej")
    _step(engine, town, cid, "Granskning och remisser", "bea", {})
    # The decision opens on Friday 8 May: two working days would end on Tuesday the 12th, but the
    # ten weeks from receipt (2 March) end on Monday the 11th.
    engine.clock.set(_at("2026-05-08 10:00"))  # type: ignore[attr-defined]
    case = _step(engine, town, cid, "Behövs grannehörande?", "bea", choice="Nej")
    assert _local(case["deadline"]["deadline"]) == "2026-05-11 23:59"
    assert _local(_open(engine, cid, "Beslut om lov")["due"]) == "2026-05-11 23:59"


def test_registerutdrag_counts_from_receipt_and_extends_within_the_first_month(engine: Engine,
                                                                               town: dict[str, Any]) -> None:
    case = cases.start_case(engine, town["rebecka"], "gdpr_registerutdrag", {"inkom": "2026-03-02"}, "RU-1")
    cid = case["id"]
    _step(engine, town, cid, "Ta emot och registrera begäran", "rebecka", {"inkom": "2026-03-02", "sokande": "Eva"})
    names = {t["name"]: t for t in cases.get_case(engine, SYSTEM, cid)["open_tasks"]}
    assert _local(names["Kontrollera identitet"]["due"]) == "2026-03-04 23:59"
    assert _local(names["Behövs förlängning?"]["due"]) == "2026-03-26 23:59"  # T+18 working days
    engine.clock.set(_at("2026-03-04 15:00"))  # type: ignore[attr-defined]
    _step(engine, town, cid, "Kontrollera identitet", "lisa", {})
    # Due ten working days from receipt, not from when the search opened.
    assert _local(_open(engine, cid, "Sök i verksamhetssystemen")["due"]) == "2026-03-16 23:59"
    engine.clock.set(_at("2026-03-20 10:00"))  # type: ignore[attr-defined]
    engine.scheduler.tick()
    _step(engine, town, cid, "Behövs förlängning?", "hanna", choice="Ja")
    assert _local(_open(engine, cid, "Beslut om förlängning och underrättelse")["due"]) == "2026-03-30 23:59"
    case = _step(engine, town, cid, "Beslut om förlängning och underrättelse", "jonas", {})
    assert case["deadline"]["extended"] is True
    assert _local(case["deadline"]["deadline"]) == "2026-06-02 23:59"  # 2 March + 3 months


@pytest.mark.parametrize(("unit", "handler", "signer"), [("aldreomsorg", "erik", "erik"), ("bostader", "vera", "vera")])
def test_a_synpunkt_goes_to_the_handler_the_contact_centre_appoints(engine: Engine, town: dict[str, Any], unit: str,
                                                                    handler: str, signer: str) -> None:
    case = cases.start_case(engine, town["kalle"], "synpunkter_klagomal", {}, f"SP-{unit}", org_unit=unit)
    cid = case["id"]
    _step(engine, town, cid, "Ta emot och registrera", "kalle",
          {"inkom": "2026-03-02", "synpunkt": "Maten kall", "kategori": "klagomal", "anonym": False})
    assert _local(_open(engine, cid, "Bekräfta mottagandet")["due"]) == "2026-03-04 23:59"
    _step(engine, town, cid, "Bekräfta mottagandet", "kalle", {})
    _step(engine, town, cid, "Fördela till ansvarig verksamhet", "kalle", {"ansvarig": handler})
    utreda = _open(engine, cid, "Utreda och åtgärda")
    assert utreda["assignee"] == handler and _local(utreda["due"]) == "2026-03-11 23:59"
    _step(engine, town, cid, "Utreda och åtgärda", handler, {"atgard": "Bytt leverantör"})
    assert _open(engine, cid, "Är synpunkten en avvikelse?")["due"] is not None
    _step(engine, town, cid, "Är synpunkten en avvikelse?", handler, choice="Nej")
    svara = _open(engine, cid, "Svara")
    assert svara["assignee"] == handler
    assert _local(svara["due"]) == "2026-03-13 23:59"  # the reply goes out within 10 WD of receipt
    _step(engine, town, cid, "Svara", handler, {"svar": "Vi har bytt leverantör."})
    granska = _open(engine, cid, "Granska och signera svaret")
    assert _local(granska["due"]) == "2026-03-16 23:59"
    _step(engine, town, cid, "Granska och signera svaret", signer, {})
    assert _open(engine, cid, "Avsluta och klassificera")["due"] is not None
    assert _step(engine, town, cid, "Avsluta och klassificera", handler, {})["status"] == "completed"
    with engine.db.read() as s:
        rows = s.query(HumanTask).filter(HumanTask.case_id == cid).all()
        assert rows and all(r.due_at is not None for r in rows), [r.name for r in rows if r.due_at is None]


def test_a_personal_data_breach_is_reported_72_hours_from_discovery(engine: Engine, town: dict[str, Any]) -> None:
    engine.clock.set(_at("2026-03-06 15:30"))  # type: ignore[attr-defined]
    case = cases.start_case(engine, town["hanna"], "avvikelsehantering", {}, "AV-PUI", org_unit="kansli")
    cid = case["id"]
    _step(engine, town, cid, "Rapportera avvikelse", "hanna",
          {"beskrivning": "Utdrag skickat till fel mottagare", "upptackt_datum": "2026-03-06",
           "upptackt": "2026-03-06 15:00", "allvarlighetsgrad": "hog"})
    engine.clock.set(_at("2026-03-06 16:00"))  # type: ignore[attr-defined]
    _step(engine, town, cid, "Registrera och klassificera", "kristina", {})
    _step(engine, town, cid, "Särskild anmälningsplikt?", "kristina", choice="Personuppgiftsincident")
    pui = _open(engine, cid, "Anmäl personuppgiftsincident till IMY")
    assert _local(pui["due"]) == "2026-03-09 15:00"  # GDPR art. 33: 72 hours from discovery
    engine.clock.set(_at("2026-03-07 15:01"))  # type: ignore[attr-defined]  # 24 hours after discovery
    engine.scheduler.tick()
    told = [m for m in notifications.list_for(engine, town["lisa"])["items"] if m.get("task_id") == pui["id"]]
    assert told, "the Dataskyddssamordnare hears of the breach after 24 hours"
    _step(engine, town, cid, "Anmäl personuppgiftsincident till IMY", "lisa", {})


def test_deviation_steps_have_someone_in_companies_and_lex_maria_goes_to_the_mas(engine: Engine,
                                                                                 town: dict[str, Any]) -> None:
    case = cases.start_case(engine, town["vera"], "avvikelsehantering", {}, "AV-BOLAG", org_unit="bostader")
    cid = case["id"]
    _step(engine, town, cid, "Rapportera avvikelse", "vera",
          {"beskrivning": "Felaktig hyresavi", "upptackt_datum": "2026-03-02", "allvarlighetsgrad": "lag"})
    _step(engine, town, cid, "Registrera och klassificera", "kristina", {})
    _step(engine, town, cid, "Särskild anmälningsplikt?", "kristina", choice="Nej")
    _step(engine, town, cid, "Omedelbar åtgärd och korrigering", "vera", {})  # the company's VD
    _step(engine, town, cid, "Bedöm behov av korrigerande åtgärd", "petra", {"korrigerande_atgard": True})
    _step(engine, town, cid, "Orsaksanalys", "kristina", {"orsak": "Fel mall"})
    _step(engine, town, cid, "Fastställ åtgärdsplan", "petra", {"atgardsplan": "Ny mall", "atgardsansvarig": "vera"})
    genomfor = _open(engine, cid, "Genomför åtgärder")
    assert genomfor["assignee"] == "vera"
    _step(engine, town, cid, "Genomför åtgärder", "vera", {})

    case = cases.start_case(engine, town["maja"], "avvikelsehantering", {}, "AV-MARIA", org_unit="aldreomsorg")
    cid = case["id"]
    _step(engine, town, cid, "Rapportera avvikelse", "maja",
          {"beskrivning": "Fallskada", "upptackt_datum": "2026-03-02", "allvarlighetsgrad": "hog"})
    _step(engine, town, cid, "Registrera och klassificera", "kristina", {})
    _step(engine, town, cid, "Särskild anmälningsplikt?", "kristina", choice="Lex Maria")
    maria = _open(engine, cid, "Anmäl enligt lex Maria")
    with pytest.raises(Forbidden):
        tasks.complete(engine, town["erik"], maria["id"], {}, None)  # the Enhetschef is not the MAS
    _step(engine, town, cid, "Anmäl enligt lex Maria", "mona", {})


def test_public_documents_are_assessed_and_released_the_same_day(engine: Engine, town: dict[str, Any]) -> None:
    engine.clock.set(_at("2026-03-02 10:00"))  # type: ignore[attr-defined]
    case = cases.start_case(engine, town["rebecka"], "begaran_allman_handling", {}, "AH-1")
    cid = case["id"]
    _step(engine, town, cid, "Ta emot och registrera begäran", "rebecka", {"begarda_handlingar": "Protokoll", "kanal": "disk"})
    _step(engine, town, cid, "Identifiera och lokalisera handlingarna", "hanna", {})
    assert _local(_open(engine, cid, "Pröva allmän handling och sekretess")["due"]) == "2026-03-02 23:59"
    _step(engine, town, cid, "Pröva allmän handling och sekretess", "hanna", {"sekretessbedomning": "Ingen sekretess"})
    _step(engine, town, cid, "Kan handlingarna lämnas ut?", "hanna", choice="Ja, helt")
    assert _local(_open(engine, cid, "Lämna ut handlingarna")["due"]) == "2026-03-02 23:59"


def _version_id(engine: Engine, key: str) -> int:
    import sqlalchemy as sa

    from engine.store.models import ProcessVersion

    with engine.db.read() as s:
        return int(s.execute(sa.select(ProcessVersion.id).where(
            ProcessVersion.key == key, ProcessVersion.status == "published")).scalar_one())
