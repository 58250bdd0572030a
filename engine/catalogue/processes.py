"""Process versions: deploying uploaded diagrams, approving them, reading what is deployed.

A document becomes one version per process it contains (key = process id). Re-uploading the
same bytes returns the versions that already exist; the bytes of a superseded version (or of a
draft the version published since has overtaken) are a new draft, recorded as restoring it. Every
new version is a draft, used for nothing until someone other than its uploader approves it (four
eyes, ISO 9001 7.5), or rejects it with a reason. Who may is decided by the process as published,
never by the draft: a holder of the published version's owner role, or an administrator. A draft of a
process never published, or one whose diagram names another owner role (``rutin:owner`` in any dialect), only an
administrator approves: the person a rule binds does not choose who applies it. Approval
publishes it: new cases start on it, running cases stay on theirs, the owner it proposes takes
effect, and the version published before it is superseded (a key has one published version at a
time). Set-up (`rutin deploy --approve`, `rutin demo`, Rutin's own processes) may publish at
upload instead, as the system account's approval recorded as such (``approved_via="admin"``).
Every version records who uploaded, approved or rejected it, when, and what changed against the
version before; the process's own history (`process_events`, append-only and hash-chained like a
case's) says the same in order. Nothing is stored unless every process of the document can be
deployed.

A published version gets a yearly review date, kept as a ``review`` timer row; the review case it
starts when it passes is `engine.service.process_review`'s (starting a case is a layer above).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bpmn import limits, sandbox
from bpmn.diagnostics import DiagramRejected
from bpmn.document import read_document
from bpmn.starters import describe

from ..authority.identity import SYSTEM, Actor, require_writer
from ..authority.ownership import (
    DEFAULT_OWNER_ROLE,
    approval_rule,
    governing_owner,
    holds_role,
    proposed_owner,
    refresh_owner,
)
from ..base import labels
from ..base.errors import Conflict, DiagramInvalid, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from ..base.state import restore_spec, spec_json
from ..clocks import spiff_clock, timers
from ..core import Engine
from ..records import chain
from ..store.models import BpmnDocument, Case, ProcessEvent, ProcessHead, ProcessVersion
from ..store.prepared import Prepared
from .changes import change_summary
from .starting import chosen_unit_column, starters_json

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
           forms: dict[str, bytes] | None = None, *, approve_as_admin: bool | None = None,
           then: Callable[[Session, list[Deployed]], object] | None = None) -> list[Deployed]:
    """Deploy a BPMN document (with any Camunda Forms it refers to); `DiagramInvalid` when it cannot run.

    Each new version is a draft. With `approve_as_admin` (the system account at set-up only:
    `rutin deploy --approve`, `rutin demo`, the built-in processes) each is published at once
    instead, recorded as approved by the system as an administrator, and an identical upload
    publishes a draft that is not older than the published version. Unset, it is on for the
    system account and off for everyone else: a person, administrators too, never approves what
    they uploaded. `then` runs in the deployment's transaction, after it (the layers above tell
    whoever must hear of it: the notice exists exactly when the versions do).
    """
    require_writer(actor)
    if not actor.is_designer:
        raise Forbidden("Bara processdesigners får ladda upp processer.")
    if approve_as_admin is None:
        approve_as_admin = actor is SYSTEM
    if approve_as_admin and actor is not SYSTEM:
        raise Forbidden("En version godkänns av någon annan än den som laddar upp den; bara systemet publicerar "
                        "vid uppladdning (rutin deploy --approve vid driftsättning).")
    limit = engine.settings.max_upload_bytes
    if len(data) > limit:
        raise PayloadTooLarge(f"Filen är {len(data)} byte; högst {limit} byte tillåts.")
    try:
        doc = read_document(data, max_bytes=limit, forms=forms,
                            max_flow_elements=engine.settings.max_flow_elements,
                            max_multi_instance=engine.settings.max_multi_instance,
                            min_timer_cycle_s=engine.settings.min_timer_cycle_s)
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
                        ProcessVersion.key == proc.key, ProcessVersion.content_hash == doc.content_hash,
                        ProcessVersion.status.in_(("draft", "published")),
                    )
                ).scalar_one_or_none()
                if existing is not None and existing.status == "draft" and _newer_published(s, existing):
                    # A draft older than the version published since can never be approved (409):
                    # its bytes uploaded again are a new draft instead, and the stale one is retired.
                    newer = _newer_published(s, existing)
                    existing.status = "superseded"
                    s.flush()
                    record(s, existing.key, "version_superseded", actor.name, now, existing.version,
                           {"by_version": newer, "never_published": True})
                    existing = None
                if existing is not None:
                    if approve_as_admin and existing.status == "draft" and _newer_published(s, existing) is None:
                        _publish(engine, s, existing, actor, "admin", now)
                    results.append(Deployed(existing.key, existing.version, existing.name, existing.id, False,
                                            existing.diagnostics, existing.status))
                    continue
                previous = s.execute(
                    sa.select(ProcessVersion).where(ProcessVersion.key == proc.key)
                    .order_by(ProcessVersion.version.desc()).limit(1)
                ).scalar_one_or_none()
                model = proc.model.to_json()
                current = governing_owner(s, proc.key)
                version = ProcessVersion(
                    key=proc.key, version=(previous.version if previous else 0) + 1, name=proc.name,
                    content_hash=doc.content_hash, document_hash=doc.content_hash, status="draft",
                    spec_json=spec_json(proc.spec, proc.subprocess_specs), model=model,
                    diagnostics=diags, uploaded_by=actor.name, uploaded_at=now, owner_role=current,
                    proposed_owner_role=proposed_owner(engine, current, proc.model.owner),
                    changes=change_summary(previous.model if previous else None, model),
                )
                s.add(version)
                s.flush()
                record(s, version.key, "version_uploaded", actor.name, now, version.version,
                       {"filename": filename, "content_hash": doc.content_hash, "changes": version.changes})
                restored = _restored_from(s, proc.key, doc.content_hash, version.version)
                if restored is not None:
                    record(s, version.key, "version_restored", actor.name, now, version.version,
                           {"restores_version": restored})
                if approve_as_admin:
                    _publish(engine, s, version, actor, "admin", now)
                results.append(Deployed(version.key, version.version, version.name, version.id, True, diags,
                                        version.status))
            if then is not None:
                then(s, results)
    except IntegrityError:
        raise Conflict("En annan uppladdning av samma process pågick samtidigt; försök igen.") from None
    return results


REVIEW_INTERVAL = timedelta(days=365)


def _version(s: Session, key: str, number: int) -> ProcessVersion:
    v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == key, ProcessVersion.version == number)
                  ).scalar_one_or_none()
    if v is None:
        raise NotFound(f"Processen {key!r} har ingen version {number}.")
    return cast(ProcessVersion, v)


def _newer_published(s: Session, v: ProcessVersion) -> int | None:
    """The number of a published version of the key newer than `v`, if there is one."""
    return cast(int | None, s.execute(
        sa.select(ProcessVersion.version).where(ProcessVersion.key == v.key, ProcessVersion.status == "published",
                                                ProcessVersion.version > v.version)
    ).scalar())


def _restored_from(s: Session, key: str, content_hash: str, number: int) -> int | None:
    """The latest earlier version of the key with these bytes that was once published: the version a
    new draft of the same bytes restores (None when the bytes were never published)."""
    return cast(int | None, s.execute(
        sa.select(ProcessVersion.version).where(
            ProcessVersion.key == key, ProcessVersion.content_hash == content_hash,
            ProcessVersion.version < number, ProcessVersion.approved_at.is_not(None))
        .order_by(ProcessVersion.version.desc()).limit(1)
    ).scalar())


def _must_be_draft(v: ProcessVersion) -> None:
    if v.status != "draft":
        raise Conflict(f"Version {v.version} är redan {labels.status_word(v.status)}.")


def _publish(engine: Engine, s: Session, v: ProcessVersion, actor: Actor, via: str, now: Any) -> None:
    """Publish a draft: the key's published version before it is superseded, its schedules replaced."""
    refresh_owner(engine, s, v)
    previous_owner = v.owner_role
    for old in s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == v.key,
                                                         ProcessVersion.status == "published")).scalars():
        old.status = "superseded"
        record(s, v.key, "version_superseded", actor.name, now, old.version, {"by_version": v.version})
    data: dict[str, Any] = {"via": via}
    if v.proposed_owner_role is not None and previous_owner is not None:
        data["owner_role"] = {"from": previous_owner, "to": v.proposed_owner_role}
    v.owner_role = v.proposed_owner_role or v.owner_role or DEFAULT_OWNER_ROLE
    v.status, v.approved_by, v.approved_at, v.approved_via = "published", actor.name, now, via
    v.review_due_at = now + REVIEW_INTERVAL
    s.flush()
    record(s, v.key, "version_approved", actor.name, now, v.version, data)
    # The drafts still waiting are now judged against the owner this version installs.
    for draft in s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == v.key,
                                                           ProcessVersion.status == "draft")).scalars():
        refresh_owner(engine, s, draft)
    _schedule_starts(engine, s.connection(), v)
    schedule_review(engine, s.connection(), v)


def approve(engine: Engine, actor: Actor, key: str, number: int) -> dict[str, Any]:
    """Approve and publish a draft version: someone other than its uploader whom the process as
    published names (a holder of its owner role), or an administrator.

    Only an administrator approves the first version of a new process, or a version whose diagram
    names another owner role (the owner it proposes then takes effect); the version records who
    approved it and how (``approved_via``: ``owner`` or ``admin``). A draft older than the version
    published since is refused (409): publishing it would undo that version's changes.
    """
    require_writer(actor)
    now = engine.clock.now()
    try:
        with engine.db.write() as s:
            v = _version(s, key, number)
            if v.status == "draft":
                refresh_owner(engine, s, v)
                rule = approval_rule(v)
            else:  # refused below as already decided, once the actor is known to have a say
                rule = {"owner_role": governing_owner(s, key), "admin_only": False, "notice": ""}
            holds = rule["owner_role"] is not None and holds_role(engine, actor, rule["owner_role"])
            if rule["admin_only"] and not actor.is_admin:
                raise Forbidden(rule["notice"] if v.status == "draft" else
                                "Bara en administratör kan godkänna versionen.")
            if not (holds or actor.is_admin):
                raise Forbidden(f"Bara den som har rollen {rule['owner_role']} för processen kan godkänna en ny "
                                "version.")
            if actor.name == v.uploaded_by:
                raise Forbidden("En annan person än den som laddade upp versionen måste godkänna den (fyra ögon).")
            _must_be_draft(v)
            newer = _newer_published(s, v)
            if newer is not None:
                raise Conflict(f"Version {newer} publicerades efter att version {number} laddades upp; att godkänna "
                               f"version {number} skulle ta bort ändringarna i version {newer}. Ladda upp den "
                               "ändrade processen på nytt.")
            _publish(engine, s, v, actor, "owner" if holds and not rule["admin_only"] else "admin", now)
            return _version_json(v)
    except IntegrityError:
        raise Conflict("Processen ändrades samtidigt av någon annan; försök igen.") from None


MAX_REASON = 2000


def reject(engine: Engine, actor: Actor, key: str, number: int, reason: Any,
           then: Callable[[Session, dict[str, Any]], object] | None = None) -> dict[str, Any]:
    """Reject a draft with a reason: a holder of the owner role of the process as published, or an
    administrator (only an administrator for a process never published). The version stays, with
    its diagnostics, for the record; it can never be published. `then` runs in the rejection's
    transaction, after it, with the version's JSON."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("Ange varför versionen avvisas (reason).")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Motiveringen får vara högst {MAX_REASON} tecken.")

    require_writer(actor)
    now = engine.clock.now()
    try:
        with engine.db.write() as s:
            v = _version(s, key, number)
            current = governing_owner(s, key)
            if current is None and not actor.is_admin:
                raise Forbidden("Processen har ingen publicerad version ännu; bara en administratör kan avvisa den.")
            if not (actor.is_admin or (current is not None and holds_role(engine, actor, current))):
                raise Forbidden(f"Bara den som har rollen {current} för processen kan avvisa en version.")
            _must_be_draft(v)
            v.status, v.rejected_by, v.rejected_at, v.rejection_reason = "rejected", actor.name, now, reason.strip()
            s.flush()
            record(s, v.key, "version_rejected", actor.name, now, v.version, {"reason": v.rejection_reason})
            result = _version_json(v)
            if then is not None:
                then(s, result)
            return result
    except IntegrityError:
        raise Conflict("Processen ändrades samtidigt av någon annan; försök igen.") from None


def record(s: Session, key: str, type: str, actor: str, at: Any, version: int | None,
           data: dict[str, Any] | None = None) -> None:
    """Append an event to a process's history (inside the caller's transaction), moving its stored
    head on with it, so that removing the last events afterwards is seen
    (`engine.service.verification.verify_process_history`)."""
    head = s.execute(sa.select(ProcessHead).where(ProcessHead.process_key == key).with_for_update()
                     ).scalar_one_or_none()
    if head is None:
        # A history older than its stored head (none had one before migration 0022 filled them in).
        last = s.execute(sa.select(ProcessEvent.seq, ProcessEvent.hash).where(ProcessEvent.process_key == key)
                         .order_by(ProcessEvent.seq.desc()).limit(1)).first()
        head = ProcessHead(process_key=key, event_count=last[0] if last else 0,
                           last_event_hash=last[1] if last else None)
        s.add(head)
    seq, prev = head.event_count + 1, head.last_event_hash
    event = ProcessEvent(process_key=key, seq=seq, type=type, actor=actor, version=version, data=data or {},
                         at=at, prev_hash=prev)
    event.hash = chain.process_event_hash(prev, event)
    head.event_count, head.last_event_hash = seq, event.hash
    s.add(event)
    s.flush()


def history(s: Session, key: str, version: int | None = None) -> list[dict[str, Any]]:
    """A process's history in order (of one version, if given)."""
    q = sa.select(ProcessEvent).where(ProcessEvent.process_key == key)
    if version is not None:
        q = q.where(ProcessEvent.version == version)
    return [{"seq": e.seq, "type": e.type, "actor": e.actor, "version": e.version, "data": e.data,
             "at": e.at.isoformat(), "hash": e.hash}
            for e in s.execute(q.order_by(ProcessEvent.seq)).scalars()]


REVIEW_PROCESS = "rutin_processgranskning"
BUILTIN = Path(__file__).parent / "builtin"


def schedule_review(engine: Engine, conn: sa.Connection, version: ProcessVersion) -> None:
    """The process's next yearly review, replacing any scheduled for earlier versions."""
    if version.key == REVIEW_PROCESS or version.review_due_at is None:
        return
    conn.execute(
        sa.update(timers.TIMERS)
        .where(timers.TIMERS.c.kind == "review", timers.TIMERS.c.process_key == version.key,
               timers.TIMERS.c.status == "pending")
        .values(status="cancelled", fired_at=engine.clock.now())
    )
    conn.execute(timers.INSERT, {"kind": "review", "process_key": version.key, "ref": str(version.version),
                                 "due_at": version.review_due_at, "status": "pending", "data": {}})


def ensure_builtin(engine: Engine) -> None:
    """Deploy Rutin's own processes (the yearly review) if they are not there yet."""
    with engine.db.read() as s:
        present = s.execute(sa.select(ProcessVersion.id).where(ProcessVersion.key == REVIEW_PROCESS)).first()
    if present is None:
        deploy(engine, SYSTEM, (BUILTIN / "processgranskning.bpmn").read_bytes(), "processgranskning.bpmn",
               approve_as_admin=True)


def _schedule_starts(engine: Engine, conn: sa.Connection, version: ProcessVersion) -> None:
    """Replace the key's scheduled starts with those of the new version's timer start events.

    A start is scheduled at the first instant of its schedule from now on, and after any start
    already made for the key: a schedule whose anchor lies in the past does not start the cases it
    "missed" before the version existed, and publishing a new version never repeats a start the
    previous one made. A start event whose timer is unchanged keeps its pending start as it is.
    """



    t = timers.TIMERS
    now = engine.clock.now()
    pending = {r.ref: r for r in conn.execute(
        sa.select(t.c.id, t.c.ref, t.c.data).where(t.c.kind == "start", t.c.process_key == version.key,
                                                   t.c.status == "pending"))}
    last_fired = conn.execute(sa.select(sa.func.max(t.c.due_at)).where(
        t.c.kind == "start", t.c.process_key == version.key, t.c.status == "fired")).scalar()
    # Not through the cache: this transaction may still roll back, and SQLite reuses row ids.
    spec = restore_spec(version.spec_json)[0]
    spiff_clock.use(engine.clock)
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
                problem = limits.cycle_problem(value, engine.settings.min_timer_cycle_s)
                if problem is not None:  # uploaded under a lower limit than the one in force now
                    raise ValueError(problem[1])
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
    starters = v.model.get("starters")  # None: stored before Rutin read who may start
    return {
        "id": v.id, "key": v.key, "version": v.version, "name": v.name, "status": v.status,
        "content_hash": v.content_hash, "uploaded_by": v.uploaded_by, "uploaded_at": v.uploaded_at.isoformat(),
        "owner_role": v.owner_role, "proposed_owner_role": v.proposed_owner_role,
        "approval": approval_rule(v) if v.status == "draft" else None,
        "starters": {**starters, "text": describe(starters)} if starters is not None else None,
        "approved_by": v.approved_by, "approved_via": v.approved_via,
        "approved_at": v.approved_at.isoformat() if v.approved_at else None,
        "rejected_by": v.rejected_by, "rejected_at": v.rejected_at.isoformat() if v.rejected_at else None,
        "rejection_reason": v.rejection_reason,
        "review_due": v.review_due_at.isoformat() if v.review_due_at else None,
        "changes": v.changes, "diagnostics": v.diagnostics,
    }


def get_version(engine: Engine, key: str, number: int) -> dict[str, Any]:
    """One version: its metadata, diagnostics, change summary, human steps, message flows and history."""
    with engine.db.read() as s:
        v = _version(s, key, number)
        cases = s.execute(sa.select(sa.func.count()).select_from(Case)
                          .where(Case.process_version_id == v.id)).scalar_one()
        model = v.model
        return {
            **_version_json(v), "cases": cases,
            "documentation": model.get("documentation"), "lanes": model.get("lanes", []),
            "steps": _steps_json(model), "message_flows": model.get("message_flows", []),
            "start_form": model.get("start_form", []), "start_outputs": model.get("start_outputs", []),
            "history": history(s, key, number),
        }


def _steps_json(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"spec_name": k, "element_id": st["element_id"], "name": st["name"], "kind": st["kind"],
             "role": st["role"], "role_source": st["role_source"], "due": st["due"]}
            for k, st in model.get("steps", {}).items()]


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
        governing = next((v for v in versions if v.status in ("published", "superseded")), None)
        published = governing.version if governing is not None and governing.status == "published" else None
        return {
            "key": key, "name": latest.name, "latest_version": latest.version, "published_version": published,
            # The owner of the process as published: who decides about it (None until a version is published).
            "owner_role": (governing.owner_role or DEFAULT_OWNER_ROLE) if governing is not None else None,
            "starters": starters_json(engine, governing.id) if governing is not None else None,
            "documentation": latest.model.get("documentation"),
            "steps": _steps_json(latest.model),
            "versions": [{**_version_json(v), "cases": counts.get(v.id, 0)} for v in versions],
            "history": history(s, key),
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
_P_LATEST_VERSION_AND_UNIT = Prepared(LATEST_VERSION.add_columns(chosen_unit_column(_versions.c.key)))


def latest_version(conn: sa.Connection, key: str, *, with_unit: bool = False) -> Any:
    """The id, key and number of the newest published version of a key (``with_unit``: and the
    process owner's chosen unit, ``chosen_unit``, which a start needs next); `NotFound` if none."""
    row = (_P_LATEST_VERSION_AND_UNIT if with_unit else _P_LATEST_VERSION).one_or_none(conn, {"key": key})
    if row is None:
        drafts = conn.execute(sa.select(sa.func.max(_versions.c.version)).where(
            _versions.c.key == key, _versions.c.status == "draft")).scalar()
        if drafts is not None:
            raise Conflict(f"Processen {key!r} har ingen publicerad version ännu; version {drafts} väntar på att "
                           "godkännas.")
        raise NotFound(f"Processen {key!r} finns inte.")
    return SimpleNamespace(**row)
