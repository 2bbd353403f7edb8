"""Signed replies and the verify check on one core: signatures, checks and questions per second.

    .venv/bin/python bench/signing_bench.py

Signing runs once per agent reply (inside the reply's transaction); verifying and
answering questions run on the public /verify endpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from ledgerdesk.safety.signing import (
    generate_private_key,
    sign_message,
    signed_block,
    split_pasted,
    verify_signed,
)
from ledgerdesk.safety.verify import Channel, find_match, normalise_channel, parse_question
from machine import describe

BODY = (
    "Your deposit of 0.5 ETH (tx "
    "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060) is credited. "
    "We never ask for your seed phrase or private keys.\n\n— Harbor support"
)
QUESTIONS = (
    "@HarborSupport",
    "t.me/harborsupport_help",
    "https://support.harbor.example/ticket/1",
    "support@harbor.example",
    "+44 20 7946 0000",
    "https://harbor-login.example/verify",
)


def rate(label: str, work: Callable[[], object], seconds: float = 1.5) -> None:
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            work()
        done += 100
    print(f"{label}: {done / elapsed:,.0f}/s")


def main() -> None:
    print(describe())
    key = generate_private_key()
    now = datetime.now(UTC)

    def sign() -> str:
        return sign_message(
            key,
            key_id="ed25519-20261128-00000001",
            conversation=1042,
            message_id=5581,
            agent_name="Mei Chen",
            created_at=now,
            body=BODY,
        ).token

    token = sign()
    block = signed_block(BODY, token)
    public = key.public_key()

    def check() -> object:
        pasted = split_pasted(block)
        return verify_signed(public, pasted.token, pasted.body)

    channels = [
        Channel(kind, normalise_channel(kind, value))
        for kind, value in (
            ("domain", "harbor.example"),
            ("telegram", "@HarborSupport"),
            ("email", "support@harbor.example"),
            ("phone", "+44 20 7946 0000"),
        )
    ]
    questions = iter(QUESTIONS * 10**7)

    def answer() -> object:
        return find_match(parse_question(next(questions)), channels)

    rate("sign a reply (Ed25519, canonical form, token)", sign)
    rate("check a pasted message (split, parse, verify)", check)
    rate("answer a verify question (parse, normalise, match; no database)", answer)


if __name__ == "__main__":
    main()
