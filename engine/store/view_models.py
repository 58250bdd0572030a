"""The list view a person last chose (search, filters, sort) on a page, kept so the page opens on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class SavedView(Base):
    """One person's remembered view of one list page (``inbox``, ``cases``): the query parameters
    as the page validated them. Keyed by the person, so one person's view never reaches another's."""

    __tablename__ = "saved_views"
    user_name: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    page: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime())
