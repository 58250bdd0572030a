"""Run eark-validator (the E-ARK Python information package validator) on packages, offline.

Run with the validator's own virtualenv: ``.venv-eark/bin/python tools/eark_validate.py PATH...``.
Prints one JSON line per package: its structure, and the errors of each step (structure, METS
schema, CSIP profile, SIP profile); exits 1 when any package has an error.

eark-validator 1.1.3 reads four CSIP vocabularies (content category, content information type,
OAIS package type, status) from earkcsip.dilcis.eu when it is imported; Rutin's machines reach no
such site. The wheel ships the same vocabularies (``eark_validator/ipxml/resources/vocabs``), so
those four addresses, and only those, are answered from the wheel's own copies. Every rule, schema
and vocabulary the validator applies is its own.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

from importlib_resources import files

VOCABULARY_SITE = "https://earkcsip.dilcis.eu/schema/"
_urlopen = urllib.request.urlopen


def _offline(url: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(url, str) and url.startswith(VOCABULARY_SITE):
        from eark_validator.ipxml.resources import vocabs

        return files(vocabs).joinpath(url.removeprefix(VOCABULARY_SITE)).open("rb")
    return _urlopen(url, *args, **kwargs)


def _status(value: Any) -> str:
    return str(getattr(value, "value", value))


def _errors(messages: list[Any]) -> list[dict[str, Any]]:
    return [m.model_dump(mode="json") for m in messages if _status(m.severity).lower() == "error"]


def check(path: Path) -> dict[str, Any]:
    """One package, step by step as eark-validator's `PackageValidator.validate` goes (structure,
    METS schema, the CSIP profile's schematron, then the SIP profile's for a SIP), each step's
    errors reported on their own; a zip is unpacked by the validator's own package handler."""
    from eark_validator import rules, structure
    from eark_validator.infopacks.package_handler import PackageHandler
    from eark_validator.mets import MetsValidator
    from eark_validator.specifications.specification import SpecificationType, SpecificationVersion

    version = SpecificationVersion.V2_1_0
    root = path.absolute() if path.is_dir() else Path(PackageHandler().prepare_package(path))
    well_formed, struct = structure.validate(root)
    out: dict[str, Any] = {"path": str(path), "structure": _status(struct.status),
                           "structure_errors": _errors(struct.messages), "schema_errors": [],
                           "csip_errors": [], "sip_errors": []}
    if well_formed:
        mets = MetsValidator(str(root))
        mets.validate_mets("METS.xml")
        out["schema_errors"] = _errors(mets.validation_errors)
        for kind, key in ((SpecificationType.CSIP, "csip_errors"), (SpecificationType.SIP, "sip_errors")):
            profile = rules.ValidationProfile(kind, version)
            profile.validate(root.joinpath("METS.xml"))
            out[key] = _errors(profile.get_all_results())
    out["valid"] = bool(well_formed) and not (out["structure_errors"] or out["schema_errors"] or out["csip_errors"]
                                              or out["sip_errors"])
    return out


def main(paths: list[str]) -> int:
    """Validate each package; 0 when all are valid."""
    urllib.request.urlopen = _offline  # type: ignore[assignment]
    worst = 0
    for path in paths:
        result = check(Path(path))
        print(json.dumps(result, ensure_ascii=False))
        worst = max(worst, 0 if result["valid"] else 1)
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
