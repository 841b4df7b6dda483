"""The doorbell: an enqueue wakes an idle consumer blocked on its queue's bell, in the same
round trip as the enqueue; tokens are bounded; a lost script cache still enqueues."""

from __future__ import annotations

import threading
import time

import dramatiq
import pytest
from folio_common.broker import create_broker, job_message
from folio_common.doorbell import MAX_TOKENS, MAX_WAIT_S, DoorbellConsumer, bell_key
from folio_common.redis_client import create_redis
from folio_common.settings import Settings


@pytest.fixture
def broker(settings: Settings):  # type: ignore[no-untyped-def]
    made = create_broker(settings, create_redis(settings))
    made.declare_queue("bell-test")
    made.client.delete(bell_key(made.namespace, "bell-test"), f"{made.namespace}:bell-test")
    yield made
    made.client.delete(bell_key(made.namespace, "bell-test"), f"{made.namespace}:bell-test")
    made.client.close()


def _message(n: int) -> dramatiq.Message[None]:
    return job_message(f"bell-{n}", None).copy(queue_name="bell-test")


def _blocked_on_bell(broker) -> bool:  # type: ignore[no-untyped-def]
    """Some client of this test (named "folio") is blocked in BLPOP."""
    clients = broker.client.client_list()
    return any(c.get("cmd") == "blpop" and c.get("name") == "folio" for c in clients)


def test_an_enqueue_wakes_an_idle_consumer_blocked_on_the_bell(broker):
    consumer = broker.consume("bell-test", prefetch=2, timeout=int(MAX_WAIT_S * 1000))
    assert isinstance(consumer, DoorbellConsumer)
    got: list[tuple[float, object]] = []

    def consume() -> None:
        started = time.monotonic()
        while not got and time.monotonic() - started < 30:
            message = next(consumer)
            if message is not None:
                got.append((time.monotonic(), message))

    thread = threading.Thread(target=consume)
    thread.start()
    deadline = time.monotonic() + 10
    while not _blocked_on_bell(broker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _blocked_on_bell(broker), "the idle consumer is not waiting on BLPOP"
    sent_at = time.monotonic()
    broker.enqueue(_message(1))
    thread.join(30)
    assert got, "the consumer never received the message"
    # Woken by the bell, not by its fallback timeout (which is MAX_WAIT_S away).
    assert got[0][0] - sent_at < MAX_WAIT_S
    assert got[0][1].args == ("bell-1",)  # type: ignore[attr-defined]


def test_tokens_are_bounded_and_ride_with_the_enqueue(broker):
    bell = bell_key(broker.namespace, "bell-test")
    broker.enqueue(_message(1))
    assert broker.client.llen(bell) == 1
    assert broker.client.llen(f"{broker.namespace}:bell-test") == 1
    for n in range(MAX_TOKENS + 20):
        broker.enqueue(_message(n))
    assert broker.client.llen(bell) == MAX_TOKENS


def test_a_lost_script_cache_still_enqueues(broker):
    broker.enqueue(_message(0))  # loads the scripts
    script = broker.scripts["dispatch"]
    script.sha = "0" * 40  # as if Redis had restarted and forgotten it
    broker.enqueue(_message(1))
    assert broker.client.llen(f"{broker.namespace}:bell-test") == 2
    assert script.sha != "0" * 40  # reloaded


def test_a_full_consumer_leaves_the_tokens_to_others(broker):
    bell = bell_key(broker.namespace, "bell-test")
    consumer = broker.consume("bell-test", prefetch=1, timeout=100)
    broker.enqueue(_message(1))
    message = None
    while message is None:
        message = next(consumer)
    broker.enqueue(_message(2))
    tokens = broker.client.llen(bell)
    assert next(consumer) is None  # prefetch full: waits locally
    assert broker.client.llen(bell) == tokens
    consumer.ack(message)
