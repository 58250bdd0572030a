"""Evidence that holds: the front door to sealing chain heads and verifying every history.

The parts live beside this module, one concept each: `engine.service.checkpoints` (the signing
key, the checkpoint log outside the database, `seal`), `engine.service.verification` (every
history against its chain, head and sealed points: `verify_all`), and
`engine.service.audit_projections` (the rows an auditor relies on against the chain). Here: who
may read or record a verification, the status an auditor sees, and the scheduled run (`run_due`,
once across workers).
"""


import logging
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa

from ..authority.identity import Actor, require_writer
from ..base.errors import Forbidden
from ..core import Engine
from ..store.job_claim import claim_round
from ..store.models import (
    AuditRun,
    AuditSchedule,
)
from .checkpoints import (
    KEY_FILE,
    LOG_FILE,
    PUBLIC_FILE,
    audit_dir,
    public_keys,
    read_log,
    rotate_key,
    seal,
)
from .verification import case_findings, last_clean_at, process_findings, verify_all, verify_process_history

# What callers reach through this module: the audit's one front door (the parts live beside it).
__all__ = ["KEY_FILE", "LOG_FILE", "PUBLIC_FILE", "audit_dir", "case_findings", "last_clean_at", "process_findings",
           "public_keys", "read_log", "require_admin", "require_reader", "rotate_key", "run_due", "seal", "status",
           "verify_all", "verify_process_history"]

log = logging.getLogger(__name__)


def require_reader(actor: Actor) -> None:
    """Verification results and the live check are for auditors and administrators."""
    if not actor.is_auditor:
        raise Forbidden("Bara revisorer och administratörer ser granskningen av historiken.")


def require_admin(actor: Actor) -> None:
    """Recording a verification, or sealing on demand, writes: administrators only (an auditor
    reads everything and changes nothing, not even a record of their own check)."""

    require_writer(actor)
    if not actor.is_admin:
        raise Forbidden("Bara en administratör kan försegla eller registrera en kontroll; en revisor kan "
                        "kontrollera utan att registrera.")


def status(engine: Engine) -> dict[str, Any]:
    """The latest verification, when one last ran clean, the latest checkpoint and the keys."""
    with engine.db.read() as s:
        run = s.execute(sa.select(AuditRun).order_by(AuditRun.id.desc()).limit(1)).scalar_one_or_none()
        due = s.execute(sa.select(AuditSchedule.next_due_at).where(AuditSchedule.id == 1)).scalar()
    checkpoints = [r for r in read_log(engine.settings) if r.get("type") == "checkpoint"]
    return {
        "latest": None if run is None else {
            "id": run.id, "clean": run.clean, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat(), "trigger": run.trigger, "actor": run.actor,
            "cases": run.cases, "processes": run.processes, "checkpoint": run.checkpoint, "findings": run.findings},
        "last_clean_at": last_clean_at(engine),
        "next_due_at": due.isoformat() if due is not None else None,
        "checkpoint": None if not checkpoints else {
            "n": checkpoints[-1]["n"], "at": checkpoints[-1]["at"], "key_id": checkpoints[-1]["key_id"]},
        "public_keys": public_keys(engine.settings),
    }


def run_due(engine: Engine, worker: str | None = None) -> dict[str, Any] | None:
    """The scheduled seal and verification, if due: claimed by moving the next due instant on in
    one conditional UPDATE, so exactly one of several polling workers runs it. A worker that dies
    after claiming leaves it to the next round (an interval later)."""
    now = engine.clock.now()
    interval = timedelta(seconds=engine.settings.audit_interval_s)
    if not claim_round(engine.db, cast(sa.Table, AuditSchedule.__table__), now, interval, worker):
        return None
    sealed = seal(engine, "scheduler")
    result = verify_all(engine, trigger="schedule", actor="scheduler")
    if not result["clean"]:
        log.error("audit verification found %s problem(s); first: %s", len(result["findings"]),
                  result["findings"][0]["message"])
    return {"seal": sealed, "verify": result}
