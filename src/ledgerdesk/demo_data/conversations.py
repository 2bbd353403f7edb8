"""The demo's conversations: what Harbor Exchange's customers wrote and how the team answered.

Each script is the customer's first message plus the steps that followed. A step
happens ``after`` minutes after the one before it. A step with ``by`` is an agent's:
``say`` is a public reply, ``note`` an internal note, and ``status``, ``priority``,
``assign``, ``team`` and ``tags`` change the conversation. A step without ``by`` is
the customer writing again (``say``).

Addresses and transaction hashes are invented but well formed (bech32 and base58check
checksums are right). They are public data. No script contains a seed phrase, a
private key or a password: the demo is also how people learn what the product
protects.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NotRequired, TypedDict


class Step(TypedDict):
    after: int
    by: NotRequired[str]
    say: NotRequired[str]
    note: NotRequired[str]
    status: NotRequired[str]
    priority: NotRequired[str]
    assign: NotRequired[str]
    team: NotRequired[str]
    tags: NotRequired[tuple[str, ...]]


class Script(TypedDict):
    customer: str
    inbox: str
    language: str
    subject: str
    body: str
    age_hours: float
    priority: NotRequired[str]
    team: NotRequired[str]
    tags: NotRequired[tuple[str, ...]]
    fields: NotRequired[dict[str, str]]
    steps: NotRequired[tuple[Step, ...]]


# Customers' own public addresses live with the customers in ledgerdesk.demo; these
# are the other ends of transfers and the transactions people quote.
ATTACKER_EVM = "0xb650f9eab090d9d6b8e48d3ec5bfb93c82d195e0"
ATTACKER_BTC = "bc1q9556l246043ntnl6h9ypup83rcw80avhkmm5pv"
OTHER_PLATFORM_EVM = "0x6e2bc9054f3b53a53f690729900506d107032865"
SOL_WALLET = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"

# Tax questions are about the year before the demo runs, whenever that is.
LAST_YEAR = datetime.now(UTC).year - 1

TX_USDT_ERC20 = "0xe4e795ad37c1e8e74ff61f79e305fae1c949a69963b3d31ff01fa6f37c256cf6"
TX_USDT_BEP20 = "0x5c9b7eee0bd098463075297906a509473b19acab07bc1cd9264d54a20b8f94bb"
TX_ETH_STUCK = "0xb622745ffbaa7efb31e9cd71a469fd90503fa0397bbb39e349eb8b2da8e86f95"
TX_STOLEN_USDT = "0xe93431b451d544c28938c8d8595697ac7098eff3ee0fcf717a6606951b89de66"
TX_USDT_WRONG_NET = "0x84e8c0b9f9f80a02a843dad6a797302fd466e21ffc36bea3e27b2fc4b995a46c"
TX_ETH_WITHDRAWAL_ZH = "0x4e5a07e6902307d7d67bcf9cb9fb14e958aa7610ebd11738f4174e149965f5ae"
TX_ARB_USDC = "0xb27cd3c22a978efc096399f5209629cbd6f9d1661a1516d62b626365c19ad683"
TX_TRC20_DEPOSIT = "6a7b57d6a0ea010bb5cea9d694f190a7056a86d05d64c0e1ab5b71e123691c4e"
TX_TRC20_STOLEN = "03d3833e7be128c291463da770ff471ee1b6189df9a715d88cd4835817f6b7b6"
TX_BTC_WITHDRAWAL = "c4f157b68335e8079f045541b4d4b6f4c693aa7aa97789dcf73edd4052f4dbd8"
TX_BTC_DEPOSIT_ZH = "66b18cae108ba7853737091dfce4f8993137a20517501d79a34328c91892b751"
TX_BTC_STOLEN = "c5682d83c91a25d7e4f2052d76a928ec2f223c798a38ee5de7bd37c68ab29339"
TX_XRP = "F97379E52473FC11D39379E378F8AF8D9E86FDE257FE88096D8D72FB944530AF"
TX_ATOM = "8FF11B22D36903A2A3A56DF108F2D55FBD80AF5B11835294E981B71178CB70DF"
TX_XLM = "96f53f7688b6346d9dceba34426d904e2add799dcc306935a3efbab4279dc031"
TX_SOL = "2MUEkVgLfZkGU6cyH6FUM911wf8t1CawnKo178dv93MLnMaQSk9FVhe9c4LSnoHYt6MBp3Z8YdszDDSaBC9KcWHi"


ENGLISH: tuple[Script, ...] = (
    {
        "customer": "jake",
        "inbox": "webchat",
        "language": "en",
        "subject": "USDT deposit not showing up",
        "body": (
            "Hi, I sent 2,500 USDT (ERC-20) to my Harbor deposit address about 3 hours ago. "
            "Etherscan says Success but my balance still shows 0. "
            f"Tx: {TX_USDT_ERC20}\n"
            "Please help, I need it for a trade today"
        ),
        "age_hours": 30,
        "tags": ("deposit", "usdt"),
        "fields": {
            "uid": "U-100234",
            "asset": "USDT",
            "network": "ERC-20",
            "amount": "2500",
            "tx_hash": TX_USDT_ERC20,
        },
        "steps": (
            {
                "after": 9,
                "by": "emma",
                "say": (
                    "Hi Jake, thanks for the hash. I can see the transfer on our side: it reached "
                    "the deposit address, but it was caught in a short delay on our Ethereum node "
                    "this morning. It has 64 confirmations now and I've asked for it to be credited. "
                    "You should see 2,500 USDT in your Spot wallet within 15 minutes."
                ),
            },
            {
                "after": 2,
                "by": "emma",
                "note": (
                    "ETH deposit scanner lagged ~3h after the node restart (INC-4471). "
                    "Credited manually by wallet ops, ref DEP-20931."
                ),
            },
            {"after": 18, "say": "It's there now. Thanks Emma!!"},
            {
                "after": 3,
                "by": "emma",
                "say": "Glad it's sorted. Happy trading!",
                "status": "solved",
            },
        ),
    },
    {
        "customer": "sarah",
        "inbox": "email",
        "language": "en",
        "subject": "Sent USDT on BEP20 instead of ERC20 - is it lost?",
        "body": (
            "Hello,\n\n"
            "I made a mistake. I withdrew 1,000 USDT from my Trust Wallet to my Harbor USDT "
            "deposit address (the 0x one), but the wallet was set to BNB Smart Chain (BEP20), "
            "not Ethereum (ERC20) which is what your deposit page says. The transaction went "
            "through on BscScan but nothing arrived on Harbor.\n\n"
            f"Tx hash: {TX_USDT_BEP20}\n\n"
            "Is my money gone forever?? I am really stressed about this, it's most of my "
            "savings. Is there anything you can do?\n\n"
            "Thank you,\nSarah"
        ),
        "age_hours": 96,
        "priority": "high",
        "tags": ("wrong-network", "usdt", "recovery"),
        "fields": {
            "uid": "U-100871",
            "asset": "USDT",
            "network": "BEP-20",
            "amount": "1000",
            "tx_hash": TX_USDT_BEP20,
        },
        "steps": (
            {
                "after": 35,
                "by": "daniel",
                "say": (
                    "Hi Sarah,\n\nPlease don't worry, your funds are not lost. Because BNB Smart "
                    "Chain uses the same address format as Ethereum, the USDT is sitting at your "
                    "deposit address on BSC, which we control. We can recover it, but it is a "
                    "manual process done by our wallet team.\n\n"
                    "The recovery takes 5-10 business days and a fee of 25 USDT is deducted from the "
                    "amount. I have opened the request for you. No further action is needed.\n\n"
                    "Best regards,\nDaniel, Harbor Support"
                ),
            },
            {
                "after": 4,
                "by": "daniel",
                "note": (
                    "Confirmed on BscScan: 1,000 USDT to our deposit address on BSC. Recovery "
                    "request WO-3312 filed with wallet ops; needs cold signer approval."
                ),
                "status": "pending",
                "tags": ("wallet-ops",),
            },
            {
                "after": 2800,
                "say": (
                    "Hi Daniel, any update? It's been 2 days. Sorry for bothering, I just can't sleep"
                ),
            },
            {
                "after": 50,
                "by": "daniel",
                "say": (
                    "Hi Sarah, no bother at all. The recovery is approved and waiting for the next "
                    "signing window on Thursday. I'll write as soon as it is credited."
                ),
                "status": "pending",
            },
        ),
    },
    {
        "customer": "miguel",
        "inbox": "webchat",
        "language": "en",
        "subject": "XRP deposit without destination tag",
        "body": (
            "i forgot to put the destination tag when sending 1200 XRP from another exchange. "
            "the transaction is done on the ledger. how do I get it back?"
        ),
        "age_hours": 20,
        "tags": ("deposit", "missing-memo", "xrp"),
        "fields": {"uid": "U-101552", "asset": "XRP", "amount": "1200"},
        "steps": (
            {
                "after": 14,
                "by": "lucas",
                "say": (
                    "Hi Miguel, deposits without a tag can be recovered. Please send me: 1) the "
                    "transaction hash, 2) a screenshot of the withdrawal record on the sending "
                    "platform. We will never ask for your password or 2FA codes."
                ),
            },
            {"after": 25, "say": f"here it is: {TX_XRP}. screenshot attached in a sec"},
            {
                "after": 6,
                "by": "lucas",
                "note": (
                    "Tx found on XRPL, 1,200 XRP to our hot wallet, no DestinationTag. "
                    "Waiting for the screenshot before opening WO."
                ),
                "status": "pending",
            },
        ),
    },
    {
        "customer": "olivia",
        "inbox": "email",
        "language": "en",
        "subject": "BTC withdrawal pending for 6 hours",
        "body": (
            'Hi team,\n\nMy withdrawal of 1.5 BTC to my cold wallet has been "Processing" '
            "for six hours. Normally they go through in 20 minutes. I have a payment due "
            "tomorrow morning, please advise urgently.\n\nOlivia Brooks"
        ),
        "age_hours": 52,
        "priority": "high",
        "team": "vip",
        "tags": ("withdrawal", "btc"),
        "fields": {"uid": "U-100019", "asset": "BTC", "amount": "1.5"},
        "steps": (
            {
                "after": 12,
                "by": "daniel",
                "note": (
                    "Held by risk: first withdrawal to bc1qkweq... which was added to the address "
                    "book 2 days ago and is > 1 BTC. Needs second review by compliance."
                ),
            },
            {
                "after": 5,
                "by": "daniel",
                "say": (
                    "Dear Olivia,\n\nThank you for your patience. Your withdrawal is in a routine "
                    "security review because it is the first withdrawal above 1 BTC to a newly "
                    "added address. I've asked our compliance team to prioritise it and will "
                    "update you within 2 hours.\n\nKind regards,\nDaniel"
                ),
                "status": "on_hold",
            },
            {
                "after": 95,
                "by": "daniel",
                "say": (
                    f"Dear Olivia, the review is complete and the withdrawal was broadcast. "
                    f"Txid: {TX_BTC_WITHDRAWAL}. It should confirm in the next blocks."
                ),
                "status": "solved",
            },
            {"after": 40, "say": "Received, thank you Daniel. Appreciate the quick follow up."},
            {"after": 10, "by": "daniel", "status": "solved"},
        ),
    },
    {
        "customer": "ahmed",
        "inbox": "telegram",
        "language": "en",
        "subject": "Lost phone, can't log in (2FA)",
        "body": (
            "Hello I lost my phone yesterday and Google Authenticator was on it. "
            "I don't have the backup key. Now I can't log in. How can I reset 2FA?"
        ),
        "age_hours": 70,
        "tags": ("2fa", "account-access"),
        "steps": (
            {
                "after": 20,
                "by": "emma",
                "say": (
                    "Hi Ahmed, sorry to hear that. You can reset it yourself: on the login page "
                    'choose "Lost access to authenticator", confirm your email, then take the '
                    "selfie check with your ID. After approval withdrawals are paused for 48 hours "
                    "for your safety. Please never send 2FA codes or backup keys to anyone, "
                    "including people claiming to be Harbor staff."
                ),
                "status": "pending",
            },
            {"after": 300, "say": "ok i submitted it. the selfie failed 2 times because of light"},
            {
                "after": 15,
                "by": "emma",
                "say": (
                    "No problem, it allows 5 tries. Face a window or a lamp and remove glasses. "
                    "If it still fails, tell me and I'll send it to manual review."
                ),
                "status": "pending",
            },
        ),
    },
    {
        "customer": "emily",
        "inbox": "webchat",
        "language": "en",
        "subject": "KYC rejected again",
        "body": (
            'My verification got rejected for the THIRD time saying "document is blurry". '
            "It's not blurry!!! I used my passport and took the photo in daylight. What am I "
            "supposed to do? I can't withdraw anything until this is done."
        ),
        "age_hours": 5,
        "tags": ("kyc",),
    },
    {
        "customer": "ryan",
        "inbox": "discord",
        "language": "en",
        "subject": "Account restricted after logging in abroad",
        "body": (
            'yo, my account just got "restricted" right after i logged in from Bali. '
            "I'm on holiday, it's me!! can't trade or withdraw. pls fix asap, "
            "I have an open position I need to close"
        ),
        "age_hours": 2.5,
        "priority": "high",
        "tags": ("account-frozen",),
        "fields": {"uid": "U-103377"},
    },
    {
        "customer": "aisha",
        "inbox": "webchat",
        "language": "en",
        "subject": "Why is the ETH withdrawal fee so high?",
        "body": (
            "The withdrawal fee for ETH shows 0.004 ETH but Etherscan says gas is only 12 gwei "
            "right now. That's like 5x the real cost. Why?"
        ),
        "age_hours": 200,
        "tags": ("fees",),
        "steps": (
            {
                "after": 22,
                "by": "lucas",
                "say": (
                    "Hi Aisha, good question. Our fee is fixed for a few hours at a time so it "
                    "doesn't jump while you fill in the form, and it covers gas spikes plus the "
                    "cost of sweeping deposits into our wallets. If you withdraw USDT or ETH on "
                    "Arbitrum or Base, the fee is much lower (around 0.0002 ETH)."
                ),
            },
            {"after": 30, "say": "ah ok didn't know about arbitrum. thanks"},
            {"after": 5, "by": "lucas", "status": "solved"},
            {"after": 4400, "by": "lucas", "status": "closed"},
        ),
    },
    {
        "customer": "marcus",
        "inbox": "email",
        "language": "en",
        "subject": "ETH staking rewards missing for 3 days",
        "body": (
            "Hello,\n\nI have 64 ETH in Harbor Earn (ETH staking). I've received no rewards "
            "since Monday, normally there's a daily credit of around 0.0058 ETH. "
            "Can you check what's going on?\n\nMarcus Webb"
        ),
        "age_hours": 44,
        "team": "vip",
        "tags": ("staking",),
        "fields": {"uid": "U-100077", "asset": "ETH", "product": "Harbor Earn"},
        "steps": (
            {
                "after": 40,
                "by": "daniel",
                "say": (
                    "Hi Marcus, thanks for flagging this. I'm checking with our staking team now "
                    "and will come back to you today."
                ),
            },
            {
                "after": 10,
                "by": "daniel",
                "note": (
                    "Staking team: validator set 3 rewards accrued but distribution job failed "
                    "since Monday (ENG-2291). Fix deploys tomorrow; backfill included. "
                    "Affects ~1,900 users, status page updated."
                ),
                "status": "on_hold",
                "tags": ("known-issue",),
            },
        ),
    },
    {
        "customer": "hannah",
        "inbox": "email",
        "language": "en",
        "subject": 'Is this email from you? "Verify your wallet"',
        "body": (
            'Hi, I got an email from "Harbor Exchange Security" saying my wallet will be '
            "suspended unless I verify it within 24h. The link goes to "
            "harbor-secure-verify.example and the page asks for my 12-word recovery phrase. "
            "That seems wrong?? I haven't entered anything. Is this really you?"
        ),
        "age_hours": 120,
        "priority": "high",
        "tags": ("phishing",),
        "steps": (
            {
                "after": 8,
                "by": "emma",
                "team": "security",
                "assign": "kevin",
                "note": "Phishing report, moving to Security for takedown.",
            },
            {
                "after": 25,
                "by": "kevin",
                "say": (
                    "Hi Hannah, thank you for checking with us first. That email is not from "
                    "Harbor. We never ask for a recovery phrase, private key or password, and "
                    "anyone who does is trying to steal your funds. You did exactly the right "
                    "thing. We've reported the domain for takedown. You can verify any Harbor "
                    "address or agent on our Verify page in the app."
                ),
            },
            {
                "after": 3,
                "by": "kevin",
                "note": (
                    "Domain registered 3 days ago, reported to registrar + added to the blocklist "
                    "feed. 14 similar reports today."
                ),
                "status": "solved",
            },
        ),
    },
    {
        "customer": "kenji",
        "inbox": "telegram",
        "language": "en",
        "subject": "HACKED - all my USDT withdrawn",
        "body": (
            "URGENT my account was hacked. Someone withdrew 8,430 USDT at 03:12 UTC to "
            f"{ATTACKER_EVM}, this is NOT my address. I got an email about a new device login "
            "from Lagos?? I have never been there. I changed my password already. "
            "Please freeze everything and help me get it back"
        ),
        "age_hours": 9,
        "priority": "urgent",
        "team": "security",
        "tags": ("security", "account-takeover"),
        "fields": {
            "uid": "U-102988",
            "asset": "USDT",
            "network": "ERC-20",
            "amount": "8430",
            "tx_hash": TX_STOLEN_USDT,
        },
        "steps": (
            {
                "after": 4,
                "by": "kevin",
                "assign": "kevin",
                "note": (
                    "Account U-102988 locked (withdrawals, API keys, sessions) at 03:31 UTC. "
                    "Login from new device 02:58 UTC, IP in Lagos. 2FA was SMS only, so likely "
                    f"a SIM swap. Withdrawal {TX_STOLEN_USDT} to {ATTACKER_EVM}; funds moved "
                    "onward to another platform within 10 minutes. Sending a freeze request."
                ),
            },
            {
                "after": 6,
                "by": "kevin",
                "say": (
                    "Hi Kenji, this is Kevin from the Harbor security team. I've locked your "
                    "account so nothing else can leave it: withdrawals, API keys and all sessions "
                    "are disabled. Please do NOT share any codes with anyone who contacts you; we "
                    "will only write to you here. Two questions: 1) did you lose mobile signal in "
                    "the last 24 hours? 2) have you installed any browser extensions recently?"
                ),
            },
            {
                "after": 15,
                "say": (
                    "yes!! my phone had no signal last night for like 2 hours. I thought it was "
                    "the network. No extensions i think. Is my money gone???"
                ),
            },
            {
                "after": 20,
                "by": "kevin",
                "say": (
                    "That fits a SIM swap: the attacker moved your number to their SIM and used the "
                    "SMS code. Please call your carrier now and ask them to lock your number. We "
                    "traced the funds and sent a freeze request to the platform they went to. I "
                    "can't promise recovery, but a fast report gives the best chance. Please file "
                    "a police report and send me the reference number."
                ),
                "status": "pending",
                "tags": ("sim-swap",),
            },
            {
                "after": 180,
                "say": (
                    "Police report number is SF-118372. Carrier confirmed someone ported my "
                    "number yesterday 😡"
                ),
            },
        ),
    },
    {
        "customer": "dev",
        "inbox": "discord",
        "language": "en",
        "subject": "API key gets 403 on order placement",
        "body": (
            'My bot gets HTTP 403 "permission denied: trade" when placing orders with my new '
            "API key. Reading balances works fine. Key prefix hx_live_9f2c. What am I missing?"
        ),
        "age_hours": 150,
        "tags": ("api",),
        "steps": (
            {
                "after": 45,
                "by": "lucas",
                "say": (
                    "Hi Dev! New keys are read-only by default. Go to Settings > API keys, edit the "
                    'key and tick "Spot trading". Trading keys also need an IP allow-list, so add '
                    'your server\'s IP. Leave "Withdrawals" off unless you really need it. Never '
                    "paste the secret part of the key in chat."
                ),
            },
            {"after": 12, "say": "that was it, works now 👍"},
            {"after": 2, "by": "lucas", "status": "solved"},
        ),
    },
    {
        "customer": "grace",
        "inbox": "webchat",
        "language": "en",
        "subject": "P2P seller not releasing USDT",
        "body": (
            "I bought 500 USDT in P2P order #P2P-88213 and paid the seller $502 by bank transfer "
            '2 hours ago. I clicked "Transferred, notify seller". The timer ran out and the '
            "seller is not answering in the chat. I have the bank receipt. What now??"
        ),
        "age_hours": 26,
        "priority": "high",
        "tags": ("p2p", "dispute"),
        "fields": {"uid": "U-104560", "order": "P2P-88213"},
        "steps": (
            {
                "after": 10,
                "by": "emma",
                "say": (
                    "Hi Grace, the USDT is locked in escrow, so the seller cannot move it. I've "
                    "opened an appeal for order P2P-88213. Please upload the bank receipt in the "
                    "order's appeal section (not here) showing the amount, date and the seller's "
                    "account name. Do not cancel the order."
                ),
            },
            {
                "after": 3,
                "by": "emma",
                "note": (
                    "Seller has 98% completion, 400+ trades; probably just away. "
                    "Appeal AP-55120 with the P2P team."
                ),
                "status": "pending",
                "tags": ("escalated",),
            },
            {"after": 90, "say": "uploaded. thank you, i was panicking"},
        ),
    },
    {
        "customer": "liam",
        "inbox": "api",
        "language": "en",
        "subject": "USD wire not credited (ref HBX-W-55102)",
        "body": (
            "Hello Harbor team,\n\nNorthwind Trading sent a USD wire of $250,000.00 on Monday "
            "with reference HBX-W-55102, as instructed. Our bank confirms the funds left, and "
            "we have the MT103. It has not been credited to our corporate account yet. "
            "Please investigate.\n\nLiam Murphy\nTreasury, Northwind Trading"
        ),
        "age_hours": 75,
        "priority": "high",
        "team": "vip",
        "tags": ("fiat", "wire"),
        "fields": {
            "uid": "U-100003",
            "asset": "USD",
            "amount": "250000",
            "reference": "HBX-W-55102",
        },
        "steps": (
            {
                "after": 30,
                "by": "priya",
                "assign": "daniel",
                "note": (
                    "Institutional client. Daniel please own this; check with banking partner."
                ),
            },
            {
                "after": 20,
                "by": "daniel",
                "say": (
                    "Hi Liam, thank you. Could you send the MT103 as a PDF? Our banking partner "
                    "needs the UETR to trace the wire on their side."
                ),
            },
            {"after": 60, "say": "Attached. UETR is 4f7b2c9e-1d3a-4e8b-9c6f-2a5d8e1b7c30."},
            {
                "after": 25,
                "by": "daniel",
                "say": (
                    "Thank you. The trace is open with our bank (case BK-7781). Wires from your bank "
                    "pass an intermediary, which can add 1-2 business days. I'll update you as "
                    "soon as I hear back."
                ),
                "status": "on_hold",
            },
        ),
    },
    {
        "customer": "jake",
        "inbox": "email",
        "language": "en",
        "subject": f"Tax statement / trade history for {LAST_YEAR}",
        "body": (
            f"Hey, my accountant needs a full list of my trades and deposits for {LAST_YEAR} "
            "(for Form 8949). Is there a way to download that?"
        ),
        "age_hours": 230,
        "tags": ("tax", "reports"),
        "steps": (
            {
                "after": 60,
                "by": "emma",
                "say": (
                    f'Hi Jake, yes: Account > Reports > Tax statement. Choose {LAST_YEAR} and "All '
                    'transactions (CSV)". The file is emailed within an hour. Most tax tools can '
                    "import it directly."
                ),
            },
            {"after": 200, "say": "got it, thanks"},
            {"after": 2, "by": "emma", "status": "solved"},
            {"after": 4400, "by": "emma", "status": "closed"},
        ),
    },
    {
        "customer": "grace",
        "inbox": "webchat",
        "language": "en",
        "subject": "Forgot memo on XLM deposit",
        "body": f"sent 800 XLM without the memo 🤦‍♀️ tx {TX_XLM}",
        "age_hours": 1.2,
        "tags": ("missing-memo", "xlm"),
    },
    {
        "customer": "miguel",
        "inbox": "webchat",
        "language": "en",
        "subject": "SOL withdrawal completed but not in Phantom",
        "body": (
            "My withdrawal of 14.2 SOL shows Completed on Harbor but my Phantom wallet "
            f"({SOL_WALLET}) shows nothing. Signature: {TX_SOL}"
        ),
        "age_hours": 3.5,
        "tags": ("withdrawal", "sol"),
        "steps": ({"after": 25, "say": "hello?? anyone there"},),
    },
    {
        "customer": "olivia",
        "inbox": "email",
        "language": "en",
        "subject": "Raise daily withdrawal limit",
        "body": (
            "Hi, could my daily BTC withdrawal limit be raised to 10 BTC? I'm moving "
            "holdings to a multisig next month.\n\nThanks, Olivia"
        ),
        "age_hours": 180,
        "team": "vip",
        "tags": ("limits",),
        "steps": (
            {
                "after": 50,
                "by": "daniel",
                "say": (
                    "Dear Olivia, done: your daily BTC limit is now 10 BTC. The first withdrawal "
                    "to a new multisig address still waits 24 hours after you add it to the "
                    "address book. Let me know the week you plan the move and I'll keep an eye "
                    "on it."
                ),
                "status": "solved",
            },
        ),
    },
    {
        "customer": "hannah",
        "inbox": "telegram",
        "language": "en",
        "subject": "Telegram account @HarborSupport_Admin DMed me",
        "body": (
            "Someone called @HarborSupport_Admin messaged me on Telegram offering to help "
            'with my "stuck deposit". I never reported one. Is this you?'
        ),
        "age_hours": 60,
        "tags": ("scam", "impersonation"),
        "steps": (
            {
                "after": 7,
                "by": "emma",
                "say": (
                    "Hi Hannah, that is not us. Harbor staff never message first, and our only "
                    "Telegram support account is the bot you are talking to now. Please block and "
                    "report that account. If you ever doubt someone, check them on the Verify page."
                ),
                "status": "solved",
            },
            {"after": 6, "by": "emma", "note": "Impersonator handle added to the scam watchlist."},
        ),
    },
    {
        "customer": "ryan",
        "inbox": "webchat",
        "language": "en",
        "subject": "Card purchase charged twice",
        "body": (
            "I bought €200 of BTC with my Visa card and my bank shows two charges of €200. "
            "Only one purchase shows in my Harbor history. Can you refund the second one?"
        ),
        "age_hours": 7,
        "tags": ("fiat", "card"),
    },
)


CHINESE: tuple[Script, ...] = (
    {
        "customer": "liwei",
        "inbox": "telegram_zh",
        "language": "zh-Hans",
        "subject": "USDT 充值未到账",
        "body": (
            "你好，我 2 小时前从钱包转了 3000 USDT（TRC20）到我的 Harbor 充值地址，"
            "Tronscan 上显示成功了，但是账户里一直没有。\n"
            f"交易哈希：{TX_TRC20_DEPOSIT}\n麻烦帮忙查一下，谢谢"
        ),
        "age_hours": 28,
        "team": "zh",
        "tags": ("deposit", "usdt"),
        "fields": {
            "uid": "U-200118",
            "asset": "USDT",
            "network": "TRC-20",
            "amount": "3000",
            "tx_hash": TX_TRC20_DEPOSIT,
        },
        "steps": (
            {
                "after": 6,
                "by": "wangfang",
                "say": (
                    "您好李先生，已经帮您查到这笔交易。TRC20 充值需要 20 个区块确认，"
                    "刚才因为网络拥堵确认较慢，现在已确认完成，"
                    "3000 USDT 已到账您的现货账户，请刷新查看。"
                ),
            },
            {"after": 10, "say": "收到了，谢谢！效率很高👍"},
            {"after": 1, "by": "wangfang", "status": "solved"},
        ),
    },
    {
        "customer": "zhangmin",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "提现 USDT 选错网络（应该选 TRC20 选成了 ERC20）",
        "body": (
            "客服你好，我昨天提现 2000 USDT 到另一个平台，本来应该选 TRC20，结果选成了 ERC20，"
            "还被扣了 12 USDT 手续费。对方平台说这个地址不支持 ERC20 的 USDT，一直没有上账。"
            f"\n提现地址：{OTHER_PLATFORM_EVM}\n交易哈希：{TX_USDT_WRONG_NET}\n"
            "这笔钱还能找回来吗？能不能帮我撤回？急！！"
        ),
        "age_hours": 48,
        "priority": "high",
        "team": "zh",
        "tags": ("wrong-network", "usdt", "withdrawal"),
        "fields": {
            "uid": "U-200342",
            "asset": "USDT",
            "network": "ERC-20",
            "amount": "2000",
            "tx_hash": TX_USDT_WRONG_NET,
        },
        "steps": (
            {
                "after": 18,
                "by": "chenlei",
                "say": (
                    "张女士您好，理解您的着急。这笔提现已经在以太坊链上完成，区块链交易无法撤回，"
                    "资产目前在您填写的收款地址上，并没有丢失。因为该地址由对方平台控制，"
                    "需要由对方平台为您申请找回。建议您联系对方客服，提供上面的交易哈希，"
                    "并说明是 ERC20 网络的 USDT。如对方需要我们出具提现证明，我可以为您准备。"
                ),
            },
            {"after": 40, "say": "好的，那麻烦你们出一个提现证明，我发给对方平台"},
            {
                "after": 15,
                "by": "chenlei",
                "say": (
                    "已为您生成提现证明（含时间、金额、网络和交易哈希），请在 账户 > 报表 中下载。"
                    "对方处理期间如有问题随时联系我们。"
                ),
                "status": "pending",
            },
            {
                "after": 2,
                "by": "chenlei",
                "note": (
                    "链上已确认，收款方为外部平台地址，我方无法操作。已提供提现证明，等待客户反馈。"
                ),
            },
        ),
    },
    {
        "customer": "liuyang",
        "inbox": "telegram_zh",
        "language": "zh-Hans",
        "subject": "ATOM 充值忘记填写 memo",
        "body": (f"充值了 250 个 ATOM，忘记填 memo 了……现在怎么办？交易哈希 {TX_ATOM}"),
        "age_hours": 40,
        "team": "zh",
        "tags": ("deposit", "missing-memo", "atom"),
        "fields": {"uid": "U-201530", "asset": "ATOM", "amount": "250", "tx_hash": TX_ATOM},
        "steps": (
            {
                "after": 30,
                "by": "wangfang",
                "say": (
                    "您好，未填写 memo 的充值可以申请找回。请在 充值 > 未到账申请 中提交，"
                    "填写交易哈希并上传发送方平台的提现记录截图。找回一般需要 3-5 个工作日，"
                    "会收取 5 ATOM 手续费。"
                ),
            },
            {"after": 120, "say": "已经提交了，申请编号 RC-20871"},
            {"after": 12, "by": "wangfang", "note": "RC-20871 已转钱包组处理。"},
            {
                "after": 1,
                "by": "wangfang",
                "say": "收到，我们会尽快处理，完成后通知您。",
                "status": "pending",
            },
        ),
    },
    {
        "customer": "wangqiang",
        "inbox": "email",
        "language": "zh-Hans",
        "subject": "ETH 提现一直显示处理中",
        "body": (
            '你好，我下午提了 12 个 ETH 到自己的钱包，到现在 5 个小时了还显示"处理中"。'
            "以前提现十几分钟就到。我是 VIP 用户，请尽快处理。"
        ),
        "age_hours": 16,
        "priority": "high",
        "team": "vip",
        "tags": ("withdrawal", "eth"),
        "fields": {"uid": "U-201007", "asset": "ETH", "amount": "12"},
        "steps": (
            {
                "after": 15,
                "by": "wangfang",
                "say": (
                    "王先生您好，很抱歉让您久等。您的提现已经广播，但由于当时链上 gas 突然上涨，"
                    "交易还在等待打包。我们已经加速处理，预计 30 分钟内确认。"
                    f"\n交易哈希：{TX_ETH_WITHDRAWAL_ZH}"
                ),
            },
            {
                "after": 3,
                "by": "wangfang",
                "note": ("Nonce 卡住，钱包组已用更高 gas 替换交易（RBF）。"),
            },
            {"after": 50, "say": "到了，谢谢。下次能不能快一点"},
        ),
    },
    {
        "customer": "chenjing",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "手机丢了，谷歌验证器无法使用",
        "body": ("我的手机丢了，谷歌验证器没有备份密钥，现在登录不了账户。请问怎么重置二次验证？"),
        "age_hours": 110,
        "team": "zh",
        "tags": ("2fa", "account-access"),
        "steps": (
            {
                "after": 12,
                "by": "chenlei",
                "say": (
                    '陈女士您好，您可以在登录页点击"无法使用验证器"，验证邮箱后完成人脸识别，'
                    "审核通过后即可重新绑定。为了您的资产安全，重置后 48 小时内不能提现。"
                    "请注意，任何人向您索要验证码或备份密钥都是诈骗，Harbor 客服不会这样做。"
                ),
            },
            {"after": 200, "say": "已经重置好了，谢谢"},
            {"after": 5, "by": "chenlei", "status": "solved"},
            {"after": 4000, "by": "chenlei", "status": "closed"},
        ),
    },
    {
        "customer": "yangfan",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "身份认证被拒绝",
        "body": (
            '身份认证一直提示"证件照片反光"，我都传了三次了！！！换了好几个角度还是不行。'
            "到底要怎么拍才可以？"
        ),
        "age_hours": 4,
        "team": "zh",
        "tags": ("kyc",),
    },
    {
        "customer": "zhaolei",
        "inbox": "telegram_zh",
        "language": "zh-Hans",
        "subject": "账户被风控冻结",
        "body": (
            "刚收到邮件说我的账户因为风控被冻结了，我什么都没做啊！！里面有 20 万 U，"
            "现在不能交易也不能提现。为什么冻结？什么时候能解冻？"
        ),
        "age_hours": 1.5,
        "priority": "high",
        "team": "zh",
        "tags": ("account-frozen",),
        "fields": {"uid": "U-203456"},
    },
    {
        "customer": "huangli",
        "inbox": "email",
        "language": "zh-Hans",
        "subject": "ETH 提现手续费太高",
        "body": "为什么提 ETH 手续费要 0.004？链上现在才 3 gwei。",
        "age_hours": 210,
        "team": "vip",
        "tags": ("fees",),
        "steps": (
            {
                "after": 40,
                "by": "wangfang",
                "say": (
                    "黄女士您好，提现手续费会在一段时间内固定，以免您填写时费用波动，"
                    "同时包含了归集充值的成本。如果您提现到支持 Arbitrum 或 Base 网络的地址，"
                    "手续费会低很多（约 0.0002 ETH）。"
                ),
                "status": "solved",
            },
            {"after": 4300, "by": "wangfang", "status": "closed"},
        ),
    },
    {
        "customer": "zhoujie",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "SOL 质押收益三天没到账",
        "body": "我质押了 300 个 SOL，已经三天没有收到收益了，以前每天都有的。是出问题了吗",
        "age_hours": 34,
        "team": "zh",
        "tags": ("staking",),
        "fields": {"uid": "U-203981", "asset": "SOL", "product": "Harbor Earn"},
        "steps": (
            {
                "after": 20,
                "by": "chenlei",
                "note": ("同 ENG-2291：收益发放任务故障，明天修复后补发。"),
                "tags": ("known-issue",),
            },
            {
                "after": 2,
                "by": "chenlei",
                "say": (
                    "您好，这是我们收益发放系统的已知问题，您的收益一直在正常累计，"
                    "修复后会一次性补发，预计明天完成。给您带来不便非常抱歉。"
                ),
                "status": "on_hold",
            },
        ),
    },
    {
        "customer": "wuqian",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "收到短信让我登录网站验证账户，是官方的吗？",
        "body": (
            '收到一条短信："【Harbor】您的账户存在异常登录，请立即登录 harbor-kefu.example '
            '完成验证，否则将冻结资产"。网站要求输入助记词。这是你们发的吗？我还没输入。'
        ),
        "age_hours": 85,
        "team": "zh",
        "priority": "high",
        "tags": ("phishing",),
        "steps": (
            {
                "after": 9,
                "by": "wangfang",
                "say": (
                    "吴女士您好，这条短信不是 Harbor 发送的，是钓鱼诈骗。Harbor 绝不会索要您的"
                    "助记词、私钥或密码，任何要求您输入助记词的网站都是假的。请不要点击链接，"
                    '您可以在 App 的"官方验证"页面核实任何网址或客服身份。感谢您及时提醒我们！'
                ),
            },
            {
                "after": 4,
                "by": "wangfang",
                "note": ("钓鱼域名已转安全团队下架。 @kevin FYI"),
                "status": "solved",
            },
        ),
    },
    {
        "customer": "sunhao",
        "inbox": "telegram_zh",
        "language": "zh-Hans",
        "subject": "账号被盗，BTC 和 USDT 被转走",
        "body": (
            "紧急！！我的账号被 hack 了，所有的 BTC 都被 withdraw 走了！！0.8 BTC 还有 "
            "5000 USDT，我根本没有操作过，2FA 也开着的。提币地址 "
            f"{ATTACKER_BTC} 不是我的。请马上冻结我的账户！！！"
        ),
        "age_hours": 14,
        "priority": "urgent",
        "team": "security",
        "tags": ("security", "account-takeover"),
        "fields": {"uid": "U-205678", "asset": "BTC", "amount": "0.8", "tx_hash": TX_BTC_STOLEN},
        "steps": (
            {
                "after": 3,
                "by": "kevin",
                "assign": "kevin",
                "note": (
                    "U-205678 frozen. Attacker logged in with the correct password and a valid "
                    "TOTP code from a new device. Likely a real-time phishing page relaying codes. "
                    f"BTC tx {TX_BTC_STOLEN}; USDT TRC-20 tx {TX_TRC20_STOLEN}."
                ),
            },
            {
                "after": 5,
                "by": "kevin",
                "say": (
                    "孙先生您好，我是 Harbor 安全团队的 Kevin。您的账户已经冻结：提币、API 密钥和"
                    "所有登录会话都已停用，资产不会再被转出。Harbor 工作人员绝不会索要您的密码、"
                    "验证码或助记词。请您确认：1）最近是否在其他网站输入过 Harbor 的账号密码和"
                    "谷歌验证码？2）是否有人通过 Telegram 私信联系过您？"
                ),
            },
            {
                "after": 12,
                "say": (
                    "昨天在一个网站登录过，说是 Harbor 空投活动…… harbor-airdrop.example，"
                    "我现在才反应过来是假的 😭"
                ),
            },
            {
                "after": 16,
                "by": "kevin",
                "say": (
                    "感谢您提供信息。这是仿冒网站，它把您输入的密码和验证码实时转发给了攻击者。"
                    "该域名已上报下架。资金方面：BTC 已被分散到多个地址，USDT 转到了另一家平台，"
                    "我们已向对方发出冻结请求。请尽快报警并把回执编号发给我们，这会加快对方平台处理。"
                ),
                "status": "pending",
                "tags": ("phishing",),
            },
        ),
    },
    {
        "customer": "liwei",
        "inbox": "telegram_zh",
        "language": "zh-Hans",
        "subject": "API 报错 IP not whitelisted",
        "body": '量化程序调用 API 一直报 "IP not whitelisted"，服务器换了新 IP，怎么改？',
        "age_hours": 160,
        "team": "zh",
        "tags": ("api",),
        "steps": (
            {
                "after": 25,
                "by": "chenlei",
                "say": (
                    "您好，请到 设置 > API 管理，编辑对应的 API Key，"
                    '在"IP 白名单"中添加新服务器的 IP 并保存，约 1 分钟后生效。'
                    "注意不要把 API Secret 发给任何人。"
                ),
            },
            {"after": 20, "say": "好了 可以了"},
            {"after": 2, "by": "chenlei", "status": "solved"},
        ),
    },
    {
        "customer": "zhangmin",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "P2P 买家点了已付款但我没收到钱",
        "body": (
            '我是卖家，订单 P2P-90417，买家点了"已付款"，但是我银行卡根本没收到 7200 元。'
            "现在他还发起了申诉，说我不放币。我该怎么办？会不会被他骗了？"
        ),
        "age_hours": 22,
        "priority": "high",
        "team": "zh",
        "tags": ("p2p", "dispute"),
        "fields": {"uid": "U-200342", "order": "P2P-90417"},
        "steps": (
            {
                "after": 12,
                "by": "wangfang",
                "say": (
                    "张女士您好，请您在确认银行实际到账之前不要放币，币目前在托管中是安全的。"
                    "请在订单申诉页面上传您这段时间的银行流水截图，我们的 P2P 团队会核实双方证据。"
                ),
            },
            {
                "after": 4,
                "by": "wangfang",
                "note": ("买家上传的付款截图疑似修改过（字体不一致）。已转 P2P 申诉组 AP-55188。"),
                "status": "pending",
                "tags": ("escalated",),
            },
        ),
    },
    {
        "customer": "liuyang",
        "inbox": "email",
        "language": "zh-Hans",
        "subject": "港币电汇未到账",
        "body": (
            "您好，我上周五电汇了 HKD 50,000 到 Harbor 的收款账户，附言填了 HBX-W-60233，"
            "到现在还没入账。银行那边说已经汇出了。请帮忙查询。"
        ),
        "age_hours": 100,
        "team": "zh",
        "tags": ("fiat", "wire"),
        "fields": {
            "uid": "U-201530",
            "asset": "HKD",
            "amount": "50000",
            "reference": "HBX-W-60233",
        },
        "steps": (
            {
                "after": 45,
                "by": "chenlei",
                "say": ("您好，请提供银行的汇款凭证（含 SWIFT 参考号），我们会请合作银行查询。"),
            },
            {"after": 300, "say": "凭证已发邮件附件，参考号 HKTT0981772135"},
            {
                "after": 20,
                "by": "chenlei",
                "say": (
                    "收到。已提交合作银行查询（案件 BK-7790），一般需要 1-3 个工作日，"
                    "有结果会第一时间通知您。"
                ),
                "status": "on_hold",
            },
        ),
    },
    {
        "customer": "linxiaoyu",
        "inbox": "email",
        "language": "zh-Hans",
        "subject": f"申请 {LAST_YEAR} 年交易流水证明",
        "body": (
            f"你好，因为报税需要，想申请一份 {LAST_YEAR} 年全年的交易流水和盈亏证明，"
            "需要盖章的那种。谢谢！"
        ),
        "age_hours": 11,
        "team": "zh",
        "tags": ("tax", "reports"),
    },
    {
        "customer": "yangfan",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "BTC 充值 2 小时未到账",
        "body": f"充值BTC 2小时了还没到账 txid {TX_BTC_DEPOSIT_ZH}",
        "age_hours": 130,
        "team": "zh",
        "tags": ("deposit", "btc"),
        "steps": (
            {
                "after": 8,
                "by": "chenlei",
                "say": (
                    "您好，这笔交易目前只有 1 个确认，BTC 充值需要 2 个确认才会入账。"
                    "当前手续费设置较低，打包较慢，请再耐心等待一下。"
                ),
            },
            {"after": 35, "say": "到了 谢谢"},
            {"after": 1, "by": "chenlei", "status": "solved"},
        ),
    },
    {
        "customer": "zhaolei",
        "inbox": "telegram_zh",
        "language": "zh-Hans",
        "subject": "新加提币地址后不能提现？",
        "body": "地址簿加了一个新地址，提现的时候提示 24 小时内不能提到新地址，这个能取消吗？",
        "age_hours": 190,
        "team": "zh",
        "tags": ("withdrawal", "address-book"),
        "steps": (
            {
                "after": 15,
                "by": "wangfang",
                "say": (
                    "您好，这是保护您资产的安全措施：即使账户被盗，攻击者也无法立即把资产提到新地址。"
                    "24 小时冷却期不能取消，冷却结束后即可正常提现。"
                ),
                "status": "solved",
            },
            {"after": 30, "say": "好吧，明白了"},
            {"after": 2, "by": "wangfang", "status": "solved"},
        ),
    },
    {
        "customer": "huangli",
        "inbox": "email",
        "language": "zh-Hans",
        "subject": "理财产品赎回一直未到账",
        "body": (
            '您好，我周一赎回了 50,000 USDT 的活期理财，页面显示"赎回中"，'
            "已经两天了还没到现货账户。之前都是即时到账的。"
        ),
        "age_hours": 6,
        "team": "vip",
        "tags": ("earn",),
    },
    {
        "customer": "zhoujie",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "有人在 Telegram 冒充客服让我下载 APP",
        "body": (
            '有个叫"Harbor官方客服"的人在 Telegram 加我，说我的账户要升级，让我下载一个新的 APP。'
            "这是真的吗？感觉不太对"
        ),
        "age_hours": 3,
        "team": "zh",
        "tags": ("scam", "impersonation"),
    },
    {
        "customer": "linxiaoyu",
        "inbox": "webchat",
        "language": "zh-Hans",
        "subject": "忘记密码，收不到邮箱验证码",
        "body": "忘记密码了 点找回一直收不到邮件验证码，垃圾箱也看过了",
        "age_hours": 0.8,
        "team": "zh",
        "tags": ("account-access",),
    },
    {
        "customer": "wangqiang",
        "inbox": "email",
        "language": "zh-Hans",
        "subject": "合约被强平，要求赔偿",
        "body": (
            "我的 BTC 永续合约昨晚 02:14 被强平了，损失 3.2 万 U。当时别的平台价格根本没到强平价，"
            "就你们这里插针！！！我严重怀疑你们的价格有问题，要求赔偿，不然我就去投诉。"
        ),
        "age_hours": 8,
        "priority": "high",
        "team": "vip",
        "tags": ("futures", "liquidation", "complaint"),
        "fields": {"uid": "U-201007"},
    },
)


CONVERSATIONS: tuple[Script, ...] = ENGLISH + CHINESE
