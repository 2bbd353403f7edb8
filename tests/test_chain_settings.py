"""LEDGERDESK_CHAIN_NETWORKS: a JSON list (or a file holding one), checked at start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledgerdesk.chain.service import ChainClients
from ledgerdesk.errors import NotFound
from ledgerdesk.settings import SettingsError, load_settings

ETHEREUM: dict[str, Any] = {
    "name": "ethereum",
    "label": "Ethereum",
    "chain_id": 1,
    "rpc_url": "https://mainnet.example.net/v3/0123456789abcdef",
    "confirmations": 12,
    "explorer_tx_url": "https://etherscan.io/tx/{tx}",
}
BITCOIN: dict[str, Any] = {
    "name": "bitcoin",
    "kind": "esplora",
    "rpc_url": "https://mempool.space/api",
    "confirmations": 3,
}


def networks_env(*networks: dict[str, Any]) -> dict[str, str]:
    return {"LEDGERDESK_CHAIN_NETWORKS": json.dumps(list(networks))}


def test_no_networks_are_configured_by_default() -> None:
    assert load_settings(environ={}).chain_networks == ()


def test_networks_are_read_from_json_with_defaults_by_kind() -> None:
    settings = load_settings(environ=networks_env(ETHEREUM, BITCOIN))

    ethereum, bitcoin = settings.chain_networks
    assert (ethereum.name, ethereum.kind, ethereum.chain_id) == ("ethereum", "evm", 1)
    assert (ethereum.native_symbol, ethereum.native_decimals) == ("ETH", 18)
    assert ethereum.explorer_url("0xab") == "https://etherscan.io/tx/0xab"
    assert ethereum.rpc_host == "mainnet.example.net"
    assert (bitcoin.kind, bitcoin.native_symbol, bitcoin.native_decimals) == ("esplora", "BTC", 8)
    assert bitcoin.label == "bitcoin" and bitcoin.chain_id is None
    assert bitcoin.explorer_url("ab") is None


def test_networks_are_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "networks.json"
    path.write_text(json.dumps([ETHEREUM]))

    settings = load_settings(environ={"LEDGERDESK_CHAIN_NETWORKS": str(path)})

    assert [n.name for n in settings.chain_networks] == ["ethereum"]


def test_a_node_url_and_its_key_stay_out_of_reprs() -> None:
    settings = load_settings(environ=networks_env(ETHEREUM))

    assert "0123456789abcdef" not in repr(settings)
    assert "0123456789abcdef" not in repr(settings.chain_networks)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{not json", ["LEDGERDESK_CHAIN_NETWORKS", "not valid JSON"]),
        ('{"name": "ethereum"}', ["LEDGERDESK_CHAIN_NETWORKS", "JSON list"]),
        ("/no/such/networks.json", ["LEDGERDESK_CHAIN_NETWORKS", "readable file"]),
        (json.dumps([{**ETHEREUM, "chain_id": None}]), ["needs its chain_id"]),
        (json.dumps([{**ETHEREUM, "name": "Ethereum Mainnet"}]), ["lowercase letters"]),
        (json.dumps([{**ETHEREUM, "rpc_url": "wss://x.example"}]), ["http:// or https://"]),
        (json.dumps([{**ETHEREUM, "confirmations": 0}]), ["CONFIRMATIONS"]),
        (
            json.dumps([{k: v for k, v in ETHEREUM.items() if k != "confirmations"}]),
            ["CONFIRMATIONS"],
        ),
        (json.dumps([{**ETHEREUM, "explorer_tx_url": "https://etherscan.io/tx/"}]), ["{tx}"]),
        (json.dumps([{**ETHEREUM, "kind": "solana"}]), ["KIND"]),
        (json.dumps([{**ETHEREUM, "rpc": "typo"}]), ["RPC"]),
        (json.dumps([ETHEREUM, {**BITCOIN, "name": "ethereum"}]), ["'ethereum' appears twice"]),
    ],
)
def test_a_bad_network_list_stops_the_start_with_a_clear_message(
    value: str, words: list[str]
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"LEDGERDESK_CHAIN_NETWORKS": value})

    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert "0123456789abcdef" not in str(caught.value)


def test_clients_are_made_per_network_and_kept() -> None:
    from ledgerdesk.chain.esplora import EsploraClient
    from ledgerdesk.chain.evm import EvmChainClient

    clients = ChainClients.from_settings(load_settings(environ=networks_env(ETHEREUM, BITCOIN)))

    assert isinstance(clients.get("ethereum"), EvmChainClient)
    assert isinstance(clients.get("bitcoin"), EsploraClient)
    assert clients.get("ethereum") is clients.get("ethereum"), "its token cache is kept"
    with pytest.raises(NotFound, match="known networks: bitcoin, ethereum"):
        clients.get("tron")
