"""Harbor Exchange's verified support for the demo: official channels, a scam denylist,
and the signing key, so that the demo's agent replies are signed like live ones."""

from __future__ import annotations

from ledgerdesk.accounts.models import Agent
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.safety.actions import do_add_denylist_entry, do_add_official_channel
from ledgerdesk.safety.keyring import install_signing_box

OFFICIAL_CHANNELS = (
    ("domain", "harbor.example", "Harbor Exchange's website and apps"),
    ("email", "support@harbor.example", "Support mailbox"),
    ("telegram", "@HarborSupport", "Support on Telegram (we never message you first)"),
    ("x", "@HarborExchange", "News and status"),
    ("discord", "discord.gg/HarborEx", "Community server"),
    ("phone", "+44 20 7946 0000", "London support desk"),
)
DENYLIST = (
    ("domain", "harbor-support.example", "fake support site seen in scam DMs"),
    ("address", "0x52908400098527886E0F7030069857D2E4169EE7", "drainer reported by customers"),
)


async def seed_verified_support(uow: UnitOfWork, admin: Agent, box: SecretBox) -> None:
    install_signing_box(box)  # replies seeded next are signed with the install's key
    actor = Principal(agent=admin)
    for kind, value, note in OFFICIAL_CHANNELS:
        await do_add_official_channel(uow, actor=actor, kind=kind, value=value, note=note)
    for kind, value, note in DENYLIST:
        await do_add_denylist_entry(uow, actor=actor, kind=kind, value=value, note=note)
