"""Where a deviation was reported from: the link from a deviation case to the case (and step)
it concerns, so that each page shows the other."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class DeviationLink(Base):
    """A deviation case (`case_id`) reported from case `source_case_id`, at step `source_task_id`."""

    __tablename__ = "deviation_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), unique=True)
    source_case_id: Mapped[str] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    source_task_id: Mapped[str | None] = mapped_column(sa.String(36))
    source_step: Mapped[str | None] = mapped_column(sa.String(300))
    reported_by: Mapped[str] = mapped_column(sa.String(120))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
