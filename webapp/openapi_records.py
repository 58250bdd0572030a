"""The API's records management (retention, culling, the e-archive, personal data requests), in the
OpenAPI document."""

from __future__ import annotations

from typing import Any

from .openapi_ops import id_param, instant, json_body, op, path, query


def paths() -> dict[str, Any]:
    """Their paths, for `webapp.openapi`."""
    return {
    "/api/retention/rules": {
        "get": op("Gallringsreglerna som gäller (alla versioner med all=true)", params=[
            query("process", "Processnyckel"), query("all", "true = alla versioner, även förslag",
                                                       "boolean")], errors=("401", "403", "422")),
        "post": op("Föreslå en gallringsregel: process_key, action (bevaras/gallras), years/months, "
                    "decision_ref, decision_body, decision_date; valfritt outcome_field/outcome_value, note",
                    ok="201", body=json_body({"type": "object"}, required=True),
                    errors=("400", "401", "403", "422")),
    },
    **{f"/api/retention/rules/{{rule_id}}/{verb}": {"post": op(
        summary, params=[id_param("rule_id", "Regelns id")], errors=("401", "403", "404", "409"))}
       for verb, summary in (("approve", "Godkänn en gallringsregel (inte av den som föreslog den)"),
                             ("reject", "Avvisa ett förslag till gallringsregel"))},
    "/api/cases/{case_id}/retention": {
        "get": op("Gallringsregeln som gäller ärendet, undantag och gallringsuppgift",
                   params=[path("case_id", "Ärendets id")]),
    },
    **{f"/api/cases/{{case_id}}/{sub}": {"post": op(
        summary, ok=ok, params=[path("case_id", "Ärendets id")],
        errors=("400", "401", "403", "404", "409", "422"),
        body=json_body({"type": "object", "properties": {"reason": {"type": "string"}}}, required=True))}
       for sub, ok, summary in (("hold", "201", "Undanta ärendet från gallring (reason)"),
                                ("hold/release", "200", "Häv undantaget från gallring (reason)"))},
    "/api/retention/holds": {
        "get": op("Ärenden undantagna från gallring", params=[
            query("all", "true = även hävda undantag", "boolean")], errors=("401", "403", "422")),
    },
    "/api/retention/cull": {
        "get": op("Provkörning: vad gallringen skulle ta bort nu (inget ändras)", errors=("401", "403")),
        "post": op("Gallra de ärenden vars gallringsfrist har gått ut", errors=("401", "403")),
    },
    "/api/retention/culled": {
        "get": op("Gallringsrapport: gallrade ärenden under en period, med gallringsbeslut (CSV med "
                   "format=csv)", params=[instant("from", "Från (ISO 8601)"),
                                          instant("to", "Till (ISO 8601)"),
                                          query("format", "json eller csv", enum=["json", "csv"])],
                   errors=("401", "403", "422"), ok_content=("application/json", "text/csv")),
    },
    "/api/cases/{case_id}/archive-package": {
        "post": op("Leverera ett avslutat ärende som bevaras som E-ARK-paket (zip), registrerat",
                    params=[path("case_id", "Ärendets id")], errors=("401", "403", "404", "409"),
                    ok_content="application/zip"),
    },
    "/api/retention/deliveries/{delivery_id}/receipt": {
        "post": op("Registrera e-arkivets kvittens på ett paket (receipt_ref); ärendet får sedan gallras",
                    params=[id_param("delivery_id", "Leveransens id")],
                    body=json_body({"type": "object", "properties": {"receipt_ref": {"type": "string"}}},
                               required=True), errors=("400", "401", "403", "404", "409", "422")),
    },
    "/api/personal-data/search": {
        "post": op("Registerutdrag (GDPR art. 15): ärenden och händelser som nämner en person (query); "
                    "CSV med format=csv; administratörer", params=[query("format", "json eller csv",
                                                                          enum=["json", "csv"])],
                    body=json_body({"type": "object", "properties": {"query": {"type": "string"}}},
                               required=True), errors=("400", "401", "403", "422"),
                    ok_content=("application/json", "text/csv")),
    },
    }
