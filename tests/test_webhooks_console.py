"""The admin page for outbound webhooks (/admin/webhooks) and the admin links of the
console's navigation. No job worker runs here (the test client sends no lifespan
events), so a delivery job stays queued where the test can see it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.app import create_app
from ledgerdesk.audit.models import AuditEntry
from ledgerdesk.automation.models import WebhookDelivery, WebhookSubscription
from ledgerdesk.db.engine import Database
from ledgerdesk.events.bus import MemoryEventBus
from ledgerdesk.jobs.models import DEAD, QUEUED, Job
from ledgerdesk.settings import Settings
from tests.api_support import API, count
from tests.automation_support import open_conversation
from tests.conftest import World
from tests.test_auth_flow import csrf_of, login

PAGE = "/admin/webhooks"
HOOK_URL = "https://hooks.example.com/ledgerdesk?token=abc"
ADMIN_LINKS = (
    "/admin/automation",
    "/admin/macros",
    "/admin/webhooks",
    "/admin/safety",
    "/admin/feedback",
    "/admin/jobs",
)
SECRET = re.compile(r'<code class="secret">(whsec_[A-Za-z0-9_-]+)</code>')


async def _create(
    client: httpx.AsyncClient, csrf: str, name: str = "CRM sync", **fields: Any
) -> httpx.Response:
    form: dict[str, Any] = {"csrf_token": csrf, "name": name, "url": HOOK_URL}
    form.update(fields)
    form.setdefault("events", ["conversation.created", "message.created"])
    return await client.post(PAGE, data=form)


async def _subscriptions(db: Database) -> list[WebhookSubscription]:
    async with db.session() as session:
        found = await session.execute(select(WebhookSubscription).order_by(WebhookSubscription.id))
        return list(found.scalars())


async def _audit(db: Database) -> list[str]:
    async with db.session() as session:
        found = await session.execute(
            select(AuditEntry.action)
            .where(AuditEntry.object_type == "webhook")
            .order_by(AuditEntry.id)
        )
        return list(found.scalars())


async def test_an_admin_creates_a_webhook_and_sees_its_secret_once(
    client: httpx.AsyncClient, world: World, db: Database, settings: Settings
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    created = await _create(client, csrf)
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    shown = SECRET.search(created.text)
    assert shown, "the page that answers the creation shows the secret"
    assert "docs/automation.md" in created.text and "Ledgerdesk-Signature" in created.text
    [hook] = await _subscriptions(db)
    assert hook.name == "CRM sync" and hook.url == HOOK_URL and hook.is_active
    assert hook.event_kinds == ["conversation.created", "message.created"]
    box = SecretBox(settings.secret_key_value())
    assert box.decrypt(hook.secret_encrypted) == shown.group(1)
    # Shown once: neither the list nor the webhook's own page has it again.
    listing = await client.get(PAGE)
    detail = await client.get(f"{PAGE}/{hook.id}")
    for page in (listing, detail):
        assert page.status_code == 200
        assert shown.group(1) not in page.text and "whsec_" not in page.text
    assert f'href="{PAGE}/{hook.id}"' in listing.text and HOOK_URL.replace("&", "&amp;") in (
        listing.text
    )
    assert "None yet" in listing.text
    assert await _audit(db) == ["webhook.saved"]


async def test_an_admin_disables_enables_and_deletes_a_webhook(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    assert (await _create(client, csrf)).status_code == 200
    [hook] = await _subscriptions(db)
    off = await client.post(f"{PAGE}/{hook.id}/toggle", data={"csrf_token": csrf})
    assert off.status_code == 303 and off.headers["location"] == f"{PAGE}/{hook.id}"
    [hook] = await _subscriptions(db)
    assert hook.is_active is False
    page = await client.get(f"{PAGE}/{hook.id}")
    assert "Disabled" in page.text and ">Enable</button>" in page.text
    on = await client.post(f"{PAGE}/{hook.id}/toggle", data={"csrf_token": csrf})
    assert on.status_code == 303
    assert (await _subscriptions(db))[0].is_active is True
    deleted = await client.post(f"{PAGE}/{hook.id}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 303 and deleted.headers["location"] == PAGE
    assert await _subscriptions(db) == []
    assert "No webhooks yet." in (await client.get(PAGE)).text
    assert await _audit(db) == ["webhook.saved"] * 3 + ["webhook.deleted"]


async def test_a_form_without_its_csrf_token_changes_nothing(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    assert (await _create(client, csrf)).status_code == 200
    [hook] = await _subscriptions(db)
    forged = await _create(client, "not-the-token", name="Forged")
    assert forged.status_code == 400 and "expired" in forged.text
    for action in ("toggle", "delete"):
        refused = await client.post(f"{PAGE}/{hook.id}/{action}", data={})
        assert refused.status_code == 400, action
    assert [(h.name, h.is_active) for h in await _subscriptions(db)] == [("CRM sync", True)]


async def test_agents_are_refused_the_webhook_pages(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    made = await client.post(
        f"{API}/webhooks",
        json={"name": "crm", "url": HOOK_URL, "events": ["message.created"]},
        headers=world.alice.headers,
    )
    hook_id = made.json()["id"]
    await login(client, "bob@example.org")
    csrf = await csrf_of(client, "/settings")
    for path in (PAGE, f"{PAGE}/{hook_id}"):
        page = await client.get(path)
        assert page.status_code == 403, path
        assert page.headers["content-type"].startswith("text/html")
        assert "only admins" in page.text
    assert (await _create(client, csrf, name="Bob's")).status_code == 403
    for action in ("toggle", "delete"):
        refused = await client.post(f"{PAGE}/{hook_id}/{action}", data={"csrf_token": csrf})
        assert refused.status_code == 403, action
    assert [(h.name, h.is_active) for h in await _subscriptions(db)] == [("crm", True)]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"url": "http://127.0.0.1:8080/hook"}, 422, "may not call private or loopback"),
        ({"url": "http://printer.local/hook"}, 422, "may not call internal hosts"),
        ({"url": "ftp://example.com/hook"}, 422, "must start with https://"),
        ({"url": "https://user:pw@example.com/hook"}, 422, "not in the webhook URL"),
        ({"url": "https://example.com:99999/hook"}, 422, "invalid port"),
        ({"url": "https://example.com/" + "a" * 2000}, 422, "longer than 2000 characters"),
        ({"url": ""}, 422, "A webhook needs a URL."),
        ({"events": []}, 422, "Choose at least one event."),
        ({"events": ["ticket.exploded"]}, 422, "Unknown event: ticket.exploded"),
        ({"name": "  "}, 422, "Give the webhook a name"),
        ({"name": "CRM\x00"}, 422, "may not contain NUL characters"),
        ({"url": "https://example.com/\x00"}, 422, "may not contain NUL characters"),
    ],
)
async def test_a_bad_or_private_url_gets_a_form_error_and_keeps_the_form(
    client: httpx.AsyncClient,
    world: World,
    db: Database,
    fields: dict[str, Any],
    status: int,
    message: str,
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    fields = dict(fields)  # the parameter is shared by the SQLite and PostgreSQL runs
    answer = await _create(client, csrf, name=fields.pop("name", "Kept name"), **fields)
    assert answer.status_code == status, answer.text
    error = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>', answer.text)
    assert error and message in error.group(1), answer.text
    if fields.get("url"):
        assert f'value="{fields["url"]}"' in answer.text, "the URL typed stays in the form"
    assert await _subscriptions(db) == []
    assert await _audit(db) == []


async def test_a_name_already_used_gets_a_form_error(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    assert (await _create(client, csrf)).status_code == 200
    again = await _create(client, csrf)
    assert again.status_code == 409
    assert "a webhook named &#39;CRM sync&#39; already exists" in again.text
    assert len(await _subscriptions(db)) == 1


@pytest.fixture
async def private_client(
    settings: Settings, db: Database, bus: MemoryEventBus
) -> AsyncIterator[httpx.AsyncClient]:
    allowing = settings.model_copy(update={"webhook_allow_private_urls": True})
    transport = httpx.ASGITransport(app=create_app(allowing, db=db, bus=bus))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_a_private_url_is_accepted_when_the_setting_allows_it(
    private_client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(private_client, "alice@example.org")
    csrf = await csrf_of(private_client, PAGE)
    answer = await _create(private_client, csrf, url="http://127.0.0.1:8080/hook")
    assert answer.status_code == 200 and SECRET.search(answer.text)
    assert [h.url for h in await _subscriptions(db)] == ["http://127.0.0.1:8080/hook"]


async def _deliver_jobs(db: Database) -> list[Job]:
    async with db.session() as session:
        found = await session.execute(
            select(Job).where(Job.kind == "webhook.deliver").order_by(Job.id)
        )
        return list(found.scalars())


async def test_a_failed_delivery_is_shown_and_redelivered_as_a_new_job(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    made = await client.post(
        f"{API}/webhooks",
        json={"name": "crm", "url": HOOK_URL, "events": ["conversation.created"]},
        headers=world.alice.headers,
    )
    hook_id = made.json()["id"]
    dana = await world.make_customer("Dana")
    await open_conversation(client, world.alice.headers, dana.id, "withdrawal stuck")
    [job] = await _deliver_jobs(db)
    delivery_id = job.payload["delivery_id"]
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    page = await client.get(f"{PAGE}/{hook_id}")
    row = page.text.split(f'id="delivery-{delivery_id}"')[1].split("</tr>")[0]
    assert "Waiting to send" in row and job.run_at.strftime("%Y-%m-%d %H:%M:%S UTC") in row
    assert "Redeliver" not in row, "a pending delivery already has its job"

    # Eight attempts failed: the delivery is failed, its job dead.
    async with db.writer() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(status="failed", status_code=503, last_error="HTTP 503", attempts=8)
        )
        await session.execute(update(Job).where(Job.id == job.id).values(status=DEAD))
        await session.commit()
    listing = await client.get(PAGE)
    assert "Failed" in listing.text and "HTTP 503" in listing.text
    page = await client.get(f"{PAGE}/{hook_id}")
    row = page.text.split(f'id="delivery-{delivery_id}"')[1].split("</tr>")[0]
    assert "Failed" in row and "HTTP 503" in row and "<td>8</td>" in row
    action = f"{PAGE}/{hook_id}/deliveries/{delivery_id}/redeliver"
    assert f'action="{action}"' in row

    again = await client.post(action, data={"csrf_token": csrf})
    assert again.status_code == 303 and again.headers["location"] == f"{PAGE}/{hook_id}"
    jobs = await _deliver_jobs(db)
    assert [(j.status, j.payload) for j in jobs] == [
        (DEAD, {"delivery_id": delivery_id}),
        (QUEUED, {"delivery_id": delivery_id}),
    ]
    assert await count(db, WebhookDelivery, WebhookDelivery.status == "pending") == 1
    assert await _audit(db) == ["webhook.saved", "webhook.redelivered"]
    # A second click finds it pending: refused on the page, no third job.
    twice = await client.post(action, data={"csrf_token": csrf})
    assert twice.status_code == 409 and "only a failed delivery" in twice.text
    assert len(await _deliver_jobs(db)) == 2


async def test_a_delivery_of_another_webhook_cannot_be_redelivered_through_this_one(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    ids = []
    for name in ("one", "two"):
        made = await client.post(
            f"{API}/webhooks",
            json={"name": name, "url": HOOK_URL, "events": ["conversation.created"]},
            headers=world.alice.headers,
        )
        ids.append(made.json()["id"])
    dana = await world.make_customer("Dana")
    await open_conversation(client, world.alice.headers, dana.id, "hello")
    async with db.writer() as session:
        found = await session.execute(
            select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == ids[0])
        )
        delivery_id = found.scalar_one()
        await session.execute(update(WebhookDelivery).values(status="failed"))
        await session.commit()
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, PAGE)
    wrong = await client.post(
        f"{PAGE}/{ids[1]}/deliveries/{delivery_id}/redeliver", data={"csrf_token": csrf}
    )
    assert wrong.status_code == 404
    assert len(await _deliver_jobs(db)) == 2


async def test_the_navigation_links_every_admin_page_for_admins_only(
    client: httpx.AsyncClient, world: World
) -> None:
    await login(client, "alice@example.org")
    inbox = await client.get("/inbox")
    for path in ADMIN_LINKS:
        assert f'<a href="{path}">' in inbox.text, path
    await client.post("/logout", data={"csrf_token": await csrf_of(client)})
    await login(client, "bob@example.org")
    inbox = await client.get("/inbox")
    assert inbox.status_code == 200 and "Bob Agent" in inbox.text
    for path in ADMIN_LINKS:
        assert f'href="{path}"' not in inbox.text, path


async def test_the_webhook_pages_speak_chinese_to_a_chinese_speaking_admin(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    await login(client, "alice@example.org")
    csrf = await csrf_of(client)
    await client.post("/settings/language", data={"csrf_token": csrf, "language": "zh_Hans"})
    page = await client.get(PAGE)
    assert page.status_code == 200 and 'lang="zh-Hans"' in page.text
    for words in ("新建 Webhook", "创建 Webhook", "会话被创建", "暂无 Webhook。", "后台任务"):
        assert words in page.text, words
    refused = await _create(client, csrf, events=[])
    assert refused.status_code == 422 and "请至少选择一个事件。" in refused.text
    created = await _create(client, csrf)
    assert "签名密钥" in created.text and "此密钥只显示这一次" in created.text
    [hook] = await _subscriptions(db)
    detail = await client.get(f"{PAGE}/{hook.id}")
    assert "最近的投递" in detail.text and "停用" in detail.text
