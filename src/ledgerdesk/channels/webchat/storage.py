"""Where attachment bytes live: a small interface, a local-disk store and an in-memory one.

Files are content-addressed by SHA-256: the same bytes uploaded twice are stored
once, and a name cannot be guessed from anything but the content. Who may read a
file is the database's business (webchat_attachments), not the store's.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class AttachmentStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store ``data``; returns its SHA-256 (hex). Storing the same bytes again is a no-op."""

    async def get(self, sha256: str) -> bytes | None:
        """The bytes stored under ``sha256``, or None."""


class LocalAttachmentStore:
    """Files under ``root/ab/cd/<sha256>``, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if not SHA256_HEX.match(sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, digest, data)
        return digest

    def _write(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{digest}.{secrets.token_hex(4)}.tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    async def get(self, sha256: str) -> bytes | None:
        path = self._path(sha256)
        return await asyncio.to_thread(_read_or_none, path)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class MemoryAttachmentStore:
    """For tests and throwaway installs: forgets everything when the process ends."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}

    async def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self._files.setdefault(digest, data)
        return digest

    async def get(self, sha256: str) -> bytes | None:
        return self._files.get(sha256)
