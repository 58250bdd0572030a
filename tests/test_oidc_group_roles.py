"""The mapping from the identity provider's groups to roles: kept by administrators through the
API and the command line, every hostile input refused with a Swedish problem and no change; and
the settings Rutin refuses to start under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Person

from engine.authority import identity, idp, security_log
from engine.base.settings import Settings, SettingsError
from engine.core import Engine
from engine.service import org_data
from webapp import cli

URL = "/api/oidc/group-roles"
GOOD = [{"group": "socialtjanst", "role": "Handläggare"}, {"group": "bygglov", "role": "granskare", "unit": "bygg"},
        {"group": "it-admin", "role": "admin"}]


@pytest.fixture
def units(engine: Engine) -> None:
    org_data.import_data(engine, {"units": [{"id": "kommun", "name": "Kommunen"},
                                       {"id": "bygg", "name": "Bygglov", "parent": "kommun"}]})


def _log(engine: Engine) -> list[dict[str, Any]]:
    return [e for e in security_log.entries(engine, identity.SYSTEM)["items"]
            if e["type"] == security_log.GROUP_ROLES_CHANGED]


def test_an_administrator_sets_and_reads_the_mapping(client: Any, people: dict[str, Person], engine: Engine,
                                                      units: None) -> None:
    put = client.put(URL, json={"mappings": [*GOOD, GOOD[0]]}, headers=people["admin"].headers)
    assert put.status_code == 200, put.get_json()
    expected = sorted(({"group": g["group"], "role": g["role"], "unit": g.get("unit")} for g in GOOD),
                      key=lambda m: (m["group"], m["role"].lower()))
    assert put.get_json()["mappings"] == expected  # the duplicate kept once
    assert client.get(URL, headers=people["admin"].headers).get_json()["mappings"] == expected
    entry = _log(engine)[0]
    assert entry["actor"] == "admin" and "socialtjanst → Handläggare" in entry["data"]["added"]
    # the same list again changes nothing and logs nothing
    client.put(URL, json={"mappings": GOOD}, headers=people["admin"].headers)
    assert len(_log(engine)) == 1


@pytest.mark.parametrize(("body", "words"), [
    ({"mappings": "socialtjanst"}, "lista"),
    ({"mappings": [["socialtjanst", "Handläggare"]]}, "Rad 1: ska vara ett objekt"),
    ({"mappings": [{"group": "a", "role": "b", "admin": True}]}, "okända fält: admin"),
    ({"mappings": [{"group": "", "role": "b"}]}, "group ska vara"),
    ({"mappings": [{"group": "a", "role": "x" * 201}]}, "role ska vara"),
    ({"mappings": [{"group": 17, "role": "b"}]}, "group ska vara"),
    ({"mappings": [{"group": "a", "role": "b", "unit": "finns-inte"}]}, "okänd enhet"),
    ({"mappings": [{"group": "a", "role": "b", "unit": ["bygg"]}]}, "okänd enhet"),
    ({"mappings": [{"group": "a", "role": "admin", "unit": "bygg"}]}, "systemrollen admin"),
    ({"mappings": [{"group": "a", "role": "b"}] * (idp.MAX_MAPPINGS + 1)}, "Högst"),
    ({"grupper": []}, "Okända fält: grupper"),
    ({}, "mappings"),
])
def test_hostile_mappings_are_refused_and_change_nothing(client: Any, people: dict[str, Person], engine: Engine,
                                                         units: None, body: dict[str, Any], words: str) -> None:
    client.put(URL, json={"mappings": GOOD}, headers=people["admin"].headers)
    answer = client.put(URL, json=body, headers=people["admin"].headers)
    assert answer.status_code in (400, 422), answer.get_json()
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert words in answer.get_json()["detail"]
    assert len(idp.group_roles(engine, identity.SYSTEM)) == len(GOOD)
    assert len(_log(engine)) == 1


def test_only_administrators_change_the_mapping(client: Any, people: dict[str, Person], engine: Engine) -> None:
    answer = client.put(URL, json={"mappings": [{"group": "alla", "role": "admin"}]}, headers=people["hanna"].headers)
    assert answer.status_code == 403 and answer.headers["Content-Type"] == "application/problem+json"
    assert "administratörer" in answer.get_json()["detail"]
    assert client.get(URL, headers=people["hanna"].headers).status_code == 403
    assert client.put(URL, json={"mappings": []}).status_code == 401
    assert idp.group_roles(engine, identity.SYSTEM) == [] and _log(engine) == []


def test_the_command_line_sets_and_lists_the_mapping(tmp_path: Path) -> None:
    env: dict[str, str | None] = {"RUTIN_DATA_DIR": str(tmp_path / "var"), "RUTIN_DATABASE_URL": None}
    mapping = tmp_path / "grupper.yaml"
    mapping.write_text("mappings:\n  - {group: socialtjanst, role: Handläggare}\n  - {group: it, role: admin}\n",
                       encoding="utf-8")
    ran = CliRunner(env=env).invoke(cli.main, ["oidc", "group-roles", "set", str(mapping)])
    assert ran.exit_code == 0, ran.output
    assert "2 grupproller" in ran.output
    listed = CliRunner(env=env).invoke(cli.main, ["oidc", "group-roles", "list"])
    assert '"group": "socialtjanst"' in listed.output and '"role": "admin"' in listed.output
    mapping.write_text("- {group: it, role: admin, unit: ingen}\n", encoding="utf-8")
    refused = CliRunner(env=env).invoke(cli.main, ["oidc", "group-roles", "set", str(mapping)])
    assert refused.exit_code == 1 and "okänd enhet" in refused.output
    listed = CliRunner(env=env).invoke(cli.main, ["oidc", "group-roles", "list"])
    assert '"group": "socialtjanst"' in listed.output


@pytest.mark.parametrize(("env", "words"), [
    ({"RUTIN_LOCAL_PASSWORDS": "0"}, "RUTIN_LOCAL_PASSWORDS=0"),
    ({"RUTIN_OIDC_ISSUER": "https://idp.example"}, "måste anges tillsammans"),
    ({"RUTIN_OIDC_ISSUER": "https://idp.example", "RUTIN_OIDC_CLIENT_ID": "rutin", "RUTIN_OIDC_SCOPES": "profile"},
     "openid"),
])
def test_settings_nobody_could_sign_in_under_are_refused_at_start(env: dict[str, str], words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        Settings.from_env(env)


def test_the_command_line_says_why_it_will_not_start(tmp_path: Path) -> None:
    env: dict[str, str | None] = {"RUTIN_DATA_DIR": str(tmp_path / "var"), "RUTIN_DATABASE_URL": None,
                                  "RUTIN_LOCAL_PASSWORDS": "0"}
    ran = CliRunner(env=env).invoke(cli.main, ["oidc", "group-roles", "list"])
    assert ran.exit_code == 1 and "RUTIN_LOCAL_PASSWORDS=0" in ran.output and "Traceback" not in ran.output
    assert not (tmp_path / "var" / "rutin.db").exists()


def test_settings_read_the_provider() -> None:
    s = Settings.from_env({"RUTIN_OIDC_ISSUER": "https://login.microsoftonline.com/t/v2.0",
                           "RUTIN_OIDC_CLIENT_ID": "abc", "RUTIN_OIDC_CLIENT_SECRET": "hemlis",
                           "RUTIN_LOCAL_PASSWORDS": "0", "RUTIN_OIDC_NAME": "Kommunens konto"})
    assert s.oidc_configured and not s.local_passwords and s.oidc_scopes == "openid profile email"
    assert s.oidc_username_claim == "preferred_username" and s.oidc_groups_claim == "groups"
    assert "hemlis" not in repr(s)
