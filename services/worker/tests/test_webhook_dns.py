"""A DNS failure at delivery is a failed attempt, retried with backoff like any other
transient error, never a silent refusal; a malformed URL is refused and recorded once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from folio_common.database import Database
from folio_common.lifecycle import JobStatus
from folio_common.settings import Settings
from sqlalchemy import text
from testsupport import jobs as tj
from testsupport.pdfs import make_pdf
from testsupport.procs import Service, wait_until

from folio_worker.webhooks import WebhookRefused, deliver

UNRESOLVABLE = "http://folio-dns-failure.invalid/hook"


def deliveries(db: Database, job_id: str) -> list[Any]:
    def read(conn: Any) -> list[Any]:
        query = """SELECT attempt, status_code, delivered, error FROM webhook_deliveries
                   WHERE job_id = :id ORDER BY id"""
        return [tuple(r) for r in conn.execute(text(query), {"id": job_id})]

    return db.transaction(read)


def test_a_dns_failure_is_a_failed_delivery_not_a_refusal() -> None:
    settings = Settings.from_env({"WEBHOOK_ALLOW_PRIVATE": "false"})
    delivery = deliver(settings, UNRESOLVABLE, "msg_x", {"status": "succeeded"})
    assert not delivery.ok
    assert delivery.error is not None and "cannot resolve" in delivery.error


def test_a_port_out_of_range_is_refused_before_any_connection() -> None:
    settings = Settings.from_env({"WEBHOOK_ALLOW_PRIVATE": "true"})
    with pytest.raises(WebhookRefused, match="malformed"):
        deliver(settings, "http://127.0.0.1:99999/hook", "msg_x", {"status": "succeeded"})


@pytest.mark.slow
def test_a_dns_failure_is_retried(
    settings: Settings,
    db: Database,
    worker_env: dict[str, str],
    workers: Callable[..., Service],
) -> None:
    workers({**worker_env, "WEBHOOK_ALLOW_PRIVATE": "false"})
    job_id = tj.submit(settings, db, make_pdf(1), callback_url=UNRESOLVABLE)
    assert tj.wait_terminal(db, job_id).status == JobStatus.SUCCEEDED
    wait_until(lambda: len(deliveries(db, job_id)) >= 2, timeout=60)
    attempts = deliveries(db, job_id)
    assert [a for a, _, _, _ in attempts[:2]] == [1, 2]
    assert all(not ok and err and "cannot resolve" in err for _, _, ok, err in attempts)
