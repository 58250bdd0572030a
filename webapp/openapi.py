"""The OpenAPI 3.1 description of the API, served at /api/openapi.json.

Written out here rather than generated: the API is small, and a test checks that every route
Flask serves under /api is described here and nothing else is.
"""

from __future__ import annotations

from typing import Any

from engine.service.declared import CASE_FIELDS

from . import openapi_accounts, openapi_records, params
from .openapi_ops import PROBLEM
from .openapi_ops import id_param as _id
from .openapi_ops import instant as _instant
from .openapi_ops import json_body as _json
from .openapi_ops import op as _op
from .openapi_ops import path as _path
from .openapi_ops import query as _query

MAX_OFFSET = params.MAX_OFFSET

# What each way into a case accepts (engine/service/declared.py); anything else is a 422 naming the field.
START_DATA = {
    "type": "object",
    "description": "Startformulärets fält (starthändelsens formulär och utmappning) och de dokumenterade "
                   "ärendefälten, som Rutin själv läser ur ärendets data: " + "; ".join(
                       f"{f.description} (namnges av {f.source}, läses av {f.reader})" for f in CASE_FIELDS)
                   + ". Annat ger 422 som namnger fältet.",
}
TASK_DATA = {"type": "object", "description": "Stegets formulärfält och de variabler dess utmappning anger "
                                              "(camunda:outputParameter, zeebe:ioMapping); ett beslut tar bara "
                                              "choice. Annat ger 422 som namnger fältet."}
MESSAGE_DATA = {"type": "object", "description": "Det som det mottagande elementets utmappning anger (och det "
                                                 "korrelationen läser); ett element utan utmappning tar allt utom "
                                                 "fält som en person fyller i på ett steg och de dokumenterade "
                                                 "ärendefälten."}
RETRY_DATA = {"type": "object", "description": "Rättade värden för variabler som ärendet redan har eller som det "
                                               "felande elementet läser; annat ger 422."}


STARTERS = {
    "type": ["object", "null"],
    "description": "Vem som får starta ärenden för hand, som diagrammet säger: rutin:starterRoles (* eller alla: "
                   "alla anställda), camunda:/flowable:/activiti:candidateStarterGroups och candidateStarterUsers, "
                   "annars startens bana eller första användarstegets roller. Rollen ska innehas i ärendets enhet, "
                   "en enhet ovanför eller i hela organisationen; administratörer får alltid. Tidsstyrda starter "
                   "och årsgranskningen startar som systemet.",
    "properties": {"roles": {"type": "array", "items": {"type": "string"}},
                   "users": {"type": "array", "items": {"type": "string"}}, "everyone": {"type": "boolean"},
                   "source": {"type": "string"}, "text": {"type": "string"}},
}

VERSION = {
    "type": "object",
    "properties": {
        "key": {"type": "string"}, "version": {"type": "integer"},
        "status": {"enum": ["draft", "published", "superseded", "rejected"]},
        "uploaded_by": {"type": "string"}, "uploaded_at": {"type": "string", "format": "date-time"},
        "owner_role": {"type": ["string", "null"],
                       "description": "Processägarrollen som gäller för versionen: för ett utkast den publicerade "
                                      "versionens (null för en ny process), den som avgör om utkastet godkänns; för "
                                      "en publicerad version dess egen"},
        "proposed_owner_role": {"type": ["string", "null"],
                                "description": "Processägarrollen som utkastet skulle införa där den skiljer sig "
                                               "(en ny process första ägare, eller ett byte av ägare): ett sådant "
                                               "utkast godkänns bara av en administratör"},
        "approval": {
            "type": ["object", "null"],
            "description": "För ett utkast: vem som får godkänna det, beslutat av processen som den är publicerad "
                           "(aldrig av utkastet). notice säger det på svenska, t.ex. \"Versionen byter processägare "
                           "från X till Y; en administratör måste godkänna bytet.\"",
            "properties": {"owner_role": {"type": ["string", "null"]},
                           "proposed_owner_role": {"type": ["string", "null"]},
                           "admin_only": {"type": "boolean"}, "notice": {"type": "string"}},
        },
        "starters": STARTERS,
        "approved_by": {"type": ["string", "null"]},
        "approved_via": {"enum": ["owner", "admin", None],
                         "description": "owner: en processägare som inte laddade upp versionen; admin: en "
                                        "administratör som inte laddade upp den (en ny process, ett byte av "
                                        "processägare), eller driftsättning med rutin deploy --approve"},
        "approved_at": {"type": ["string", "null"], "format": "date-time"},
        "rejected_by": {"type": ["string", "null"]}, "rejection_reason": {"type": ["string", "null"]},
        "changes": {"type": "object", "description": "Ändringar mot förra versionen: added, removed, renamed, "
                                                     "roles_changed, deadlines_changed, och där diagrammet ändrar "
                                                     "dem starters_changed (vem som får starta) och unit_changed "
                                                     "(rutin:unit)"},
        "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}},
        "message_flows": {"type": "array", "items": {"type": "object"}},
        "history": {"type": "array", "items": {"type": "object"}},
    },
}

TASK = {
    "type": "object",
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "kind": {"enum": ["task", "decision"]},
        "status": {"enum": ["open", "completed", "cancelled"]}, "case_id": {"type": "string"},
        "process_key": {"type": "string"}, "role": {"type": ["string", "null"]},
        "assignee": {"type": ["string", "null"]}, "created": {"type": "string", "format": "date-time"},
        "due": {"type": ["string", "null"], "format": "date-time"}, "overdue": {"type": "boolean"},
        "form": {"type": "array", "items": {"type": "object"}},
        "options": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}}}},
        "decision_under_ordinance": {
            "type": "boolean",
            "description": "Ett beslut enligt delegationsordningen (markerat i diagrammet eller namngivet av en "
                           "gällande punkt): att slutföra det kräver no_conflict_of_interest: true och att man "
                           "har delegationen. Saknas i listornas korta form (tasks i ett ärende).",
        },
        "delegation_item": {
            "type": ["string", "null"],
            "description": "Numret på den mest specifika gällande punkten i delegationsordningen för steget; "
                           "har punkterna beloppsgränser prövas de mot ärendets uppgifter när beslutet fattas.",
        },
        "delegation_items": {
            "type": "array", "items": {"type": "string"},
            "description": "Alla gällande punkter som avser steget, den mest specifika först.",
        },
        "delegation_item_title": {
            "type": ["string", "null"],
            "description": "Rubriken på den punkten (delegation_item), som sidorna visar vid beslutet.",
        },
        "actions": {
            "type": "object",
            "properties": {k: {"type": "boolean"} for k in ("claim", "unclaim", "complete", "assign", "comment")},
            "description": "Vad den som frågar får göra med uppgiften just nu (varje åtgärd prövas igen när "
                           "den görs). Saknas i listornas korta form.",
        },
    },
}


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    document = _spec()
    # Anywhere, a NUL byte in the path, query or a form field is refused with 400 (webapp.params).
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].setdefault("400", PROBLEM)
            # Who holds no role, and an integration's token outside starting cases, are refused
            # with 403 wherever a token is needed (webapp.auth).
            if operation.get("security") != []:
                operation["responses"].setdefault("403", PROBLEM)
    return document


def _spec() -> dict[str, Any]:
    case_id = _path("case_id", "Ärendets id")
    task_id = _path("task_id", "Uppgiftens id")
    key = _path("key", "Processens nyckel (BPMN-processens id)")
    number = _id("number", "Versionsnummer")
    paging = [_query("limit", "Högst så många poster (1–500)", "integer", minimum=1, maximum=500),
              _query("offset", "Hoppa över så många poster", "integer", minimum=0, maximum=MAX_OFFSET)]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rutin API",
            "version": "1",
            "description": "Ladda upp BPMN, starta ärenden, arbeta med uppgifter. Fel returneras som "
                           "problem details (RFC 9457). En frågeparameter anges högst en gång; heltal skrivs "
                           "med siffror inom sina gränser; JSON-innehåll är ett objekt, högst 32 nivåer djupt, "
                           "utan NaN, NUL-tecken eller ensamma surrogattecken; ett NUL-tecken (%00) i adress, "
                           "frågeparameter eller formulärfält ger 400. "
                           "En revisor (rollen auditor och ingen annan) läser allt "
                           "men ändrar ingenting: varje anrop som skriver (POST, PUT, PATCH, DELETE) ger 403 och "
                           "lämnar inget spår.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {
                    "description": "Problem details (RFC 9457)",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                        "detail": {"type": "string"}, "instance": {"type": "string"},
                        "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}},
                        "errors": {"type": "array", "items": {"type": "object"}},
                    },
                    "required": ["type", "title", "status", "detail"],
                },
                "Diagnostic": {
                    "type": "object",
                    "properties": {
                        "severity": {"enum": ["error", "warning", "info"]}, "code": {"type": "string"},
                        "message": {"type": "string"}, "element_id": {"type": "string"},
                        "element_name": {"type": "string", "description": "Elementets namn som designern gav det"},
                        "line": {"type": "integer"}, "process_id": {"type": "string"},
                        "assumption": {"type": "string",
                                       "description": "Vad Rutin antog för att elementet ska kunna köras (varningar "
                                                      "och information)"},
                    },
                    "required": ["severity", "code", "message"],
                },
                "Task": TASK,
                "Version": VERSION,
            },
        },
        "paths": {
            "/api/health": {"get": _op("Hälsokontroll", public=True, errors=())},
            "/api/openapi.json": {"get": _op("Den här beskrivningen", public=True, errors=())},
            "/api/me": {"get": _op("Den inloggade användaren och dess roller", errors=("401",))},
            "/api/processes": {
                "get": _op("Driftsatta processer", errors=("401",)),
                "post": _op(
                    "Ladda upp en BPMN-fil (rå XML eller multipart-fältet file)", ok="201",
                    body={"required": True, "content": {
                        "application/xml": {"schema": {"type": "string"}},
                        "multipart/form-data": {"schema": {"type": "object", "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "forms": {"type": "array", "items": {"type": "string", "format": "binary"},
                                      "description": "Camunda Forms (.form) som diagrammet hänvisar till"}}}},
                    }},
                    errors=("400", "401", "403", "409", "413", "422"),
                ),
            },
            "/api/processes/{key}": {"get": _op("En process och dess versioner", params=[key])},
            "/api/processes/{key}/versions/{number}/bpmn": {
                "get": _op("En versions BPMN-XML", params=[key, number],
                           ok_content="application/xml", ok_schema={"type": "string"}),
            },
            "/api/processes/{key}/versions/{number}": {
                "get": _op("En version: status, vem som laddade upp, godkände eller avvisade den och hur, "
                           "diagnostiker, ändringar mot förra versionen, steg, meddelandeflöden och historik",
                           params=[key, number], ok_schema={"$ref": "#/components/schemas/Version"}),
            },
            "/api/processes/{key}/versions/{number}/approve": {
                "post": _op("Godkänn och publicera en utkastversion: någon annan än den som laddade upp den, "
                            "som har processägarrollen för den publicerade versionen, eller en administratör. En "
                            "ny process eller ett utkast som byter processägare (rutin:owner i diagrammet) "
                            "godkänns bara av en administratör; den nya ägaren gäller sedan. Den publicerade "
                            "versionen före den blir ersatt. 409 för en version som inte är utkast eller är äldre "
                            "än den publicerade",
                            params=[key, number], errors=("401", "403", "404", "409"),
                            ok_schema={"$ref": "#/components/schemas/Version"}),
            },
            "/api/processes/{key}/versions/{number}/reject": {
                "post": _op("Avvisa en utkastversion med en motivering (processägaren för den publicerade "
                            "versionen eller en administratör; en ny process bara en administratör); den kan "
                            "aldrig publiceras",
                            params=[key, number],
                            body=_json({"type": "object", "properties": {"reason": {"type": "string"}},
                                        "required": ["reason"]}, required=True),
                            errors=("400", "401", "403", "404", "409", "422"),
                            ok_schema={"$ref": "#/components/schemas/Version"}),
            },
            "/api/processes/{key}/policy": {
                "get": _op("Processägarens tidsfrister per steg", params=[key]),
                "put": _op("Ersätt tidsfristerna: {tasks: {elementets id: {due, follow_up, escalation}}}",
                           params=[key], body=_json({"type": "object", "properties": {"tasks": {"type": "object"}}},
                                                    required=True), errors=("400", "401", "403", "404", "422")),
            },
            "/api/processes/{key}/measure-targets": {
                "get": _op("Processens mål per mätetal (andel i procent, ledtid i dagar)", params=[key]),
            },
            "/api/processes/{key}/measure-targets/{measure}": {
                "put": _op("Sätt ett mätetals mål (processägaren eller en administratör); null tar bort målet",
                           params=[key, _path("measure", "Mätetal: within_deadline_share, lead_time_days_p90 "
                                                         "eller lead_time_days_median")],
                           body=_json({"type": "object", "properties": {
                               "target": {"type": ["number", "string", "null"]}}, "required": ["target"]},
                               required=True),
                           errors=("400", "401", "403", "404", "422")),
            },
            "/api/processes/{key}/unit": {
                "get": _op("Enheten som processens nya ärenden hör till (processägarens val, annars diagrammets "
                           "rutin:unit)", params=[key]),
                "put": _op("Välj processens enhet (processägaren eller en administratör); null tar bort valet",
                           params=[key], body=_json({"type": "object", "properties": {
                               "unit": {"type": ["string", "null"]}}, "required": ["unit"]}, required=True),
                           errors=("400", "401", "403", "404", "422")),
            },
            "/api/processes/{key}/cases": {
                "post": _op("Starta ett ärende av den publicerade versionen. Bara den som har någon av "
                            "processens startroller (se starters i versionen) i ärendets enhet, en enhet ovanför "
                            "den eller i hela organisationen, och administratörer; andra får 403 (\"Du har ingen "
                            "roll som får starta ärenden i processen X\") och inget skrivs",
                            ok="201", params=[key],
                            body=_json({"type": "object", "properties": {
                                "data": START_DATA, "business_key": {"type": "string"},
                                "org_unit": {"type": "string"}}}),
                            errors=("400", "401", "403", "404", "422")),
            },
            "/api/cases": {
                "get": _op("Ärenden du kan se", params=[
                    _query("process", "Processnyckel"), _query("status", "Status", enum=["active", "completed",
                                                                                         "incident", "culled"]),
                    _query("business_key", "Ärendenummer"), _query("started_by", "Startad av (eller me)"),
                    _query("unit", "Enhet (mine = enheter du arbetar i eller leder)"),
                    _query("q", "Sök i ärendenummer, ärendets uppgifter och öppna stegs namn"),
                    _query("overdue", "true = bara öppna ärenden vars tidsfrist har passerats", "boolean"),
                    *paging], errors=("401", "422")),
            },
            "/api/cases/{case_id}": {"get": _op("Ett ärende: status, data, öppna uppgifter, historik",
                                                params=[case_id])},
            "/api/cases/{case_id}/deviations": {
                "get": _op("Avvikelserna: vilket ärende och steg avvikelsen gäller (about), och de avvikelser som "
                           "rapporterats från ärendet (reported)", params=[case_id]),
                "post": _op("Rapportera en avvikelse i ärendet (och steget task_id): startar ett avvikelseärende "
                            "vars första steg är rapportörens", ok="201", params=[case_id],
                            body=_json({"type": "object", "properties": {"task_id": {"type": ["string", "null"]}}}),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/cases/{case_id}/retry": {
                "post": _op("Försök igen efter en incident, ev. med rättade data", params=[case_id],
                            body=_json({"type": "object", "properties": {"data": RETRY_DATA}}),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/cases/{case_id}/transfer": {
                "post": _op("Lämna över ärendet till en annan enhet (chefen för ärendets enhet eller admin); "
                            "öppna uppgifter går dit, tagna lämnas tillbaka", params=[case_id],
                            body=_json({"type": "object", "properties": {
                                "unit": {"type": "string"}, "reason": {"type": "string"}},
                                "required": ["unit", "reason"]}, required=True),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/cases/{case_id}/messages/{name}": {
                "post": _op("Leverera ett meddelande till ett ärende som väntar på det",
                            params=[case_id, _path("name", "Meddelandets namn")],
                            body=_json({"type": "object", "properties": {"data": MESSAGE_DATA}}),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/messages/{name}": {
                "post": _op("Leverera ett meddelande till ärendet med ett visst ärendenummer",
                            params=[_path("name", "Meddelandets namn")],
                            body=_json({"type": "object", "properties": {
                                "business_key": {"type": "string"}, "data": MESSAGE_DATA},
                                "required": ["business_key"]}, required=True),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/tasks": {
                "get": _op("Öppna uppgifter du kan arbeta med", params=[
                    _query("assignee", "me = tilldelade mig"), _query("candidate", "me = otagna i mina roller"),
                    _query("role", "Roll"), _query("process", "Processnyckel"), _query("case", "Ärendets id"),
                    _query("unit", "Enhet (mine = mina enheters)"),
                    _query("overdue", "true = bara försenade", "boolean"),
                    _instant("due_before", "Förfaller före (ISO 8601)"),
                    _instant("follow_up_before", "Ska följas upp före (ISO 8601)"),
                    _query("q", "Sök i ärendenummer, stegets namn och ärendets uppgifter"),
                    _query("sort", "Sortering", enum=["created", "due", "priority"]),
                    _query("order", "Ordning", enum=["asc", "desc"]), *paging,
                ], errors=("401", "422")),
            },
            "/api/tasks/{task_id}": {
                "get": _op("En uppgift", params=[task_id], ok_schema=TASK),
                "patch": _op("Ändra prioritet, förfallodatum eller uppföljningsdatum", params=[task_id],
                             body=_json({"type": "object", "properties": {
                                 "priority": {"type": "integer"}, "due": {"type": ["string", "null"]},
                                 "follow_up": {"type": ["string", "null"]},
                                 "reason": {"type": "string", "maxLength": 500,
                                            "description": "Varför datumet ändras (sparas i historiken)"}}},
                                   required=True),
                             errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/tasks/{task_id}/claim": {"post": _op("Ta uppgiften", params=[task_id],
                                                       errors=("400", "401", "403", "404", "409"))},
            "/api/tasks/{task_id}/unclaim": {"post": _op("Lämna tillbaka uppgiften", params=[task_id],
                                                         errors=("400", "401", "403", "404", "409"))},
            "/api/tasks/{task_id}/assign": {
                "post": _op("Tilldela uppgiften en person (chef för enheten, administratör)", params=[task_id],
                            body=_json({"type": "object", "properties": {"user": {"type": "string"}},
                                        "required": ["user"]}, required=True),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/tasks/{task_id}/handover": {
                "post": _op("Lämna över sin uppgift till en annan med samma roll", params=[task_id],
                            body=_json({"type": "object", "properties": {"user": {"type": "string"}},
                                        "required": ["user"]}, required=True),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/tasks/{task_id}/comments": {
                "post": _op("Kommentera uppgiften", ok="201", params=[task_id],
                            body=_json({"type": "object", "properties": {"text": {"type": "string"}},
                                        "required": ["text"]}, required=True),
                            errors=("400", "401", "403", "404", "422")),
            },
            "/api/tasks/{task_id}/conflict-of-interest": {
                "post": _op("Anmäl jäv: beslutet går till ersättaren", params=[task_id],
                            body=_json({"type": "object", "properties": {"reason": {"type": "string"}}}),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
            "/api/cases/{case_id}/comments": {
                "post": _op("Kommentera ärendet", ok="201", params=[case_id],
                            body=_json({"type": "object", "properties": {"text": {"type": "string"}},
                                        "required": ["text"]}, required=True),
                            errors=("400", "401", "403", "404", "422")),
            },
            "/api/notifications": {
                "get": _op("Mina notiser", params=[_query("unread", "true = bara olästa", "boolean"), paging[0]],
                           errors=("401", "422")),
            },
            "/api/notifications/{notification_id}/read": {
                "post": _op("Markera notisen som läst", params=[_id("notification_id", "Notisens id")]),
            },
            "/api/org": {
                "get": _op("Hela organisationen (JSON, YAML med format=yaml, personer och roller som CSV)",
                           params=[_query("format", "json, yaml eller csv", enum=["json", "yaml", "csv"])],
                           errors=("401", "403", "422"),
                           ok_content=("application/json", "application/yaml", "text/csv")),
                "put": _op("Läs in organisationen (enheter, personer, roller, alias, frånvaro; CSV: personer)",
                           body={"required": True, "content": {"application/json": {"schema": {"type": "object"}},
                                                               "application/yaml": {"schema": {"type": "string"}},
                                                               "text/csv": {"schema": {"type": "string"}}}},
                           errors=("400", "401", "403", "422")),
            },
            **openapi_accounts.paths(),
            "/api/org/units": {"get": _op("Koncernens enheter", errors=("401",))},
            "/api/org/units/{unit_id}": {"get": _op("En enhet, dess chefer och medarbetare",
                                                    params=[_path("unit_id", "Enhetens id")])},
            "/api/absences": {
                "post": _op("Registrera frånvaro (egen, eller för medarbetare)", ok="201",
                            body=_json({"type": "object", "properties": {
                                "user": {"type": "string"}, "from": {"type": "string", "format": "date-time"},
                                "to": {"type": "string", "format": "date-time"}, "reason": {"type": "string"}},
                                "required": ["from", "to"]}, required=True),
                            errors=("400", "401", "403", "404", "422")),
                "get": _op("Frånvaro du kan se: din egen, dina medarbetares (administratörer och revisorer: allas)",
                           params=[_query("user", "Bara den här personens"),
                                   _query("all", "true = även avslutad frånvaro", "boolean")], errors=("401", "422")),
            },
            "/api/absences/{absence_id}": {
                "delete": _op("Återkalla frånvaro: tas bort om den inte börjat, avslutas nu om den pågår",
                              params=[_id("absence_id", "Frånvarons id")],
                              errors=("401", "404", "409")),
            },
            "/api/delegation/items": {
                "get": _op("Delegationsordningen som gäller nu och framåt", params=[
                    _query("all", "true = alla versioner, även förslag (administratörer, processägare, revisorer)",
                           "boolean")], errors=("401", "403", "422")),
                "post": _op("Föreslå en ny eller ändrad punkt (utkast tills någon annan godkänner)", ok="201",
                            body=_json({"type": "object"}, required=True), errors=("400", "401", "403", "422")),
            },
            "/api/delegation/items/{item_id}/approve": {
                "post": _op("Godkänn en punkt (inte av den som föreslog den)",
                            params=[_id("item_id", "Punktens id")],
                            errors=("401", "403", "404", "409")),
            },
            "/api/delegation/decisions": {
                "get": _op("Delegationsbeslut för anmälan till nämnden (CSV med format=csv)", params=[
                    _query("committee", "Nämnd"), _instant("from", "Från (ISO 8601)"),
                    _instant("to", "Till (ISO 8601)"),
                    _query("reporting", "Redovisning", enum=["anmals", "protokollfors", "none"]),
                    _query("format", "json eller csv", enum=["json", "csv"])], errors=("401", "403", "422"),
                    ok_content=("application/json", "text/csv")),
            },
            "/api/measures": {
                "get": _op("Mätetal per process över en period (ISO 9001 9.1): startade och avslutade ärenden, "
                           "ledtider, andel inom tidsfristen, pågående och försenade; per steg med process=",
                           params=[_instant("from", "Från (ISO 8601)"), _instant("to", "Till (ISO 8601)"),
                                   _query("process", "Processnyckel: ger också stegens mätetal"),
                                   _query("format", "json eller csv (processerna, eller den valda processens steg)",
                                          enum=["json", "csv"])],
                           errors=("401", "403", "422"), ok_content=("application/json", "text/csv")),
            },
            "/api/audit/public-key": {
                "get": _op("De publika nycklar som signerar kontrollpunkterna (Ed25519), för den som vill "
                           "kontrollera dem själv", public=True, errors=()),
            },
            "/api/audit": {
                "get": _op("Senaste kontrollen av historiken, när den senast var utan avvikelser, senaste "
                           "kontrollpunkten (revisorer och administratörer)", errors=("401", "403")),
            },
            "/api/audit/verify": {
                "get": _op("Kontrollera alla ärendens och processers historik nu, utan att registrera kontrollen "
                           "(revisorer och administratörer)", errors=("401", "403")),
                "post": _op("Kontrollera alla ärendens och processers historik nu och registrera resultatet "
                            "(administratörer)", errors=("401", "403")),
            },
            "/api/audit/checkpoints": {
                "post": _op("Försegla kedjornas huvuden nu i en signerad kontrollpunkt (administratörer)", ok="201",
                            errors=("401", "403")),
            },
            **openapi_records.paths(),
            "/api/tasks/{task_id}/complete": {
                "post": _op("Slutför uppgiften med data, eller ett beslut med choice", params=[task_id],
                            body=_json({"type": "object", "properties": {
                                "data": TASK_DATA,
                                "choice": {"oneOf": [{"type": "string"}, {"type": "array",
                                                                          "items": {"type": "string"}}]},
                                "no_conflict_of_interest": {"type": "boolean"}}}),
                            errors=("400", "401", "403", "404", "409", "422")),
            },
        },
    }
