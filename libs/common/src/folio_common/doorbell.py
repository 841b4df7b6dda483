"""A Redis broker whose idle consumers wait on a doorbell instead of polling.

Dramatiq's Redis consumer cannot block on its queue (its fetch is a Lua script doing
bookkeeping), so an idle one sleeps and polls: every 0.5-1 s by default (a job waits up
to a second), or often enough to be quick at a real CPU and Redis cost
(research/frontdoor.md §4). Here every enqueue also pushes a token on the list
``<namespace>:<queue>.bell``, in the same pipeline (one round trip), and a consumer that
found its queue empty waits on that list with ``BLPOP`` for at most its idle timeout:
a job reaches an idle worker in about a millisecond, and an idle worker makes a couple
of Redis calls per queue per second.

A token wakes one waiting consumer; a token nobody waits for is kept (at most
:data:`MAX_TOKENS` per queue) and only costs one extra fetch later. A consumer whose
prefetch is full does not wait on the bell (it would eat a token another consumer
needs); it sleeps :data:`BUSY_WAIT_S` locally, without calling Redis. If a token is
lost anyway, the timeout is the fallback: the message waits at most one idle timeout.

This leans on two private parts of Dramatiq 2.x's Redis broker — the ``dispatch``
script's arguments and ``_RedisConsumer`` — so the dependency is pinned in uv.lock and
the tests exercise both (libs/common/tests/test_doorbell.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import redis
from dramatiq.broker import Consumer, MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

#: Tokens kept per queue when no consumer is waiting (each costs one fetch later).
MAX_TOKENS = 64
#: Local sleep of a consumer whose prefetch is full (no Redis call is made meanwhile).
BUSY_WAIT_S = 0.005
#: Longest BLPOP wait, below the Redis client's socket timeout (5 s).
MAX_WAIT_S = 4.0


def bell_key(namespace: str, queue_name: str) -> str:
    """The doorbell list of ``queue_name``."""
    return f"{namespace}:{queue_name}.bell"


class DoorbellBroker(RedisBroker):
    """A :class:`RedisBroker` that rings a queue's doorbell with every enqueue."""

    @property
    def consumer_class(self) -> type[Consumer]:
        return DoorbellConsumer

    def do_enqueue(self, queue_name: str, *args: Any) -> Any:
        """The ``enqueue`` dispatch and the ring, pipelined: one round trip."""
        script = self.scripts["dispatch"]
        dispatch_args = [
            "enqueue",
            current_millis(),
            queue_name,
            self.broker_id,
            self.heartbeat_timeout,
            self.dead_message_ttl,
            self._should_do_maintenance("enqueue"),
            self._max_unpack_size(),  # type: ignore[no-untyped-call]
            *args,
        ]
        bell = bell_key(self.namespace, queue_name)
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(script.sha, 1, self.namespace, *dispatch_args)
        pipe.rpush(bell, b"1")
        pipe.ltrim(bell, -MAX_TOKENS, -1)
        try:
            return pipe.execute()[0]
        except redis.exceptions.NoScriptError:
            # Redis lost its script cache (a restart): the script call loads it. The
            # ring went through (a pipeline runs every command).
            return script(keys=[self.namespace], args=dispatch_args)


class DoorbellConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, waiting on its queue's doorbell when the queue is empty.

    Parameters (as Dramatiq passes them):
      broker: the :class:`DoorbellBroker`.
      queue_name: the queue it consumes.
      prefetch: most messages it holds at once.
      timeout: longest wait on the doorbell, in milliseconds (``dramatiq_worker_timeout``).
    """

    def __init__(self, broker: DoorbellBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.bell = bell_key(broker.namespace, queue_name)
        self.wait_s = min(max(timeout / 1000, 0.001), MAX_WAIT_S)

    def __next__(self) -> MessageProxy | None:
        try:
            while self.message_cache:
                data = self.message_cache.pop(0)
                if data is None:  # as Dramatiq's own consumer tolerates (its #266)
                    continue
                message = Message.decode(data)
                self.queued_message_ids.add(message.message_id)
                return MessageProxy(message)
            free = self.prefetch - self.outstanding_message_count
            if free <= 0:
                time.sleep(BUSY_WAIT_S)
                return None
            self.message_cache = self.broker.do_fetch(self.queue_name, free)
            if not self.message_cache:
                self._wait_for_bell()
            return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]

    def _wait_for_bell(self) -> None:
        # A socket timeout before the server's own: just fetch again.
        with contextlib.suppress(redis.TimeoutError):
            self.broker.client.blpop([self.bell], timeout=self.wait_s)
