"""The auditor's walkthrough (docs/auditor-walkthrough.md), followed as the demo's auditor (revisor)
through the app's own pages and links: each of the four ISO 9001 traces on one page, answering 200
with the facts the walkthrough names, and the chain checked against the signed checkpoints."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from typing import Any

import sqlalchemy as sa
from auditor_trail import WORKFLOWS, build
from conftest import PASSWORD, sign_in

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.service import demo, demo_cases
from engine.store.models import ProcessVersion


def _get(client: Any, url: str, *facts: str) -> str:
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    page = html.unescape(answer.get_data(as_text=True))
    missing = [f for f in facts if f not in page]
    assert not missing, (url, missing)
    return page


def _link(page: str, text: str) -> str:
    """The href of the link whose text begins with `text` (the auditor clicks it)."""
    found = re.search(r'<a href="([^"]+)"[^>]*>\s*' + re.escape(text), page)
    assert found, f"no link {text!r}"
    return html.unescape(found.group(1))


def test_the_auditor_walks_the_four_traces_page_by_page(client: Any, engine: Engine, clock: ManualClock) -> None:
    ids = build(engine, clock)
    identity.set_password(engine, "revisor", PASSWORD)
    sign_in(client, "revisor")

    # 1. A case end to end: the ärendeakt (who, under which role, on time or not, chain verified)
    case = _get(client, f"/cases/{ids['late_case']}", "ANS 2026-2", "Ärendeakt (utskrift för granskning)")
    record = _get(client, _link(case, "Ärendeakt"), "Ärendeakt: ANS 2026-2", "Historiken stämmer",
                  "signerade kontrollpunkter", "Registrera ansökan", "Besluta", "Hanna Sjö", "Handläggare",
                  "Försenat", "Avvikelser rapporterade")
    # 2. The version it ran on: who uploaded and approved it, how, its changes, the chain checked
    _get(client, _link(record, "matt, version 1"), "Uppladdad", "Godkänd", "av en administratör",
         "Ändringar mot ingen tidigare version", "Versionens historik", "Version godkänd och publicerad",
         "Processens historik är obruten", "signerad kontrollpunkt", "Godkännandet stämmer med historiken")

    # 3. A nonconformity to its corrective action and effectiveness check: the deviation's ärendeakt
    deviation = _get(client, _link(record, "Avvikelse i ANS 2026-2"), "Avvikelsen gäller", "ANS 2026-2",
                     "Rapportera avvikelse", "Orsaksanalys", "Grundorsak: Mallen för beslut saknade tidsfristen",
                     "Fastställ åtgärdsplan", "Åtgärdsplan: Tidsfristen läggs in i mallen",
                     "Genomför åtgärder", "Verifiera effektivitet", "Var åtgärderna effektiva?", "Beslut: Ja",
                     "Avsluta och arkivera", "Historiken stämmer", "Kristina Strand", "Petra Öst")
    assert "Avslutat" in deviation and ids["nonconformity"] in deviation

    # 4. A measure and its follow-up: Mätetal (target against actual) to the deviation it opened
    since, until = ids["period"]
    measures = _get(client, f"/matetal?process=matt&fran={since}&till={until}", "Andel klara inom tidsfristen",
                    "Mål minst 95 %", "Utanför målet", "Avvikelse: Andel klara inom tidsfristen, 2026-03-01 – 2026-03-31")
    opened = _get(client, _link(measures, "Avvikelse: Andel klara inom tidsfristen"), "Gäller mätetal")
    measure_record = _get(client, _link(opened, "Ärendeakt"), "Avvikelsen gäller", "mätetal",
                          "matt, 2026-03-01 – 2026-03-31: mål 95 %, utfall 50 %",
                          "låg utanför målet under 2026-03-01 – 2026-03-31", "Rapportera avvikelse", "Petra Öst",
                          "Orsaksanalys", "Fastställ åtgärdsplan", "Verifiera effektivitet", "Beslut: Ja",
                          "Historiken stämmer")
    assert ids["measure_deviation"] in measure_record

    # The record to keep: a bundle of the printable page (style inline, no scripts), the JSON, the
    # verification and the public keys (not PDF/A)
    bundle = client.get(_link(measure_record, "Ladda ner som paket"))
    assert bundle.status_code == 200 and bundle.content_type == "application/zip"
    assert "attachment" in bundle.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(bundle.get_data())) as z:
        assert set(z.namelist()) == {"LASMIG.txt", "arendeakt.html", "arendeakt.json", "verifiering.json",
                                     "publika-nycklar.json"}
        page = z.read("arendeakt.html").decode()
        assert "<style>" in page and "@media print" in page and "<script" not in page and "Verifiera effektivitet" in page
        assert json.loads(z.read("verifiering.json"))["clean"] is True
        assert json.loads(z.read("arendeakt.json"))["case"]["id"] == ids["measure_deviation"]
        assert json.loads(z.read("publika-nycklar.json"))[0]["public_key"]

    # The chain: the checkpoints page, and a live check of every history (nothing recorded)
    _get(client, "/granskning", "Senaste kontrollpunkt: nummer", "Publik nyckel (Ed25519)")
    _get(client, "/granskning?kontrollera=1", "inga avvikelser")


def test_the_demo_answers_the_case_and_the_nonconformity_traces_as_it_is(client: Any, engine: Engine) -> None:
    """`make run`'s demo as loaded (`rutin demo`): BN 2026-021 and AVV 2026-001, found by search."""
    demo.load(engine, WORKFLOWS)
    demo_cases.seed(engine, WORKFLOWS)
    identity.set_password(engine, "revisor", PASSWORD)
    sign_in(client, "revisor")
    for key, facts in (("BN 2026-021", ("Beslut om lov", "Bygglovshandläggare", "I tid")),
                       ("AVV 2026-001", ("Orsaksanalys", "Fastställ åtgärdsplan", "Verifiera effektivitet",
                                         "Var åtgärderna effektiva?", "Beslut: Ja", "Avsluta och arkivera"))):
        found = _get(client, f"/cases?q={key}", key)
        case = _get(client, _link(found, key), key, "Ärendeakt (utskrift för granskning)")
        record = _get(client, _link(case, "Ärendeakt"), f"Ärendeakt: {key}", "Historiken stämmer", "Avslutat",
                      *facts)
        _get(client, _link(record, re.search(r">(\w+, version \d+)</a>", record).group(1)), "Godkänd",
             "Versionens historik", "Processens historik är obruten")


def test_the_version_page_names_an_approval_rewritten_beside_its_event(client: Any, engine: Engine) -> None:
    demo.load(engine, WORKFLOWS)
    identity.set_password(engine, "revisor", PASSWORD)
    sign_in(client, "revisor")
    _get(client, "/processes/bygglov/versions/1", "Godkännandet stämmer med historiken")
    with engine.db.write() as s:  # someone with write access to the database names another approver
        s.execute(sa.update(ProcessVersion).where(ProcessVersion.key == "bygglov").values(approved_by="mallory"))
    page = _get(client, "/processes/bygglov/versions/1", "Verifieringen hittade avvikelser",
                "version 1 godkändes av system (admin) enligt historiken, men versionen anger mallory (admin)")
    assert "Godkännandet stämmer med historiken" not in page
