"""``ledgerdesk safety scan``: run the detectors on your own data, one JSON string a line."""

from __future__ import annotations

import json
import sys
from typing import BinaryIO, TextIO

import click


@click.group()
def safety() -> None:
    """Secret, address, phishing and scam detectors."""


@safety.command()
@click.option(
    "--official-domain",
    "official_domains",
    multiple=True,
    metavar="DOMAIN",
    help="an official domain of the platform (repeatable); look-alikes are flagged",
)
@click.option(
    "--denied-domain",
    "denied_domains",
    multiple=True,
    metavar="DOMAIN",
    help="a scam domain (repeatable)",
)
@click.option(
    "--denied-address",
    "denied_addresses",
    multiple=True,
    metavar="ADDRESS",
    help="a scam address (repeatable)",
)
@click.option(
    "--locale", default="en", show_default=True, help="language of the redaction labels (en, zh...)"
)
def scan(
    official_domains: tuple[str, ...],
    denied_domains: tuple[str, ...],
    denied_addresses: tuple[str, ...],
    locale: str,
) -> None:
    """Read messages from stdin, one JSON string per line; print one JSON object per line.

    Each output line is {"line", "redacted", "findings": [{"kind", "start", "end", ...}]}.
    A line that is not a JSON string is reported on stderr with its number and skipped;
    the exit status is then 1.
    """
    bad = scan_stream(
        sys.stdin.buffer,
        sys.stdout,
        sys.stderr,
        official_domains=official_domains,
        denied_domains=denied_domains,
        denied_addresses=denied_addresses,
        locale=locale,
    )
    if bad:
        sys.exit(1)


def scan_stream(
    source: BinaryIO,
    out: TextIO,
    err: TextIO,
    *,
    official_domains: tuple[str, ...] = (),
    denied_domains: tuple[str, ...] = (),
    denied_addresses: tuple[str, ...] = (),
    locale: str = "en",
) -> int:
    """Scan every line of ``source``; return the number of bad lines."""
    from ledgerdesk.safety.scam import denied_address_set
    from ledgerdesk.safety.scan import scan_text

    denied = denied_address_set(denied_addresses)
    bad = 0
    for number, raw in enumerate(source, start=1):
        problem: str | None = None
        text: object = None
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"not UTF-8 (byte {exc.start + 1})"
        else:
            if not line.strip():
                problem = "empty line; expected a JSON string"
            else:
                try:
                    text = json.loads(line)
                except json.JSONDecodeError as exc:
                    problem = f"not JSON: {exc.msg} at column {exc.colno}"
                else:
                    if not isinstance(text, str):
                        problem = f"expected a JSON string, got a JSON {_json_type(text)}"
                    elif not _encodable(text):
                        problem = "the string holds an unpaired surrogate (\\ud800-\\udfff)"
        if problem is not None or not isinstance(text, str):
            bad += 1
            # The line itself may hold a secret: only its number is echoed.
            err.write(f"ledgerdesk safety scan: line {number}: {problem}\n")
            continue
        result = scan_text(
            text,
            official_domains=official_domains,
            denied_domains=denied_domains,
            denied_addresses=denied,
            locale=locale,
        )
        out.write(json.dumps({"line": number, **result.to_dict()}, ensure_ascii=False) + "\n")
    out.flush()
    return bad


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object"
