"""The console's "Check deposit" on a transaction chip, against two real local chains
(anvil as "Ethereum" and as "BNB Smart Chain"): credited, waiting for N more
confirmations, failed, not found, and found on the other network (the wrong-network
case), in the agent's language, with a customer sentence in the conversation's."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from ledgerdesk.accounts.models import Agent
from ledgerdesk.conversations.actions import do_create_conversation
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.settings import Settings, load_settings
from tests.chain_support import Anvil, call_data, start_anvil
from tests.conftest import World
from tests.test_auth_flow import login

# The panel reads the chain, not the database; SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BSC_CHAIN_ID = 56


@pytest.fixture(scope="module")
async def ethereum() -> AsyncIterator[Anvil]:
    async for node in start_anvil():
        yield node


@pytest.fixture(scope="module")
async def bsc() -> AsyncIterator[Anvil]:
    async for node in start_anvil(chain_id=BSC_CHAIN_ID):
        yield node


@pytest.fixture
def settings(tmp_path: Path, database_url: str, ethereum: Anvil, bsc: Anvil) -> Settings:
    networks = [
        ethereum.network_config("ethereum", label="Ethereum", confirmations=3),
        bsc.network_config("bsc", label="BNB Smart Chain", chain_id=BSC_CHAIN_ID, confirmations=3),
    ]
    return load_settings(
        environ={},
        data_dir=tmp_path,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
        chain_networks=json.dumps(networks),
    )


async def _conversation(world: World, body: str, language: str | None = None) -> int:
    dana = await world.make_customer("Dana")
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        conversation, _ = await do_create_conversation(
            uow, actor=None, customer=dana, body=body, language=language
        )
        await uow.commit()
    return conversation.id


async def _check_button(client: httpx.AsyncClient, number: int, tx_hash: str) -> str:
    """The conversation page's "Check deposit" URL for the chip of ``tx_hash``."""
    page = await client.get(f"/conversations/{number}")
    assert page.status_code == 200, page.text
    match = re.search(rf'hx-get="(/chain/deposit-check/{tx_hash}\?[^"]+)"', page.text)
    assert match, "the hash chip has a Check deposit action"
    return html.unescape(match.group(1))


def _verdict(panel: httpx.Response) -> str:
    assert panel.status_code == 200, panel.text
    match = re.search(r'class="deposit-verdict[^"]*"[^>]*><strong>([^<]+)</strong>', panel.text)
    assert match, panel.text
    return html.unescape(match.group(1))


def _sentence(panel: httpx.Response) -> str:
    match = re.search(r'<textarea id="deposit-sentence-(\w+)"[^>]*>([^<]*)</textarea>', panel.text)
    assert match, panel.text
    assert f'data-insert-draft="#deposit-sentence-{match.group(1)}"' in panel.text
    assert "Insert into reply" in panel.text or "插入回复" in panel.text
    return html.unescape(match.group(2))


async def test_a_deep_enough_transaction_is_credited_and_the_reply_says_so(
    client: httpx.AsyncClient, world: World, ethereum: Anvil
) -> None:
    tx_hash = await ethereum.send(to=ethereum.accounts[2], value=5 * 10**17)
    await ethereum.mine(4)
    number = await _conversation(world, f"My deposit has not arrived, tx {tx_hash}")
    await login(client, "alice@example.org")

    panel = await client.get(await _check_button(client, number, tx_hash))

    assert _verdict(panel) == "Credited: 5 confirmations on Ethereum (3 needed)"
    sentence = _sentence(panel)
    assert "is confirmed (5 confirmations; 3 are needed)" in sentence
    assert "0.5 ETH" in sentence and "on Ethereum" in sentence
    assert f"https://explorer.invalid/tx/{tx_hash}" in panel.text


async def test_a_shallow_transaction_is_waiting_for_more_confirmations(
    client: httpx.AsyncClient, world: World, ethereum: Anvil
) -> None:
    tx_hash = await ethereum.send(to=ethereum.accounts[3], value=10**17)
    number = await _conversation(world, f"sent 0.1 ETH, still not credited: {tx_hash}")
    await login(client, "alice@example.org")
    url = await _check_button(client, number, tx_hash)

    panel = await client.get(url)
    assert _verdict(panel) == "Waiting for 2 more confirmations on Ethereum (1 of 3)"
    assert "waiting for 2 more" in _sentence(panel)

    await ethereum.mine(1)
    panel = await client.get(url)
    assert _verdict(panel) == "Waiting for 1 more confirmations on Ethereum (2 of 3)"


async def test_a_reverted_transaction_is_reported_as_failed(
    client: httpx.AsyncClient, world: World, ethereum: Anvil
) -> None:
    token = await ethereum.deploy_token("USDT", 6)
    # Account 6 holds none of the token: the transfer reverts. A fixed gas limit makes
    # anvil mine it instead of refusing it at gas estimation.
    data = call_data(
        "transfer(address,uint256)", ["address", "uint256"], [ethereum.accounts[7], 10**6]
    )
    tx_hash = await ethereum.send(
        to=token, data=data, gas=100_000, **{"from": ethereum.accounts[6]}
    )
    assert (await ethereum.receipt(tx_hash))["status"] == "0x0"
    number = await _conversation(world, f"my USDT deposit failed? {tx_hash}")
    await login(client, "alice@example.org")

    panel = await client.get(await _check_button(client, number, tx_hash))

    assert _verdict(panel).startswith("Failed (reverted) on Ethereum")
    assert "failed on Ethereum (the network reverted it)" in _sentence(panel)


async def test_a_hash_on_the_other_network_is_the_wrong_network_case(
    client: httpx.AsyncClient, world: World, bsc: Anvil
) -> None:
    tx_hash = await bsc.send(to=bsc.accounts[2], value=10**18)
    number = await _conversation(world, f"deposit never arrived, tx {tx_hash}")
    await login(client, "alice@example.org")

    panel = await client.get(await _check_button(client, number, tx_hash))

    assert _verdict(panel) == "Not found on Ethereum (found on BNB Smart Chain: wrong network)"
    sentence = _sentence(panel)
    assert (
        "We did find the transaction" in sentence
        and "on BNB Smart Chain, not on Ethereum" in sentence
    )
    # The agent can look on the other network directly.
    [other] = re.findall(r'hx-get="(/chain/deposit-check/[^"]+network=bsc[^"]*)"', panel.text)
    on_bsc = await client.get(html.unescape(other))
    assert _verdict(on_bsc) == "Waiting for 2 more confirmations on BNB Smart Chain (1 of 3)"


async def test_a_hash_on_no_network_is_not_found(client: httpx.AsyncClient, world: World) -> None:
    tx_hash = "0x" + "ab" * 32
    number = await _conversation(world, f"where is my withdrawal {tx_hash}")
    await login(client, "alice@example.org")

    panel = await client.get(await _check_button(client, number, tx_hash))

    assert _verdict(panel) == "Not found on Ethereum"
    assert "We cannot find the transaction" in _sentence(panel)


async def test_the_deposit_address_in_the_message_is_checked_with_the_hash(
    client: httpx.AsyncClient, world: World, ethereum: Anvil
) -> None:
    deposit = ethereum.accounts[4]
    tx_hash = await ethereum.send(to=ethereum.accounts[5], value=10**17)
    await ethereum.mine(3)
    number = await _conversation(world, f"I sent to my deposit address {deposit}, tx {tx_hash}")
    await login(client, "alice@example.org")
    url = await _check_button(client, number, tx_hash)
    assert "address=" in url
    assert "Check deposit" in (await client.get(f"/conversations/{number}")).text

    panel = await client.get(url)

    assert _verdict(panel).startswith("Wrong address")
    assert deposit in panel.text
    assert "did not send funds to your deposit address" in _sentence(panel)


async def test_a_chinese_agent_reads_the_verdict_in_chinese_and_the_customer_gets_theirs(
    client: httpx.AsyncClient, world: World, ethereum: Anvil
) -> None:
    async with UnitOfWork(world.db.write_sessionmaker()) as uow:
        await uow.session.execute(
            update(Agent).where(Agent.email == "alice@example.org").values(language="zh_Hans")
        )
        await uow.commit()
    tx_hash = await ethereum.send(to=ethereum.accounts[2], value=10**18)
    await ethereum.mine(2)
    chinese = await _conversation(world, f"充值没到账 {tx_hash}", language="zh-Hans")
    english = await _conversation(world, f"deposit missing {tx_hash}", language="en")
    await login(client, "alice@example.org")

    panel = await client.get(await _check_button(client, chinese, tx_hash))
    assert _verdict(panel) == "已入账：Ethereum 上 3 个确认（需要 3 个）"
    assert "已确认（3 个确认，需要 3 个）" in _sentence(panel)
    assert "插入回复" in panel.text

    panel = await client.get(await _check_button(client, english, tx_hash))
    assert _verdict(panel).startswith("已入账")
    assert "is confirmed (3 confirmations; 3 are needed)" in _sentence(panel)


async def test_a_chip_past_the_requirement_says_confirmed_not_n_of_m(
    client: httpx.AsyncClient, world: World, ethereum: Anvil
) -> None:
    tx_hash = await ethereum.send(to=ethereum.accounts[2], value=1)
    await ethereum.mine(9)
    await login(client, "alice@example.org")

    chip = await client.get(f"/chain/tx-chip/{tx_hash}")

    assert "succeeded" in chip.text and "ethereum: 3+ confirmations" in chip.text
    assert " of 3" not in chip.text


async def test_the_panel_needs_access_to_the_conversation(
    client: httpx.AsyncClient, world: World
) -> None:
    tx_hash = "0x" + "cd" * 32
    response = await client.get(
        f"/chain/deposit-check/{tx_hash}?conversation_id=1", follow_redirects=False
    )
    assert response.status_code in (303, 401)
    await login(client, "alice@example.org")
    missing = await client.get(f"/chain/deposit-check/{tx_hash}?conversation_id=999999")
    assert missing.status_code == 404
    bad = await client.get(f"/chain/deposit-check/{tx_hash}?conversation_id=abc")
    assert bad.status_code == 422
