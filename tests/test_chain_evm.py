"""EVM look-ups against a real local node (anvil): transfers, tokens, reverts, pending txs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ledgerdesk.chain.evm import EvmChainClient
from ledgerdesk.chain.interface import (
    ChainMisconfigured,
    ChainUnavailable,
    InvalidAddress,
    InvalidTxHash,
    TxStatus,
)
from tests.chain_support import Anvil, call_data, dead_url, start_anvil

ETHER = 10**18


@pytest.fixture(scope="module")
async def anvil() -> AsyncIterator[Anvil]:
    async for node in start_anvil():
        yield node


@pytest.fixture
def client(anvil: Anvil) -> EvmChainClient:
    return EvmChainClient(anvil.network())


async def _transfer_tokens(anvil: Anvil, token: str, to: str, amount: int, **tx: object) -> str:
    data = call_data("transfer(address,uint256)", ["address", "uint256"], [to, amount])
    return await anvil.send(to=token, data=data, **tx)


async def test_a_plain_transfer_gains_confirmations_as_blocks_are_mined(
    anvil: Anvil, client: EvmChainClient
) -> None:
    sender, recipient = anvil.accounts[0], anvil.accounts[1]
    tx_hash = await anvil.send(to=recipient, value=3 * ETHER // 2)
    receipt = await anvil.receipt(tx_hash)

    info = await client.lookup_transaction(tx_hash)

    assert info.status is TxStatus.SUCCEEDED
    assert info.block_number == int(receipt["blockNumber"], 16)
    assert info.confirmations == 1
    assert info.remaining_confirmations == 2 and not info.final
    assert info.from_address is not None and info.from_address.lower() == sender.lower()
    assert info.to_address is not None and info.to_address.lower() == recipient.lower()
    assert info.value == 3 * ETHER // 2
    assert info.value_text == "1.5 ETH"
    assert info.fee == int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert [(t.to_address, t.amount, t.token) for t in info.transfers] == [
        (info.to_address, 3 * ETHER // 2, None)
    ]
    assert info.explorer_url == f"https://explorer.invalid/tx/{tx_hash}"
    assert not info.contract_call

    await anvil.mine(2)
    deeper = await client.lookup_transaction(tx_hash)
    assert deeper.confirmations == 3
    assert deeper.final

    await anvil.mine(5)
    assert (await client.lookup_transaction(tx_hash)).confirmations == 8


async def test_a_hash_is_found_with_or_without_0x_and_in_any_case(
    anvil: Anvil, client: EvmChainClient
) -> None:
    tx_hash = await anvil.send(to=anvil.accounts[2], value=1)
    for spelling in (tx_hash.upper().replace("0X", "0x"), tx_hash[2:], f"  {tx_hash}\n"):
        info = await client.lookup_transaction(spelling)
        assert info.tx_hash == tx_hash.lower()
        assert info.status is TxStatus.SUCCEEDED


async def test_an_erc20_transfer_is_decoded_with_the_tokens_symbol_and_decimals(
    anvil: Anvil, client: EvmChainClient
) -> None:
    owner, customer = anvil.accounts[0], anvil.accounts[4]
    token = await anvil.deploy(
        "TestToken",
        ["string", "string", "uint8", "uint256"],
        ["Tether USD", "USDT", 6, 1_000_000 * 10**6],
    )
    tx_hash = await _transfer_tokens(anvil, token, customer, 250_500_000)

    info = await client.lookup_transaction(tx_hash)

    assert info.status is TxStatus.SUCCEEDED
    assert info.value == 0 and info.value_text == "0 ETH"
    assert info.to_address is not None and info.to_address.lower() == token.lower()
    (transfer,) = info.token_transfers
    assert transfer.token is not None and transfer.token.lower() == token.lower()
    assert transfer.token == info.to_address, "addresses come in their EIP-55 form"
    assert transfer.from_address is not None and transfer.from_address.lower() == owner.lower()
    assert transfer.to_address.lower() == customer.lower()
    assert transfer.amount == 250_500_000
    assert (transfer.symbol, transfer.decimals) == ("USDT", 6)
    assert transfer.amount_text == "250.5 USDT"
    assert info.transfers == info.token_transfers, "no native value moved"
    assert info.contract_call


async def test_a_token_without_symbol_or_decimals_shows_raw_units(
    anvil: Anvil, client: EvmChainClient
) -> None:
    token = await anvil.deploy("BareToken", ["uint256"], [10**9])
    tx_hash = await _transfer_tokens(anvil, token, anvil.accounts[5], 123)

    (transfer,) = (await client.lookup_transaction(tx_hash)).token_transfers

    assert (transfer.symbol, transfer.decimals) == (None, None)
    assert transfer.amount == 123
    assert transfer.amount_text == "123 base units"


async def test_a_transfer_that_reverts_on_chain_is_reported_as_reverted(
    anvil: Anvil, client: EvmChainClient
) -> None:
    token = await anvil.deploy(
        "TestToken", ["string", "string", "uint8", "uint256"], ["Test", "TST", 18, 10**21]
    )
    # Account 6 holds no tokens: the transfer fails. A fixed gas limit makes anvil mine
    # it instead of refusing it at gas estimation.
    tx_hash = await _transfer_tokens(
        anvil, token, anvil.accounts[7], 10**18, **{"from": anvil.accounts[6], "gas": 100_000}
    )
    receipt = await anvil.receipt(tx_hash)
    assert receipt["status"] == "0x0"

    info = await client.lookup_transaction(tx_hash)

    assert info.status is TxStatus.REVERTED
    assert info.block_number == int(receipt["blockNumber"], 16)
    assert info.token_transfers == ()
    assert info.fee is not None and info.fee > 0
    assert not info.final


async def test_a_pending_transaction_is_pending_until_a_block_includes_it(
    anvil: Anvil, client: EvmChainClient
) -> None:
    token = await anvil.deploy(
        "TestToken", ["string", "string", "uint8", "uint256"], ["USD Coin", "USDC", 6, 10**12]
    )
    await anvil.rpc("evm_setAutomine", False)
    try:
        plain = await anvil.send(to=anvil.accounts[8], value=ETHER)
        token_tx = await _transfer_tokens(anvil, token, anvil.accounts[8], 5_000_000)

        pending = await client.lookup_transaction(plain)
        assert pending.status is TxStatus.PENDING
        assert (pending.block_number, pending.confirmations) == (None, 0)
        assert pending.value_text == "1 ETH"
        assert pending.remaining_confirmations == 3

        pending_token = await client.lookup_transaction(token_tx)
        assert pending_token.status is TxStatus.PENDING
        # Read from the call data: there is no receipt before the block.
        (planned,) = pending_token.token_transfers
        assert planned.to_address.lower() == anvil.accounts[8].lower()
        assert planned.amount_text == "5 USDC"

        await anvil.rpc("evm_mine")
        mined = await client.lookup_transaction(token_tx)
        assert mined.status is TxStatus.SUCCEEDED and mined.confirmations == 1
        assert mined.token_transfers[0].amount_text == "5 USDC"
    finally:
        await anvil.rpc("evm_setAutomine", True)


async def test_an_unknown_hash_is_not_found(client: EvmChainClient) -> None:
    info = await client.lookup_transaction("0x" + "ab" * 32)

    assert info.status is TxStatus.NOT_FOUND
    assert not info.found
    assert (info.block_number, info.confirmations, info.transfers) == (None, 0, ())


BAD_HASHES = [
    "",
    "0x",
    "0x1234",
    "0x" + "g" * 64,
    "0x" + "a" * 65,
    "bc1q" + "a" * 60,
    "0x" + "a" * 40,
]


@pytest.mark.parametrize("bad", BAD_HASHES)
async def test_a_malformed_hash_is_refused_before_the_node_is_asked(
    client: EvmChainClient, bad: str
) -> None:
    with pytest.raises(InvalidTxHash, match="0x followed by 64 hexadecimal"):
        await client.lookup_transaction(bad)


async def test_a_node_serving_another_chain_is_a_configuration_error(anvil: Anvil) -> None:
    client = EvmChainClient(anvil.network(name="ethereum", label="Ethereum", chain_id=1))

    with pytest.raises(ChainMisconfigured) as caught:
        await client.lookup_transaction("0x" + "ab" * 32)

    assert "chain id 1" in caught.value.message and "31337" in caught.value.message
    assert caught.value.status_code == 503


async def test_a_node_that_is_down_is_unavailable_and_its_key_stays_secret(
    anvil: Anvil,
) -> None:
    client = EvmChainClient(anvil.network(rpc_url=dead_url() + "/v3/s3cr3t-api-key"))

    with pytest.raises(ChainUnavailable) as caught:
        await client.lookup_transaction("0x" + "ab" * 32)

    assert "cannot be reached" in caught.value.message
    assert "127.0.0.1" in caught.value.message
    assert "s3cr3t" not in caught.value.message


async def test_a_node_that_never_answers_times_out(anvil: Anvil) -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = EvmChainClient(
            anvil.network(rpc_url=f"http://127.0.0.1:{port}", timeout_seconds=0.3)
        )
        with pytest.raises(ChainUnavailable, match=r"did not answer within 0\.3 s"):
            await client.lookup_transaction("0x" + "ab" * 32)
    finally:
        server.close()
        await server.wait_closed()


async def test_an_address_summary_has_its_balance_and_nonce(
    anvil: Anvil, client: EvmChainClient
) -> None:
    fresh = "0x" + "5e" * 20
    await anvil.receipt(await anvil.send(to=fresh, value=ETHER // 4))

    summary = await client.address_summary(fresh)

    assert summary.address.lower() == fresh
    assert summary.address != fresh, "in its EIP-55 mixed-case form"
    assert summary.balance == ETHER // 4
    assert summary.balance_text == "0.25 ETH"
    assert summary.tx_count == 0
    sender = await client.address_summary(anvil.accounts[0])
    assert sender.tx_count == int(
        await anvil.rpc("eth_getTransactionCount", anvil.accounts[0], "latest"), 16
    )


async def test_an_address_with_a_broken_checksum_is_refused(client: EvmChainClient) -> None:
    address = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55 test vector, all caps
    assert (await client.address_summary(address)).address == (
        "0x52908400098527886E0F7030069857D2E4169EE7"
    )
    assert (
        await client.address_summary("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    ).tx_count == 0
    typo = "0x5aAeb6053f3E94C9b9A09f33669435E7Ef1BeAed"  # one letter's case flipped
    with pytest.raises(InvalidAddress, match="checksum"):
        await client.address_summary(typo)


async def test_ether_paid_inside_a_contract_call_is_not_in_the_transfers(
    anvil: Anvil, client: EvmChainClient
) -> None:
    forwarder = await anvil.deploy("Forwarder", [], [])
    deposit_address = "0x" + "d3" * 20
    data = call_data("forward(address)", ["address"], [deposit_address])
    tx_hash = await anvil.send(to=forwarder, data=data, value=ETHER)
    await anvil.receipt(tx_hash)  # mined: on a loaded machine the send returns first
    balance = await anvil.rpc("eth_getBalance", deposit_address, "latest")
    assert int(balance, 16) == ETHER, "the ether did arrive"

    info = await client.lookup_transaction(tx_hash)

    assert info.status is TxStatus.SUCCEEDED and info.contract_call
    assert [t.to_address.lower() for t in info.transfers] == [forwarder.lower()]
