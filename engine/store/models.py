"""The database tables (SQLAlchemy 2). The serialized workflow is the source of truth; the rest
are projections queries read (tasks, candidates, case summary) and the append-only history.

Schema changes go through Alembic migrations in ``engine/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.instrumentation import manager_of_class


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations get stable constraint names."""

    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


_M = TypeVar("_M", bound=Base)


def from_row(cls: type[_M], row: Any) -> _M:
    """A model object holding a row's values, built the way the ORM's own loader builds them.

    The hot path reads rows with Core statements; constructing ``cls(**row)`` would fire the
    ORM's attribute events for every column (a fifth of a task completion's time, measured),
    while writing the values into the instance's dict costs nothing. The object is transient:
    no session tracks it, and the caller writes it back explicitly.
    """
    obj: _M = manager_of_class(cls).new_instance()
    obj.__dict__.update(row)
    return obj


def transient(cls: type[_M], **values: Any) -> _M:
    """A new model object with these values, built as `from_row` builds one (``cls(**values)``
    would fire an attribute event per value); the caller inserts it explicitly."""
    return from_row(cls, values)


class User(Base):
    """A person (or integration) who signs in to Rutin."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    # Bumped when the person signs out: page sessions signed in under an earlier value are ended.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # When an administrator ended the account (`active` false): its sessions and tokens stopped then.
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UserRole(Base):
    """A role a user holds, in an org unit or (without one) across the whole group, for a period.

    Business roles are named as diagrams name them; ``admin``, ``designer`` and ``auditor`` are the
    system's own.
    """

    __tablename__ = "user_roles"
    __table_args__ = (sa.Index("ix_user_roles_key_unit", "role_key", "org_unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(200))
    role_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    org_unit_id: Mapped[str | None] = mapped_column(sa.ForeignKey("org_units.id"))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The identity provider's group whose mapping gave this role (`engine.authority.idp`): such a
    # role goes when the group does. NULL: given by hand or by the organisation import.
    from_group: Mapped[str | None] = mapped_column(sa.String(255))


class UserSubject(Base):
    """Who a user is at an OpenID Connect provider: its issuer and the stable subject (`sub`) it
    gives the person, by which a later sign-in finds the same user whatever their name there."""

    __tablename__ = "user_subjects"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(sa.String(500))
    subject: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class GroupRole(Base):
    """A role the members of an identity provider's group hold: group-wide (no unit) or in one
    unit. Administrators keep the list (`PUT /api/oidc/group-roles`, `rutin oidc group-roles`)."""

    __tablename__ = "oidc_group_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    idp_group: Mapped[str] = mapped_column(sa.String(255), index=True)
    role: Mapped[str] = mapped_column(sa.String(200))
    role_key: Mapped[str] = mapped_column(sa.String(200))
    # No foreign key: a unit the organisation import removes leaves the mapping, which then gives nothing.
    org_unit_id: Mapped[str | None] = mapped_column(sa.String(60))


class OrgUnit(Base):
    """One unit of the group's single tree: the municipality, its administrations, companies, units."""

    __tablename__ = "org_units"
    id: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(30), default="enhet")
    parent_id: Mapped[str | None] = mapped_column(sa.ForeignKey("org_units.id"), index=True)
    manager_role: Mapped[str | None] = mapped_column(sa.String(200))
    committee: Mapped[str | None] = mapped_column(sa.String(200))


class Absence(Base):
    """A person away (out of office) from one instant to another; they get no new tasks meanwhile."""

    __tablename__ = "absences"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(sa.String(200))


class RoleAlias(Base):
    """A role name as a diagram writes it (a lane, say) that means another role."""

    __tablename__ = "role_aliases"
    alias_key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    alias: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(200))


class ApiToken(Base):
    """A bearer token; only its sha256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    name: Mapped[str] = mapped_column(sa.String(120), server_default="token")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Updated at most once a minute (`identity.LAST_USE_EVERY`), so reading does not write each time.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # An integration's token: the process keys it may start cases of, and nothing else; None: the
    # holder's full standing.
    start_only: Mapped[list[str] | None] = mapped_column(sa.JSON)
    created_by: Mapped[str | None] = mapped_column(sa.String(120))
    revoked_by: Mapped[str | None] = mapped_column(sa.String(120))


class BpmnDocument(Base):
    """An uploaded BPMN file, stored once by content hash."""

    __tablename__ = "bpmn_documents"
    hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    xml: Mapped[bytes] = mapped_column(sa.LargeBinary)
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    uploaded_by: Mapped[str] = mapped_column(sa.String(120))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessVersion(Base):
    """One version of one process: its spec (stored once here, never inside cases) and model."""

    __tablename__ = "process_versions"
    __table_args__ = (
        sa.UniqueConstraint("key", "version"),
        # Identical bytes are one live version (a draft or the published one); a superseded or
        # rejected version's bytes uploaded again are a new draft: how a designer goes back.
        sa.Index("uq_process_versions_live_content", "key", "content_hash", unique=True,
                 sqlite_where=sa.text("status IN ('draft', 'published')"),
                 postgresql_where=sa.text("status IN ('draft', 'published')")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(300))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    document_hash: Mapped[str] = mapped_column(sa.ForeignKey("bpmn_documents.hash"))
    status: Mapped[str] = mapped_column(sa.String(20), default="published")
    spec_json: Mapped[str] = mapped_column(sa.Text)
    model: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    diagnostics: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    uploaded_by: Mapped[str] = mapped_column(sa.String(120))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The process owner role in force for the version: of a draft, the owner of the process as
    # published (None for a process never published), who decides about it; once published, its own.
    owner_role: Mapped[str | None] = mapped_column(sa.String(200))
    # The owner role a draft would install where it differs from `owner_role` (a new process's
    # first owner, or a change of owner): only an administrator approves such a draft.
    proposed_owner_role: Mapped[str | None] = mapped_column(sa.String(200))
    approved_by: Mapped[str | None] = mapped_column(sa.String(120))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    changes: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    # "owner" (a holder of the owner role who did not upload it) or "admin" (an administrator,
    # or set-up code deploying with the approve flag, instead of a second person).
    approved_via: Mapped[str | None] = mapped_column(sa.String(20))
    rejected_by: Mapped[str | None] = mapped_column(sa.String(120))
    rejected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rejection_reason: Mapped[str | None] = mapped_column(sa.Text)


class Case(Base):
    """A running (or finished) instance of a process version."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_status_key", "status", "process_key"),
        # The measures: a process's cases started in a period.
        sa.Index("ix_cases_key_created", "process_key", "created_at"),
    )
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    process_version_id: Mapped[int] = mapped_column(sa.ForeignKey("process_versions.id"), index=True)
    process_key: Mapped[str] = mapped_column(sa.String(200))
    business_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    revision: Mapped[int] = mapped_column(default=0)
    state_json: Mapped[str] = mapped_column(sa.Text)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    started_by: Mapped[str] = mapped_column(sa.String(120), index=True)
    org_unit_id: Mapped[str | None] = mapped_column(sa.String(60), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    incident_element: Mapped[str | None] = mapped_column(sa.String(200))
    incident_message: Mapped[str | None] = mapped_column(sa.Text)
    last_event_hash: Mapped[str | None] = mapped_column(sa.String(64))
    event_count: Mapped[int] = mapped_column(default=0)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where the statutory period itself runs out, before Lag (1930:173) moves a deadline off a
    # non-working day: pauses and the extension count from here, not from the moved day.
    deadline_period_end_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The instant the period counts from (receipt, or the day a deficiency was remedied), and the
    # case variable's value that gave it (a receipt date entered in a task after the start).
    deadline_from_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline_from_value: Mapped[str | None] = mapped_column(sa.String(40))
    # Why the clock stands still: "pause" (it runs on by the days it stood) or "restart" (the whole
    # period begins again when the step closes).
    deadline_pause_kind: Mapped[str | None] = mapped_column(sa.String(10))
    deadline_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline_extended: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The casefolded business key and data values the lists' search reads (engine.base.search_text),
    # written with the case (CaseWork.write).
    search_text: Mapped[str | None] = mapped_column(sa.Text)


class HumanTask(Base):
    """Projection: one row per human task, open or finished. Lists read only this."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        sa.Index("ix_human_tasks_status_assignee", "status", "assignee"),
        sa.Index("ix_human_tasks_status_created", "status", "created_at", "id"),
        sa.Index("ix_human_tasks_status_due", "status", "due_at"),
        # Managers' lists: the open tasks of the units they manage.
        sa.Index("ix_human_tasks_status_unit", "status", "org_unit_id"),
        # The measures: a process's steps finished in a period.
        sa.Index("ix_human_tasks_key_status_completed", "process_key", "status", "completed_at"),
    )
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(sa.String(200))
    process_version_id: Mapped[int] = mapped_column(sa.ForeignKey("process_versions.id"))
    business_key: Mapped[str | None] = mapped_column(sa.String(200))
    spec_name: Mapped[str] = mapped_column(sa.String(200))
    element_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(300))
    kind: Mapped[str] = mapped_column(sa.String(20))
    role: Mapped[str | None] = mapped_column(sa.String(200))
    org_unit_id: Mapped[str | None] = mapped_column(sa.String(60))
    assignee: Mapped[str | None] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(20))
    priority: Mapped[int] = mapped_column(default=50)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The step's own due date (the diagram's, the owner's policy, a person's change), before a
    # step that must be done within the case deadline is capped at it (`due_at` is in force).
    own_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(sa.String(120))
    completed_role: Mapped[str | None] = mapped_column(sa.String(200))
    candidates: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    result: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class TaskCandidate(Base):
    """Projection: who may take an open task (a role key or a user name). Deleted when it closes."""

    __tablename__ = "task_candidates"
    __table_args__ = (
        sa.Index("ix_task_candidates_lookup", "kind", "key", "task_id"),
        sa.Index("ix_task_candidates_inbox", "kind", "key", "created_at", "task_id"),
    )
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("human_tasks.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    # The task's creation instant (it never changes), so an inbox page is read from this index alone.
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseEvent(Base):
    """Append-only, hash-chained history of a case: who did what, under which role, when."""

    __tablename__ = "case_events"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "seq"),
        # The measures' escalations in a period, and the audit's events of one type.
        sa.Index("ix_case_events_type_at", "type", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[str | None] = mapped_column(sa.String(200))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    element_id: Mapped[str | None] = mapped_column(sa.String(200))
    process_version_id: Mapped[int]
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    # When culling removed the event's data (its hash kept; `engine.records.redaction`).
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Timer(Base):
    """Time as data: anything due at an instant (BPMN timers, scheduled starts, escalation steps).

    The scheduler claims due rows with an indexed query (never by loading cases) and fires each
    in the same locked transaction as any other change to its case, marking it fired there.
    """

    __tablename__ = "timers"
    __table_args__ = (
        sa.Index("ix_timers_status_due", "status", "due_at"),
        sa.Index("ix_timers_case_status", "case_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    case_id: Mapped[str | None] = mapped_column(sa.String(36))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    process_key: Mapped[str | None] = mapped_column(sa.String(200))
    ref: Mapped[str | None] = mapped_column(sa.String(200))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(sa.String(10), default="pending")
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fired_by: Mapped[str | None] = mapped_column(sa.String(120))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    # Firings whose handler failed (each rolled back and retried later), and the last failure.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(sa.String(500))


class DelegationItem(Base):
    """One row of the delegation ordinance (delegationsordning): who may decide what, and how it is
    reported. Items are versioned by number; a new or changed item is a draft until a second
    administrator approves it."""

    __tablename__ = "delegation_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(40), index=True)
    version: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(sa.String(400))
    process_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    element_id: Mapped[str | None] = mapped_column(sa.String(200))
    legal_basis: Mapped[str | None] = mapped_column(sa.String(200))
    delegate_role: Mapped[str] = mapped_column(sa.String(200))
    substitute_role: Mapped[str | None] = mapped_column(sa.String(200))
    superior_may_decide: Mapped[bool] = mapped_column(default=False)
    limit_expr: Mapped[str | None] = mapped_column(sa.String(400))
    reporting: Mapped[str] = mapped_column(sa.String(20), default="anmals")
    committee: Mapped[str | None] = mapped_column(sa.String(200))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    adopted_ref: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    created_by: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(sa.String(120))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How it was approved when not by a second person's review (loaded at set-up by the system).
    approval_note: Mapped[str | None] = mapped_column(sa.String(400))


class DelegatedDecision(Base):
    """A decision taken under delegation, for the report to the committee (anmälan av delegationsbeslut)."""

    __tablename__ = "delegated_decisions"
    __table_args__ = (sa.Index("ix_delegated_decisions_committee_at", "committee", "decided_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("delegation_items.id"))
    item_number: Mapped[str] = mapped_column(sa.String(40))
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    task_id: Mapped[str] = mapped_column(sa.String(36))
    process_key: Mapped[str] = mapped_column(sa.String(200))
    business_key: Mapped[str | None] = mapped_column(sa.String(200))
    task_name: Mapped[str] = mapped_column(sa.String(300))
    decided_by: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[str] = mapped_column(sa.String(200))
    grounds: Mapped[str] = mapped_column(sa.String(20))
    committee: Mapped[str | None] = mapped_column(sa.String(200))
    reporting: Mapped[str] = mapped_column(sa.String(20))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class Notification(Base):
    """A message to a person: shown in their in-app list, and e-mailed through the outbox.

    Written in the same transaction as the event it reports; e-mail is delivered after commit,
    claimed before sending so that no message goes out twice.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_recipient_created", "recipient", "created_at"),
        sa.Index("ix_notifications_email_due", "email_status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    recipient: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    case_id: Mapped[str | None] = mapped_column(sa.String(36))
    task_id: Mapped[str | None] = mapped_column(sa.String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email: Mapped[str | None] = mapped_column(sa.String(254))
    email_status: Mapped[str] = mapped_column(sa.String(12), default="none")
    email_attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(sa.String(500))


class DeadlinePolicy(Base):
    """A process owner's deadline for one step of a process, used where the diagram sets none."""

    __tablename__ = "deadline_policies"
    process_key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    element_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    due: Mapped[str | None] = mapped_column(sa.String(40))
    follow_up: Mapped[str | None] = mapped_column(sa.String(40))
    escalation: Mapped[str | None] = mapped_column(sa.String(400))
    updated_by: Mapped[str] = mapped_column(sa.String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessUnit(Base):
    """The org unit a process belongs to: new cases of it belong there unless started in another.

    Set by the process owner; where it is not set, the diagram's ``rutin:unit`` property applies.
    """

    __tablename__ = "process_units"
    process_key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    org_unit_id: Mapped[str] = mapped_column(sa.ForeignKey("org_units.id"))
    updated_by: Mapped[str] = mapped_column(sa.String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ProcessEvent(Base):
    """Append-only, hash-chained history of a process: versions uploaded, approved, rejected,
    superseded (ISO 9001 7.5: who released which version of the documented process, and when)."""

    __tablename__ = "process_events"
    __table_args__ = (sa.UniqueConstraint("process_key", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    process_key: Mapped[str] = mapped_column(sa.String(200), index=True)
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(120))
    version: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class SignInThrottle(Base):
    """Failed sign-ins counted per key: a user name, a client address or a browser the name has
    signed in from before (``engine/service/signin.py`` says how they lock and unlock)."""

    __tablename__ = "sign_in_throttle"
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lockouts: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ProcessHead(Base):
    """The chain head of a process history (as `Case.last_event_hash` is a case's): without it the
    last events of a process history could be removed and the shorter chain would still verify."""

    __tablename__ = "process_heads"
    process_key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    event_count: Mapped[int]
    last_event_hash: Mapped[str | None] = mapped_column(sa.String(64))


class AuditRun(Base):
    """One audit verification of every history (`engine.service.audit.verify_all`) and what it found."""

    __tablename__ = "audit_runs"
    __table_args__ = (sa.Index("ix_audit_runs_clean_finished", "clean", "finished_at"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(sa.String(20))
    actor: Mapped[str] = mapped_column(sa.String(120))
    clean: Mapped[bool]
    cases: Mapped[int]
    processes: Mapped[int]
    checkpoint: Mapped[int | None]
    findings: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)


class AuditSchedule(Base):
    """When the scheduled seal and verification is next due (one row; `engine.service.audit.run_due`)."""

    __tablename__ = "audit_schedule"
    id: Mapped[int] = mapped_column(primary_key=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))
class SecurityEvent(Base):
    """The append-only security log: sign-ins and failed ones, tokens created and revoked, accounts
    deactivated and reactivated, roles changed (a trigger refuses UPDATE and DELETE). `actor` is
    who did it (for a failed sign-in: the name as typed), `subject` whom it concerns."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    type: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(200))
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    address: Mapped[str | None] = mapped_column(sa.String(100))
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
