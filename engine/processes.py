"""Process versions: deploying uploaded diagrams, approving them, reading what is deployed.

A document becomes one version per process it contains (key = process id). Re-uploading the
same bytes returns the versions that already exist. The first version of a key is published at
once; a changed document makes version n+1 a draft, used for nothing until a holder of the
process's owner role who did not upload it approves it (four eyes, ISO 9001 7.5). Approval
publishes it: new cases start on it, running cases stay on theirs. Every version records who
uploaded and approved it, when, and what changed against the version before. Nothing is stored
unless every process of the document can be deployed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from bpmn.diagnostics import DiagramRejected
from bpmn.document import read_document

from .core import Engine
from .errors import Conflict, DiagramInvalid, Forbidden, NotFound, PayloadTooLarge
from .identity import Actor
from .models import BpmnDocument, Case, ProcessVersion
from .prepared import Prepared
from .state import restore_spec, spec_json

log = logging.getLogger(__name__)


@dataclass
class Deployed:
    """One process version touched by a deployment."""

    key: str
    version: int
    name: str
    id: int
    created: bool
    diagnostics: list[dict[str, Any]]
    status: str = "published"

    def to_json(self) -> dict[str, Any]:
        """The API form."""
        return {"key": self.key, "version": self.version, "name": self.name, "id": self.id, "status": self.status,
                "created": self.created, "diagnostics": self.diagnostics}


def deploy(engine: Engine, actor: Actor, data: bytes, filename: str | None = None,
           forms: dict[str, bytes] | None = None) -> list[Deployed]:
    """Deploy a BPMN document (with any Camunda Forms it refers to); `DiagramInvalid` when it cannot run."""
    if not actor.is_designer:
        raise Forbidden("Bara processdesigners får ladda upp processer.")
    limit = engine.settings.max_upload_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"Filen är {len(data)} byte; högst {limit} byte tillåts.")
    try:
        doc = read_document(data, max_bytes=limit, forms=forms,
                            max_flow_elements=engine.settings.max_flow_elements)
    except DiagramRejected as exc:
        raise DiagramInvalid(exc.message, diagnostics=[d.to_json() for d in exc.diagnostics]) from None
    now = engine.clock.now()
    results: list[Deployed] = []
    try:
        with engine.db.write() as s:
            if s.get(BpmnDocument, doc.content_hash) is None:
                s.add(BpmnDocument(hash=doc.content_hash, xml=doc.xml, filename=filename,
                                   uploaded_by=actor.name, uploaded_at=now))
                s.flush()
            for proc in doc.processes:
                diags = [d.to_json() for d in proc.diagnostics]
                existing = s.execute(
                    sa.select(ProcessVersion).where(
                        ProcessVersion.key == proc.key, ProcessVersion.content_hash == doc.content_hash
                    )
                ).scalar_one_or_none()
                if existing is not None:
                    results.append(Deployed(existing.key, existing.version, existing.name, existing.id, False,
                                            existing.diagnostics, existing.status))
                    continue
                previous = s.execute(
                    sa.select(ProcessVersion).where(ProcessVersion.key == proc.key)
                    .order_by(ProcessVersion.version.desc()).limit(1)
                ).scalar_one_or_none()
                model = proc.model.to_json()
                first = previous is None
                version = ProcessVersion(
                    key=proc.key, version=(previous.version if previous else 0) + 1, name=proc.name,
                    content_hash=doc.content_hash, document_hash=doc.content_hash,
                    status="published" if first else "draft",
                    spec_json=spec_json(proc.spec, proc.subprocess_specs), model=model,
                    diagnostics=diags, uploaded_by=actor.name, uploaded_at=now,
                    owner_role=proc.model.properties.get("rutin:owner") or (previous.owner_role if previous else None)
                    or DEFAULT_OWNER_ROLE,
                    approved_at=now if first else None,
                    review_due_at=now + REVIEW_INTERVAL if first else None,
                    changes=change_summary(previous.model if previous else None, model),
                )
                s.add(version)
                s.flush()
                if first:
                    _schedule_starts(engine, s.connection(), version)
                    schedule_review(engine, s.connection(), version)
                results.append(Deployed(version.key, version.version, version.name, version.id, True, diags,
                                        version.status))
    except IntegrityError:
        raise Conflict("En annan uppladdning av samma process pågick samtidigt; försök igen.") from None
    return results


DEFAULT_OWNER_ROLE = "Processägare"
REVIEW_INTERVAL = timedelta(days=365)


def change_summary(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """What changed between two versions' models: elements, human steps, their roles and deadlines."""
    if before is None:
        return {"first_version": True}
    old_names, new_names = before.get("element_names", {}), after.get("element_names", {})
    old_steps = {st["element_id"]: st for st in before.get("steps", {}).values()}
    new_steps = {st["element_id"]: st for st in after.get("steps", {}).values()}
    return {
        "added": sorted(set(new_names) - set(old_names)),
        "removed": sorted(set(old_names) - set(new_names)),
        "renamed": [{"id": k, "from": old_names[k], "to": new_names[k]}
                    for k in sorted(set(old_names) & set(new_names)) if old_names[k] != new_names[k]],
        "roles_changed": [{"id": k, "from": old_steps[k].get("role"), "to": new_steps[k].get("role")}
                          for k in sorted(set(old_steps) & set(new_steps))
                          if old_steps[k].get("role") != new_steps[k].get("role")],
        "deadlines_changed": [{"id": k, "from": old_steps[k].get("due"), "to": new_steps[k].get("due")}
                              for k in sorted(set(old_steps) & set(new_steps))
                              if old_steps[k].get("due") != new_steps[k].get("due")],
    }


def approve(engine: Engine, actor: Actor, key: str, number: int) -> dict[str, Any]:
    """Approve and publish a draft version: a holder of the owner role who did not upload it."""
    from .org import tree

    now = engine.clock.now()
    with engine.db.write() as s:
        v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == number)
                      ).scalar_one_or_none()
        if v is None:
            raise NotFound(f"Processen {key!r} har ingen version {number}.")
        owner_key = tree(engine).canonical(v.owner_role or DEFAULT_OWNER_ROLE)
        holds = owner_key in actor.roles or any(r.startswith(owner_key + "@") for r in actor.roles)
        if not (holds or actor.is_admin):
            raise Forbidden(f"Bara den som har rollen {v.owner_role} för processen kan godkänna en ny version.")
        if actor.name == v.uploaded_by:
            raise Forbidden("En annan person än den som laddade upp versionen måste godkänna den (fyra ögon).")
        if v.status != "draft":
            raise Conflict(f"Version {number} är redan {'publicerad' if v.status == 'published' else v.status}.")
        v.status, v.approved_by, v.approved_at = "published", actor.name, now
        v.review_due_at = now + REVIEW_INTERVAL
        s.flush()
        _schedule_starts(engine, s.connection(), v)
        schedule_review(engine, s.connection(), v)
        return _version_json(v)


REVIEW_PROCESS = "rutin_processgranskning"
BUILTIN = Path(__file__).parent / "builtin"


def schedule_review(engine: Engine, conn: sa.Connection, version: ProcessVersion) -> None:
    """The process's next yearly review, replacing any scheduled for earlier versions."""
    from . import timers

    if version.key == REVIEW_PROCESS or version.review_due_at is None:
        return
    conn.execute(
        sa.update(timers._timers)
        .where(timers._timers.c.kind == "review", timers._timers.c.process_key == version.key,
               timers._timers.c.status == "pending")
        .values(status="cancelled", fired_at=engine.clock.now())
    )
    conn.execute(timers.INSERT, {"kind": "review", "process_key": version.key, "ref": str(version.version),
                                 "due_at": version.review_due_at, "status": "pending", "data": {}})


def ensure_builtin(engine: Engine) -> None:
    """Deploy Rutin's own processes (the yearly review) if they are not there yet."""
    from .identity import SYSTEM

    with engine.db.read() as s:
        present = s.execute(sa.select(ProcessVersion.id).where(ProcessVersion.key == REVIEW_PROCESS)).first()
    if present is None:
        deploy(engine, SYSTEM, (BUILTIN / "processgranskning.bpmn").read_bytes(), "processgranskning.bpmn")


def fire_review(engine: Engine, s: Any, row: Any, case: Any, now: Any) -> str:
    """Scheduler handler: a process's review date has passed; its owner role gets a review task."""
    from .cases import start_in
    from .identity import SYSTEM

    conn = s.connection()
    v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == row["process_key"],
                                                  ProcessVersion.status == "published")
                  .order_by(ProcessVersion.version.desc()).limit(1)).scalar_one_or_none()
    if v is None:
        return "cancelled"
    review = latest_version(conn, REVIEW_PROCESS)
    start_in(engine, s, SYSTEM, review, {"process": v.key, "process_name": v.name, "version": v.version,
                                         "agare": v.owner_role or DEFAULT_OWNER_ROLE},
             f"Granskning {v.key} {now.year}", via="review")
    v.review_due_at = row["due_at"] + REVIEW_INTERVAL
    s.flush()
    schedule_review(engine, conn, v)
    return "fired"


def _schedule_starts(engine: Engine, conn: sa.Connection, version: ProcessVersion) -> None:
    """Replace the key's scheduled starts with those of the new version's timer start events.

    A start is scheduled at the first instant of its schedule from now on, and after any start
    already made for the key: a schedule whose anchor lies in the past does not start the cases it
    "missed" before the version existed, and publishing a new version never repeats a start the
    previous one made. A start event whose timer is unchanged keeps its pending start as it is.
    """
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
        CycleTimerEventDefinition,
        DurationTimerEventDefinition,
        TimerEventDefinition,
    )
    from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent

    from bpmn import sandbox

    from . import spiff_clock, timers

    t = timers._timers
    now = engine.clock.now()
    pending = {r.ref: r for r in conn.execute(
        sa.select(t.c.id, t.c.ref, t.c.data).where(t.c.kind == "start", t.c.process_key == version.key,
                                                   t.c.status == "pending"))}
    last_fired = conn.execute(sa.select(sa.func.max(t.c.due_at)).where(
        t.c.kind == "start", t.c.process_key == version.key, t.c.status == "fired")).scalar()
    # Not through the cache: this transaction may still roll back, and SQLite reuses row ids.
    spec = restore_spec(version.spec_json)[0]
    spiff_clock._current.set(engine.clock)
    keep: set[str] = set()
    rows: list[dict[str, Any]] = []
    for task_spec in spec.task_specs.values():
        definition = getattr(task_spec, "event_definition", None)
        if not isinstance(task_spec, StartEvent) or not isinstance(definition, TimerEventDefinition):
            continue
        try:
            value = str(sandbox.evaluate(definition.expression, {}))
            existing = pending.get(task_spec.name)
            if existing is not None and (existing.data or {}).get("expression") == value:
                keep.add(task_spec.name)
                continue
            data: dict[str, Any] = {"expression": value}
            if isinstance(definition, CycleTimerEventDefinition):
                schedule = timers.parse_cycle(value, now)
                floor = max(now, last_fired) if last_fired is not None else now
                found = timers.next_occurrence(schedule, not_before=floor,
                                               strictly=last_fired is not None and last_fired >= now)
                if found is None:
                    continue
                n, first = found
                data.update(schedule, n=n)
            elif isinstance(definition, DurationTimerEventDefinition):
                first = now + TimerEventDefinition.get_timedelta_from_start(
                    TimerEventDefinition.parse_iso_duration(value))
            else:
                first = TimerEventDefinition.parse_time_or_duration(value)
                if first < now or (last_fired is not None and first <= last_fired):
                    continue  # a start date that passed before the version was published
        except Exception as exc:  # the diagram's diagnostics already flagged what cannot be parsed
            log.warning("no schedule for %s start %s: %s", version.key, task_spec.name, exc)
            continue
        rows.append({"kind": "start", "process_key": version.key, "ref": task_spec.name,
                     "due_at": first, "status": "pending", "data": data})
    gone = [r.id for ref, r in pending.items() if ref not in keep]
    if gone:
        conn.execute(sa.update(t).where(t.c.id.in_(gone)).values(status="cancelled", fired_at=now))
    if rows:
        conn.execute(timers.INSERT, rows)


def _version_json(v: ProcessVersion) -> dict[str, Any]:
    return {
        "id": v.id, "key": v.key, "version": v.version, "name": v.name, "status": v.status,
        "content_hash": v.content_hash, "uploaded_by": v.uploaded_by, "uploaded_at": v.uploaded_at.isoformat(),
        "owner_role": v.owner_role, "approved_by": v.approved_by,
        "approved_at": v.approved_at.isoformat() if v.approved_at else None,
        "review_due": v.review_due_at.isoformat() if v.review_due_at else None,
        "changes": v.changes, "diagnostics": v.diagnostics,
    }


def list_processes(engine: Engine) -> list[dict[str, Any]]:
    """Every process key with its latest published version."""
    with engine.db.read() as s:
        latest = (
            sa.select(ProcessVersion.key, sa.func.max(ProcessVersion.version).label("v"))
            .where(ProcessVersion.status == "published")
            .group_by(ProcessVersion.key)
            .subquery()
        )
        rows = s.execute(
            sa.select(ProcessVersion)
            .join(latest, sa.and_(ProcessVersion.key == latest.c.key, ProcessVersion.version == latest.c.v))
            .order_by(ProcessVersion.name)
        ).scalars().all()
        out = []
        for v in rows:
            model = v.model
            out.append({
                "key": v.key, "name": v.name, "latest_version": v.version, "version_id": v.id,
                "documentation": model.get("documentation"), "lanes": model.get("lanes", []),
                "uploaded_at": v.uploaded_at.isoformat(),
            })
        return out


def get_process(engine: Engine, key: str) -> dict[str, Any]:
    """A process key with all its versions, newest first."""
    with engine.db.read() as s:
        versions = s.execute(
            sa.select(ProcessVersion).where(ProcessVersion.key == key).order_by(ProcessVersion.version.desc())
        ).scalars().all()
        if not versions:
            raise NotFound(f"Processen {key!r} finns inte.")
        counts = dict(
            s.execute(
                sa.select(Case.process_version_id, sa.func.count())
                .where(Case.process_key == key)
                .group_by(Case.process_version_id)
            ).all()
        )
        latest = versions[0]
        published = next((v.version for v in versions if v.status == "published"), None)
        return {
            "key": key, "name": latest.name, "latest_version": latest.version, "published_version": published,
            "owner_role": latest.owner_role,
            "documentation": latest.model.get("documentation"),
            "steps": [
                {"spec_name": k, "element_id": st["element_id"], "name": st["name"], "kind": st["kind"],
                 "role": st["role"], "role_source": st["role_source"], "due": st["due"]}
                for k, st in latest.model.get("steps", {}).items()
            ],
            "versions": [{**_version_json(v), "cases": counts.get(v.id, 0)} for v in versions],
        }


def version_xml(engine: Engine, key: str, number: int) -> bytes:
    """The uploaded XML of one version, byte for byte."""
    with engine.db.read() as s:
        row = s.execute(
            sa.select(BpmnDocument.xml)
            .join(ProcessVersion, ProcessVersion.document_hash == BpmnDocument.hash)
            .where(ProcessVersion.key == key, ProcessVersion.version == number)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"Processen {key!r} har ingen version {number}.")
        return bytes(row)


_versions = cast(sa.Table, ProcessVersion.__table__)
LATEST_VERSION = (
    sa.select(_versions.c.id, _versions.c.key, _versions.c.version)
    .where(_versions.c.key == sa.bindparam("key"), _versions.c.status == "published")
    .order_by(_versions.c.version.desc())
    .limit(1)
)


_P_LATEST_VERSION = Prepared(LATEST_VERSION)


def latest_version(conn: sa.Connection, key: str) -> Any:
    """The id, key and number of the newest published version of a key; `NotFound` if none."""
    row = _P_LATEST_VERSION.one_or_none(conn, {"key": key})
    if row is None:
        raise NotFound(f"Processen {key!r} finns inte.")
    return SimpleNamespace(**row)
