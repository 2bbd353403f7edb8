"""The assistant in web chat: it answers a visitor's message before an agent does.

When a customer's web chat message is stored in a conversation whose inbox has
``assistant_first`` and where no person is involved yet, the same transaction
enqueues the job ``assistant.reply`` (:func:`do_assistant_on_customer_message`).
The job (:func:`reply_to_message`) asks the assistant with the stored text (secrets
already removed), stores its answer as a public message of the author "assistant"
with an :class:`AssistantTurn` row (sources, confidence, hand-off) and the events
``assistant_answered`` or ``assistant_handoff``, and tells the widget through the
real-time stream. The visitor answers with "this helped" or "talk to a person"
(:func:`do_assistant_feedback`).

The conversation's ``assistant_state``: None (never spoke), ``active``,
``handed_off`` (a person takes over: the assistant stays silent for good) or
``resolved`` (the visitor said it helped; a new question wakes it again).

A message that quotes a transaction hash and asks where a deposit or withdrawal is
(:func:`ledgerdesk.chain.deposit_text.deposit_question`) is answered from the chain
instead of the help center (:func:`chain_answer`): credited, waiting for N more
confirmations, failed, not found on the network (or found on another one), in the
same words as the console's "Insert into reply". No network configured, a node that
cannot answer or any other chain trouble: the normal answer, never an error.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerdesk.accounts.principal import Principal
from ledgerdesk.assistant.answer import AssistantAnswer
from ledgerdesk.assistant.runtime import KNOWLEDGE_TOPIC, AssistantRuntime
from ledgerdesk.assistant.text import detect_locale
from ledgerdesk.audit.actions import do_record_audit
from ledgerdesk.chain.deposit import DepositStatus, DepositVerdict
from ledgerdesk.chain.deposit_text import customer_sentence, deposit_question
from ledgerdesk.chain.service import ChainClients, hash_fits_kind
from ledgerdesk.channels.webchat.models import AssistantTurn
from ledgerdesk.channels.webchat.texts import ASSISTANT_HANDOFF, choose_language
from ledgerdesk.conversations.actions import do_add_message, do_update_conversation
from ledgerdesk.conversations.models import Conversation, ConversationEvent, Inbox, Message
from ledgerdesk.conversations.status import Status
from ledgerdesk.db.engine import Database
from ledgerdesk.db.uow import UnitOfWork
from ledgerdesk.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ledgerdesk.events.bus import EventBus
from ledgerdesk.jobs import Job, do_enqueue_job
from ledgerdesk.realtime import outbox
from ledgerdesk.realtime.payloads import conversation_payload
from ledgerdesk.safety.addresses import find_addresses
from ledgerdesk.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "webchat"
REPLY_JOB = "assistant.reply"


class AssistantState(StrEnum):
    ACTIVE = "active"
    HANDED_OFF = "handed_off"
    RESOLVED = "resolved"


class Verdict(StrEnum):
    HELPED = "helped"
    HUMAN = "human"


# States in which the assistant still answers (None: it has not spoken yet).
ANSWERING = (None, AssistantState.ACTIVE, AssistantState.RESOLVED)


# Pure decisions ---------------------------------------------------------------------


def assistant_may_answer(
    *, assistant_first: bool, state: str | None, agent_replied: bool, status: str
) -> bool:
    """Whether the assistant answers the next customer message of a conversation."""
    return assistant_first and state in ANSWERING and not agent_replied and status != Status.CLOSED


def customer_locale(text: str, conversation_language: str | None) -> str:
    """The language to answer in: Chinese when the message is written in Chinese, else the
    conversation's language (the widget's), else what the text looks like."""
    detected = detect_locale(text)
    if detected.startswith("zh"):
        return "zh-Hans"
    return conversation_language or detected


def own_handoff_reason(risk_flags: list[str] | None, has_attachments: bool) -> str | None:
    """A reason to hand off before asking the assistant at all, or None.

    A conversation where a secret was shared or a scam pattern seen needs a person;
    so does a screenshot or a PDF, which the assistant cannot read.
    """
    if risk_flags:
        return "risk:" + ",".join(sorted(risk_flags))[:50]
    if has_attachments:
        return "attachment"
    return None


_HELP_PATH = re.compile(r"(?<![\w/.:])/help/")


def absolute_help_links(text: str, public_url: str) -> str:
    """The help center's paths in an answer as full links: the text is read in a chat,
    copied into an email, pasted by an agent, never resolved against our origin."""
    return _HELP_PATH.sub(public_url.rstrip("/") + "/help/", text)


def source_rows(answer: AssistantAnswer, limit: int = 3) -> list[dict[str, Any]]:
    return [
        {
            "slug": s.slug,
            "locale": s.locale,
            "title": s.title,
            "url": s.url,
            "score": round(float(s.score), 4),
        }
        for s in answer.sources[:limit]
    ]


# A customer sees an article link only when it scored close to the best one: a weak
# third candidate (often in another language) is noise to them, not to agents.
CUSTOMER_SOURCE_SHARE = 0.6


def customer_sources(sources: list[dict[str, Any]]) -> list[dict[str, str]]:
    if not sources:
        return []
    best = max(float(s["score"]) for s in sources)
    return [
        {"title": s["title"], "url": s["url"]}
        for s in sources
        if float(s["score"]) >= best * CUSTOMER_SOURCE_SHARE
    ]


def turn_for_customer(turn: AssistantTurn, *, ask: bool) -> dict[str, Any]:
    """What the widget learns of a turn: its message, the article links, whether to ask
    "did this help?" (never the scores or the reason: those are for agents)."""
    return {
        "message_id": turn.answer_message_id,
        "conversation_id": turn.conversation_id,
        "sources": customer_sources(turn.sources),
        "ask": ask,
    }


def turn_for_agents(turn: AssistantTurn) -> dict[str, Any]:
    return {
        "id": turn.id,
        "message_id": turn.answer_message_id,
        "question_message_id": turn.question_message_id,
        "sources": turn.sources,
        "confidence": turn.confidence,
        "handoff": turn.handoff,
        "reason": turn.reason,
        "locale": turn.locale,
        "feedback": turn.feedback,
    }


# The runtime the job uses -------------------------------------------------------------

_registered: AssistantRuntime | None = None


def register_runtime(runtime: AssistantRuntime) -> None:
    """The web process shares its assistant (and its index) with the embedded worker."""
    global _registered
    _registered = runtime


def runtime_for(settings: Settings, bus: EventBus | None) -> AssistantRuntime:
    """The registered runtime, or (in a separate worker process) one of its own that
    hears of article changes on the bus."""
    global _registered
    if _registered is None:
        _registered = AssistantRuntime(settings)
        if bus is not None:
            bus.add_listener({KNOWLEDGE_TOPIC}, _registered.on_event)
    return _registered


# Deposit questions answered from the chain --------------------------------------------

# Verdicts a person must follow up: the assistant says what it found and hands over.
_CHAIN_HANDOFF = (
    DepositStatus.WRONG_ADDRESS,
    DepositStatus.WRONG_ASSET,
    DepositStatus.NEEDS_REVIEW,
)
# The whole chain check's limit, on top of each network's own timeout.
CHAIN_CHECK_SECONDS = 20.0

_chains: ChainClients | None = None


def _chain_clients(settings: Settings) -> ChainClients:
    """One ChainClients per process for the configured networks (they cache token data)."""
    global _chains
    if _chains is None or tuple(_chains.networks.values()) != tuple(settings.chain_networks):
        _chains = ChainClients.from_settings(settings)
    return _chains


def deposit_hash_and_address(text: str) -> tuple[str, str | None] | None:
    """The first transaction hash a deposit question quotes, and the deposit address when
    the message quotes exactly one valid address of the hash's family; None when the
    message has no hash or is not about a deposit or withdrawal."""
    if not deposit_question(text):
        return None
    found = find_addresses(text)
    hashes = [f.value for f in found if f.kind == "tx_hash" and f.value]
    if not hashes:
        return None
    tx_hash = hashes[0]
    evm = tx_hash.lower().startswith("0x")
    addresses = {
        f.value
        for f in found
        if f.kind == "address"
        and f.value
        and f.valid is not False
        and (f.value.lower().startswith("0x") if evm else "bitcoin" in f.network)
    }
    return tx_hash, (addresses.pop() if len(addresses) == 1 else None)


def chain_handoff(verdict: DepositVerdict) -> bool:
    """Whether a person has to follow the verdict up (a wrong network, address or asset)."""
    if verdict.status is DepositStatus.NOT_FOUND:
        return bool(verdict.found_on)
    return verdict.status in _CHAIN_HANDOFF


async def chain_answer(settings: Settings, text: str, locale: str) -> AssistantAnswer | None:
    """The live chain verdict as the assistant's answer, or None for the normal answer.

    None when the message is no deposit question with a hash, when no network is
    configured or fits the hash, and when the chain cannot be asked (never raises).
    """
    if not settings.chain_networks:
        return None
    asked = deposit_hash_and_address(text)
    if asked is None:
        return None
    tx_hash, address = asked
    try:
        clients = _chain_clients(settings)
        # Only a network of the hash's own kind: a bare txid may be Tron's or Bitcoin's,
        # and "not found on Ethereum" would tell the customer nothing.
        fitting = [n for n in clients.networks_for_hash(tx_hash) if hash_fits_kind(tx_hash, n)]
        if not fitting:
            return None
        verdict = await asyncio.wait_for(
            clients.check_transaction(tx_hash, network=fitting[0].name, address=address),
            CHAIN_CHECK_SECONDS,
        )
    except Exception as exc:  # the assistant answers anyway; a person can look later
        log.info("chain check skipped for a web chat question: %s", type(exc).__name__)
        return None
    if verdict.status is DepositStatus.UNAVAILABLE:
        return None
    language = choose_language(locale)
    return AssistantAnswer(
        answer=customer_sentence(verdict, language),
        sources=[],
        confidence=1.0,
        handoff=chain_handoff(verdict),
        reason=f"chain:{verdict.status}",
        locale=language,
    )


# Actions ----------------------------------------------------------------------------


def _event(uow: UnitOfWork, conversation: Conversation, kind: str, data: dict[str, Any]) -> None:
    uow.session.add(
        ConversationEvent(
            conversation_id=conversation.id, kind=kind, actor_kind="assistant", data=data
        )
    )


def _announce_turn(uow: UnitOfWork, conversation: Conversation, turn: AssistantTurn) -> None:
    """Agents get the whole turn; the widget the links and whether to ask for feedback."""
    ask = not turn.handoff and conversation.assistant_state == AssistantState.ACTIVE
    outbox.append(
        uow,
        kind="assistant.turn",
        conversation_id=conversation.id,
        customer_id=conversation.customer_id,
        team_id=conversation.team_id,
        data={"conversation": conversation_payload(conversation), "turn": turn_for_agents(turn)},
        customer_data={"turn": turn_for_customer(turn, ask=ask)},
    )


async def do_assistant_on_customer_message(
    uow: UnitOfWork, conversation: Conversation, message: Message
) -> Job | None:
    """Enqueue the assistant's reply to a customer's web chat message, when it should answer.

    Called in the transaction that stores the message (realtime/commands.py), so the
    job exists exactly when the message does.
    """
    if (
        message.author_kind != "customer"
        or message.is_internal
        or conversation.channel != CHANNEL
        or conversation.inbox_id is None
    ):
        return None
    inbox = await uow.session.get(Inbox, conversation.inbox_id)
    if inbox is None or not assistant_may_answer(
        assistant_first=inbox.assistant_first,
        state=conversation.assistant_state,
        agent_replied=conversation.first_response_at is not None,
        status=conversation.status,
    ):
        return None
    return await do_enqueue_job(
        uow, REPLY_JOB, {"message_id": message.id}, dedup_key=f"assistant:{message.id}"
    )


async def _turn_of_question(session: AsyncSession, message_id: int) -> AssistantTurn | None:
    result = await session.execute(
        select(AssistantTurn).where(AssistantTurn.question_message_id == message_id)
    )
    return result.scalar_one_or_none()


@dataclass(frozen=True)
class _Question:
    text: str
    locale: str
    own_reason: str | None


async def _read_question(session: AsyncSession, message_id: int) -> _Question | None:
    """The question to ask, or None when there is nothing to do for this message."""
    message = await session.get(Message, message_id)
    if message is None or message.author_kind != "customer":
        return None
    if await _turn_of_question(session, message_id) is not None:
        return None  # answered by an earlier run of this job
    conversation = await session.get(Conversation, message.conversation_id)
    if conversation is None or conversation.assistant_state not in ANSWERING:
        return None
    newer = await session.execute(
        select(Message.id)
        .where(
            Message.conversation_id == conversation.id,
            Message.author_kind == "customer",
            Message.id > message.id,
        )
        .limit(1)
    )
    if newer.first() is not None:
        return None  # the customer wrote again: that message's job answers both
    return _Question(
        message.body,
        customer_locale(message.body, conversation.language),
        own_handoff_reason(conversation.risk_flags, bool(message.attachments)),
    )


async def reply_to_message(
    db: Database, bus: EventBus | None, runtime: AssistantRuntime, message_id: int
) -> AssistantTurn | None:
    """The job ``assistant.reply``: answer one customer message (at most once).

    Returns the stored turn, or None when the assistant had nothing to say (already
    answered, a person took over, a newer message, the conversation closed).
    """
    async with db.sessionmaker() as session:
        question = await _read_question(session, message_id)
    if question is None:
        return None
    answer: AssistantAnswer | None = None
    if question.own_reason is None:
        # Outside any transaction: a chain look-up or an LLM takes seconds.
        answer = await chain_answer(runtime.settings, question.text, question.locale)
        if answer is None:
            answer = await runtime.answer(db, question.text, question.locale)
    async with db.writer() as session, UnitOfWork(session, bus) as uow:
        message = await uow.session.get(Message, message_id)
        if message is None:
            return None
        conversation = await uow.session.get(
            Conversation, message.conversation_id, with_for_update=True
        )
        assert conversation is not None
        # Checked again under the lock: an agent may have replied while we asked.
        if conversation.status == Status.CLOSED or conversation.assistant_state not in ANSWERING:
            return None
        if conversation.first_response_at is not None:
            conversation.assistant_state = AssistantState.HANDED_OFF
            _event(uow, conversation, "assistant_handoff", {"reason": "agent_replied"})
            await uow.commit()
            return None
        turn = await _store_turn(
            uow, conversation, message, question, answer, runtime.settings.public_url
        )
        if turn is not None:
            await uow.commit()
        return turn


async def _store_turn(
    uow: UnitOfWork,
    conversation: Conversation,
    question_message: Message,
    question: _Question,
    answer: AssistantAnswer | None,
    public_url: str,
) -> AssistantTurn | None:
    handoff = answer is None or answer.handoff
    reason = question.own_reason if answer is None else answer.reason
    language = choose_language(question.locale)
    body = ASSISTANT_HANDOFF[language] if answer is None else answer.answer
    body = absolute_help_links(body, public_url)
    turn = AssistantTurn(
        conversation_id=conversation.id,
        question_message_id=question_message.id,
        sources=[] if answer is None else source_rows(answer),
        confidence=0.0 if answer is None else min(1.0, max(0.0, float(answer.confidence))),
        handoff=handoff,
        reason=reason,
        locale=question.locale if answer is None else answer.locale,
    )
    try:
        async with uow.session.begin_nested():
            uow.session.add(turn)
            await uow.session.flush()
    except IntegrityError:
        return None  # another run of this job stored it first
    conversation.assistant_state = AssistantState.HANDED_OFF if handoff else AssistantState.ACTIVE
    reply, _ = await do_add_message(
        uow, actor=None, conversation=conversation, body=body, author_kind="assistant"
    )
    turn.answer_message_id = reply.id
    data: dict[str, Any] = {
        "turn_id": turn.id,
        "message_id": reply.id,
        "question_message_id": question_message.id,
        "sources": turn.sources,
        "confidence": turn.confidence,
        "handoff": handoff,
        "reason": reason,
        "locale": turn.locale,
    }
    _event(uow, conversation, "assistant_answered", data)
    if handoff:
        _event(uow, conversation, "assistant_handoff", {"reason": reason, "turn_id": turn.id})
    _announce_turn(uow, conversation, turn)
    return turn


async def do_assistant_feedback(
    uow: UnitOfWork,
    *,
    principal: Principal,
    conversation: Conversation,
    message_id: int,
    verdict: str,
) -> AssistantTurn:
    """The visitor's answer to "did this help?" on one of the assistant's messages.

    ``helped``: the conversation is solved and the assistant state ``resolved``.
    ``human``: the assistant says a colleague takes over and stays silent from now on.
    Giving the same verdict again changes nothing (a double click, a resend).
    """
    if principal.customer_id is None or conversation.customer_id != principal.customer_id:
        raise PermissionDenied("only the visitor of this conversation can answer the assistant")
    if verdict not in set(Verdict):
        raise InvalidInput(f"verdict must be one of: {', '.join(Verdict)}")
    result = await uow.session.execute(
        select(AssistantTurn).where(
            AssistantTurn.answer_message_id == message_id,
            AssistantTurn.conversation_id == conversation.id,
        )
    )
    turn = result.scalar_one_or_none()
    if turn is None:
        raise NotFound(f"message {message_id} is not an answer of the assistant here")
    if turn.feedback == verdict:
        return turn
    if turn.feedback is not None or conversation.assistant_state != AssistantState.ACTIVE:
        raise Conflict("this answer was already rated, or a person has taken over")
    if conversation.status == Status.CLOSED:
        raise Conflict("this conversation is closed; start a new one")
    turn.feedback = verdict
    if verdict == Verdict.HELPED:
        conversation.assistant_state = AssistantState.RESOLVED
        _event(uow, conversation, "assistant_resolved", {"turn_id": turn.id})
        if conversation.status != Status.SOLVED:
            await do_update_conversation(
                uow, actor=principal, conversation=conversation, status=Status.SOLVED
            )
    else:
        conversation.assistant_state = AssistantState.HANDED_OFF
        _event(
            uow,
            conversation,
            "assistant_handoff",
            {"reason": "customer_request", "turn_id": turn.id},
        )
        if conversation.status in (Status.PENDING, Status.ON_HOLD, Status.SOLVED):
            await do_update_conversation(
                uow, actor=principal, conversation=conversation, status=Status.OPEN
            )
        language = choose_language(turn.locale or conversation.language)
        await do_add_message(
            uow,
            actor=None,
            conversation=conversation,
            body=ASSISTANT_HANDOFF[language],
            author_kind="assistant",
        )
    _announce_turn(uow, conversation, turn)
    return turn


async def do_set_assistant_first(
    uow: UnitOfWork, *, actor: Principal, inbox: Inbox, enabled: bool
) -> None:
    """An admin turns the assistant on or off for an inbox (from its next message on)."""
    actor.require_admin()
    if inbox.assistant_first == enabled:
        return
    inbox.assistant_first = enabled
    do_record_audit(
        uow,
        agent_id=actor.agent_id,
        action="webchat.assistant_first",
        object_type="inbox",
        object_id=inbox.id,
        detail={"assistant_first": enabled},
    )


# Reads ------------------------------------------------------------------------------


async def turns_of(session: AsyncSession, conversation_id: int) -> list[AssistantTurn]:
    result = await session.execute(
        select(AssistantTurn)
        .where(AssistantTurn.conversation_id == conversation_id)
        .order_by(AssistantTurn.id)
    )
    return list(result.scalars())


async def widget_turns(
    session: AsyncSession, conversations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The assistant's turns in the visitor's recent conversations (the session snapshot);
    only the latest turn of a conversation where the assistant is active asks for feedback."""
    found: list[dict[str, Any]] = []
    for shown in conversations:
        conversation = await session.get(Conversation, shown["id"])
        if conversation is None:
            continue
        turns = [t for t in await turns_of(session, conversation.id) if t.answer_message_id]
        for index, turn in enumerate(turns):
            ask = (
                index == len(turns) - 1
                and not turn.handoff
                and turn.feedback is None
                and conversation.assistant_state == AssistantState.ACTIVE
            )
            found.append(turn_for_customer(turn, ask=ask))
    return found
