"""Seed a demo install: the support desk of Harbor Exchange, a fictional crypto exchange.

``ledgerdesk demo`` fills an empty database with a bilingual team (English and
Simplified Chinese), teams and inboxes, customers with their wallets and handles,
and about forty conversations spread over the past ten days, so a first look at
the console shows a working inbox instead of an empty one.

Everything goes through the same ``do_*`` actions the product uses, in one unit of
work: a failed seed leaves nothing behind, and two ``demo --if-empty`` started
together (two containers on one volume) seed once, because the write transaction
takes the lock before it checks for agents.

The passwords are random per install and written only to the credentials file
(mode 0600); they are never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypedDict

from sqlalchemy import select, update

from ledgerdesk.accounts.actions import do_add_team_member, do_create_agent, do_create_team
from ledgerdesk.accounts.models import Agent, Team
from ledgerdesk.accounts.principal import Principal
from ledgerdesk.accounts.secrets import SecretBox
from ledgerdesk.analytics.actions import do_rebuild_analytics
from ledgerdesk.analytics.gaps.collect import collect_gap_questions, embed_gap_questions
from ledgerdesk.automation.demo import seed_automation_demo
from ledgerdesk.channels.webchat.actions import do_enable_webchat
from ledgerdesk.channels.webchat.demo import (
    DEMO_GREETINGS,
    DEMO_WIDGET_KEY,
    demo_allowed_origins,
)
from ledgerdesk.cli import run_migrations
from ledgerdesk.conversations.actions import (
    UNSET,
    do_add_message,
    do_create_conversation,
    do_create_inbox,
    do_update_conversation,
)
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Inbox, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.demo_data.conversations import CONVERSATIONS, Script, Step
from ledgerdesk.demo_data.handoffs import HANDOFFS, HandedOff, play_handoff
from ledgerdesk.feedback.demo import seed_feedback_demo
from ledgerdesk.knowledge.actions import do_import_bundle
from ledgerdesk.knowledge.files import read_directory
from ledgerdesk.safety.demo import seed_verified_support
from ledgerdesk.settings import Settings
from ledgerdesk.sla.demo import seed_sla_demo

log = logging.getLogger(__name__)

ADMIN_EMAIL = "admin@demo.ledgerdesk.test"
# Conversations start at most this long before the seed ran (plus jitter).
SPREAD = timedelta(days=10)


class DemoAgent(TypedDict):
    key: str
    email: str
    name: str
    role: str
    language: str
    teams: tuple[str, ...]


class DemoTeam(TypedDict):
    key: str
    name: str
    is_private: bool


class DemoInbox(TypedDict):
    key: str
    name: str
    channel: str
    team: str


class DemoCustomer(TypedDict):
    key: str
    name: str
    email: str
    language: str
    tier: str
    identities: tuple[tuple[str, str], ...]


TEAMS: tuple[DemoTeam, ...] = (
    {"key": "en", "name": "Support (English)", "is_private": False},
    {"key": "zh", "name": "客服中心 (Chinese support)", "is_private": False},
    {"key": "vip", "name": "VIP desk", "is_private": False},
    # Stolen funds and account takeovers: visible to its members and supervisors only.
    {"key": "security", "name": "Security", "is_private": True},
)

AGENTS: tuple[DemoAgent, ...] = (
    {
        "key": "admin",
        "email": ADMIN_EMAIL,
        "name": "Morgan Reyes",
        "role": "admin",
        "language": "en",
        "teams": (),
    },
    {
        "key": "priya",
        "email": "priya.raman@demo.ledgerdesk.test",
        "name": "Priya Raman",
        "role": "supervisor",
        "language": "en",
        "teams": ("en", "zh", "vip", "security"),
    },
    {
        "key": "emma",
        "email": "emma.walsh@demo.ledgerdesk.test",
        "name": "Emma Walsh",
        "role": "agent",
        "language": "en",
        "teams": ("en",),
    },
    {
        "key": "daniel",
        "email": "daniel.okafor@demo.ledgerdesk.test",
        "name": "Daniel Okafor",
        "role": "agent",
        "language": "en",
        "teams": ("en", "vip"),
    },
    {
        "key": "lucas",
        "email": "lucas.silva@demo.ledgerdesk.test",
        "name": "Lucas Silva",
        "role": "agent",
        "language": "en",
        "teams": ("en",),
    },
    {
        "key": "wangfang",
        "email": "wang.fang@demo.ledgerdesk.test",
        "name": "王芳",
        "role": "agent",
        "language": "zh_Hans",
        "teams": ("zh", "vip"),
    },
    {
        "key": "chenlei",
        "email": "chen.lei@demo.ledgerdesk.test",
        "name": "陈磊",
        "role": "agent",
        "language": "zh_Hans",
        "teams": ("zh",),
    },
    # The security specialist answers takeover cases in English and Chinese.
    {
        "key": "kevin",
        "email": "kevin.lin@demo.ledgerdesk.test",
        "name": "Kevin Lin (林凯文)",
        "role": "agent",
        "language": "en",
        "teams": ("security",),
    },
    {
        "key": "tom",
        "email": "tom.becker@demo.ledgerdesk.test",
        "name": "Tom Becker (compliance)",
        "role": "viewer",
        "language": "en",
        "teams": (),
    },
)

INBOXES: tuple[DemoInbox, ...] = (
    {"key": "webchat", "name": "Web chat (harbor.example)", "channel": "webchat", "team": "en"},
    {"key": "email", "name": "support@harbor.example", "channel": "email", "team": "en"},
    {"key": "telegram", "name": "Telegram @HarborSupportBot", "channel": "telegram", "team": "en"},
    {
        "key": "telegram_zh",
        "name": "Telegram 中文客服 @HarborCN_bot",
        "channel": "telegram",
        "team": "zh",
    },
    {"key": "discord", "name": "Discord #support", "channel": "discord", "team": "en"},
    {"key": "api", "name": "Institutional API", "channel": "api", "team": "vip"},
)

# Public addresses only (bech32 and base58check checksums are valid); never keys.
CUSTOMERS: tuple[DemoCustomer, ...] = (
    {
        "key": "jake",
        "name": "Jake Morrison",
        "email": "jake.morrison@example.com",
        "language": "en",
        "tier": "standard",
        "identities": (("platform_user", "U-100234"), ("telegram", "@jakem_trades")),
    },
    {
        "key": "sarah",
        "name": "Sarah Chen",
        "email": "sarah.chen@example.net",
        "language": "en",
        "tier": "standard",
        "identities": (
            ("platform_user", "U-100871"),
            ("wallet_address", "0x442e4f0433f80e9c16f96487e22491dc4de8029d"),
        ),
    },
    {
        "key": "miguel",
        "name": "Miguel Álvarez",
        "email": "miguel.alvarez@example.org",
        "language": "en",
        "tier": "standard",
        "identities": (("platform_user", "U-101552"),),
    },
    {
        "key": "olivia",
        "name": "Olivia Brooks",
        "email": "olivia.brooks@example.com",
        "language": "en",
        "tier": "vip",
        "identities": (
            ("platform_user", "U-100019"),
            ("wallet_address", "bc1qkweqwe0qkjxd6r84ftlynwda75v8q6ug08pnck"),
        ),
    },
    {
        "key": "ahmed",
        "name": "Ahmed Hassan",
        "email": "ahmed.hassan@example.net",
        "language": "en",
        "tier": "standard",
        "identities": (("telegram", "@ahmed_hodl"), ("platform_user", "U-102347")),
    },
    {
        "key": "emily",
        "name": "Emily Novak",
        "email": "emily.novak@example.com",
        "language": "en",
        "tier": "standard",
        "identities": (("webchat", "wc-7f3a9c21"),),
    },
    {
        "key": "ryan",
        "name": "Ryan O'Connell",
        "email": "ryan.oconnell@example.org",
        "language": "en",
        "tier": "standard",
        "identities": (("discord", "ryan.oconnell"), ("platform_user", "U-103377")),
    },
    {
        "key": "aisha",
        "name": "Aisha Bello",
        "email": "aisha.bello@example.com",
        "language": "en",
        "tier": "standard",
        "identities": (
            ("platform_user", "U-103118"),
            ("wallet_address", "TX9yCMZLAzChQQYCzvgteFbP6ptiEeqyQ1"),
        ),
    },
    {
        "key": "marcus",
        "name": "Marcus Webb",
        "email": "marcus.webb@example.net",
        "language": "en",
        "tier": "vip",
        "identities": (
            ("platform_user", "U-100077"),
            ("wallet_address", "0x1a25115112b4a1f28e9fa6fb6be7b0aafe850baa"),
        ),
    },
    {
        "key": "hannah",
        "name": "Hannah Schulz",
        "email": "hannah.schulz@example.com",
        "language": "en",
        "tier": "standard",
        "identities": (("platform_user", "U-104021"), ("telegram", "@hannah_s")),
    },
    {
        "key": "kenji",
        "name": "Kenji Tanaka",
        "email": "kenji.tanaka@example.net",
        "language": "en",
        "tier": "standard",
        "identities": (
            ("telegram", "@kenji_t"),
            ("platform_user", "U-102988"),
            ("phone", "+1 415 555 0142"),
        ),
    },
    {
        "key": "dev",
        "name": "Dev Patel",
        "email": "dev.patel@example.com",
        "language": "en",
        "tier": "standard",
        "identities": (("discord", "devp_eth"), ("platform_user", "U-103904")),
    },
    {
        "key": "grace",
        "name": "Grace Kim",
        "email": "grace.kim@example.org",
        "language": "en",
        "tier": "standard",
        "identities": (("platform_user", "U-104560"),),
    },
    {
        "key": "liam",
        "name": "Liam Murphy (Northwind Trading)",
        "email": "liam.murphy@northwind.example",
        "language": "en",
        "tier": "vip",
        "identities": (("platform_user", "U-100003"),),
    },
    {
        "key": "liwei",
        "name": "李伟",
        "email": "liwei88@example.com",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("telegram", "@liwei_btc"), ("platform_user", "U-200118")),
    },
    {
        "key": "zhangmin",
        "name": "张敏",
        "email": "zhangmin@example.net",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (
            ("platform_user", "U-200342"),
            ("wallet_address", "TW2FjUwSdybEytzadXABE8bChzJWnu8vKK"),
        ),
    },
    {
        "key": "wangqiang",
        "name": "王强",
        "email": "wangqiang.sh@example.com",
        "language": "zh-Hans",
        "tier": "vip",
        "identities": (
            ("platform_user", "U-201007"),
            ("wallet_address", "0x4143b5d12dc5e51ffe6fc985e8d3e138c73b3921"),
        ),
    },
    {
        "key": "liuyang",
        "name": "刘洋",
        "email": "liuyang@example.org",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("telegram", "@ly_crypto"), ("platform_user", "U-201530")),
    },
    {
        "key": "chenjing",
        "name": "陈静",
        "email": "chenjing@example.com",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("platform_user", "U-202211"),),
    },
    {
        "key": "yangfan",
        "name": "杨帆",
        "email": "yangfan@example.net",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (
            ("platform_user", "U-202876"),
            ("wallet_address", "bc1q3e9afpm28vcds2tg9x0azmk2893h4cw44mkdmm"),
        ),
    },
    {
        "key": "zhaolei",
        "name": "赵磊",
        "email": "zhaolei@example.com",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("telegram", "@zhaolei_defi"), ("platform_user", "U-203456")),
    },
    {
        "key": "huangli",
        "name": "黄丽",
        "email": "huangli@example.org",
        "language": "zh-Hans",
        "tier": "vip",
        "identities": (
            ("platform_user", "U-200999"),
            ("wallet_address", "0xa320140b2311b9d51c0e12fd404ccfbe1fff86d3"),
        ),
    },
    {
        "key": "zhoujie",
        "name": "周杰",
        "email": "zhoujie@example.com",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("webchat", "wc-19be40d7"), ("platform_user", "U-203981")),
    },
    {
        "key": "wuqian",
        "name": "吴倩",
        "email": "wuqian@example.net",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("platform_user", "U-204010"),),
    },
    {
        "key": "sunhao",
        "name": "孙浩",
        "email": "sunhao@example.com",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (
            ("telegram", "@sunhao_88"),
            ("platform_user", "U-205678"),
            ("wallet_address", "bc1qhe9ugam5qkhpahj82wa0h24zrydl4fx4glfpka"),
        ),
    },
    {
        "key": "linxiaoyu",
        "name": "林晓雨",
        "email": "linxiaoyu@example.org",
        "language": "zh-Hans",
        "tier": "standard",
        "identities": (("platform_user", "U-205990"),),
    },
)


@dataclass
class _Cast:
    agents: dict[str, Agent]
    teams: dict[str, Team]
    inboxes: dict[str, Inbox]
    customers: dict[str, Customer]


async def seed_demo(settings: Settings, credentials_file: Path, *, only_if_empty: bool) -> bool:
    """Seed Harbor Exchange's demo desk; False when ``only_if_empty`` and agents exist.

    Without ``only_if_empty`` the seed is attempted anyway and fails with a Conflict
    if one of the demo agents exists already (nothing is written then).
    """
    await asyncio.to_thread(run_migrations, settings.database_url_value)
    db = Database.from_settings(settings)
    try:
        async with UnitOfWork(db.write_sessionmaker()) as uow:
            if only_if_empty:
                found = await uow.session.execute(select(Agent.id).limit(1))
                if found.first() is not None:
                    log.info("demo data not created: the database already has agents")
                    return False
            admin_password = secrets.token_urlsafe(12)
            agent_password = secrets.token_urlsafe(12)
            rng = random.Random(42)
            started = datetime.now(UTC)
            cast = await _create_cast(uow, rng, started, admin_password, agent_password)
            await _enable_webchat(uow, cast, settings)
            # Verified support (safety/demo.py): official channels, denylist, signed replies.
            box = SecretBox(settings.secret_key_value())
            await seed_verified_support(uow, cast.agents["admin"], box)
            count = await _create_conversations(uow, cast, rng, started)
            # Feedback (feedback/demo.py): survey answers, so the dashboard shows CSAT.
            await seed_feedback_demo(uow, started=started)
            articles = await _import_help_center(uow)
            # SLA (sla/demo.py): support hours, a VIP promise, clocks on open conversations.
            await seed_sla_demo(uow, vip_team_id=cast.teams["vip"].id)
            # Automation (automation/demo.py): macros, rules, round-robin routing.
            await seed_automation_demo(
                uow,
                support_team_ids=[cast.teams["en"].id, cast.teams["zh"].id],
                vip_team_id=cast.teams["vip"].id,
                security_team_id=cast.teams["security"].id,
            )
            await uow.commit()
        # Analytics (analytics/actions.py): the dashboard's figures from the seeded
        # activity; the server's periodic refresh keeps them current from here on.
        await do_rebuild_analytics(db)
        # Help-center gaps (analytics/gaps/collect.py): the hand-offs collected and
        # embedded now, so /analytics/gaps shows groups without waiting for the job.
        await collect_gap_questions(db, settle=timedelta(0))
        await embed_gap_questions(db)
    finally:
        await db.dispose()
    # Written after the commit, so the file never names accounts that do not exist.
    _write_credentials(credentials_file, settings.public_url, admin_password, agent_password)
    log.info(
        "demo data created: %d agents, %d customers, %d conversations, %d help center "
        "articles; logins in %s",
        len(cast.agents),
        len(cast.customers),
        count,
        articles,
        credentials_file,
    )
    return True


HELP_CENTER_DIR = Path(__file__).parent / "demo_data" / "helpcenter"


async def _import_help_center(uow: UnitOfWork, directory: Path = HELP_CENTER_DIR) -> int:
    """Import the demo help center in the seed's transaction; 0 when the directory is absent.

    A wrong article file fails the whole seed (InvalidInput naming the files), like any
    other import: a demo with half a help center would hide the mistake.
    """
    if not await asyncio.to_thread(directory.is_dir):
        return 0
    bundle = await asyncio.to_thread(read_directory, directory)
    report = await do_import_bundle(uow, actor=None, bundle=bundle)
    return len(report.created) + len(report.updated) + len(report.unchanged)


def _write_credentials(
    path: Path, public_url: str, admin_password: str, agent_password: str
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    others = ", ".join(agent["email"] for agent in AGENTS if agent["email"] != ADMIN_EMAIL)
    text = (
        f"Demo console: {public_url}/login\n"
        f"  admin:  {ADMIN_EMAIL}  /  {admin_password}\n"
        f"  agents: {others}  /  {agent_password}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # a file left from an earlier run keeps its mode
        handle.write(text)


async def _create_cast(
    uow: UnitOfWork,
    rng: random.Random,
    started: datetime,
    admin_password: str,
    agent_password: str,
) -> _Cast:
    teams: dict[str, Team] = {}
    for spec in TEAMS:
        teams[spec["key"]] = await do_create_team(
            uow, actor=None, name=spec["name"], is_private=spec["is_private"]
        )
    agents: dict[str, Agent] = {}
    for person in AGENTS:
        agent = await do_create_agent(
            uow,
            actor=None,
            email=person["email"],
            name=person["name"],
            password=admin_password if person["email"] == ADMIN_EMAIL else agent_password,
            role=person["role"],
            language=person["language"],
        )
        agents[person["key"]] = agent
        for team_key in person["teams"]:
            await do_add_team_member(uow, actor=None, team=teams[team_key], agent=agent)
    inboxes: dict[str, Inbox] = {}
    for box in INBOXES:
        inboxes[box["key"]] = await do_create_inbox(
            uow,
            actor=None,
            name=box["name"],
            channel=box["channel"],
            default_team_id=teams[box["team"]].id,
        )
    customers: dict[str, Customer] = {}
    for who in CUSTOMERS:
        customer = await do_create_customer(
            uow,
            actor=None,
            name=who["name"],
            email=who["email"],
            language=who["language"],
            tier=who["tier"],
            identities=list(who["identities"]),
        )
        # Customers of an exchange have been around a while before they write in.
        customer.created_at = started - timedelta(days=rng.randint(30, 900))
        customers[who["key"]] = customer
    return _Cast(agents, teams, inboxes, customers)


async def _enable_webchat(uow: UnitOfWork, cast: _Cast, settings: Settings) -> None:
    """The web chat inbox gets a known widget key, so /demo/host can embed it; the
    identity secret is random and stays encrypted (admins rotate it to see one)."""
    await do_enable_webchat(
        uow,
        actor=None,
        box=SecretBox(settings.secret_key_value()),
        inbox=cast.inboxes["webchat"],
        widget_key=DEMO_WIDGET_KEY,
        allowed_origins=demo_allowed_origins(settings.public_url),
        greetings=DEMO_GREETINGS,
    )


async def _create_conversations(
    uow: UnitOfWork, cast: _Cast, rng: random.Random, started: datetime
) -> int:
    timed: list[tuple[datetime, int, Script | HandedOff]] = []
    # Assistant hand-offs (demo_data/handoffs.py): web chat questions the help center
    # lacks, on the same timeline so conversation numbers still grow with time.
    for index, handoff in enumerate(HANDOFFS):
        at = started - timedelta(hours=handoff.age_hours)
        timed.append((at, len(CONVERSATIONS) + index, handoff))
    for index, script in enumerate(CONVERSATIONS):
        steps = script.get("steps", ())
        duration = timedelta(minutes=sum(step["after"] for step in steps))
        age = timedelta(hours=script["age_hours"] * rng.uniform(0.9, 1.1))
        age = min(age, SPREAD)
        # Leave a few minutes after the last step, so nothing happens "in the future".
        age = max(age, duration + timedelta(minutes=rng.randint(5, 40)))
        timed.append((started - age, index, script))
    # Oldest first, so conversation numbers grow with time as they would in real life.
    timed.sort(key=lambda item: (item[0], item[1]))
    for at, index, entry in timed:
        if isinstance(entry, HandedOff):
            webchat = cast.inboxes["webchat"].id
            index -= len(CONVERSATIONS)
            await play_handoff(uow, entry, index=index, inbox_id=webchat, at=at)
        else:
            await _play(uow, cast, entry, at, started)
    return len(timed)


async def _play(
    uow: UnitOfWork, cast: _Cast, script: Script, at: datetime, started: datetime
) -> None:
    customer = cast.customers[script["customer"]]
    inbox = cast.inboxes[script["inbox"]]
    team_key = script.get("team")
    conversation, _created = await do_create_conversation(
        uow,
        actor=None,
        customer=customer,
        body=script["body"],
        subject=script["subject"],
        channel=inbox.channel,
        inbox_id=inbox.id,
        priority=script.get("priority", "normal"),
        language=script["language"],
        team_id=cast.teams[team_key].id if team_key else None,
        tags=script.get("tags", ()),
        custom_fields=dict(script.get("fields", {})),
    )
    await _backdate(uow, conversation, at, started)
    for step in script.get("steps", ()):
        at += timedelta(minutes=step["after"])
        await _play_step(uow, cast, conversation, customer, step)
        await _backdate(uow, conversation, at, started)


async def _play_step(
    uow: UnitOfWork, cast: _Cast, conversation: Conversation, customer: Customer, step: Step
) -> None:
    by = step.get("by")
    if by is None:
        await do_add_message(
            uow, actor=None, customer=customer, conversation=conversation, body=step["say"]
        )
        return
    agent = cast.agents[by]
    actor = Principal(agent=agent)
    assign = step.get("assign")
    team = step.get("team")
    assignee_id = cast.agents[assign].id if assign else UNSET
    if "say" in step and assign is None and conversation.assignee_id is None:
        assignee_id = agent.id  # answering a conversation takes it
    if assignee_id is not UNSET or team is not None:
        await do_update_conversation(
            uow,
            actor=actor,
            conversation=conversation,
            assignee_id=assignee_id,
            team_id=cast.teams[team].id if team else UNSET,
        )
    if "say" in step:
        await do_add_message(uow, actor=actor, conversation=conversation, body=step["say"])
    if "note" in step:
        await do_add_message(
            uow, actor=actor, conversation=conversation, body=step["note"], internal=True
        )
    if "status" in step or "priority" in step or "tags" in step:
        await do_update_conversation(
            uow,
            actor=actor,
            conversation=conversation,
            status=step.get("status"),
            priority=step.get("priority"),
            add_tags=step.get("tags", ()),
        )


async def _backdate(
    uow: UnitOfWork, conversation: Conversation, at: datetime, started: datetime
) -> None:
    """Move what the last action stamped "now" to the scripted moment ``at``.

    The actions stamp the real time; anything at or after ``started`` was written by
    this seed just now, and everything scripted lies before ``started``.
    """
    await uow.session.flush()
    await uow.session.execute(
        update(Message)
        .where(Message.conversation_id == conversation.id, Message.created_at >= started)
        .values(created_at=at)
        .execution_options(synchronize_session=False)
    )
    await uow.session.execute(
        update(ConversationEvent)
        .where(
            ConversationEvent.conversation_id == conversation.id,
            ConversationEvent.created_at >= started,
        )
        .values(created_at=at)
        .execution_options(synchronize_session=False)
    )
    if conversation.created_at >= started:
        conversation.created_at = at
    if conversation.updated_at >= started:
        conversation.updated_at = at
    if conversation.last_message_at is not None and conversation.last_message_at >= started:
        conversation.last_message_at = at
    if conversation.first_response_at is not None and conversation.first_response_at >= started:
        conversation.first_response_at = at
    if conversation.solved_at is not None and conversation.solved_at >= started:
        conversation.solved_at = at
