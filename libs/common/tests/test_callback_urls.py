"""Callback URL checks: every spelling of an internal address is refused, public ones pass."""

from __future__ import annotations

import ipaddress

import pytest
from folio_common.callback_urls import (
    CallbackRefused,
    CallbackUnresolved,
    address_problem,
    check_at_submission,
    resolve_public,
    split_callback_url,
)

#: IPv6 forms that carry (or stand for) an internal IPv4 address, and other non-public ones.
EMBEDDED_FORMS = [
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254 (the metadata service)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
    "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254
    "::127.0.0.1",  # IPv4-compatible loopback
    "::ffff:169.254.169.254",  # IPv4-mapped
    "::ffff:7f00:1",  # IPv4-mapped loopback, in hex
    "fec0::1",  # site-local (deprecated)
    "64:ff9b:1::a9fe:a9fe",  # local-use NAT64
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]


@pytest.mark.parametrize("address", EMBEDDED_FORMS)
def test_ipv6_forms_embedding_internal_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None
    with pytest.raises(CallbackRefused):
        resolve_public(address, 80)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2606:4700:4700::1111"]
)
def test_public_addresses_pass_even_when_embedded(address: str) -> None:
    # A DNS64 resolver hands out 64:ff9b::/96 for public hosts: those must still work.
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://example.com:99999/hook", "malformed"),
        ("http://example.com:0/hook", "port"),
        ("http://example.com:abc/hook", "malformed"),
        ("http://exa mple.com/hook", "URL characters"),
        ("http://example.com/a b", "URL characters"),
        ("http://example.com/\r\nX-Injected: 1", "URL characters"),
        ("http://exämple.com/", "URL characters"),
        ("ftp://example.com/", "http(s)"),
        ("//example.com/", "http(s)"),
        ("http://[::1/", "malformed"),
        ("http://example.com/" + "a" * 2100, "2048"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why.replace("(", r"\(").replace(")", r"\)")):
        split_callback_url(url)


def test_a_host_that_does_not_exist_is_refused_at_submission() -> None:
    with pytest.raises(CallbackRefused, match="does not resolve"):
        check_at_submission("https://no-such-host.invalid/hook", allow_private=False)
    with pytest.raises(CallbackUnresolved) as caught:
        resolve_public("no-such-host.invalid", 443)
    assert not caught.value.temporary


def test_allow_private_skips_only_the_address_check() -> None:
    check_at_submission("http://[::127.0.0.1]:8080/hook", allow_private=True)
    with pytest.raises(CallbackRefused):
        check_at_submission("http://127.0.0.1:99999/hook", allow_private=True)
