"""What an uploaded file really is, decided from its first bytes (not its name or the
Content-Type the browser declared). Pure functions, no I/O.

Only formats that browsers display without running anything are accepted: PNG,
JPEG, GIF, WebP and PDF. SVG is not (it may carry script), nor is HTML however it
is named.
"""

from __future__ import annotations

import re
import unicodedata

ALLOWED_TYPES: dict[str, str] = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
MAX_FILENAME = 200


def sniff(head: bytes) -> str | None:
    """The content type of a file that starts with ``head``, or None if not allowed."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/:*?<>|;]+")


def clean_filename(name: str | None, content_type: str) -> str:
    """A display name safe for Content-Disposition and screens; keeps Unicode letters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = _UNSAFE.sub("_", base).strip(" ._")
    if not base:
        base = "attachment" + ALLOWED_TYPES.get(content_type, "")
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        if dot and len(ext) <= 10:
            base = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_FILENAME]
    return base
