"""Configuration: `BATON_*` environment variables (or a ``.env`` file).

Every default is embedded and needs nothing installed or running.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton.errors import ConfigError


def _default_timezone() -> str:
    tz = os.environ.get("TZ", "")
    return tz if tz and "/" in tz else "UTC"


class RateLimitSetting(BaseModel):
    """One integration's quota in ``BATON_RATE_LIMITS`` (see `baton.safety.rate_limit`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int | None = Field(default=None, ge=1)
    """Calls admitted per moving window of `window_s` seconds (unset: no quota)."""
    window_s: float = Field(default=1.0, gt=0)
    """Length of the moving window in seconds."""
    concurrent: int | None = Field(default=None, ge=1)
    """Calls in flight at once in this process (unset: no cap)."""
    max_wait_s: float = Field(default=30.0, ge=0)
    """Longest a call waits in the queue before failing as rate limited."""


AlertRule = Literal["long_running", "success_rate", "error_rate", "memory", "rate_limit"]
"""The alert rules (see `baton.observability.alerts`)."""


class Settings(BaseSettings):
    """Everything baton can be configured with."""

    model_config = SettingsConfigDict(env_prefix="BATON_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("baton")))
    """Where the database and plugins live (``BATON_DATA_DIR``)."""
    database_url: str | None = None
    """SQLAlchemy URL; default SQLite at ``<data_dir>/baton.db`` (``BATON_DATABASE_URL``)."""
    database_busy_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    """SQLite: seconds to wait for another program's lock (``BATON_DATABASE_BUSY_TIMEOUT_S``)."""
    event_retention_days: float | None = Field(default=None, ge=0)
    """Event logs of executions finished longer ago are folded into snapshots by
    ``baton db compact`` (``BATON_EVENT_RETENTION_DAYS``; unset keeps every log)."""
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    """The least severe log records the aggregator keeps (``BATON_LOG_LEVEL``)."""
    log_retention_days: float | None = Field(default=30.0, gt=0)
    """Log records older than this are purged (``BATON_LOG_RETENTION_DAYS``; unset keeps
    them all)."""
    log_queue_size: int = Field(default=10_000, ge=100)
    """Log records waiting to be written at most; more are dropped and counted
    (``BATON_LOG_QUEUE_SIZE``)."""
    workspace: Path = Field(default_factory=Path.cwd)
    """Folder the file-touching agents are confined to (``BATON_WORKSPACE``)."""
    plugins_dir: Path | None = None
    """Folder of agent files to load; default ``<data_dir>/agents`` (``BATON_PLUGINS_DIR``)."""
    timezone: str = Field(default_factory=_default_timezone)
    """IANA zone for dates in requests (``BATON_TIMEZONE``)."""
    max_concurrency: int = Field(default=32, ge=1, le=10_000)
    """Steps running at once per execution (``BATON_MAX_CONCURRENCY``)."""
    executor: Literal["local"] = "local"
    """Where steps run: in this process (Ray comes with the distributed backend)."""
    rate_limits: dict[str, RateLimitSetting] = Field(default_factory=dict[str, RateLimitSetting])
    """Quotas by rate-limit key, as JSON (``BATON_RATE_LIMITS``); a key without ``:`` (``http``)
    gives each ``http:<host>`` its own quota of that size. Unset keys are unlimited."""
    approval_timeout_s: float = Field(default=3600.0, gt=0)
    """How long an approval request waits for a person, and an approval for its use
    (``BATON_APPROVAL_TIMEOUT_S``)."""
    approval_default: Literal["reject", "approve"] = "reject"
    """What happens to a request nobody decided in time (``BATON_APPROVAL_DEFAULT``)."""
    approve_writes: bool = False
    """Gate every ``write`` step, not only ``irreversible`` ones (``BATON_APPROVE_WRITES``)."""
    approval_required: list[str] = Field(default_factory=list[str])
    """Agent-name globs whose steps always need approval, as JSON (``BATON_APPROVAL_REQUIRED``,
    e.g. ``'["notify.*", "calendar.create_event"]'``)."""

    tracing: bool = True
    """Make OpenTelemetry spans of executions, steps, agent, model and store calls
    (``BATON_TRACING``). They go to an OTLP collector when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is
    set (the other standard ``OTEL_*`` variables apply)."""
    trace_db: bool = True
    """Keep the spans of executions in the database, for ``baton traces show`` and the
    dashboard (``BATON_TRACE_DB``)."""
    trace_store_min_ms: float = Field(default=1.0, ge=0)
    """Store transactions (event commits, leases) quicker than this make no span; slow or
    failed ones do (``BATON_TRACE_STORE_MIN_MS``; 0 traces every one)."""

    host: str = "127.0.0.1"
    """Address ``baton serve`` listens on (``BATON_HOST``)."""
    port: int = Field(default=8000, ge=0, le=65535)
    """Port ``baton serve`` listens on (``BATON_PORT``; 0 picks a free one)."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest request body the API accepts (``BATON_MAX_BODY_BYTES``)."""
    session_ttl_s: float = Field(default=43_200.0, gt=0, le=31_536_000)
    """How long a dashboard sign-in lasts, in seconds (``BATON_SESSION_TTL_S``; 12 h)."""
    stream_queue_size: int = Field(default=1024, ge=16)
    """Events buffered per SSE subscriber; a client further behind is dropped and resumes
    by ``Last-Event-ID`` (``BATON_STREAM_QUEUE_SIZE``)."""
    stream_heartbeat_s: float = Field(default=15.0, gt=0)
    """Seconds between SSE heartbeats on an idle stream (``BATON_STREAM_HEARTBEAT_S``)."""
    stream_send_timeout_s: float = Field(default=10.0, gt=0)
    """An SSE client that accepts nothing for this long is disconnected
    (``BATON_STREAM_SEND_TIMEOUT_S``)."""
    alert_interval_s: float = Field(default=30.0, gt=0, le=86_400)
    """Seconds between two evaluations of the alert rules by ``baton serve``
    (``BATON_ALERT_INTERVAL_S``)."""
    alert_disabled: list[AlertRule] = Field(default_factory=list[AlertRule])
    """Alert rules not evaluated, as JSON (``BATON_ALERT_DISABLED``, e.g. ``'["memory"]'``)."""
    alert_long_running_s: float = Field(default=300.0, gt=0)
    """An execution running longer than this fires ``long_running``
    (``BATON_ALERT_LONG_RUNNING_S``)."""
    alert_success_rate_min: float = Field(default=0.7, ge=0, le=1)
    """A workspace whose executions succeed less often than this over the window fires
    ``success_rate`` (``BATON_ALERT_SUCCESS_RATE_MIN``)."""
    alert_success_window_s: float = Field(default=3600.0, gt=0)
    """The window of ``success_rate``, in seconds (``BATON_ALERT_SUCCESS_WINDOW_S``)."""
    alert_success_min_executions: int = Field(default=10, ge=1)
    """Finished executions a workspace needs in the window before its success rate is judged
    (``BATON_ALERT_SUCCESS_MIN_EXECUTIONS``)."""
    alert_errors_per_minute: int = Field(default=10, ge=0)
    """More failed step attempts than this in the last minute fires ``error_rate``
    (``BATON_ALERT_ERRORS_PER_MINUTE``)."""
    alert_memory_fraction: float = Field(default=0.8, gt=0, le=1)
    """A process using more than this share of its memory limit (cgroup, else RAM) fires
    ``memory`` (``BATON_ALERT_MEMORY_FRACTION``)."""
    alert_rate_limit_remaining_fraction: float = Field(default=0.1, ge=0, lt=1)
    """A rate-limit key with at most this share of its quota left in the window fires
    ``rate_limit`` (``BATON_ALERT_RATE_LIMIT_REMAINING_FRACTION``)."""
    alert_retention_days: float = Field(default=7.0, gt=0)
    """Resolved alerts are forgotten after this many days (``BATON_ALERT_RETENTION_DAYS``)."""
    url: str | None = None
    """A baton server to talk to instead of the local engine (``BATON_URL``): the CLI then
    works through the REST API with ``BATON_API_KEY``."""
    api_key: str | None = None
    """The API key the CLI and `baton.client` send to ``BATON_URL`` (``BATON_API_KEY``)."""
    metrics_enabled: bool = True
    """Count executions, steps and errors for Prometheus at ``/metrics``
    (``BATON_METRICS_ENABLED``)."""
    cache_enabled: bool = True
    """Reuse the outputs of cacheable agents' steps for the same inputs: the smart cache
    (``BATON_CACHE_ENABLED``)."""
    cache_ttl_s: float = Field(default=3600.0, gt=0, le=31_536_000)
    """How long a cached step output is reused, in seconds (``BATON_CACHE_TTL_S``)."""

    llm_provider: Literal["auto", "gemini", "openai", "anthropic", "none"] = "auto"
    """The language model's provider (``BATON_LLM_PROVIDER``); ``auto`` picks Gemini when
    ``GEMINI_API_KEY`` is set, else OpenAI-compatible (``OPENAI_API_KEY`` or
    ``BATON_LLM_BASE_URL``), else Anthropic (``ANTHROPIC_API_KEY``), else none (offline)."""
    llm_model: str | None = None
    """The model (``BATON_LLM_MODEL``); default: the provider's (see `baton.llm.config`)."""
    llm_base_url: str | None = None
    """The provider's endpoint (``BATON_LLM_BASE_URL``), e.g. an OpenAI-compatible server
    such as Ollama's ``http://localhost:11434/v1``."""
    llm_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    """Seconds one model request may take (``BATON_LLM_TIMEOUT_S``)."""
    llm_max_retries: int = Field(default=3, ge=0, le=20)
    """Retries of a request the provider rate limited, failed (5xx) or let time out, with
    backoff honouring ``Retry-After`` (``BATON_LLM_MAX_RETRIES``)."""
    llm_max_attempts: int = Field(default=3, ge=1, le=20)
    """Answers a model may give until one passes the checks (``BATON_LLM_MAX_ATTEMPTS``)."""
    max_replans: int = Field(default=2, ge=0, le=20)
    """Times one execution's plan may be revised after steps fail for good, when a planner
    that can replan is configured; 0 turns replanning off (``BATON_MAX_REPLANS``)."""
    llm_record: Path | None = None
    """Record every model request and response to this JSONL cassette, keys redacted
    (``BATON_LLM_RECORD``)."""
    llm_replay: Path | None = None
    """Answer model requests from this cassette instead of the provider
    (``BATON_LLM_REPLAY``)."""
    plan_max_steps: int = Field(default=50, ge=1, le=10_000)
    """Most steps a planned plan may have (``BATON_PLAN_MAX_STEPS``); hand-written plans
    are not limited."""
    plan_max_fan_out: int = Field(default=20, ge=1, le=10_000)
    """Most steps of a planned plan that may wait for one step (``BATON_PLAN_MAX_FAN_OUT``)."""
    plan_max_width: int = Field(default=32, ge=1, le=10_000)
    """Most steps at one depth of a planned plan (``BATON_PLAN_MAX_WIDTH``)."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/London"
            ) from None
        return value

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use."""
        return self.database_url or f"sqlite:///{self.data_dir / 'baton.db'}"

    @property
    def resolved_plugins_dir(self) -> Path:
        """The plugins folder to scan."""
        return self.plugins_dir or self.data_dir / "agents"

    def prepare_data_dir(self) -> Path:
        """Create the data folder if needed and check it is writable.

        Raises:
            ConfigError: it cannot be created or written.
        """
        d = self.data_dir
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the data folder {d}: {exc.strerror}",
                hint="set BATON_DATA_DIR to a folder you can write",
            ) from None
        if not d.is_dir():
            raise ConfigError(f"the data folder {d} is not a folder", hint="set BATON_DATA_DIR")
        # Probe with a real write: os.access() says yes to root even on a read-only mount.
        probe = d / f".baton-write-test-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"the data folder {d} is not writable ({exc.strerror})",
                hint="fix its permissions, or set BATON_DATA_DIR to a folder you can write",
            ) from None
        return d


def load_settings() -> Settings:
    """Read settings from the environment, turning validation errors into `ConfigError`."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"BATON_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
