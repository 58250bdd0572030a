"""Configuration from ``RUTIN_*`` environment variables, read once into one settings object."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name)
    return int(value) if value not in (None, "") else default


def _float(env: dict[str, str], name: str, default: float) -> float:
    value = env.get(name)
    return float(value) if value not in (None, "") else default


class SettingsError(ValueError):
    """A configuration Rutin cannot start under (the message, in Swedish, says what to change)."""


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off", "nej")


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a Rutin process."""

    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    max_upload_bytes: int = 10 * 1024 * 1024
    max_flow_elements: int = 5_000
    max_multi_instance: int = 1_000
    min_timer_cycle_s: float = 60.0
    # Case data, as JSON: all of one case's, and one field of it (`engine.base.data_limits`).
    max_case_data_bytes: int = 1024 * 1024
    max_field_bytes: int = 64 * 1024
    lock_timeout_s: float = 5.0
    optimistic_writes: bool = True
    direct_statements: bool = True
    web_workers: int = 0
    workflows_dir: Path = Path("workflows")
    scheduler_interval_s: float = 2.0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_sender: str = "rutin@localhost"
    fixed_now: str = ""
    secret_key: str = field(default="", repr=False)
    session_hours: float = 8.0
    # Personal access tokens: the lifetime one gets unless its creator asks for less, and the
    # longest anyone may ask for (`engine.routing.accounts`).
    token_days: int = 90
    token_max_days: int = 365
    trusted_proxies: int = 0
    # The budget of one script or expression from a diagram, enforced on its evaluator process
    # (`bpmn.evaluator`): wall-clock seconds, and megabytes it may allocate.
    script_timeout_s: float = 1.0
    script_memory_mb: int = 256
    # The Ed25519 key that signs audit checkpoints, as PEM (instead of the key file in the data
    # directory), and how often the chain heads are sealed and every history verified.
    audit_signing_key: str = field(default="", repr=False)
    audit_interval_s: float = 3600.0
    # Sign-in through the municipality's OpenID Connect provider (`webapp.oidc`): off while
    # `oidc_issuer` is empty. Local passwords can be switched off only when it is on.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = field(default="", repr=False)
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"
    oidc_name: str = "kommunens inloggning"
    local_passwords: bool = True
    # Copies of each checkpoint outside the machine: e-mail addresses (comma-separated) and a
    # syslog receiver (``udp://host:port``, ``tcp://host:port`` or ``unix:/dev/log``).
    audit_mail_to: str = ""
    audit_syslog: str = ""
    # The operators' view (`/metrics`): a bearer token that opens it; without one it answers
    # loopback clients only. JSON logs when `log_format` is "json".
    metrics_token: str = field(default="", repr=False)
    log_format: str = "text"
    # How often the culling job looks for closed cases whose retention period has run out.
    culling_interval_s: float = 86400.0
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
            "max_flow_elements": _int(e, "RUTIN_MAX_FLOW_ELEMENTS", 5_000),
            "max_multi_instance": _int(e, "RUTIN_MAX_MULTI_INSTANCE", 1_000),
            "min_timer_cycle_s": _float(e, "RUTIN_MIN_TIMER_CYCLE_S", 60.0),
            "max_case_data_bytes": _int(e, "RUTIN_MAX_CASE_DATA_BYTES", 1024 * 1024),
            "max_field_bytes": _int(e, "RUTIN_MAX_FIELD_BYTES", 64 * 1024),
            "lock_timeout_s": _float(e, "RUTIN_LOCK_TIMEOUT_S", 5.0),
            "web_workers": _int(e, "RUTIN_WORKERS", 0),
            "optimistic_writes": e.get("RUTIN_OPTIMISTIC_WRITES", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            "direct_statements": e.get("RUTIN_DIRECT_STATEMENTS", "1").strip().lower()
            not in ("0", "false", "no", "off"),
            "workflows_dir": Path(e.get("RUTIN_WORKFLOWS_DIR") or "workflows"),
            "scheduler_interval_s": _float(e, "RUTIN_SCHEDULER_INTERVAL_S", 2.0),
            "smtp_host": e.get("RUTIN_SMTP_HOST", ""),
            "smtp_port": _int(e, "RUTIN_SMTP_PORT", 25),
            "smtp_user": e.get("RUTIN_SMTP_USER", ""),
            "smtp_password": e.get("RUTIN_SMTP_PASSWORD", ""),
            "smtp_sender": e.get("RUTIN_SMTP_SENDER") or "rutin@localhost",
            "fixed_now": e.get("RUTIN_FIXED_NOW", ""),
            "secret_key": e.get("RUTIN_SECRET_KEY", ""),
            "session_hours": _float(e, "RUTIN_SESSION_HOURS", 8.0),
            "token_days": _int(e, "RUTIN_TOKEN_DAYS", 90),
            "token_max_days": _int(e, "RUTIN_TOKEN_MAX_DAYS", 365),
            "trusted_proxies": _int(e, "RUTIN_TRUSTED_PROXIES", 0),
            "script_timeout_s": _float(e, "RUTIN_SCRIPT_TIMEOUT_S", 1.0),
            "script_memory_mb": _int(e, "RUTIN_SCRIPT_MEMORY_MB", 256),
            "audit_signing_key": e.get("RUTIN_AUDIT_SIGNING_KEY", ""),
            "audit_interval_s": _float(e, "RUTIN_AUDIT_INTERVAL_S", 3600.0),
            "oidc_issuer": e.get("RUTIN_OIDC_ISSUER", "").strip(),
            "oidc_client_id": e.get("RUTIN_OIDC_CLIENT_ID", "").strip(),
            "oidc_client_secret": e.get("RUTIN_OIDC_CLIENT_SECRET", ""),
            "oidc_scopes": " ".join((e.get("RUTIN_OIDC_SCOPES") or "openid profile email").split()),
            "oidc_username_claim": (e.get("RUTIN_OIDC_USERNAME_CLAIM") or "preferred_username").strip(),
            "oidc_groups_claim": (e.get("RUTIN_OIDC_GROUPS_CLAIM") or "groups").strip(),
            "oidc_name": (e.get("RUTIN_OIDC_NAME") or "kommunens inloggning").strip(),
            "local_passwords": _flag(e, "RUTIN_LOCAL_PASSWORDS", True),
            "audit_mail_to": e.get("RUTIN_AUDIT_MAIL_TO", "").strip(),
            "audit_syslog": e.get("RUTIN_AUDIT_SYSLOG", "").strip(),
            "metrics_token": e.get("RUTIN_METRICS_TOKEN", ""),
            "log_format": (e.get("RUTIN_LOG_FORMAT") or "text").strip().lower(),
            "culling_interval_s": _float(e, "RUTIN_CULLING_INTERVAL_S", 86400.0),
        }
        values.update(overrides)
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check_sign_in()
        return settings

    @property
    def oidc_configured(self) -> bool:
        """Whether sign-in through an OpenID Connect provider is set up (issuer and client id)."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    def check_sign_in(self) -> None:
        """Refuse, at start-up, a configuration nobody could sign in under: local passwords off
        without an OpenID Connect provider, or half a provider's settings."""
        if bool(self.oidc_issuer) != bool(self.oidc_client_id):
            raise SettingsError("RUTIN_OIDC_ISSUER och RUTIN_OIDC_CLIENT_ID måste anges tillsammans.")
        if self.oidc_issuer and "openid" not in self.oidc_scopes.split():
            raise SettingsError("RUTIN_OIDC_SCOPES måste innehålla openid.")
        if not self.local_passwords and not self.oidc_configured:
            raise SettingsError("RUTIN_LOCAL_PASSWORDS=0 stänger av lösenordsinloggningen, men ingen annan "
                             "inloggning är inställd: ange RUTIN_OIDC_ISSUER och RUTIN_OIDC_CLIENT_ID.")

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is SQLite (the embedded default)."""
        return self.database_url.startswith("sqlite")

    @property
    def session_lifetime(self) -> timedelta:
        """How long a page session lasts after signing in (`RUTIN_SESSION_HOURS`)."""
        return timedelta(hours=self.session_hours)

    def session_secret(self) -> str:
        """The key that signs the pages' session cookies.

        `RUTIN_SECRET_KEY` when set; otherwise a random key generated once and kept in
        ``$RUTIN_DATA_DIR/secret_key`` (readable by its owner only), so a restart keeps everyone
        signed in. Several processes starting at once agree on one key: the file appears whole,
        by a hard link that only one of them can make.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        try:
            existing = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            existing = ""
        if existing:
            return existing
        self.data_dir.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                os.link(staging, path)
        finally:
            staging.unlink(missing_ok=True)
        return path.read_text(encoding="ascii").strip()
