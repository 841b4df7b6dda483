"""Redis helpers over plain TCP: TLS option mapping, keys, worker liveness, completion events."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis
from folio_common import notify, worker_reports
from folio_common.jobs import Job
from folio_common.lifecycle.states import JobStatus
from folio_common.options import JobOptions
from folio_common.redis_client import key, redis_url, tls_options
from folio_common.settings import Settings


def test_plain_redis_url_has_no_tls_options(settings: Settings) -> None:
    assert redis_url(settings) == settings.redis_url
    assert tls_options(settings) == {}


def test_redis_tls_turns_a_redis_url_into_rediss_with_its_options() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://:pw-1234@r.example.com:6380/0",
            "REDIS_TLS": "true",
            "REDIS_TLS_CERT_REQS": "none",
            "REDIS_TLS_CA_FILE": "/ca.pem",
        }
    )
    assert redis_url(settings) == "rediss://:pw-1234@r.example.com:6380/0"
    assert tls_options(settings) == {
        "ssl_cert_reqs": "none",
        "ssl_check_hostname": False,
        "ssl_ca_certs": "/ca.pem",
    }


def test_keys_live_under_the_namespace(settings: Settings) -> None:
    assert key(settings, "workers") == f"{settings.redis_namespace}:workers"


def _report() -> worker_reports.WorkerReport:
    return worker_reports.WorkerReport(
        pid=123, at=0.0, rss_bytes=1, sandbox_rss_bytes=0, pages_per_s=0.0
    )


def test_worker_liveness_is_listed_until_forgotten(
    settings: Settings, redis_client: redis.Redis
) -> None:
    worker_id = f"host-{uuid.uuid4().hex[:6]}:123"
    report = _report()
    worker_reports.publish(redis_client, settings, worker_id, report)
    assert worker_id in worker_reports.alive(redis_client, settings)
    assert worker_id in worker_reports.read(redis_client, settings)
    assert worker_reports.alive(
        redis_client, settings, prefix=worker_id.split(":", maxsplit=1)[0]
    ) == [worker_id]
    worker_reports.forget(redis_client, settings, worker_id)
    assert worker_id not in worker_reports.alive(redis_client, settings)
    assert worker_id not in worker_reports.read(redis_client, settings)


def test_a_beat_drops_the_reports_of_workers_no_longer_alive(
    settings: Settings, redis_client: redis.Redis
) -> None:
    worker_id = f"host-{uuid.uuid4().hex[:6]}:123"
    report = _report()
    reports = key(settings, "worker-stats")
    redis_client.hset(reports, "dead-host:1", report.to_json())  # a report, no liveness
    try:
        worker_reports.publish(redis_client, settings, worker_id, report)
        stored = set(redis_client.hkeys(reports))
        assert worker_id.encode() in stored and b"dead-host:1" not in stored
    finally:
        worker_reports.forget(redis_client, settings, worker_id)
        redis_client.hdel(reports, "dead-host:1")


def test_the_hub_hears_a_completion_published_after_it_registered(
    settings: Settings, redis_client: redis.Redis
) -> None:
    hub = notify.CompletionHub(redis_client, settings)
    job_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        with hub.listen(job_id) as listener, hub.listen(other) as bystander:
            assert hub.subscribed
            # An event without the job (an older release's) still wakes its waiter.
            timer = threading.Timer(
                0.2, redis_client.publish, (notify.channel(settings, job_id), b"succeeded")
            )
            timer.start()
            started = time.monotonic()
            assert listener.wait(5.0)
            assert time.monotonic() - started < 2.0
            timer.join()
            assert listener.finished_job("tester") is None  # the waiter reads the job
            assert not bystander.wait(0.2)  # another job's waiter is not woken
            # More waits share the hub's one connection: none opens its own.
            before = len(redis_client.client_list(_type="pubsub"))
            with contextlib.ExitStack() as more:
                for _ in range(5):
                    more.enter_context(hub.listen(str(uuid.uuid4())))
                assert len(redis_client.client_list(_type="pubsub")) == before
    finally:
        hub.close()


def _finished_job(**changes: Any) -> Job:
    now = datetime.now(UTC)
    job = Job(
        id=str(uuid.uuid4()), owner="tester", status=JobStatus.SUCCEEDED, engine="pdfium",
        options=JobOptions(pages="1", password="s3cret"), filename="a.pdf", size_bytes=10,
        sha256="0" * 64, page_count=1, pages_total=1, pages_done=1, parts_total=1,
        parts_done=1, attempts=1, error_code=None, error_message=None,
        metadata={"title": "T"}, idempotency_key=None, callback_url=None, request_id="r",
        created_at=now, updated_at=now, enqueued_at=now, started_at=now, finished_at=now,
        heartbeat_at=now, expires_at=None, purged_at=None,
    )  # fmt: skip
    return dataclasses.replace(job, **changes)


def test_a_completion_event_carries_the_finished_job_without_its_password(
    settings: Settings, redis_client: redis.Redis
) -> None:
    hub = notify.CompletionHub(redis_client, settings)
    job = _finished_job()
    try:
        with hub.listen(job.id) as listener:
            notify.publish_done(redis_client, settings, job)
            assert listener.wait(5.0)
            assert listener.message is not None and b"s3cret" not in listener.message
            assert listener.finished_job("tester") == dataclasses.replace(
                job, options=JobOptions(pages="1")
            )
            assert listener.finished_job("another-key") is None
        # A job too large for an event (long metadata) is announced by its status alone.
        large = _finished_job(metadata={"title": "x" * notify.MAX_EVENT_BYTES})
        with hub.listen(large.id) as listener:
            notify.publish_done(redis_client, settings, large)
            assert listener.wait(5.0)
            assert (listener.message, listener.finished_job("tester")) == (b"succeeded", None)
    finally:
        hub.close()


def test_a_wait_on_the_hub_times_out_quietly(settings: Settings, redis_client: redis.Redis) -> None:
    hub = notify.CompletionHub(redis_client, settings)
    try:
        for _ in range(3):  # later waits reuse the subscription
            with hub.listen(str(uuid.uuid4())) as listener:
                started = time.monotonic()
                assert not listener.wait(0.3)
                assert time.monotonic() - started < 1.5
    finally:
        hub.close()


def test_publish_and_listen_survive_an_unreachable_redis(env: dict[str, str]) -> None:
    from folio_common.redis_client import create_redis

    from testsupport.procs import free_port

    settings = Settings.from_env({**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    client = create_redis(settings)
    notify.publish_done(client, settings, _finished_job())  # logged, not raised
    hub = notify.CompletionHub(client, settings)
    try:
        with hub.listen("job") as listener:
            assert not hub.subscribed
            started = time.monotonic()
            listener.wait(30)  # cut short: the waiter must poll while Redis is away
            assert time.monotonic() - started < 1.5
    finally:
        hub.close()
