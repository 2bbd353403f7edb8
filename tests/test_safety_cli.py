"""``ledgerdesk safety scan`` run as a real subprocess, as a user would run it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from mnemonic import Mnemonic

LEDGERDESK = Path(sys.executable).parent / "ledgerdesk"
SEED = Mnemonic("english").to_mnemonic(hashlib.sha256(b"cli").digest()[:16])


def run(stdin: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603  (our own entry point, fixed arguments)
        [str(LEDGERDESK), "safety", "scan", *args],
        input=stdin,
        capture_output=True,
        timeout=110,
        check=False,
    )


def test_it_prints_one_json_object_per_message() -> None:
    lines = [
        json.dumps(f"my seed is {SEED}"),
        json.dumps("请登录 harb0r.exchange 验证"),
        json.dumps("tx 0x" + "ab" * 32),
    ]
    done = run(("\n".join(lines) + "\n").encode(), "--official-domain", "harbor.exchange")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [o["line"] for o in out] == [1, 2, 3]
    assert out[0]["redacted"] == "my seed is [seed phrase removed]"
    assert [(f["kind"], f["start"], f["end"]) for f in out[0]["findings"]] == [
        ("mnemonic", 11, 11 + len(SEED))
    ]
    assert [f["kind"] for f in out[1]["findings"]] == ["phishing_link"]
    assert [f["kind"] for f in out[2]["findings"]] == ["tx_hash"]


def test_bad_lines_are_reported_by_number_and_the_rest_still_scanned() -> None:
    stdin = b"\n".join(
        [
            json.dumps("fine").encode(),
            f"{SEED} (not quoted)".encode(),
            b"42",
            b"\xff\xfe",
            b"",
            b'"\\ud800 lone surrogate"',
            json.dumps("also fine").encode(),
        ]
    )
    done = run(stdin + b"\n", "--locale", "zh")
    assert done.returncode == 1
    errors = done.stderr.decode().splitlines()
    assert [e.split(":")[1].strip() for e in errors] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert "surrogate" in errors[4]
    assert "got a JSON number" in errors[1]
    assert "UTF-8" in errors[2]
    # A bad line may be a secret: it is never echoed back.
    assert SEED.split()[0] not in done.stderr.decode()
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [(o["line"], o["redacted"]) for o in out] == [(1, "fine"), (7, "also fine")]


def test_denied_addresses_and_domains_come_from_options() -> None:
    address = "0x52908400098527886E0F7030069857D2E4169EE7"
    stdin = json.dumps(f"pay {address} at free-gift.xyz").encode() + b"\n"
    done = run(stdin, "--denied-address", address.lower(), "--denied-domain", "free-gift.xyz")
    assert done.returncode == 0, done.stderr.decode()
    kinds = {f["kind"] for f in json.loads(done.stdout)["findings"]}
    assert {"denied_address", "phishing_link", "address"} <= kinds
