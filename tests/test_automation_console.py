"""The admin pages for rules and macros, and the macro picker in the reply box."""

from __future__ import annotations

import json

import httpx

from ledgerdesk.automation.models import AutomationRule
from ledgerdesk.db.engine import Database
from tests.api_support import count
from tests.automation_support import open_conversation
from tests.conftest import World
from tests.test_auth_flow import csrf_of, login

RULE = {
    "trigger": "message.received",
    "conditions": [{"field": "text", "op": "contains", "value": "withdrawal"}],
    "actions": [{"type": "set_priority", "priority": "high"}],
}


async def test_an_admin_writes_a_rule_dry_runs_it_and_switches_it_off(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    dana = await world.make_customer()
    hit = await open_conversation(client, world.alice.headers, dana.id, "withdrawal stuck")
    await open_conversation(client, world.alice.headers, dana.id, "hello")
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, "/admin/automation")
    created = await client.post(
        "/admin/automation/rules",
        data={
            "csrf_token": csrf,
            "name": "Withdrawals",
            "spec": json.dumps(RULE),
            "enabled": "true",
        },
    )
    assert created.status_code == 303, created.text
    page = await client.get(created.headers["location"])
    assert page.status_code == 200 and "Withdrawals" in page.text
    rule_url = created.headers["location"]
    dry = await client.post(
        f"{rule_url}/dry-run", data={"csrf_token": csrf, "spec": json.dumps(RULE)}
    )
    assert dry.status_code == 200
    assert f'href="/conversations/{hit["id"]}"' in dry.text
    assert "1 of the last 2" in dry.text
    broken = await client.post(
        "/admin/automation/rules",
        data={"csrf_token": csrf, "name": "Broken", "spec": '{"trigger": "nope"'},
    )
    assert broken.status_code == 303 and "error=" in broken.headers["location"]
    shown = await client.get(broken.headers["location"])
    assert "not valid JSON" in shown.text
    rule_id = int(rule_url.rsplit("/", 1)[1])
    await client.post(f"/admin/automation/rules/{rule_id}/toggle", data={"csrf_token": csrf})
    async with db.session() as session:
        rule = await session.get(AutomationRule, rule_id)
    assert rule is not None and rule.is_enabled is False
    assert await count(db, AutomationRule) == 1


async def test_agents_cannot_open_the_admin_pages(client: httpx.AsyncClient, world: World) -> None:
    await login(client, "bob@example.org")
    for path in ("/admin/automation", "/admin/macros"):
        page = await client.get(path)
        assert page.status_code == 403, path


async def test_a_macro_written_by_an_admin_fills_an_agents_reply_box(
    client: httpx.AsyncClient, world: World
) -> None:
    dana = await world.make_customer("Dana Li")
    opened = await open_conversation(
        client, world.alice.headers, dana.id, "hi", team_id=world.support.id, language="zh-Hans"
    )
    await login(client, "alice@example.org")
    csrf = await csrf_of(client, "/admin/macros")
    saved = await client.post(
        "/admin/macros",
        data={
            "csrf_token": csrf,
            "name": "Greeting",
            "body_en": "Hello {{ customer.first_name }}",
            "body_zh": "{{ customer.name }}您好，我是{{ agent.name }}",
            "active": "true",
        },
    )
    assert saved.status_code == 303 and "error" not in saved.headers["location"]
    await client.post("/logout", data={"csrf_token": csrf})
    await login(client, "bob@example.org")
    page = await client.get(f"/conversations/{opened['id']}")
    assert f'hx-get="/conversations/{opened["id"]}/macros"' in page.text
    picker = await client.get(f"/conversations/{opened['id']}/macros")
    assert "Greeting" in picker.text
    bob_csrf = await csrf_of(client, f"/conversations/{opened['id']}")
    macro_id = picker.text.split('<option value="')[2].split('"')[0]
    filled = await client.post(
        f"/conversations/{opened['id']}/macros/insert",
        data={"csrf_token": bob_csrf, "macro": macro_id, "body": "Thanks."},
    )
    assert filled.status_code == 200
    assert "Thanks.\n\nDana Li您好，我是Bob Agent</textarea>" in filled.text
