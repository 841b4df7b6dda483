"""A closed-loop HTTP load generator, run as its own process so its CPU is not the server's.

``python -m bench.loadgen URL --clients N --duration S --body FILE [--header 'K: V']``
prints one JSON object: requests, errors, requests per second and latency percentiles
(ms) over the measured window. Each client is a thread with its own keep-alive
connection that sends the next request as soon as the last one is answered.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

from .report import percentile


class Client(threading.Thread):
    def __init__(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        start: float,
        warmup: float,
        stop: float,
    ) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._body = body
        self._headers = {**headers, "Content-Length": str(len(body))}
        self._measure_from = start + warmup
        self._stop_at = stop
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[int, int] = {}

    def run(self) -> None:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
        while (t0 := time.perf_counter()) < self._stop_at:
            try:
                conn.request("POST", self._path, body=self._body, headers=self._headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(self._host, self._port, timeout=30)
                status = 0
            t1 = time.perf_counter()
            if t0 >= self._measure_from and t1 <= self._stop_at:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status in (200, 202):
                    self.latencies.append((t1 - t0) * 1000)
                else:
                    self.errors += 1
        conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument("--body", required=True, help="file sent as each request's body")
    parser.add_argument("--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args(argv)
    with open(args.body, "rb") as fh:
        body = fh.read()
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    start = time.perf_counter()
    stop = start + args.warmup + args.duration
    clients = [
        Client(args.url, body, headers, start, args.warmup, stop) for _ in range(args.clients)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    latencies = [ms for c in clients for ms in c.latencies]
    statuses: dict[str, int] = {}
    for c in clients:
        for status, count in c.statuses.items():
            statuses[str(status)] = statuses.get(str(status), 0) + count
    result = {
        "clients": args.clients,
        "requests": len(latencies),
        "errors": sum(c.errors for c in clients),
        "statuses": statuses,
        "rps": len(latencies) / args.duration,
        "p50_ms": percentile(latencies, 50) if latencies else None,
        "p99_ms": percentile(latencies, 99) if latencies else None,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
