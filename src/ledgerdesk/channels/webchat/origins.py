"""Web origins (scheme://host[:port]) and the allowlist check. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_ORIGINS = 50


def normalise_origin(value: str) -> str:
    """``https://Shop.Example.com:443/`` → ``https://shop.example.com``; ValueError if not one."""
    text = value.strip()
    if not text or len(text) > 300:
        raise ValueError("an origin is scheme://host[:port], like https://www.example.com")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"{text!r} is not an origin (scheme://host[:port])") from None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{text!r} is not an origin: it must start with http:// or https://")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(
            f"{text!r} is not an origin: give only scheme://host[:port], without a path"
        )
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def normalise_origins(values: Iterable[str]) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        origin = normalise_origin(value)
        if origin not in cleaned:
            cleaned.append(origin)
    if len(cleaned) > MAX_ORIGINS:
        raise ValueError(f"at most {MAX_ORIGINS} allowed origins")
    return cleaned


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """May a page from ``origin`` use this inbox's widget?

    No Origin header means the request did not come from a script on another site
    (browsers send Origin on every cross-origin fetch and every POST), so there is
    nothing for an allowlist to decide. An empty allowlist allows every site: fine
    for trying things out, unsafe in production. ``null`` (sandboxed frames, file://
    pages) is allowed only by an empty allowlist.
    """
    allowed = list(allowed)
    if origin is None:
        return True
    if not allowed:
        return True
    try:
        return normalise_origin(origin) in allowed
    except ValueError:
        return False


def origin_of(url: str) -> str:
    """The origin of a full URL (``https://support.example.com/x`` → its origin)."""
    parts = urlsplit(url)
    return normalise_origin(f"{parts.scheme}://{parts.netloc}")
