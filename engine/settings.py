"""Configuration from ``RUTIN_*`` environment variables, read once into one settings object."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name)
    return int(value) if value not in (None, "") else default


def _float(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name)
    return float(value) if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a Rutin process."""

    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    max_upload_bytes: int = 10 * 1024 * 1024
    lock_timeout_s: float = 5.0
    workflows_dir: Path = Path("workflows")
    scheduler_interval_s: float = 2.0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "rutin@localhost"
    fixed_now: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from the environment (or the given mapping), with keyword overrides."""
        e = dict(os.environ if env is None else env)
        data_dir = Path(e.get("RUTIN_DATA_DIR") or "var")
        url = e.get("RUTIN_DATABASE_URL") or f"sqlite:///{(data_dir / 'rutin.db').resolve()}"
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": url,
            "host": e.get("RUTIN_HOST") or "127.0.0.1",
            "port": _int(e, "RUTIN_PORT", 8080),
            "max_upload_bytes": _int(e, "RUTIN_MAX_UPLOAD_BYTES", 10 * 1024 * 1024),
            "lock_timeout_s": _float(e, "RUTIN_LOCK_TIMEOUT_S", 5.0),
            "workflows_dir": Path(e.get("RUTIN_WORKFLOWS_DIR") or "workflows"),
            "scheduler_interval_s": _float(e, "RUTIN_SCHEDULER_INTERVAL_S", 2.0),
            "smtp_host": e.get("RUTIN_SMTP_HOST", ""),
            "smtp_port": _int(e, "RUTIN_SMTP_PORT", 25),
            "smtp_user": e.get("RUTIN_SMTP_USER", ""),
            "smtp_password": e.get("RUTIN_SMTP_PASSWORD", ""),
            "smtp_sender": e.get("RUTIN_SMTP_SENDER") or "rutin@localhost",
            "fixed_now": e.get("RUTIN_FIXED_NOW", ""),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite (the embedded default)."""
        return self.database_url.startswith("sqlite")
