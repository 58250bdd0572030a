"""The API's accounts, tokens, security log and sign-in mapping, in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from .openapi_ops import id_param, json_body, op, path, query


def paths() -> dict[str, Any]:
    """Their paths, for `webapp.openapi`."""
    return {
    "/api/users": {"get": op("Alla konton, aktiva och avaktiverade (administratörer och revisorer)",
                              errors=("401", "403"))},
    "/api/users/{name}/deactivate": {
        "post": op("Avaktivera ett konto: sessioner och tokens slutar gälla direkt, tagna uppgifter går "
                    "tillbaka till sin roll (administratörer)", params=[path("name", "Användarnamnet")],
                    body=json_body({"type": "object", "properties": {"reason": {"type": "string"}}}),
                    errors=("400", "401", "403", "404", "409", "422")),
    },
    "/api/users/{name}/reactivate": {
        "post": op("Återaktivera ett avaktiverat konto (administratörer)",
                    params=[path("name", "Användarnamnet")],
                    body=json_body({"type": "object", "properties": {"reason": {"type": "string"}}}),
                    errors=("400", "401", "403", "404", "409", "422")),
    },
    "/api/tokens": {
        "get": op("Mina tokens (administratörer och revisorer: user= eller all=true)",
                   params=[query("user", "Den här personens tokens"),
                           query("all", "true = allas tokens", "boolean")], errors=("401", "403", "422")),
        "post": op("Skapa en token (visas bara i svaret); administratörer kan skapa åt andra, och en "
                    "integrations token som bara får starta ärenden i de processer som anges", ok="201",
                    body=json_body({"type": "object", "properties": {
                        "name": {"type": "string"}, "days": {"type": "integer"}, "user": {"type": "string"},
                        "processes": {"type": "array", "items": {"type": "string"}}},
                        "required": ["name"]}, required=True),
                    errors=("400", "401", "403", "404", "409", "422")),
    },
    "/api/tokens/{token_id}": {
        "delete": op("Återkalla en token (ägaren eller en administratör)",
                      params=[id_param("token_id", "Tokens id")]),
    },
    "/api/security-log": {
        "get": op("Säkerhetsloggen, senaste först (JSON, eller CSV med format=csv); administratörer "
                   "och revisorer",
                   params=[query("format", "json eller csv", enum=["json", "csv"]),
                           query("user", "Bara händelser av eller om den här personen"),
                           query("limit", "Högst så många", "integer", minimum=1, maximum=1000),
                           query("offset", "Hoppa över så många", "integer", minimum=0)],
                   errors=("401", "403", "422"), ok_content=("application/json", "text/csv")),
    },
    "/api/oidc/group-roles": {
        "get": op("Vilka roller inloggningstjänstens grupper ger (administratörer och revisorer)",
                   errors=("401", "403")),
        "put": op("Ersätt hela listan över grupproller; gäller var och en från nästa inloggning "
                   "(administratörer)",
                   body=json_body({"type": "object", "properties": {"mappings": {
                       "type": "array", "maxItems": 2000, "items": {
                           "type": "object", "properties": {
                               "group": {"type": "string", "minLength": 1, "maxLength": 255},
                               "role": {"type": "string", "minLength": 1, "maxLength": 200},
                               "unit": {"type": ["string", "null"]}},
                           "required": ["group", "role"], "additionalProperties": False}}},
                       "required": ["mappings"], "additionalProperties": False}, required=True),
                   errors=("400", "401", "403", "422")),
    },
    }
