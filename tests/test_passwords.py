"""Password hashing: argon2id with the RFC 9106 low-memory profile in the product.

The suite swaps in argon2's cheapest parameters for speed (``conftest.py``); these
tests look at the module as a server process loads it, in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

from ledgerdesk.accounts.secrets import password_needs_rehash, verify_password

PASSWORD = "correct horse battery staple"


def _hash_in_a_fresh_process(password: str) -> str:
    script = (
        "import sys; from ledgerdesk.accounts.secrets import hash_password; "
        "print(hash_password(sys.argv[1]))"
    )
    done = subprocess.run(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-c", script, password], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_product_hashes_with_argon2id_64_mib_three_passes() -> None:
    hashed = _hash_in_a_fresh_process(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in hashed


def test_a_production_hash_verifies_and_a_wrong_password_does_not() -> None:
    hashed = _hash_in_a_fresh_process(PASSWORD)
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("not a hash", PASSWORD)


def test_a_hash_with_other_parameters_is_marked_for_rehashing() -> None:
    # In this process the suite's cheap parameters are current, so the product's
    # stronger hash counts as "other parameters": the same check the product makes
    # when its parameters are raised.
    assert password_needs_rehash(_hash_in_a_fresh_process(PASSWORD))
