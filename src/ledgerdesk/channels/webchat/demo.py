"""The demo's web chat inbox: a known widget key, so /demo/host can embed it."""

from __future__ import annotations

from ledgerdesk.channels.webchat.origins import origin_of

DEMO_WIDGET_KEY = "wk_demo_harbor_exchange"
DEMO_GREETINGS = {
    "en": "Hi, welcome to Harbor Exchange support! Ask us about deposits, withdrawals "
    "or your account. Never share your seed phrase or private keys with anyone.",
    "zh-Hans": "您好，欢迎联系 Harbor Exchange 客服！充值、提现、账户问题都可以问我们。"
    "请勿向任何人透露您的助记词或私钥。",
}


def demo_allowed_origins(public_url: str) -> list[str]:
    """The demo host page is served by ledgerdesk itself, so its origin is ours; on a
    laptop both spellings of loopback are allowed (`make run` prints 127.0.0.1)."""
    own = origin_of(public_url)
    origins = [own]
    for name, other in (("127.0.0.1", "localhost"), ("localhost", "127.0.0.1")):
        if f"://{name}" in own:
            origins.append(own.replace(f"://{name}", f"://{other}", 1))
    return origins
