"""The SSRF guard for webhook URLs: http(s) only, and no private, loopback, link-local
or otherwise internal address unless ``LEDGERDESK_WEBHOOK_ALLOW_PRIVATE_URLS`` is on
(tests and a developer's laptop). The check runs when a subscription is saved (the
literal host) and again before every delivery (every address the name resolves to),
so a name that later points inside the network is refused too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ledgerdesk.errors import InvalidInput

BLOCKED_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal")


class BlockedAddress(InvalidInput):
    """The URL leads to an address webhooks may not call."""


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if it is acceptable as written; raises InvalidInput saying why not."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("a webhook URL must start with https:// (or http://)")
    if not parts.hostname:
        raise InvalidInput("a webhook URL needs a host name")
    if parts.username or parts.password:
        raise InvalidInput("put credentials in the signing secret, not in the webhook URL")
    try:
        _ = parts.port
    except ValueError:
        raise InvalidInput("the webhook URL has an invalid port") from None
    if allow_private:
        return url.strip()
    host = parts.hostname.rstrip(".").lower()
    if host in BLOCKED_NAMES or host.endswith((".localhost", ".internal", ".local")):
        raise BlockedAddress(f"webhooks may not call internal hosts ({host})")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return url.strip()
    if _is_internal(literal):
        raise BlockedAddress(f"webhooks may not call private or loopback addresses ({host})")
    return url.strip()


async def check_resolved(url: str, *, allow_private: bool) -> None:
    """Before a delivery: every address the host resolves to must be public."""
    check_url(url, allow_private=allow_private)
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInput(f"the webhook host {host} does not resolve ({exc.strerror})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _is_internal(address):
            raise BlockedAddress(f"the webhook host {host} resolves to an internal address")
