"""End to end in a real browser: a customer chats from a host page, an agent answers live.

Headless Debian Chromium (/usr/bin/chromium, or LEDGERDESK_TEST_CHROMIUM) driven by
Playwright for Python, against the app served by a real uvicorn on loopback.
Screenshots of each run are kept under tests/artifacts/ (not committed).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from ledgerdesk.channels.webchat.actions import do_create_webchat_inbox
from ledgerdesk.channels.webchat.demo import DEMO_WIDGET_KEY
from ledgerdesk.db.uow import UnitOfWork
from tests.conftest import PASSWORD, LiveServer, World, _unavailable

CHROMIUM = os.environ.get("LEDGERDESK_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 10_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (one stat before the test)
        _unavailable(f"Chromium not found at {CHROMIUM}; apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str, request: pytest.FixtureRequest) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    label = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    await page.screenshot(path=str(ARTIFACTS / f"{label}-{name}.png"))


async def test_a_customer_and_an_agent_chat_live_in_real_browsers(
    browser: Browser,
    live_server: LiveServer,
    world: World,
    app: object,
    request: pytest.FixtureRequest,
) -> None:
    state = app.state.ledgerdesk  # type: ignore[attr-defined]
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        await do_create_webchat_inbox(
            uow,
            actor=None,
            box=state.box,
            name="Harbor web chat",
            default_team_id=world.support.id,
            allowed_origins=[live_server.url],
            widget_key=DEMO_WIDGET_KEY,
        )
        await uow.commit()

    # The agent logs into the console and waits on the inbox.
    agent_context = await browser.new_context(viewport={"width": 1400, "height": 900})
    agent = await agent_context.new_page()
    await agent.goto(f"{live_server.url}/login")
    await agent.fill("input[name=email]", "bob@example.org")
    await agent.fill("input[name=password]", PASSWORD)
    await agent.click("button[type=submit]")
    await agent.wait_for_url("**/inbox")
    await expect(agent.locator("#connection-state")).to_have_attribute(
        "data-state", "open", timeout=TIMEOUT_MS
    )

    # The customer opens the exchange's page and writes in the widget.
    customer_context = await browser.new_context(
        viewport={"width": 1200, "height": 850}, locale="en-US"
    )
    customer = await customer_context.new_page()
    await customer.goto(f"{live_server.url}/demo/host")
    await customer.locator("button.launch").click()
    question = "My USDT withdrawal has been pending for 3 hours"
    await customer.locator(".bar textarea").fill(question)
    await customer.locator("button.go").click()
    await expect(customer.locator(".msg", has_text=question)).to_be_visible(timeout=TIMEOUT_MS)

    # It appears in the agent's inbox without a reload; the agent opens it and answers.
    row = agent.locator("#inbox-rows tr[data-conversation-id]", has_text=question[:30])
    await expect(row).to_be_visible(timeout=TIMEOUT_MS)
    await shot(agent, "1-inbox", request)
    await row.locator("a").first.click()
    await expect(agent.locator("#thread")).to_contain_text(question, timeout=TIMEOUT_MS)
    answer = "We are checking the withdrawal on chain now; one moment please."
    await agent.locator("#composer textarea[name=body]").fill(answer)
    await agent.locator("#composer button[type=submit]").click()
    await expect(agent.locator("#thread li[data-message-id]", has_text=answer)).to_have_count(
        1, timeout=TIMEOUT_MS
    )

    # The customer sees the answer live, once.
    await expect(customer.locator(".msg", has_text=answer)).to_have_count(1, timeout=TIMEOUT_MS)
    await shot(customer, "2-widget", request)
    await shot(agent, "3-conversation", request)

    # A second customer message reaches the open conversation in the console.
    follow_up = "Thanks! The transaction hash is in my wallet history."
    await customer.locator(".bar textarea").fill(follow_up)
    await customer.locator("button.go").click()
    await expect(agent.locator("#thread", has_text=follow_up)).to_be_visible(timeout=TIMEOUT_MS)
    await agent_context.close()
    await customer_context.close()
