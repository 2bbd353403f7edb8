"""A description of the machine a benchmark ran on, printed with every result."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown memory"


def _version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)  # noqa: S603
    except OSError:
        return "not found"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else "?"


def describe() -> str:
    import sqlite3

    return "\n".join(
        [
            f"machine: {_cpu_model()}, {os.cpu_count()} cores, {_memory_gib()}",
            f"os: {platform.platform()}",
            f"python: {platform.python_version()}, sqlite {sqlite3.sqlite_version}",
            f"postgresql: {_version(['psql', '--version'])}",
        ]
    )
