"""Webhook SSRF: the other spellings of internal addresses are refused at resolution, so
no packet is ever sent to them (test_webhooks.py covers the plain ones)."""

from __future__ import annotations

import pytest
from folio_common.settings import Settings

from folio_worker.webhooks import WebhookRefused, deliver, resolve_public


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",  # … in hex
        "0177.0.0.1",  # … in octal
        "127.1",  # … shortened
        "::ffff:127.0.0.1",  # IPv4-mapped IPv6
        "::ffff:169.254.169.254",  # the metadata service, IPv4-mapped
        "100.64.0.1",  # carrier-grade NAT
        "fd00::1",  # unique local IPv6
        "fe80::1",  # link-local IPv6
        "224.0.0.1",  # multicast
        "10.255.255.255",
        "172.16.0.1",
    ],
)
def test_other_spellings_of_internal_addresses_are_refused(host: str) -> None:
    with pytest.raises(WebhookRefused):
        resolve_public(host, 80, allow_private=False)


def test_refused_callback_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refusal happens before any socket is opened."""
    import socket

    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    settings = Settings.from_env({"WEBHOOK_ALLOW_PRIVATE": "false"})
    for url in ("http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/hook"):
        with pytest.raises(WebhookRefused):
            deliver(settings, url, "msg_x", {"status": "succeeded"})
