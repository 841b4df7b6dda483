"""Redis over TLS against a real ``redis-server`` with a CA made in the test (trustme)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import trustme
from folio_common.broker import JOBS_QUEUE, create_broker, enqueue_job
from folio_common.health import DEFAULT_DEADLINE_S, ProbeResult, redis_probe, run_probes
from folio_common.redis_client import create_redis
from folio_common.settings import Settings, SettingsError
from folio_common.wait import DependencyUnavailable, wait_for_dependencies

from testsupport.procs import free_port

pytestmark = pytest.mark.slow  # a private TLS redis-server

MARGIN_S = 1.0


@dataclass(frozen=True)
class TlsRedis:
    port: int
    ca_file: Path
    other_ca_file: Path


def _tls_supported() -> bool:
    try:
        out = subprocess.run(
            ["redis-server", "--version"], check=False, capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    major = out.split("v=", 1)[-1].split(".", 1)[0]
    return major.isdigit() and int(major) >= 6


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    if not _tls_supported():
        pytest.skip("redis-server >= 6 with TLS is not installed")
    tmp = tmp_path_factory.mktemp("tls-redis")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(tmp / "other-ca.pem"))
    cert.private_key_pem.write_to_path(str(tmp / "server.key"))
    for i, pem in enumerate(cert.cert_chain_pems):
        pem.write_to_path(str(tmp / "server.pem"), append=i > 0)
    port = free_port()
    options = {
        "port": "0",
        "tls-port": str(port),
        "tls-cert-file": str(tmp / "server.pem"),
        "tls-key-file": str(tmp / "server.key"),
        "tls-ca-cert-file": str(tmp / "ca.pem"),
        "tls-auth-clients": "no",
        "save": "",
        "appendonly": "no",
        "dir": str(tmp),
    }
    argv = ["redis-server"] + [arg for k, v in options.items() for arg in (f"--{k}", v)]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = TlsRedis(port, tmp / "ca.pem", tmp / "other-ca.pem")
    try:
        client = redis.Redis(
            host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(server.ca_file)
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"TLS redis-server did not start:\n{output}")
                time.sleep(0.05)
        client.close()
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _rediss_settings(env: dict[str, str], port: int, ca_file: Path) -> Settings:
    """Settings for the TLS Redis on ``port`` (``rediss://``), trusting ``ca_file``."""
    return Settings.from_env(
        {**env, "REDIS_URL": f"rediss://127.0.0.1:{port}/0", "REDIS_TLS_CA_FILE": str(ca_file)}
    )


def _probe(settings: Settings) -> tuple[ProbeResult, float]:
    client = create_redis(settings)
    started = time.monotonic()
    try:
        result = run_probes({"redis": redis_probe(client)})["redis"]
    finally:
        client.close()
    return result, time.monotonic() - started


def _assert_fails_cleanly(result: ProbeResult, elapsed: float) -> None:
    assert not result.ok
    assert result.reason
    assert len(result.reason) <= 200
    assert "\n" not in result.reason
    assert elapsed < DEFAULT_DEADLINE_S + MARGIN_S


def test_rediss_url_with_ca_file_passes_the_probe(env: dict[str, str], tls_redis: TlsRedis) -> None:
    settings = _rediss_settings(env, tls_redis.port, tls_redis.ca_file)
    result, _ = _probe(settings)
    assert result.ok, result.reason


def test_redis_url_with_redis_tls_true_passes_the_probe(
    env: dict[str, str], tls_redis: TlsRedis
) -> None:
    settings = Settings.from_env(
        {
            **env,
            "REDIS_URL": f"redis://127.0.0.1:{tls_redis.port}/0",
            "REDIS_TLS": "true",
            "REDIS_TLS_CA_FILE": str(tls_redis.ca_file),
        }
    )
    result, _ = _probe(settings)
    assert result.ok, result.reason


def test_wrong_ca_fails_the_probe_cleanly(env: dict[str, str], tls_redis: TlsRedis) -> None:
    settings = _rediss_settings(env, tls_redis.port, tls_redis.other_ca_file)
    result, elapsed = _probe(settings)
    _assert_fails_cleanly(result, elapsed)
    assert "certificate" in result.reason.lower() or "ssl" in result.reason.lower()


@pytest.mark.slow  # the handshake hangs: the probe answers at its 3 s deadline
def test_rediss_against_a_plain_tcp_server_fails_cleanly(env: dict[str, str]) -> None:
    plain = env["REDIS_URL"]
    assert plain.startswith("redis://")
    settings = Settings.from_env({**env, "REDIS_URL": "rediss://" + plain.removeprefix("redis://")})
    result, elapsed = _probe(settings)
    _assert_fails_cleanly(result, elapsed)


def test_broker_shares_the_tls_client_pool_and_enqueues_over_tls(
    env: dict[str, str], tls_redis: TlsRedis
) -> None:
    settings = _rediss_settings(env, tls_redis.port, tls_redis.ca_file)
    client = create_redis(settings)
    broker = create_broker(settings, client)
    try:
        assert broker.client is client
        assert broker.client.connection_pool is client.connection_pool
        assert client.connection_pool.connection_class is redis.SSLConnection

        job_id = str(uuid.uuid4())
        enqueue_job(broker, job_id, "req-tls")

        queue_key = f"{settings.redis_namespace}-dramatiq:{JOBS_QUEUE}"
        message_ids = client.lrange(queue_key, 0, -1)
        assert len(message_ids) == 1
        payload = client.hget(f"{queue_key}.msgs", message_ids[0])
        assert payload is not None
        assert job_id.encode() in payload
        assert b"req-tls" in payload
    finally:
        broker.close()
        client.close()


# ---- Start-up: a setting no retry can fix stops the process at once, naming it ----------

#: Far above a failing start's seconds, far below the 60-120 s of retries it replaces.
FAST_EXIT_S = 20.0


def _worker_start(env: dict[str, str], **redis_env: str) -> tuple[int, list[str], float]:
    """``folio-worker run`` with these Redis settings: exit code, log lines, seconds."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")}
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "folio-worker"), "run"],
        env={**environ, **env, **redis_env, "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.monotonic() - started
    return done.returncode, (done.stdout + done.stderr).splitlines(), elapsed


def _assert_stops_naming(lines: list[str], *names: str) -> None:
    errors = [json.loads(x) for x in lines if x.startswith("{") and '"error"' in x]
    assert errors, lines
    assert not any("waiting for redis" in x for x in lines), "retried a misconfiguration"
    text = " ".join(str(e) for e in errors)
    for name in names:
        assert name in text, (name, errors)
    assert "Traceback" not in "\n".join(lines)


def test_wrong_ca_stops_start_up_at_once_naming_the_setting_and_file(
    env: dict[str, str], tls_redis: TlsRedis
) -> None:
    rc, lines, elapsed = _worker_start(
        env,
        REDIS_URL=f"rediss://127.0.0.1:{tls_redis.port}/0",
        REDIS_TLS_CA_FILE=str(tls_redis.other_ca_file),
    )
    assert rc != 0
    _assert_stops_naming(lines, "REDIS_TLS_CA_FILE", str(tls_redis.other_ca_file), "CERTIFICATE")
    assert elapsed < FAST_EXIT_S


def test_missing_ca_file_stops_start_up_at_once_naming_the_setting_and_file(
    env: dict[str, str], tls_redis: TlsRedis, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    rc, lines, elapsed = _worker_start(
        env, REDIS_URL=f"rediss://127.0.0.1:{tls_redis.port}/0", REDIS_TLS_CA_FILE=str(missing)
    )
    assert rc != 0
    _assert_stops_naming(lines, "REDIS_TLS_CA_FILE", str(missing))
    assert elapsed < FAST_EXIT_S


def test_tls_against_a_plain_port_stops_start_up_at_once_naming_the_url(
    env: dict[str, str],
) -> None:
    plain = env["REDIS_URL"]
    rc, lines, elapsed = _worker_start(env, REDIS_URL="rediss://" + plain.removeprefix("redis://"))
    assert rc != 0
    _assert_stops_naming(lines, "REDIS_URL", "plain Redis")
    assert elapsed < FAST_EXIT_S


def test_misconfigurations_fail_the_wait_at_once_and_an_unreachable_server_is_retried(
    env: dict[str, str], tls_redis: TlsRedis
) -> None:
    wrong_ca = _rediss_settings(env, tls_redis.port, tls_redis.other_ca_file)
    started = time.monotonic()
    with pytest.raises(DependencyUnavailable, match="REDIS_TLS_CA_FILE"):
        wait_for_dependencies(wrong_ca, 60)
    assert time.monotonic() - started < 5.0  # one attempt, not a minute of retries

    unreachable = Settings.from_env({**env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    with pytest.raises(DependencyUnavailable, match="unreachable after 2s"):
        wait_for_dependencies(unreachable, 2)


@pytest.mark.parametrize("value", ["", "   ", "${{redis.REDIS_URL}}"])
def test_an_empty_or_unresolved_redis_url_is_one_line_naming_the_railway_fix(
    value: str,
) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REDIS_URL": value})
    message = str(caught.value)
    assert caught.value.variable == "REDIS_URL"
    assert "\n" not in message
    assert "Railway" in message and "Variables tab" in message


def test_a_redis_url_without_a_host_is_refused() -> None:
    with pytest.raises(SettingsError, match="names no host"):
        Settings.from_env({"REDIS_URL": "redis://:6379/0"})


def test_an_empty_redis_url_stops_the_worker_with_one_json_line(env: dict[str, str]) -> None:
    rc, lines, _ = _worker_start(env, REDIS_URL="")
    assert rc == 2
    (line,) = [json.loads(x) for x in lines if x.startswith("{")]
    assert line["variable"] == "REDIS_URL"
    assert "Railway" in line["message"]
