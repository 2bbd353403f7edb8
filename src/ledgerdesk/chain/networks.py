"""The blockchain networks an install looks transactions up on (``LEDGERDESK_CHAIN_NETWORKS``).

The setting holds a JSON list of objects, or the path of a file holding one::

    [{"name": "ethereum", "kind": "evm", "chain_id": 1, "rpc_url": "https://...",
      "confirmations": 12, "native_symbol": "ETH",
      "explorer_tx_url": "https://etherscan.io/tx/{tx}"},
     {"name": "bitcoin", "kind": "esplora", "rpc_url": "https://blockstream.info/api",
      "confirmations": 3}]

This module only describes and validates; it imports no client library, so reading the
settings stays cheap.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

NetworkKind = Literal["evm", "esplora"]
# What a network is called in URLs, settings and the console: ethereum, bsc, base-sepolia.
NETWORK_NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
_DEFAULTS: dict[str, tuple[str, int]] = {"evm": ("ETH", 18), "esplora": ("BTC", 8)}


class ChainNetwork(BaseModel):
    """One configured network. ``rpc_url`` is secret: node URLs often carry an API key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: NetworkKind = "evm"
    # Shown to people; defaults to the name.
    label: Annotated[str, Field(min_length=1, max_length=80)]
    chain_id: Annotated[int, Field(ge=1, le=2**53)] | None = None
    rpc_url: SecretStr
    # How deep a transaction must be before the exchange credits it.
    confirmations: Annotated[int, Field(ge=1, le=10_000)]
    native_symbol: Annotated[str, Field(min_length=1, max_length=12)]
    native_decimals: Annotated[int, Field(ge=0, le=36)]
    # A link to the transaction on a block explorer; ``{tx}`` is replaced by its hash.
    explorer_tx_url: str | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(NETWORK_NAME_PATTERN, value):
            raise ValueError(
                f"network name {value!r} must be 1-40 lowercase letters, digits and dashes,"
                " like 'ethereum' or 'base-sepolia'"
            )
        return value

    @field_validator("rpc_url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("rpc_url must be an http:// or https:// URL")
        return value

    @field_validator("explorer_tx_url")
    @classmethod
    def _explorer_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or value.count("{tx}") != 1:
            raise ValueError("explorer_tx_url must be an http(s) URL containing {tx} once")
        return value

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            # An unknown kind fails on its own; the placeholder keeps its error alone.
            symbol, decimals = _DEFAULTS.get(str(data.get("kind", "evm")), ("?", 0))
            data = {"native_symbol": symbol, "native_decimals": decimals, **data}
            data.setdefault("label", data.get("name") or "?")
        return data

    @model_validator(mode="after")
    def _evm_has_chain_id(self) -> ChainNetwork:
        if self.kind == "evm" and self.chain_id is None:
            raise ValueError(f"network {self.name!r}: an evm network needs its chain_id")
        return self

    @property
    def rpc_host(self) -> str:
        """Where the node is, safe to show in an error: the host, never the path or key."""
        parts = urlsplit(self.rpc_url.get_secret_value())
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host

    def explorer_url(self, tx_hash: str) -> str | None:
        if self.explorer_tx_url is None:
            return None
        return self.explorer_tx_url.replace("{tx}", tx_hash)


def parse_networks(value: Any) -> Any:
    """Turn the setting's text (JSON, or a path to a JSON file) into a list of objects.

    Anything else is passed through for pydantic to validate.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if not text.startswith(("[", "{")):
        try:
            text = Path(text).read_text()
        except OSError as exc:
            raise ValueError(
                f"neither a JSON list nor a readable file: {text}: {exc.strerror}"
            ) from None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(parsed, list):
        raise ValueError("must be a JSON list of network objects")
    return parsed


def check_unique_names(networks: tuple[ChainNetwork, ...]) -> tuple[ChainNetwork, ...]:
    seen: set[str] = set()
    for network in networks:
        if network.name in seen:
            raise ValueError(f"network name {network.name!r} appears twice")
        seen.add(network.name)
    return networks
