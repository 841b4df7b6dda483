"""The API's instrumented pool logs under ``sqlalchemy.pool``, at that logger's level."""

from __future__ import annotations

import logging

from folio_common.database import Database

from folio_api.metrics import InstrumentedQueuePool


def test_pool_info_lines_stay_below_the_pool_log_level(settings, caplog):
    db = Database.from_settings(
        settings, application_name="folio-pool-log-test", poolclass=InstrumentedQueuePool
    )
    try:
        with caplog.at_level(logging.DEBUG, logger="folio_api"):
            db.transaction(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
            db.engine.dispose()  # SQLAlchemy logs "Pool recreating" at info here
    finally:
        db.close()
    pool_lines = [r for r in caplog.records if "pool" in r.name.lower()]
    assert pool_lines == [], [(r.name, r.levelname, r.getMessage()) for r in pool_lines]
    assert db.engine.pool.logger.name.startswith("sqlalchemy.pool.")
