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
from sqlalchemy import func, select

from ledgerdesk.assistant.runtime import AssistantRuntime
from ledgerdesk.channels.webchat.actions import do_create_webchat_inbox
from ledgerdesk.channels.webchat.assistant import register_runtime
from ledgerdesk.channels.webchat.demo import DEMO_WIDGET_KEY
from ledgerdesk.conversations.models import Conversation
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.jobs.service import create_job_runner
from ledgerdesk.knowledge.transfer import import_directory
from ledgerdesk.settings import Settings
from tests.assistant_fixtures import write_kb
from tests.conftest import PASSWORD, LiveServer, World, _unavailable
from tests.jobs_support import FAST_JOB_SETTINGS

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


async def test_the_widget_shows_the_assistants_answer_with_its_links_and_buttons(
    browser: Browser,
    live_server: LiveServer,
    world: World,
    app: object,
    settings: Settings,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """The assistant answers first (channels/webchat/assistant.py), through the real job
    worker; BM25 only, as the browser flow is under test here, not the embedding model."""
    state = app.state.ledgerdesk  # type: ignore[attr-defined]
    lexical = AssistantRuntime(settings.model_copy(update={"assistant_dense": False}))
    app.state.assistant = lexical  # type: ignore[attr-defined]
    register_runtime(lexical)
    await import_directory(world.db, write_kb(tmp_path / "kb"))
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
    runner = create_job_runner(settings.model_copy(update=FAST_JOB_SETTINGS), world.db, state.bus)
    await runner.start()
    try:
        context = await browser.new_context(viewport={"width": 1200, "height": 850}, locale="en-US")
        customer = await context.new_page()
        await customer.goto(f"{live_server.url}/demo/host")
        await customer.locator("button.launch").click()
        await customer.locator(".bar textarea").fill("I forgot the memo for my XRP deposit")
        await customer.locator("button.go").click()
        answer = customer.locator(".msg", has=customer.locator("a.src"))
        await expect(answer).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(answer.locator(".who").first).to_have_text("Assistant")
        link = answer.locator("a.src", has_text="I forgot the memo or tag on my deposit")
        await expect(link).to_have_attribute(
            "href", f"{live_server.url}/help/en/a/missing-memo-tag"
        )
        helped = answer.get_by_role("button", name="This helped")
        await expect(helped).to_be_visible()
        await expect(answer.get_by_role("button", name="Talk to a person")).to_be_visible()
        await shot(customer, "assistant-answer", request)
        await helped.click()
        await expect(customer.locator(".msg.system", has_text="Glad it helped!")).to_be_visible(
            timeout=TIMEOUT_MS
        )
        await expect(answer.get_by_role("button", name="This helped")).to_have_count(0)
        await context.close()

        # The agent sees the assistant's turn and its suggestions, and inserts the draft.
        async with world.db.sessionmaker() as session:
            number = await session.scalar(select(func.max(Conversation.id)))
        agent_context = await browser.new_context(viewport={"width": 1400, "height": 900})
        agent = await agent_context.new_page()
        await agent.goto(f"{live_server.url}/login")
        await agent.fill("input[name=email]", "bob@example.org")
        await agent.fill("input[name=password]", PASSWORD)
        await agent.click("button[type=submit]")
        await agent.wait_for_url("**/inbox")
        await agent.goto(f"{live_server.url}/conversations/{number}")
        await expect(agent.locator("#thread li.author-assistant")).to_have_count(1)
        panel = agent.locator("#assistant-panel")
        await expect(panel.locator(".suggested-articles a").first).to_have_text(
            "I forgot the memo or tag on my deposit", timeout=TIMEOUT_MS
        )
        await panel.get_by_role("button", name="Insert").click()
        await expect(agent.locator("#composer textarea[name=body]")).to_have_value(
            re.compile("/help/en/a/missing-memo-tag")
        )
        await shot(agent, "assistant-panel", request)
        await agent_context.close()
    finally:
        await runner.stop()
