"""what each stored process version declares it takes in: its start form, its start events' and
message catches' output mappings (start data and message payloads are checked against them)

Versions stored before this read their diagram again; without it their start form would be empty
and every start with data refused. A Camunda Form uploaded beside a diagram is not stored, so a
start form that lived in one stays empty (deploy the diagram with its form again).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-08
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)
_KEYS = ("start_form", "start_outputs", "message_outputs")


def _declared(xml: bytes) -> dict[str, dict[str, Any]]:
    """By process key, what the diagram declares (empty when it cannot be read again)."""
    from bpmn.diagnostics import DiagramRejected
    from bpmn.document import read_document

    try:
        doc = read_document(xml, max_bytes=len(xml) + 1, max_flow_elements=10**9)
    except (DiagramRejected, ValueError, RecursionError) as exc:
        log.warning("a stored diagram could not be read again: %s", exc)
        return {}
    return {p.key: {k: v for k, v in p.model.to_json().items() if k in _KEYS} for p in doc.processes}


def upgrade() -> None:
    conn = op.get_bind()
    versions = sa.table("process_versions", sa.column("id", sa.Integer), sa.column("key", sa.String),
                        sa.column("document_hash", sa.String), sa.column("model", sa.JSON))
    documents = sa.table("bpmn_documents", sa.column("hash", sa.String), sa.column("xml", sa.LargeBinary))
    read: dict[str, dict[str, dict[str, Any]]] = {}
    rows = conn.execute(sa.select(versions.c.id, versions.c.key, versions.c.document_hash, versions.c.model)).all()
    for version_id, key, digest, model in rows:
        if not isinstance(model, dict) or all(k in model for k in _KEYS):
            continue
        if digest not in read:
            xml = conn.execute(sa.select(documents.c.xml).where(documents.c.hash == digest)).scalar()
            read[digest] = _declared(bytes(xml)) if xml is not None else {}
        found = read[digest].get(key, {})
        updated = {**model, "start_form": found.get("start_form", []), "start_outputs": found.get("start_outputs", []),
                   "message_outputs": found.get("message_outputs", {})}
        conn.execute(sa.update(versions).where(versions.c.id == version_id).values(model=updated))


def downgrade() -> None:
    # The code before this revision rebuilds a model from exactly the keys it knows: drop the new ones.
    conn = op.get_bind()
    versions = sa.table("process_versions", sa.column("id", sa.Integer), sa.column("model", sa.JSON))
    for version_id, model in conn.execute(sa.select(versions.c.id, versions.c.model)).all():
        if isinstance(model, dict) and any(k in model for k in _KEYS):
            conn.execute(sa.update(versions).where(versions.c.id == version_id)
                         .values(model={k: v for k, v in model.items() if k not in _KEYS}))
