"""The case record (ärendeakt) as a self-contained bundle to keep beside the printout: a zip of
the printable page with its style inline and no scripts (it opens from disk, offline, as printed),
the record as JSON, the verification of the case's history against its chain and the signed
checkpoints as it stood when the bundle was made, and the published Ed25519 public keys, with a
text saying what each file is and how to check them. Not PDF/A: no PDF library is in the lock.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from engine.base.settings import Settings
from engine.service.checkpoints import public_keys

STYLE = Path(__file__).parent / "static" / "rutin.css"
README = """Ärendeakt {name}

arendeakt.html        Ärendeakten som den skrevs ut, med stilen inbakad (öppnas utan Rutin).
arendeakt.json        Samma uppgifter maskinläsbart, med ärendets alla händelser per steg.
verifiering.json      Kontrollen av ärendets historik när paketet gjordes: obruten kedja,
                      lagrat kedjehuvud, varje förseglad punkt i de signerade kontrollpunkterna
                      och att uppgifterna (vem som slutförde, hade och beslutade) stämmer.
publika-nycklar.json  De publika nycklar (Ed25519) som kontrollpunkterna signeras med.

Kontrollera själv: kör `rutin audit verify` på servern, eller jämför kontrollpunktsloggen
($RUTIN_DATA_DIR/audit/) med nycklarna ovan. Paketet gjordes {at} av {by}.
"""


def _standalone(page: str) -> str:
    """The page with its stylesheet inline and without scripts (nothing to fetch, nothing to run)."""
    page = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)
    style = STYLE.read_text(encoding="utf-8")
    return re.sub(r'<link rel="stylesheet"[^>]*>', lambda _m: f"<style>\n{style}\n</style>", page, count=1)


def bundle(settings: Settings, record: dict[str, Any], page: str) -> bytes:
    """The zip's bytes for `record` (a `case_record.case_record`) and its rendered page."""
    name = record["case"]["business_key"] or record["case"]["id"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("LASMIG.txt", README.format(name=name, at=record["printed_at"], by=record["printed_by"]))
        z.writestr("arendeakt.html", _standalone(page))
        z.writestr("arendeakt.json", json.dumps(record, ensure_ascii=False, indent=2))
        z.writestr("verifiering.json", json.dumps(record["verification"], ensure_ascii=False, indent=2))
        z.writestr("publika-nycklar.json", json.dumps(public_keys(settings), ensure_ascii=False, indent=2))
    return out.getvalue()
