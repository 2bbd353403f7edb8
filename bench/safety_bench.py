"""Safety detectors: recall on secrets, false alarms on benign messages, messages per second.

Generates its corpora (fixed random seed):

- secrets: checksum-valid BIP-39 phrases in every wordlist language and every length,
  written with assorted separators (spaces, commas, numbered lines, ideographic spaces,
  Chinese written without separators after 助记词) inside English and Chinese support
  messages; raw hex private keys (with and without 0x) next to key words; WIF keys;
  xprv/yprv/zprv/tprv; keystore JSON; labelled API secrets;
- benign: English and Chinese support messages built from many sentence templates,
  full of transaction hashes (some with no context word at all), addresses of every
  chain, amounts, order numbers, and Chinese prose.

Recall counts a secret as caught when one secret finding covers all of it and the
redacted text no longer contains it. A false alarm is any secret finding in a benign
message. Speed is CPU time of ``scan_text`` on one core over the benign corpus (the
typical message), so other load on a shared machine slows it less than wall time would.

    .venv/bin/python bench/safety_bench.py              # 20,000 benign, ~7,000 secrets
    .venv/bin/python bench/safety_bench.py --benign 2000 --per-language 20   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bip_utils import (
    Bip32Secp256k1,
    Bip44Conf,
    Bip49Conf,
    Bip84Conf,
    Ed25519PrivateKey,
    EthAddrEncoder,
    P2PKHAddrEncoder,
    P2TRAddrEncoder,
    P2WPKHAddrEncoder,
    Secp256k1PrivateKey,
    SolAddrEncoder,
    TrxAddrEncoder,
    WifEncoder,
    WifPubKeyModes,
    XrpAddrEncoder,
)
from mnemonic import Mnemonic

from ledgerdesk.safety.mnemonic import LANGUAGES
from ledgerdesk.safety.scan import scan_text
from machine import describe

OFFICIAL = ("harbor.exchange", "harborpay.com")


@dataclass(frozen=True)
class Case:
    category: str
    text: str
    secret: str = ""  # the exact secret text, for positives


# --------------------------------------------------------------------------- building blocks


def _key(rng: random.Random) -> bytes:
    return rng.randbytes(32)


def _addresses(rng: random.Random) -> list[str]:
    public = Secp256k1PrivateKey.FromBytes(_key(rng)).PublicKey()
    solana = SolAddrEncoder.EncodeKey(Ed25519PrivateKey.FromBytes(_key(rng)).PublicKey())
    return [
        EthAddrEncoder.EncodeKey(public),
        EthAddrEncoder.EncodeKey(public).lower(),
        TrxAddrEncoder.EncodeKey(public),
        P2PKHAddrEncoder.EncodeKey(public, net_ver=b"\x00"),
        P2WPKHAddrEncoder.EncodeKey(public, hrp="bc", wit_ver=0),
        P2TRAddrEncoder.EncodeKey(public, hrp="bc"),
        XrpAddrEncoder.EncodeKey(public),
        solana,
    ]


def _tx(rng: random.Random) -> str:
    raw = rng.randbytes(32).hex()
    return rng.choice(["0x" + raw, raw, "0x" + raw.upper(), raw])


COINS = ["USDT", "USDC", "BTC", "ETH", "TRX", "BNB", "SOL", "XRP", "DOGE", "ARB"]
NETWORKS = ["ERC-20", "TRC-20", "BEP-20", "Solana", "Arbitrum", "Polygon", "Bitcoin", "XRP Ledger"]
NETWORKS_ZH = ["ERC20", "TRC20", "BEP20", "波场", "以太坊", "币安智能链", "Solana", "比特币"]

EN_SENTENCES = [
    "Hi, I withdrew {amount} {coin} to my wallet {addr} and it has not arrived yet.",
    "My deposit of {amount} {coin} via {network} is still not credited after {hours} hours.",
    "Here is the transaction hash: {tx}",
    "txid {tx}",
    "The explorer shows {tx} as confirmed but my balance did not change.",
    "{tx}",
    "I sent it from {addr} to the deposit address {addr2}.",
    "Order number {order}, placed on {date} at {time}.",
    "Could you please check what is going on with my transfer?",
    "I have been waiting since {date} and nobody answered my previous ticket #{order}.",
    "Why is my account frozen? I completed the identity verification last week.",
    "The withdrawal fee for {coin} on {network} seems too high, is that correct?",
    "I think I chose the wrong network ({network}) when I withdrew, can you recover it?",
    "Thanks a lot for your help, the funds arrived this morning.",
    "Please tell me how to enable two-factor authentication on the new phone.",
    "I lost my phone and cannot log in anymore, what should I do?",
    "Is it safe to keep my coins on the exchange or should I move them to a hardware wallet?",
    "My seed phrase is written on paper at home, do I need it to log in here?",
    "Someone on Telegram claimed to be from support, is this account official?",
    "The app keeps crashing when I open the trading page on Android {version}.",
    "Can you raise my daily withdrawal limit to {amount} {coin}?",
    "I want to close my account and move all my funds to a new wallet.",
    "Which documents do you accept for the address verification?",
    "The price alert for {coin} did not trigger yesterday at {time}.",
    "My API key stopped working after I changed my password, how do I fix it?",
    "I received {amount} {coin} from an unknown address {addr}, is that a scam?",
    "Block {block} contains my transaction but the status says pending.",
    "Hash: {tx} amount {amount} {coin} network {network}",
    "I cannot find the memo field for XRP, my address is {addr}.",
    "Your support page at https://support.harbor.exchange/hc/en-us/articles/{order} was helpful.",
    "I tried Chrome, Firefox, Safari and Edge, same error every time: code {order}.",
    "Please confirm the deposit address for {coin} on {network} is {addr}.",
    "Good morning, any update on my case? It has been {hours} hours.",
    "After the upgrade the balance shows zero, but the blockchain shows {amount} {coin}.",
    "I am travelling abroad this week, will logging in from a new country lock my account?",
    "The staking rewards for {coin} were lower than announced, please explain the calculation.",
    "Let me know if you need anything else from me, like screenshots or the wallet address.",
    "I forgot to add the destination tag when sending XRP to {addr}, tag should be {order}.",
]

ZH_SENTENCES = [
    "您好，我昨天提现了{amount}个{coin}到{addr}，到现在还没有到账。",
    "我通过{network}充值了{amount} {coin}，已经过去{hours}个小时了还没有到账。",
    "交易哈希是{tx}",
    "哈希：{tx}",
    "{tx}",
    "区块浏览器显示{tx}已经确认了，但是我的余额没有变化。",
    "我从{addr}转到你们的充值地址{addr2}。",
    "订单号{order}，下单时间是{date} {time}。",
    "麻烦帮我查一下是什么原因，谢谢。",
    "我的账户为什么被冻结了？上周已经完成了身份认证。",
    "{network}网络的{coin}提现手续费是不是太高了？",
    "我好像选错了网络，用的是{network}，还能找回来吗？",
    "非常感谢你们的帮助，钱今天早上已经到账了。",
    "请问换了新手机以后怎么重新绑定谷歌验证器？",
    "我的手机丢了，现在登录不了账户，应该怎么办？",
    "把币放在交易所安全吗，还是应该转到硬件钱包里？",
    "我的助记词写在纸上放在家里，登录这里需要用到吗？",
    "有人在电报上自称是官方客服，这个账号是真的吗？",
    "打开交易页面的时候应用一直闪退，安卓版本是{version}。",
    "能不能把我的每日提现额度提高到{amount} {coin}？",
    "我想注销账户，把所有资产转到新的钱包里。",
    "地址证明可以用哪些文件？水电费账单可以吗？",
    "昨天{time}的时候{coin}的价格提醒没有触发。",
    "我改了密码以后API就用不了了，怎么解决？",
    "我收到了一个陌生地址{addr}转来的{amount} {coin}，这是诈骗吗？",
    "区块{block}里面有我的交易，但是状态还是处理中。",
    "请确认一下{network}上{coin}的充值地址是不是{addr}。",
    "早上好，我的问题有进展了吗？已经等了{hours}个小时了。",
    "升级以后余额显示为零，但是链上显示有{amount} {coin}。",
    "我这周在国外出差，用新的国家登录会不会被锁定账户？",
    "质押收益比公告里写的低，请解释一下是怎么计算的。",
    "如果还需要什么资料，比如截图或者钱包地址，请告诉我。",
    "给瑞波地址{addr}转账的时候忘了填标签，标签应该是{order}。",
    "我是第一次用这个平台，很多功能还不太会用，希望你们能耐心一点。",
    "客服的回复太慢了，我已经提交了三次工单，每次都说在处理中，到底什么时候能解决？",
    "我的朋友推荐我来这里交易，说你们的安全性很高，但是我最近看到一些负面新闻，有点担心。",
    "上个月我参加了你们的活动，按照规则应该有奖励，但是到现在都没有发放到我的账户里。",
    "提币地址我已经核对过很多次了，确定没有问题，是不是你们那边的系统出了故障？",
    "我在网上看到有人说可以帮忙解冻账户，需要先交钱，这是不是骗子？",
    "昨天晚上十一点左右我的账户突然在另一个城市登录了，我没有授权过，请帮我冻结账户。",
    "请问现在充值人民币有哪些方式？银行卡转账一般多久到账？",
    "我在手机上看到一条短信说我的账户有风险，让我点链接验证，我没有点，这是你们发的吗？",
]


def _fill(template: str, rng: random.Random, addresses: list[str]) -> str:
    return template.format(
        amount=rng.choice(["12", "0.5", "1,250.00", "300", "0.0031", "88.8", "10000"]),
        coin=rng.choice(COINS),
        network=rng.choice(NETWORKS if template.isascii() else NETWORKS_ZH),
        hours=rng.randint(1, 72),
        addr=rng.choice(addresses),
        addr2=rng.choice(addresses),
        tx=_tx(rng),
        order=rng.randint(10_000_000, 99_999_999),
        date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        time=f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}",
        version=f"{rng.randint(9, 15)}.{rng.randint(0, 9)}",
        block=rng.randint(18_000_000, 22_000_000),
    )


def _jieba_words() -> tuple[list[str], list[int]]:
    """Chinese words and their frequencies from the dictionary jieba ships."""
    import jieba  # type: ignore[import-untyped]

    words: list[str] = []
    weights: list[int] = []
    dictionary = Path(jieba.__file__).parent / "dict.txt"
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, frequency, *_ = line.split(" ")
        if all("\u4e00" <= c <= "\u9fff" for c in word):
            words.append(word)
            weights.append(int(frequency))
    return words, weights


def chinese_prose(rng: random.Random, count: int, *, spaced: bool = False) -> list[Case]:
    """Text drawn from Chinese word frequencies: the characters of real prose, in
    random order, with commas and full stops; ``spaced`` puts a space between words
    (segmented text, a stress test: nobody types like that)."""
    words, weights = _jieba_words()
    cases = []
    for _ in range(count):
        picked = rng.choices(words, weights, k=rng.randint(15, 90))
        pieces: list[str] = []
        for i, word in enumerate(picked):
            pieces.append(word)
            if i % rng.randint(4, 10) == 3:
                pieces.append(rng.choice(["，", "。", "？", "、"]))
        joined = (" " if spaced else "").join(pieces)
        cases.append(Case("zh_spaced_words_stress" if spaced else "benign_zh_prose", joined))
    return cases


def benign_corpus(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        addresses = _addresses(rng)
        english = i % 2 == 0
        sentences = EN_SENTENCES if english else ZH_SENTENCES
        picked = [_fill(s, rng, addresses) for s in rng.sample(sentences, rng.randint(1, 5))]
        text = (" " if english else "").join(picked)
        cases.append(Case("benign_en" if english else "benign_zh", text))
    return cases


# --------------------------------------------------------------------------- secrets

EN_WRAP = [
    "Help! I think I was hacked. My recovery phrase is:\n{s}\nPlease help me!",
    "{s}",
    "is this right? {s}",
    "Support asked me to confirm my wallet, here: {s} thanks",
    "my wallet words\n{s}\n\nwhat should I do now",
]
ZH_WRAP = [
    "救命，我的钱包被盗了，助记词是：\n{s}\n请帮帮我！",
    "{s}",
    "客服你好，这是我的钱包 {s} 麻烦看一下",
    "我把钱包备份发给你们：{s}",
]
SEPARATORS: list[Callable[[list[str], str], str]] = [
    lambda ws, d: d.join(ws),
    lambda ws, d: " ".join(ws),
    lambda ws, d: ", ".join(ws),
    lambda ws, d: "\n".join(f"{i}. {w}" for i, w in enumerate(ws, 1)),
    lambda ws, d: " ".join(f"{i}.{w}" for i, w in enumerate(ws, 1)),
    lambda ws, d: "\u3000".join(ws),
    lambda ws, d: "\n".join(ws),
]


def mnemonic_cases(rng: random.Random, per_language: int) -> list[Case]:
    cases = []
    for language in LANGUAGES:
        m = Mnemonic(language)
        for i in range(per_language):
            strength = [128, 160, 192, 224, 256][i % 5]
            words = m.to_mnemonic(rng.randbytes(strength // 8)).split(m.delimiter)
            body = rng.choice(SEPARATORS)(words, m.delimiter)
            wrap = rng.choice(EN_WRAP + ZH_WRAP)
            # The phrase is its words: numbering before the first one is not secret.
            phrase = body[body.index(words[0]) :]
            cases.append(Case(f"mnemonic_{language}", wrap.format(s=body), phrase))
        if language.startswith("chinese"):
            for _ in range(max(1, per_language // 5)):
                body = "".join(m.to_mnemonic(rng.randbytes(16)).split())
                text = rng.choice(
                    ["我的助记词是{s}", "助记词：{s}，请帮我看看", "seed phrase: {s}"]
                )
                cases.append(Case(f"mnemonic_{language}_unseparated", text.format(s=body), body))
    return cases


KEY_WRAP = [
    "my private key is {s}",
    "私钥：{s}",
    "这是我的私钥 {s} 帮我看看钱去哪了",
    "PRIVATE KEY = {s}",
    "Here is my key {s}, the wallet is empty now",
    "我钱包的密钥是{s}",
    "exported from metamask (private key):\n{s}",
]


def key_cases(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for i in range(count):
        secret = _key(rng)
        hex_key = secret.hex() if i % 2 else "0x" + secret.hex()
        cases.append(Case("private_key_hex", rng.choice(KEY_WRAP).format(s=hex_key), hex_key))
        # No context word: the key controls the address in the message.
        public = Secp256k1PrivateKey.FromBytes(secret).PublicKey()
        address = rng.choice([EthAddrEncoder.EncodeKey(public), TrxAddrEncoder.EncodeKey(public)])
        text = f"wallet {address} was drained overnight. {secret.hex()}"
        cases.append(Case("private_key_hex_derived", text, secret.hex()))
        wif = WifEncoder.Encode(
            Secp256k1PrivateKey.FromBytes(secret),
            net_ver=rng.choice([b"\x80", b"\xef"]),
            pub_key_mode=rng.choice([WifPubKeyModes.COMPRESSED, WifPubKeyModes.UNCOMPRESSED]),
        )
        cases.append(Case("wif_key", rng.choice(EN_WRAP + ZH_WRAP).format(s=wif), wif))
        versions = rng.choice(
            [
                Bip44Conf.BitcoinMainNet.KeyNetVersions(),
                Bip49Conf.BitcoinMainNet.KeyNetVersions(),
                Bip84Conf.BitcoinMainNet.KeyNetVersions(),
                Bip44Conf.BitcoinTestNet.KeyNetVersions(),
            ]
        )
        xprv = str(
            Bip32Secp256k1.FromSeed(rng.randbytes(32), key_net_ver=versions)
            .PrivateKey()
            .ToExtended()
        )
        cases.append(
            Case("extended_private_key", rng.choice(EN_WRAP + ZH_WRAP).format(s=xprv), xprv)
        )
        keystore = json.dumps(
            {
                "address": EthAddrEncoder.EncodeKey(public)[2:].lower(),
                "crypto": {
                    "cipher": "aes-128-ctr",
                    "cipherparams": {"iv": rng.randbytes(16).hex()},
                    "ciphertext": rng.randbytes(32).hex(),
                    "kdf": "scrypt",
                    "kdfparams": {
                        "dklen": 32,
                        "n": 262144,
                        "p": 1,
                        "r": 8,
                        "salt": rng.randbytes(32).hex(),
                    },
                    "mac": rng.randbytes(32).hex(),
                },
                "id": "3198bc9c-6672-5ab3-d995-4942343ae5b6",
                "version": 3,
            },
            indent=rng.choice([None, 2]),
        )
        cases.append(Case("keystore", f"my keystore file:\n{keystore}\nthanks", keystore))
        token = hashlib.sha256(rng.randbytes(8)).hexdigest()[: rng.randint(24, 40)]
        token = "".join(c.upper() if rng.random() < 0.4 else c for c in token)
        label = rng.choice(
            ["API Secret: {s}", "secretKey={s}", "我的API密钥是 {s}", "Secret key {s}"]
        )
        cases.append(Case("api_secret", label.format(s=token), token))
    return cases


# --------------------------------------------------------------------------- measuring


def caught(case: Case) -> bool:
    result = scan_text(case.text, official_domains=OFFICIAL)
    start = case.text.index(case.secret)
    end = start + len(case.secret)
    covered = any(f.is_secret and f.start <= start and f.end >= end for f in result.findings)
    return covered and case.secret not in result.redacted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--benign", type=int, default=20_000, help="benign messages")
    parser.add_argument("--per-language", type=int, default=250, help="phrases per language")
    parser.add_argument("--keys", type=int, default=250, help="keys of each kind")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    secrets = mnemonic_cases(rng, args.per_language) + key_cases(rng, args.keys)
    benign = benign_corpus(rng, args.benign)
    prose = chinese_prose(rng, args.benign // 4)
    stress = chinese_prose(rng, args.benign // 10, spaced=True)

    missed: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for case in secrets:
        group = case.category.split("_unseparated")[0]
        group = "mnemonic" if group.startswith("mnemonic") else group
        totals[group] += 1
        if not caught(case):
            missed[group] += 1
            missed[case.category + " (detail)"] += 1

    alarms: Counter[str] = Counter()
    per_category: Counter[str] = Counter()
    examples: list[str] = []
    cpu: dict[str, float] = defaultdict(float)  # CPU seconds per category
    wall_start = time.perf_counter()
    for case in benign + prose + stress:
        started = time.process_time()
        result = scan_text(case.text, official_domains=OFFICIAL)
        cpu[case.category] += time.process_time() - started
        per_category[case.category] += 1
        if result.has_secret:
            alarms[case.category] += 1
            if len(examples) < 3:
                examples.append(case.text[:160])
    wall = time.perf_counter() - wall_start

    print(describe())
    print(f"corpus: {len(secrets)} secrets, {len(benign)} benign messages (seed {args.seed})")
    print("\nrecall on checksum-valid secrets:")
    all_missed = 0
    for group in sorted(totals):
        all_missed += missed[group]
        rate = 100 * (totals[group] - missed[group]) / totals[group]
        print(f"  {group:24} {totals[group] - missed[group]:6}/{totals[group]:<6} {rate:6.2f}%")
    total = sum(totals.values())
    print(
        f"  {'all':24} {total - all_missed:6}/{total:<6} {100 * (total - all_missed) / total:6.2f}%"
    )
    for key, value in sorted(missed.items()):
        if key.endswith("(detail)"):
            print(f"    missed {key}: {value}")
    print("\nfalse alarms on benign messages:")
    for category in sorted(per_category):
        rate = 100 * alarms[category] / per_category[category]
        print(f"  {category:24} {alarms[category]:6}/{per_category[category]:<6} {rate:6.3f}%")
    counted = [c for c in per_category if not c.endswith("_stress")]
    all_alarms = sum(alarms[c] for c in counted)
    all_count = sum(per_category[c] for c in counted)
    rate = 100 * all_alarms / all_count
    print(f"  {'all but stress':24} {all_alarms:6}/{all_count:<6} {rate:6.3f}%")
    for example in examples:
        print(f"    e.g. {example!r}")
    print("\nspeed, one core (CPU time of scan_text):")
    for category in sorted(per_category):
        texts = [c.text for c in benign + prose + stress if c.category == category]
        mean = sum(map(len, texts)) / len(texts)
        rate = per_category[category] / cpu[category]
        print(f"  {category:24} {rate:8,.0f} messages/s (mean {mean:.0f} characters)")
    typical = [c for c in per_category if not c.endswith("_stress")]
    rate = sum(per_category[c] for c in typical) / sum(cpu[c] for c in typical)
    print(f"  {'all but stress':24} {rate:8,.0f} messages/s")
    print(f"  wall time for all {sum(per_category.values())} messages: {wall:.1f} s")


if __name__ == "__main__":
    main()
