"""What a failed attempt leaves on the job row: one short line, credentials masked.

A job's error is shown to admins and kept for weeks, so it must not carry a
webhook's secret or a password from a connection URL. Exception messages are
the usual leak: ``https://user:pass@host``, ``Authorization: Bearer ...``,
``token=...`` in a query string.
"""

from __future__ import annotations

import re

MAX_ERROR_CHARS = 1000
MASK = "***"

# Each pattern's group "head" is kept; what follows it, the secret, is masked.
_PATTERNS = (
    # scheme://user:password@host -> scheme://user:***@host
    re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(?=@)", re.IGNORECASE),
    # Authorization: Bearer xyz, Basic xyz
    re.compile(r"(?P<head>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    # secret=..., token: ..., "api_key": "...", password=...
    re.compile(
        r"(?P<head>\b[\w-]*(?:secret|token|password|passwd|api[_-]?key|signature)[\w-]*"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+",
        re.IGNORECASE,
    ),
)


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(rf"\g<head>{MASK}", text)
    return text


def describe_error(exc: BaseException) -> str:
    """``TypeName: message`` on one line, masked, at most MAX_ERROR_CHARS characters."""
    message = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return shorten(redact(line))


def shorten(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
