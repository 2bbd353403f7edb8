"""The chat widget's size as a visitor's browser downloads it: raw and gzipped.

    .venv/bin/python bench/widget_size.py

The gzipped figure is what `gzip -9 -c widget.js | wc -c` prints (GNU gzip, if it is
installed), and Python's own gzip at level 9 for comparison; docs/webchat.md quotes it.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

from machine import describe

WIDGET = Path(__file__).resolve().parent.parent / "src/ledgerdesk/channels/webchat/static/widget.js"


def main() -> None:
    raw = WIDGET.read_bytes()
    print(describe())
    print(f"widget.js: {len(raw):,} bytes raw")
    gzip_tool = shutil.which("gzip")
    if gzip_tool:
        out = subprocess.run([gzip_tool, "-9", "-c", str(WIDGET)], capture_output=True, check=True)  # noqa: S603
        print(f"widget.js: {len(out.stdout):,} bytes gzipped (gzip -9 -c widget.js | wc -c)")
    python = len(gzip.compress(raw, compresslevel=9, mtime=0))
    print(f"widget.js: {python:,} bytes gzipped (Python gzip, level 9)")


if __name__ == "__main__":
    main()
