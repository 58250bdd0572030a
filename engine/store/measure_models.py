"""Measure targets and what follows from them: the target a process owner sets for a measure,
and the link from a follow-up case to the measure and period that was out of target."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class MeasureTarget(Base):
    """A process's target for one measure (e.g. share within the statutory deadline at least 95 %)."""

    __tablename__ = "measure_targets"
    __table_args__ = (sa.UniqueConstraint("process_key", "measure", name="uq_measure_targets_key_measure"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(sa.String(200))
    measure: Mapped[str] = mapped_column(sa.String(60))
    target: Mapped[float] = mapped_column(sa.Float)
    set_by: Mapped[str] = mapped_column(sa.String(120))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MeasureFollowUp(Base):
    """The follow-up case opened for a measure out of target in a closed period: one per process,
    measure and period (the unique key makes opening it idempotent across scheduler workers)."""

    __tablename__ = "measure_follow_ups"
    __table_args__ = (sa.UniqueConstraint("process_key", "measure", "period_from",
                                          name="uq_measure_follow_ups_period"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(sa.String(200))
    measure: Mapped[str] = mapped_column(sa.String(60))
    period_from: Mapped[datetime] = mapped_column(UTCDateTime())
    period_until: Mapped[datetime] = mapped_column(UTCDateTime())
    target: Mapped[float] = mapped_column(sa.Float)
    actual: Mapped[float] = mapped_column(sa.Float)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
