"""One typed settings object, read from the environment once and validated at start-up.

Every variable Folio reads is declared here, with its default and meaning; the README's
configuration table is checked against this list by a test, so the two cannot drift.
A bad value raises :class:`SettingsError` naming the variable; secret values are never
echoed back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from . import timings

#: Database schemes accepted in ``DATABASE_URL``; Railway and Supabase hand out ``postgres://``.
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg2")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
REDIS_CERT_REQS = ("required", "optional", "none")
ENGINES = ("pdfminer", "pdfium")
#: Variables whose laptop defaults must not silently reach production.
REQUIRED_IN_PRODUCTION = ("DATABASE_URL", "REDIS_URL", "API_KEYS")


class SettingsError(ValueError):
    """A variable has a value Folio cannot use. ``str()`` is one line naming it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"invalid setting {variable}: {problem}")
        self.variable = variable


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("expected true or false")


def _parse_str(raw: str) -> str:
    return raw.strip()


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


def _parse_database_url(raw: str) -> str:
    try:
        url = make_url(raw.strip())
    except (ArgumentError, ValueError):  # ValueError (a bad port) would echo part of the URL
        raise ValueError("not a URL of the form postgresql://user:password@host:port/db") from None
    if url.drivername not in POSTGRES_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(POSTGRES_SCHEMES)}")
    if not url.host and "host" not in url.query:
        raise ValueError("the URL names no host")
    if not url.database:
        raise ValueError("the URL names no database")
    return raw.strip()


#: What to do on Railway when ``REDIS_URL`` is empty or an unresolved reference.
REDIS_URL_RAILWAY_FIX = (
    "on Railway, open the redis service's Variables tab: REDIS_URL must be listed there "
    "(railway.py declares it; `railway config apply` sets it), then redeploy"
)


def _parse_redis_url(raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ValueError(f"empty; {REDIS_URL_RAILWAY_FIX}")
    if "${{" in value:
        raise ValueError(f"an unresolved Railway reference; {REDIS_URL_RAILWAY_FIX}")
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("scheme must be redis://, rediss:// or unix://")
    if not value.startswith("unix://") and not urlsplit(value).hostname:
        raise ValueError("the URL names no host")
    return value


def _parse_api_keys(raw: str) -> dict[str, str]:
    """``name:key,name:key`` → {key: name}. Names become job owners."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, key = item.partition(":")
        if not sep or not name.strip() or len(key.strip()) < 16:
            raise ValueError("expected name:key pairs separated by commas, keys ≥ 16 characters")
        keys[key.strip()] = name.strip()
    return keys


def _parse_token(raw: str) -> str:
    value = raw.strip()
    if value and len(value) < 16:
        raise ValueError("expected at least 16 characters (or empty)")
    return value


def _parse_names(raw: str) -> frozenset[str]:
    return frozenset(filter(None, (name.strip() for name in raw.split(","))))


def _parse_languages(raw: str) -> str:
    from .options import parse_languages  # options imports nothing of settings

    value = raw.strip()
    parse_languages(value)
    return value


def _default_cpus() -> int:
    """CPUs this process may use: the cgroup quota when there is one, not the host's count."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()
        if quota != "max":
            return max(1, int(float(quota) / float(period)))
    except (OSError, ValueError):
        pass
    return max(1, len(os.sched_getaffinity(0)))


def setting(
    env: str,
    parse: Callable[[str], Any],
    default: Any,
    doc: str,
    *,
    secret: bool = False,
) -> Any:
    """Declare one environment variable; ``default`` may be a zero-argument callable."""
    metadata = {"env": env, "parse": parse, "doc": doc, "secret": secret}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Everything Folio's processes read from their environment."""

    # Deployment
    env: str = setting(
        "FOLIO_ENV",
        _one_of("development", "production"),
        "development",
        "`production` refuses to start without `API_KEYS`",
    )
    # Database
    database_url: str = setting(
        "DATABASE_URL",
        _parse_database_url,
        "postgresql://postgres@127.0.0.1:5432/folio",
        "PostgreSQL URL (`postgres://` or `postgresql://`); on Supabase the Supavisor pooler URL",
        secret=True,
    )
    db_sslmode: str = setting(
        "DB_SSLMODE",
        _one_of("", *SSL_MODES),
        "",
        "libpq `sslmode` when the URL has none (Supabase: `require`)",
    )
    db_pool_size: int = setting(
        "DB_POOL_SIZE", _parse_int, 8, "connections each process keeps (API: = `WEB_THREADS`)"
    )
    db_max_overflow: int = setting(
        "DB_MAX_OVERFLOW",
        _parse_int,
        2,
        "extra connections a process may open under load, each closed again when returned",
    )
    db_pool_timeout: float = setting(
        "DB_POOL_TIMEOUT",
        _parse_float,
        5.0,
        "seconds to wait for a pooled connection; then the API answers 503",
    )
    db_pool_recycle: int = setting(
        "DB_POOL_RECYCLE",
        _parse_int,
        300,
        "seconds after which a connection is replaced (below the pooler's idle timeout)",
    )
    db_connect_timeout: int = setting(
        "DB_CONNECT_TIMEOUT", _parse_int, 5, "seconds to establish a database connection"
    )
    db_statement_timeout_ms: int = setting(
        "DB_STATEMENT_TIMEOUT_MS",
        _parse_int,
        0,
        "per-transaction `statement_timeout` (`SET LOCAL`, pooler-safe); 0 = off",
    )
    db_retry_max_tries: int = setting(
        "DB_RETRY_MAX_TRIES", _parse_int, 5, "tries of a unit of work on transient errors"
    )
    db_retry_max_time_s: float = setting(
        "DB_RETRY_MAX_TIME_S", _parse_float, 20.0, "seconds a unit of work may spend retrying"
    )
    migrate_database_url: str = setting(
        "MIGRATE_DATABASE_URL",
        lambda raw: _parse_database_url(raw) if raw.strip() else "",
        "",
        "URL `folio-migrate` uses (Supabase: the session pooler or direct); empty = `DATABASE_URL`",
        secret=True,
    )
    migrate_statement_timeout_ms: int = setting(
        "MIGRATE_STATEMENT_TIMEOUT_MS",
        _parse_int,
        900_000,
        "`statement_timeout` of each migration's transaction (`SET LOCAL`); 0 = none",
    )
    # Redis
    redis_url: str = setting(
        "REDIS_URL",
        _parse_redis_url,
        "redis://127.0.0.1:6379/0",
        "Redis URL; `rediss://` turns on TLS",
        secret=True,
    )
    redis_tls: bool = setting(
        "REDIS_TLS", _parse_bool, False, "force TLS even for a `redis://` URL"
    )
    redis_tls_ca_file: str = setting(
        "REDIS_TLS_CA_FILE", _parse_str, "", "CA bundle to verify the Redis server with"
    )
    redis_tls_cert_file: str = setting(
        "REDIS_TLS_CERT_FILE", _parse_str, "", "client certificate for mutual TLS"
    )
    redis_tls_key_file: str = setting(
        "REDIS_TLS_KEY_FILE", _parse_str, "", "client key for mutual TLS"
    )
    redis_tls_cert_reqs: str = setting(
        "REDIS_TLS_CERT_REQS",
        _one_of(*REDIS_CERT_REQS),
        "required",
        "server certificate check: required, optional or none",
    )
    redis_namespace: str = setting(
        "REDIS_NAMESPACE", _parse_str, "folio", "prefix of every Redis key Folio writes"
    )
    # Logging
    log_level: str = setting(
        "LOG_LEVEL",
        _one_of("debug", "info", "warning", "error"),
        "info",
        "minimum level logged",
    )
    log_format: str = setting(
        "LOG_FORMAT", _one_of("json", "console"), "json", "`console` for readable local lines"
    )
    # API
    port: int = setting("PORT", _parse_int, 8000, "HTTP port of the API (Railway sets it)")
    web_concurrency: int = setting(
        "WEB_CONCURRENCY", _parse_int, 2, "gunicorn worker processes of the API"
    )
    web_threads: int = setting("WEB_THREADS", _parse_int, 8, "threads per API process")
    api_keys: dict[str, str] = setting(
        "API_KEYS",
        _parse_api_keys,
        dict,
        "`name:key,name:key`; the name becomes the owner of the jobs the key submits",
        secret=True,
    )
    max_upload_mb: int = setting("MAX_UPLOAD_MB", _parse_int, 100, "largest upload accepted")
    max_wait_s: int = setting(
        "MAX_WAIT_S",
        _parse_int,
        timings.LONGEST_LONG_POLL_S,
        "longest `Prefer: wait=N` the API honours",
    )
    metrics_token: str = setting(
        "METRICS_TOKEN",
        _parse_token,
        "",
        "bearer token (≥ 16 characters) that reads fleet-wide `/api/v1/metrics` (a scraper's)",
        secret=True,
    )
    # Front door: deadlines, long-poll caps and per-key limits (docs/security.md)
    header_timeout_s: float = setting(
        "HEADER_TIMEOUT_S",
        _parse_float,
        10.0,
        "seconds from accepting a connection to having its whole request head (else 408)",
    )
    max_waits: int = setting(
        "MAX_WAITS",
        _parse_int,
        4,
        "`Prefer: wait` requests one API process holds at once; more are answered at once",
    )
    max_waits_per_key: int = setting(
        "MAX_WAITS_PER_KEY",
        _parse_int,
        2,
        "`Prefer: wait` requests one API process holds at once for one key",
    )
    rate_limit_per_minute: int = setting(
        "RATE_LIMIT_PER_MINUTE", _parse_int, 600, "requests one key may make per minute (0: off)"
    )
    max_concurrent_uploads: int = setting(
        "MAX_CONCURRENT_UPLOADS", _parse_int, 4, "uploads one key may send at once (0: off)"
    )
    max_jobs_in_flight: int = setting(
        "MAX_JOBS_IN_FLIGHT",
        _parse_int,
        100,
        "queued or processing jobs one key may have (0: off)",
    )
    max_stored_mb: int = setting(
        "MAX_STORED_MB",
        _parse_int,
        10240,
        "MiB of uploads one key may keep stored, over its unexpired jobs (0: off)",
    )
    operator_keys: frozenset[str] = setting(
        "OPERATOR_KEYS",
        _parse_names,
        frozenset,
        "names (from API_KEYS) whose keys see fleet-wide `/stats` and `/metrics`",
    )
    # Worker
    worker_processes: int = setting(
        "WORKER_PROCESSES", _parse_int, _default_cpus, "Dramatiq processes (default: CPU quota)"
    )
    worker_threads: int = setting(
        "WORKER_THREADS", _parse_int, 2, "Dramatiq threads per process (one sandbox each)"
    )
    worker_shutdown_timeout_s: int = setting(
        "WORKER_SHUTDOWN_TIMEOUT_S",
        _parse_int,
        timings.WORKER_SHUTDOWN_TIMEOUT_S,
        "seconds a stopping worker lets running parts finish",
    )
    default_engine: str = setting(
        "DEFAULT_ENGINE", _one_of(*ENGINES), "pdfminer", "engine of jobs that name none"
    )
    max_pages: int = setting("MAX_PAGES", _parse_int, 5000, "documents above are refused")
    part_pages: int = setting(
        "PART_PAGES",
        _parse_int,
        20,
        "pdfminer pages per part on average (a PDFium page counts a tenth, an OCR page 10); "
        "larger documents are cut by estimated cost and fanned out",
    )
    ocr_languages: str = setting(
        "OCR_LANGUAGES",
        _parse_languages,
        "eng",
        "Tesseract languages the workers have installed, `+`-joined; jobs may ask for these",
    )
    ocr_default_languages: str = setting(
        "OCR_DEFAULT_LANGUAGES", _parse_languages, "eng", "OCR languages of jobs that name none"
    )
    ocr_dpi: int = setting("OCR_DPI", _parse_int, 300, "resolution pages are rendered at for OCR")
    ocr_max_megapixels: float = setting(
        "OCR_MAX_MEGAPIXELS",
        _parse_float,
        16.0,
        "largest image handed to Tesseract; a larger page is rendered smaller",
    )
    job_time_limit_s: int = setting(
        "JOB_TIME_LIMIT_S", _parse_int, 120, "wall time of one extraction part"
    )
    job_memory_limit_mb: int = setting(
        "JOB_MEMORY_LIMIT_MB", _parse_int, 1024, "address space of one extraction sandbox"
    )
    sandbox_max_tasks: int = setting(
        "SANDBOX_MAX_TASKS", _parse_int, 50, "parts a sandbox process runs before it is recycled"
    )
    max_attempts: int = setting(
        "MAX_ATTEMPTS", _parse_int, 3, "tries of a job before it fails (`worker_lost`)"
    )
    heartbeat_interval_s: float = setting(
        "HEARTBEAT_INTERVAL_S", _parse_float, 5.0, "how often a running job proves it is alive"
    )
    broker_heartbeat_timeout_s: int = setting(
        "BROKER_HEARTBEAT_TIMEOUT_S",
        _parse_int,
        30,
        "seconds before Dramatiq hands a dead worker's messages to another",
    )
    # Sweeper and retention
    sweep_interval_s: float = setting(
        "SWEEP_INTERVAL_S", _parse_float, 15.0, "seconds between sweeps"
    )
    stuck_after_s: float = setting(
        "STUCK_AFTER_S", _parse_float, 60.0, "a processing job silent this long is recovered"
    )
    requeue_after_s: float = setting(
        "REQUEUE_AFTER_S", _parse_float, 300.0, "a queued job waiting this long is re-enqueued"
    )
    result_ttl_hours: float = setting(
        "RESULT_TTL_HOURS", _parse_float, 168.0, "hours results are kept after a job ends"
    )
    keep_source: bool = setting(
        "KEEP_SOURCE", _parse_bool, False, "keep the uploaded PDF until the result expires"
    )
    # Webhooks
    webhook_secret: str = setting(
        "WEBHOOK_SECRET",
        _parse_str,
        "",
        "Standard Webhooks signing secret (`whsec_…`); empty = unsigned",
        secret=True,
    )
    webhook_allow_private: bool = setting(
        "WEBHOOK_ALLOW_PRIVATE",
        _parse_bool,
        False,
        "allow callbacks to private, loopback and link-local addresses",
    )
    webhook_timeout_s: float = setting(
        "WEBHOOK_TIMEOUT_S", _parse_float, 10.0, "seconds one delivery may take"
    )
    webhook_max_attempts: int = setting(
        "WEBHOOK_MAX_ATTEMPTS", _parse_int, 8, "deliveries tried before giving up"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable; raise :class:`SettingsError` on the first bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is None:
                continue
            try:
                values[f.name] = f.metadata["parse"](raw)
            except ValueError as exc:
                shown = "" if f.metadata["secret"] else f", got {raw!r}"
                raise SettingsError(f.metadata["env"], f"{exc}{shown}") from None
        settings = cls(**values)
        settings._check()
        if settings.env == "production":
            for name in REQUIRED_IN_PRODUCTION:
                if not environ.get(name):
                    raise SettingsError(name, "required when FOLIO_ENV=production")
        return settings

    def _check(self) -> None:
        positive = {
            "DB_POOL_SIZE": self.db_pool_size,
            "DB_POOL_TIMEOUT": self.db_pool_timeout,
            "DB_CONNECT_TIMEOUT": self.db_connect_timeout,
            "DB_RETRY_MAX_TRIES": self.db_retry_max_tries,
            "WEB_CONCURRENCY": self.web_concurrency,
            "WEB_THREADS": self.web_threads,
            "MAX_UPLOAD_MB": self.max_upload_mb,
            "WORKER_PROCESSES": self.worker_processes,
            "WORKER_THREADS": self.worker_threads,
            "PART_PAGES": self.part_pages,
            "MAX_PAGES": self.max_pages,
            "OCR_DPI": self.ocr_dpi,
            "OCR_MAX_MEGAPIXELS": self.ocr_max_megapixels,
            "JOB_TIME_LIMIT_S": self.job_time_limit_s,
            "JOB_MEMORY_LIMIT_MB": self.job_memory_limit_mb,
            "MAX_ATTEMPTS": self.max_attempts,
            "SWEEP_INTERVAL_S": self.sweep_interval_s,
            "STUCK_AFTER_S": self.stuck_after_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise SettingsError(name, f"must be greater than 0, got {value!r}")
        limits = {
            "MAX_WAITS": self.max_waits,
            "MAX_WAITS_PER_KEY": self.max_waits_per_key,
            "RATE_LIMIT_PER_MINUTE": self.rate_limit_per_minute,
            "MAX_CONCURRENT_UPLOADS": self.max_concurrent_uploads,
            "MAX_JOBS_IN_FLIGHT": self.max_jobs_in_flight,
            "MAX_STORED_MB": self.max_stored_mb,
        }
        for name, value in limits.items():
            if value < 0:
                raise SettingsError(name, f"must not be negative, got {value!r}")
        if self.header_timeout_s <= 0:
            raise SettingsError("HEADER_TIMEOUT_S", "must be greater than 0")
        if self.db_max_overflow < 0:
            raise SettingsError("DB_MAX_OVERFLOW", "must not be negative")
        if not set(self.ocr_default_languages.split("+")) <= set(self.ocr_languages.split("+")):
            raise SettingsError("OCR_DEFAULT_LANGUAGES", "must be among OCR_LANGUAGES")
        if self.webhook_secret and not self.webhook_secret.startswith("whsec_"):
            raise SettingsError("WEBHOOK_SECRET", "expected a whsec_… secret")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    def database(self) -> URL:
        """``DATABASE_URL`` as a SQLAlchemy URL pinned to psycopg2 (2.1 defaults to psycopg 3)."""
        return make_url(self.database_url).set(drivername="postgresql+psycopg2")

    @property
    def dev_key_fallback(self) -> bool:
        """No ``API_KEYS`` outside production: the published development key is accepted,
        so the API listens on 127.0.0.1 only (both decided here, so they cannot disagree)."""
        return not self.api_keys and self.env != "production"

    def secrets(self) -> list[str]:
        """The secret values in force, for the log redactor."""
        found = [self.webhook_secret, self.metrics_token, *self.api_keys]
        for raw in (self.database_url, self.migrate_database_url, self.redis_url):
            password = make_url(raw).password if "://" in raw else None
            found.append(password or "")
        return [s for s in found if len(s) >= 4]


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, in declaration order: the docs' table."""
    rows = []
    for f in dataclasses.fields(Settings):
        if f.default is not dataclasses.MISSING:
            default = f.default
        else:
            default = "(CPU quota)" if f.name == "worker_processes" else ""
        shown = (
            ""
            if default in ("", {})
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        rows.append((f.metadata["env"], shown, f.metadata["doc"]))
    return rows


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for a process entry point: a bad value prints one JSON line and exits 2."""
    try:
        return Settings.from_env(environ)
    except SettingsError as exc:
        exit_with(str(exc), variable=exc.variable)


def exit_with(message: str, code: int = 2, **fields: Any) -> NoReturn:
    """One JSON log line on stdout, then exit: for failures before logging is configured."""
    line = {"level": "error", "message": message, "logger": "folio.startup", **fields}
    print(json.dumps(line), flush=True)
    sys.exit(code)
