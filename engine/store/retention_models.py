"""The tables of records management: retention rules (resting on culling decisions), holds
that keep a case from culling, the culling record each culled case leaves, and when the culling
job is next due. Kept beside `models` (imported by the package, so one metadata holds every table)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class RetentionRule(Base):
    """One version of a retention rule: for a process (and optionally one outcome of it) whether
    its cases are kept (``bevaras``) or culled (``gallras``) a period after they close, with the
    culling decision (gallringsbeslut) it rests on. A draft until a second person approves it;
    an approved version replaces the one before it for the same process and outcome."""

    __tablename__ = "retention_rules"
    __table_args__ = (sa.Index("ix_retention_rules_scope", "process_key", "outcome_field", "outcome_value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(sa.String(200))
    # The rule applies to cases whose data has this value in this field (both None: every case).
    outcome_field: Mapped[str | None] = mapped_column(sa.String(200))
    outcome_value: Mapped[str | None] = mapped_column(sa.String(200))
    version: Mapped[int]
    action: Mapped[str] = mapped_column(sa.String(10))
    # For ``gallras``: months after the case closed (years are twelve months each).
    period_months: Mapped[int | None]
    decision_ref: Mapped[str] = mapped_column(sa.String(200))
    decision_body: Mapped[str] = mapped_column(sa.String(200))
    decision_date: Mapped[str] = mapped_column(sa.String(10))
    note: Mapped[str | None] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(20))
    proposed_by: Mapped[str] = mapped_column(sa.String(120))
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(sa.String(120))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RetentionHold(Base):
    """A case held from culling (an appeal, a request for the record), and its release."""

    __tablename__ = "retention_holds"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    reason: Mapped[str] = mapped_column(sa.String(1000))
    held_by: Mapped[str] = mapped_column(sa.String(120))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(sa.String(120))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    release_reason: Mapped[str | None] = mapped_column(sa.String(1000))


class CullingRecord(Base):
    """What remains of a culled case: what kind of case it was, when it was opened and closed,
    under which rule and decision it was culled, and when. One per case: a case is culled once."""

    __tablename__ = "culling_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    process_key: Mapped[str] = mapped_column(sa.String(200))
    process_name: Mapped[str] = mapped_column(sa.String(300))
    process_version: Mapped[int]
    business_key: Mapped[str | None] = mapped_column(sa.String(200))
    org_unit_id: Mapped[str | None] = mapped_column(sa.String(60))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("retention_rules.id"))
    rule_version: Mapped[int]
    decision_ref: Mapped[str] = mapped_column(sa.String(200))
    decision_body: Mapped[str] = mapped_column(sa.String(200))
    decision_date: Mapped[str] = mapped_column(sa.String(10))
    culled_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    culled_by: Mapped[str] = mapped_column(sa.String(120))
    events_redacted: Mapped[int]
    checkpoint: Mapped[int | None]


class RetentionSchedule(Base):
    """When the culling job is next due (one row): claimed by one conditional UPDATE, so it runs
    once however many workers poll."""

    __tablename__ = "retention_schedule"
    id: Mapped[int] = mapped_column(primary_key=True)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(sa.String(200))


class ArchiveDelivery(Base):
    """A case exported to the e-archive as an E-ARK package, and the archive's receipt of it.
    Once received, a case whose rule says ``bevaras`` may be culled from Rutin (it lives on in
    the e-archive)."""

    __tablename__ = "archive_deliveries"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    package_id: Mapped[str] = mapped_column(sa.String(100))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    exported_by: Mapped[str] = mapped_column(sa.String(120))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_by: Mapped[str | None] = mapped_column(sa.String(120))
    receipt_ref: Mapped[str | None] = mapped_column(sa.String(200))
