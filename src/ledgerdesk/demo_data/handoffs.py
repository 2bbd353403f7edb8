"""The demo's assistant hand-offs: web chat questions the demo help center does not answer.

Customers asked, in English and Chinese and in several wordings each, about three
things Harbor Exchange has no article on: staking rewards on Sui (a chain added
recently), the Harbor Visa debit card, and recurring buys. The assistant handed
each one to a person (``out_of_scope``, ``low_confidence`` or ``ambiguous``), so
the help-center gaps page (/analytics/gaps) has groups to show in the demo.

Seeding is idempotent: every question opens its conversation with a fixed
``channel_message_id``, so a second run finds it and adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ledgerdesk.assistant.answer import AMBIGUOUS, LOW_CONFIDENCE, OUT_OF_SCOPE
from ledgerdesk.channels.webchat.models import AssistantTurn
from ledgerdesk.conversations.actions import do_create_conversation
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Message
from ledgerdesk.customers.actions import do_create_customer
from ledgerdesk.customers.models import Customer
from ledgerdesk.db.uow import UnitOfWork


@dataclass(frozen=True)
class HandedOff:
    key: str  # stable: the conversation's channel_message_id is "demo-handoff-<key>"
    topic: str
    locale: str
    question: str
    reason: str
    age_hours: float


def _q(key: str, topic: str, locale: str, question: str, reason: str, age: float) -> HandedOff:
    return HandedOff(key, topic, locale, question, reason, age)


HANDOFFS: tuple[HandedOff, ...] = (
    # Staking rewards on Sui, a chain Harbor added recently.
    _q("sui-1", "sui-staking", "en", "Can I stake SUI on Harbor and earn rewards?", OUT_OF_SCOPE, 3),
    _q("sui-2", "sui-staking", "en", "what APY do you pay for staking Sui?", LOW_CONFIDENCE, 20),
    _q("sui-3", "sui-staking", "en", "When are SUI staking rewards paid out?", OUT_OF_SCOPE, 46),
    _q("sui-4", "sui-staking", "en", "Is Sui staking available in Earn yet?", AMBIGUOUS, 70),
    _q("sui-5", "sui-staking", "zh-Hans", "SUI 可以质押吗？年化收益是多少？", OUT_OF_SCOPE, 9),
    _q("sui-6", "sui-staking", "zh-Hans", "Sui 质押奖励什么时候发放？", LOW_CONFIDENCE, 30),
    _q("sui-7", "sui-staking", "zh-Hans", "理财里面怎么没有 SUI 质押", AMBIGUOUS, 95),
    # The Harbor Visa debit card.
    _q("card-1", "debit-card", "en", "How do I order the Harbor Visa debit card?", OUT_OF_SCOPE, 5),
    _q("card-2", "debit-card", "en", "Is there a Harbor crypto card I can spend with?", AMBIGUOUS, 26),
    _q("card-3", "debit-card", "en", "what are the fees on the Harbor debit card", LOW_CONFIDENCE, 50),
    _q("card-4", "debit-card", "en", "Can I get a physical Harbor card shipped to me?", OUT_OF_SCOPE, 80),
    _q("card-5", "debit-card", "zh-Hans", "怎么申请 Harbor 的 Visa 借记卡？", OUT_OF_SCOPE, 12),
    _q("card-6", "debit-card", "zh-Hans", "Harbor 加密货币借记卡有年费吗", LOW_CONFIDENCE, 60),
    # Recurring buys (a standing weekly or monthly purchase).
    _q("dca-1", "recurring-buy", "en", "How do I set up a recurring buy of BTC every week?", OUT_OF_SCOPE, 7),
    _q("dca-2", "recurring-buy", "en", "can I schedule automatic monthly purchases of ETH", LOW_CONFIDENCE, 40),
    _q("dca-3", "recurring-buy", "en", "Do you have a DCA auto-invest feature?", AMBIGUOUS, 75),
    _q("dca-4", "recurring-buy", "zh-Hans", "怎么设置每周定投比特币？", OUT_OF_SCOPE, 15),
    _q("dca-5", "recurring-buy", "zh-Hans", "有没有自动定投功能，每个月自动买 ETH", LOW_CONFIDENCE, 55),
)  # fmt: skip

_VISITORS = {
    "en": ("Web chat visitor", "visitor-{n}@guests.harbor.example"),
    "zh-Hans": ("网页聊天访客", "visitor-{n}@guests.harbor.example"),
}


async def _visitor(uow: UnitOfWork, index: int, locale: str) -> Customer:
    name, email = _VISITORS[locale]
    email = email.format(n=index + 1)
    found = await uow.session.execute(select(Customer).where(Customer.email == email))
    customer = found.scalar_one_or_none()
    if customer is None:
        customer = await do_create_customer(
            uow, actor=None, name=f"{name} {index + 1}", email=email, language=locale
        )
    return customer


async def play_handoff(
    uow: UnitOfWork, item: HandedOff, *, index: int, inbox_id: int | None, at: datetime
) -> bool:
    """One visitor's question at ``at``, handed off by the assistant a few seconds later;
    False when it was seeded before (nothing is added then)."""
    customer = await _visitor(uow, index, item.locale)
    conversation, created = await do_create_conversation(
        uow,
        actor=None,
        customer=customer,
        body=item.question,
        channel="webchat",
        inbox_id=inbox_id,
        language=item.locale,
        channel_message_id=f"demo-handoff-{item.key}",
    )
    message = await _first_message(uow, conversation)
    if not created or message is None:
        return False
    # The actions stamp the real time; the demo's questions were asked earlier.
    customer.created_at = min(customer.created_at, at)
    conversation.created_at = conversation.updated_at = at
    conversation.last_message_at = at
    message.created_at = at
    await uow.session.flush()
    await uow.session.execute(
        update(ConversationEvent)
        .where(ConversationEvent.conversation_id == conversation.id)
        .values(created_at=at)
        .execution_options(synchronize_session=False)
    )
    uow.session.add(
        AssistantTurn(
            conversation_id=conversation.id,
            question_message_id=message.id,
            sources=[],
            confidence=0.21 if item.reason == LOW_CONFIDENCE else 0.0,
            handoff=True,
            reason=item.reason,
            locale=item.locale,
            created_at=at + timedelta(seconds=4),
        )
    )
    await uow.session.flush()
    return True


async def seed_demo_handoffs(
    uow: UnitOfWork,
    *,
    inbox_id: int | None,
    now: datetime,
    handoffs: tuple[HandedOff, ...] = HANDOFFS,
) -> int:
    """Every hand-off, oldest first; returns how many were new (0 on a second run).
    Nothing is committed here."""
    made = 0
    ordered = sorted(enumerate(handoffs), key=lambda pair: -pair[1].age_hours)
    for index, item in ordered:
        at = now - timedelta(hours=item.age_hours)
        made += await play_handoff(uow, item, index=index, inbox_id=inbox_id, at=at)
    return made


async def _first_message(uow: UnitOfWork, conversation: Conversation) -> Message | None:
    found = await uow.session.execute(
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.id)
        .limit(1)
    )
    return found.scalar_one_or_none()
