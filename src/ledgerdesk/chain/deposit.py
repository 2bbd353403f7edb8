"""The "where is my deposit" verdict: pure logic from a looked-up transaction.

``deposit_verdict(tx, network, expected_address)`` says what happened to a deposit
and words it twice: for the customer (English and Simplified Chinese) and for the
agent (English, with the figures). It makes no calls; ``service.check_deposit``
does the look-ups around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ledgerdesk.chain.interface import Transfer, TxInfo, TxStatus, format_amount
from ledgerdesk.chain.networks import ChainNetwork

# ``expected_token`` for the network's own coin (ETH on Ethereum, BTC on Bitcoin).
NATIVE = "native"
LANGUAGES = ("en", "zh-Hans")


class DepositStatus(StrEnum):
    CREDITED = "credited"  # deep enough: the exchange credits it
    CONFIRMING = "confirming"  # in a block, waiting for more confirmations
    PENDING = "pending"  # broadcast, in no block yet
    FAILED = "failed"  # reverted on chain: nothing moved but the fee
    NOT_FOUND = "not_found"  # not on this network (maybe on another)
    WRONG_ADDRESS = "wrong_address"  # nothing arrived at the deposit address
    WRONG_ASSET = "wrong_asset"  # something arrived, but not the expected coin or token
    # A contract call with nothing visible to the address: coins moved inside a call
    # (a smart-contract wallet, a batch payout) are in no receipt, so a person checks.
    NEEDS_REVIEW = "needs_review"
    UNAVAILABLE = "unavailable"  # the network could not be asked just now


@dataclass(frozen=True, slots=True)
class DepositVerdict:
    status: DepositStatus
    network: str
    network_label: str
    tx_hash: str
    confirmations: int = 0
    required_confirmations: int = 0
    # What arrived at the deposit address, for people: "250.5 USDT".
    amount_text: str | None = None
    # Where the transaction did send value, when not to the deposit address.
    sent_to: tuple[str, ...] = ()
    # Other configured networks where the same hash exists (names, and labels for people).
    found_on: tuple[str, ...] = ()
    found_on_labels: tuple[str, ...] = ()
    explorer_url: str | None = None
    customer_texts: Mapping[str, str] = field(default_factory=dict)
    agent_text: str = ""

    @property
    def remaining_confirmations(self) -> int:
        return max(0, self.required_confirmations - self.confirmations)

    def customer_text(self, language: str | None = None) -> str:
        """The customer's text in their language; Chinese for any zh tag, else English."""
        if language and language.lower().replace("_", "-").startswith("zh"):
            return self.customer_texts["zh-Hans"]
        return self.customer_texts["en"]


def same_address(a: str, b: str) -> bool:
    """EVM hex and bech32 addresses ignore case; base58 ones do not."""
    a, b = a.strip(), b.strip()
    if a.lower().startswith(("0x", "bc1", "tb1", "bcrt1")):
        return a.lower() == b.lower()
    return a == b


def _asset_matches(transfer: Transfer, expected_token: str | None) -> bool:
    if expected_token is None:
        return True
    if expected_token == NATIVE:
        return transfer.token is None
    return transfer.token is not None and same_address(transfer.token, expected_token)


def _asset_label(
    tx: TxInfo, network: ChainNetwork, expected_token: str | None, fallback: str
) -> str:
    if expected_token is None:
        return fallback
    if expected_token == NATIVE:
        return network.native_symbol
    for transfer in tx.transfers:
        if transfer.token and same_address(transfer.token, expected_token) and transfer.symbol:
            return transfer.symbol
    return f"the token {short(expected_token)}"


def short(address: str) -> str:
    return address if len(address) <= 16 else f"{address[:8]}…{address[-6:]}"


def _total_text(transfers: Sequence[Transfer]) -> str:
    """One amount per asset: "1.5 ETH", or "10 USDT + 0.01 ETH" when a tx paid both."""
    totals: dict[str | None, int] = {}
    first: dict[str | None, Transfer] = {}
    for transfer in transfers:
        totals[transfer.token] = totals.get(transfer.token, 0) + transfer.amount
        first.setdefault(transfer.token, transfer)
    return " + ".join(
        format_amount(total, first[token].decimals, first[token].symbol)
        for token, total in totals.items()
    )


def _native_transfers(tx: TxInfo) -> tuple[Transfer, ...]:
    """The tx's transfers with the native coin's symbol and decimals filled in."""
    return tuple(
        Transfer(
            to_address=t.to_address,
            amount=t.amount,
            from_address=t.from_address,
            token=None,
            symbol=tx.native_symbol,
            decimals=tx.native_decimals,
        )
        if t.token is None
        else t
        for t in tx.transfers
    )


def base_verdict(
    tx: TxInfo, network: ChainNetwork, found_on: Sequence[ChainNetwork] = ()
) -> tuple[DepositVerdict, DepositVerdict | None]:
    """What every verdict on a transaction shares, and the answer already when the
    hash is not on this network (naming ``found_on``) or the transaction reverted."""
    base = DepositVerdict(
        status=DepositStatus.NOT_FOUND,  # a placeholder; each verdict sets its own
        network=network.name,
        network_label=network.label,
        tx_hash=tx.tx_hash,
        confirmations=tx.confirmations,
        required_confirmations=tx.required_confirmations,
        explorer_url=tx.explorer_url,
    )
    label = network.label
    if tx.status is TxStatus.NOT_FOUND:
        others = ", ".join(other.label for other in found_on)
        elsewhere = (
            f" Found on {others}: a wrong-network deposit, needs a recovery."
            if found_on
            else " Not on the other configured networks either: check the hash and network."
        )
        return base, _verdict(
            DepositStatus.NOT_FOUND,
            base,
            label=label,
            found_on=tuple(other.name for other in found_on),
            found_on_labels=tuple(other.label for other in found_on),
            others=others,
            elsewhere=elsewhere,
        )
    if tx.status is TxStatus.REVERTED:
        return base, _verdict(DepositStatus.FAILED, base, label=label, block=tx.block_number)
    return base, None


def deposit_verdict(
    tx: TxInfo,
    network: ChainNetwork,
    expected_address: str,
    expected_token: str | None = None,
    *,
    found_on: Sequence[ChainNetwork] = (),
) -> DepositVerdict:
    """What happened to a deposit to ``expected_address`` made by transaction ``tx``.

    ``expected_token`` is a token contract, ``NATIVE`` for the network's coin, or None
    to accept any asset. ``found_on`` names other networks where the hash was found
    (the caller looked; this function does not).
    """
    transfers = _native_transfers(tx)
    to_us = [t for t in transfers if same_address(t.to_address, expected_address)]
    matching = [t for t in to_us if _asset_matches(t, expected_token)]
    base, settled = base_verdict(tx, network, found_on)
    if settled is not None:
        return settled
    label = network.label
    if not to_us and tx.contract_call and expected_token in (None, NATIVE):
        return _verdict(
            DepositStatus.NEEDS_REVIEW,
            base,
            label=label,
            expected=expected_address.strip(),
            contract=tx.to_address or "?",
        )
    if not to_us:
        sent_to = tuple(dict.fromkeys(t.to_address for t in transfers))
        paid = (
            f" It sent {_total_text(transfers)} to {', '.join(sent_to)}."
            if transfers
            else " It moved no funds to any address (a contract call?)."
        )
        return _verdict(
            DepositStatus.WRONG_ADDRESS,
            base,
            label=label,
            expected=expected_address.strip(),
            sent_to=sent_to,
            paid=paid,
        )
    if not matching:
        return _verdict(
            DepositStatus.WRONG_ASSET,
            base,
            label=label,
            amount_text=_total_text(to_us),
            asset=_asset_label(tx, network, expected_token, network.native_symbol),
        )
    amount = _total_text(matching)
    # Anyone can deploy a token named "USDT": without an expected contract, the agent
    # sees which contract it was, to compare with the real one.
    contracts = sorted({t.token for t in matching if t.token is not None})
    tokens = f" Token contract: {', '.join(contracts)}." if contracts and not expected_token else ""
    if tx.status is TxStatus.PENDING:
        status = DepositStatus.PENDING
    elif tx.remaining_confirmations > 0:
        status = DepositStatus.CONFIRMING
    else:
        status = DepositStatus.CREDITED
    return _verdict(status, base, label=label, amount_text=amount, tokens=tokens)


def unavailable_verdict(network: ChainNetwork, tx_hash: str, reason: str) -> DepositVerdict:
    """When the network cannot be asked: tell the customer a person will check."""
    base = DepositVerdict(
        status=DepositStatus.UNAVAILABLE,
        network=network.name,
        network_label=network.label,
        tx_hash=tx_hash,
        required_confirmations=network.confirmations,
        explorer_url=network.explorer_url(tx_hash),
    )
    return _verdict(DepositStatus.UNAVAILABLE, base, label=network.label, reason=reason)


def _verdict(
    status: DepositStatus,
    base: DepositVerdict,
    *,
    label: str,
    amount_text: str | None = None,
    found_on: tuple[str, ...] = (),
    found_on_labels: tuple[str, ...] = (),
    sent_to: tuple[str, ...] = (),
    **extra: object,
) -> DepositVerdict:
    words: dict[str, object] = {
        "network": label,
        "tx": short(base.tx_hash),
        "amount": amount_text or "",
        "conf": base.confirmations,
        "req": base.required_confirmations,
        "remaining": base.remaining_confirmations,
        **extra,
    }
    return replace(
        base,
        status=status,
        amount_text=amount_text,
        sent_to=sent_to,
        found_on=found_on,
        found_on_labels=found_on_labels,
        customer_texts={lang: _customer_text(status, lang, words) for lang in LANGUAGES},
        agent_text=_AGENT[status].format(**words),
    )


# Customer texts: calm, concrete, never asking for a secret; one per language.
_CUSTOMER: dict[DepositStatus, dict[str, str]] = {
    DepositStatus.CREDITED: {
        "en": "Your deposit of {amount} on {network} is confirmed ({conf} of {req} "
        "confirmations). It should already be in your balance; if it is not there within "
        "a few minutes, reply here and we will check.",
        "zh-Hans": "您在 {network} 上充值的 {amount} 已确认（{conf}/{req} 个确认）。"
        "资金应已计入您的余额；如几分钟后仍未到账，请在此回复，我们会为您核查。",
    },
    DepositStatus.CONFIRMING: {
        "en": "Your deposit of {amount} on {network} is on its way: it has {conf} of the "
        "{req} confirmations we need, {remaining} more to go. It will be credited "
        "automatically; there is nothing you need to do.",
        "zh-Hans": "您在 {network} 上充值的 {amount} 正在确认中：目前已有 {conf} 个确认，"
        "还需 {remaining} 个（共需 {req} 个）。确认完成后将自动入账，您无需进行任何操作。",
    },
    DepositStatus.PENDING: {
        "en": "Your transaction of {amount} on {network} has been sent but is not in a "
        "block yet. Once it is, it needs {req} confirmations before it is credited; this "
        "usually takes minutes. If it stays pending for hours, the network fee may have "
        "been too low: your wallet may let you speed it up.",
        "zh-Hans": "您在 {network} 上发送的 {amount} 已广播，但尚未被打包进区块。"
        "打包后需要 {req} 个确认才会入账，通常只需几分钟。如果数小时后仍未确认，"
        "可能是网络手续费设置过低，您可以在钱包中尝试加速该交易。",
    },
    DepositStatus.FAILED: {
        "en": "This transaction failed on {network}: the network did not carry it out, so "
        "the funds did not leave your wallet (only the network fee was spent). Please "
        "check your wallet and send the deposit again.",
        "zh-Hans": "该交易在 {network} 上执行失败：网络没有执行这笔转账，资金仍在您的钱包中"
        "（仅扣除了网络手续费）。请检查您的钱包后重新发起充值。",
    },
    DepositStatus.NOT_FOUND: {
        "en": "We cannot find this transaction on {network}. Please check that you copied "
        "the whole transaction ID and that you sent it on {network}; if you sent it a "
        "moment ago, wait a minute and ask again.",
        "zh-Hans": "我们在 {network} 上找不到这笔交易。请确认您复制了完整的交易哈希（TxID），"
        "并且是通过 {network} 网络发送的；如果刚刚发送，请稍等一分钟后再查询。",
    },
    DepositStatus.WRONG_ADDRESS: {
        "en": "This transaction on {network} did not send funds to your deposit address "
        "{expected}. Please compare the address in your wallet's history with the one on "
        "your deposit page. Blockchain transactions cannot be reversed; if the address "
        "is not yours, reply here and we will tell you what can be done.",
        "zh-Hans": "这笔 {network} 交易没有把资金转入您的充值地址 {expected}。"
        "请将钱包记录中的收款地址与充值页面上的地址进行核对。区块链交易无法撤回；"
        "如果该地址不是您的，请在此回复，我们会告诉您可以怎么处理。",
    },
    DepositStatus.WRONG_ASSET: {
        "en": "This transaction sent {amount} to your deposit address, but the address is "
        "for {asset} deposits, so it is not credited automatically. Do not send it again; "
        "reply here and our team will help you recover it.",
        "zh-Hans": "这笔交易向您的充值地址转入了 {amount}，但该地址仅用于 {asset} 充值，"
        "因此不会自动入账。请不要重复发送；请在此回复，我们的团队会协助您找回。",
    },
    DepositStatus.NEEDS_REVIEW: {
        "en": "This transaction on {network} went through a smart contract, so we cannot "
        "confirm the deposit automatically. A member of our team will check it and reply "
        "here.",
        "zh-Hans": "这笔 {network} 交易经由智能合约执行，我们无法自动确认这笔充值。"
        "我们的工作人员会进行核查，并在此回复您。",
    },
    DepositStatus.UNAVAILABLE: {
        "en": "We cannot check {network} right now. A member of our team will look into "
        "your deposit shortly.",
        "zh-Hans": "我们暂时无法查询 {network} 网络。我们的工作人员会尽快为您核查这笔充值。",
    },
}
_FOUND_ELSEWHERE = {
    "en": " We did find it on {others}: funds sent on another network than the one of "
    "your deposit address do not arrive by themselves. Reply here and our team will help.",
    "zh-Hans": "我们在 {others} 上找到了这笔交易：通过与充值地址不同的网络发送的资金不会自动到账。"
    "请在此回复，我们的团队会协助您处理。",
}


def _customer_text(status: DepositStatus, language: str, words: Mapping[str, object]) -> str:
    text = _CUSTOMER[status][language].format(**words)
    if status is DepositStatus.NOT_FOUND and words["others"]:
        text += _FOUND_ELSEWHERE[language].format(**words)
    return text


# Agent texts: the figures, and what to do next.
_AGENT: dict[DepositStatus, str] = {
    DepositStatus.CREDITED: "Final: {amount} to the deposit address, {conf}/{req} confirmations."
    " Should be credited; if the customer's balance lacks it, check the ledger.{tokens}",
    DepositStatus.CONFIRMING: "Confirming: {amount} to the deposit address, {conf}/{req}"
    " confirmations, {remaining} to go. Credited automatically.{tokens}",
    DepositStatus.PENDING: "Pending: {tx} on {network} is in no block yet ({amount} to the"
    " deposit address). Pending for hours usually means too low a fee.{tokens}",
    DepositStatus.FAILED: "Failed: {tx} reverted on {network} in block {block}; nothing"
    " arrived, only the fee was spent. The customer should send again.",
    DepositStatus.NOT_FOUND: "Not found: {tx} is not on {network}.{elsewhere}",
    DepositStatus.WRONG_ADDRESS: "Wrong address: {tx} on {network} paid nothing to"
    " {expected}.{paid}",
    DepositStatus.WRONG_ASSET: "Wrong asset: {tx} on {network} sent {amount} to the deposit"
    " address, which takes {asset}. Needs a manual recovery.",
    DepositStatus.NEEDS_REVIEW: "Review: {tx} on {network} called the contract {contract};"
    " its receipt shows nothing paid to {expected}, but a native-coin payment made inside"
    " the call would not show. Check the explorer's internal transactions.",
    DepositStatus.UNAVAILABLE: "Unavailable: {network} cannot be asked now ({reason})."
    " Check {tx} on an explorer or try again later.",
}
