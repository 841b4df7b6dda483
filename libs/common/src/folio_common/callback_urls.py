"""Which callback URLs Folio will POST to: checked at submission and again at delivery.

A callback is a request Folio makes on a client's behalf, so it must not reach anything
the client could not reach itself (SSRF): loopback, private networks, the cloud metadata
service (169.254.169.254). Every address a host resolves to must be public, and IPv6
forms that *carry* an IPv4 address are judged by that address (NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``, IPv4-mapped ``::ffff:a.b.c.d``) or refused outright when they are
obsolete or never public (IPv4-compatible ``::a.b.c.d``, site-local ``fec0::/10``,
Teredo, local-use NAT64 ``64:ff9b:1::/48``). The API checks at submission, so the
client hears why (422); the worker checks again at delivery, because DNS can change.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import SplitResult, urlsplit

#: Longest callback URL accepted.
MAX_URL_LENGTH = 2048
#: The characters RFC 3986 allows in a URL (percent-escapes included); no spaces, no CR/LF.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class CallbackRefused(ValueError):
    """The callback URL is not allowed; ``str()`` says why, for the client."""


class CallbackUnresolved(Exception):
    """The host could not be resolved: ``temporary`` when the resolver itself failed
    (``EAI_AGAIN``: worth trying again later), not when the name does not exist."""

    def __init__(self, message: str, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


def split_callback_url(url: str) -> tuple[SplitResult, int]:
    """(parts, port) of a well-formed absolute http(s) URL; :class:`CallbackRefused` else."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url must be at most {MAX_URL_LENGTH} characters")
    if not _URL_CHARACTERS.fullmatch(url):
        raise CallbackRefused(
            "callback_url may contain only URL characters (no spaces, control characters "
            "or non-ASCII; percent-encode them)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port out of range or not a number, a bad [IPv6]
        raise CallbackRefused(f"callback_url is malformed: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CallbackRefused("callback_url must be an absolute http(s) URL")
    if port == 0:
        raise CallbackRefused("callback_url's port must be 1-65535")
    return parts, port or (443 if parts.scheme == "https" else 80)


def address_problem(ip: Address) -> str | None:
    """Why ``ip`` is not a public address a callback may reach; None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return _public_or(ip.ipv4_mapped, f"{ip} is IPv4-mapped")
        if ip in _NAT64:
            return _public_or(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), f"{ip} is NAT64")
        if ip.sixtofour is not None:
            return _public_or(ip.sixtofour, f"{ip} is 6to4")
        if ip.teredo is not None:
            return f"{ip} is a Teredo address"
        if ip in _NAT64_LOCAL:
            return f"{ip} is a local-use NAT64 address"
        if ip in _IPV4_COMPATIBLE:
            return f"{ip} is an IPv4-compatible (or unspecified/loopback) address"
        if ip in _SITE_LOCAL:
            return f"{ip} is a site-local address"
    if not ip.is_global or ip.is_multicast:
        return f"{ip} is a non-public address"
    return None


def _public_or(ipv4: ipaddress.IPv4Address, form: str) -> str | None:
    problem = address_problem(ipv4)
    return f"{form} and carries {ipv4}, a non-public address" if problem else None


def resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``, unchecked; :class:`CallbackUnresolved` when DNS fails
    (which may be temporary)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        temporary = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
        raise CallbackUnresolved(f"cannot resolve {host}: {exc.strerror}", temporary) from None
    except UnicodeError:  # a label too long for IDNA
        raise CallbackUnresolved(f"cannot resolve {host}: not a valid name", False) from None
    return [str(info[4][0]) for info in infos]


def resolve_public(host: str, port: int) -> list[str]:
    """Every address of ``host``, all of them public; the caller connects to one of these.

    Raises :class:`CallbackRefused` naming a non-public address, and
    :class:`CallbackUnresolved` when DNS fails (which may be temporary).
    """
    addresses = resolve(host, port)
    for address in addresses:
        problem = address_problem(ipaddress.ip_address(address.split("%")[0]))
        if problem:
            raise CallbackRefused(f"callback_url's host {host} is refused: {problem}")
    return addresses


def check_at_submission(url: str, allow_private: bool) -> None:
    """Refuse a callback URL the worker would refuse (:class:`CallbackRefused`).

    A host that does not exist is refused; a DNS failure that may be temporary is let
    through, since the worker resolves again (and retries) at delivery.
    """
    parts, port = split_callback_url(url)
    if allow_private:
        return
    assert parts.hostname is not None
    try:
        resolve_public(parts.hostname, port)
    except CallbackUnresolved as exc:
        if not exc.temporary:
            raise CallbackRefused(
                f"callback_url's host {parts.hostname} does not resolve"
            ) from None
