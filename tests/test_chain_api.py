"""The agents' chain routes, on two real anvil nodes (two chains) and one dead node."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledgerdesk.accounts.actions import do_create_agent, do_create_api_token
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.settings import Settings, load_settings
from tests.api_support import API, assert_error, bearer
from tests.chain_support import Anvil, call_data, dead_url, start_anvil
from tests.conftest import PASSWORD

# The chain routes read no table (the database only authenticates, which the other API
# tests cover on both databases), so these run on SQLite alone.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

ETHER = 10**18
SECRET_PATH = "/?apikey=k3y-never-shown"


@pytest.fixture(scope="module")
async def anvil() -> AsyncIterator[Anvil]:
    async for node in start_anvil():
        yield node


@pytest.fixture(scope="module")
async def other_chain() -> AsyncIterator[Anvil]:
    """A second chain, where a customer sends what belonged on the first."""
    async for node in start_anvil(chain_id=31338):
        yield node


@pytest.fixture(scope="module")
def down_url() -> str:
    return dead_url()


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, anvil: Anvil, other_chain: Anvil, down_url: str
) -> Settings:
    networks = [
        anvil.network_config("local", label="Local chain", rpc_url=anvil.url + SECRET_PATH),
        other_chain.network_config("other", label="Other chain", confirmations=1),
        anvil.network_config("down", label="Down chain", rpc_url=down_url, chain_id=5),
        anvil.network_config("mislabelled", chain_id=1),
    ]
    return load_settings(
        environ={},
        data_dir=tmp_path,
        environment="test",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        database_url=database_url,
        chain_networks=json.dumps(networks),
    )


@dataclass
class People:
    agent: dict[str, str]
    customer: dict[str, str]


@pytest.fixture
async def people(db: Database) -> People:
    """One agent and one customer: the whole World's password hashing is not needed here."""
    async with UnitOfWork(db.write_sessionmaker()) as uow:
        bob = await do_create_agent(
            uow, actor=None, email="bob@example.org", name="Bob Agent", password=PASSWORD
        )
        agent_token, _ = await do_create_api_token(
            uow, actor=None, name="tests", scopes=["conversations:read"], agent=bob
        )
        dana = await do_create_customer(uow, actor=None, name="Dana", email="dana@example.com")
        customer_token, _ = await do_create_api_token(
            uow, actor=None, name="widget", customer_id=dana.id, scopes=["conversations:read"]
        )
        await uow.commit()
    return People(bearer(agent_token), bearer(customer_token))


async def test_an_agent_sees_a_token_transfers_status(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    token = await anvil.deploy_token("USDT", 6)
    tx_hash = await anvil.transfer_tokens(token, anvil.accounts[3], 250_500_000)

    response = await client.get(f"{API}/chain/tx/local/{tx_hash}", headers=people.agent)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["network"], body["tx_hash"], body["status"]) == ("local", tx_hash, "succeeded")
    assert body["found"] is True and body["final"] is False
    assert (body["confirmations"], body["required_confirmations"]) == (1, 3)
    assert body["remaining_confirmations"] == 2
    assert body["value"] == "0" and body["value_text"] == "0 ETH"
    (transfer,) = body["transfers"]
    assert transfer["token"].lower() == token.lower()
    assert transfer["to_address"].lower() == anvil.accounts[3].lower()
    assert (transfer["amount"], transfer["amount_text"]) == ("250500000", "250.5 USDT")
    assert (transfer["symbol"], transfer["decimals"]) == ("USDT", 6)
    assert body["explorer_url"] == f"https://explorer.invalid/tx/{tx_hash}"
    assert SECRET_PATH not in response.text


async def test_amounts_beyond_json_numbers_stay_exact(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[9], value=1234 * ETHER + 1)

    body = (await client.get(f"{API}/chain/tx/local/{tx_hash}", headers=people.agent)).json()

    assert body["value"] == str(1234 * ETHER + 1)
    assert body["value_text"] == "1234.000000000000000001 ETH"


async def test_an_unknown_hash_is_a_not_found_status_not_an_error(
    client: httpx.AsyncClient, people: People
) -> None:
    response = await client.get(f"{API}/chain/tx/local/{'ab' * 32}", headers=people.agent)

    assert response.status_code == 200
    assert response.json()["status"] == "not_found"
    assert response.json()["tx_hash"] == "0x" + "ab" * 32


async def test_customers_and_strangers_cannot_look_up_transactions(
    client: httpx.AsyncClient, people: People
) -> None:
    url = f"{API}/chain/tx/local/0x{'ab' * 32}"

    assert_error(await client.get(url, headers=people.customer), 403, "agents")
    assert_error(await client.get(url), 401)


async def test_an_unknown_network_is_404_and_names_the_known_ones(
    client: httpx.AsyncClient, people: People
) -> None:
    response = await client.get(f"{API}/chain/tx/solana/0x{'ab' * 32}", headers=people.agent)

    error = assert_error(response, 404, "solana", "local", "other")
    assert error["code"] == "unknown_network"


@pytest.mark.parametrize("bad", ["0x1234", "not-a-hash", "0x" + "zz" * 32, "a" * 100])
async def test_a_malformed_hash_is_422(client: httpx.AsyncClient, people: People, bad: str) -> None:
    response = await client.get(f"{API}/chain/tx/local/{bad}", headers=people.agent)

    assert_error(response, 422, "64 hexadecimal")


async def test_an_overlong_path_is_422(client: httpx.AsyncClient, people: People) -> None:
    response = await client.get(f"{API}/chain/tx/local/{'a' * 101}", headers=people.agent)

    assert_error(response, 422)


async def test_a_dead_node_is_503_with_a_clear_message(
    client: httpx.AsyncClient, people: People
) -> None:
    response = await client.get(f"{API}/chain/tx/down/0x{'ab' * 32}", headers=people.agent)

    error = assert_error(response, 503, "Down chain", "cannot be reached")
    assert error["code"] == "chain_unavailable"


async def test_a_node_on_the_wrong_chain_is_503_naming_both_chain_ids(
    client: httpx.AsyncClient, people: People
) -> None:
    response = await client.get(f"{API}/chain/tx/mislabelled/0x{'ab' * 32}", headers=people.agent)

    error = assert_error(response, 503, "chain id 1", "31337", "LEDGERDESK_CHAIN_NETWORKS")
    assert error["code"] == "chain_misconfigured"
    assert SECRET_PATH not in response.text


async def test_the_networks_are_listed_without_their_node_urls(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    response = await client.get(f"{API}/chain/networks", headers=people.agent)

    assert response.status_code == 200
    assert [n["name"] for n in response.json()] == ["local", "other", "down", "mislabelled"]
    assert response.json()[0] == {
        "name": "local",
        "label": "Local chain",
        "kind": "evm",
        "chain_id": 31337,
        "confirmations": 3,
        "native_symbol": "ETH",
        "has_explorer": True,
    }
    assert anvil.url not in response.text


async def test_a_deposit_waits_for_confirmations_then_is_credited(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    deposit_address = anvil.accounts[5]
    tx_hash = await anvil.send(to=deposit_address, value=2 * ETHER)
    url = f"{API}/chain/deposit/local/{tx_hash}"
    params = {"address": deposit_address.lower(), "token": "native"}

    waiting = await client.get(url, params=params, headers=people.agent)
    assert waiting.status_code == 200, waiting.text
    assert waiting.json()["status"] == "confirming"
    assert waiting.json()["remaining_confirmations"] == 2
    assert "2 more to go" in waiting.json()["customer_texts"]["en"]
    assert "还需 2 个" in waiting.json()["customer_texts"]["zh-Hans"]

    await anvil.mine(2)
    credited = (await client.get(url, params=params, headers=people.agent)).json()
    assert credited["status"] == "credited"
    assert credited["amount_text"] == "2 ETH"
    assert "3/3 confirmations" in credited["agent_text"]


async def test_a_deposit_sent_on_the_other_chain_is_found_there(
    client: httpx.AsyncClient, people: People, other_chain: Anvil
) -> None:
    tx_hash = await other_chain.send(to=other_chain.accounts[1], value=ETHER)

    response = await client.get(
        f"{API}/chain/deposit/local/{tx_hash}",
        params={"address": other_chain.accounts[1]},
        headers=people.agent,
    )

    body = response.json()
    assert body["status"] == "not_found"
    assert body["found_on"] == ["other"]
    assert "Other chain" in body["customer_texts"]["en"]
    assert "Other chain" in body["customer_texts"]["zh-Hans"]


async def test_a_deposit_of_the_wrong_token_is_the_wrong_asset(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    usdt, other = await anvil.deploy_token("USDT", 6), await anvil.deploy_token("FAKE", 6)
    tx_hash = await anvil.transfer_tokens(other, anvil.accounts[6], 10**6)

    response = await client.get(
        f"{API}/chain/deposit/local/{tx_hash}",
        params={"address": anvil.accounts[6], "token": usdt},
        headers=people.agent,
    )

    assert response.json()["status"] == "wrong_asset"
    assert response.json()["amount_text"] == "1 FAKE"


async def test_a_deposit_paid_inside_a_contract_call_goes_to_a_person(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    forwarder = await anvil.deploy("Forwarder", [], [])
    deposit_address = "0x" + secrets.token_hex(20)
    data = call_data("forward(address)", ["address"], [deposit_address])
    tx_hash = await anvil.send(to=forwarder, data=data, value=ETHER)

    response = await client.get(
        f"{API}/chain/deposit/local/{tx_hash}",
        params={"address": deposit_address, "token": "native"},
        headers=people.agent,
    )

    assert response.json()["status"] == "needs_review", "not a false 'wrong address'"


async def test_a_deposit_check_on_a_dead_node_is_a_verdict_for_a_person(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    response = await client.get(
        f"{API}/chain/deposit/down/0x{'ab' * 32}",
        params={"address": anvil.accounts[1]},
        headers=people.agent,
    )

    assert response.status_code == 200
    assert response.json()["status"] == "unavailable"
    assert "cannot be reached" in response.json()["agent_text"]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"address": "0x1234"}, ["0x followed by 40"]),
        ({"address": "0x5aAeb6053f3E94C9b9A09f33669435E7Ef1BeAed"}, ["checksum"]),
        ({"address": "0x" + "11" * 20, "token": "usdt"}, ["native", "token contract"]),
        ({}, ["address"]),
    ],
)
async def test_a_deposit_check_with_a_bad_address_or_token_is_422(
    client: httpx.AsyncClient, people: People, params: dict[str, str], words: list[str]
) -> None:
    response = await client.get(
        f"{API}/chain/deposit/local/0x{'ab' * 32}", params=params, headers=people.agent
    )

    assert_error(response, 422, *words)


async def test_an_address_shows_its_balance(
    client: httpx.AsyncClient, people: People, anvil: Anvil
) -> None:
    address = "0x" + secrets.token_hex(20)
    await anvil.receipt(await anvil.send(to=address, value=ETHER // 2))

    response = await client.get(f"{API}/chain/address/local/{address}", headers=people.agent)

    assert response.status_code == 200, response.text
    assert response.json()["balance"] == str(ETHER // 2)
    assert response.json()["balance_text"] == "0.5 ETH"
