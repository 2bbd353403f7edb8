"""Console login: passwords, lockout, rate limits, TOTP two-factor, recovery codes, CSRF."""

from __future__ import annotations

import re

import httpx
import pyotp
from sqlalchemy import select

from ledgerdesk.accounts.models import Agent, RecoveryCode
from ledgerdesk.db.engine import Database
from tests.conftest import PASSWORD, World


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field in page"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    token = _field(page.text, "form_token")
    return await client.post(
        "/login", data={"email": email, "password": password, "form_token": token, "next": "/inbox"}
    )


async def csrf_of(client: httpx.AsyncClient, path: str = "/settings") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return _field(page.text, "csrf_token")


async def enable_totp(client: httpx.AsyncClient) -> tuple[pyotp.TOTP, list[str]]:
    csrf = await csrf_of(client)
    setup = await client.post("/settings/2fa/begin", data={"csrf_token": csrf})
    assert setup.status_code == 200
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text)
    assert secret, "the setup page shows the key for manual entry"
    totp = pyotp.TOTP(secret.group(1))
    done = await client.post("/settings/2fa/confirm", data={"csrf_token": csrf, "code": totp.now()})
    assert done.status_code == 200, done.text
    codes = re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", done.text)
    assert len(codes) == 10
    return totp, codes


async def test_it_logs_an_agent_in_with_a_secure_session_cookie(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await login(client, "bob@example.org")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox"
    cookie = response.headers["set-cookie"]
    assert "ld_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    inbox = await client.get("/inbox")
    assert inbox.status_code == 200
    assert "Bob Agent" in inbox.text


async def test_it_refuses_a_wrong_password_without_saying_which_part_was_wrong(
    client: httpx.AsyncClient, world: World
) -> None:
    wrong_password = await login(client, "bob@example.org", "not the password")
    unknown_user = await login(client, "nobody@example.org", "not the password")
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "Wrong email or password" in wrong_password.text
    assert "Wrong email or password" in unknown_user.text
    assert (await client.get("/inbox")).headers["location"].startswith("/login")


async def test_it_locks_an_account_after_repeated_failures(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    for _ in range(5):
        assert (await login(client, "bob@example.org", "guessing wrong")).status_code == 401
    locked = await login(client, "bob@example.org")
    assert locked.status_code == 401
    assert "locked" in locked.text
    async with db.sessionmaker() as session:
        bob = (
            await session.execute(select(Agent).where(Agent.email == "bob@example.org"))
        ).scalar_one()
        assert bob.locked_until is not None


async def test_it_rate_limits_logins_from_one_address(
    client: httpx.AsyncClient, world: World
) -> None:
    statuses = [
        (await login(client, f"user{i}@example.org", "x" * 12)).status_code for i in range(25)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429] * 5


async def test_it_refuses_a_login_form_without_its_token(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/login", data={"email": "bob@example.org", "password": PASSWORD, "form_token": "forged"}
    )
    assert response.status_code == 400
    assert "ld_session" not in response.headers.get("set-cookie", "")


async def test_two_factor_login_needs_the_current_code_once(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "bob@example.org")
    totp, _ = await enable_totp(client)
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})

    first_step = await login(client, "bob@example.org")
    assert first_step.headers["location"] == "/login/2fa"
    # Half-logged-in: neither the console nor the API opens yet.
    assert (await client.get("/inbox")).headers["location"] == "/login/2fa"
    assert (await client.get("/api/v1/me")).status_code == 401

    wrong = await client.post("/login/2fa", data={"code": "000000"})
    assert wrong.status_code == 401
    # The code used to turn 2FA on was consumed: a replay of exactly that code is refused,
    # whenever the test runs (it is rebuilt from the stored counter, not from the clock).
    async with db.sessionmaker() as session:
        bob = (
            await session.execute(select(Agent).where(Agent.email == "bob@example.org"))
        ).scalar_one()
    assert bob.totp_last_counter is not None
    used_code = totp.at(bob.totp_last_counter * totp.interval)
    replay = await client.post("/login/2fa", data={"code": used_code})
    assert replay.status_code == 401
    # A code from a later window still works: the refusal was about the replay.
    fresh = await client.post(
        "/login/2fa", data={"code": totp.at((bob.totp_last_counter + 1) * totp.interval)}
    )
    assert fresh.status_code == 303


async def test_a_recovery_code_works_once(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "bob@example.org")
    _, codes = await enable_totp(client)
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})

    await login(client, "bob@example.org")
    used = await client.post("/login/2fa", data={"code": codes[0]})
    assert used.status_code == 303 and used.headers["location"] == "/inbox"
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})

    await login(client, "bob@example.org")
    again = await client.post("/login/2fa", data={"code": codes[0]})
    assert again.status_code == 401
    async with db.sessionmaker() as session:
        stored = (await session.execute(select(RecoveryCode.code_hash))).scalars().all()
    assert codes[1].replace("-", "") not in " ".join(stored), "recovery codes are stored hashed"


async def test_the_totp_secret_is_stored_encrypted(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "bob@example.org")
    csrf = await csrf_of(client)
    setup = await client.post("/settings/2fa/begin", data={"csrf_token": csrf})
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text)
    assert secret
    async with db.sessionmaker() as session:
        bob = (
            await session.execute(select(Agent).where(Agent.email == "bob@example.org"))
        ).scalar_one()
    assert bob.totp_secret_encrypted
    assert secret.group(1) not in bob.totp_secret_encrypted


async def test_mandatory_two_factor_sends_agents_to_set_it_up(
    client: httpx.AsyncClient, app: object, world: World
) -> None:
    # Alice turns on 2FA for herself, then makes it mandatory.
    await login(client, "alice@example.org")
    await enable_totp(client)
    csrf = await csrf_of(client)
    policy = await client.post(
        "/settings/security", data={"csrf_token": csrf, "require_2fa": "true"}
    )
    assert policy.status_code == 303
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})

    first_step = await login(client, "bob@example.org")
    assert first_step.headers["location"] == "/login/setup-2fa"
    assert (await client.get("/inbox")).headers["location"] == "/login/2fa"
    setup = await client.get("/login/setup-2fa")
    assert setup.status_code == 200
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text)
    assert secret
    done = await client.post(
        "/login/setup-2fa",
        data={
            "code": pyotp.TOTP(secret.group(1)).now(),
            "csrf_token": _field(setup.text, "csrf_token"),
        },
    )
    assert done.status_code == 200
    assert (await client.get("/inbox")).status_code == 200
    # Now mandatory: Bob may not turn it off again.
    refused = await client.post("/settings/2fa/disable", data={"csrf_token": await csrf_of(client)})
    assert refused.status_code == 403


async def test_an_admin_cannot_require_2fa_without_having_it(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.put(
        "/api/v1/security", json={"require_2fa": True}, headers=world.alice.headers
    )
    assert response.status_code == 422
    assert "yourself first" in response.json()["error"]["message"]


async def test_console_forms_need_the_csrf_token(client: httpx.AsyncClient, world: World) -> None:
    await login(client, "bob@example.org")
    response = await client.post("/settings/language", data={"language": "zh_Hans"})
    assert response.status_code == 400
    assert "expired" in response.text


async def test_the_api_refuses_a_cookie_session_without_the_csrf_header(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "bob@example.org")
    assert (await client.get("/api/v1/me")).status_code == 200
    refused = await client.patch("/api/v1/me", json={"language": "zh_Hans"})
    assert refused.status_code == 403
    csrf = await csrf_of(client)
    allowed = await client.patch(
        "/api/v1/me", json={"language": "zh_Hans"}, headers={"X-CSRF-Token": csrf}
    )
    assert allowed.status_code == 200


async def test_logging_out_ends_the_session(client: httpx.AsyncClient, world: World) -> None:
    await login(client, "bob@example.org")
    cookie = client.cookies.get("ld_session")
    assert cookie
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})
    client.cookies.set("ld_session", cookie)
    assert (await client.get("/inbox")).status_code == 303


async def test_a_login_redirect_stays_on_this_site(client: httpx.AsyncClient, world: World) -> None:
    page = await client.get("/login", params={"next": "//evil.example/phish"})
    assert _field(page.text, "next") == "/inbox"
