"""Fixtures every package's tests share: a private database and Redis namespace per run.

The suite talks to the real PostgreSQL and Redis (``FOLIO_TEST_PG`` and ``FOLIO_TEST_REDIS``
override the local defaults). It creates ``folio_test_<random>``, migrates it, and drops it
at the end; Redis keys live under a random namespace that is deleted at the end.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from folio_common.database import Database
from folio_common.logs import configure_logging
from folio_common.migrate import apply
from folio_common.settings import Settings
from sqlalchemy import create_engine, text

from testsupport.logs import LoggedLines, logged_lines
from testsupport.procs import NO_KEY_LIMITS

ADMIN_URL = os.environ.get("FOLIO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("FOLIO_TEST_REDIS", "redis://127.0.0.1:6379/0")
#: A PgBouncer in transaction mode (.ci/pgbouncer.sh) the processes under test connect
#: through, as they do through Supabase's Supavisor; migrations still go direct.
POOLER_URL = os.environ.get("FOLIO_TEST_PG_POOLER", "")
CORPUS = Path(__file__).resolve().parent.parent / "shared" / "corpus"
TEST_API_KEY = "test-key-0123456789abcdef"
OTHER_API_KEY = "other-key-0123456789abcdef"


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_engine(
        ADMIN_URL.replace("postgresql://", "postgresql+psycopg2://", 1),
        isolation_level="AUTOCOMMIT",
    )


def create_database(name: str) -> str:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def fresh_url() -> Iterator[str]:
    """An empty database of its own (not migrated), dropped after the test."""
    name = f"folio_mig_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"folio_test_{uuid.uuid4().hex[:10]}"
    url = create_database(name)
    apply(Settings.from_env({"DATABASE_URL": url}))
    yield url
    drop_database(name)


@pytest.fixture(scope="session")
def redis_namespace() -> Iterator[str]:
    namespace = f"folio-test-{uuid.uuid4().hex[:10]}"
    yield namespace
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"{namespace}*", count=1000):
            client.delete(key)
    except redis.RedisError:
        pass


def through_pooler(url: str) -> str:
    """``url``'s database reached through ``FOLIO_TEST_PG_POOLER`` when it is set."""
    if not POOLER_URL:
        return url
    return POOLER_URL.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def env(database_url: str, redis_namespace: str) -> dict[str, str]:
    """Environment of a Folio process under test. Shared: extend it with ``{**env, ...}``."""
    pooled = {"MIGRATE_DATABASE_URL": database_url} if POOLER_URL else {}
    return {
        **pooled,
        "DATABASE_URL": through_pooler(database_url),
        "REDIS_URL": REDIS_URL,
        "REDIS_NAMESPACE": redis_namespace,
        "API_KEYS": f"tester:{TEST_API_KEY},other:{OTHER_API_KEY}",
        "LOG_LEVEL": "info",
        "WORKER_PROCESSES": "1",
        "WORKER_THREADS": "2",
        "SWEEP_INTERVAL_S": "1",
        "STUCK_AFTER_S": "5",
        "REQUEUE_AFTER_S": "5",
        "HEARTBEAT_INTERVAL_S": "1",
        "BROKER_HEARTBEAT_TIMEOUT_S": "5",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        # The tester key reads fleet-wide /stats and /metrics; "other" is a plain tenant.
        "OPERATOR_KEYS": "tester",
        **NO_KEY_LIMITS,
    }


@pytest.fixture(scope="session")
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    """A Database on the test database, emptied before each test."""
    database = Database.from_settings(settings, application_name="folio-test")
    with database.engine.begin() as conn:
        # DELETE, not TRUNCATE: on these few rows ~1 ms instead of ~100 ms, once per test.
        # Pages, parts and deliveries go with their job (ON DELETE CASCADE).
        conn.execute(text("DELETE FROM jobs; DELETE FROM blobs"))
    yield database
    database.close()


@pytest.fixture
def redis_client(settings: Settings) -> redis.Redis:
    from folio_common.redis_client import create_redis

    return create_redis(settings)


@pytest.fixture(scope="session", autouse=True)
def _logging() -> None:
    # Loggers built per line: a test may redirect them (testsupport.logs.logged_lines).
    configure_logging("test", "info", "json", cache_loggers=False)


@pytest.fixture
def info_logs() -> Iterator[LoggedLines]:
    """Every line logged during the test (info and up), as a service renders it."""
    with logged_lines(logging.INFO) as captured:
        yield captured


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.skip("../shared/corpus is absent")
    return CORPUS
