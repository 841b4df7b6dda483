"""``Connections.for_role``: the one way settings become connections, with its role's pool."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from folio_common.connections import POOL_PRESETS, Connections, Role, database
from folio_common.settings import Settings
from sqlalchemy import text
from sqlalchemy.pool import NullPool, QueuePool


@pytest.mark.parametrize("role", [Role.API, Role.WORKER])
def test_services_pool_as_the_settings_say(env: dict[str, str], role: Role) -> None:
    settings = Settings.from_env({**env, "DB_POOL_SIZE": "7", "DB_MAX_OVERFLOW": "3"})
    db = database(settings, role)
    try:
        assert isinstance(db.engine.pool, QueuePool)
        assert (db.engine.pool.size(), db.engine.pool._max_overflow) == (7, 3)
    finally:
        db.close()


def test_commands_keep_one_connection_and_migrations_none(settings: Settings) -> None:
    cli, migrate = database(settings, Role.CLI), database(settings, Role.MIGRATE)
    try:
        assert isinstance(cli.engine.pool, QueuePool)
        assert (cli.engine.pool.size(), cli.engine.pool._max_overflow) == (1, 1)
        assert isinstance(migrate.engine.pool, NullPool)
        with migrate.connect() as conn:  # a NullPool engine still connects as configured
            name = conn.execute(text("SHOW application_name")).scalar()
        assert name == "folio-migrate"
    finally:
        cli.close()
        migrate.close()


@pytest.mark.parametrize("role", list(POOL_PRESETS))
def test_db_sslmode_holds_for_every_role(env: dict[str, str], role: Role) -> None:
    # The local PostgreSQL has no TLS: a role that ignored DB_SSLMODE would connect.
    settings = Settings.from_env({**env, "DB_SSLMODE": "require"})
    db = database(settings, role)
    try:
        with pytest.raises(sqlalchemy.exc.OperationalError, match="does not support SSL"):
            db.connect().close()
    finally:
        db.close()


def test_the_broker_shares_the_redis_client_and_nothing_connects_until_used(
    settings: Settings,
) -> None:
    conns = Connections.for_role(settings, Role.CLI)
    try:
        assert conns.broker.client is conns.redis
        assert conns.db.engine.pool.checkedin() == 0  # nothing opened by building them
        assert conns.redis.ping()
    finally:
        conns.close()
