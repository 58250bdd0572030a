"""Alembic migrations of Rutin's schema."""
