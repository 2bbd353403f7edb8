"""Without any chain network configured, a transaction chip says so ("network not
configured") instead of showing nothing, and Check deposit is not offered; no node
is needed for this."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update

from ledgerdesk.accounts.models import Agent
from ledgerdesk.conversations.actions import do_create_conversation
from ledgerdesk.db.uow import UnitOfWork
from tests.conftest import World
from tests.test_auth_flow import login

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TX = "0x" + "ab" * 32


async def _conversation(world: World, body: str) -> int:
    dana = await world.make_customer("Dana")
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        conversation, _ = await do_create_conversation(uow, actor=None, customer=dana, body=body)
        await uow.commit()
    return conversation.id


async def test_a_hash_chip_says_network_not_configured(
    client: httpx.AsyncClient, world: World
) -> None:
    number = await _conversation(world, f"my deposit has not arrived, tx {TX}")
    await login(client, "alice@example.org")

    page = await client.get(f"/conversations/{number}")

    assert page.status_code == 200, page.text
    assert 'class="chip chip-tx_hash"' in page.text
    assert "network not configured" in page.text
    assert "/chain/deposit-check/" not in page.text and "/chain/tx-chip/" not in page.text
    chip = await client.get(f"/chain/tx-chip/{TX}")
    assert "network not configured" in chip.text
    panel = await client.get(f"/chain/deposit-check/{TX}?conversation_id={number}")
    assert panel.status_code == 200 and "network not configured" in panel.text
    assert "Insert into reply" not in panel.text


async def test_a_chinese_agent_reads_network_not_configured_in_chinese(
    client: httpx.AsyncClient, world: World
) -> None:
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        await uow.session.execute(
            update(Agent).where(Agent.email == "alice@example.org").values(language="zh_Hans")
        )
        await uow.commit()
    number = await _conversation(world, f"充值没到账 {TX}")
    await login(client, "alice@example.org")
    page = await client.get(f"/conversations/{number}")
    assert "未配置该网络" in page.text
