"""Bitcoin look-ups over the Esplora API.

A local server answers with recorded Esplora responses; it stands in for
blockstream.info/api and mempool.space/api, which the tests cannot reach.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from ledgerdesk.chain.esplora import EsploraClient
from ledgerdesk.chain.interface import ChainUnavailable, InvalidAddress, InvalidTxHash, TxStatus
from tests.chain_support import (
    CHANGE_ADDRESS,
    CONFIRMED_TX,
    CONFIRMED_TXID,
    DEPOSIT_ADDRESS,
    MISSING_TXID,
    SENDER_ADDRESS,
    TAPROOT_ADDRESS,
    UNCONFIRMED_TXID,
    FakeEsplora,
    dead_url,
    start_fake_esplora,
)


@pytest.fixture
async def esplora() -> AsyncIterator[FakeEsplora]:
    async for fake in start_fake_esplora():
        yield fake


@pytest.fixture
def client(esplora: FakeEsplora) -> EsploraClient:
    return EsploraClient(esplora.network())


async def test_a_confirmed_transaction_counts_its_confirmations_from_the_tip(
    esplora: FakeEsplora, client: EsploraClient
) -> None:
    info = await client.lookup_transaction(CONFIRMED_TXID)

    height = CONFIRMED_TX["status"]["block_height"]
    assert info.status is TxStatus.SUCCEEDED
    assert info.block_number == height
    assert info.confirmations == esplora.tip_height - height + 1
    assert info.block_time == datetime.fromtimestamp(CONFIRMED_TX["status"]["block_time"], UTC)
    assert info.from_address == SENDER_ADDRESS
    assert info.to_address is None, "two paying outputs: no single recipient"
    assert [(t.to_address, t.amount_text) for t in info.transfers] == [
        (DEPOSIT_ADDRESS, "0.15 BTC"),
        (CHANGE_ADDRESS, "2.36868296 BTC"),
    ]
    assert info.value == 15_000_000 + 236_868_296
    assert info.fee_text == "0.00005104 BTC"
    assert info.explorer_url == f"https://mempool.space/tx/{CONFIRMED_TXID}"
    assert info.final

    esplora.tip_height = height  # the block that holds it is the newest
    shallow = await client.lookup_transaction(CONFIRMED_TXID.upper())
    assert (shallow.confirmations, shallow.remaining_confirmations) == (1, 2)
    assert not shallow.final


async def test_an_unconfirmed_transaction_is_pending_and_asks_no_tip(
    esplora: FakeEsplora, client: EsploraClient
) -> None:
    info = await client.lookup_transaction(UNCONFIRMED_TXID)

    assert info.status is TxStatus.PENDING
    assert (info.block_number, info.block_time, info.confirmations) == (None, None, 0)
    assert info.from_address == TAPROOT_ADDRESS
    assert info.to_address == DEPOSIT_ADDRESS
    assert info.value_text == "0.00047 BTC"
    assert esplora.requests == [f"/api/tx/{UNCONFIRMED_TXID}"]


async def test_a_missing_transaction_is_not_found(client: EsploraClient) -> None:
    info = await client.lookup_transaction(MISSING_TXID)

    assert info.status is TxStatus.NOT_FOUND
    assert info.transfers == ()


@pytest.mark.parametrize("bad", ["", "abc", "z" * 64, "a" * 63, "a" * 65])
async def test_a_malformed_txid_is_refused_before_the_server_is_asked(
    esplora: FakeEsplora, client: EsploraClient, bad: str
) -> None:
    with pytest.raises(InvalidTxHash, match="64 hexadecimal"):
        await client.lookup_transaction(bad)
    assert esplora.requests == []


async def test_an_evm_hash_given_for_bitcoin_gets_a_wrong_network_hint(
    client: EsploraClient,
) -> None:
    with pytest.raises(InvalidTxHash, match="EVM network"):
        await client.lookup_transaction("0x" + CONFIRMED_TXID)


async def test_a_failing_server_is_unavailable_with_its_status(
    esplora: FakeEsplora, client: EsploraClient
) -> None:
    esplora.failing = True

    with pytest.raises(ChainUnavailable, match="answered HTTP 503"):
        await client.lookup_transaction(CONFIRMED_TXID)


async def test_an_unreachable_server_is_unavailable() -> None:
    network = FakeEsplora(url=dead_url() + "/api?key=s3cr3t").network()

    with pytest.raises(ChainUnavailable, match="cannot be reached") as caught:
        await EsploraClient(network).lookup_transaction(CONFIRMED_TXID)
    assert "s3cr3t" not in caught.value.message


async def test_an_address_summary_has_the_confirmed_balance(client: EsploraClient) -> None:
    summary = await client.address_summary(DEPOSIT_ADDRESS.upper())

    assert summary.address == DEPOSIT_ADDRESS
    assert summary.balance == 15_220_000 - 120_000
    assert summary.balance_text == "0.151 BTC"
    assert summary.tx_count == 5


@pytest.mark.parametrize(
    "bad",
    ["0x" + "ab" * 20, "bc1 oops", "../../admin", "Bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"],
)
async def test_a_non_bitcoin_address_is_refused(client: EsploraClient, bad: str) -> None:
    with pytest.raises(InvalidAddress):
        await client.address_summary(bad)
